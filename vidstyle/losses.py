"""Losses of Gatys et al. 2015 and Ruder et al. 2016, as pure functions of tensors.

Normalisation follows jcjohnson/neural-style and Ruder's artistic-videos (so that their published
weights carry over): the Gram matrix is divided by C*H*W, style and content losses are mean squared
errors, the temporal loss is a reliability-weighted mean over pixels and channels. Nothing here
knows about devices, files or the optimiser.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast

import torch


__all__ = ["blend_grams", "content_loss", "gram", "relative_style_loss", "style_loss", "temporal_loss", "tv_loss"]


def _at_least_fp32(tensor: torch.Tensor) -> torch.Tensor:
    # bf16/fp16 activations (GPU autocast) lose too much precision in sums over H*W; fp64 stays.
    return tensor.float() if tensor.dtype in (torch.float16, torch.bfloat16) else tensor


def gram(features: torch.Tensor) -> torch.Tensor:
    """Gram matrix of feature maps, normalised by C*H*W.

    Args:
        features: (N, C, H, W).
    Returns:
        (N, C, C), ``G[n, i, j] = sum_p F[n, i, p] * F[n, j, p] / (C * H * W)``. Computed in at
        least float32 even when the features are bfloat16 (sums of H*W products lose precision).
    """
    if features.ndim != 4:
        raise ValueError(f"gram expects (N, C, H, W) features, got shape {tuple(features.shape)}")
    n, c, h, w = features.shape
    flat = _at_least_fp32(features).reshape(n, c, h * w)
    return _SymmetricGram.apply(flat, 1.0 / (c * h * w))


class _SymmetricGram(torch.autograd.Function):
    """``scale * F Fᵀ`` with the gradient ``scale * (dG + dGᵀ) F``: one matrix product backward.

    Autograd's own derivative of ``bmm(F, Fᵀ)`` does two products and adds a transposed C×HW
    gradient into the other (a strided copy); measured at 128x96 this saves about a quarter of the
    style losses' time.
    """

    @staticmethod
    def forward(ctx, flat: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.save_for_backward(flat)
        ctx.scale = scale
        return torch.bmm(flat, flat.transpose(1, 2)) * scale

    @staticmethod
    def backward(ctx, grad_gram: torch.Tensor):
        (flat,) = ctx.saved_tensors
        return torch.bmm(grad_gram + grad_gram.transpose(1, 2), flat) * ctx.scale, None


def blend_grams(grams: Sequence[torch.Tensor], weights: Sequence[float]) -> torch.Tensor:
    """Weighted average of Gram matrices of several style images (same layer).

    Args:
        grams: k tensors (1, C, C).
        weights: k non-negative weights, not all zero; normalised to sum 1.
    Returns:
        (1, C, C).
    """
    if len(grams) != len(weights) or not grams:
        raise ValueError(f"expected one weight per style image, got {len(grams)} Grams and {len(weights)} weights")
    total = float(sum(weights))
    if total <= 0 or any(w < 0 for w in weights):
        raise ValueError(f"style weights must be >= 0 and not all zero, got {list(weights)}")
    # sum() starts from the int 0, but grams is not empty, so the result is a tensor.
    return cast(torch.Tensor, sum(g * (w / total) for g, w in zip(grams, weights)))


def content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error between feature maps. features, target: (N, C, H, W) -> scalar."""
    return torch.mean((_at_least_fp32(features) - _at_least_fp32(target)) ** 2)


def style_loss(
    features: Mapping[str, torch.Tensor],
    target_grams: Mapping[str, torch.Tensor],
    layer_weights: Mapping[str, float],
) -> torch.Tensor:
    """Sum over layers of ``weight * MSE(gram(F_l), G_l)``.

    Args:
        features: layer -> (N, C, H, W) activations of the image being optimised.
        target_grams: layer -> (1 or N, C, C) target Grams (already blended across style images).
        layer_weights: layer -> weight; only these layers contribute.
    Returns:
        scalar.
    """
    terms = [weight * torch.mean((gram(features[layer]) - target_grams[layer]) ** 2) for layer, weight in layer_weights.items()]
    return torch.stack(terms).sum()


def relative_style_loss(features: Mapping[str, torch.Tensor], target_grams: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Mean over the target's layers of ``MSE(gram(F_l), G_l) / mean(G_l ** 2)``: each layer's Gram
    error relative to its target's own size, so that every layer counts alike whatever its scale
    (the deflicker stage's re-synthesis, whose target is a frame, not a painting with tuned weights).

    Args:
        features: layer -> (N, C, H, W) activations of the image being optimised.
        target_grams: layer -> (1 or N, C, C) target Grams; every layer here must be in ``features``.
    Returns:
        scalar; 0 where the Grams match, 1 for a zero image's.
    """
    terms = [torch.mean((gram(features[layer]) - target) ** 2) / torch.mean(target ** 2).clamp_min(1e-12)
             for layer, target in target_grams.items()]
    return torch.stack(terms).mean()


def tv_loss(image: torch.Tensor) -> torch.Tensor:
    """Total variation: mean squared difference between horizontal and vertical neighbours.

    image: (N, C, H, W) -> scalar. Sum of the two directions' means.
    """
    dx = image[..., :, 1:] - image[..., :, :-1]
    dy = image[..., 1:, :] - image[..., :-1, :]
    return torch.mean(dx**2) + torch.mean(dy**2)


def temporal_loss(image: torch.Tensor, warped_previous: torch.Tensor, reliability: torch.Tensor) -> torch.Tensor:
    """Ruder et al. short-term consistency: ``(1/D) * sum c * (x - w)^2`` with D = N*C*H*W.

    Args:
        image: (N, C, H, W) the frame being optimised.
        warped_previous: (N, C, H, W) the previous stylised frame warped onto this one.
        reliability: (N, 1, H, W), (H, W) or (N, H, W) weights in [0, 1]; broadcast over channels.
    Returns:
        scalar.
    """
    if image.shape != warped_previous.shape:
        raise ValueError(f"image {tuple(image.shape)} and warped previous {tuple(warped_previous.shape)} differ in shape")
    if reliability.ndim == 2:
        reliability = reliability[None, None]
    elif reliability.ndim == 3:
        reliability = reliability[:, None]
    return torch.mean(reliability * (image - warped_previous) ** 2)


# The public names the rest of the code uses.
temporal = temporal_loss
