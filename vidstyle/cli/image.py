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
    options.add_config_options(image, "style", "optimizer", "engine", "device", "colour")
    options.add_common(image)
    image.set_defaults(func=run)
    return image


def run(args: argparse.Namespace) -> int:
    """Read the files, call :func:`vidstyle.api.stylize_image` with a progress bar, write the result."""
    from ..api import stylize_image
    from ..frames import Plate, resize
    from ..io.colour import ColourOptions, plate_colour
    from ..io.image import as_picture, format_for, read_raw, write_image, write_raw
    from ..io.paths import check_output

    config = options.config_from(args)
    weights = options.style_weights(args.style_weights, len(args.style))
    output = check_output(args.output, [args.content, *args.style], args.overwrite)
    raw = read_raw(args.content)
    # An EXR (or any file, with a colour option) is colour-managed: the network sees the view of
    # the plate, and the result is written back with the plate's dynamic range (vidstyle.io.colour).
    colour = plate_colour(ColourOptions.from_config(config), raw, args.content)
    plate = None
    if colour is None:
        content, alpha, content_format = as_picture(raw)
    else:
        content, linear = colour.to_working(raw.values)
        alpha, content_format, plate = raw.alpha, raw.format, Plate(linear, content)
    styles = options.read_style_images(args.style)
    out_format = format_for(output, like=content_format)  # raises for an unsupported extension, before any work
    out_colour = colour.for_output(config.output_colorspace, out_format) if colour is not None else None

    started = time.perf_counter()
    # The arbitrary engine is one pass: no iterations to show.
    bar = options.iterations_bar(config.iters, "stylising") if config.engine == "optimizer" else contextlib.nullcontext(None)
    with bar as show:
        image = stylize_image(content, styles, config, style_weights=weights, progress=show)
    size = (image.shape[1], image.shape[0])
    alpha = None if alpha is None else resize(alpha, size)
    if out_colour is not None and plate is not None and out_colour.output_colorspace is not None:
        values = out_colour.to_output(out_colour.restore_at(plate, image))
        write_raw(output, values, alpha, out_format, out_colour.output_chromaticities)
    else:
        write_image(output, image, alpha, out_format)
    print(f"wrote {output} ({size[0]}x{size[1]}) in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0
