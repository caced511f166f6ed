"""``vidstyle texture``: texture synthesis (Gatys et al. 2015), the style loss alone from seeded noise."""

from __future__ import annotations

import argparse
import sys
import time

from . import options


def add_parser(commands) -> argparse.ArgumentParser:
    texture = commands.add_parser("texture", help="synthesise a texture from a style image (Gatys et al.)",
                                  description="Texture synthesis (Gatys et al. 2015): an image of any size whose Gram "
                                  "statistics match the style image(s), optimised from seeded noise with no content.")
    options.add_style_arguments(texture)
    texture.add_argument("-o", "--output", required=True, help="output image (format from the extension)")
    texture.add_argument("--size", dest="texture_size", type=options.pixel_size, required=True, metavar="WxH",
                         help="output width x height in pixels, e.g. 256x256 (N alone means NxN)")
    options.add_config_options(texture, "style", "optimizer", "device", exclude=("size", "content_weight", "init", "preserve_colors"))
    options.add_common(texture)
    texture.set_defaults(func=run)
    return texture


def run(args: argparse.Namespace) -> int:
    """Check the output path, call :func:`vidstyle.api.synthesize_texture` with a progress bar, write it."""
    from ..api import synthesize_texture
    from ..io.image import format_for, write_image
    from ..io.paths import check_output

    width, height = args.texture_size
    config = options.config_from(args)
    weights = options.style_weights(args.style_weights, len(args.style))
    output = check_output(args.output, list(args.style), args.overwrite)
    out_format = format_for(output)  # raises for an unsupported extension, before any work
    styles = options.read_style_images(args.style)
    started = time.perf_counter()
    with options.iterations_bar(config.iters, "synthesising") as show:
        texture = synthesize_texture(styles, (width, height), config, style_weights=weights, progress=show)
    write_image(output, texture, None, out_format)
    print(f"wrote {output} ({width}x{height}) in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0
