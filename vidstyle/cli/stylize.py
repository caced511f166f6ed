"""``vidstyle stylize``: a video file or a frame sequence (Ruder et al. 2016), through
:func:`vidstyle.pipeline.stylize_video`."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from ..config import DeflickerSettings, StyleConfig
from ..errors import UsageError
from ..request import StylizeRequest
from . import options

# --deflicker's defaults: per-frame style transfer's (strokes repainted each frame), not a grade's.
DEFLICKER = DeflickerSettings.strokes()


def add_parser(commands) -> argparse.ArgumentParser:
    stylize = commands.add_parser(
        "stylize", help="stylise a video file or a frame sequence (Ruder et al.)",
        description="Stylise a video file or a frame sequence with flow-warped temporal consistency. "
        "INPUT and OUTPUT are video files (audio and timing kept) or frame patterns such as "
        "shot.####.exr, shot.%04d.png, shot.@.png or shot.1001-1100#.exr.",
    )
    stylize.add_argument("input", metavar="INPUT", help="video file or frame-sequence pattern")
    options.add_style_arguments(stylize, required=False)
    stylize.add_argument("--model", metavar="MODEL",
                         help="render with a transfer network trained by `vidstyle train` (one pass a frame) instead of the "
                         "optimiser; its styles are its own (no -s), --style-weights/--style-keys blend them")
    stylize.add_argument("--init-model", metavar="MODEL",
                         help="the hybrid: the optimiser starts every fresh frame (the first, after a cut) from this network's "
                         "output and fills unreliable pixels of later frames with it")
    stylize.add_argument("-o", "--output", required=True, help="video file or frame-sequence pattern")
    stylize.add_argument("--frames", metavar="RANGE", help="frames of a sequence to render, e.g. 1001-1100 or 1001-1100x2")
    stylize.add_argument("--fps", metavar="RATE", help="frame rate when a sequence becomes a video (e.g. 24 or 24000/1001)")
    stylize.add_argument("--start-number", type=int, default=1, metavar="N", help="number of the first frame when a video becomes a sequence (default: 1)")
    stylize.add_argument("--no-temporal", action="store_true", help="stylise every frame on its own from its content (the flicker baseline)")
    stylize.add_argument("--long-term", metavar="OFFSETS", help="frames the temporal term looks back to, e.g. 1,2,4 (default: 1)")
    stylize.add_argument("--style-keys", metavar="KEYS",
                         help="style weights over time: space-separated FRAME:W1,W2,... keys (0-based input frame index, "
                         "one weight per -s style), linear in between; \"0:1,0 120:0,1\" morphs from the first style to the second")
    stylize.add_argument("--mask", metavar="MASK",
                         help="stylise only where this matte is white (an image, a video, a frame pattern, or 'alpha' for the "
                         "input's own alpha); elsewhere the output is the input, soft edges blend")
    stylize.add_argument("--deflicker", action="store_true",
                         help="deflicker the stylised frames in the same pass, with flow on the input (what `vidstyle deflicker` "
                         "does to a finished render): for the one-pass engines (--model, --engine arbitrary) and --no-temporal")
    stylize.add_argument("--deflicker-strength", type=float, metavar="S",
                         help=f"--deflicker: frames the base band (a blur) is averaged over, at most (default: {DEFLICKER.strength:g})")
    stylize.add_argument("--deflicker-detail-strength", type=float, metavar="S",
                         help="--deflicker: the same in the detail band, the strokes, with their contrast restored; 0 keeps each "
                         f"frame's own strokes (default: {DEFLICKER.detail_strength:g})")
    stylize.add_argument("--deflicker-resynth-iters", type=int, metavar="N",
                         help="--deflicker: re-synthesise each held frame's texture toward the stylised frame's own for N VGG "
                         "iterations (vidstyle deflicker --resynth-iters; slow: for offline renders; default: 0, off)")
    options.add_config_options(stylize, "style", "optimizer", "engine", "device", "video", "colour", "encode", "scale", defaults=StyleConfig.video())
    options.add_common(stylize)
    stylize.set_defaults(func=run)
    return stylize


def request_from(args: argparse.Namespace) -> StylizeRequest:
    """The request the arguments make, every value parsed and checked once."""
    config = options.config_from(args, StyleConfig.video(), temporal=not args.no_temporal, long_term=options.long_term(args.long_term))
    styles = tuple(args.style or ())
    count = len(styles)
    if args.model and not styles:  # the weights are the model's styles' (-s with --model: the pipeline refuses it)
        from ..model.file import read_info

        count = read_info(args.model).architecture.styles
    weights = options.style_weights(args.style_weights, count)
    keys = options.style_keys(args.style_keys, args.style_weights, count)
    return StylizeRequest(
        input=args.input, output=args.output, styles=styles, config=config, model=args.model, init_model=args.init_model,
        style_weights=tuple(weights) if weights else None, style_keys=keys, mask=args.mask, frames=args.frames,
        fps=options.frame_rate(args.fps) if args.fps else None, start_number=args.start_number, overwrite=args.overwrite,
        deflicker=deflicker_settings(args),
    )


def deflicker_settings(args: argparse.Namespace) -> DeflickerSettings | None:
    """``--deflicker`` and its strengths; a strength without ``--deflicker`` is refused."""
    given = {name: value for name, value in (("strength", args.deflicker_strength), ("detail_strength", args.deflicker_detail_strength),
                                             ("resynth_iters", args.deflicker_resynth_iters))
             if value is not None}
    if not args.deflicker:
        if given:
            raise UsageError(f"--deflicker-{next(iter(given)).replace('_', '-')} is a setting of --deflicker: add --deflicker")
        return None
    return replace(DEFLICKER, **given).validate()


def run(args: argparse.Namespace) -> int:
    from ..pipeline import stylize_video

    result = stylize_video(request_from(args), progress=options.FramesBar)
    print(result.summary(), file=sys.stderr)
    return 0
