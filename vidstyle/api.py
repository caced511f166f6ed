"""vidstyle's public Python API: the calls the command line makes, for scripts, notebooks and hosts.

Everything here is re-exported by ``vidstyle`` itself (``vidstyle.stylize_image`` ...), and that is
the stable surface (docs/API.md, "What is public"). Images are float32 NumPy arrays (H, W, 3), RGB
in [0, 1], sRGB-encoded, as :func:`vidstyle.io.image.read_image` returns them; sizes are (width,
height); every default comes from :mod:`vidstyle.config`. Errors are :mod:`vidstyle.errors`'.

This module only assembles: each function builds the request the command line would build and
hands it to the part of the library that owns the work (the optimiser, the frame loop, training).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

from .config import StyleConfig, TrainConfig

if TYPE_CHECKING:
    from .engine import FrameReport
    from .model.file import ModelInfo
    from .model.network import TransferNet
    from .model.train import TrainResult
    from .optimize import Progress
    from .render import RenderResult

__all__ = ["load_model", "stylize_image", "stylize_video", "synthesize_texture", "train_model"]

PathLike = str | os.PathLike


def stylize_image(content: np.ndarray, styles: np.ndarray | Sequence[np.ndarray], config: StyleConfig | None = None, *,
                  style_weights: Sequence[float] | None = None, progress: Callable[["Progress"], None] | None = None) -> np.ndarray:
    """One still, stylised: what ``vidstyle image`` computes.

    Args:
        content: the photo, float32 (H, W, 3) RGB in [0, 1].
        styles: one style image or several (each float32 (h, w, 3) in [0, 1]); several blend by
            their Grams (optimiser) or feature statistics (``engine="arbitrary"``).
        config: the settings (default :class:`StyleConfig`: 512 px on the longer side, never
            above the photo's own unless ``upscale``; 300 L-BFGS iterations; the optimiser engine;
            ``init="arbitrary"`` starts it from the arbitrary-style decoders' output).
        style_weights: one weight per style (not normalised); None: equal.
        progress: called with a :class:`~vidstyle.optimize.Progress` (iteration, total, loss) after
            every window of 10 optimiser iterations and after the last (the loss is read from the
            device once a window); never called by the one-pass arbitrary engine.
    Returns:
        float32 (h, w, 3) in [0, 1] at the working size (see ``config.size``).
    Raises:
        UsageError: a setting out of range, a style list that does not match ``style_weights``.
        OutOfMemoryError: the working size cannot fit on the device.
    """
    from .device import configure_cpu_threads, resolve_device
    from .errors import UsageError
    from .frames import resize, working_size
    from .optimize import Stylizer, image_to_tensor, tensor_to_image
    from .pipeline import check_memory

    config = (config or StyleConfig()).validate()
    images = [styles] if isinstance(styles, np.ndarray) else list(styles)
    for image in (content, *images):
        if image.ndim != 3 or image.shape[2] != 3:
            raise UsageError(f"expected images of shape (H, W, 3), got {image.shape}")
    if not images:
        raise UsageError("expected at least one style image")
    if style_weights is not None and len(style_weights) != len(images):
        raise UsageError(f"expected one style weight per style image, got {len(style_weights)} for {len(images)}")
    weights = list(style_weights) if style_weights is not None else None
    device = resolve_device(config.device)
    configure_cpu_threads(config.threads)
    size = working_size(content.shape[1], content.shape[0], config.size, config.upscale)
    if config.engine == "optimizer":
        check_memory(size, config, device)  # before the photo is resized to a size that cannot fit
    content_tensor = image_to_tensor(resize(content, size), device)
    if config.engine == "arbitrary":
        from .model.arbitrary import build_arbitrary

        return tensor_to_image(build_arbitrary(config, images, size, device).stylize(content_tensor, weights))
    stylizer = Stylizer(config, images, weights, device=device)
    init = None
    if config.init == "arbitrary":  # start from the decoders' output (issue 17)
        from .model.arbitrary import build_arbitrary

        init = build_arbitrary(config, images, size, device, network=stylizer.network).stylize(content_tensor, weights)
    generator = _seeded(config.seed)  # noise starts (init="noise") draw from it
    return tensor_to_image(stylizer.stylize(content_tensor, init=init, callback=progress, generator=generator))


def synthesize_texture(styles: np.ndarray | Sequence[np.ndarray], size: tuple[int, int], config: StyleConfig | None = None, *,
                       style_weights: Sequence[float] | None = None, progress: Callable[["Progress"], None] | None = None) -> np.ndarray:
    """A texture (Gatys et al. 2015): an image of ``size`` (width, height) whose Gram statistics match
    the style image(s), optimised from seeded noise with no content: what ``vidstyle texture`` makes.

    ``config``'s content weight, init, colour and size settings are replaced (content weight 0,
    noise, no colour transfer, ``size``); its iterations, seed, style scale and device are used.
    Returns float32 (height, width, 3) in [0, 1]. Raises UsageError for a size (or a style image
    scaled to it) too small for the network's deepest style layer, and OutOfMemoryError."""
    import torch

    from .bench import check_size_for_layers
    from .device import configure_cpu_threads, resolve_device
    from .errors import UsageError
    from .frames import fit_longest_side
    from .optimize import Stylizer, tensor_to_image
    from .pipeline import check_memory

    width, height = size
    # Content weight 0 and noise make Stylizer.stylize a texture synthesiser; the content tensor
    # only gives the size.
    config = (config or StyleConfig()).with_(content_weight=0.0, init="noise", preserve_colors=False, size=max(width, height)).validate()
    images = [styles] if isinstance(styles, np.ndarray) else list(styles)
    if not images:
        raise UsageError("expected at least one style image")
    try:
        check_size_for_layers(width, height, config.style_layers)
    except ValueError as error:
        raise UsageError(str(error)) from None
    longest = max(1, round(config.style_scale * max(size)))
    for style in images:
        scaled = fit_longest_side(style.shape[1], style.shape[0], longest)
        try:
            check_size_for_layers(scaled[0], scaled[1], config.style_layers)
        except ValueError:
            raise UsageError(f"--size {width}x{height}: a style image scaled to it is {scaled[0]}x{scaled[1]}, too small "
                             "for the network's deepest style layer; raise --size or --style-scale") from None
    device = resolve_device(config.device)
    check_memory((width, height), config, device)
    configure_cpu_threads(config.threads)
    generator = _seeded(config.seed)
    stylizer = Stylizer(config, images, list(style_weights) if style_weights is not None else None, device=device)
    return tensor_to_image(stylizer.stylize(torch.zeros(1, 3, height, width, device=device), callback=progress, generator=generator))


def _seeded(seed: int | None) -> Any:
    """Seed torch (``seed`` given) and return the generator noise starts draw from, as the CLI does."""
    import torch

    generator = torch.Generator()
    if seed is not None:
        torch.manual_seed(seed)
        generator.manual_seed(seed)
    else:
        generator.seed()
    return generator


def stylize_video(input: PathLike, output: PathLike, styles: Sequence[PathLike] = (), config: StyleConfig | None = None, *,
                  model: PathLike | None = None, init_model: PathLike | None = None,
                  style_weights: Sequence[float] | None = None, style_keys: str | None = None, mask: str | None = None,
                  frames: str | None = None, fps: Fraction | None = None, start_number: int = 1, overwrite: bool = False,
                  on_frame: Callable[["FrameReport"], None] | None = None) -> "RenderResult":
    """A video or a frame sequence, stylised: what ``vidstyle stylize`` renders.

    Args:
        input: a video file or a frame pattern (``shot.####.exr``, ``shot.%04d.png``).
        output: a video file (audio and timing of a video input kept) or a frame pattern (a
            sequence resumes: finished frames are skipped when the same call is made again).
        styles: style image paths; empty with ``model``.
        config: the settings (default :meth:`StyleConfig.video`: 40 iterations a frame, 120 for
            a fresh one, the temporal term of Ruder et al.).
        model: a network from :func:`train_model` to render with instead of the optimiser.
        init_model: a network whose output starts the optimiser on fresh frames (the hybrid).
        style_weights: one weight per style (or per style of ``model``).
        style_keys: style weights over time, ``"0:1,0 120:0,1"`` (frame:weights ...).
        mask: ``"alpha"``, an image, a video or a frame pattern: stylise where it is white.
        frames: frames of a sequence input (``"1001-1100x2"``); None: all.
        fps: the rate of a video made from a sequence.
        start_number: the first frame's number when a video becomes a sequence.
        overwrite: replace an existing output (a sequence is then rendered again from its start).
        on_frame: called with each rendered frame's :class:`~vidstyle.engine.FrameReport`, in order.
    Returns:
        a :class:`~vidstyle.render.RenderResult` (per-frame reports; ``summary()`` is the line the
        command line prints).
    Raises:
        UsageError: bad input, before any frame is rendered where it can be known then.
        Interrupted: Ctrl+C or SIGTERM; a sequence keeps its finished frames.
    """
    import contextlib

    from .errors import UsageError
    from .pipeline import stylize_video as render_request
    from .request import StylizeRequest
    from .style_keys import StyleKeys

    count = len(styles)
    if model is not None and not styles:  # the keys weigh the model's own styles
        from .model.file import read_info

        count = read_info(os.fspath(model)).architecture.styles
    try:
        keys = StyleKeys.parse(style_keys, count) if style_keys else None
    except ValueError as error:
        raise UsageError(f"style_keys: {error}") from None
    request = StylizeRequest(
        input=os.fspath(input), output=os.fspath(output), styles=tuple(os.fspath(s) for s in styles),
        config=config or StyleConfig.video(), style_weights=tuple(style_weights) if style_weights else None,
        style_keys=keys, mask=mask, frames=frames,
        fps=fps, start_number=start_number, overwrite=overwrite, model=os.fspath(model) if model else None,
        init_model=os.fspath(init_model) if init_model else None)
    if on_frame is None:
        return render_request(request)
    hear: Callable[["FrameReport"], None] = on_frame

    class _Relay:
        def advance(self, frames: int, report: "FrameReport | None" = None) -> None:
            if report is not None:
                hear(report)

        def iteration(self, progress: Any) -> None:
            pass

    return render_request(request, progress=lambda total: contextlib.nullcontext(_Relay()))


def train_model(styles: Sequence[PathLike], inputs: Sequence[PathLike], output: PathLike, config: StyleConfig | None = None,
                training: TrainConfig | None = None, *, overwrite: bool = False) -> "TrainResult":
    """A transfer network trained on the caller's footage: what ``vidstyle train`` does.

    Args:
        styles: style image paths (several: one conditional-instance-norm model, blended by a
            style-weight vector).
        inputs: videos, frame patterns, still images or folders of stills to train on.
        output: the model file (safetensors); a checkpoint beside it makes a killed training
            resume where it stopped when the same call is made again.
        config: loss weights, style scale, flow, device, threads, seed (default :class:`StyleConfig`).
        training: steps, batch, size, learning rate, network width, temporal weight (default
            :class:`TrainConfig`).
        overwrite: replace a finished model.
    Returns:
        a :class:`~vidstyle.model.train.TrainResult` (steps, seconds, final loss, frames used).
    Raises:
        UsageError: bad input, before any work. Interrupted: stopped, with the checkpoint kept.
    """
    from .model.train import TrainRequest, train

    return train(TrainRequest(styles=tuple(os.fspath(s) for s in styles), inputs=tuple(os.fspath(i) for i in inputs),
                              output=os.fspath(output), config=config or StyleConfig(), training=training or TrainConfig(),
                              overwrite=overwrite))


def load_model(path: PathLike, device: str = "cpu") -> tuple["TransferNet", "ModelInfo"]:
    """A model file from :func:`train_model`: the network (eval mode, on ``device``) and its header
    (architecture, style names, training settings). Reading it runs no code (safetensors).

    Raises:
        ModelFileError (a UsageError): not a vidstyle model, truncated, or made by a newer vidstyle.
    """
    from .model.file import load_model as load

    return load(os.fspath(path), device)
