"""``vidstyle info``: what a model file holds (:mod:`vidstyle.model.file`), after checking its weights."""

from __future__ import annotations

import argparse


def add_parser(commands) -> argparse.ArgumentParser:
    parser = commands.add_parser("info", help="print what a trained model file holds",
                                 description="Print a model's metadata: its network, styles (with file hashes), "
                                 "training settings and the vidstyle version that wrote it.")
    parser.add_argument("model", metavar="MODEL", help="a model file written by vidstyle train")
    parser.add_argument("--json", action="store_true", help="print the header as JSON instead")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    import json

    from ..model.file import load_model

    info = load_model(args.model)[1]  # the weights too: a file whose tensors do not match its header is refused
    print(json.dumps(info.record(), indent=2) if args.json else "\n".join(info.describe()))
    return 0
