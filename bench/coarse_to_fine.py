"""Coarse-to-fine against one scale for a still (issue 18).

    python bench/coarse_to_fine.py [--size 512] [--iters 300] [--min-scale 128] [--scale-iters 50]
                                   [--final-iters 150] [--frames-out DIR] [--json FILE]

Both runs optimise the Tübingen photo toward Starry Night at ``--size`` (L-BFGS, seed 0, no early
stop), in one process, one after the other:

- one scale: ``--iters`` iterations from the photo; its final total loss is the target;
- coarse to fine: the ladder from ``--min-scale`` by sqrt(2) (``vidstyle.optimize.scale_ladder``),
  ``--scale-iters`` at each coarser scale, then ``--final-iters`` at full size.

Printed: each run's final loss, wall and CPU (process) seconds; the CPU seconds coarse-to-fine
took to first reach the target (coarse scales included) and its ratio to the single scale's; and
the Gram distance to the painting of each output measured at 128 px (the large structures:
``vidstyle.metrics.style_distance`` on the output shrunk to 128 px on its longer side).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def run(stylizer, content, iters: int) -> tuple[object, list[tuple[int, float, float]], float, float]:
    """Optimise; returns the output, (iteration, loss, CPU seconds so far) per iteration, wall and CPU seconds."""
    trace: list[tuple[int, float, float]] = []
    wall, cpu = time.perf_counter(), time.process_time()
    out = stylizer.stylize(content, iters=iters, callback=lambda p: trace.append((p.iteration, p.loss, time.process_time() - cpu)))
    return out, trace, time.perf_counter() - wall, time.process_time() - cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--iters", type=int, default=300, help="single-scale iterations (the target)")
    parser.add_argument("--min-scale", type=int, default=128)
    parser.add_argument("--scale-iters", type=int, default=50)
    parser.add_argument("--final-iters", type=int, default=150)
    parser.add_argument("--style", default=str(ROOT / "samples" / "starry_night.jpg"))
    parser.add_argument("--frames-out", help="write one_scale.png and coarse_to_fine.png here")
    parser.add_argument("--json", help="write the numbers here")
    args = parser.parse_args(argv)

    import torch

    from vidstyle.config import StyleConfig
    from vidstyle.features import VGG19Features
    from vidstyle.frames import fit_longest_side, resize
    from vidstyle.io.image import read_image, write_image
    from vidstyle.metrics import style_distance
    from vidstyle.optimize import Stylizer, image_to_tensor, scale_ladder, tensor_to_image

    torch.manual_seed(0)
    network = VGG19Features.load()
    photo = read_image(ROOT / "samples" / "tubingen.jpg")[0]
    style = read_image(args.style)[0]
    photo = resize(photo, fit_longest_side(photo.shape[1], photo.shape[0], args.size))
    content = image_to_tensor(photo)
    height, width = photo.shape[:2]
    ladder = scale_ladder(width, height, args.min_scale, 2**0.5)
    print(f"{width}x{height}, ladder {' -> '.join(f'{w}x{h}' for w, h in ladder)}, {torch.get_num_threads()} threads", flush=True)

    def large_structure_gram(image) -> float:
        small = resize(image, fit_longest_side(image.shape[1], image.shape[0], 128))
        return style_distance(network, small, style)

    single = Stylizer(StyleConfig(seed=0, tolerance=0.0), [style], network=network)
    one_out, one_trace, one_wall, one_cpu = run(single, content, args.iters)
    target = one_trace[-1][1]
    print(f"one scale: {args.iters} iterations, loss {target:.4g}, {one_wall:.1f} s wall, {one_cpu:.1f} s CPU", flush=True)

    ladder_config = StyleConfig(seed=0, tolerance=0.0, min_scale=args.min_scale, scale_iters=args.scale_iters)
    c2f = Stylizer(ladder_config, [style], network=network)
    c2f_out, c2f_trace, c2f_wall, c2f_cpu = run(c2f, content, args.final_iters)
    coarse = args.scale_iters * (len(ladder) - 1)
    final = [(i - coarse, loss, cpu) for i, loss, cpu in c2f_trace if i > coarse]
    reached = next(((i, cpu) for i, loss, cpu in final if loss <= target), None)
    print(f"coarse to fine: {args.scale_iters} x {len(ladder) - 1} coarse + {args.final_iters} full-size iterations, "
          f"loss {final[-1][1]:.4g}, {c2f_wall:.1f} s wall, {c2f_cpu:.1f} s CPU", flush=True)
    if reached:
        print(f"  reaches the one-scale loss at full-size iteration {reached[0]}, {reached[1]:.1f} s CPU = "
              f"{reached[1] / one_cpu:.2f}x the one scale's", flush=True)
    else:
        print("  does not reach the one-scale loss", flush=True)
    grams = {"one_scale": large_structure_gram(tensor_to_image(one_out)), "coarse_to_fine": large_structure_gram(tensor_to_image(c2f_out))}
    print(f"Gram distance at 128 px: one scale {grams['one_scale']:.4g}, coarse to fine {grams['coarse_to_fine']:.4g} "
          f"({grams['coarse_to_fine'] / grams['one_scale']:.2f}x)", flush=True)
    if args.frames_out:
        folder = Path(args.frames_out)
        folder.mkdir(parents=True, exist_ok=True)
        write_image(folder / "one_scale.png", tensor_to_image(one_out))
        write_image(folder / "coarse_to_fine.png", tensor_to_image(c2f_out))
    if args.json:
        Path(args.json).write_text(json.dumps({
            "size": [width, height], "ladder": ladder, "one_scale": {"iters": args.iters, "loss": target, "wall": one_wall, "cpu": one_cpu},
            "coarse_to_fine": {"scale_iters": args.scale_iters, "final_iters": args.final_iters, "loss": final[-1][1], "wall": c2f_wall,
                               "cpu": c2f_cpu, "reached_at": reached[0] if reached else None,
                               "cpu_to_reach": reached[1] if reached else None},
            "gram_128": grams}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
