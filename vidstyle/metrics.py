"""Measurements of a result: how much it looks like the style, the content, and how much it flickers.

These are for reports and tests, not for the optimiser: they recompute features from images as they
were written (after 8-bit quantisation and encoding), independent of the optimiser's internal state.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence

import numpy as np
import torch

from . import losses
from .config import CONTENT_LAYER, STYLE_LAYERS
from .features import VGG19Features
from .frames import fit_longest_side, resize


__all__ = ["content_distance", "frame_warping_error", "static_changes", "style_distance", "warped_frame_error", "warping_errors"]


def _tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)[None]


@torch.no_grad()
def style_distance(network: VGG19Features, image: np.ndarray, style: np.ndarray, layers: Sequence[str] = STYLE_LAYERS) -> float:
    """Mean over ``layers`` of the mean squared difference of Gram matrices.

    image, style: float32 (H, W, 3) RGB in [0, 1]. The style is resized so its longest side equals
    the image's (style scale 1), so images of different sizes are compared fairly.
    """
    style = resize(style, fit_longest_side(style.shape[1], style.shape[0], max(image.shape[:2])))
    a = network(_tensor(image), layers)
    b = network(_tensor(style), layers)
    return float(np.mean([torch.mean((losses.gram(a[k]) - losses.gram(b[k])) ** 2).item() for k in layers]))


@torch.no_grad()
def content_distance(network: VGG19Features, image: np.ndarray, content: np.ndarray, layer: str = CONTENT_LAYER,
                     region: np.ndarray | None = None) -> float:
    """Mean squared difference of ``layer`` activations; ``content`` is resized to ``image``'s size.

    ``region``: optional float32 (H, W) weights at the image's size (e.g. where things move): the
    mean is then taken over the feature map weighted by the region averaged down to its size."""
    content = resize(content, (image.shape[1], image.shape[0]))
    a, b = network(_tensor(image), (layer,))[layer], network(_tensor(content), (layer,))[layer]
    if region is None:
        return float(losses.content_loss(a, b))
    weights = torch.from_numpy(resize(np.ascontiguousarray(region, dtype=np.float32), (a.shape[3], a.shape[2])))[None, None]
    return float(((a - b) ** 2 * weights).sum() / (weights.sum() * a.shape[1]).clamp_min(1e-12))


def warping_errors(outputs: Iterable[np.ndarray], sources: Iterable[np.ndarray], method: str = "dis",
                   region: np.ndarray | None = None) -> tuple[list[float], list[float]]:
    """Per-frame temporal warping error E_warp (Lai et al. 2018) of a video and of its source.

    For each t >= 1: ``sum c * |O_t - warp(O_{t-1}, F_t->t-1)|^2 / (3 * sum c)`` with O in [0, 1]; the
    flow F and the reliability c are computed on the *source* frames, resized to the output size,
    so the measure does not reward an output for blurring its own motion away. The same flow gives
    the source's own error, the floor a perfectly consistent output would reach.

    outputs, sources: iterables of float32 (H, W, 3) RGB in [0, 1], same length (sources any size).
    region: optional float32 (H, W) weight at the output size, multiplied into c: measures only
        there (e.g. inside a ``--mask`` matte).
    Returns (output errors, source errors), one value per frame from the second on.
    """
    import flow

    output_errors: list[float] = []
    source_errors: list[float] = []
    previous_output: np.ndarray | None = None
    previous_source: np.ndarray | None = None
    for output, source in zip(outputs, sources, strict=True):
        source = resize(source, (output.shape[1], output.shape[0]))
        if previous_output is not None:
            assert previous_source is not None  # both are set together
            pair = flow.pair(previous_source, source, method=method)
            reliability = pair.reliability if region is None else pair.reliability * region
            output_errors.append(frame_warping_error(output, previous_output, pair.backward, reliability))
            source_errors.append(frame_warping_error(source, previous_source, pair.backward, reliability))
        previous_output, previous_source = output, source
    return output_errors, source_errors


def frame_warping_error(output: np.ndarray, previous_output: np.ndarray, backward_flow: np.ndarray, reliability: np.ndarray) -> float:
    """One term of :func:`warping_error`: (H, W, 3) frames, (H, W, 2) flow t->t-1, (H, W) reliability."""
    import flow

    return warped_frame_error(output, flow.warp(previous_output.astype(np.float32), backward_flow), reliability)


def warped_frame_error(output: np.ndarray, warped_previous: np.ndarray, reliability: np.ndarray) -> float:
    """:func:`frame_warping_error` given the previous output already warped onto this frame (an
    engine that warped it anyway saves a warp): (H, W, 3) frames, (H, W) reliability."""
    difference = output - warped_previous
    weight = float(reliability.sum())
    if weight <= 0:
        return 0.0
    # Summed over channels plane by plane, then weighted: numpy's broadcast of the (H, W) weights
    # along a length-3 last axis is 1.8x slower (3.9 against 2.2 ms at 640x360, measured), and the
    # engines report this for every frame. Not a BLAS matrix-vector product, though faster still:
    # OpenBLAS's threads then spin between frames and took 50 ms of CPU a frame from the render.
    squared = difference * difference
    per_pixel = functools.reduce(np.add, [squared[..., c] for c in range(squared.shape[-1])])
    return float((reliability * per_pixel).sum() / (3.0 * weight))


def static_changes(outputs: Iterable[np.ndarray], sources: Iterable[np.ndarray], threshold: float | None = None,
                   method: str = "dis") -> tuple[list[float], list[float], list[float]]:
    """How much a video changes where its source stands still: what a viewer sees as boiling. The
    warping error alone cannot say it: it trusts the flow, which on real footage is noisy exactly
    where nothing moves.

    For each t >= 1, over the source's still pixels (:func:`flow.still_mask` of source t-1 and t at
    the output's size, ``threshold`` default :data:`flow.still.STILL_THRESHOLD`, with the ``method``
    flow of the source, so a flat region under a camera pan does not count as still): the mean absolute change ``|O_t - O_{t-1}|`` of the output and of the
    source (mean over channels, [0, 1] units; x255 for 8-bit codes), and the static fraction.
    A frame with no static pixel contributes NaN to the first two.

    outputs, sources: iterables of float32 (H, W, 3) RGB in [0, 1], same length (sources any size).
    Returns (output changes, source changes, static fractions), one value per frame from the second on.
    """
    import flow
    from flow.still import STILL_THRESHOLD

    output_changes: list[float] = []
    source_changes: list[float] = []
    fractions: list[float] = []
    previous: tuple[np.ndarray, np.ndarray] | None = None
    for output, source in zip(outputs, sources, strict=True):
        source = resize(source, (output.shape[1], output.shape[0]))
        if previous is not None:
            motion = flow.pair(previous[1], source, method=method).backward
            still = flow.still_mask(previous[1], source, STILL_THRESHOLD if threshold is None else threshold, flow=motion)
            fractions.append(float(still.mean()))
            if still.any():
                output_changes.append(float(np.abs(output - previous[0]).mean(axis=2)[still].mean()))
                source_changes.append(float(np.abs(source - previous[1]).mean(axis=2)[still].mean()))
            else:
                output_changes.append(float("nan"))
                source_changes.append(float("nan"))
        previous = (output, source)
    return output_changes, source_changes, fractions

