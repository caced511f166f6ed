"""``vidstyle deflicker`` (issue 19, first part): the closed form by hand, and the command end to end."""

from __future__ import annotations

import numpy as np
import pytest

from vidstyle.cli import main
from vidstyle.deflicker import deflicker_frame
from vidstyle.io.video import VideoReader, probe
from vidstyle.metrics import warping_errors
from vidstyle.synth import camera_move, load_photo, write_clip

from conftest import sample_path


def test_closed_form_by_hand():
    processed = np.full((4, 4, 3), 0.2, np.float32)
    warped = np.full((4, 4, 3), 0.6, np.float32)
    trusted = np.ones((4, 4), np.float32)
    # (0.2 + 1 * 0.6) / (1 + 1) = 0.4 where trusted; the processed frame where not
    assert np.allclose(deflicker_frame(processed, [warped], [trusted], 1.0), 0.4)
    assert np.allclose(deflicker_frame(processed, [warped], [0 * trusted], 1.0), 0.2)
    # two earlier frames, the second half covered: (0.2 + 3 * 0.6 + 3 * 1.0 * 0.5) / (1 + 3 + 1.5)
    masks = [trusted, np.full((4, 4), 0.5, np.float32)]
    assert np.allclose(deflicker_frame(processed, [warped, np.ones_like(warped)], masks, 3.0), (0.2 + 1.8 + 1.5) / 5.5)
    # flat images have no detail: the low-pass variant gives the same
    assert np.allclose(deflicker_frame(processed, [warped], [trusted], 1.0, detail_sigma=2.0), 0.4, atol=1e-6)


def test_detail_above_the_sigma_stays_the_processed_frames():
    rng = np.random.default_rng(0)
    processed = rng.uniform(0, 1, (32, 32, 3)).astype(np.float32)  # all detail
    warped = np.full((32, 32, 3), 0.5, np.float32)
    out = deflicker_frame(processed, [warped], [np.ones((32, 32), np.float32)], 100.0, detail_sigma=4.0)
    # the fine structure survives (its correlation with the processed frame stays high) ...
    assert np.corrcoef(out.ravel(), processed.ravel())[0, 1] > 0.95
    plain = deflicker_frame(processed, [warped], [np.ones((32, 32), np.float32)], 100.0)
    assert np.abs(plain - 0.5).max() < 0.01  # ... while the pixel form flattens it to the warped frame


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("deflicker")
    photo = load_photo(sample_path("tubingen.jpg"))
    frames = camera_move(photo, (64, 36), 8, shift_per_frame=(1.5, 0.5), scale=0.25)
    rng = np.random.default_rng(0)
    jittered = [np.clip(f * rng.uniform(0.8, 1.2, 3).astype(np.float32), 0, 1) for f in frames]
    original = write_clip(folder / "original.mp4", frames, audio=True)
    processed = write_clip(folder / "processed.mp4", jittered, audio=True)
    short = write_clip(folder / "short.mp4", jittered[:5], audio=False)
    return folder, original, processed, short


def test_a_jittered_clip_comes_back_consistent_with_its_frames_audio_and_timing(clips, capsys):
    folder, original, processed, _ = clips
    out = folder / "out.mp4"
    assert main(["deflicker", str(processed), "--source", str(original), "-o", str(out), "--overwrite"]) == 0
    assert "8 frame(s) deflickered" in capsys.readouterr().err
    info, source_info = probe(out), probe(processed)
    assert (info.frame_count, info.width, info.height, info.has_audio) == (8, 64, 36, True)
    assert info.duration == pytest.approx(source_info.duration, abs=0.05)
    outputs = [f.image for f in VideoReader(out)]
    inputs = [f.image for f in VideoReader(processed)]
    sources = [f.image for f in VideoReader(original)]
    before, _ = warping_errors(inputs, sources)
    after, _ = warping_errors(outputs, sources)
    assert np.mean(after) < 0.5 * np.mean(before)


def test_frame_counts_that_differ_are_refused_in_one_line(clips, capsys):
    folder, original, _, short = clips
    out = folder / "never.mp4"
    assert main(["deflicker", str(short), "--source", str(original), "-o", str(out)]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "has 5 frames" in error[0] and "has 8" in error[0]
    assert not out.exists()
