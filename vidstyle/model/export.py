"""A trained :class:`~vidstyle.model.network.TransferNet` as a self-contained TorchScript or ONNX file,
for tools that run networks without vidstyle (Nuke's Inference node, onnxruntime, TensorRT, a C++
host; docs/EXPORT.md).

The exported graph takes ``image`` (N, 3, H, W) float32 RGB in [0, 1] and ``style_weights`` (N, S)
float32 (one row per image, non-negative, summing to 1) and returns ``stylized`` (N, 3, H, W) in
[0, 1]. H and W may be any multiples of 4 of at least 16 px (the caller pads; vidstyle's own
:func:`~vidstyle.model.network.stylize` pads by reflection and crops back). With ``style_weights``
given at export time the blend is built in and the graph takes ``image`` alone (what a host with one
image input, such as Nuke, needs).

Neither file needs vidstyle to load: a TorchScript file is a traced graph plus the weights
(``torch.jit.load``), an ONNX file is plain ONNX (onnxruntime and numpy). Both carry the model's
metadata (style names, architecture, what the inputs are) as JSON: the TorchScript file in its extra
file ``vidstyle.json``, the ONNX file in ``metadata_props`` (key ``vidstyle``, plus
``style_names`` and ``architecture``).

Every export is checked before it is written: the exported graph is run at the example size and at a
second size (and batch 2) and compared with the network itself; then it goes to a temporary name
beside the output and is renamed into place, so no reader sees half a file.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import UsageError
from .network import MIN_SIDE, MULTIPLE, TransferNet

__all__ = ["DEFAULT_SIZE", "EXTENSIONS", "FORMATS", "METADATA_FILE", "Exported", "export_metadata",
           "export_model", "export_onnx", "export_torchscript", "format_for"]

FORMATS = ("torchscript", "onnx")
EXTENSIONS = {".pt": "torchscript", ".torchscript": "torchscript", ".onnx": "onnx"}
# The example frame the graph is traced at; the exported graph takes other sizes too.
DEFAULT_SIZE = (256, 256)
METADATA_FILE = "vidstyle.json"
# Opset 18 (onnxruntime >= 1.14, TensorRT 8.6+, OpenCV DNN 4.8+) has every operator this network
# needs (Conv, Pad reflect, Resize nearest, InstanceNormalization, MatMul, Sigmoid).
OPSET = 18
# The exported graph against the network in float32: differences are rounding (about 1e-6).
TOLERANCE = 1e-4
_INSTALL_HINT = "pip install 'vidstyle[export]'"


@dataclass(frozen=True)
class Exported:
    """What an export wrote.

    Attributes:
        path: the file.
        format: ``torchscript`` or ``onnx``.
        styles: the model's number of styles (the width of ``style_weights``).
        style_weights: the built-in blend, or None when the graph takes ``style_weights``.
        sizes: the (width, height) sizes the file was checked at.
        max_difference: the largest absolute difference from the network at those sizes.
    """

    path: Path
    format: str
    styles: int
    style_weights: tuple[float, ...] | None
    sizes: tuple[tuple[int, int], ...]
    max_difference: float

    def describe(self) -> str:
        """``ONNX, inputs image (N,3,H,W) and style_weights (N,2); sides multiples of 4``."""
        name = {"onnx": "ONNX", "torchscript": "TorchScript"}[self.format]
        if self.style_weights is None:
            inputs = f"inputs image (N,3,H,W) and style_weights (N,{self.styles})"
        else:
            inputs = f"input image (N,3,H,W), style weights {'/'.join(f'{w:g}' for w in self.style_weights)} built in"
        checked = ", ".join(f"{w}x{h}" for w, h in self.sizes)
        return (f"{name}, {inputs}; sides multiples of {MULTIPLE}, at least {MIN_SIDE}; "
                f"checked at {checked}: max difference {self.max_difference:.1e}")


class _Blend(nn.Module):
    """The exported graph: ``forward(image, style_weights)``."""

    def __init__(self, net: TransferNet):
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor, style_weights: torch.Tensor) -> torch.Tensor:
        return self.net(image, style_weights)


class _Fixed(nn.Module):
    """The exported graph with the blend built in: ``forward(image)``."""

    style_weights: torch.Tensor

    def __init__(self, net: TransferNet, style_weights: torch.Tensor):
        super().__init__()
        self.net = net
        self.register_buffer("style_weights", style_weights.to(torch.float32)[None])

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        # image.shape[0] is recorded as a size operation, so the batch stays free in the graph.
        return self.net(image, self.style_weights.expand(image.shape[0], -1))


def format_for(path: str | os.PathLike, format: str | None = None) -> str:
    """``format`` checked, or the format that ``path``'s extension names; UsageError otherwise."""
    if format is not None:
        if format not in FORMATS:
            raise UsageError(f"unknown export format {format!r}; expected one of {', '.join(FORMATS)}")
        return format
    suffix = Path(path).suffix.lower()
    if suffix not in EXTENSIONS:
        expected = ", ".join(f"{ext} ({fmt})" for ext, fmt in EXTENSIONS.items())
        raise UsageError(f"cannot tell the export format from {str(path)!r}: expected a file ending in {expected}, "
                         f"or give --format")
    return EXTENSIONS[suffix]


def export_metadata(net: TransferNet, info: Any = None, style_weights: Sequence[float] | None = None,
                    source: str | None = None) -> dict:
    """The JSON record stored in an exported file: the network, its styles (from ``info``, a
    :class:`~vidstyle.model.file.ModelInfo`, when given), the inputs and output, a built-in blend."""
    from .. import __version__

    arch = net.architecture
    styles = list(info.styles) if info is not None else [{"name": f"style {i + 1}"} for i in range(arch.styles)]
    names = [str(style.get("name", f"style {i + 1}")) for i, style in enumerate(styles)]
    inputs: dict[str, str] = {"image": "(N, 3, H, W) float32 RGB in [0, 1]; H and W multiples of "
                                       f"{MULTIPLE}, at least {MIN_SIDE}"}
    if style_weights is None:
        inputs["style_weights"] = f"(N, {arch.styles}) float32, one row per image, >= 0, summing to 1, in the order of style_names"
    record = {
        "format": "vidstyle-export", "version": 1, "architecture": arch.record(), "style_names": names,
        "styles": styles, "inputs": inputs, "output": "stylized: (N, 3, H, W) float32 RGB in [0, 1]",
        "multiple": MULTIPLE, "min_side": MIN_SIDE, "vidstyle": __version__,
    }
    if style_weights is not None:
        record["style_weights"] = [float(w) for w in style_weights]
    if source is not None:
        record["source"] = source
    if info is not None and info.training:
        record["training"] = dict(info.training)
    return record


def export_torchscript(net: TransferNet, path: str | os.PathLike, *, style_weights: Sequence[float] | None = None,
                       size: tuple[int, int] = DEFAULT_SIZE, metadata: dict | None = None,
                       overwrite: bool = False) -> Exported:
    """Write ``net`` as a traced TorchScript file (``torch.jit.load`` reads it without vidstyle).

    Traced, not scripted: ``torch.jit.script`` rejects the network's input check (it builds its
    error message from ``tuple(image.shape)``), and everything else is plain tensor code with no branch on values. The trace
    records sizes as operations (padding amounts are constants, the upsampling is by a scale factor),
    so the file takes any size; it is checked at a second size and batch before it is written."""
    target = _check_target(path, overwrite)
    graph, style = _graph(net, style_weights)
    example = _examples(net, style, size)[0][0]
    with warnings.catch_warnings():
        # torch.jit is deprecated in favour of torch.export, but TorchScript is what Nuke and
        # libtorch hosts load; the tracer's warnings are about the input check it skips.
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(graph, example, check_trace=False)
        buffer = io.BytesIO()
        record = metadata if metadata is not None else export_metadata(net, style_weights=_tuple(style))
        torch.jit.save(traced, buffer, _extra_files={METADATA_FILE: json.dumps(record)})
        data = buffer.getvalue()
        loaded = torch.jit.load(io.BytesIO(data), map_location="cpu")
    worst, sizes = _verify(net, style, size, lambda *inputs: loaded(*inputs).numpy(), "TorchScript")
    _write(target, data)
    return Exported(target, "torchscript", net.architecture.styles, _tuple(style), sizes, worst)


def export_onnx(net: TransferNet, path: str | os.PathLike, *, style_weights: Sequence[float] | None = None,
                size: tuple[int, int] = DEFAULT_SIZE, metadata: dict | None = None,
                overwrite: bool = False) -> Exported:
    """Write ``net`` as an ONNX file with free batch, height and width (onnxruntime reads it).

    The exporter is torch.export-based (``dynamo=True``, which needs onnxscript), not the legacy
    TorchScript-based one (``dynamo=False`` with ``dynamic_axes``). Both give the right output at
    other sizes here, but the legacy exporter is deprecated (it warns that it will be removed) and
    computes the reflection padding's pads through Shape/Slice/Concat arithmetic, while
    torch.export states the sizes symbolically (height and width as 4 x a free integer, the
    network's own constraint) and gives a plain graph of Conv, Pad, Resize, InstanceNormalization,
    MatMul and Sigmoid that other runtimes optimise easily. It takes seconds where the legacy one takes one."""
    target = _check_target(path, overwrite)
    try:
        import onnx
        import onnxscript  # noqa: F401 - the dynamo exporter needs it; fail here with a clear message
    except ImportError as error:
        raise UsageError(f"ONNX export needs the onnx and onnxscript packages ({_INSTALL_HINT}): {error}") from None
    from torch.export import Dim

    graph, style = _graph(net, style_weights)
    example = _examples(net, style, size)[0][0]
    # Sides are 4 x a free integer: the exporter can then prove the network's shape arithmetic
    # (two stride-2 convolutions, two 2x upsamplings) returns the input's size.
    batch = Dim("batch", min=1, max=4096)
    height = MULTIPLE * Dim("height_4", min=MIN_SIDE // MULTIPLE, max=4096)
    width = MULTIPLE * Dim("width_4", min=MIN_SIDE // MULTIPLE, max=4096)
    shapes: dict[str, Any] = {"image": {0: batch, 2: height, 3: width}}
    if style is None:
        shapes["style_weights"] = {0: batch}
    input_names = list(shapes)
    # The exporter prints its progress to stdout, which is for a command's results.
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")  # the exporter's notes on axis names and decompositions
        try:
            program = torch.onnx.export(graph, example, None, dynamo=True, dynamic_shapes=shapes, input_names=input_names,
                                        output_names=["stylized"], opset_version=OPSET, verbose=False)
        except TypeError as error:  # a torch from before the torch.export-based exporter
            raise UsageError(f"ONNX export needs a torch whose torch.onnx.export takes dynamo=True (this is torch "
                             f"{torch.__version__}): {error}; upgrade torch, or export TorchScript") from None
    if program is None:  # only the legacy exporter returns None
        raise RuntimeError("the ONNX exporter returned no program")
    # The symbolic sides are named after their expression (4*height_4); call them height and width.
    sides = list(program.model.graph.inputs[0].shape or ())[2:]
    rename: dict[Any, str] = {dim: name for dim, name in zip(sides, ("height", "width")) if not isinstance(dim, int)}
    if rename:
        program.rename_axes(rename)
    proto = program.model_proto
    record = metadata if metadata is not None else export_metadata(net, style_weights=_tuple(style))
    onnx.helper.set_model_props(proto, {
        "vidstyle": json.dumps(record), "style_names": json.dumps(record.get("style_names", [])),
        "architecture": json.dumps(record.get("architecture", net.architecture.record())),
    })
    proto.producer_name = "vidstyle"
    proto.doc_string = "vidstyle transfer network: " + "; ".join(f"{k}: {v}" for k, v in record.get("inputs", {}).items())
    data = proto.SerializeToString()
    onnx.checker.check_model(proto)
    worst, sizes = _verify(net, style, size, _onnxruntime(data), "ONNX")
    _write(target, data)
    return Exported(target, "onnx", net.architecture.styles, _tuple(style), sizes, worst)


def export_model(model_path: str | os.PathLike, output: str | os.PathLike, format: str | None = None,
                 size: tuple[int, int] | None = None, style_weights: Sequence[float] | None = None,
                 overwrite: bool = False) -> Exported:
    """Export the model file ``model_path`` (vidstyle's safetensors) to ``output``; ``format``
    defaults from the extension (.pt or .torchscript: TorchScript, .onnx: ONNX). ValueError (one
    line) for a missing or damaged model, an unknown extension, an existing output without
    ``overwrite``, a bad size or style weights."""
    from .engine import style_vector
    from .file import load_model

    format = format_for(output, format)
    _check_target(output, overwrite)
    size = _check_size(size or DEFAULT_SIZE)
    net, info = load_model(model_path, "cpu")
    weights = None if style_weights is None else style_vector(style_weights, net.architecture.styles)
    metadata = export_metadata(net, info, weights, source=Path(model_path).name)
    export = export_onnx if format == "onnx" else export_torchscript
    return export(net, output, style_weights=weights, size=size, metadata=metadata, overwrite=overwrite)


# ---------------------------------------------------------------------------------------------------


def _check_target(path: str | os.PathLike, overwrite: bool) -> Path:
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"{target} is a folder; give a file name for the exported model")
    if target.exists() and not overwrite:
        raise UsageError(f"{target} exists; use --overwrite to replace it")
    return target


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    width, height = int(size[0]), int(size[1])
    if width % MULTIPLE or height % MULTIPLE or min(width, height) < MIN_SIDE:
        raise UsageError(f"--size: the example frame's sides must be multiples of {MULTIPLE} and at least "
                         f"{MIN_SIDE} px, got {width}x{height}")
    return width, height


def _graph(net: TransferNet, style_weights: Sequence[float] | None) -> tuple[nn.Module, torch.Tensor | None]:
    if net.training:
        raise ValueError("export a network in eval mode (net.eval())")
    if style_weights is None:
        return _Blend(net).eval(), None
    from .engine import style_vector

    # Normalised to sum 1 (what the network was trained on); ValueError for a wrong count.
    style = torch.tensor(style_vector(style_weights, net.architecture.styles), dtype=torch.float32)
    return _Fixed(net, style).eval(), style


def _examples(net: TransferNet, style: torch.Tensor | None, size: tuple[int, int]) -> list[tuple[tuple[torch.Tensor, ...], torch.Tensor]]:
    """(graph inputs, the style-weight rows) at ``size`` (batch 1) and at a second size (batch 2)."""
    width, height = _check_size(size)
    generator = torch.Generator().manual_seed(0)
    cases: list[tuple[tuple[torch.Tensor, ...], torch.Tensor]] = []
    for batch, h, w in ((1, height, width), (2, height + MULTIPLE, width + 2 * MULTIPLE)):
        image = torch.rand(batch, 3, h, w, generator=generator)
        if style is None:
            rows = torch.rand(batch, net.architecture.styles, generator=generator) + 0.1
            rows = rows / rows.sum(dim=1, keepdim=True)
            cases.append(((image, rows), rows))
        else:
            cases.append(((image,), style[None].expand(batch, -1)))
    return cases


def _verify(net: TransferNet, style: torch.Tensor | None, size: tuple[int, int], run: Callable[..., Any],
            name: str) -> tuple[float, tuple[tuple[int, int], ...]]:
    """Run the exported graph on both examples; RuntimeError when it departs from the network."""
    import numpy as np

    worst, sizes = 0.0, []
    for inputs, rows in _examples(net, style, size):
        with torch.no_grad():
            expected = net(inputs[0], rows).numpy()
        got = np.asarray(run(*inputs))
        if got.shape != expected.shape:
            raise RuntimeError(f"the exported {name} graph returned shape {got.shape} for an input of {tuple(inputs[0].shape)}")
        worst = max(worst, float(np.abs(got - expected).max()))
        sizes.append((int(inputs[0].shape[3]), int(inputs[0].shape[2])))
    if not worst <= TOLERANCE:
        raise RuntimeError(f"the exported {name} graph departs from the network by {worst:.3g} (more than {TOLERANCE:g}); not written")
    return worst, tuple(sizes)


def _onnxruntime(data: bytes) -> Callable[..., Any]:
    try:
        import onnxruntime
    except ImportError as error:
        raise UsageError(f"ONNX export checks its file with onnxruntime ({_INSTALL_HINT}): {error}") from None
    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    names = [node.name for node in session.get_inputs()]
    return lambda *inputs: session.run(None, {n: t.numpy() for n, t in zip(names, inputs)})[0]


def _write(target: Path, data: bytes) -> None:
    """``data`` to a temporary file beside ``target``, fsynced, then renamed into place."""
    from ..io.resume import atomic_write

    atomic_write(target, lambda stream: stream.write(data))


def _tuple(style: torch.Tensor | None) -> tuple[float, ...] | None:
    return None if style is None else tuple(float(w) for w in style)

