"""``vidstyle image``: one still image (Gatys et al. 2015)."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time

from . import options


def add_parser(commands) -> argparse.ArgumentParser:
    image = commands.add_parser("image", help="stylise one still image (Gatys et al.)",
                                description="Stylise one still image (Gatys et al. 2015).")
    image.add_argument("content", metavar="CONTENT", help="content image")
    options.add_style_arguments(image)
    image.add_argument("-o", "--output", required=True, help="output image (format from the extension)")
    options.add_config_options(image, "style", "optimizer", "engine", "device")
    options.add_common(image)
    image.set_defaults(func=run)
    return image


def run(args: argparse.Namespace) -> int:
    """Read the files, call :func:`vidstyle.api.stylize_image` with a progress bar, write the result."""
    from ..api import stylize_image
    from ..frames import resize
    from ..io.image import format_for, read_image, write_image
    from ..io.paths import check_output

    config = options.config_from(args)
    weights = options.style_weights(args.style_weights, len(args.style))
    output = check_output(args.output, [args.content, *args.style], args.overwrite)
    content, alpha, content_format = read_image(args.content)
    styles = options.read_style_images(args.style)
    out_format = format_for(output, like=content_format)  # raises for an unsupported extension, before any work

    started = time.perf_counter()
    # The arbitrary engine is one pass: no iterations to show.
    bar = options.iterations_bar(config.iters, "stylising") if config.engine == "optimizer" else contextlib.nullcontext(None)
    with bar as show:
        image = stylize_image(content, styles, config, style_weights=weights, progress=show)
    size = (image.shape[1], image.shape[0])
    write_image(output, image, None if alpha is None else resize(alpha, size), out_format)
    print(f"wrote {output} ({size[0]}x{size[1]}) in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0
