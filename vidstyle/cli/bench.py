"""``vidstyle bench``: time the per-frame optimiser, or a trained transfer network (``--model``), on
this device (:mod:`vidstyle.bench`)."""

from __future__ import annotations

import argparse

from ..bench import (
    DEFAULT_ITERS, BenchResult, ModelBenchResult, DEFAULT_SIZE, DEFAULT_WARMUP, format_model_report, format_report, parse_size, run_bench,
    run_model_bench,
)
from ..errors import UsageError
from . import options


def add_parser(commands) -> argparse.ArgumentParser:
    """Register ``bench`` on the subcommand action ``commands`` (from ``add_subparsers``)."""
    parser = commands.add_parser(
        "bench", help="time the per-frame optimiser (or a trained model) on this device",
        description="Time the per-frame optimiser (ms per iteration, iterations/s, achieved TFLOP/s, peak "
        "memory) on the bundled photo and painting, and a bare VGG-19 forward+backward pass of the same "
        "size in the same run, with their ratio. With --model, time a trained transfer network instead: "
        "ms per frame, frames/s, CPU time per frame and peak memory at each --size.",
    )
    timing = parser.add_argument_group("what to time")
    timing.add_argument("--size", nargs="+", default=[DEFAULT_SIZE], metavar="WxH",
                        help=f"frame size in pixels (default: {DEFAULT_SIZE}); with --model several sizes may be "
                        "given, each timed in turn")
    timing.add_argument("--iters", type=int, default=DEFAULT_ITERS, metavar="N",
                        help=f"iterations per timed window, after the warm-up (default: {DEFAULT_ITERS}); with "
                        "--model: timed passes per size")
    timing.add_argument("--warmup", type=int, default=DEFAULT_WARMUP, metavar="N",
                        help=f"iterations after the first (line-search) window before timing (default: {DEFAULT_WARMUP}); "
                        "with --model: untimed passes per size")
    timing.add_argument("--repeats", type=int, default=1, metavar="R",
                        help="timed windows, each followed by the bare-network block; medians are reported "
                        "(default: 1; not used with --model)")
    timing.add_argument("--model", metavar="MODEL", help="time this trained transfer network (`vidstyle train`) "
                        "instead of the optimiser")
    timing.add_argument("--batch", type=int, default=None, metavar="N",
                        help="with --model: frames per pass, one batch through the network; times are per frame "
                        "(default: 1)")
    options.add_config_options(parser, only=("device", "dtype", "optimizer", "threads", "weights"))
    parser.add_argument("--json", action="store_true", help="end with one line holding a JSON object of the results")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Print the summary (and with ``--json`` a final JSON line); returns 0."""
    # --size (WxH) and --iters (per timed window) are the benchmark's own, not the config's fields.
    config = options.config_from(args, size=None, iters=None)
    texts = [args.size] if isinstance(args.size, str) else list(args.size)
    sizes = [parse_size(text) for text in texts]
    result: BenchResult | ModelBenchResult
    if args.model:
        result = model = run_model_bench(args.model, sizes, iters=args.iters, warmup=args.warmup,
                                         batch=1 if args.batch is None else args.batch, device=config.device,
                                         dtype=config.dtype, threads=config.threads)
        print(format_model_report(model), flush=True)
    else:
        if len(sizes) > 1:
            raise UsageError("--size takes several sizes only with --model; the optimiser bench times one")
        if args.batch is not None:
            raise UsageError("--batch applies to --model only")
        (width, height), = sizes
        result = optimiser = run_bench(
            width, height, iters=args.iters, device=config.device, dtype=config.dtype, warmup=args.warmup,
            repeats=args.repeats, threads=config.threads, optimizer=config.optimizer, weights=config.weights,
        )
        print(format_report(optimiser), flush=True)
    if config.dtype == "bfloat16" and result.dtype != "bfloat16":
        print("  note: --dtype bfloat16 applies on CUDA only; the CPU ran float32", flush=True)
    if args.json:
        print(result.to_json(), flush=True)
    return 0
