"""Multi-pass rendering (`--passes`, vidstyle/passes.py): the sweep's start formula by hand, a
video end to end, refusals, and a kill -9 in pass 2 resumed to the unbroken run's frames."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vidstyle.cli import main
from vidstyle.io.image import read_image, write_image
from vidstyle.io.video import probe
from vidstyle.passes import pass_store_path, sweep_order

ROOT = Path(__file__).resolve().parents[1]
STYLE = str(ROOT / "samples" / "starry_night.jpg")
TINY = ["--size", "48", "--iters", "3", "--first-iters", "6", "--seed", "0", "--threads", "1", "--device", "cpu"]


def _still_plate(folder: Path, frames: int = 4) -> str:
    """``frames`` identical 48x32 frames: zero flow, every pixel reliable (held still)."""
    photo = read_image(ROOT / "samples" / "tubingen.jpg")[0]
    from vidstyle.frames import resize

    image = resize(photo, (48, 32))
    for number in range(1, frames + 1):
        write_image(folder / f"plate.{number:04d}.png", image)
    return str(folder / "plate.####.png")


def _frames(pattern: str, count: int) -> np.ndarray:
    return np.stack([read_image(pattern.replace("####", f"{n:04d}"))[0] for n in range(1, count + 1)])


def test_sweep_order_alternates():
    assert sweep_order([3, 5, 7], 1) == [3, 5, 7]
    assert sweep_order([3, 5, 7], 2) == [7, 5, 3]
    assert sweep_order([3, 5, 7], 3) == [3, 5, 7]


def test_a_backward_sweep_with_no_iterations_is_the_start_formula(tmp_path):
    # Pass 2 with --pass-iters 0 writes its starting images: with zero flow and full reliability,
    # frame i starts from δ·B(i+1) + (1-δ)·A(i), B(last) = A(last) (nothing to come from), where A is
    # pass 1, i.e. the single-pass render of the same command.
    plate = _still_plate(tmp_path)
    single, double = str(tmp_path / "a.####.tif"), str(tmp_path / "b.####.tif")
    assert main(["stylize", plate, "-s", STYLE, "-o", single, *TINY]) == 0
    assert main(["stylize", plate, "-s", STYLE, "-o", double, *TINY, "--passes", "2", "--pass-iters", "0",
                 "--pass-blend", "0.5"]) == 0
    a, b = _frames(single, 4), _frames(double, 4)
    expected = [a[3]]
    for i in (2, 1, 0):
        expected.insert(0, 0.5 * expected[0] + 0.5 * a[i])
    assert np.abs(b - np.stack(expected)).max() < 3 / 65535  # 16-bit TIFF rounding, twice
    assert np.abs(a[0] - a[3]).max() > 0.01  # the frames differ, so the check above can fail
    assert not pass_store_path(double).exists()  # the store goes once the output is complete


def test_a_scene_cut_breaks_the_chain_of_a_sweep(tmp_path):
    # Frames 1-3 one still photo, 4-6 another: a cut at 4. In the backward pass 2 (no iterations,
    # δ 0.5) frame 3 has nothing to come from across the cut, so it stays pass 1's; frame 2 is
    # built from it as within any shot.
    from vidstyle.frames import resize

    folder = tmp_path / "plates"
    folder.mkdir()
    first = resize(read_image(ROOT / "samples" / "tubingen.jpg")[0], (48, 32))
    second = resize(read_image(ROOT / "samples" / "the_scream.jpg")[0], (48, 32))
    for number in range(1, 7):
        write_image(folder / f"plate.{number:04d}.png", first if number <= 3 else second)
    plate = str(folder / "plate.####.png")
    single, double = str(tmp_path / "a.####.tif"), str(tmp_path / "b.####.tif")
    assert main(["stylize", plate, "-s", STYLE, "-o", single, *TINY]) == 0
    assert main(["stylize", plate, "-s", STYLE, "-o", double, *TINY, "--passes", "2", "--pass-iters", "0",
                 "--pass-blend", "0.5"]) == 0
    a, b = _frames(single, 6), _frames(double, 6)
    tolerance = 3 / 65535
    assert np.abs(b[2] - a[2]).max() < tolerance  # frame 3: the cut, nothing to come from
    assert np.abs(b[1] - (0.5 * b[2] + 0.5 * a[1])).max() < tolerance
    assert np.abs(b[5] - a[5]).max() < tolerance  # frame 6: the end of the clip
    assert np.abs(b[3] - (0.5 * b[4] + 0.5 * a[3])).max() < tolerance
    assert np.abs(b[2] - (0.5 * b[3] + 0.5 * a[2])).max() > 0.01  # had the cut been crossed


def test_video_end_to_end_keeps_count_size_and_timing(tmp_path):
    clip = tmp_path / "c.mp4"
    subprocess.run([sys.executable, "-m", "vidstyle.synth", str(clip), "--frames", "6"], check=True, capture_output=True)
    out = tmp_path / "out.mp4"
    assert main(["stylize", str(clip), "-s", STYLE, "-o", str(out), *TINY, "--passes", "3"]) == 0
    info, source = probe(out), probe(clip)
    assert info.frame_count == 6 and (info.width, info.height) == (48, 28)  # 48x27, made even for yuv420p
    assert info.fps == source.fps and info.has_audio == source.has_audio
    assert not pass_store_path(str(out)).exists()


@pytest.mark.parametrize("extra, message", [
    (["--no-temporal"], "temporal"),
    (["--engine", "arbitrary"], "optimiser engine"),
    (["--devices", "cpu,cpu"], "--devices"),
    (["--passes", "0"], "--passes must be >= 1"),
    (["--pass-blend", "1.5"], "--pass-blend"),
    (["--mask", "alpha"], "--mask"),
])
def test_refusals_are_one_line(tmp_path, capsys, extra, message):
    plate = _still_plate(tmp_path, 2)
    args = ["stylize", plate, "-s", STYLE, "-o", str(tmp_path / "o.####.png"), *TINY, "--passes", "2", *extra]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not list(tmp_path.glob("o.*")) and not list(tmp_path.glob(".o.*"))  # no frame, no sidecar


# Kill the render when it publishes frame 2 of pass 2 (frames 5, 4, 3 are done in that backward sweep).
KILL_IN_PASS_2 = """
import os, signal, sys
real_replace = os.replace
def replace(src, dst, *args, **kwargs):
    dst = os.fspath(dst)
    if dst.endswith(os.path.join("pass2", "2.npy")):
        os.kill(os.getpid(), signal.SIGKILL)
    return real_replace(src, dst, *args, **kwargs)
os.replace = replace
from vidstyle.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_kill_in_pass_two_then_the_same_command_gives_the_unbroken_frames(tmp_path):
    clip = tmp_path / "c.mp4"
    subprocess.run([sys.executable, "-m", "vidstyle.synth", str(clip), "--frames", "5"], check=True, capture_output=True)
    args = [str(clip), "-s", STYLE, *TINY, "--passes", "3", "--start-number", "1"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    unbroken = str(tmp_path / "u.####.exr")
    run = [sys.executable, "-c", "import sys; from vidstyle.cli import main; sys.exit(main(sys.argv[1:]))"]
    assert subprocess.run([*run, "stylize", *args, "-o", unbroken], env=env, capture_output=True).returncode == 0

    resumed = str(tmp_path / "r.####.exr")
    killed = subprocess.run([sys.executable, "-c", KILL_IN_PASS_2, "stylize", *args, "-o", resumed], env=env, capture_output=True)
    assert killed.returncode == -signal.SIGKILL
    store = pass_store_path(resumed)
    assert sorted(p.name for p in (store / "pass1").glob("*.npy")) == [f"{n}.npy" for n in range(1, 6)]
    assert sorted(p.name for p in (store / "pass2").glob("*.npy")) == ["3.npy", "4.npy", "5.npy"]
    assert not list(tmp_path.glob("r.*.exr"))
    again = subprocess.run([*run, "stylize", *args, "-o", resumed], env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert np.array_equal(_frames(resumed, 5), _frames(unbroken, 5))
    assert not store.exists()
    # Once finished, the same command renders no pass again.
    rerun = subprocess.run([*run, "stylize", *args, "-o", resumed], env=env, capture_output=True, text=True)
    assert rerun.returncode == 0 and "5 already done" in rerun.stdout + rerun.stderr, rerun.stderr
    assert "pass 1/3" not in rerun.stderr and not store.exists()
