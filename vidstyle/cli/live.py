"""``vidstyle live``: a live stylised preview of a camera, a video file or a stream (:mod:`vidstyle.live`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..config import StyleConfig
from ..errors import UsageError
from . import options


def add_parser(commands) -> argparse.ArgumentParser:
    """Register ``vidstyle live`` on the CLI's subparsers action; returns its parser."""
    from ..live import KEYS_HELP

    live = commands.add_parser(
        "live", help="live stylised preview of a camera, a video file or a stream",
        description="Stylise a camera (or a video file, or a stream URL) live, each frame warm-started from "
        "the previous one, with a trained transfer network (--model), or with the arbitrary-style decoders "
        "(--engine arbitrary, any -s painting) in one pass a frame. "
        "Keys in the window: " + KEYS_HELP + ".",
    )
    live.add_argument("--source", default="0", metavar="SOURCE",
                      help="camera index (0, 1, ...), video file, or stream URL (default: 0, the first camera)")
    live.add_argument("-s", "--style", action="append", metavar="STYLE",
                      help="style image; repeat to preload several and switch between them with n/p")
    live.add_argument("--model", metavar="MODEL",
                      help="a model trained by `vidstyle train`: stylise each frame in one pass of the network "
                      "instead of the optimiser (no -s; n/p/b choose among and blend its styles)")
    live.add_argument("--record", metavar="VIDEO", help="also write what is shown to this video file, at the real rate")
    live.add_argument("--no-window", action="store_true", help="run without a window (with --record, or to measure speed)")
    live.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames")
    live.add_argument("--side-by-side", action="store_true", help="start with camera | stylised (c toggles)")
    live.add_argument("--pace", choices=("auto", "realtime", "every"), default="auto",
                      help="file sources: realtime plays at the file's rate and drops frames it cannot keep up "
                      "with; every stylises every frame in order; auto: realtime with a window, every with "
                      "--no-window (cameras and streams are always realtime)")
    live.add_argument("--snapshot-dir", default=".", metavar="DIR", help="where the s key saves PNG snapshots (default: .)")
    options.add_config_options(live, "style", "optimizer", "engine", "device", "video", "encode", defaults=StyleConfig.live())
    options.add_common(live)
    live.set_defaults(func=run)
    return live


def run(args: argparse.Namespace, network=None) -> int:
    """Run ``vidstyle live``. ``network``: an already loaded VGG19Features to reuse (tests, callers
    that run several sessions); loaded from ``--weights`` (or the bundled weights) when None, and not
    at all with ``--model``."""
    import cv2  # noqa: F401  before anything imports PyAV: see _x_library_clash

    from ..io.camera import Capture, file_exists, parse_source
    from ..io.paths import check_output
    from ..live import KEYS_HELP, LiveSession, Recorder, Window, display_problem, run_loop, stylizers_for

    # Everything the user can get wrong is checked before torch is imported and the network loaded
    # (several seconds on a CPU), so a wrong --source or a missing display fails at once.
    config = options.config_from(args, StyleConfig.live())
    if args.model and args.style:
        raise UsageError("--model brings its own styles; drop -s")
    if args.model and config.engine == "arbitrary":
        raise UsageError("--model and --engine arbitrary each choose the engine; give one")
    if not args.model and not args.style:
        raise UsageError("expected a style image (-s STYLE) or a trained model (--model MODEL)")
    if config.engine == "arbitrary":
        from ..model.arbitrary import decoder_path

        decoder_path(config.decoder)  # UsageError now, not after the camera opens: no decoder to use
    if args.max_frames is not None and args.max_frames < 1:
        raise UsageError(f"--max-frames must be >= 1, got {args.max_frames}")
    show = not args.no_window
    if show:
        problem = display_problem()
        if problem:
            raise UsageError(f"{problem}; use --no-window to run without one (add --record FILE to keep the result)")
    snapshot_dir = Path(args.snapshot_dir)
    if show and not snapshot_dir.is_dir():
        raise UsageError(f"--snapshot-dir {snapshot_dir} is not a folder")
    source = parse_source(args.source)
    inputs = args.style or [args.model]
    if args.record:
        check_output(args.record, [*([source] if file_exists(source) else []), *inputs], args.overwrite)
    if args.model:
        from ..model.file import read_info

        styles, names = [], read_info(args.model).style_names  # ModelFileError (exit 2): not a model
    else:
        styles = options.read_style_images(args.style)  # every style loaded up front: n/p must not stall on disk
    pace = args.pace == "realtime" or (args.pace == "auto" and show)
    capture = Capture(source, pace=pace)  # CaptureError (exit 2) for a missing camera or bad URL, at once

    recorder = None
    window = None
    try:
        from ..device import configure_cpu_threads, resolve_device
        from ..frames import working_size

        device = resolve_device(config.device)
        configure_cpu_threads(config.threads)
        arbitrary = config.engine == "arbitrary"
        if not args.model and not arbitrary:
            stylizers, names = stylizers_for(config, styles, args.style, network, device)
        elif arbitrary:
            names = [Path(path).stem for path in args.style]
        first = capture.first()
        size = working_size(first.image.shape[1], first.image.shape[0], config.size, config.upscale)
        if args.model:
            # The network alone: VGG-19 is never loaded, and there is no flow to compute.
            from ..model.engine import ModelEngine, check_model_size
            from ..model.file import load_model

            check_model_size(size)
            net, _ = load_model(args.model, device)
            session = LiveSession.with_model(ModelEngine(net, size, device=device, dtype=config.dtype), names,
                                             side_by_side=args.side_by_side, snapshot_dir=snapshot_dir)
            work = f"model {args.model} ({len(names)} style{'' if len(names) == 1 else 's'})"
        elif arbitrary:
            # The decoders in one pass a frame, any -s style: the same keys as a model's styles.
            from ..model.arbitrary import ArbitraryEngine, build_arbitrary

            stylizer = build_arbitrary(config, styles, size, device, network)
            engine = ArbitraryEngine(stylizer, size, config, stabilise=config.stabilise if config.temporal else 0.0, device=device)
            session = LiveSession.with_model(engine, names, side_by_side=args.side_by_side, snapshot_dir=snapshot_dir)
            work = f"arbitrary-style decoders ({len(names)} style{'' if len(names) == 1 else 's'})"
        else:
            session = LiveSession(stylizers, names, size, temporal=config.temporal, seed=config.seed,
                                  side_by_side=args.side_by_side, snapshot_dir=snapshot_dir)
            work = f"{config.iters} iteration(s) per frame"
        if args.record:
            width = size[0] * (2 if args.side_by_side else 1)
            recorder = Recorder(args.record, width, size[1], capture.fps or 30.0, config.codec, config.crf, config.pix_fmt,
                                config.encoder_preset)
        print(f"vidstyle live: {capture.describe()} at {size[0]}x{size[1]}, {work} on {device}"
              + (f"; keys: {KEYS_HELP}" if show else ""), file=sys.stderr)
        if show:
            window = Window()
        # A file read frame by frame must not lose its first frame; a live source has moved on since.
        stats = run_loop(session, capture, window=window, recorder=recorder, max_frames=args.max_frames,
                         record_side_by_side=args.side_by_side, first=first if not capture.latest_only else None)
        if recorder is not None:
            recorder.close()
            recorder = None
    finally:
        if recorder is not None:
            recorder.abort()
        if window is not None:
            window.close()
        capture.close()
    summary = stats.summary()
    if args.record:
        summary += f"; recorded {args.record}"
    for path in session.snapshots:
        print(f"snapshot {path}", file=sys.stderr)
    print(summary, file=sys.stderr)
    return 0
