"""Any style without training per style (issue 17, first part): decoders that invert the project's
VGG-19 features, and the feature transforms that move a content image's features toward a style's.

Universal style transfer (Li et al. 2017, WCT) needs no style images to train: a decoder for a VGG
layer is trained to *reconstruct* an image from that layer's features, which any photographs teach.
At run time the content's features are whitened and coloured with the style's covariance
(:func:`whiten_colour`), or matched in mean and standard deviation only (:func:`adain`, Huang &
Belongie 2017), and decoded; WCT cascades this from a deep layer to a shallow one so that both large
and fine structures follow the style.

Layout of a decoder for ``relu{b}_1``: the mirror of VGG-19 up to that layer (Li et al.): 3x3
reflection-padded convolutions with ReLU, a nearest-neighbour 2x upsampling where VGG pools, and a
last 3x3 convolution to RGB with a sigmoid (vidstyle's [0, 1] images; Li et al. output unbounded
values and clip). ``width`` scales every channel count (1.0: VGG's own). No I/O here.
"""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["DECODER_FORMAT", "DECODER_LEVELS", "Decoder", "DecoderSet", "adain", "blend_statistics", "colouring_matrix", "feature_statistics",
           "load_decoders", "reconstruction_loss", "save_decoders", "whiten_colour"]

DECODER_FORMAT = "vidstyle-decoder"
# Li et al. 2017 weigh the feature reconstruction like the pixel one. Our features are at VGG's
# 0-255 input scale, so each level's are divided by FEATURE_SCALE (their spread, below) in the loss:
# both terms are then means of squares of order 1 at the start, the pixels' in [0, 1].
PIXEL_WEIGHT = 1.0
# A typical standard deviation of VGG-19's relu{b}_1 activations (measured on the bundled photo and
# paintings at 256 px: 33-47, 145-229, 204-324, 670-1049). A decoder divides its input by it: fed
# raw, the first convolution's outputs are in the thousands, the sigmoid saturates at 0 or 1 and no
# gradient flows (a first training run stayed at its starting loss for 250 steps, all black).
FEATURE_SCALE = {"relu1_1": 40.0, "relu2_1": 150.0, "relu3_1": 200.0, "relu4_1": 700.0}

# The layers a decoder can invert, shallow to deep, with VGG-19's channels at each block.
DECODER_LEVELS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
_CHANNELS = {1: 64, 2: 128, 3: 256, 4: 512}
# Convolutions VGG-19 has in each block before the next block's relu{b}_1: block b contributes
# (convs in block b-1 after its first) — mirrored: from relu{b}_1 back to block b-1's output.
_BLOCK_CONVS = {1: 2, 2: 2, 3: 4, 4: 4}


class Decoder(nn.Module):
    """relu{b}_1 features (N, C_b, H / 2^(b-1), W / 2^(b-1)) -> image (N, 3, H, W) in [0, 1]."""

    def __init__(self, level: str, width: float = 1.0):
        super().__init__()
        if level not in DECODER_LEVELS:
            raise ValueError(f"expected a decoder level among {', '.join(DECODER_LEVELS)}, got {level!r}")
        self.level, self.width = level, width
        block = int(level[4])

        def channels(b: int) -> int:
            return max(8, round(_CHANNELS[b] * width))

        layers: list[nn.Module] = []
        current = _CHANNELS[block]  # the first convolution takes VGG's own channels
        for b in range(block, 1, -1):
            # relu{b}_1 -> (upsample) -> the convs of block b-1 mirrored
            layers.append(_Conv(current, channels(b - 1)))
            layers.append(nn.Upsample(scale_factor=2.0, mode="nearest"))
            current = channels(b - 1)
            for _ in range(_BLOCK_CONVS[b - 1] - 1):
                layers.append(_Conv(current, current))
        self.body = nn.Sequential(*layers)
        self.out = nn.Conv2d(current, 3, 3)
        self.vgg_channels = _CHANNELS[block]

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if features.ndim != 4 or features.shape[1] != self.vgg_channels:
            raise ValueError(f"decoder for {self.level}: expected features (N, {self.vgg_channels}, h, w), got {tuple(features.shape)}")
        return torch.sigmoid(self.out(F.pad(self.body(features / FEATURE_SCALE[self.level]), [1, 1, 1, 1], mode="reflect")))


class _Conv(nn.Module):
    def __init__(self, channels_in: int, channels_out: int):
        super().__init__()
        self.conv = nn.Conv2d(channels_in, channels_out, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv(F.pad(x, [1, 1, 1, 1], mode="reflect")))


def adain(content: torch.Tensor, style: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Adaptive instance norm (Huang & Belongie 2017): each channel of ``content`` (N, C, H, W) given
    the mean and standard deviation of that channel of ``style`` (N or 1, C, h, w)."""
    c_mean, c_std = content.mean((2, 3), keepdim=True), content.std((2, 3), keepdim=True) + eps
    s_mean, s_std = style.mean((2, 3), keepdim=True), style.std((2, 3), keepdim=True) + eps
    return (content - c_mean) / c_std * s_std + s_mean


def feature_statistics(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean (C, 1) and covariance (C, C) of features (1, C, h, w), in float64."""
    if features.shape[0] != 1:
        raise ValueError(f"feature_statistics takes one image, got a batch of {features.shape[0]}")
    flat = features.reshape(features.shape[1], -1).double()
    mean = flat.mean(1, keepdim=True)
    centred = flat - mean
    return mean, centred @ centred.T / max(1, centred.shape[1] - 1)


def blend_statistics(statistics: list[tuple[torch.Tensor, torch.Tensor]], weights: list[float]) -> tuple[torch.Tensor, torch.Tensor]:
    """Several styles' (mean, covariance) mixed by ``weights`` (>= 0, normalised): the
    arbitrary engine's ``--style-weights``, the feature-statistics counterpart of blending Grams."""
    if len(statistics) != len(weights) or not statistics:
        raise ValueError(f"expected one weight per style, got {len(statistics)} styles and {len(weights)} weights")
    total = float(sum(weights))
    mean = sum(w / total * m for (m, _), w in zip(statistics, weights))
    covariance = sum(w / total * c for (_, c), w in zip(statistics, weights))
    return mean, covariance  # type: ignore[return-value]


def colouring_matrix(covariance: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """The symmetric square root (C, C) float64 of a style's covariance (C, C): what WCT multiplies
    whitened features by. A style's is the same for every frame, so the engine computes it once."""
    eye = torch.eye(covariance.shape[0], dtype=torch.float64, device=covariance.device)
    values, vectors = torch.linalg.eigh(covariance.double() + eps * eye)
    return vectors @ torch.diag(values.clamp_min(eps).sqrt()) @ vectors.T


def whiten_colour(content: torch.Tensor, style_mean: torch.Tensor, style_covariance: torch.Tensor | None,
                  strength: float = 1.0, eps: float = 1e-5, colouring: torch.Tensor | None = None) -> torch.Tensor:
    """WCT (Li et al. 2017): ``content`` (1, C, H, W) features whitened (identity covariance), then
    coloured with a style's covariance (C, C) and mean (C, 1); ``strength`` in [0, 1] mixes the
    result with the content's own features (Li et al.'s alpha). ``colouring``: the covariance's
    :func:`colouring_matrix`, when already computed (``style_covariance`` may then be None).
    Eigendecompositions in float64: in float32 the small eigenvalues of a 512x512 covariance come
    out negative."""
    if content.shape[0] != 1:
        raise ValueError(f"whiten_colour takes one image, got a batch of {content.shape[0]}")
    if colouring is None:
        if style_covariance is None:
            raise ValueError("whiten_colour needs the style's covariance or its colouring matrix")
        colouring = colouring_matrix(style_covariance, eps)
    c, h, w = content.shape[1:]
    # The (C, C) algebra in float64; the (C, H*W) products in the features' own precision, as one
    # matrix: whitening, colouring and the strength mix fold into out = M @ centred + b. At 720p the
    # float64 products over every pixel of four levels took most of a frame's 19 s.
    flat = content.reshape(c, h * w)
    content_mean = flat.mean(1, keepdim=True)
    centred = flat - content_mean
    covariance = (centred @ centred.T).double() / max(1, h * w - 1)
    eye = torch.eye(c, dtype=torch.float64, device=content.device)
    values, vectors = torch.linalg.eigh(covariance + eps * eye)
    whitening = vectors @ torch.diag(values.clamp_min(eps).rsqrt()) @ vectors.T
    transform = strength * (colouring.double() @ whitening) + (1 - strength) * eye
    offset = strength * style_mean.double() + (1 - strength) * content_mean.double()
    mixed = transform.to(content.dtype) @ centred + offset.to(content.dtype)
    return mixed.reshape(1, c, h, w)


class DecoderSet(nn.ModuleDict):
    """One :class:`Decoder` per level of ``levels`` (keyed by level name)."""

    def __init__(self, levels: tuple[str, ...] = DECODER_LEVELS):
        super().__init__({level: Decoder(level) for level in levels})


def reconstruction_loss(decoders: DecoderSet, network: Any, images: torch.Tensor) -> torch.Tensor:
    """Sum over levels of ``PIXEL_WEIGHT * mean((D(F(x)) - x)^2) + mean(((F(D(F(x))) - F(x)) / s)^2)``:
    images (N, 3, H, W) in [0, 1] (cropped to multiples of the deepest level's stride); F the VGG
    features at the level, s its ``FEATURE_SCALE``."""
    levels = tuple(decoders.keys())
    stride = 2 ** (max(int(level[4]) for level in levels) - 1)
    images = images[..., : images.shape[2] - images.shape[2] % stride, : images.shape[3] - images.shape[3] % stride]
    with torch.no_grad():
        targets = network(images, levels)
    total = images.new_zeros(())
    for level in levels:
        decoded = decoders[level](targets[level])
        total = total + PIXEL_WEIGHT * torch.mean((decoded - images) ** 2)
        total = total + torch.mean(((network(decoded, (level,))[level] - targets[level]) / FEATURE_SCALE[level]) ** 2)
    return total


def save_decoders(path: str | os.PathLike, decoders: DecoderSet, training: dict) -> None:
    """The decoders in float16 (half the size; reconstructions differ by under 1/255) with a header."""
    from .. import __version__
    from .file import VERSION, save_record

    save_record(path, decoders, {"format": DECODER_FORMAT, "version": VERSION, "levels": list(decoders.keys()),
                                 "dtype": "float16", "training": training, "vidstyle": __version__})


def load_decoders(path: str | os.PathLike, device: torch.device | str = "cpu") -> tuple[DecoderSet, dict]:
    """The decoders (float32, eval mode, frozen, on ``device``) and the file's header."""
    from .file import ModelFileError, load_weights_into, read_record

    record, tensors = read_record(path, DECODER_FORMAT, weights=True)
    try:
        levels = tuple(str(level) for level in record["levels"])
        decoders = DecoderSet(levels)
    except (KeyError, TypeError, ValueError) as error:
        raise ModelFileError(f"{path}: unreadable decoder header ({error})") from None
    load_weights_into(decoders, tensors, path)
    return decoders.eval().to(device), record
