"""``vidstyle train``: a transfer network on the user's own footage (:mod:`vidstyle.model.train`)."""

from __future__ import annotations

import argparse
import sys

from ..config import StyleConfig, TrainConfig
from . import options


def add_parser(commands) -> argparse.ArgumentParser:
    parser = commands.add_parser(
        "train", help="train a transfer network (one pass a frame) on your own footage",
        description="Train a feed-forward transfer network for one or several styles on your own frames, with "
        "the optimiser's losses and a flow-warped temporal term between consecutive frames. Then render with "
        "`vidstyle stylize IN -o OUT --model MODEL` or preview with `vidstyle live --model MODEL`. A killed or "
        "interrupted training continues when the same command is run again (MODEL.training/ holds its state).",
    )
    parser.add_argument("-s", "--style", action="append", metavar="STYLE",
                        help="style image; repeat for a multi-style model (conditional instance norm; blend them later "
                        "with --style-weights or --style-keys)")
    parser.add_argument("--on", action="append", required=True, metavar="INPUT",
                        help="footage to learn from: a video, a frame pattern or a folder of stills; repeat for several")
    parser.add_argument("-o", "--output", required=True, metavar="MODEL", help="the model file to write (e.g. starry.safetensors)")
    parser.add_argument("--decoder", action="store_true",
                        help="train the arbitrary-style decoders instead (no -s): each learns to reconstruct your frames "
                        "from their VGG-19 features, which is all universal style transfer needs")
    options.add_config_options(parser, "train", defaults=TrainConfig())
    options.add_config_options(parser, only=("content_weight", "style_weight", "tv_weight", "style_scale", "weights", "flow",
                                             "flow_preset", "still_threshold", "scene_cut_reliable", "seed", "device", "threads", "dtype"))
    options.add_common(parser)
    parser.set_defaults(func=run)
    return parser


def request_from(args: argparse.Namespace):
    from ..model.train import TrainRequest

    values = {name: getattr(args, name) for name in TrainConfig.__dataclass_fields__ if getattr(args, name, None) is not None}
    training = TrainConfig(**values).validate()
    # --temporal-weight is the training's; the StyleConfig field of that name is not offered here.
    config = options.config_from(args, StyleConfig(), temporal_weight=None, size=None, lr=None)
    return TrainRequest(styles=tuple(args.style or ()), inputs=tuple(args.on), output=args.output, config=config,
                        training=training, overwrite=args.overwrite, decoder=args.decoder)


class TrainBar:
    """tqdm bar of training steps with the loss and ETA; messages above it."""

    def __init__(self) -> None:
        self.bar = None

    def start(self, total: int, done: int) -> None:
        self.bar = options.progress_bar(total, "train", unit="step", initial=done)

    def step(self, done: int, loss: float) -> None:
        if self.bar is not None:
            self.bar.update(done - self.bar.n)
            self.bar.set_postfix_str(f"loss {loss:.4g}", refresh=False)

    def message(self, text: str) -> None:
        print(f"vidstyle train: {text}", file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run(args: argparse.Namespace) -> int:
    from ..model.train import train

    request = request_from(args)
    bar = TrainBar()
    try:
        result = train(request, bar)
    finally:
        bar.close()
    print(result.summary(), file=sys.stderr)
    return 0
