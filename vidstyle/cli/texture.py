"""``vidstyle texture``: texture synthesis (Gatys et al. 2015), the style loss alone from seeded noise."""

from __future__ import annotations

import argparse
import sys
import time

from ..errors import UsageError
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


def check_network_fits(size: tuple[int, int], styles, config) -> None:
    """Refuse an output, or a style image scaled for it, too small for the deepest style layer."""
    from ..bench import check_size_for_layers
    from ..frames import fit_longest_side

    try:
        check_size_for_layers(size[0], size[1], config.style_layers)
    except ValueError as error:
        raise UsageError(str(error)) from None
    longest = max(1, round(config.style_scale * max(size)))
    for style in styles:
        width, height = fit_longest_side(style.shape[1], style.shape[0], longest)
        try:
            check_size_for_layers(width, height, config.style_layers)
        except ValueError:
            raise UsageError(f"--size {size[0]}x{size[1]}: a style image scaled to it is {width}x{height}, too small "
                             "for the network's deepest style layer; raise --size or --style-scale") from None


def run(args: argparse.Namespace) -> int:
    import torch

    from ..device import configure_cpu_threads, resolve_device
    from ..io.image import format_for, write_image
    from ..io.paths import check_output
    from ..optimize import Stylizer, tensor_to_image
    from ..pipeline import check_memory

    width, height = args.texture_size
    # Content weight 0 and noise init make Stylizer.stylize a texture synthesiser; the content
    # tensor only gives the size.
    config = options.config_from(args, content_weight=0.0, init="noise", preserve_colors=False, size=max(width, height))
    weights = options.style_weights(args.style_weights, len(args.style))
    device = resolve_device(config.device)
    output = check_output(args.output, list(args.style), args.overwrite)
    out_format = format_for(output)  # raises for an unsupported extension, before any work
    styles = options.read_style_images(args.style)
    check_network_fits((width, height), styles, config)
    check_memory((width, height), config, device)

    configure_cpu_threads(config.threads)
    options.seed_torch(config.seed)
    stylizer = Stylizer(config, styles, weights, device=device)
    started = time.perf_counter()
    with options.iterations_bar(config.iters, "synthesising") as show:
        result = stylizer.stylize(torch.zeros(1, 3, height, width, device=device), callback=show,
                                  generator=options.generator(config.seed))
    write_image(output, tensor_to_image(result), None, out_format)
    print(f"wrote {output} ({width}x{height}) in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0
