"""Benchmark the per-frame optimiser against a bare VGG-19 forward + backward pass, and explain the gap.

    python bench/bench_optimizer.py [--sizes 128x96,256x144] [--threads 2,1] [--runs 3] [--device cpu]

Part 1 runs ``vidstyle bench`` (:func:`vidstyle.bench.run_bench`) ``--runs`` times per size and thread
count and prints min / median of: optimiser ms per iteration, the bare pass's ms, their ratio (wall
clock and process CPU time), iterations/s, achieved TFLOP/s and peak memory. Each run is a fresh
optimiser timed over the same window (iterations ~15-25, after the line-search window and 5 warm-up
iterations), followed by a block of as many bare passes.

Part 2 (CPU only; ``--no-breakdown`` skips it, ``--only-breakdown`` runs only it) splits an optimiser
iteration into its pieces, each timed on its own with the same thread count, min over ``--runs`` blocks:

- bare: VGG-19 forward to relu5_1 and backward to the input (what vidstyle bench compares with);
- losses: the style (Grams), content and TV losses' forward and backward on fixed feature maps;
- L-BFGS: ``torch.optim.LBFGS`` bookkeeping per iteration (two-loop recursion over the history,
  line-search-free step) on a vector of 3*H*W pixels with a trivial objective, at several history
  lengths: the optimiser's history grows by one per iteration up to ``lbfgs_history`` (100).

bare + losses + L-BFGS(h) should add up to the optimiser's time per iteration at history h.
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

import torch  # noqa: E402

from vidstyle import bench, losses  # noqa: E402
from vidstyle.config import StyleConfig  # noqa: E402
from vidstyle.flops import gram_flops, vgg_flops  # noqa: E402


def cpu_model() -> str:
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown"


def load() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def min_med(values) -> str:
    return f"{min(values):.1f} / {statistics.median(values):.1f}"


def part1(sizes, threads_list, runs, device, dtype) -> None:
    print("\n## vidstyle bench, repeated (best / median over runs: min for times and ratios, max for rates)\n")
    print("| size | threads | optimiser ms/iter | bare fwd+bwd ms | ratio (wall) | ratio (CPU time) "
          "| iter/s | TFLOP/s | peak MiB (above start) | load avg during |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for width, height in sizes:
        for threads in threads_list:
            results, loads = [], []
            for _ in range(runs):
                results.append(bench.run_bench(width, height, iters=10, device=device, dtype=dtype, threads=threads))
                loads.append(os.getloadavg()[0])
            r = results
            print(f"| {width}x{height} | {r[0].threads} | {min_med([x.ms_per_iter for x in r])} "
                  f"| {min_med([x.bare_ms for x in r])} "
                  f"| {min([x.ratio for x in r]):.2f} / {statistics.median([x.ratio for x in r]):.2f} "
                  f"| {min([x.cpu_ratio for x in r]):.2f} / {statistics.median([x.cpu_ratio for x in r]):.2f} "
                  f"| {max(x.iters_per_s for x in r):.2f} / {statistics.median([x.iters_per_s for x in r]):.2f} "
                  f"| {max(x.tflops for x in r):.4f} / {statistics.median([x.tflops for x in r]):.4f} "
                  f"| {max(x.peak_mem_mb for x in r):.0f} ({max(x.peak_mem_mb - (x.mem_before_mb or 0) for x in r):.0f}) "
                  f"| {min(loads):.1f}-{max(loads):.1f} |", flush=True)


def _timed(fn, repeats: int, inner: int) -> tuple[float, float]:
    """(wall ms, process CPU ms) per call: min over ``repeats`` blocks of ``inner`` calls each.

    Min, because other jobs only ever add time. CPU time is the steadier figure on a shared machine
    when torch runs one thread (with more it also counts OpenMP threads spinning at barriers).
    """
    fn()
    wall = cpu = float("inf")
    for _ in range(repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        for _ in range(inner):
            fn()
        wall = min(wall, (time.perf_counter() - started) / inner)
        cpu = min(cpu, (time.process_time() - started_cpu) / inner)
    return wall * 1e3, cpu * 1e3


def part2(sizes, threads_list, runs, histories) -> None:
    from vidstyle.features import VGG19Features
    from vidstyle.optimize import image_to_tensor

    print("\n## Where an iteration's time goes\n")
    print("Each cell: wall ms / process CPU ms, min over blocks.\n")
    print("| size | threads | bare fwd+bwd | losses fwd+bwd | "
          + " | ".join(f"L-BFGS h={h}" for h in histories) + " | Gram share of conv FLOPs |")
    print("| --- | ---: | ---: | ---: | " + " | ".join("---:" for _ in histories) + " | ---: |")
    network = VGG19Features.load()
    config = StyleConfig()
    layers = tuple(dict.fromkeys((*config.style_layers, config.content_layer)))
    layer_weights = dict(zip(config.style_layers, config.style_layer_weights))
    for width, height in sizes:
        content_image, _, _ = bench.bench_images(width, height)
        content = image_to_tensor(content_image)
        with torch.no_grad():
            fixed = network(content, layers)
        targets = {name: losses.gram(fixed[name]).detach() * 1.1 for name in config.style_layers}
        content_target = fixed[config.content_layer].detach() * 0.9
        seeds = {name: torch.randn_like(value) for name, value in fixed.items()}
        for threads in threads_list:
            torch.set_num_threads(threads)

            def bare() -> None:
                image = content.clone().requires_grad_(True)
                feats = network(image, layers)
                torch.autograd.backward([feats[n] for n in layers], [seeds[n] for n in layers])

            def loss_only() -> None:
                feats = {n: v.clone().requires_grad_(True) for n, v in fixed.items()}
                pixels = (content * 255).requires_grad_(True)
                loss = (config.style_weight * losses.style_loss(feats, targets, layer_weights)
                        + config.content_weight * losses.content_loss(feats[config.content_layer], content_target)
                        + config.tv_weight * losses.tv_loss(pixels))
                loss.backward()

            cells = [_timed(bare, runs, 3), _timed(loss_only, runs, 5)]
            cells += [lbfgs_ms(3 * width * height, h, runs) for h in histories]
            print(f"| {width}x{height} | {threads} | "
                  + " | ".join(f"{wall:.1f} / {cpu:.1f}" for wall, cpu in cells)
                  + f" | {gram_flops(width, height) / vgg_flops(width, height).total:.1%} |", flush=True)


def lbfgs_ms(n: int, history: int, runs: int) -> tuple[float, float]:
    """(wall ms, process CPU ms) per iteration of torch's L-BFGS bookkeeping with a full history of ``history`` curvature
    pairs, no line search, on an n-vector whose objective costs one element-wise op (so almost all the
    time is L-BFGS's own). The objective is an ill-conditioned quadratic (curvatures log-uniform over
    six decades) so that L-BFGS keeps making progress and never stops early; the iterations actually
    run are counted, and the history is checked to be full."""
    generator = torch.Generator().manual_seed(0)
    curvature = torch.logspace(-6, 0, n)[torch.randperm(n, generator=generator)]
    x = torch.randn(n, generator=generator).requires_grad_(True)

    def closure():
        with torch.no_grad():
            x.grad = curvature * x  # gradient of sum(curvature * x^2) / 2, without autograd
        return torch.zeros(())

    optimizer = torch.optim.LBFGS([x], lr=1.0, history_size=history, max_iter=2 * history + 10,
                                  tolerance_grad=0.0, tolerance_change=0.0)
    optimizer.step(closure)  # fill the history
    state = optimizer.state[x]
    optimizer.param_groups[0]["max_iter"] = 10
    wall = cpu = float("inf")
    for _ in range(runs):
        before = state["n_iter"]
        started, started_cpu = time.perf_counter(), time.process_time()
        optimizer.step(closure)
        elapsed, elapsed_cpu = time.perf_counter() - started, time.process_time() - started_cpu
        done = state["n_iter"] - before
        if done < 10 or len(state["old_dirs"]) != history:
            raise RuntimeError(f"L-BFGS micro-benchmark stopped early ({done} iterations, history {len(state['old_dirs'])})")
        wall, cpu = min(wall, elapsed / done), min(cpu, elapsed_cpu / done)
    return wall * 1e3, cpu * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="128x96,256x144", help="comma-separated WxH list")
    parser.add_argument("--threads", default=None, help="comma-separated CPU thread counts (default: all cores)")
    parser.add_argument("--runs", type=int, default=3, help="repeats per measurement (min / median reported)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"))
    parser.add_argument("--histories", default="10,25,100", help="L-BFGS history lengths for the breakdown")
    parser.add_argument("--no-breakdown", action="store_true", help="only part 1")
    parser.add_argument("--only-breakdown", action="store_true", help="only part 2")
    args = parser.parse_args()
    sizes = [bench.parse_size(s) for s in args.sizes.split(",")]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    threads_list = [int(t) for t in args.threads.split(",")] if args.threads else [cores]
    histories = [int(h) for h in args.histories.split(",")]

    print(f"machine: {cpu_model()}, {cores} cores; torch {torch.__version__}, Python {platform.python_version()}")
    print(f"date: {datetime.date.today().isoformat()}; load average at start: {load()}")
    print(f"command: python bench/bench_optimizer.py {' '.join(sys.argv[1:])}")
    if not args.only_breakdown:
        part1(sizes, threads_list, args.runs, args.device, args.dtype)
    if not args.no_breakdown and args.device == "cpu":
        part2(sizes, threads_list, args.runs, histories)
    print(f"\nload average at end: {load()}")


if __name__ == "__main__":
    main()
