"""bfloat16 against float32 for the optimiser on this CPU (issue 20, item 4), in one run.

    python bench/bf16.py [--sizes 256x144 512x288] [--iters 20] [--quality-size 256] [--quality-iters 150]

- Speed: ``vidstyle.bench.run_bench`` (the same timing as ``vidstyle bench``) at each size, float32
  then bfloat16, alternating, wall and CPU ms per iteration.
- Quality: the Tübingen photo toward Starry Night at ``--quality-size`` for ``--quality-iters``
  L-BFGS iterations (seed 0, no early stop) in each precision; the total loss of each result scored
  in float32, and its Gram distance to the painting and relu4_2 content distance to the photo
  (``vidstyle.metrics``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["256x144", "512x288"])
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--quality-size", type=int, default=256)
    parser.add_argument("--quality-iters", type=int, default=150)
    parser.add_argument("--json", help="write the numbers here")
    args = parser.parse_args(argv)

    import torch

    from vidstyle import losses
    from vidstyle.bench import run_bench
    from vidstyle.config import StyleConfig
    from vidstyle.device import cpu_has_bfloat16
    from vidstyle.features import VGG19Features
    from vidstyle.frames import fit_longest_side, resize
    from vidstyle.io.image import read_image
    from vidstyle.metrics import content_distance, style_distance
    from vidstyle.optimize import Stylizer, image_to_tensor, tensor_to_image

    if not cpu_has_bfloat16():
        print("this CPU has no native bfloat16: nothing to compare", file=sys.stderr)
        return 2
    results: dict = {"threads": torch.get_num_threads(), "speed": {}, "quality": {}}
    for spec in args.sizes:
        width, height = (int(v) for v in spec.lower().split("x"))
        for dtype in ("float32", "bfloat16"):
            r = run_bench(width, height, iters=args.iters, device="cpu", dtype=dtype)
            results["speed"][f"{spec} {dtype}"] = {"ms": r.ms_per_iter, "cpu_ms": r.cpu_ms_per_iter, "peak_mb": r.peak_mem_mb}
            print(f"{spec} {dtype:9s}: {r.ms_per_iter:7.1f} ms/iteration, CPU {r.cpu_ms_per_iter:7.1f} ms, peak {r.peak_mem_mb:.0f} MiB", flush=True)

    network = VGG19Features.load()
    photo = read_image(ROOT / "samples" / "tubingen.jpg")[0]
    photo = resize(photo, fit_longest_side(photo.shape[1], photo.shape[0], args.quality_size))
    style = read_image(ROOT / "samples" / "starry_night.jpg")[0]
    content = image_to_tensor(photo)
    scorer = Stylizer(StyleConfig(), [style], network=network)

    def total(image) -> float:
        cfg = scorer.config
        feats = scorer.features(image)
        target = scorer.features(content)[cfg.content_layer]
        grams = scorer.style_grams(image.shape[-1], image.shape[-2])
        return float(cfg.style_weight * losses.style_loss(feats, grams, scorer.layer_weights)
                     + cfg.content_weight * losses.content_loss(feats[cfg.content_layer], target)
                     + cfg.tv_weight * losses.tv_loss(image * 255))

    for dtype in ("float32", "bfloat16"):
        stylizer = Stylizer(StyleConfig(seed=0, tolerance=0.0, dtype=dtype), [style], network=network)
        wall, cpu = time.perf_counter(), time.process_time()
        out = stylizer.stylize(content, iters=args.quality_iters)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        with torch.no_grad():
            row = {"loss_fp32": total(out), "gram": style_distance(network, tensor_to_image(out), style),
                   "content": content_distance(network, tensor_to_image(out), photo), "wall_s": wall, "cpu_s": cpu}
        results["quality"][dtype] = row
        print(f"quality {dtype:9s}: loss {row['loss_fp32']:.4g}, Gram {row['gram']:.4g}, content {row['content']:.4g}, "
              f"{wall:.1f} s wall, {cpu:.1f} s CPU", flush=True)
    q = results["quality"]
    print(f"bfloat16 / float32: loss {q['bfloat16']['loss_fp32'] / q['float32']['loss_fp32']:.3f}, "
          f"Gram {q['bfloat16']['gram'] / q['float32']['gram']:.3f}, content {q['bfloat16']['content'] / q['float32']['content']:.3f}, "
          f"time {q['bfloat16']['wall_s'] / q['float32']['wall_s']:.3f}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
