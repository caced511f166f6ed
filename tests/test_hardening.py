"""Every bad input gets one line, a non-zero exit and no traceback; nothing is left behind or lost."""

import json
import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vidstyle import synth
from vidstyle.frames import resize
from vidstyle.io.image import ImageError, read_image, write_image
from vidstyle.io.sequence import SequenceError, SequenceReader
from vidstyle.io.video import MediaError, VideoReader, probe

from conftest import sample_path

CHEAP = ["--size", "24", "--iters", "1", "--first-iters", "1", "--device", "cpu"]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, photo):
    root = tmp_path_factory.mktemp("bad")
    frames = synth.camera_move(photo, (48, 32), 6, shift_per_frame=(1.0, 0.0))
    synth.write_clip(root / "clip.mp4", frames, fps=Fraction(24))
    synth.write_tone(root / "tone.m4a", seconds=0.5)
    write_image(root / "style.png", resize(read_image(sample_path("starry_night.jpg"))[0], (40, 32)))
    write_image(root / "photo.png", frames[0])
    (root / "empty.mp4").write_bytes(b"")
    (root / "empty.png").write_bytes(b"")
    (root / "text.mp4").write_text("not a video at all\n")
    (root / "text.png").write_text("not an image\n")
    data = (root / "clip.mp4").read_bytes()
    (root / "head.mp4").write_bytes(data[:600])  # container header cut short
    png = (root / "photo.png").read_bytes()
    (root / "truncated.png").write_bytes(png[: len(png) // 2])
    seq = root / "seq"
    seq.mkdir()
    for number, image in zip(range(1001, 1007), frames):
        write_image(seq / f"shot.{number:04d}.png", image)
    short = root / "short"
    short.mkdir()
    for number, image in zip(range(1, 4), frames):
        write_image(short / f"s.{number:04d}.png", image)
    gap = root / "gap"
    gap.mkdir()
    for number in (1001, 1002, 1004):
        write_image(gap / f"shot.{number:04d}.png", frames[0])
    broken = root / "broken"
    broken.mkdir()
    for number, image in zip(range(1001, 1005), frames):
        write_image(broken / f"shot.{number:04d}.png", image)
    (broken / "shot.1003.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    return root


def run(*args, cwd):
    return subprocess.run([sys.executable, "-m", "vidstyle.cli", *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300)


BAD = {
    "missing image": ["image", "nope.png", "-s", "style.png", "-o", "o.png"],
    "empty image": ["image", "empty.png", "-s", "style.png", "-o", "o.png"],
    "text as image": ["image", "text.png", "-s", "style.png", "-o", "o.png"],
    "truncated image": ["image", "truncated.png", "-s", "style.png", "-o", "o.png"],
    "missing style": ["image", "photo.png", "-s", "nope.jpg", "-o", "o.png"],
    "unsupported output format": ["image", "photo.png", "-s", "style.png", "-o", "o.xyz"],
    "missing video": ["stylize", "nope.mp4", "-s", "style.png", "-o", "o.mp4"],
    "empty video": ["stylize", "empty.mp4", "-s", "style.png", "-o", "o.mp4"],
    "text as video": ["stylize", "text.mp4", "-s", "style.png", "-o", "o.mp4"],
    "cut-short video": ["stylize", "head.mp4", "-s", "style.png", "-o", "o.mp4"],
    "audio only": ["stylize", "tone.m4a", "-s", "style.png", "-o", "o.mp4"],
    "pattern matches nothing": ["stylize", "seq/none.####.png", "-s", "style.png", "-o", "out/o.####.png"],
    "reversed range": ["stylize", "seq/shot.####.png", "-s", "style.png", "-o", "out/o.####.png", "--frames", "1005-1001"],
    "empty range": ["stylize", "seq/shot.####.png", "-s", "style.png", "-o", "out/o.####.png", "--frames", ""],
    "missing frames": ["stylize", "gap/shot.####.png", "-s", "style.png", "-o", "out/o.####.png"],
    "frames on a video": ["stylize", "clip.mp4", "-s", "style.png", "-o", "o.mp4", "--frames", "1-3"],
    "fps on a video": ["stylize", "clip.mp4", "-s", "style.png", "-o", "o.mp4", "--fps", "24"],
    "size zero": ["stylize", "clip.mp4", "-s", "style.png", "-o", "o.mp4", "--size", "0"],
    "negative iterations": ["stylize", "clip.mp4", "-s", "style.png", "-o", "o.mp4", "--iters", "-5"],
    "negative weight": ["stylize", "clip.mp4", "-s", "style.png", "-o", "o.mp4", "--content-weight", "-1"],
    "not a number": ["stylize", "clip.mp4", "-s", "style.png", "-o", "o.mp4", "--temporal-weight", "lots"],
    "crf out of range": ["stylize", "clip.mp4", "-s", "style.png", "-o", "o.mp4", "--crf", "99"],
    "unknown flag": ["stylize", "clip.mp4", "-s", "style.png", "-o", "o.mp4", "--turbo"],
    "long-term without 1": ["stylize", "clip.mp4", "-s", "style.png", "-o", "o.mp4", "--long-term", "2,4"],
    "raft without weights": ["stylize", "clip.mp4", "-s", "style.png", "-o", "o.mp4", "--flow", "raft"],
    "no cuda here": ["stylize", "clip.mp4", "-s", "style.png", "-o", "o.mp4", "--device", "cuda:3"],
    "output is input": ["stylize", "clip.mp4", "-s", "style.png", "-o", "clip.mp4", "--overwrite"],
    "output exists": ["stylize", "clip.mp4", "-s", "style.png", "-o", "photo.png"],
    "output folder missing": ["stylize", "clip.mp4", "-s", "style.png", "-o", "nowhere/o.mp4"],
    "huge size": ["image", "photo.png", "-s", "style.png", "-o", "o.png", "--size", "40000", "--upscale"],  # never above the input unless asked
    "eval frame counts differ": ["eval", "clip.mp4", "--source", "short/s.####.png"],
    "deflicker strength without --deflicker": ["stylize", "clip.mp4", "-s", "style.png", "-o", "o.mp4", "--deflicker-strength", "8"],
    "negative deflicker strength": ["stylize", "clip.mp4", "-s", "style.png", "-o", "o.mp4", "--deflicker", "--deflicker-strength", "-1"],
    "deflicker resynthesis without --deflicker": ["stylize", "clip.mp4", "-s", "style.png", "-o", "o.mp4", "--deflicker-resynth-iters", "5"],
    "negative resynthesis iterations": ["deflicker", "clip.mp4", "--source", "clip.mp4", "-o", "o.mp4", "--resynth-iters", "-1"],
    "--deflicker with --passes": ["stylize", "clip.mp4", "-s", "style.png", "-o", "o.mp4", "--deflicker", "--passes", "2"],
    "deflicker source missing": ["deflicker", "clip.mp4", "--source", "nope.mp4", "-o", "o.mp4"],
    "deflicker re-synthesis weights missing": ["deflicker", "clip.mp4", "--source", "clip.mp4", "-o", "o.mp4", "--resynth-iters", "2", "--weights", "nope.pth"],
    "deflicker re-synthesis on absent CUDA": ["deflicker", "clip.mp4", "--source", "clip.mp4", "-o", "o.mp4", "--resynth-iters", "2", "--device", "cuda:3"],
    "deflicker still against a video": ["deflicker", "photo.png", "--source", "clip.mp4", "-o", "o.mp4"],
    "deflicker processed longer than the source": ["deflicker", "seq/shot.####.png", "--source", "short/s.####.png", "-o", "out/o.####.png"],
    "deflicker processed shorter than the source": ["deflicker", "short/s.####.png", "--source", "seq/shot.####.png", "-o", "out/o.####.png"],
}


# Every case runs in one child process, each through the CLI's own ``main`` with the process's file
# descriptor 2 captured (so a C library's own message would count as a line, as it would in a
# terminal), and the workspace's files hashed before and after it. One process for all cases:
# starting Python with torch costs about 3 s here, 31 times over, and the cases only fail early.
BATTERY = """
import hashlib, json, os, sys, tempfile
from pathlib import Path
from vidstyle.cli import main

workspace, cases = Path(sys.argv[1]), json.loads(sys.argv[2])

def snapshot():
    return {p.relative_to(workspace).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(workspace.rglob("*")) if p.is_file()}

os.chdir(workspace)
results = {}
for case, argv in cases.items():
    before = snapshot()
    with tempfile.TemporaryFile("w+") as captured:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            try:
                code = main(argv)
            except SystemExit as exit:  # argparse's refusals
                code = exit.code
            except BaseException as error:  # a traceback, as the terminal would show it
                import traceback
                traceback.print_exc()
                code = f"raised {type(error).__name__}"
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
        captured.seek(0)
        stderr = captured.read()
    results[case] = {"code": code, "stderr": stderr, "changed": snapshot() != before}
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def battery(workspace):
    cases = {}
    for case, args in BAD.items():
        command, rest = args[0], args[1:]
        cheap = CHEAP if command == "stylize" else (["--size", "24", "--iters", "1"] if command == "image" else [])
        cases[case] = [command, *cheap, *rest]  # the case's own values come last and win
    done = subprocess.run([sys.executable, "-c", BATTERY, str(workspace), json.dumps(cases)], capture_output=True, text=True,
                          cwd=workspace, timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_battery(battery, case):
    result = battery[case]
    assert result["code"] not in (0, None), f"{case}: exited 0\n{result['stderr']}"
    assert isinstance(result["code"], int), f"{case}: {result['code']}\n{result['stderr']}"
    lines = [line for line in result["stderr"].strip().splitlines() if line.strip()]
    assert len(lines) == 1, f"{case}: expected one line, got:\n{result['stderr']}"
    assert "Traceback" not in result["stderr"]
    assert not result["changed"], f"{case}: files changed"  # nothing written, nothing touched


def test_the_cli_as_a_process_exits_2_with_one_line(workspace):
    """The battery runs in-process through ``main``; this one goes through ``python -m vidstyle.cli``
    as a user's shell would, so the entry point's exit code and stderr are checked too."""
    result = run("stylize", *CHEAP, "nope.mp4", "-s", "style.png", "-o", "o.mp4", cwd=workspace)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["vidstyle: error: nope.mp4: no such file"]


def test_corrupt_frame_in_the_middle_is_named_and_earlier_frames_kept(workspace, tmp_path):
    out = tmp_path / "o.####.png"
    result = run("stylize", workspace / "broken" / "shot.####.png", "-s", workspace / "style.png", "-o", out, *CHEAP, cwd=tmp_path)
    assert result.returncode != 0
    message = result.stderr.strip().splitlines()[-1]
    assert "shot.1003.png" in message and "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.glob("o.*.png")) == ["o.1001.png", "o.1002.png"]
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]


@pytest.mark.parametrize("broken_side", ["processed", "source"])
def test_deflicker_names_a_corrupt_frame_in_the_middle_and_keeps_the_frames_written(workspace, tmp_path, broken_side):
    """Issue 19: an unreadable frame in the middle of either input is one line naming it, and a
    sequence output keeps the frames written before it (the range makes the counts agree: 4 and 4)."""
    broken, good = str(workspace / "broken" / "shot.####.png"), str(workspace / "seq" / "shot.####.png")
    processed, source = (broken, good) if broken_side == "processed" else (good, broken)
    out = tmp_path / "o.####.png"
    result = run("deflicker", processed, "--source", source, "--frames", "1001-1004", "-o", out, cwd=tmp_path)
    assert result.returncode == 2
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("vidstyle: error: frame 1003") and "shot.1003.png" in message and "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.glob("o.*.png")) == ["o.1001.png", "o.1002.png"]
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]


def test_sigint_mid_render_exits_promptly_and_leaves_nothing_or_a_playable_video(tmp_path, photo):
    clip = tmp_path / "long.mp4"
    synth.write_clip(clip, synth.camera_move(photo, (64, 36), 40, shift_per_frame=(1.0, 0.0)), fps=Fraction(24))
    out = tmp_path / "out.mp4"
    process = subprocess.Popen(
        [sys.executable, "-m", "vidstyle.cli", "stylize", str(clip), "-s", str(sample_path("starry_night.jpg")), "-o", str(out),
         "--size", "48", "--iters", "4", "--first-iters", "4", "--device", "cpu"],
        stderr=subprocess.PIPE, text=True,
        # A test runner started in the background (`cmd &` in a script) hands its children SIGINT
        # ignored, and Python then installs no handler: the child must hear Ctrl+C as a user's would.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 120
    partial = tmp_path / ".out.partial.mp4"
    while not partial.exists() and time.time() < deadline:  # the encoder has started
        time.sleep(0.2)
    time.sleep(2.0)
    process.send_signal(signal.SIGINT)
    sent = time.time()
    _, stderr = process.communicate(timeout=60)
    assert time.time() - sent < 20, "did not stop promptly"
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == []
    if out.exists():
        with VideoReader(out) as reader:
            assert sum(1 for _ in reader) > 0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.binary(max_size=2048), header=st.sampled_from([b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"\x00\x00\x00\x18ftypisom", b"\x1aE\xdf\xa3", b"v/1\x01"]),
       suffix=st.sampled_from([".png", ".jpg", ".exr", ".tif", ".mp4", ".mkv"]))
def test_readers_raise_only_their_own_errors_on_garbage(tmp_path, payload, header, suffix):
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(header + payload)
    if suffix in (".mp4", ".mkv"):
        try:
            with VideoReader(path) as reader:
                for _ in reader:
                    pass
        except MediaError:
            pass
    else:
        try:
            read_image(path)
        except ImageError:
            pass
        try:
            SequenceReader(tmp_path / f"fuzz.####{suffix}")
        except SequenceError:
            pass


@pytest.mark.parametrize("command", ["stylize", "image", "live", "texture", "train"])
def test_help_is_grouped_and_states_each_default_once(command):
    import re

    from vidstyle.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._subparsers._group_actions if hasattr(a, "choices")).choices[command]  # type: ignore[union-attr]
    text = sub.format_help()
    headings = [h for h in re.findall(r"^(\S[^\n]*):$", text, re.M) if h not in ("positional arguments", "options")]
    if command != "train":
        expected = ["style (what the result looks like)", "optimiser", "engine (what computes a frame)", "device and network"]
        if command == "texture":  # texture synthesis has one engine
            expected.remove("engine (what computes a frame)")
        assert headings[:len(expected)] == expected, headings
    if command == "stylize":
        assert headings[-3:] == ["video and temporal consistency", "scale-out (shots on several workers)", "video encoding"]
    # one option's help is the text from its flag to the next flag
    for option in re.split(r"\n  (?=-)", text):
        assert len(re.findall(r"default:", " ".join(option.split()))) <= 1, option
