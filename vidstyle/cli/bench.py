"""``vidstyle bench``: time the per-frame optimiser on this device (:mod:`vidstyle.bench`)."""

from __future__ import annotations

import argparse

from ..bench import DEFAULT_ITERS, DEFAULT_SIZE, DEFAULT_WARMUP, format_report, parse_size, run_bench
from . import options


def add_parser(commands) -> argparse.ArgumentParser:
    """Register ``bench`` on the subcommand action ``commands`` (from ``add_subparsers``)."""
    parser = commands.add_parser(
        "bench", help="time the per-frame optimiser on this device",
        description="Time the per-frame optimiser (ms per iteration, iterations/s, achieved TFLOP/s, peak "
        "memory) on the bundled photo and painting, and a bare VGG-19 forward+backward pass of the same "
        "size in the same run, with their ratio.",
    )
    timing = parser.add_argument_group("what to time")
    timing.add_argument("--size", default=DEFAULT_SIZE, metavar="WxH", help=f"frame size in pixels (default: {DEFAULT_SIZE})")
    timing.add_argument("--iters", type=int, default=DEFAULT_ITERS, metavar="N",
                        help=f"iterations per timed window, after the warm-up (default: {DEFAULT_ITERS})")
    timing.add_argument("--warmup", type=int, default=DEFAULT_WARMUP, metavar="N",
                        help=f"iterations after the first (line-search) window before timing (default: {DEFAULT_WARMUP})")
    timing.add_argument("--repeats", type=int, default=1, metavar="R",
                        help="timed windows, each followed by the bare-network block; medians are reported (default: 1)")
    options.add_config_options(parser, only=("device", "dtype", "optimizer", "threads", "weights"))
    parser.add_argument("--json", action="store_true", help="end with one line holding a JSON object of the results")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Print the summary (and with ``--json`` a final JSON line); returns 0."""
    # --size (WxH) and --iters (per timed window) are the benchmark's own, not the config's fields.
    config = options.config_from(args, size=None, iters=None)
    width, height = parse_size(args.size)
    result = run_bench(
        width, height, iters=args.iters, device=config.device, dtype=config.dtype, warmup=args.warmup,
        repeats=args.repeats, threads=config.threads, optimizer=config.optimizer, weights=config.weights,
    )
    print(format_report(result), flush=True)
    if config.dtype == "bfloat16" and result.dtype != "bfloat16":
        print("  note: --dtype bfloat16 applies on CUDA only; the CPU ran float32", flush=True)
    if args.json:
        print(result.to_json(), flush=True)
    return 0
