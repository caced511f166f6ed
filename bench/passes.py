"""Multi-pass against one pass at the same iterations a frame, on real footage (issue 18).

    python bench/passes.py [--clip ../shared/data/clips/city_cc0.mpg] [--start 0] [--frames 24]
                           [--size 128] [--iters 40] [--first-iters 120] [--passes 4] [--json F]

Cuts ``--frames`` frames of the clip from ``--start`` into a PNG sequence, then renders it with
Starry Night twice through ``vidstyle.stylize_video``: one pass (``--first-iters`` for the first
frame, ``--iters`` for each later one), and ``--passes P`` with ``--iters / P`` in pass 1 and in
every later pass (``--pass-iters``), so every frame but the first gets the same iterations in all.
Measured on the written 16-bit frames with the project's metrics, flow on the source:

- the warping error between consecutive frames (``metrics.warping_errors``) and between frames five
  apart (the same measure with the flow from t-5 to t), mean over frames;
- the Gram distance to the painting (``metrics.style_distance``), mean over frames;
- wall and CPU seconds of each render.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def cut(clip: str, start: int, count: int, folder: Path) -> str:
    from vidstyle.io.image import write_image
    from vidstyle.io.media import open_source

    source = open_source(clip)
    written = 0
    for frame in source.frames:
        if frame.index < start:
            continue
        write_image(folder / f"src.{written + 1:04d}.png", frame.image)
        written += 1
        if written == count:
            break
    return str(folder / "src.####.png")


def measure(pattern: str, sources: list[np.ndarray], style: np.ndarray, network) -> dict:
    import flow
    from vidstyle.frames import resize
    from vidstyle.io.image import read_image
    from vidstyle.metrics import frame_warping_error, style_distance, warping_errors

    outputs = [read_image(pattern.replace("####", f"{n:04d}"))[0] for n in range(1, len(sources) + 1)]
    size = (outputs[0].shape[1], outputs[0].shape[0])
    small = [resize(s, size) for s in sources]
    errors, source_errors = warping_errors(outputs, small)
    five = []
    for t in range(5, len(outputs)):
        pair = flow.pair(small[t - 5], small[t])
        five.append(frame_warping_error(outputs[t], outputs[t - 5], pair.backward, pair.reliability))
    grams = [style_distance(network, o, style) for o in outputs]
    return {"warping_error": float(np.mean(errors)), "source_warping_error": float(np.mean(source_errors)),
            "warping_error_5_apart": float(np.mean(five)), "gram": float(np.mean(grams)),
            "warping_error_per_frame": errors}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clip", default=str(ROOT.parent / "shared" / "data" / "clips" / "city_cc0.mpg"))
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--iters", type=int, default=40)
    parser.add_argument("--first-iters", type=int, default=120)
    parser.add_argument("--passes", type=int, default=4)
    parser.add_argument("--splits", nargs="*", default=None,
                        help="FIRST:LATER iterations of pass 1 and of each later pass, one multi-pass render each "
                             "(default: --iters / --passes for both)")
    parser.add_argument("--blend", type=float, nargs="*", default=[0.5], help="--pass-blend values, one render each")
    parser.add_argument("--json", help="write the numbers here")
    args = parser.parse_args(argv)

    import dataclasses

    import torch

    import vidstyle
    from vidstyle.config import StyleConfig
    from vidstyle.features import VGG19Features
    from vidstyle.io.image import read_image

    style_path = str(ROOT / "samples" / "starry_night.jpg")
    style = read_image(style_path)[0]
    network = VGG19Features.load()
    results: dict = {"threads": torch.get_num_threads(), "date": time.strftime("%Y-%m-%d %H:%M"), "args": vars(args)}
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        source = cut(args.clip, args.start, args.frames, folder)
        sources = [read_image(source.replace("####", f"{n:04d}"))[0] for n in range(1, args.frames + 1)]
        base = dataclasses.replace(StyleConfig.video(), size=args.size, first_iters=args.first_iters, seed=0)
        per_pass = args.iters // args.passes
        splits = [tuple(int(v) for v in split.split(":")) for split in args.splits] if args.splits else [(per_pass, per_pass)]
        variants = {"one pass": dataclasses.replace(base, iters=args.iters)}
        for first, later in splits:
            if first + (args.passes - 1) * later != args.iters:
                parser.error(f"split {first}:{later} gives {first + (args.passes - 1) * later} iterations a frame, not --iters {args.iters}")
            for blend in args.blend:
                variants[f"{args.passes} passes {first}+{args.passes - 1}x{later} blend {blend}"] = dataclasses.replace(
                    base, iters=first, passes=args.passes, pass_iters=later, pass_blend=blend)
        for name, config in variants.items():
            out = str(folder / f"{name.replace(' ', '_').replace('+', '_')}.####.tif")
            wall, cpu = time.perf_counter(), time.process_time()
            result = vidstyle.stylize_video(source, out, [style_path], config)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            row = measure(out, sources, style, network)
            row.update(wall_s=wall, cpu_s=cpu, iterations=sum(r.iterations for r in result.reports))
            results[name] = row
            print(f"{name}: warping error {row['warping_error']:.6f} (source {row['source_warping_error']:.6f}), "
                  f"5 apart {row['warping_error_5_apart']:.6f}, Gram {row['gram']:.1f}, {row['iterations']} iterations, "
                  f"{wall:.1f} s wall, {cpu:.1f} s CPU", flush=True)
    one = results["one pass"]
    results["ratio"] = {}
    for name in variants:
        if name == "one pass":
            continue
        many = results[name]
        ratio = {key: many[key] / one[key] for key in ("warping_error", "warping_error_5_apart", "gram", "wall_s", "cpu_s")}
        results["ratio"][name] = ratio
        print(f"{name} / one pass: warping error {ratio['warping_error']:.3f}, 5 apart "
              f"{ratio['warping_error_5_apart']:.3f}, Gram {ratio['gram']:.3f}, wall {ratio['wall_s']:.3f}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
