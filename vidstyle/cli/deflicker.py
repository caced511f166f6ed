"""``vidstyle deflicker``: make a flickering per-frame video consistent (:mod:`vidstyle.deflicker`),
through :func:`vidstyle.pipeline.deflicker_video`."""

from __future__ import annotations

import argparse
import sys

from ..config import DeflickerSettings, StyleConfig
from ..request import DeflickerRequest
from . import options

DEFAULTS = DeflickerSettings()
DEFAULT_STRENGTH = DEFAULTS.strength
DEFAULT_DETAIL_SIGMA = DEFAULTS.detail_sigma
DEFAULT_DETAIL_STRENGTH = DEFAULTS.detail_strength
DEFAULT_COLOUR_STRENGTH = DEFAULTS.colour_strength
DEFAULT_RESYNTH_WEIGHT = DEFAULTS.resynth_weight


def add_parser(commands) -> argparse.ArgumentParser:
    parser = commands.add_parser(
        "deflicker", help="make a flickering per-frame video temporally consistent (any tool's output)",
        description="Remove the flicker of a video processed frame by frame (per-frame style transfer, filters, "
        "grades), given the original it was made from: each output frame stays close to the processed frame and "
        "to the previous output warped by the original's optical flow, where that flow is reliable.",
    )
    parser.add_argument("processed", metavar="PROCESSED", help="the flickering video or frame pattern")
    parser.add_argument("--source", required=True, metavar="ORIGINAL", help="the video or frame pattern it was made from")
    parser.add_argument("-o", "--output", required=True, help="video file or frame-sequence pattern")
    parser.add_argument("--strength", type=float, default=DEFAULT_STRENGTH, metavar="S",
                        help="weight of consistency against staying close to the processed frame, in the base band "
                        f"(a grade's flicker; default: {DEFAULT_STRENGTH})")
    parser.add_argument("--detail-sigma", type=float, default=DEFAULT_DETAIL_SIGMA, metavar="PX",
                        help="the frame splits at a Gaussian blur of this sigma into a base and a detail band; 0: one band, "
                        f"all held with --strength (default: {DEFAULT_DETAIL_SIGMA})")
    parser.add_argument("--detail-strength", type=float, default=DEFAULT_DETAIL_STRENGTH, metavar="S",
                        help="the same weight in the detail band (strokes repainted each frame); 0 keeps the processed "
                        f"frame's detail as it is (default: {DEFAULT_DETAIL_STRENGTH})")
    parser.add_argument("--colour-strength", type=float, default=DEFAULT_COLOUR_STRENGTH, metavar="N",
                        help="average each frame's global colour (its per-channel gain and offset against the original) over up "
                        f"to this many earlier frames, so a flickering grade is held even where the flow cannot reach; 0: off "
                        f"(default: {DEFAULT_COLOUR_STRENGTH:g})")
    parser.add_argument("--resynth-iters", type=int, default=DEFAULTS.resynth_iters, metavar="N",
                        help="after the hold, re-synthesise each frame's texture toward the processed frame's own (VGG Gram "
                        "matrices) for N L-BFGS iterations: keeps a per-frame style transfer's strokes looking painted where the "
                        "hold averaged them; slow: 10 iterations are about 14 VGG passes a frame (6 s at 256x144 on 2 CPU cores); 0: off (default)")
    parser.add_argument("--resynth-weight", type=float, default=DEFAULT_RESYNTH_WEIGHT, metavar="W",
                        help=f"--resynth-iters: weight of staying at the held frame's pixels (default: {DEFAULT_RESYNTH_WEIGHT:g})")
    parser.add_argument("--long-term", metavar="OFFSETS", help="earlier frames to stay consistent with, e.g. 1,2,4 (default: 1)")
    parser.add_argument("--frames", metavar="RANGE", help="frames of sequence inputs to process, e.g. 1001-1100")
    parser.add_argument("--fps", metavar="RATE", help="frame rate when a sequence becomes a video")
    parser.add_argument("--start-number", type=int, default=1, metavar="N", help="number of the first frame when a video becomes a sequence (default: 1)")
    options.add_config_options(parser, only=("flow", "flow_preset", "flow_scale", "still_threshold", "scene_cut_reliable", "threads", "codec", "crf", "pix_fmt", "encoder_preset",
                                     "device", "weights",  # where and with what --resynth-iters runs VGG
                                     "colorspace", "output_colorspace", "display", "view"),
                               defaults=StyleConfig.deflicker())
    options.add_common(parser)
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from ..pipeline import deflicker_video

    config = options.config_from(args, StyleConfig.deflicker(), long_term=options.long_term(args.long_term))
    request = DeflickerRequest(
        processed=args.processed, original=args.source, output=args.output, config=config,
        settings=DeflickerSettings(strength=args.strength, detail_sigma=args.detail_sigma, detail_strength=args.detail_strength,
                                   colour_strength=args.colour_strength, resynth_iters=args.resynth_iters,
                                   resynth_weight=args.resynth_weight),
        frames=args.frames, fps=options.frame_rate(args.fps) if args.fps else None, start_number=args.start_number,
        overwrite=args.overwrite,
    )
    result = deflicker_video(request, progress=options.FramesBar)
    print(result.summary().replace("stylised", "deflickered", 1), file=sys.stderr)
    return 0
