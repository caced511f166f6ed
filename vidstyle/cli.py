"""Command line: ``vidstyle image | stylize | live | eval | bench | demo``.

This module is an edge: it parses options, checks paths, opens sources and sinks, shows progress
and turns every expected failure into one line on stderr and an exit code:
2 for usage and input errors, 1 for failures while running, 130 when interrupted.
``--debug`` shows the traceback instead.

Options that set a :class:`vidstyle.config.StyleConfig` field are generated from the dataclass,
so their defaults and help live in one place.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
import types
import typing
from pathlib import Path

EXIT_USAGE = 2
EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """A problem with what the user asked for (exit code 2)."""


class _Parser(argparse.ArgumentParser):
    # argparse prints the whole usage before its error; one line is easier to read in a log.
    def error(self, message: str) -> typing.NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


# ---------------------------------------------------------------------------------------------------
# option generation from the config dataclass


def _field_type(field: dataclasses.Field) -> type:
    hint = typing.get_type_hints(_config_module().StyleConfig)[field.name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        hint = args[0]
    return hint


def _config_module():
    from . import config

    return config


def _add_config_options(parser: argparse.ArgumentParser, *groups: str) -> None:
    config = _config_module()
    defaults = config.StyleConfig()
    for field in config.option_fields(*groups):
        flag = "--" + field.name.replace("_", "-")
        kind = _field_type(field)
        default = getattr(defaults, field.name)
        help_text = field.metadata["help"] + ("" if default is None or kind is bool else f" (default: {default})")
        if kind is bool:
            parser.add_argument(flag, action="store_true", default=None, help=help_text)
        else:
            parser.add_argument(
                flag, type=_checked(kind, flag), default=None, choices=field.metadata.get("choices"),
                metavar=field.name.split("_")[-1].upper() if "choices" not in field.metadata else None, help=help_text,
            )


def _checked(kind: type, flag: str):
    def convert(text: str):
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {kind.__name__}, got {text!r}") from None

    convert.__name__ = kind.__name__
    return convert


def _config_from(args: argparse.Namespace, **extra):
    config = _config_module()
    values = {f.name: getattr(args, f.name, None) for f in dataclasses.fields(config.StyleConfig)}
    values.update(extra)
    return config.StyleConfig().with_(**values).validate()


def _style_weights(text_values: list[str] | None, styles: int) -> list[float] | None:
    if not text_values:
        return None
    try:
        weights = [float(part) for value in text_values for part in value.split(",") if part]
    except ValueError:
        raise UsageError(f"--style-weights: expected numbers, got {' '.join(text_values)!r}") from None
    if len(weights) != styles:
        raise UsageError(f"--style-weights: got {len(weights)} weight(s) for {styles} style image(s)")
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise UsageError(f"--style-weights must be >= 0 and not all zero, got {weights}")
    return weights


# ---------------------------------------------------------------------------------------------------
# paths


def check_output(output: str | os.PathLike, inputs: list[str | os.PathLike], overwrite: bool) -> Path:
    """Refuse an output that is an input, that exists (without ``overwrite``) or cannot be written."""
    out = Path(output)
    for source in inputs:
        if Path(source).exists() and out.exists() and out.resolve() == Path(source).resolve():
            raise UsageError(f"output {out} is the input; choose another name")
        if Path(source).resolve() == out.resolve():
            raise UsageError(f"output {out} is the input; choose another name")
    if out.is_dir():
        raise UsageError(f"output {out} is a directory; expected a file name")
    if out.exists() and not overwrite:
        raise UsageError(f"output {out} already exists (use --overwrite to replace it)")
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(f"output folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise UsageError(f"output folder {folder} is not writable")
    return out


def _read_style_images(paths: list[str]):
    from .io.image import read_image

    return [read_image(p)[0] for p in paths]


# ---------------------------------------------------------------------------------------------------
# commands


def _progress_bar(total: int, desc: str, **kwargs):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, dynamic_ncols=True, leave=False, **kwargs)


def cmd_image(args: argparse.Namespace) -> int:
    from .device import configure_cpu_threads, resolve_device
    from .frames import fit_longest_side, resize
    from .io.image import format_for, read_image, write_image
    from .optimize import Stylizer, image_to_tensor, tensor_to_image

    config = _config_from(args)
    weights = _style_weights(args.style_weights, len(args.style))
    device = resolve_device(config.device)
    output = check_output(args.output, [args.content, *args.style], args.overwrite)
    content, alpha, content_format = read_image(args.content)
    styles = _read_style_images(args.style)
    out_format = format_for(output, like=content_format)  # raises for an unsupported extension, before any work

    configure_cpu_threads()
    _seed(config.seed)
    stylizer = Stylizer(config, styles, weights, device=device)
    size = fit_longest_side(content.shape[1], content.shape[0], config.size)
    content_tensor = image_to_tensor(resize(content, size), device)

    started = time.perf_counter()
    with _progress_bar(config.iters, "stylising", unit="it") as bar:
        def show(progress):
            bar.n = progress.iteration
            bar.set_postfix_str(f"loss {progress.loss:.4g}", refresh=True)

        result = stylizer.stylize(content_tensor, callback=show, generator=_generator(config.seed))
    image = tensor_to_image(result)
    write_image(output, image, None if alpha is None else resize(alpha, size), out_format)
    print(f"wrote {output} ({size[0]}x{size[1]}) in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0


def cmd_stylize(args: argparse.Namespace) -> int:
    from .device import configure_cpu_threads, resolve_device
    from .frames import fit_longest_side
    from .io.media import is_pattern, open_sink, open_source
    from .optimize import Stylizer
    from .temporal import VideoStylizer

    config = _config_from(args, temporal=not args.no_temporal, long_term=_long_term(args.long_term))
    if config.flow == "raft" and not config.flow_weights:
        raise UsageError("--flow raft needs --flow-weights FILE (a torchvision RAFT state dict); nothing is downloaded")
    weights = _style_weights(args.style_weights, len(args.style))
    device = resolve_device(config.device)
    sequence_out = is_pattern(args.output)
    if not sequence_out:
        check_output(args.output, [args.input, *args.style], args.overwrite)
    elif is_pattern(args.input) and _same_pattern(args.input, args.output):
        raise UsageError(f"output pattern {args.output} is the input pattern; choose another name")
    fps = _fraction(args.fps) if args.fps else None

    source = open_source(args.input, args.frames)
    if fps is not None and not source.is_sequence:
        raise UsageError("--fps sets the rate of a frame sequence; a video input keeps its own timing")
    styles = _read_style_images(args.style)
    size = fit_longest_side(source.width, source.height, config.size)

    resume = _prepare_resume(args, config, size) if sequence_out else None
    sink = open_sink(args.output, source, size, fps=fps, codec=config.codec, crf=config.crf, pix_fmt=config.pix_fmt)

    configure_cpu_threads()
    stylizer = Stylizer(config, styles, weights, device=device)
    video = VideoStylizer(stylizer, size, temporal=config.temporal, generator_seed=config.seed)
    summary = _render(source, video, sink, resume, start_number=args.start_number)
    print(summary, file=sys.stderr)
    return 0


def _render(source, video, sink, resume, start_number: int = 0) -> str:
    """Run every frame of ``source`` through ``video`` into ``sink``; returns the summary line.

    Sequence sinks: frames already on disk before the first missing one are skipped and the temporal
    state is restored from the resume state; every frame is final as soon as it is written.
    Video sinks: an interrupt or failure removes the partial file (see VideoWriter).
    """
    from dataclasses import replace

    import numpy as np

    from .io import resume as resume_io

    started = time.perf_counter()
    reports, skipped, resuming = [], 0, resume is not None and not resume.overwrite
    bar = _progress_bar(source.count, "frames", unit="frame")
    try:
        for frame in source.frames:
            if not source.is_sequence:
                frame = replace(frame, number=frame.number + start_number)
            if resuming and sink.exists(frame.number):
                skipped += 1
                bar.update(1)
                continue
            if resuming:
                resuming = False
                if skipped:
                    history = [e for e in resume_io.read_state(resume.state) if e.number < frame.number]
                    video.restore(history)
            output, report = video.process(frame, progress=lambda p: bar.set_postfix_str(f"it {p.iteration}/{p.total} loss {p.loss:.3g}", refresh=False))
            if resume is not None:
                resume_io.write_state(resume.state, video.history)
            sink.write(output)
            reports.append(report)
            bar.update(1)
            bar.set_postfix_str(f"loss {report.loss:.3g}, {report.seconds:.1f} s/frame" + (" (cut)" if report.scene_cut else ""))
        sink.close()
    except BaseException:
        sink.abort()
        raise
    finally:
        bar.close()
    errors = [r.warp_error for r in reports if r.warp_error is not None]
    cuts = sum(r.scene_cut for r in reports)
    elapsed = time.perf_counter() - started
    parts = [f"{len(reports)} frame(s) stylised in {elapsed:.1f} s ({elapsed / max(len(reports), 1):.2f} s/frame)"]
    if skipped:
        parts.append(f"{skipped} already done")
    if cuts:
        parts.append(f"{cuts} scene cut(s)")
    if errors:
        parts.append(f"mean warping error {np.mean(errors):.5f}")
    reader_skipped = getattr(source.reader, "skipped", 0)
    if reader_skipped:
        parts.append(f"{reader_skipped} unreadable input frame(s) skipped")
    return "; ".join(parts)


def _prepare_resume(args, config, size):
    """Compare with the settings of earlier runs into the same output; decide what to skip."""
    import platform
    import types as _types

    import torch

    from . import __version__
    from .io import resume as resume_io
    from .io.sequence import SequenceWriter

    settings_path, state_path = resume_io.sidecar_paths(args.output)
    settings = {
        "input": os.path.abspath(args.input),
        "styles": [{"path": os.path.abspath(p), "sha256": resume_io.file_digest(p)} for p in args.style],
        "style_weights": args.style_weights,
        "size": list(size),
        "config": {k: v for k, v in dataclasses.asdict(config).items() if k not in ("device", "codec", "crf", "pix_fmt")},
        "versions": {"vidstyle": __version__, "torch": torch.__version__, "python": platform.python_version()},
    }
    settings = json_round_trip(settings)
    old = resume_io.read_settings(settings_path)
    writer = SequenceWriter(args.output)
    writer.cleanup_temporaries()
    if old is not None and not args.overwrite:
        changed = resume_io.differences(old, settings)
        if changed:
            raise UsageError(f"{settings_path} records other settings ({'; '.join(changed[:3])}); use --overwrite to re-render with the new ones")
    if args.overwrite:
        state_path.unlink(missing_ok=True)
    resume_io.write_settings(settings_path, settings)
    return _types.SimpleNamespace(settings=settings_path, state=state_path, overwrite=args.overwrite)


def json_round_trip(value):
    import json

    return json.loads(json.dumps(value))


def _same_pattern(a: str, b: str) -> bool:
    from .io.sequence import parse_pattern

    return os.path.abspath(parse_pattern(a).frame(0)) == os.path.abspath(parse_pattern(b).frame(0))


def _long_term(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        offsets = tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    except ValueError:
        raise UsageError(f"--long-term: expected frame offsets like 1,2,4, got {text!r}") from None
    if not offsets or 1 not in offsets:
        raise UsageError(f"--long-term must include 1 (the previous frame), got {text!r}")
    return offsets


def _fraction(text: str):
    from fractions import Fraction

    try:
        value = Fraction(text.replace(":", "/")) if "/" in text or ":" in text else Fraction(float(text)).limit_denominator(1001)
    except (ValueError, ZeroDivisionError):
        raise UsageError(f"--fps: expected a rate like 24, 23.976 or 24000/1001, got {text!r}") from None
    if value <= 0:
        raise UsageError(f"--fps must be > 0, got {text}")
    return value


def _seed(seed: int | None) -> None:
    if seed is not None:
        import torch

        torch.manual_seed(seed)


def _generator(seed: int | None):
    import torch

    generator = torch.Generator()
    if seed is not None:
        generator.manual_seed(seed)
    else:
        generator.seed()
    return generator


# ---------------------------------------------------------------------------------------------------
# parser and entry point


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="vidstyle", description="Repaint images and video in the style of an artwork, without flicker.")
    parser.add_argument("--version", action="version", version=f"vidstyle {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    image = commands.add_parser("image", help="stylise one still image (Gatys et al.)",
                                description="Stylise one still image (Gatys et al. 2015).")
    image.add_argument("content", metavar="CONTENT", help="content image")
    _add_style_arguments(image)
    image.add_argument("-o", "--output", required=True, help="output image (format from the extension)")
    _add_config_options(image, "style")
    _add_common(image)
    image.set_defaults(func=cmd_image)

    stylize = commands.add_parser(
        "stylize", help="stylise a video file or a frame sequence (Ruder et al.)",
        description="Stylise a video file or a frame sequence with flow-warped temporal consistency. "
        "INPUT and OUTPUT are video files (audio and timing kept) or frame patterns such as "
        "shot.####.exr, shot.%%04d.png, shot.@.png or shot.1001-1100#.exr.",
    )
    stylize.add_argument("input", metavar="INPUT", help="video file or frame-sequence pattern")
    _add_style_arguments(stylize)
    stylize.add_argument("-o", "--output", required=True, help="video file or frame-sequence pattern")
    stylize.add_argument("--frames", metavar="RANGE", help="frames of a sequence to render, e.g. 1001-1100 or 1001-1100x2")
    stylize.add_argument("--fps", metavar="RATE", help="frame rate when a sequence becomes a video (e.g. 24 or 24000/1001)")
    stylize.add_argument("--start-number", type=int, default=1, metavar="N", help="number of the first frame when a video becomes a sequence (default: 1)")
    stylize.add_argument("--no-temporal", action="store_true", help="stylise every frame on its own from its content (the flicker baseline)")
    stylize.add_argument("--long-term", metavar="OFFSETS", help="frames the temporal term looks back to, e.g. 1,2,4 (default: 1)")
    _add_config_options(stylize, "style", "video", "encode")
    _add_common(stylize)
    stylize.set_defaults(func=cmd_stylize)
    return parser


def _add_style_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-s", "--style", action="append", required=True, metavar="STYLE",
                        help="style image; repeat for several styles (their Grams are blended)")
    parser.add_argument("--style-weights", nargs="+", metavar="W",
                        help="one weight per style image (e.g. 0.7 0.3 or 0.7,0.3; default equal)")


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")


def _version() -> str:
    from . import __version__

    return __version__


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    debug = getattr(args, "debug", False)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("vidstyle: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:  # noqa: BLE001 - every failure becomes one line unless --debug
        if debug:
            raise
        code, message = _classify(error)
        print(f"vidstyle: error: {message}", file=sys.stderr)
        return code


def _classify(error: Exception) -> tuple[int, str]:
    """Exit code and one-line message for an exception."""
    from .features import WeightsError

    message = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, (UsageError, ValueError, WeightsError, FileNotFoundError)):
        return EXIT_USAGE, message
    if isinstance(error, MemoryError) or "out of memory" in message.lower():
        return EXIT_FAILURE, f"out of memory: {message} (try a smaller --size)"
    if isinstance(error, OSError):
        return EXIT_FAILURE, f"{error.strerror or message}: {error.filename}" if error.filename else message
    return EXIT_FAILURE, f"{type(error).__name__}: {message}"


if __name__ == "__main__":
    sys.exit(main())
