"""The model file: a trained :class:`~vidstyle.model.network.TransferNet`'s weights and what it is,
in one safetensors file.

Why safetensors: a model is a file users pass around, and a pickle (``torch.save``'s default) runs
code when loaded. safetensors holds only named tensors and a string-to-string header, so loading
one cannot execute anything; the library is the format's reference implementation (Hugging Face),
reads lazily and refuses a truncated file. The header's ``vidstyle`` entry is JSON:

    {"format": "vidstyle-model", "version": 1, "architecture": {...}, "styles": [{"name", "sha256"}],
     "training": {...settings, "steps_done"...}, "vidstyle": "0.x"}

Writes go to a temporary name beside the target and are renamed into place, so a reader (or a
killed trainer) never sees half a file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..errors import UsageError
from .network import Architecture, TransferNet

__all__ = ["FORMAT", "ModelFileError", "ModelInfo", "load_model", "load_weights_into", "read_info", "read_record", "save_model",
           "save_record"]

FORMAT = "vidstyle-model"
VERSION = 1
_HEADER_KEY = "vidstyle"


class ModelFileError(UsageError):
    """A model file that is missing, truncated, foreign or does not match its own header."""


@dataclass(frozen=True)
class ModelInfo:
    """What a model file says about itself.

    Attributes:
        architecture: the network's shape.
        styles: one record per style, in the order of the style-weight vector: ``name`` (the style
            image's file stem) and ``sha256`` of the file it was trained on.
        training: the settings it was trained with (size, steps, weights, inputs, seed, ...) and
            ``steps_done``.
        version: the vidstyle version that wrote it.
    """

    architecture: Architecture
    styles: tuple[dict, ...]
    training: dict = field(default_factory=dict)
    version: str = ""

    @property
    def style_names(self) -> list[str]:
        return [str(style.get("name", f"style {i + 1}")) for i, style in enumerate(self.styles)]

    def record(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "architecture": self.architecture.record(),
                "styles": list(self.styles), "training": self.training, "vidstyle": self.version}

    def describe(self) -> list[str]:
        """Lines for ``vidstyle info``."""
        arch = self.architecture
        lines = [f"vidstyle model, written by vidstyle {self.version or '?'}",
                 f"network: Johnson et al. residual, width {arch.width}, {arch.blocks} residual blocks, "
                 f"{arch.styles} style(s) (conditional instance norm)"]
        for i, style in enumerate(self.styles):
            lines.append(f"style {i + 1}: {style.get('name')} (sha256 {str(style.get('sha256', '?'))[:12]})")
        training = dict(self.training)
        if training:
            done, total = training.pop("steps_done", None), training.get("steps")
            if done is not None:
                lines.append(f"trained: {done} of {total} steps" + ("" if done == total else " (unfinished: a checkpoint)"))
            for key in sorted(training):
                lines.append(f"  {key}: {json.dumps(training[key])}")
        return lines


def save_model(path: str | os.PathLike, net: TransferNet, info: ModelInfo) -> None:
    """Write ``net``'s weights and ``info`` to ``path`` atomically (temporary name, then rename)."""
    if info.architecture != net.architecture:
        raise ValueError(f"model info describes {info.architecture} but the network is {net.architecture}")
    save_record(path, net, info.record())


def read_info(path: str | os.PathLike) -> ModelInfo:
    """The header of a model file, without loading its weights."""
    return _open(path)[0]


def load_model(path: str | os.PathLike, device: torch.device | str = "cpu") -> tuple[TransferNet, ModelInfo]:
    """The network (eval mode, no gradients, on ``device``) and its header; ModelFileError for a
    file that is not a complete vidstyle model."""
    info, tensors = _open(path, weights=True)
    net = TransferNet(info.architecture)
    load_weights_into(net, tensors, path)
    return net.eval().to(device), info


def load_weights_into(module: torch.nn.Module, tensors: dict[str, torch.Tensor], path: str | os.PathLike) -> None:
    """Copy ``tensors`` into ``module`` (then frozen), or ModelFileError naming what does not match
    the network the header describes."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        raise ModelFileError(f"{path}: weights do not match the header's network "
                             f"({len(missing)} missing, e.g. {missing[:1]}; {len(unexpected)} unexpected, e.g. {unexpected[:1]})")
    for name, tensor in tensors.items():
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise ModelFileError(f"{path}: {name} has shape {tuple(tensor.shape)}, the header's network expects {tuple(expected[name].shape)}")
    module.load_state_dict({name: tensor.float() for name, tensor in tensors.items()})
    module.requires_grad_(False)


def read_record(path: str | os.PathLike, expected_format: str, weights: bool = False) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The JSON header of a vidstyle safetensors file of ``expected_format`` (and its tensors when
    ``weights``); ModelFileError for a missing, truncated, foreign or newer file."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    what = "model" if expected_format == FORMAT else "decoder"
    if not path.is_file():
        raise ModelFileError(f"{what} file not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {name: handle.get_tensor(name) for name in handle.keys()} if weights else {}
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise ModelFileError(f"{path} is not a vidstyle {what} (not a readable safetensors file: {' '.join(str(error).split())})") from None
    if _HEADER_KEY not in metadata:
        raise ModelFileError(f"{path} is a safetensors file but not a vidstyle {what} (no '{_HEADER_KEY}' header)")
    try:
        record: dict[str, Any] = json.loads(metadata[_HEADER_KEY])
    except ValueError as error:
        raise ModelFileError(f"{path}: unreadable vidstyle {what} header ({error})") from None
    if not isinstance(record, dict) or record.get("format") != expected_format:
        found = record.get("format") if isinstance(record, dict) else None
        raise ModelFileError(f"{path}: expected a {expected_format} file, got format {found!r}")
    if int(record.get("version", 0)) > VERSION:
        raise ModelFileError(f"{path}: {what} format version {record['version']} is newer than this vidstyle reads ({VERSION}); upgrade vidstyle")
    return record, tensors


def save_record(path: str | os.PathLike, module: torch.nn.Module, record: dict[str, Any]) -> None:
    """``module``'s weights (float32, or float16 when ``record["dtype"]`` says so) and ``record`` as
    the header, written atomically."""
    from safetensors.torch import save

    from ..io.resume import atomic_write

    dtype = torch.float16 if record.get("dtype") == "float16" else torch.float32
    state = {name: tensor.detach().to("cpu", dtype).contiguous() for name, tensor in module.state_dict().items()}
    data = save(state, metadata={_HEADER_KEY: json.dumps(record)})
    atomic_write(Path(path), lambda stream: stream.write(data))


def _open(path: str | os.PathLike, weights: bool = False) -> tuple[ModelInfo, dict[str, torch.Tensor]]:
    record, tensors = read_record(path, FORMAT, weights)
    try:
        architecture = Architecture.from_record(record["architecture"])
        styles = tuple(dict(s) for s in record["styles"])
    except (ValueError, KeyError, TypeError) as error:
        raise ModelFileError(f"{path}: unreadable vidstyle model header ({error})") from None
    if len(styles) != architecture.styles:
        raise ModelFileError(f"{path}: header names {len(styles)} style(s) for a {architecture.styles}-style network")
    return ModelInfo(architecture, styles, dict(record.get("training") or {}), str(record.get("vidstyle", ""))), tensors
