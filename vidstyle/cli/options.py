"""What every command shares: the parser class, options generated from :class:`~vidstyle.config.StyleConfig`,
the style arguments, value parsers and the console progress bar.

Options that set a config field are generated from the dataclass (help text in the field's metadata,
default read from the preset the command uses), in the option groups the config assigns, so no
default is written twice and ``--help`` prints each one once.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import re
import types
import typing
from collections.abc import Callable, Iterator
from fractions import Fraction
from typing import Any

from ..config import StyleConfig
from ..errors import UsageError

EXIT_USAGE = 2

# The headings of the config's option groups in --help.
GROUP_TITLES = {
    "style": "style (what the result looks like)",
    "optimizer": "optimiser",
    "engine": "engine (what computes a frame)",
    "device": "device and network",
    "colour": "colour management (OpenColorIO; $OCIO, else the built-in ACES CG config)",
    "video": "video and temporal consistency",
    "scale": "scale-out (shots on several workers)",
    "encode": "video encoding",
    "train": "training",
}


class Parser(argparse.ArgumentParser):
    # argparse prints the whole usage before its error; one line is easier to read in a log.
    def error(self, message: str) -> typing.NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _field_type(field: dataclasses.Field, cls: type = StyleConfig) -> type:
    hint = typing.get_type_hints(cls)[field.name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        hint = args[0]
    return hint


def add_config_options(parser: argparse.ArgumentParser, *groups: str, defaults: Any = None,
                       exclude: tuple[str, ...] = (), only: tuple[str, ...] | None = None) -> None:
    """Add an option for each config field of ``groups`` (``only``: just these fields, whatever their
    group), under the group's heading; help and defaults from the config (``defaults``: the
    command's preset, a :class:`StyleConfig` or another config dataclass such as
    :class:`~vidstyle.config.TrainConfig`)."""
    defaults = defaults or StyleConfig()
    cls = type(defaults)
    fields = [f for f in dataclasses.fields(cls) if "help" in f.metadata and (f.name in only if only else f.metadata["group"] in groups)
              and f.name not in exclude]
    # The headings in GROUP_TITLES' order (style, optimiser, engine, ...), whatever the fields' order.
    used = {f.metadata["group"] for f in fields}
    order = [g for g in GROUP_TITLES if g in used] + sorted(used - set(GROUP_TITLES))
    sections = {group: parser.add_argument_group(GROUP_TITLES.get(group, group)) for group in order}
    for field in fields:
        group = field.metadata["group"]
        flag = "--" + field.name.replace("_", "-")
        kind = _field_type(field, cls)
        default = getattr(defaults, field.name)
        # Each default printed once: a help text that states its own ("(default: --iters × 3)")
        # keeps it, unless the command's preset sets another value, which then replaces it.
        shown = f"{default:g}" if isinstance(default, float) else default
        help_text = field.metadata["help"]
        stated = "default: " in help_text
        if stated and default is not None and default != field.default:
            help_text, stated = re.sub(r"\s*\(default: [^)]*\)", "", help_text), False
        if not (default is None or kind is bool or stated):
            help_text += f" (default: {shown})"
        if kind is bool:
            sections[group].add_argument(flag, action="store_true", default=None, help=help_text)
        else:
            sections[group].add_argument(
                flag, type=checked(kind, flag), default=None, choices=field.metadata.get("choices"),
                metavar=field.name.split("_")[-1].upper() if "choices" not in field.metadata else None, help=help_text,
            )


def checked(kind: type, flag: str):
    """An argparse type that names the expected type in its error."""
    def convert(text: str):
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {kind.__name__}, got {text!r}") from None

    convert.__name__ = kind.__name__
    return convert


def config_from(args: argparse.Namespace, base: StyleConfig | None = None, **extra: Any) -> StyleConfig:
    """The config of a command: ``base`` (its preset) with the options given on the command line."""
    values = {f.name: getattr(args, f.name, None) for f in dataclasses.fields(StyleConfig)}
    values.update(extra)
    return (base or StyleConfig()).with_(**values).validate()


def add_style_arguments(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument("-s", "--style", action="append", required=required, metavar="STYLE",
                        help="style image; repeat for several styles (their Grams are blended)")
    parser.add_argument("--style-weights", nargs="+", metavar="W",
                        help="one weight per style image (e.g. 0.7 0.3 or 0.7,0.3; default equal)")


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")


def style_weights(text_values: list[str] | None, styles: int) -> list[float] | None:
    """``--style-weights`` as numbers, one per style image; None when not given."""
    if not text_values:
        return None
    try:
        weights = [float(part) for value in text_values for part in value.split(",") if part]
    except ValueError:
        raise UsageError(f"--style-weights: expected numbers, got {' '.join(text_values)!r}") from None
    if len(weights) != styles:
        raise UsageError(f"--style-weights: got {len(weights)} weight(s) for {styles} style(s)")
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise UsageError(f"--style-weights must be >= 0 and not all zero, got {weights}")
    return weights


def style_keys(text: str | None, style_weights: list[str] | None, styles: int):
    """``--style-keys`` as a :class:`vidstyle.style_keys.StyleKeys`, or None when not given."""
    if text is None:
        return None
    if style_weights:
        raise UsageError("--style-keys and --style-weights both set the style blend; give one of them")
    from ..style_keys import StyleKeys

    try:
        return StyleKeys.parse(text, styles)
    except ValueError as error:
        raise UsageError(str(error)) from None


def long_term(text: str | None) -> tuple[int, ...] | None:
    """``--long-term 1,2,4`` as sorted offsets (the rule that 1 is among them is the config's)."""
    if text is None:
        return None
    try:
        offsets = tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    except ValueError:
        raise UsageError(f"--long-term: expected frame offsets like 1,2,4, got {text!r}") from None
    if not offsets:
        raise UsageError(f"--long-term: expected frame offsets like 1,2,4, got {text!r}")
    return offsets


def frame_rate(text: str) -> Fraction:
    """``--fps``: 24, 23.976, 24000/1001 or 30000:1001."""
    try:
        value = Fraction(text.replace(":", "/")) if "/" in text or ":" in text else Fraction(float(text)).limit_denominator(1001)
    except (ValueError, ZeroDivisionError):
        raise UsageError(f"--fps: expected a rate like 24, 23.976 or 24000/1001, got {text!r}") from None
    if value <= 0:
        raise UsageError(f"--fps must be > 0, got {text}")
    return value


def pixel_size(text: str) -> tuple[int, int]:
    """``WxH`` (or ``N`` for N x N) -> (width, height), for argparse."""
    parts = text.lower().split("x")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        values = []
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or min(values) <= 0:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT in pixels, e.g. 256x256, got {text!r}")
    return values[0], values[1]


def read_style_images(paths: list[str]):
    from ..io.image import read_image

    return [read_image(p)[0] for p in paths]


def seed_torch(seed: int | None) -> None:
    if seed is not None:
        import torch

        torch.manual_seed(seed)


def generator(seed: int | None):
    import torch

    gen = torch.Generator()
    if seed is not None:
        gen.manual_seed(seed)
    else:
        gen.seed()
    return gen


# ---------------------------------------------------------------------------------------------------
# progress on the console


def progress_bar(total: int | None, desc: str, **kwargs):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, dynamic_ncols=True, leave=False, **kwargs)


@contextlib.contextmanager
def iterations_bar(total: int, desc: str) -> Iterator[Callable[[Any], None]]:
    """A bar of one image's optimiser iterations; yields the optimiser's progress callback. The bar
    appears at the first iteration, so a check that fails before any work (a bad file, a device)
    prints its one line alone."""
    bars: list[Any] = []

    def show(progress) -> None:
        if not bars:
            bars.append(progress_bar(total, desc, unit="it"))
        bar = bars[0]
        bar.total = progress.total  # coarse-to-fine counts the coarser scales' iterations too
        bar.n = progress.iteration
        bar.set_postfix_str(f"loss {progress.loss:.4g}", refresh=True)

    try:
        yield show
    finally:
        for bar in bars:
            bar.close()


class FramesBar:
    """A tqdm bar of frames as a :class:`vidstyle.render.RenderProgress` (and its context manager):
    the frame count, the current frame's iterations and loss, the last frame's time."""

    def __init__(self, total: int | None):
        self.bar = progress_bar(total, "frames", unit="frame")

    def __enter__(self) -> "FramesBar":
        return self

    def __exit__(self, *exc_info) -> None:
        self.bar.close()

    def describe(self, label: str) -> None:
        """Name what the bar counts (a multi-pass render's "pass 2/4")."""
        self.bar.set_description_str(label)

    def advance(self, frames: int, report=None) -> None:
        self.bar.update(frames)
        if report is not None:
            loss = f"loss {report.loss:.3g}, " if report.iterations else ""  # an engine that does not iterate has none
            self.bar.set_postfix_str(f"{loss}{report.seconds:.2f} s/frame" + (" (cut)" if report.scene_cut else ""))

    def iteration(self, progress) -> None:
        self.bar.set_postfix_str(f"it {progress.iteration}/{progress.total} loss {progress.loss:.3g}", refresh=False)
