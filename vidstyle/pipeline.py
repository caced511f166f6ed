"""From a :class:`~vidstyle.request.StylizeRequest` to a finished output.

Checks what can be checked before any work (output paths, working size, memory, the matte), opens
the source, the sink and the resume state, builds the engine, and runs the one frame loop
(:func:`vidstyle.render.render`) or, with ``--backend ray`` / ``--devices``, the scale-out
(:mod:`vidstyle.shots`), whose workers run the same loop. ``vidstyle stylize`` is this function
behind argument parsing.
"""

from __future__ import annotations

import dataclasses
import os
import platform
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from .config import EXECUTION_FIELDS, DeflickerSettings, StyleConfig
from .engines import build_engine, check_model_request
from .errors import Interrupted, OutOfMemoryError, UsageError
from .io.media import Sink, Source, is_pattern, open_sink, open_source
from .io.paths import check_output, same_file
from .render import RenderProgress, RenderResult, render
from .request import DeflickerRequest, StylizeRequest

__all__ = ["ProgressFactory", "check_memory", "check_resynthesis", "deflicker_video", "refuse_writing_over_input", "render_settings", "stylize_video"]

# Makes the progress display of a render of ``total`` frames (None: unknown), closed at the end.
ProgressFactory = Callable[[int | None], AbstractContextManager[RenderProgress]]


def check_memory(size: tuple[int, int], config: StyleConfig, device: Any, needed: int | None = None,
                 advice: str = "use a smaller --size") -> None:
    """Refuse a working size whose optimisation cannot fit, before any work starts. ``needed``:
    the bytes a frame needs, when not the optimiser's (:func:`vidstyle.optimize.memory_needed`)."""
    from .device import available_memory
    from .optimize import memory_needed

    if needed is None:
        needed = memory_needed(size[0], size[1], config)
    free = available_memory(device)
    if free is not None and needed > free:
        raise OutOfMemoryError(
            f"a {size[0]}x{size[1]} frame needs about {needed / 2**30:.1f} GiB on {device} but {free / 2**30:.1f} GiB "
            f"is free; {advice}"
        )


def check_resynthesis(size: tuple[int, int], config: StyleConfig, settings: DeflickerSettings | None) -> None:
    """Refuse, before any work starts, a deflicker re-synthesis (``--resynth-iters``) that could not
    run: its VGG weights file missing, its device absent, or its VGG pass too big for the frame
    size; nothing to check when it is off (the stage loads VGG only at its second frame)."""
    if settings is None or not settings.resynth_iters:
        return
    from .device import resolve_device
    from .resynthesis import memory_needed

    if config.weights is not None and not os.path.isfile(config.weights):
        raise UsageError(f"weights file not found: {config.weights}")
    check_memory(size, config, resolve_device(config.device), memory_needed(*size, config.style_layers),
                 advice="the deflicker's texture re-synthesis works at the frame's size: turn it off or give smaller frames")


def refuse_writing_over_input(source: Source, sink: Sink) -> None:
    """Refuse, before rendering, an output sequence that names input frames: ``shot.@.png`` or
    ``shot.%d.png`` out of ``shot.####.png`` are the same files from frame 1000 on."""
    from .io.sequence import SequenceReader

    if not isinstance(source.reader, SequenceReader):
        return
    for number in source.reader.numbers:
        path = sink.path_for(number)
        if path is None:
            return
        if same_file(path, source.reader.path_for(number)):
            raise UsageError(f"output frame {path} is the input frame {number}; choose another output pattern")


def render_settings(request: StylizeRequest, size: tuple[int, int], source: Source | None = None) -> dict[str, Any]:
    """What a sequence render records beside its frames (the settings sidecar): everything that
    decides the frames, so that a rerun with other settings is refused instead of mixing frames.

    ``source``: the opened input; its colour pipeline, as resolved (the config $OCIO named and
    its id, the colour spaces a default chose), is recorded beside the options in ``config``, so a
    rerun under another $OCIO or with other colour settings is refused too."""
    import torch

    from . import __version__
    from .io.mask import mask_record
    from .io.resume import file_digest

    return {
        "input": os.path.abspath(request.input),
        "styles": [{"path": os.path.abspath(p), "sha256": file_digest(p)} for p in request.styles],
        "style_weights": request.blend_weights(),
        "model": {"path": os.path.abspath(request.model), "sha256": file_digest(request.model)} if request.model else None,
        "init_model": {"path": os.path.abspath(request.init_model), "sha256": file_digest(request.init_model)} if request.init_model else None,
        "style_keys": request.style_keys.record() if request.style_keys is not None else None,
        "mask": mask_record(request.mask),
        "deflicker": request.deflicker.record() if request.deflicker is not None else None,
        "size": list(size),
        "config": {k: v for k, v in dataclasses.asdict(request.config).items() if k not in EXECUTION_FIELDS},
        "colour": colour_record(request.output, request.config.output_colorspace, source),
        "versions": {"vidstyle": __version__, "torch": torch.__version__, "python": platform.python_version()},
    }


def colour_record(output: str, output_colorspace: str | None, source: Source | None) -> dict[str, Any] | None:
    """The resolved colour pipeline a sequence render (stylize's, deflicker's) records: the
    source's, with the output side as the sink will choose it for ``output`` (None: not
    colour-managed)."""
    from .io.sequence import SequenceReader, SequenceWriter

    if source is None or source.colour is None or not isinstance(source.reader, SequenceReader):
        return None
    resolved = source.colour
    if is_pattern(output):  # the output side as the sink will choose it (open_sink)
        resolved = source.colour.for_output(output_colorspace, SequenceWriter(output, fmt=source.reader.format).format)
    return resolved.record()


def _check_paths(request: StylizeRequest) -> bool:
    """Refuse outputs that would overwrite the input or an existing file; True for a sequence output."""
    from .io.sequence import parse_pattern

    sequence_out = is_pattern(request.output)
    if not sequence_out:
        models = [m for m in (request.model, request.init_model) if m]
        check_output(request.output, [request.input, *request.styles, *models], request.overwrite)
    elif is_pattern(request.input) and same_file(parse_pattern(request.input).frame(0), parse_pattern(request.output).frame(0)):
        raise UsageError(f"output pattern {request.output} is the input pattern; choose another name")
    return sequence_out


def stylize_video(request: StylizeRequest, progress: ProgressFactory | None = None) -> RenderResult:
    """Render ``request``; returns what the render did (its :meth:`~RenderResult.summary` is the line
    ``vidstyle stylize`` prints).

    Raises:
        UsageError and the I/O modules' ``ValueError`` subclasses for bad input, before any frame is
        rendered where they can be known then; whatever the engine raises while running. Nothing
        already final (a sequence's written frames) is removed; a partial video file is.
    """
    from .device import configure_cpu_threads, resolve_device
    from .frames import working_size
    from .io.image import read_image

    config = request.config.validate()
    device = resolve_device(config.device)
    sequence_out = _check_paths(request)

    from .io.colour import ColourOptions

    source = open_source(request.input, request.frames, ColourOptions.from_config(config))
    if request.fps is not None and not source.is_sequence:
        raise UsageError("--fps sets the rate of a frame sequence; a video input keeps its own timing")
    if request.model and request.styles:
        raise UsageError("--model brings its own styles; drop -s (or use --init-model to start the optimiser from a model)")
    if not request.model and not request.styles:
        raise UsageError("expected a style image (-s STYLE) or a trained model (--model MODEL)")
    if request.model and request.init_model:
        raise UsageError("--model renders with the network alone; --init-model starts the optimiser from one: give one of them")
    styles = [read_image(p)[0] for p in request.styles]
    size = working_size(source.width, source.height, config.size, config.upscale)
    if request.init_model and config.init == "arbitrary":
        raise UsageError("--init arbitrary and --init-model both choose the optimiser's start; give one of them")
    if request.model and config.engine != "optimizer":
        raise UsageError("--model renders with a trained network; --engine arbitrary with the decoders: give one of them")
    if config.passes > 1 and (request.model or request.mask):
        raise UsageError("--passes refines frames with the optimiser: it takes no --model and no --mask")
    if config.passes > 1 and request.deflicker is not None:
        raise UsageError("--passes makes the optimiser's frames consistent itself: it takes no --deflicker")
    if request.deflicker is not None:
        request.deflicker.validate()
        check_resynthesis(size, config, request.deflicker)
    if request.model:
        check_model_request(request, size)
    elif config.engine == "optimizer":
        check_memory(size, config, device)
    masks = None
    if request.mask:
        from .io.mask import open_mask

        masks = open_mask(request.mask, source, size)

    resume = None
    if sequence_out:
        from .io.resume import open_resume

        resume = open_resume(request.output, render_settings(request, size, source), request.overwrite, refuse=UsageError)
    sink = open_sink(request.output, source, size, fps=request.fps, codec=config.codec, crf=config.crf, pix_fmt=config.pix_fmt,
                     preset=config.encoder_preset, output_colorspace=config.output_colorspace)
    try:
        refuse_writing_over_input(source, sink)
    except BaseException:
        sink.abort()
        raise
    if config.backend == "ray" or config.devices:
        from .shots.render import render_shots

        try:
            shots = render_shots(request, source, size, styles, sink, resume, progress)
        except KeyboardInterrupt as stop:
            raise interrupted(stop, sequence_out) from None
        return _say_plate_size(shots, source, size, sequence_out)

    if config.passes > 1:
        from .passes import render_multipass

        configure_cpu_threads(config.threads)
        try:
            # Each sweep reads the input afresh, with the same colour pipeline as this source.
            result = render_multipass(request, size, styles, device, sink, resume, progress,
                                      lambda: open_source(request.input, request.frames, ColourOptions.from_config(config)),
                                      render_settings(request, size, source))
        except KeyboardInterrupt as stop:
            raise interrupted(stop, sequence_out) from None
        return _say_plate_size(result, source, size, sequence_out)

    try:
        configure_cpu_threads(config.threads)
        engine = build_engine(request, size, styles, device)
        if masks is not None:
            from .io.mask import MaskedEngine

            engine = MaskedEngine(engine, masks, at_plate=sequence_out and source.is_sequence)
    except BaseException:
        sink.abort()
        raise
    try:
        if progress is None:
            result = render(source, engine, sink, resume=resume, start_number=request.start_number)
        else:
            with progress(source.count) as shown:
                result = render(source, engine, sink, resume=resume, start_number=request.start_number, progress=shown)
    except KeyboardInterrupt as stop:
        raise interrupted(stop, sequence_out) from None
    return _say_plate_size(result, source, size, sequence_out)


def interrupted(stop: KeyboardInterrupt, sequence_out: bool) -> Interrupted:
    """What a render stopped by Ctrl+C or SIGTERM kept, as the :class:`Interrupted` it raises."""
    if isinstance(stop, Interrupted):
        return stop
    if sequence_out:
        return Interrupted("the frames written so far are kept; the same command resumes after them")
    return Interrupted("the unfinished video was removed")


def _say_plate_size(result: RenderResult, source: Source, size: tuple[int, int], sequence_out: bool) -> RenderResult:
    """A sequence of a sequence is written at the plate's size: say so when the frames were
    stylised smaller (a user reading 2048x1080 files should know they hold 512 px of detail)."""
    plate = (source.width, source.height)
    if sequence_out and source.is_sequence and size != plate:
        result.details = (*result.details, f"stylised at {size[0]}x{size[1]}, written at the plate's {plate[0]}x{plate[1]}")
    return result


def deflicker_video(request: DeflickerRequest, progress: ProgressFactory | None = None) -> RenderResult:
    """Render ``request`` (:mod:`vidstyle.deflicker`) through the one frame loop; returns what it did.

    Raises UsageError for inputs whose frame counts differ (both named), outputs that would replace
    an input, and the I/O modules' errors for unreadable inputs; nothing is written on such failures."""
    import torch

    from . import __version__
    from .deflicker import DeflickerEngine
    from .device import configure_cpu_threads

    config = request.config.validate()
    strengths = request.settings.validate()
    sequence_out = is_pattern(request.output)
    if sequence_out:
        for name in (request.processed, request.original):
            if is_pattern(name) and same_file(_first_frame(name), _first_frame(request.output)):
                raise UsageError(f"output pattern {request.output} is an input pattern; choose another name")
    else:
        check_output(request.output, [request.processed, request.original], request.overwrite)
    from .io.colour import ColourOptions

    # Colour-managed as stylize's input is (vidstyle.io.colour): an EXR is held through the view
    # the network would see it through, and the sink puts the change back into the plate, so its
    # highlights above 1.0 survive (the plain path would clip them at 1.0).
    colour = ColourOptions.from_config(config)
    processed = open_source(request.processed, request.frames if is_pattern(request.processed) else None, colour)
    original = open_source(request.original, request.frames if is_pattern(request.original) else None, colour)
    processed_count, original_count = _frame_count(processed), _frame_count(original)
    if processed_count is not None and original_count is not None and processed_count != original_count:
        raise UsageError(f"{request.processed} has {processed_count} frames but {request.original} has {original_count}; "
                         "expected the same count")
    if request.fps is not None and not processed.is_sequence:
        raise UsageError("--fps sets the rate of a frame sequence; a video input keeps its own timing")
    size = (processed.width, processed.height)
    check_resynthesis(size, config, strengths)
    resume = None
    if sequence_out:
        from .io.resume import open_resume

        settings = {
            "command": "deflicker",
            "processed": os.path.abspath(request.processed),
            "original": os.path.abspath(request.original),
            **strengths.record(),
            "config": {k: getattr(config, k) for k in ("flow", "flow_preset", "flow_scale", "long_term", "scene_cut_reliable", "still_threshold",
                                                       "colorspace", "output_colorspace", "display", "view")},
            "colour": colour_record(request.output, config.output_colorspace, processed),
            "versions": {"vidstyle": __version__, "torch": torch.__version__, "python": platform.python_version()},
        }
        resume = open_resume(request.output, settings, request.overwrite, refuse=UsageError)
    sink = open_sink(request.output, processed, size, fps=request.fps, codec=config.codec, crf=config.crf, pix_fmt=config.pix_fmt,
                     preset=config.encoder_preset, output_colorspace=config.output_colorspace)
    try:
        refuse_writing_over_input(processed, sink)
        refuse_writing_over_input(original, sink)
    except BaseException:
        sink.abort()
        raise
    configure_cpu_threads(config.threads)
    engine = DeflickerEngine(original.frames, size, config, strengths)
    try:
        if progress is None:
            return render(processed, engine, sink, resume=resume, start_number=request.start_number)
        with progress(processed_count) as shown:  # counted where the header gives none
            return render(processed, engine, sink, resume=resume, start_number=request.start_number, progress=shown)
    except KeyboardInterrupt as stop:
        raise interrupted(stop, sequence_out) from None


def _frame_count(source: Source) -> int | None:
    """Frames a source holds: its header's count, else its packets counted (a container without a
    count, a still), so that inputs of different lengths are refused before anything is written."""
    from .io.video import VideoReader, count_frames

    if source.count is not None or not isinstance(source.reader, VideoReader):
        return source.count
    return count_frames(source.path)


def _first_frame(pattern: str) -> str:
    from .io.sequence import parse_pattern

    return parse_pattern(pattern).frame(0)

