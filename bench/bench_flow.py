"""Benchmark the flow package: ms per frame pair and per single estimate, with end-point error.

    python bench/bench_flow.py [--sizes 640x480,1280x720] [--repeats 5] [--raft-weights PATH]

Frames are real image content: the Tübingen photo (samples/ or ../shared/data/styles/) cropped to the
aspect ratio, resized, and moved by a known small camera move (zoom 1 %, rotation 0.5°, pan (5, -3) px)
with a bicubic warp, so the true flow is known and the end-point error (EPE) is reported too.

"pair" is flow.pair: backward + forward flow + reliability, i.e. what the video loop pays per frame.
Times are min / median over --repeats runs after one warm-up run (which builds the cached DIS object).
RAFT is skipped unless --raft-weights names a torchvision RAFT state dict (nothing is downloaded).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # run from anywhere without installing

import cv2  # noqa: E402
import numpy as np  # noqa: E402

import flow  # noqa: E402

PHOTO_CANDIDATES = (
    REPO_ROOT / "samples" / "tubingen.jpg",
    REPO_ROOT.parent / "shared" / "data" / "styles" / "tubingen.jpg",
)
EPE_MARGIN = 16

# (label, method, options). "dis medium (stock)" is OpenCV's medium preset without our tuning, for comparison.
CONFIGS = [
    ("dis ultrafast", "dis", {"preset": "ultrafast"}),
    ("dis fast", "dis", {"preset": "fast"}),
    ("dis medium (default, tuned)", "dis", {"preset": "medium"}),
    ("dis medium (OpenCV stock)", "dis", {"preset": "medium", "finest_scale": 1, "patch_stride": 3,
                                          "gradient_descent_iterations": 25}),
    ("farneback", "farneback", {}),
]


def load_photo() -> np.ndarray:
    for path in PHOTO_CANDIDATES:
        if path.is_file():
            return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    sys.exit(f"bench_flow: photo not found in {[str(p) for p in PHOTO_CANDIDATES]}")


def make_frames(photo: np.ndarray, width: int, height: int):
    """Frames a, b (RGB uint8) of the photo with b = a after a small camera move, and the true F_ab."""
    # crop the photo to the target aspect ratio, then resize to 1.25x the frame so that real content
    # (not a border fill) enters at the edges
    ph, pw = photo.shape[:2]
    aspect = width / height
    if pw / ph > aspect:
        cw, ch = int(ph * aspect), ph
    else:
        cw, ch = pw, int(pw / aspect)
    x0, y0 = (pw - cw) // 2, (ph - ch) // 2
    big_w, big_h = int(width * 1.25), int(height * 1.25)
    source = cv2.resize(photo[y0:y0 + ch, x0:x0 + cw], (big_w, big_h), interpolation=cv2.INTER_AREA)
    ox, oy = (big_w - width) // 2, (big_h - height) // 2
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), 0.5, 1.01)
    matrix[0, 2] += 5.0
    matrix[1, 2] -= 3.0
    shift = np.array([[1, 0, ox], [0, 1, oy], [0, 0, 1.0]])
    big_matrix = (shift @ np.vstack([matrix, [0, 0, 1]]) @ np.linalg.inv(shift))[:2]
    moved = cv2.warpAffine(source, big_matrix, (big_w, big_h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    a = np.ascontiguousarray(source[oy:oy + height, ox:ox + width])
    b = np.ascontiguousarray(moved[oy:oy + height, ox:ox + width])
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    truth = np.dstack([matrix[0, 0] * xs + matrix[0, 1] * ys + matrix[0, 2] - xs,
                       matrix[1, 0] * xs + matrix[1, 1] * ys + matrix[1, 2] - ys])
    return a, b, truth


def time_ms(fn, repeats: int) -> tuple[float, float]:
    """(min, median) wall time in ms over ``repeats`` runs after one warm-up run.

    The minimum is the better estimate of the cost on a shared machine (other processes only ever add
    time); the median shows how much contention there was.
    """
    fn()  # warm-up: builds and caches the DIS object / RAFT model
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000.0)
    return min(times), statistics.median(times)


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="640x480,1280x720", help="comma-separated WxH list")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--raft-weights", default=None, help="torchvision RAFT state dict; RAFT is skipped without it")
    args = parser.parse_args(argv)

    sizes = [tuple(int(v) for v in s.lower().split("x")) for s in args.sizes.split(",")]
    configs = list(CONFIGS)
    if args.raft_weights:
        configs.append(("raft", "raft", {"weights": args.raft_weights}))

    print(f"# flow benchmark, {datetime.date.today().isoformat()}")
    print(f"machine: {cpu_model()}, {os.cpu_count()} CPU cores, cv2 threads {cv2.getNumThreads()}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, opencv {cv2.__version__}")
    print(f"command: python bench/bench_flow.py {' '.join(argv if argv is not None else sys.argv[1:])}".rstrip())
    print(f"times: min / median of {args.repeats} runs, ms; EPE = mean end-point error vs the true flow, "
          f"{EPE_MARGIN} px border excluded; reliable = share of pixels with reliability 1")
    if not args.raft_weights:
        print("raft: skipped (no --raft-weights given; nothing is downloaded)")
    print()
    print("| size | method | estimate ms (min / median) | pair ms (min / median) | EPE px | reliable |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    photo = load_photo()
    for width, height in sizes:
        a, b, truth = make_frames(photo, width, height)
        for label, method, options in configs:
            estimate_ms = time_ms(lambda: flow.estimate(a, b, method, **options), args.repeats)
            pair_ms = time_ms(lambda: flow.pair(b, a, method, **options), args.repeats)
            # pair(previous=b, current=a): its backward flow is F_ab, whose truth we know
            result = flow.pair(b, a, method, **options)
            error = np.linalg.norm(result.backward - truth, axis=2)[EPE_MARGIN:-EPE_MARGIN, EPE_MARGIN:-EPE_MARGIN]
            print(f"| {width}x{height} | {label} | {estimate_ms[0]:.1f} / {estimate_ms[1]:.1f} | "
                  f"{pair_ms[0]:.1f} / {pair_ms[1]:.1f} | "
                  f"{error.mean():.3f} | {result.reliability.mean():.1%} |", flush=True)


if __name__ == "__main__":
    main()
