"""`vidstyle live`: keys as a pure state machine, the headless session, recording with wall-clock
timestamps, the capture thread's two modes, and one-line errors (no camera, no display).

The windowed test needs Xvfb (Debian package ``xvfb``) and is skipped without it.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from vidstyle import cli, live
from vidstyle.cli import live as live_command
from vidstyle.cli import options
from vidstyle.config import StyleConfig
from vidstyle.frames import resize
from vidstyle.io.camera import Capture, CaptureError, parse_source
from vidstyle.io.image import read_image, write_image
from vidstyle.io.video import VideoReader, probe
from vidstyle.live import Action, LiveState, handle_key

# Runs the real CLI entry point (cli.main: one-line errors, exit codes).
_CLI_SHIM = """
import sys
from vidstyle import cli
sys.exit(cli.main(sys.argv[1:]))
"""


def run_live(*args, env=None, prefix=(), timeout=300):
    command = [*prefix, sys.executable, "-c", _CLI_SHIM, "live", *map(str, args)]
    # Own process group: on a timeout, xvfb-run's Xvfb must go too, not only xvfb-run.
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                               start_new_session=True)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        pytest.fail(f"vidstyle live did not finish within {timeout} s; stderr:\n{err}")
    return subprocess.CompletedProcess(command, process.returncode, out, err)


def live_parser():
    parser = options.Parser(prog="vidstyle")
    commands = parser.add_subparsers(dest="command", parser_class=options.Parser)
    live_command.add_parser(commands)
    return parser


@pytest.fixture(scope="module")
def clip_and_style(tmp_path_factory, photo, painting):
    """A 30-frame 96x64 camera move (24 fps, no audio) and a small style image."""
    from vidstyle.synth import camera_move, write_clip

    folder = tmp_path_factory.mktemp("live")
    frames = camera_move(photo, (96, 64), 30, shift_per_frame=(1.0, 0.5), scale=0.2)
    clip = write_clip(folder / "clip.mp4", frames, fps=24, audio=False)
    style = folder / "style.png"
    write_image(style, resize(painting, (48, 36)))
    return clip, style


def no_display_env():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    return env


# --------------------------------------------------------------------------------------------------
# keys


def test_quit_keys():
    for key in (ord("q"), ord("Q"), 27):
        state, action = handle_key(LiveState(), key)
        assert state.quit and action is Action.QUIT


def test_space_toggles_pause():
    state, action = handle_key(LiveState(), ord(" "))
    assert state.paused and action is Action.PAUSE
    state, action = handle_key(state, ord(" "))
    assert not state.paused and action is Action.PAUSE


def test_snapshot_key_changes_nothing_but_asks_for_a_snapshot():
    state, action = handle_key(LiveState(styles=2, style=1), ord("s"))
    assert state == LiveState(styles=2, style=1) and action is Action.SNAPSHOT


def test_next_and_previous_style_wrap_around():
    state = LiveState(styles=3)
    seen = []
    for _ in range(4):
        state, action = handle_key(state, ord("n"))
        seen.append(state.style)
        assert action is Action.STYLE
    assert seen == [1, 2, 0, 1]
    state, _ = handle_key(state, ord("p"))
    state, _ = handle_key(state, ord("p"))
    assert state.style == 2


def test_style_keys_do_nothing_with_one_style():
    assert handle_key(LiveState(styles=1), ord("n")) == (LiveState(styles=1), None)
    assert handle_key(LiveState(styles=1), ord("p")) == (LiveState(styles=1), None)


def test_plus_and_minus_double_and_halve_the_strength_within_limits():
    state, action = handle_key(LiveState(), ord("+"))
    assert action is Action.STRENGTH and state.strength_factor == 2.0
    state, _ = handle_key(state, ord("="))  # the unshifted + key
    assert state.strength_factor == 4.0
    for _ in range(3):
        state, _ = handle_key(state, ord("-"))
    assert state.strength_factor == 0.5
    for _ in range(3 * live.MAX_STRENGTH_STEPS):
        state, action = handle_key(state, ord("+"))
    assert state.strength == live.MAX_STRENGTH_STEPS and action is None  # clamped: no change, no action


def test_c_toggles_side_by_side():
    state, action = handle_key(LiveState(), ord("c"))
    assert state.side_by_side and action is Action.LAYOUT
    assert not handle_key(state, ord("c"))[0].side_by_side


@pytest.mark.parametrize("key", [None, -1, ord("x"), 0x250000, 0xFF51, 0x10000 + ord("q")])
def test_no_key_unknown_keys_and_special_keys_change_nothing(key):
    # 0xFF51 is GTK's Left arrow: masked to 8 bits it would read as 'Q' and quit.
    assert handle_key(LiveState(), key) == (LiveState(), None)


# --------------------------------------------------------------------------------------------------
# the session without a window


@pytest.fixture(scope="module")
def session_parts(vgg, photo, painting):
    from vidstyle.optimize import Stylizer

    config = live.live_config().with_(size=24, iters=1, first_iters=1, device="cpu")
    styles = [resize(painting, (24, 18)), resize(photo[::-1].copy(), (24, 18))]
    stylizers = [Stylizer(config, [s], network=vgg) for s in styles]
    frame = resize(photo, (36, 24))
    return stylizers, frame


def test_session_keys_snapshot_style_strength_layout(tmp_path, session_parts):
    stylizers, frame = session_parts
    session = live.LiveSession(stylizers, ["starry", "flipped"], (24, 16), snapshot_dir=tmp_path)
    out = session.process(frame)
    assert out.shape == (16, 24, 3) and out.dtype == np.float32

    assert session.press(ord("s")) is Action.SNAPSHOT
    (png,) = tmp_path.iterdir()
    assert png.suffix == ".png" and png == session.snapshots[0]
    image, _, _ = read_image(png)
    assert image.shape == (16, 24, 3) and np.abs(image - out).max() <= 1 / 255 + 1e-6

    base = stylizers[0].config.style_weight
    session.press(ord("+"))
    assert session.video.stylizer is stylizers[0] and stylizers[0].config.style_weight == 2 * base
    session.press(ord("n"))  # the strength carries over to the next style
    assert session.video.stylizer is stylizers[1] and stylizers[1].config.style_weight == 2 * base
    session.press(ord("-"))
    session.press(ord("p"))
    assert session.video.stylizer is stylizers[0] and stylizers[0].config.style_weight == base
    assert session.process(frame).shape == (16, 24, 3)  # history kept across the switch
    assert session.report.fresh_start is False

    assert session.view().shape == (16, 24, 3)
    session.press(ord("c"))
    assert session.view().shape == (16, 48, 3)
    assert session.press(ord("q")) is Action.QUIT and session.state.quit
    lines = session.overlay_lines(12.5)
    assert lines[0].startswith("12.5 fps") and "1 it/frame" in lines[0] and "style 1/2 starry" in lines[1]


def test_overlay_scales_small_views_up_and_writes_bgr():
    view = np.zeros((16, 24, 3), np.float32)
    view[..., 0] = 1.0  # red
    bgr = live.render_overlay(view, ["3.0 fps"])
    assert bgr.dtype == np.uint8 and max(bgr.shape[:2]) == live.DISPLAY_MIN_SIDE
    assert bgr[-1, -1].tolist() == [0, 0, 255]  # untouched corner: red in BGR
    side = live.render_overlay(np.concatenate([view, view], axis=1), [], panels=2)
    assert side.shape[1] == 2 * live.DISPLAY_MIN_SIDE  # each panel gets the minimum size


def test_recorder_uses_wall_clock_timestamps(tmp_path):
    out = tmp_path / "rec.mp4"
    recorder = live.Recorder(out, 32, 16, 30.0, "libx264", 18, "yuv420p")
    shown = [10.0, 10.5, 11.25, 11.25, 12.0]  # the fourth came out in the same millisecond
    for i, t in enumerate(shown):
        recorder.write(np.full((16, 32, 3), i / 5, np.float32), t)
    recorder.close()
    seconds = [float(f.pts * f.time_base) for f in VideoReader(out)]
    assert seconds == pytest.approx([0.0, 0.5, 1.25, 1.251, 2.0], abs=1e-6)


# --------------------------------------------------------------------------------------------------
# capture


def test_parse_source():
    assert parse_source("0") == 0 and parse_source(" 12 ") == 12 and parse_source(3) == 3
    assert parse_source("clip.mp4") == "clip.mp4" and parse_source("rtsp://host/x") == "rtsp://host/x"


def test_unpaced_file_gives_every_frame_in_order(clip_and_style):
    clip, _ = clip_and_style
    with Capture(clip, pace=False) as capture:
        items = []
        while (item := capture.read(timeout=10)) is not None:
            items.append(item)
            time.sleep(0.002)  # a consumer slower than decoding loses nothing in this mode
    assert [i.index for i in items] == list(range(30)) and capture.dropped == 0
    assert items[0].image.shape == (64, 96, 3) and items[0].image.dtype == np.float32
    assert items[1].seconds == pytest.approx(1 / 24)


def test_paced_file_drops_stale_frames_for_a_slow_consumer(clip_and_style):
    clip, _ = clip_and_style
    started = time.perf_counter()
    with Capture(clip, pace=True) as capture:
        items = []
        while (item := capture.read(timeout=10)) is not None:
            items.append(item)
            time.sleep(0.2)  # 5 frames/s against the clip's 24
    elapsed = time.perf_counter() - started
    indices = [i.index for i in items]
    assert indices == sorted(indices) and len(indices) < 15 and capture.dropped >= 15
    assert len(indices) + capture.dropped == 30
    assert elapsed == pytest.approx(30 / 24, abs=0.6)  # real time, not as fast as it decodes


def test_missing_camera_is_a_capture_error():
    with pytest.raises(CaptureError, match="camera 7 cannot be opened"):
        Capture(7)


# --------------------------------------------------------------------------------------------------
# the command


def test_live_defaults_come_from_the_live_preset(clip_and_style):
    clip, style = clip_and_style
    args = live_parser().parse_args(["live", "-s", str(style), "--source", str(clip)])
    config = options.config_from(args, StyleConfig.live())
    assert (config.size, config.iters, config.flow_preset) == (256, 3, "ultrafast")
    assert args.source == str(clip) and args.pace == "auto" and not args.no_window


def test_headless_file_records_every_shown_frame_at_working_size(tmp_path, clip_and_style, vgg, capsys, monkeypatch):
    clip, style = clip_and_style
    # One torch thread: at 64 px there is little to split, and on a busy 2-core machine two OpenMP
    # threads waiting for each other were 8x slower than one (1.4 s against 0.17 s per evaluation).
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # configure_cpu_threads leaves the count alone then
    torch.set_num_threads(1)
    record = tmp_path / "rec.mp4"
    args = live_parser().parse_args([
        "live", "--source", str(clip), "-s", str(style), "--size", "64", "--iters", "3", "--no-window",
        "--max-frames", "20", "--record", str(record), "--device", "cpu",
    ])
    assert live_command.run(args, network=vgg) == 0
    info = probe(record)
    assert info.frame_count == 20
    # 96x64 -> 64x43; yuv420p stores the odd height with one repeated row.
    assert info.width == 64 and info.height in (43, 44)
    seconds = [float(f.pts * f.time_base) for f in VideoReader(record)]
    assert seconds[0] == 0.0 and all(b > a for a, b in zip(seconds, seconds[1:]))
    err = capsys.readouterr().err
    assert "live: 20 frame(s)" in err and "fps mean" in err and "latency" in err


def test_missing_camera_gives_one_line_and_exit_2(clip_and_style):
    _, style = clip_and_style
    result = run_live("--source", "7", "-s", style, "--no-window", "--device", "cpu", timeout=120)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == ["vidstyle: error: --source 7: camera 7 cannot be opened (no such camera, or another program "
                     "is using it); try another index, or a video file"]


def test_window_without_display_gives_one_line_and_exit_2(clip_and_style):
    clip, style = clip_and_style
    result = run_live("--source", clip, "-s", style, "--device", "cpu", env=no_display_env(), timeout=120)
    assert result.returncode == 2, result.stderr  # not 134: Qt never got to abort
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "no display" in lines[0] and "--no-window" in lines[0]


def test_display_problem():
    assert "no display" in live.display_problem({}, "linux")
    assert "cannot connect" in live.display_problem({"DISPLAY": ":4242"}, "linux")  # no X server there
    assert live.display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None
    assert live.display_problem({}, "darwin") is None


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="Linux only")
def test_library_clash_is_detected_when_pyav_comes_first():
    # Imported in this order, OpenCV's Qt would pick up PyAV's X libraries and namedWindow would hang.
    code = "import {}, {}; from vidstyle.live import _x_library_clash; print(_x_library_clash())"
    first = subprocess.run([sys.executable, "-c", code.format("cv2", "av")], capture_output=True, text=True)
    assert first.stdout.strip() == "None", first.stderr
    second = subprocess.run([sys.executable, "-c", code.format("av", "cv2")], capture_output=True, text=True)
    if second.stdout.strip() == "None":
        pytest.skip("these av and opencv-python wheels share no X libraries")
    assert "x" in second.stdout.lower()


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="needs Xvfb (apt-get install -y xvfb)")
def test_window_under_xvfb_runs_and_stops_after_max_frames(tmp_path, clip_and_style):
    clip, style = clip_and_style
    record = tmp_path / "shown.mp4"
    result = run_live(
        "--source", clip, "-s", style, "-s", style, "--size", "32", "--iters", "1", "--max-frames", "3",
        "--pace", "every", "--side-by-side", "--record", record, "--device", "cpu",
        env={**no_display_env(), "OMP_NUM_THREADS": "1"}, prefix=("xvfb-run", "-a"), timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "live: 3 frame(s)" in result.stderr
    info = probe(record)
    assert info.frame_count == 3 and info.width == 64  # side by side: two 32 px panels


# --------------------------------------------------------------------------------------------------
# --model: the transfer network instead of the optimiser


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A 2-style width-4 network whose styles differ (random per-style norm scales and shifts)."""
    from vidstyle.model.file import ModelInfo, save_model
    from vidstyle.model.network import Architecture, ConditionalInstanceNorm, TransferNet

    torch.manual_seed(0)
    net = TransferNet(Architecture(styles=2, width=4, blocks=1))
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, ConditionalInstanceNorm):
                module.scale.normal_(1.0, 0.5)
                module.shift.normal_(0.0, 0.5)
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    save_model(path, net, ModelInfo(net.architecture, ({"name": "a", "sha256": "0"}, {"name": "b", "sha256": "1"}),
                                    {"steps": 1, "steps_done": 1}, "0.1.0"))
    return path


def test_model_keys_step_through_styles_and_neighbour_blends():
    state = LiveState(styles=2, blends=True, max_strength=0)
    seen = [state.style_weights()]
    for _ in range(3):
        state, action = handle_key(state, ord("n"))
        assert action is Action.STYLE
        seen.append(state.style_weights())
    assert seen == [[1.0, 0.0], [0.5, 0.5], [0.0, 1.0], [1.0, 0.0]]
    state, _ = handle_key(state, ord("p"))
    assert state.style_weights() == [0.0, 1.0]

    three = LiveState(styles=3, blends=True)
    assert three.positions == 6
    three = dataclasses.replace(three, style=5)
    assert three.chosen() == (2, 0) and three.style_weights() == [0.5, 0.0, 0.5]  # 3+1 closes the ring
    blended, action = handle_key(three, ord("b"))
    assert action is Action.STYLE and blended.style_weights() == pytest.approx([1 / 3] * 3)
    assert handle_key(blended, ord("b"))[0].style_weights() == [0.5, 0.0, 0.5]  # b toggles back
    assert handle_key(blended, ord("n"))[0] == dataclasses.replace(three, style=0)  # n leaves the blend
    # Without blends (the optimiser) b does nothing.
    assert handle_key(LiveState(styles=2), ord("b")) == (LiveState(styles=2), None)


def test_model_strength_stops_at_full_and_halves_down():
    state = LiveState(styles=2, blends=True, max_strength=0)
    assert handle_key(state, ord("+")) == (state, None)
    state, action = handle_key(state, ord("-"))
    assert action is Action.STRENGTH and state.strength_factor == 0.5


def test_model_session_switches_styles_mixes_strength_and_never_loads_vgg(tmp_path, tiny_model, photo, monkeypatch):
    from vidstyle import features
    from vidstyle.model.engine import ModelEngine
    from vidstyle.model.file import load_model

    monkeypatch.setattr(features.VGG19Features, "load", lambda *a, **k: pytest.fail("VGG loaded"))
    net, info = load_model(tiny_model)
    session = live.LiveSession.with_model(ModelEngine(net, (32, 20)), info.style_names, snapshot_dir=tmp_path)
    assert session.video is None and session.model.weights == [1.0, 0.0]
    frame = resize(photo, (48, 30))
    first = session.process(frame).copy()
    assert first.shape == (20, 32, 3) and first.dtype == np.float32
    lines = session.overlay_lines(5.0)
    assert lines[0] == "5.0 fps  model" and lines[1] == "style 1/2 a"

    assert session.press(ord("n")) is Action.STYLE and session.model.weights == [0.5, 0.5]
    assert session.overlay_lines(None)[1] == "styles 1+2/2 a + b"
    session.press(ord("n"))
    second = session.process(frame).copy()
    assert session.overlay_lines(None)[1] == "style 2/2 b"
    assert np.abs(second - first).max() > 1e-3  # another style, another picture

    session.press(ord("-"))  # half stylised, half camera
    mixed = session.process(frame)
    np.testing.assert_allclose(mixed, 0.5 * second + 0.5 * session.camera, atol=1e-5)
    assert "strength x0.5" in session.overlay_lines(None)[1]
    session.press(ord("c"))
    assert session.view().shape == (20, 64, 3)
    assert session.press(ord("s")) is Action.SNAPSHOT and len(session.snapshots) == 1


def test_headless_model_session_on_the_sample_clip(tiny_model, capsys, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    clip = os.path.join(os.path.dirname(__file__), os.pardir, "samples", "clip.mp4")
    if not os.path.isfile(clip):
        pytest.skip("samples/clip.mp4 not found")
    code = cli.main(["live", "--model", str(tiny_model), "--source", clip, "--no-window", "--max-frames", "5",
                     "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "model " + str(tiny_model) + " (2 styles)" in err
    assert "live: 5 frame(s)" in err and "fps mean" in err


def test_bad_model_file_gives_one_line_and_exit_2(tmp_path, clip_and_style, capsys):
    clip, _ = clip_and_style
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a model at all")
    assert cli.main(["live", "--model", str(bad), "--source", str(clip), "--no-window", "--device", "cpu"]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("vidstyle: error: ") and "not a vidstyle model" in lines[0]


@pytest.mark.parametrize("extra", [["-s", "STYLE"], []])
def test_model_and_style_both_or_neither_give_one_line_and_exit_2(extra, tiny_model, clip_and_style, capsys):
    clip, style = clip_and_style
    model = ["--model", str(tiny_model)] if extra else []
    args = ["live", "--source", str(clip), "--no-window", "--device", "cpu", *model,
            *[str(style) if a == "STYLE" else a for a in extra]]
    assert cli.main(args) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and ("drop -s" in lines[0] if extra else "expected a style image" in lines[0])
