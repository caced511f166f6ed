"""Floating-point operation counts of the VGG-19 work one optimiser iteration does.

The optimiser's cost is almost all convolution: every iteration runs the network forward up to the
deepest layer a loss reads (relu5_1 with the default layers) and backward from there to the input
image. The weights are frozen, so the backward pass computes only gradients with respect to each
conv's input, and a 3x3 conv's input gradient is itself a 3x3 (transposed) conv with the same
multiply-adds as the forward one. Hence, with one multiply-add counted as 2 FLOPs:

    forward  = sum over convs up to the deepest layer of 2 * Cin * Cout * 9 * H_l * W_l
    backward = the same sum

where H_l x W_l is the feature-map size at that conv (each 2x2 max pool halves it, rounding down,
as ``nn.MaxPool2d(2, 2)`` does). Biases, ReLUs, pools, the losses and the optimiser are left out of
:func:`vgg_flops` on purpose: it is the work a bare network pass must do, the yardstick the
``vidstyle bench`` command compares the whole optimiser against. :func:`gram_flops` counts the one
other non-trivial piece (the Gram matrices), to explain the gap between the two.

The shapes come from :func:`vidstyle.features.conv_shapes`, so this stays in step with the network.
At the default layers this is about 0.72 MFLOP per pixel forward (DESIGN.md's performance model).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .config import CONTENT_LAYER, STYLE_LAYERS
from .features import LAYER_ORDER, conv_shapes

__all__ = ["FlopCount", "deepest_layer", "gram_flops", "layer_sizes", "vgg_flops"]


#: The layers the default losses read (style Grams and the content layer).
DEFAULT_LAYERS: tuple[str, ...] = (*STYLE_LAYERS, CONTENT_LAYER)


@dataclass(frozen=True)
class FlopCount:
    """FLOPs of the conv layers of one network pass (multiply-add = 2 FLOPs).

    forward: the forward pass up to the deepest layer used.
    backward: the backward pass from there to the input image (input gradients only).
    per_conv: conv name -> forward FLOPs of that conv, in network order.
    """

    forward: int
    backward: int
    per_conv: dict[str, int]

    @property
    def total(self) -> int:
        """forward + backward: what one optimiser iteration (one evaluation) costs in conv work."""
        return self.forward + self.backward


def _check_size(width: int, height: int) -> None:
    if int(width) != width or int(height) != height or width < 1 or height < 1:
        raise ValueError(f"expected a positive integer width and height, got {width}x{height}")


def deepest_layer(layers: Iterable[str]) -> str:
    """The layer of ``layers`` that sits deepest in the network (what a pass must reach)."""
    layers = list(layers)
    if not layers:
        raise ValueError("expected at least one VGG-19 layer name")
    unknown = sorted(set(layers) - set(LAYER_ORDER))
    if unknown:
        raise ValueError(f"unknown VGG-19 layer(s) {unknown}; expected names like relu4_2")
    return max(layers, key=LAYER_ORDER.index)


def layer_sizes(width: int, height: int, layers: Iterable[str] = DEFAULT_LAYERS) -> dict[str, tuple[int, int, int]]:
    """(channels, height, width) of every layer's output up to the deepest of ``layers``.

    Convs keep the size (3x3, padding 1); each max pool halves it, rounding down.
    """
    _check_size(width, height)
    shapes = conv_shapes()
    stop = LAYER_ORDER.index(deepest_layer(layers))
    sizes, channels, h, w = {}, 3, int(height), int(width)
    for name in LAYER_ORDER[: stop + 1]:
        if name.startswith("conv"):
            channels = shapes[name][0]
        elif name.startswith("pool"):
            h, w = h // 2, w // 2
        sizes[name] = (channels, h, w)
    return sizes


def vgg_flops(width: int, height: int, layers: Iterable[str] = DEFAULT_LAYERS) -> FlopCount:
    """Conv FLOPs of a forward pass to the deepest of ``layers`` and the backward pass to the input.

    Args:
        width, height: the input image size in pixels.
        layers: the layer names the losses read (default: the style layers and the content layer).
    Returns:
        a :class:`FlopCount`. Example: ``vgg_flops(2, 2, ["relu1_1"]).forward == 2*3*64*9*4 == 13824``.
    """
    shapes = conv_shapes()
    per_conv = {}
    for name, (_, h, w) in layer_sizes(width, height, layers).items():
        if name.startswith("conv"):
            cout, cin, kh, kw = shapes[name]
            per_conv[name] = 2 * cin * cout * kh * kw * h * w
    forward = sum(per_conv.values())
    return FlopCount(forward=forward, backward=forward, per_conv=per_conv)


def gram_flops(width: int, height: int, layers: Iterable[str] = STYLE_LAYERS) -> int:
    """FLOPs of the Gram matrices of ``layers`` for one iteration, forward and backward.

    Forward ``F F^T`` of a (C, H*W) map is 2*C*C*H*W FLOPs. Backward, autograd treats the two
    operands of the batched matmul separately and computes a gradient for each, another two matmuls
    of the same size. Not part of :func:`vgg_flops`; used to explain the optimiser's overhead.
    """
    sizes = layer_sizes(width, height, layers)
    total = 0
    for layer in layers:
        c, h, w = sizes[layer]
        total += 3 * 2 * c * c * h * w
    return total
