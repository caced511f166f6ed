"""Colour preservation (Gatys et al. 2016, "Preserving color in neural artistic style transfer").

We use the paper's *luminance-only* variant as a post-process, like neural-style's
``-original_colors``: the stylised image's luminance (Y of BT.601 YCbCr) is combined with the content
frame's chroma (Cb, Cr). The optimisation itself still sees the style's colours; only what is shown
keeps the content's. This is a pure function of tensors.
"""

from __future__ import annotations

import torch

__all__ = ["keep_content_colors", "rgb_to_ycbcr", "ycbcr_to_rgb"]


# BT.601 full-range RGB -> YCbCr, for images in [0, 1].
_RGB_TO_YCBCR = torch.tensor(
    [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]]
)


def rgb_to_ycbcr(image: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB in [0,1] -> (N, 3, H, W) YCbCr with Cb, Cr centred on 0."""
    matrix = _RGB_TO_YCBCR.to(image)
    return torch.einsum("ij,njhw->nihw", matrix, image)


def ycbcr_to_rgb(image: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`rgb_to_ycbcr`."""
    matrix = torch.linalg.inv(_RGB_TO_YCBCR.double()).to(image)
    return torch.einsum("ij,njhw->nihw", matrix, image)


def keep_content_colors(stylised: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Luminance of ``stylised`` with the chroma of ``content``; both (N, 3, H, W) RGB in [0,1]."""
    if stylised.shape != content.shape:
        raise ValueError(f"stylised {tuple(stylised.shape)} and content {tuple(content.shape)} differ in shape")
    luma = rgb_to_ycbcr(stylised)[:, :1]
    chroma = rgb_to_ycbcr(content)[:, 1:]
    return ycbcr_to_rgb(torch.cat([luma, chroma], dim=1)).clamp(0.0, 1.0)
