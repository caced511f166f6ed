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
