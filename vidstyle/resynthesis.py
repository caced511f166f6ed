"""Texture re-synthesis for the deflicker stage (``--resynth-iters``): a held frame's strokes brought
back toward the processed frame's own texture statistics, staying near the held frame's pixels.

Why: the closed form of :mod:`vidstyle.deflicker` holds a per-frame render's strokes by averaging
each with the warped previous ones, and restores their local contrast; that gives the texture's
energy back but not its shape, which VGG's deeper Gram layers see (the per-frame render of the city
clip: Gram distance 1.24x the input's at warping 0.27x, and no setting of the strengths reaches 1.1x
at 0.3x; docs/BENCHMARKS.md, "Deflicker"). A few L-BFGS iterations of

    L(x) = relative_style_loss(VGG(x), Grams of VGG(P)) + weight * mean |x - H|^2

from ``x = H`` (``P`` the processed frame, ``H`` the held one, both [0, 1]) re-paint the held strokes
toward the processed frame's texture while the pixel term keeps them where the hold put them, so
the output stays consistent where the flow is.

Departure from Bonneel et al. 2015 and Lai et al. 2018, who have no such step: this is Gatys et
al.'s texture loss with the processed frame as its own style and a pixel anchor instead of a
content layer (pixels are what the warping error and the eye see move). The target is the
processed frame after the stage's colour hold (its Grams without the colour flicker): toward the
raw frame Gram 1.07x, toward the colour-held one 1.03x, at the same warping and change (weight
100). Measured on that render, 10 iterations, weight 30, the colour held over 2 frames: warping
0.28x, Gram 1.01x, change 7.84/255 (``DeflickerSettings.strokes_resynthesised``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from . import losses
from .config import STYLE_LAYERS
from .features import VGG19Features
from .lbfgs import LBFGS

__all__ = ["memory_needed", "resynthesise"]

# Iterations line-searched before unit steps, as the optimiser's first window (vidstyle.optimize):
# the variable is at the [0, 1] scale, where an unscaled first step would overshoot.
LINE_SEARCHED = 10
HISTORY = 10


def memory_needed(width: int, height: int, layers: Sequence[str] = STYLE_LAYERS) -> int:
    """Bytes one frame's re-synthesis needs at this size: VGG's activations to the deepest of
    ``layers`` kept for the backward pass, L-BFGS's history (two image-sized vectors a remembered
    step) and a few images (the variable, its gradient, the anchor, the line search's copies),
    times ``MEASURED_OVER_COUNTED``."""
    from .features import LAYER_ORDER, activation_bytes

    image = 3 * width * height * 4
    deepest = max(layers, key=LAYER_ORDER.index)
    counted = activation_bytes(width, height, deepest=deepest) + 2 * HISTORY * image + 8 * image
    return int(MEASURED_OVER_COUNTED * counted)


# The peak a re-synthesis adds to the process, measured on the CPU (ru_maxrss around 3 iterations,
# 2026-12-04, two runs): 727 and 812 MiB at 640x360, 2844 and 2876 MiB at 1280x720, up to 1.74x
# what the count above gives (468, 1870): the style layers' ReLU outputs are new tensors beside their
# convs' (the count has the ReLUs in place), the Gram products' backward and the allocator's
# high-water mark. The factor keeps the estimate at or above what was measured.
MEASURED_OVER_COUNTED = 1.75


def _tensor(image: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)[None].contiguous().to(device)


def resynthesise(network: VGG19Features, held: np.ndarray, processed: np.ndarray, iterations: int, weight: float,
                 layers: Sequence[str] = STYLE_LAYERS, device: torch.device | str = "cpu") -> np.ndarray:
    """``held`` (H, W, 3) re-synthesised toward ``processed``'s Grams at ``layers`` for ``iterations``
    L-BFGS iterations, ``weight`` on staying at ``held``'s pixels (the module's formula). Both
    float32 in [0, 1], same shape; returns (H, W, 3) float32 in [0, 1]; ``held`` itself (not a copy)
    for 0 iterations."""
    if held.shape != processed.shape or held.ndim != 3:
        raise ValueError(f"expected two (H, W, 3) frames of one shape, got {held.shape} and {processed.shape}")
    if iterations <= 0:
        return held
    device = torch.device(device)
    layers = tuple(layers)
    anchor = _tensor(held, device)
    with torch.no_grad():
        target = network(_tensor(processed, device), layers)
        grams = {layer: losses.gram(target[layer]) for layer in layers}
    pixels = anchor.clone().requires_grad_(True)

    def evaluate() -> torch.Tensor:
        loss = losses.relative_style_loss(network(pixels, layers), grams) + weight * torch.mean((pixels - anchor) ** 2)
        loss.backward()
        return loss

    lbfgs = LBFGS(pixels, HISTORY, evaluate)
    for done in range(iterations):
        if not lbfgs.step(line_search=done < LINE_SEARCHED):
            break  # a zero gradient: nothing to move along
    return pixels.detach().clamp_(0.0, 1.0)[0].permute(1, 2, 0).cpu().numpy().copy()
