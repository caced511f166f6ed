"""The transfer network: one forward pass from a frame to its stylised image (Johnson et al. 2016),
several styles in one model through conditional instance norm (Dumoulin et al. 2017).

Layout (Johnson et al.'s residual design): a 9x9 convolution at full resolution, two stride-2
convolutions, ``blocks`` residual blocks at a quarter of the resolution, two nearest-neighbour
upsamplings each followed by a 3x3 convolution, a 9x9 convolution to RGB. Every convolution pads by
reflection and every normalisation is an instance norm whose scale and shift are chosen per style.

Departures from the paper, each for a reason:

- upsampling is resize-then-convolve, not transposed convolution (Odena et al. 2016: a transposed
  convolution's uneven kernel overlap paints a checkerboard);
- the output is ``sigmoid`` of the last convolution, so it lies in [0, 1] (vidstyle's image range)
  with a gradient everywhere, instead of a scaled ``tanh``;
- ``width`` scales every channel count (Johnson: 32, 64, 128); docs/BENCHMARKS.md, "Transfer
  network", measures the widths on this CPU.

Conditional instance norm: each norm layer holds a (styles, C) table of scales and shifts; the
``style_weights`` (N, styles) of a batch mix them linearly, so a one-hot vector is one trained style
and any other vector summing to 1 blends them (Dumoulin et al. Fig. 6). No I/O happens here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Architecture", "ConditionalInstanceNorm", "TransferNet", "MULTIPLE", "MIN_SIDE"]

# Two stride-2 convolutions: the input's sides must be multiples of 4 (callers pad: see
# vidstyle.model.engine), and at least 16 px so that the quarter-size maps (4 px) can still be
# padded by reflection for the 3x3 convolutions.
MULTIPLE = 4
MIN_SIDE = 16


@dataclass(frozen=True)
class Architecture:
    """What decides the shape of a :class:`TransferNet`'s weights (stored in the model file)."""

    styles: int = 1
    width: int = 32
    blocks: int = 5

    def record(self) -> dict:
        return {"name": "johnson-cin", **asdict(self)}

    @classmethod
    def from_record(cls, record: dict) -> "Architecture":
        if record.get("name") != "johnson-cin":
            raise ValueError(f"expected a johnson-cin network, got {record.get('name')!r}")
        return cls(styles=int(record["styles"]), width=int(record["width"]), blocks=int(record["blocks"]))


class ConditionalInstanceNorm(nn.Module):
    """Instance norm whose affine scale and shift are a weighted mix of per-style rows.

    ``forward(x, style_weights)``: x (N, C, H, W), style_weights (N, S) -> (N, C, H, W); each sample's
    ``gamma = style_weights @ scale`` and ``beta = style_weights @ shift``, (N, C)."""

    def __init__(self, channels: int, styles: int):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(styles, channels))
        self.shift = nn.Parameter(torch.zeros(styles, channels))

    def forward(self, x: torch.Tensor, style_weights: torch.Tensor) -> torch.Tensor:
        normalised = F.instance_norm(x, eps=1e-5)
        gamma = (style_weights @ self.scale)[:, :, None, None]
        beta = (style_weights @ self.shift)[:, :, None, None]
        return normalised * gamma + beta


class _ConvNorm(nn.Module):
    """Reflection-padded convolution, conditional instance norm, optional ReLU."""

    def __init__(self, channels_in: int, channels_out: int, kernel: int, styles: int, stride: int = 1, relu: bool = True):
        super().__init__()
        self.pad = kernel // 2
        self.conv = nn.Conv2d(channels_in, channels_out, kernel, stride=stride)
        self.norm = ConditionalInstanceNorm(channels_out, styles)
        self.relu = relu

    def forward(self, x: torch.Tensor, style_weights: torch.Tensor) -> torch.Tensor:
        x = self.norm(self.conv(F.pad(x, [self.pad] * 4, mode="reflect")), style_weights)
        return torch.relu(x) if self.relu else x


class _Residual(nn.Module):
    def __init__(self, channels: int, styles: int):
        super().__init__()
        self.first = _ConvNorm(channels, channels, 3, styles)
        self.second = _ConvNorm(channels, channels, 3, styles, relu=False)

    def forward(self, x: torch.Tensor, style_weights: torch.Tensor) -> torch.Tensor:
        return x + self.second(self.first(x, style_weights), style_weights)


class TransferNet(nn.Module):
    """Frame -> stylised frame in one pass.

    ``forward(image, style_weights)``: image (N, 3, H, W) RGB in [0, 1], H and W multiples of
    :data:`MULTIPLE` and at least :data:`MIN_SIDE`; style_weights (N, styles) or (styles,), each row
    non-negative and summing to 1 (a one-hot row: one trained style). Returns (N, 3, H, W) in [0, 1].
    """

    def __init__(self, architecture: Architecture = Architecture()):
        super().__init__()
        self.architecture = architecture
        s, w = architecture.styles, architecture.width
        self.down = nn.ModuleList([
            _ConvNorm(3, w, 9, s), _ConvNorm(w, 2 * w, 3, s, stride=2), _ConvNorm(2 * w, 4 * w, 3, s, stride=2),
        ])
        self.residual = nn.ModuleList([_Residual(4 * w, s) for _ in range(architecture.blocks)])
        self.up = nn.ModuleList([_ConvNorm(4 * w, 2 * w, 3, s), _ConvNorm(2 * w, w, 3, s)])
        self.out = nn.Conv2d(w, 3, 9)

    def forward(self, image: torch.Tensor, style_weights: torch.Tensor) -> torch.Tensor:
        check_input(image)
        if style_weights.ndim == 1:
            style_weights = style_weights[None].expand(image.shape[0], -1)
        style_weights = style_weights.to(image.dtype)
        x = image
        for layer in self.down:
            x = layer(x, style_weights)
        for block in self.residual:
            x = block(x, style_weights)
        for layer in self.up:
            x = layer(F.interpolate(x, scale_factor=2.0, mode="nearest"), style_weights)
        return torch.sigmoid(self.out(F.pad(x, [4] * 4, mode="reflect")))


def check_input(image: torch.Tensor) -> None:
    """Raise ValueError unless ``image`` is (N, 3, H, W) with sides the network can take."""
    if image.ndim != 4 or image.shape[1] != 3:
        raise ValueError(f"expected an image batch of shape (N, 3, H, W), got {tuple(image.shape)}")
    height, width = int(image.shape[2]), int(image.shape[3])
    if torch.jit.is_tracing() or torch.jit.is_scripting():
        return
    if height % MULTIPLE or width % MULTIPLE or min(height, width) < MIN_SIDE:
        raise ValueError(f"the transfer network takes sides that are multiples of {MULTIPLE} and at least {MIN_SIDE} px, got {width}x{height}")


def padding_for(width: int, height: int) -> tuple[int, int]:
    """(right, bottom) reflection padding that makes a width x height frame acceptable, or
    ValueError when it is too small to pad (reflection needs the padding under the side)."""
    if min(width, height) < MIN_SIDE:
        raise ValueError(f"a transfer network needs frames of at least {MIN_SIDE}x{MIN_SIDE} px, got {width}x{height}")
    return (-width) % MULTIPLE, (-height) % MULTIPLE


def stylize(net: TransferNet, image: torch.Tensor, style_weights: torch.Tensor) -> torch.Tensor:
    """``net`` on an image of any acceptable size: (N, 3, H, W) -> (N, 3, H, W), padded by
    reflection up to multiples of :data:`MULTIPLE` and cropped back."""
    height, width = int(image.shape[2]), int(image.shape[3])
    right, bottom = padding_for(width, height)
    if right or bottom:
        image = F.pad(image, [0, right, 0, bottom], mode="reflect")
    return net(image, style_weights)[:, :, :height, :width]
