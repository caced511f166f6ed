"""``vidstyle export``: a trained model as TorchScript or ONNX (:mod:`vidstyle.model.export`)."""

from __future__ import annotations

import argparse
import sys

from ..errors import UsageError
from . import options


def add_parser(commands) -> argparse.ArgumentParser:
    """Register ``export`` on the subcommand action ``commands`` (from ``add_subparsers``)."""
    parser = commands.add_parser(
        "export", help="export a trained model to TorchScript or ONNX",
        description="Write a model trained by `vidstyle train` as a file that runs without vidstyle: TorchScript "
        "(torch.jit.load, libtorch, Nuke's CatFileCreator) or ONNX (onnxruntime, TensorRT). The graph takes "
        "`image` (N,3,H,W) float32 RGB in [0,1] and `style_weights` (N,S), and returns the stylised image; H and W "
        "must be multiples of 4 (pad before, crop after). With --style-weights the blend is built in and the graph "
        "takes `image` alone. See docs/EXPORT.md.",
    )
    parser.add_argument("model", metavar="MODEL", help="a model file written by vidstyle train")
    parser.add_argument("-o", "--output", required=True, metavar="FILE",
                        help="the file to write: .pt or .torchscript (TorchScript), .onnx (ONNX)")
    parser.add_argument("--format", choices=("torchscript", "onnx"),
                        help="the format to write (default: from the output's extension)")
    parser.add_argument("--style-weights", nargs="+", metavar="W",
                        help="build this blend into the graph (one weight per style of the model, e.g. 0.7 0.3; "
                        "normalised to sum 1): the graph then takes only `image`")
    parser.add_argument("--size", type=options.pixel_size, metavar="WxH",
                        help="the example frame the graph is traced and checked at (default: 256x256); the file "
                        "takes other sizes too")
    options.add_common(parser)
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Export and print one summary line to stderr; returns 0."""
    from ..model.export import export_model

    weights = None
    if args.style_weights:
        try:
            weights = [float(part) for value in args.style_weights for part in value.split(",") if part]
        except ValueError:
            raise UsageError(f"--style-weights: expected numbers, got {' '.join(args.style_weights)!r}") from None
    result = export_model(args.model, args.output, format=args.format, size=args.size, style_weights=weights,
                          overwrite=args.overwrite)
    print(f"exported {args.model} to {result.path} ({result.describe()})", file=sys.stderr, flush=True)
    return 0
