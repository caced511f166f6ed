"""The sync-free L-BFGS (vidstyle.lbfgs, ``--optimizer lbfgs``) against torch.optim.LBFGS
(``--optimizer lbfgs-torch``) with the same history and line-search policy, in one run (issue 20,
item 3).

    python bench/lbfgs.py [--cases 96x150 128x100 256x20] [--repeats 2] [--bookkeeping 256x144 1280x720] [--json F]

- Optimiser cases ``SIZExITERS``: the Tübingen photo toward Starry Night at that longest side for
  that many iterations from the photo (seed 0, no early stop: docs/BENCHMARKS.md, "L-BFGS
  settings"), each variant ``--repeats`` times in the order A B B A …, so drift in the machine's
  speed falls on both alike. Printed: the optimiser's last reported loss (the newest evaluated
  point, as "L-BFGS settings" quotes it) and the result scored once more (clamped to [0, 1], after
  the last unit step), wall and CPU seconds, evaluations.
- Bookkeeping: the optimiser alone, on a cheap separable objective over a vector of 3·W·H floats
  (a frame's pixels), history 25, 40 unit-step iterations after 10 line-searched ones: ms per
  iteration of everything but the network.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VARIANTS = ("lbfgs-torch", "lbfgs")


def optimiser_cases(cases: list[str], repeats: int) -> dict:
    import dataclasses

    import torch

    from vidstyle import losses
    from vidstyle.config import StyleConfig
    from vidstyle.features import VGG19Features
    from vidstyle.frames import fit_longest_side, resize
    from vidstyle.io.image import read_image
    from vidstyle.optimize import Stylizer, image_to_tensor

    network = VGG19Features.load()
    photo_full = read_image(ROOT / "samples" / "tubingen.jpg")[0]
    style = read_image(ROOT / "samples" / "starry_night.jpg")[0]
    results: dict = {}
    for case in cases:
        side, iters = (int(v) for v in case.split("x"))
        photo = resize(photo_full, fit_longest_side(photo_full.shape[1], photo_full.shape[0], side))
        content = image_to_tensor(photo)
        scorer = Stylizer(StyleConfig(), [style], network=network)
        cfg = scorer.config
        with torch.no_grad():
            target = scorer.features(content)[cfg.content_layer]
            grams = scorer.style_grams(content.shape[-1], content.shape[-2])

        def total(image: torch.Tensor) -> float:
            with torch.no_grad():
                feats = scorer.features(image)
                return float(cfg.style_weight * losses.style_loss(feats, grams, scorer.layer_weights)
                             + cfg.content_weight * losses.content_loss(feats[cfg.content_layer], target)
                             + cfg.tv_weight * losses.tv_loss(image * 255))

        order = [VARIANTS[(i + i // 2) % 2] for i in range(2 * repeats)]  # A B B A A B …
        runs: dict = {v: [] for v in VARIANTS}
        for variant in order:
            config = dataclasses.replace(StyleConfig(), seed=0, tolerance=0.0, optimizer=variant)
            stylizer = Stylizer(config, [style], network=network)
            stylizer.style_grams(content.shape[-1], content.shape[-2])  # targets outside the timing
            reported: list[float] = []
            wall, cpu = time.perf_counter(), time.process_time()
            out = stylizer.stylize(content, iters=iters, callback=lambda p: reported.append(p.loss))
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            run = {"loss": total(out), "reported": reported[-1], "wall_s": wall, "cpu_s": cpu,
                   "evaluations": stylizer.last_evaluations}
            runs[variant].append(run)
            print(f"{content.shape[-1]}x{content.shape[-2]} {iters} its {variant:11s}: optimiser's last loss "
                  f"{run['reported']:.5g}, result scored {run['loss']:.5g}, "
                  f"{wall:6.1f} s wall, {cpu:6.1f} s CPU, {run['evaluations']} evaluations", flush=True)
        summary = {}
        for variant in VARIANTS:
            summary[variant] = {key: sum(r[key] for r in runs[variant]) / len(runs[variant])
                                for key in ("reported", "loss", "wall_s", "cpu_s", "evaluations")}
        ours, theirs = summary["lbfgs"], summary["lbfgs-torch"]
        ratio = {key: ours[key] / theirs[key] for key in ("reported", "loss", "wall_s", "cpu_s")}
        print(f"{content.shape[-1]}x{content.shape[-2]} {iters} its lbfgs / lbfgs-torch: optimiser's last loss "
              f"{ratio['reported']:.4f}, result scored {ratio['loss']:.4f}, "
              f"wall {ratio['wall_s']:.3f}, CPU {ratio['cpu_s']:.3f}", flush=True)
        results[case] = {"size": [content.shape[-1], content.shape[-2]], "iters": iters, "runs": runs,
                         "mean": summary, "ratio": ratio}
    return results


def bookkeeping(sizes: list[str], history: int = 25, searched: int = 10, iters: int = 40) -> dict:
    import torch

    from vidstyle.lbfgs import LBFGS

    results: dict = {}
    for spec in sizes:
        width, height = (int(v) for v in spec.lower().split("x"))
        n = 3 * width * height
        generator = torch.Generator().manual_seed(0)
        # A separable quadratic with curvatures over three decades, minimum at `centre`: 50
        # iterations do not converge it, so steps and gradient changes stay far from float32's
        # denormals (which made a converging objective's iterations 50x slower on this CPU).
        centre = torch.rand(n, generator=generator) * 255
        scale = 10.0 ** (-3.0 * torch.rand(n, generator=generator))

        def make(x: torch.Tensor):
            def closure() -> torch.Tensor:
                x.grad = None
                diff = x - centre
                loss = (scale * diff * diff).sum()
                loss.backward()
                return loss
            return closure

        def timed(variant: str) -> tuple[float, float, float]:
            """(seconds an iteration, seconds of the objective alone, final loss) of one run."""
            x = torch.full((n,), 128.0, requires_grad=True)
            closure = make(x)
            if variant == "lbfgs":
                lbfgs = LBFGS(x, history, closure)
                budget = searched * 5 // 4  # torch's default max_eval for max_iter=searched
                for _ in range(searched):
                    before = lbfgs.evaluations
                    lbfgs.step(line_search=True, max_evaluations=budget)
                    budget -= lbfgs.evaluations - before
                    if budget <= 0:
                        break
                objective_s = _time(closure, 10)
                start = time.perf_counter()
                for _ in range(iters):
                    lbfgs.step()
                float(lbfgs.loss)
            else:
                optimizer = torch.optim.LBFGS([x], lr=1.0, history_size=history, max_iter=searched,
                                              line_search_fn="strong_wolfe", tolerance_grad=0.0, tolerance_change=0.0)
                optimizer.step(closure)
                optimizer.param_groups[0].update(max_iter=iters, max_eval=2 * iters, line_search_fn=None)
                objective_s = _time(closure, 10)
                start = time.perf_counter()
                optimizer.step(closure)
            return (time.perf_counter() - start) / iters, objective_s, float(closure().detach())

        # Three runs of each, A B B A A B: the fastest of each (timer noise at a millisecond is large).
        times: dict = {v: [] for v in VARIANTS}
        for i in range(6):
            variant = VARIANTS[(i + i // 2) % 2]
            times[variant].append(timed(variant))
        row = {}
        for variant in VARIANTS:
            per_iteration, objective_s, loss = min(times[variant])
            row[variant] = {"ms_per_iteration": 1e3 * per_iteration, "objective_ms": 1e3 * objective_s,
                            "bookkeeping_ms": 1e3 * (per_iteration - objective_s), "loss": loss}
            print(f"bookkeeping {spec} ({n} floats, history {history}) {variant:11s}: {1e3 * per_iteration:7.2f} ms "
                  f"an iteration (best of 3), of which the objective {1e3 * objective_s:6.2f} ms, final loss {loss:.6g}",
                  flush=True)
        results[spec] = row
    return results


def _time(function, repeats: int) -> float:
    function()
    start = time.perf_counter()
    for _ in range(repeats):
        function()
    return (time.perf_counter() - start) / repeats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", nargs="*", default=["96x150", "128x100", "256x20"], help="SIDExITERS")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--bookkeeping", nargs="*", default=["256x144", "1280x720"], help="WxH")
    parser.add_argument("--json", help="write the numbers here")
    args = parser.parse_args(argv)

    import torch

    results = {"threads": torch.get_num_threads(), "date": time.strftime("%Y-%m-%d %H:%M"),
               "bookkeeping": bookkeeping(args.bookkeeping), "cases": optimiser_cases(args.cases, args.repeats)}
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
