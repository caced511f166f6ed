"""``vidstyle image``: one still image (Gatys et al. 2015)."""

from __future__ import annotations

import argparse
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
    from ..device import configure_cpu_threads, resolve_device
    from ..frames import resize, working_size
    from ..io.image import format_for, read_image, write_image
    from ..io.paths import check_output
    from ..optimize import Stylizer, image_to_tensor, tensor_to_image
    from ..pipeline import check_memory

    config = options.config_from(args)
    weights = options.style_weights(args.style_weights, len(args.style))
    device = resolve_device(config.device)
    output = check_output(args.output, [args.content, *args.style], args.overwrite)
    content, alpha, content_format = read_image(args.content)
    styles = options.read_style_images(args.style)
    out_format = format_for(output, like=content_format)  # raises for an unsupported extension, before any work

    configure_cpu_threads(config.threads)
    options.seed_torch(config.seed)
    size = working_size(content.shape[1], content.shape[0], config.size, config.upscale)
    started = time.perf_counter()
    if config.engine == "arbitrary":
        from ..model.arbitrary import build_arbitrary

        arbitrary = build_arbitrary(config, styles, size, device)
        result = arbitrary.stylize(image_to_tensor(resize(content, size), device), weights)
    else:
        stylizer = Stylizer(config, styles, weights, device=device)
        check_memory(size, config, device)
        content_tensor = image_to_tensor(resize(content, size), device)
        init = None
        if config.init == "arbitrary":  # start from the decoders' output (issue 17)
            from ..model.arbitrary import build_arbitrary

            init = build_arbitrary(config, styles, size, device, network=stylizer.network).stylize(content_tensor, weights)
        with options.iterations_bar(config.iters, "stylising") as show:
            result = stylizer.stylize(content_tensor, init=init, callback=show, generator=options.generator(config.seed))
    image = tensor_to_image(result)
    write_image(output, image, None if alpha is None else resize(alpha, size), out_format)
    print(f"wrote {output} ({size[0]}x{size[1]}) in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0
