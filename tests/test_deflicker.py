"""``vidstyle deflicker`` (issue 19): the closed form, the ages, the colour hold and the contrast
restoration by hand, and the command end to end."""

from __future__ import annotations

import numpy as np
import pytest

from vidstyle.cli import main
from vidstyle.config import DeflickerSettings, StyleConfig
from vidstyle.deflicker import DeflickerEngine, colour_relation, deflicker_frame, hold_colour, output_age, restore_contrast
from vidstyle.frames import Frame
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


def test_young_history_counts_as_many_frames_as_it_has():
    processed = np.full((4, 4, 3), 1.0, np.float32)
    warped = np.zeros((4, 4, 3), np.float32)
    trusted = np.ones((4, 4), np.float32)
    # a history one frame old weighs 1, not the strength 16: the mean of two frames, (1 + 0) / 2
    young = deflicker_frame(processed, [warped], [trusted], 16.0, ages=[np.ones((4, 4), np.float32)])
    assert np.allclose(young, 0.5)
    # settled (no ages: at least the strength): (1 + 16 * 0) / 17
    assert np.allclose(deflicker_frame(processed, [warped], [trusted], 16.0), 1 / 17)
    # half trusted, age 3: 1 + 0.5 * 3 frames; capped at the strength
    assert np.allclose(output_age([0.5 * trusted], [np.full((4, 4), 3.0, np.float32)], 16.0), 2.5)
    assert np.allclose(output_age([trusted], [np.full((4, 4), 30.0, np.float32)], 16.0), 16.0)


def test_colour_relation_and_its_hold_by_hand():
    rng = np.random.default_rng(1)
    source = rng.uniform(0, 1, (40, 40, 3)).astype(np.float32)
    graded = np.clip(0.8 * source + 0.3, 0, 1)  # clipped above source 0.875: those pixels are left out
    gain, offset = colour_relation(graded, source, stride=1)
    assert np.allclose(gain, 0.8, atol=1e-5) and np.allclose(offset, 0.3, atol=1e-5)
    processed = 0.8 * source + 0.1
    # the previous output's relation is (1, 0); held with weight 1: gain (0.8 + 1) / 2, offset (0.1 + 0) / 2
    held = hold_colour(processed, source, source.copy(), source, weight=1.0)
    assert np.allclose(held, 0.9 * source + 0.05, atol=1e-5)
    assert np.allclose(hold_colour(processed, source, source, source, weight=0.0), processed, atol=1e-6)


def test_contrast_is_restored_never_raised():
    rng = np.random.default_rng(2)
    reference = rng.normal(0, 0.1, (48, 48, 3)).astype(np.float32)
    # a uniformly halved detail gets its amplitude back (away from the borders' window effects)
    restored = restore_contrast(0.5 * reference, reference, window=4.0)
    # (to the 1e-5 floor added to both energies: 0.2 % at this amplitude)
    assert np.allclose(restored[12:-12, 12:-12], reference[12:-12, 12:-12], rtol=5e-3, atol=1e-4)
    # a stronger one is left as it is: the gain is at least 1 and only undoes lost contrast
    assert np.allclose(restore_contrast(2.0 * reference, reference, window=4.0), 2.0 * reference)
    # and at most ``most``
    assert np.abs(restore_contrast(0.01 * reference, reference, window=4.0)).max() <= 3 * 0.01 * np.abs(reference).max() + 1e-7


def test_the_colour_hold_brings_a_flickering_grade_closer_to_the_original():
    photo = load_photo(sample_path("tubingen.jpg"))
    clean = camera_move(photo, (64, 36), 12, shift_per_frame=(1.5, 0.5), scale=0.25)
    rng = np.random.default_rng(0)
    graded = [np.clip(f * rng.uniform(0.85, 1.15, 3) + rng.uniform(-0.05, 0.05, 3), 0, 1).astype(np.float32) for f in clean]

    def error(colour_strength: float) -> float:
        engine = DeflickerEngine((Frame(f, i, i) for i, f in enumerate(clean)), (64, 36), StyleConfig.video(),
                                 DeflickerSettings(strength=4.0, detail_sigma=4.0, colour_strength=colour_strength))
        outputs = [engine.process(Frame(f, i, i))[0].image for i, f in enumerate(graded)]
        return float(np.mean([np.abs(o - c).mean() for o, c in zip(outputs[1:], clean[1:])]))

    before = float(np.mean([np.abs(g - c).mean() for g, c in zip(graded[1:], clean[1:])]))
    without, held = error(0.0), error(16.0)
    assert without < before
    assert held < 0.85 * without, (before, without, held)  # measured 0.77x: 1.41 -> 1.08 / 100


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


def test_resynthesis_end_to_end_keeps_frames_audio_and_the_hold(clips, capsys):
    """``--resynth-iters``: VGG iterations after the hold change the frames (not the first, which
    has nothing held) but not what the command writes around them, and the output stays steadier
    than the input."""
    folder, original, processed, _ = clips
    common = ["deflicker", str(processed), "--source", str(original), "--overwrite", "--strength", "16", "--detail-strength", "1"]
    assert main([*common, "-o", str(folder / "held.mp4")]) == 0
    assert main([*common, "-o", str(folder / "resynth.mp4"), "--resynth-iters", "3"]) == 0
    capsys.readouterr()
    info = probe(folder / "resynth.mp4")
    assert (info.frame_count, info.width, info.height, info.has_audio) == (8, 64, 36, True)
    held = [f.image for f in VideoReader(folder / "held.mp4")]
    resynthesised = [f.image for f in VideoReader(folder / "resynth.mp4")]
    assert np.abs(held[0] - resynthesised[0]).max() <= 2 / 255  # the same frame, through the encoder
    assert np.abs(held[4] - resynthesised[4]).mean() > 1 / 255
    sources = [f.image for f in VideoReader(original)]
    before, _ = warping_errors([f.image for f in VideoReader(processed)], sources)
    after, _ = warping_errors(resynthesised, sources)
    assert np.mean(after) < 0.5 * np.mean(before)


def test_frame_counts_that_differ_are_refused_in_one_line(clips, capsys):
    folder, original, _, short = clips
    out = folder / "never.mp4"
    assert main(["deflicker", str(short), "--source", str(original), "-o", str(out)]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "has 5 frames" in error[0] and "has 8" in error[0]
    assert not out.exists()


@pytest.mark.parametrize("kind", ["matroska", "still"])
def test_lengths_the_header_does_not_give_are_counted_and_refused(clips, capsys, kind):
    """A processed input whose container gives no frame count (Matroska; a still read as a video)
    is counted by its packets before anything starts, so a length that differs from the source's is
    still one line naming both counts, with nothing written (it used to run, and a still made a
    one-frame video)."""
    from vidstyle.io.image import write_image
    from vidstyle.io.video import probe as probe_video

    folder, original, _, _ = clips
    frames = [f.image for f in VideoReader(original)]
    if kind == "matroska":
        processed = write_clip(folder / "five.mkv", frames[:5], audio=False)
        assert probe_video(processed).frame_count is None  # what the test is about
        count = 5
    else:
        processed = folder / "still.png"
        write_image(processed, frames[0])
        count = 1
    out = folder / f"never_{kind}.mp4"
    capsys.readouterr()
    assert main(["deflicker", str(processed), "--source", str(original), "-o", str(out)]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and f"has {count} frames" in error[0] and "has 8" in error[0], error
    assert not out.exists()


def test_flow_at_half_size_is_scaled_back_to_the_frame():
    """``--flow-scale 0.5``: flow estimated at half size comes back at full size with its vectors
    doubled. The window pans 4 px right, 2 down over the photo at scale 0.5: 2 and 1 px of the
    frame, so each pixel of frame 1 was at (+2, +1) in frame 0."""
    from vidstyle.errors import UsageError
    from vidstyle.temporal import frame_pair

    photo = load_photo(sample_path("tubingen.jpg"))
    frames = camera_move(photo, (96, 64), 2, shift_per_frame=(4.0, 2.0), scale=0.5)
    config = StyleConfig.video().with_(still_threshold=0.0)
    full = frame_pair(frames[0], frames[1], config)
    half = frame_pair(frames[0], frames[1], config.with_(flow_scale=0.5))
    assert half.backward.shape == full.backward.shape == (64, 96, 2)
    assert half.reliability.shape == (64, 96)
    inner = (slice(16, -16), slice(16, -16))
    median = np.median(half.backward[inner].reshape(-1, 2), axis=0)
    assert np.allclose(median, [2.0, 1.0], atol=0.25), median
    assert np.allclose(median, np.median(full.backward[inner].reshape(-1, 2), axis=0), atol=0.25)
    for wrong in (0.0, 1.5):
        with pytest.raises(UsageError, match="--flow-scale"):
            config.with_(flow_scale=wrong).validate()


def test_flow_at_half_size_holds_still_pixels_and_not_moving_ones():
    """The still-pixel test at the flow's size: a static photo with sensor-like noise and a square
    moving 6 px right across it. Away from the square the flow is held at exactly zero and trusted;
    on the square (3 px at half size, far above the scaled 0.125 px limit) it is not held."""
    from vidstyle.temporal import frame_pair

    rng = np.random.default_rng(0)
    photo = load_photo(sample_path("tubingen.jpg"))
    background = np.ascontiguousarray(camera_move(photo, (128, 96), 1)[0])
    frames = []
    for x in (40, 46):
        frame = background.copy()
        frame[40:64, x:x + 24] = np.linspace(0.0, 1.0, 24, dtype=np.float32)[None, :, None]
        frames.append(np.clip(frame + rng.normal(0, 1 / 255, frame.shape).astype(np.float32), 0, 1))
    pair = frame_pair(frames[0], frames[1], StyleConfig.video().with_(flow_scale=0.5))
    far = np.ones((96, 128), bool)
    far[28:76, 28:84] = False
    assert np.all(pair.backward[far] == 0.0) and np.all(pair.reliability[far] == 1.0)
    assert np.median(pair.backward[44:60, 54:62, 0]) < -3.0  # on the square: about -6 px, not held


class GradingEngine:
    """A stand-in for a fast stylising engine with state between frames: each frame graded by its own
    random per-channel gain (the flicker), half-blended with its previous output (the state a
    stabilised engine keeps). What ``--deflicker`` wraps; the tests compare the wrapper against
    ``vidstyle deflicker``'s engine run on this engine's output."""

    depth = 1

    def __init__(self, size):
        self.size = size
        self.history: list = []
        self.stylised = None

    def prepare(self, frames):
        from vidstyle.engine import PreparedFrame

        for frame in frames:
            yield PreparedFrame(frame, frame.image, None)

    def restore(self, entries):
        self.history = list(entries)[-1:]

    def process(self, frame, progress=None, mask=None):
        from vidstyle.engine import FrameReport, HistoryEntry, PreparedFrame

        current = frame.frame if isinstance(frame, PreparedFrame) else frame
        gain = np.random.default_rng(current.number).uniform(0.8, 1.2, 3).astype(np.float32)
        output = np.clip(current.image * gain, 0, 1)
        if self.history:
            output = 0.5 * output + 0.5 * self.history[-1].output
        self.stylised = output
        self.history = [HistoryEntry(current.number, current.image, output)]
        report = FrameReport(current.index, current.number, 0, float("nan"), 0.0, True, False, None, None)
        return current.with_image(output), report


@pytest.fixture(scope="module")
def moving():
    photo = load_photo(sample_path("tubingen.jpg"))
    return [Frame(f, i, 1001 + i) for i, f in enumerate(camera_move(photo, (64, 36), 7, shift_per_frame=(1.5, 0.5), scale=0.25))]


def run_engine(engine, frames):
    return [engine.process(prepared)[0].image for prepared in engine.prepare(frames)]


def test_deflicker_in_the_render_is_deflicker_run_on_the_render(moving):
    """``stylize --deflicker``: the wrapped engine's frames deflickered in the same pass are what
    ``vidstyle deflicker`` makes of that engine's own render, with the input as the source."""
    from vidstyle.deflicker import DeflickeredEngine

    config, settings = StyleConfig.video(), DeflickerSettings.strokes()
    in_pass = run_engine(DeflickeredEngine(GradingEngine((64, 36)), config, settings), moving)
    rendered = run_engine(GradingEngine((64, 36)), moving)
    after = run_engine(DeflickerEngine(iter(moving), (64, 36), config, settings),
                       [frame.with_image(image) for frame, image in zip(moving, rendered)])
    assert len(in_pass) == len(after) == 7
    for a, b in zip(in_pass, after):
        assert np.allclose(a, b, atol=1e-6)
    assert not np.allclose(in_pass[3], rendered[3], atol=1e-3)  # the stage did something


def test_a_resumed_deflickered_render_restores_both_engines(moving, tmp_path):
    """The state file holds the stage's history with the wrapped engine's own outputs inside
    (``HistoryEntry.inner``) and the ages: restored into fresh engines, the render goes on exactly as
    the unbroken one. Without the inner outputs the wrapped engine would blend with the deflickered
    frame instead of its own, and frame 4 would differ."""
    from vidstyle.deflicker import DeflickeredEngine
    from vidstyle.io.resume import read_state, write_state

    config, settings = StyleConfig.video(), DeflickerSettings.strokes()
    unbroken = run_engine(DeflickeredEngine(GradingEngine((64, 36)), config, settings), moving)
    first = DeflickeredEngine(GradingEngine((64, 36)), config, settings)
    run_engine(first, moving[:4])
    write_state(tmp_path / "state.npz", first.history)
    entries = read_state(tmp_path / "state.npz")
    assert [e.number for e in entries] == [1004] and entries[0].inner is not None and entries[0].age is not None
    assert not np.allclose(entries[0].inner.output, entries[0].output)
    resumed = DeflickeredEngine(GradingEngine((64, 36)), config, settings)
    resumed.restore(entries)
    rest = run_engine(resumed, moving[4:])
    for a, b in zip(rest, unbroken[4:]):
        assert np.array_equal(a, b)


def test_stylize_deflicker_steadies_the_arbitrary_engine_end_to_end(clips, capsys):
    """``vidstyle stylize --engine arbitrary --no-temporal --deflicker``: the same frames, size, audio
    and timing as without it, and a lower warping error against the input's flow."""
    folder, original, _, _ = clips
    common = ["stylize", str(original), "-s", str(sample_path("starry_night.jpg")), "--engine", "arbitrary", "--no-temporal",
              "--size", "64", "--device", "cpu", "--overwrite"]
    assert main([*common, "-o", str(folder / "flicker.mp4")]) == 0
    assert main([*common, "-o", str(folder / "steady.mp4"), "--deflicker"]) == 0
    capsys.readouterr()
    info, source_info = probe(folder / "steady.mp4"), probe(original)
    assert (info.frame_count, info.width, info.height, info.has_audio) == (8, 64, 36, True)
    assert info.duration == pytest.approx(source_info.duration, abs=0.05)
    sources = [f.image for f in VideoReader(original)]
    before, _ = warping_errors([f.image for f in VideoReader(folder / "flicker.mp4")], sources)
    after, _ = warping_errors([f.image for f in VideoReader(folder / "steady.mp4")], sources)
    assert np.mean(after) < 0.7 * np.mean(before), (np.mean(before), np.mean(after))


def test_stylize_deflicker_resynthesis_runs_in_the_same_pass(clips, capsys):
    """``stylize --deflicker --deflicker-resynth-iters``: the re-synthesis reaches the in-pass stage
    (the frames differ from ``--deflicker`` alone, the first far less), and what is written around
    the frames is the same."""
    folder, original, _, _ = clips
    common = ["stylize", str(original), "-s", str(sample_path("starry_night.jpg")), "--engine", "arbitrary", "--no-temporal",
              "--size", "64", "--device", "cpu", "--overwrite", "--deflicker"]
    assert main([*common, "-o", str(folder / "held.mp4")]) == 0
    assert main([*common, "-o", str(folder / "resynth.mp4"), "--deflicker-resynth-iters", "2"]) == 0
    capsys.readouterr()
    info = probe(folder / "resynth.mp4")
    assert (info.frame_count, info.width, info.height, info.has_audio) == (8, 64, 36, True)
    held = [f.image for f in VideoReader(folder / "held.mp4")]
    resynthesised = [f.image for f in VideoReader(folder / "resynth.mp4")]
    # Frame 0 is not compared pixel for pixel: on CI's CPU it differed from the held render in a few
    # pixels by up to 15/255 (run-to-run kernel noise or x264 tuning frame 0 to later frames; exactly 0
    # here). That the stage leaves a shot's first frame untouched is checked on arrays in
    # test_resynthesis.py; here frame 0 only has to differ far less than a re-synthesised frame does.
    first, fifth = (np.abs(held[i] - resynthesised[i]).mean() for i in (0, 5))
    assert fifth > 1 / 255  # 5.3/255 measured
    assert first < 0.5 * fifth, (first, fifth)


def test_the_detail_octaves_add_back_up_to_the_frame():
    """Held octave by octave, a history that agrees with the frame gives the frame back: the octaves
    (finest 0.5 px, then 1, 2, 4) telescope to the frame minus its base, and restoring contrast
    that nothing lowered changes nothing. A history that disagrees moves it."""
    from vidstyle.deflicker import octave_sigmas

    assert octave_sigmas(4.0) == [0.5, 1.0, 2.0, 4.0] and octave_sigmas(0.3) == [0.3]
    rng = np.random.default_rng(1)
    frame = rng.uniform(0, 1, (24, 32, 3)).astype(np.float32)
    trusted = [np.ones((24, 32), np.float32)]
    for strength in (0.0, 16.0):
        same = deflicker_frame(frame, [frame.copy()], trusted, strength, detail_sigma=4.0, detail_strength=1.0)
        assert np.allclose(same, frame, atol=1e-4)
    other = deflicker_frame(frame, [rng.uniform(0, 1, frame.shape).astype(np.float32)], trusted, 16.0, 4.0, 1.0)
    assert np.abs(other - frame).mean() > 0.02


@pytest.mark.parametrize("command", ["deflicker", "stylize"])
def test_a_resynthesis_that_cannot_fit_is_refused_before_any_work(clips, capsys, monkeypatch, command):
    """With too little memory free for the re-synthesis' VGG pass at the frame size, both commands
    refuse in one line naming the size and the need, and write nothing; without the re-synthesis
    the same memory is enough (the closed form needs no VGG), so the check is the re-synthesis'."""
    import vidstyle.device
    from vidstyle.resynthesis import memory_needed

    folder, original, processed, _ = clips
    need = memory_needed(64, 36)
    monkeypatch.setattr(vidstyle.device, "available_memory", lambda device: need - 1)
    out = folder / f"tight_{command}.mp4"
    if command == "deflicker":
        argv = ["deflicker", str(processed), "--source", str(original), "-o", str(out)]
        resynth = ["--resynth-iters", "2"]
    else:
        argv = ["stylize", str(original), "-s", str(sample_path("starry_night.jpg")), "--engine", "arbitrary", "--no-temporal",
                "--size", "64", "--device", "cpu", "-o", str(out), "--deflicker"]
        resynth = ["--deflicker-resynth-iters", "2"]
    capsys.readouterr()
    assert main([*argv, *resynth]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "64x36 frame needs about" in error[0] and "re-synthesis" in error[0], error
    assert not out.exists()
    if command == "deflicker":  # the arbitrary engine's own need is not this check's to judge
        assert main(argv) == 0 and out.exists()


@pytest.fixture(scope="module")
def plates(tmp_path_factory):
    """A processed 16-bit RGBA sequence (64x36, p.1001-1008, the alpha a ramp of 16-bit levels
    that differs per frame) and its original as an 8-bit sequence at another size (96x54, s.1001-1008)."""
    from vidstyle.io.image import ImageFormat, write_image

    folder = tmp_path_factory.mktemp("deflicker_plates")
    photo = load_photo(sample_path("tubingen.jpg"))
    small = camera_move(photo, (64, 36), 8, shift_per_frame=(1.5, 0.5), scale=0.25)
    large = camera_move(photo, (96, 54), 8, shift_per_frame=(2.25, 0.75), scale=0.25)
    rng = np.random.default_rng(0)
    for i, (frame, original) in enumerate(zip(small, large)):
        alpha = ((np.arange(36 * 64).reshape(36, 64) * 41 + 7 + 13 * i) % 65536) / 65535.0
        jittered = np.clip(frame * rng.uniform(0.8, 1.2, 3).astype(np.float32), 0, 1)
        write_image(folder / f"p.{1001 + i}.png", jittered, alpha, ImageFormat("png", "uint16", 4, False))
        write_image(folder / f"s.{1001 + i}.png", original)
    return folder


def _raw(path):
    import cv2

    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


def test_deflicker_sequences_keep_depth_alpha_range_and_resume(plates, tmp_path, capsys):
    """Issue 19 item 2 on sequences: a 16-bit RGBA plate deflickered with an original of another
    size keeps the plate's size, depth and exact alpha, writes only the range; a render stopped
    after part of the range continues exactly (the state file), and one whose last frames were
    deleted continues from the last output file, held to it (no cut), within quantisation."""
    numbers = range(1002, 1008)

    def run(out, frames="1002-1007"):
        return main(["deflicker", str(plates / "p.####.png"), "--source", str(plates / "s.####.png"), "--frames", frames,
                     "-o", str(out / "o.####.png")])

    full = tmp_path / "full"
    full.mkdir()
    assert run(full) == 0
    assert sorted(p.name for p in full.glob("o.*.png")) == [f"o.{n}.png" for n in numbers]
    for n in numbers:
        plate, result = _raw(plates / f"p.{n}.png"), _raw(full / f"o.{n}.png")
        assert result.dtype == np.uint16 and result.shape == plate.shape == (36, 64, 4)
        assert np.array_equal(result[..., 3], plate[..., 3]), f"alpha of {n} changed"
    assert np.abs(_raw(full / "o.1005.png")[..., :3].astype(float) - _raw(plates / "p.1005.png")[..., :3]).mean() > 500  # deflickered

    stopped = tmp_path / "stopped"
    stopped.mkdir()
    assert run(stopped, "1002-1004") == 0 and run(stopped) == 0
    for n in numbers:
        assert np.array_equal(_raw(stopped / f"o.{n}.png"), _raw(full / f"o.{n}.png")), n

    deleted = tmp_path / "deleted"
    deleted.mkdir()
    assert run(deleted) == 0
    for n in (1006, 1007):
        (deleted / f"o.{n}.png").unlink()
    capsys.readouterr()
    assert run(deleted) == 0
    summary = capsys.readouterr().err
    assert "4 already done" in summary and "scene cut" not in summary, summary[-300:]
    for n in (1006, 1007):
        difference = np.abs(_raw(deleted / f"o.{n}.png").astype(float) - _raw(full / f"o.{n}.png")) / 65535
        assert difference.mean() < 0.2 / 255, (n, difference.mean() * 255)


def test_exr_plates_keep_their_highlights(tmp_path, capsys):
    """An EXR plate (scene-linear, a lamp at 12.0, light up to 4) goes through the colour pipeline as
    stylize's does (held through the view, the change put back into the plate): the output keeps
    the highlights (the plain path clipped every value at 1.0) and comes closer to the unjittered
    plates than the jittered input is."""
    from vidstyle.io.image import read_raw, srgb_to_linear, write_raw

    photo = load_photo(sample_path("tubingen.jpg"))
    frames = camera_move(photo, (64, 36), 6, shift_per_frame=(1.5, 0.5), scale=0.25)
    rng = np.random.default_rng(0)
    clean, jittered = [], []
    for i, frame in enumerate(frames):
        plate = srgb_to_linear(frame) * 4.0
        plate[:6, :10] = 12.0
        clean.append(plate.astype(np.float32))
        jittered.append((plate * rng.uniform(0.85, 1.15, 3)).astype(np.float32))
        write_raw(tmp_path / f"s.{1001 + i}.exr", clean[-1])
        write_raw(tmp_path / f"p.{1001 + i}.exr", jittered[-1])
    assert main(["deflicker", str(tmp_path / "p.####.exr"), "--source", str(tmp_path / "s.####.exr"), "-o", str(tmp_path / "o.####.exr")]) == 0
    capsys.readouterr()
    outputs = [np.asarray(read_raw(tmp_path / f"o.{1001 + i}.exr").values, dtype=np.float64) for i in range(6)]
    for output in outputs:
        assert output.shape == (36, 64, 3) and output[:6, :10].mean() > 10.0  # the lamp (12.0); clipped it was 1.0
    after = np.mean([np.abs(o - c).mean() for o, c in zip(outputs[1:], clean[1:])])
    before = np.mean([np.abs(j - c).mean() for j, c in zip(jittered[1:], clean[1:])])
    assert after < 0.85 * before, (before, after)  # 0.121 -> 0.087 measured (0.72x)
