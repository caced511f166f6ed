"""`vidstyle stylize` / `eval` on tiny generated clips: counts, sizes, timing, audio, scene cuts,
temporal consistency, and a hand-computed warping error."""

from fractions import Fraction

import av
import numpy as np
import pytest

from vidstyle import synth
from vidstyle.cli import main
from vidstyle.config import StyleConfig
from vidstyle.frames import Frame
from vidstyle.io.image import write_image
from vidstyle.io.video import VideoReader, probe
from vidstyle.metrics import frame_warping_error, warping_errors
from vidstyle.optimize import Stylizer
from vidstyle.temporal import VideoStylizer

from conftest import sample_path

FAST = ["--iters", "3", "--first-iters", "6", "--device", "cpu", "--seed", "0"]


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory, photo):
    """8 frames, 64x36, the camera panning 2 px per frame, with an AAC track."""
    path = tmp_path_factory.mktemp("clip") / "pan.mp4"
    frames = synth.camera_move(photo, (64, 36), 8, shift_per_frame=(2.0, 0.0))
    synth.write_clip(path, frames, fps=Fraction(24))
    return path


def audio_seconds(path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        packets = [p for p in container.demux(stream) if p.size]
        end = max(p.pts + p.duration for p in packets)
        start = min(p.pts for p in packets)
        return float((end - start) * stream.time_base)


def test_video_end_to_end_keeps_count_rate_aspect_and_audio(tmp_path, tiny_clip):
    out = tmp_path / "out.mp4"
    style = sample_path("starry_night.jpg")
    assert main(["stylize", str(tiny_clip), "-s", str(style), "-o", str(out), "--size", "48", *FAST]) == 0
    source, result = probe(tiny_clip), probe(out)
    assert result.frame_count == source.frame_count == 8
    assert result.fps == source.fps
    assert (result.width, result.height) == (48, 28)  # 48x27 keeps 16:9; yuv420p needs even rows: padded
    assert result.has_audio
    assert abs(audio_seconds(out) - audio_seconds(tiny_clip)) <= 0.1
    assert abs(result.duration - source.duration) <= 0.1
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_variable_frame_rate_timestamps_are_preserved(tmp_path, photo):
    clip = tmp_path / "vfr.mkv"
    pts = [0, 40, 70, 150, 160, 260]  # milliseconds, irregular
    frames = synth.camera_move(photo, (48, 32), len(pts), shift_per_frame=(1.0, 0.0))
    synth.write_clip(clip, frames, fps=Fraction(25), variable_frame_rate=pts, time_base=Fraction(1, 1000), audio=False)
    out = tmp_path / "vfr_out.mkv"
    assert main(["stylize", str(clip), "-s", str(sample_path("starry_night.jpg")), "-o", str(out), "--size", "32", *FAST]) == 0
    with VideoReader(clip) as a, VideoReader(out) as b:
        times_in = [float(f.pts * f.time_base) for f in a]
        times_out = [float(f.pts * f.time_base) for f in b]
    assert times_out == pytest.approx(times_in, abs=1e-3)


def test_scene_cut_restarts_the_frame_and_no_warp_crosses_it(vgg, photo, painting):
    frames, cut = synth.scene_cut(photo, (48, 32), frames=(4, 4), shift_per_frame=(1.5, 0.0))
    config = StyleConfig(iters=2, first_iters=5, tolerance=0.0)
    video = VideoStylizer(Stylizer(config, [painting], network=vgg), (48, 32), generator_seed=0)
    reports = [video.process(Frame(image, i, i))[1] for i, image in enumerate(frames)]
    assert [r.scene_cut for r in reports] == [i == cut for i in range(len(frames))]
    assert [r.fresh_start for r in reports] == [i in (0, cut) for i in range(len(frames))]
    assert reports[cut].iterations == 5 and reports[cut + 1].iterations == 2
    assert reports[cut].warp_error is None and reports[cut + 1].warp_error is not None
    assert all(r.reliable_fraction > 0.8 for i, r in enumerate(reports) if i not in (0, cut))


def test_temporal_term_removes_flicker_against_per_frame_baseline(tmp_path, tiny_clip):
    # From noise, per-frame optimisation lands every frame in a different place; the temporal loop
    # starts each frame from the warped previous output and keeps it there.
    style = str(sample_path("starry_night.jpg"))
    outputs = {}
    for name, extra in (("temporal", []), ("baseline", ["--no-temporal"])):
        out = tmp_path / f"{name}.mp4"
        assert main(["stylize", str(tiny_clip), "-s", style, "-o", str(out), "--size", "48", "--init", "noise", *FAST, *extra]) == 0
        outputs[name] = out
    errors = {}
    for name, out in outputs.items():
        with VideoReader(out) as result, VideoReader(tiny_clip) as source:
            errors[name] = float(np.mean(warping_errors([f.image for f in result], [f.image for f in source])[0]))
    assert errors["temporal"] < 0.3 * errors["baseline"], errors


def test_frame_warping_error_by_hand():
    previous = np.full((4, 5, 3), 0.2, np.float32)
    current = np.full((4, 5, 3), 0.5, np.float32)
    zero_flow = np.zeros((4, 5, 2), np.float32)
    reliability = np.ones((4, 5), np.float32)
    # Every pixel differs by 0.3 in each of 3 channels: sum 3 * 0.09 / 3 = 0.09.
    assert frame_warping_error(current, previous, zero_flow, reliability) == pytest.approx(0.09)
    reliability[:, :2] = 0.0
    current[:, :2] = 1.0  # only unreliable pixels changed: no effect
    assert frame_warping_error(current, previous, zero_flow, reliability) == pytest.approx(0.09)
    # An integer shift: current is previous moved right by one pixel, the flow says so.
    ramp = np.tile(np.linspace(0, 1, 5, dtype=np.float32)[None, :, None], (4, 1, 3))
    shifted = np.roll(ramp, 1, axis=1)
    backward = np.zeros((4, 5, 2), np.float32)
    backward[..., 0] = -1.0  # pixel p of the current frame came from p - (1, 0)
    interior = np.zeros((4, 5), np.float32)
    interior[:, 1:] = 1.0
    assert frame_warping_error(shifted, ramp, backward, interior) == pytest.approx(0.0, abs=1e-7)


def test_eval_reports_hand_computed_warping_error(tmp_path, photo):
    from vidstyle.frames import resize

    # A static textured source (flow 0, every pixel reliable) and outputs that alternate between two
    # flat greys: every frame-to-frame term is (a - b)^2 with a, b the 8-bit levels written.
    texture = resize(photo, (64, 48))
    levels = [51, 128, 51]
    (tmp_path / "src").mkdir()
    (tmp_path / "out").mkdir()
    for n, level in enumerate(levels, start=1):
        write_image(tmp_path / "src" / f"s.{n:04d}.png", texture)
        write_image(tmp_path / "out" / f"o.{n:04d}.png", np.full((48, 64, 3), level / 255, np.float32))
    import json
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "vidstyle.cli", "eval", str(tmp_path / "out" / "o.####.png"), "--source", str(tmp_path / "src" / "s.####.png"), "--json"],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    expected = ((128 - 51) / 255) ** 2
    assert report["per_frame"] == pytest.approx([expected, expected], rel=1e-4)
    assert report["warping_error"] == pytest.approx(expected, rel=1e-4)
    assert report["source_warping_error"] == pytest.approx(0.0, abs=1e-6)
    # The source is still everywhere, so every pixel counts for the change on still pixels: the
    # outputs step by 77/255 each frame, the source by 0.
    assert report["static_fraction"] == 1.0
    assert report["static_per_frame"] == pytest.approx([77 / 255, 77 / 255], rel=1e-5)
    assert report["static_change"] == pytest.approx(77 / 255, rel=1e-5) and report["source_static_change"] == 0.0
    plot = tmp_path / "curve.png"
    result = subprocess.run(
        [sys.executable, "-m", "vidstyle.cli", "eval", str(tmp_path / "out" / "o.####.png"), "--source", str(tmp_path / "src" / "s.####.png"),
         "--plot", str(plot)], capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "change where the source is still (100% of pixels): 77.00/255 a frame (source: 0.00/255)" in result.stdout
    assert plot.stat().st_size > 0


def test_refuses_existing_output_and_output_equal_to_input(tmp_path, tiny_clip, capsys):
    style = str(sample_path("starry_night.jpg"))
    existing = tmp_path / "exists.mp4"
    existing.write_bytes(b"old")
    assert main(["stylize", str(tiny_clip), "-s", style, "-o", str(existing), *FAST]) == 2
    assert existing.read_bytes() == b"old"
    assert main(["stylize", str(tiny_clip), "-s", style, "-o", str(tiny_clip), "--overwrite", *FAST]) == 2
    assert "is the input" in capsys.readouterr().err
