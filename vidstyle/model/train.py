"""``vidstyle train``: a transfer network for one or several styles, trained on the user's own
footage with the optimiser's own losses (Johnson et al. 2016; for video Ruder et al. 2018, ReCoNet).

Each step draws ``batch`` frames (random crops, :mod:`vidstyle.model.data`) and a style for each,
runs the network on them and on the frames before them, and minimises

    style_weight * style_loss + content_weight * content_loss + tv_weight * tv
        + temporal_weight * mean(c * (out_t - warp(out_t-1, backward_flow))^2)

with the same functions, layers and pixel scale (0-255 for TV and temporal) as the optimiser
(:mod:`vidstyle.optimize`), so the weights mean what they mean there. The Gram targets are the
style images' own at the crop size (style scale as in the optimiser).

What makes it a long job users can trust:

- the model file is written (atomically) at every checkpoint, with a resumable training state
  beside it (``MODEL.training/``: the network, Adam's state and the step, plus the frames and flow,
  computed once); the same command continues from there, and the batch of step k depends only on
  the seed and k, so a killed and resumed run ends with the very weights of an unbroken one (at the
  same ``--threads``);
- Ctrl+C or SIGTERM stops after the current step and writes a checkpoint first;
- nothing of another training is overwritten: a finished model needs ``--overwrite``, and a
  checkpoint made with other settings is refused with the setting named.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import platform
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from .. import losses
from ..config import StyleConfig, TrainConfig
from ..errors import Interrupted, UsageError
from .data import Batch, TrainingSet, check_inputs, load_inputs
from .file import ModelInfo, save_model
from .network import Architecture, TransferNet

__all__ = ["TrainProgress", "TrainRequest", "TrainResult", "state_folder", "train"]

PIXEL_SCALE = 255.0  # the optimiser's pixel scale for TV and temporal terms (vidstyle.optimize)


@dataclass(frozen=True)
class TrainRequest:
    """A training job.

    Attributes:
        styles: style image paths; the model's style-weight vector follows this order.
        inputs: videos, frame patterns or folders of stills to train on.
        output: the model file.
        config: loss weights, layers, style scale, VGG weights, flow and scene-cut settings, device,
            threads, seed (as for the optimiser).
        training: the training's own settings (:class:`TrainConfig`).
        overwrite: replace a finished model, or discard another training's checkpoint.
        decoder: train the arbitrary-style decoders (:mod:`vidstyle.model.decoder`) instead: no
            styles; each decoder learns to reconstruct the frames from their VGG features.
    """

    styles: tuple[str, ...]
    inputs: tuple[str, ...]
    output: str
    config: StyleConfig = field(default_factory=StyleConfig)
    training: TrainConfig = field(default_factory=TrainConfig)
    overwrite: bool = False
    decoder: bool = False


@dataclass(frozen=True)
class TrainResult:
    output: str
    steps: int
    resumed_at: int
    seconds: float
    final_loss: float
    frames: int
    pairs: int

    def summary(self) -> str:
        start = f", resumed at step {self.resumed_at}" if self.resumed_at else ""
        return (f"trained {self.output}: {self.steps} steps{start} in {self.seconds:.0f} s on {self.frames} frames "
                f"({self.pairs} with flow), final loss {self.final_loss:.4g}")


class TrainProgress(Protocol):
    """What a caller hears: ``start(total, done)``, then ``step(done, loss)`` after every step, and
    ``message(text)`` for the phases before (reading inputs, computing flow)."""

    def start(self, total: int, done: int) -> None: ...

    def step(self, done: int, loss: float) -> None: ...

    def message(self, text: str) -> None: ...


class _Silent:
    def start(self, total: int, done: int) -> None:
        pass

    def step(self, done: int, loss: float) -> None:
        pass

    def message(self, text: str) -> None:
        pass


def state_folder(output: str | Path) -> Path:
    """Where a training keeps what it needs to resume: ``MODEL.training/`` beside the model."""
    output = Path(output)
    return output.with_name(output.name + ".training")


def _settings(request: TrainRequest, seed: int) -> dict[str, Any]:
    """Everything that decides the final weights; a checkpoint made under other settings is refused."""
    from ..io.resume import file_digest

    style_fields = ("content_weight", "style_weight", "tv_weight", "content_layer", "style_layers", "style_layer_weights",
                    "style_scale", "weights", "flow", "flow_preset", "still_threshold", "scene_cut_reliable")
    return {
        "kind": "decoder" if request.decoder else "transfer",
        "styles": [{"name": Path(p).stem, "sha256": file_digest(p)} for p in request.styles],
        "inputs": [str(Path(p).resolve()) for p in request.inputs],
        "training": dataclasses.asdict(request.training),
        "losses": {k: getattr(request.config, k) for k in style_fields},
        "seed": seed,
    }


def _jsonable(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value))


def _step_generator(seed: int, step: int) -> torch.Generator:
    """The generator of step ``step``'s batch: a function of the seed and the step alone."""
    digest = hashlib.sha256(f"{seed}:{step}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") & ((1 << 63) - 1))


@contextlib.contextmanager
def _stop_requests() -> Iterator[list[bool]]:
    """Ctrl+C and SIGTERM set a flag instead of interrupting: a step half applied by Adam would
    make the checkpoint worthless. The loop checks the flag between steps."""
    stop = [False]
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def request(signum, frame):
        stop[0] = True

    previous = {sig: signal.signal(sig, request) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _check_output(request: TrainRequest) -> None:
    output = Path(request.output)
    for path in (*request.styles, *request.inputs):
        if Path(path).exists() and output.exists() and output.resolve() == Path(path).resolve():
            raise UsageError(f"the model {output} is an input; choose another name")
    if output.is_dir():
        raise UsageError(f"the model {output} is a folder; expected a file name")
    if not output.parent.is_dir() and str(output.parent) not in ("", "."):
        raise UsageError(f"cannot write the model {output}: folder {output.parent} does not exist")


def train(request: TrainRequest, progress: TrainProgress | None = None) -> TrainResult:
    """Train (or continue training) the model ``request.output``; returns what was done.

    Raises UsageError for bad input before any work, and :class:`~vidstyle.errors.Interrupted` after writing a
    checkpoint when stopped by Ctrl+C / SIGTERM."""
    from ..device import configure_cpu_threads, resolve_device
    from ..io.image import read_image
    from ..io.resume import atomic_write, differences
    from ..optimize import Stylizer

    started = time.perf_counter()
    config, training = request.config.validate(), request.training.validate()
    if request.decoder and request.styles:
        raise UsageError("--decoder learns to reconstruct photographs and takes no style images; drop -s")
    if not request.styles and not request.decoder:
        raise UsageError("train needs at least one style image (-s STYLE)")
    if not request.inputs:
        raise UsageError("train needs footage to learn from (--on INPUT)")
    _check_output(request)
    heard: TrainProgress = progress or _Silent()
    output, folder = Path(request.output), state_folder(request.output)
    checkpoint_path, frames_path = folder / "checkpoint.pt", folder / "frames.npz"
    if request.overwrite:
        shutil.rmtree(folder, ignore_errors=True)
    elif output.exists() and not checkpoint_path.exists():
        raise UsageError(f"{output} exists (a finished model); use --overwrite to train it again")

    checkpoint = None
    if checkpoint_path.exists():
        try:
            checkpoint = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
        except Exception as error:  # noqa: BLE001 - any unreadable checkpoint gets the same advice
            raise UsageError(f"cannot read the checkpoint {checkpoint_path} ({' '.join(str(error).split())[:120]}); "
                             "use --overwrite to start again") from None
    seed = int(checkpoint["settings"]["seed"]) if checkpoint else (config.seed if config.seed is not None else int(torch.seed() % (1 << 31)))
    settings = _jsonable(_settings(request, seed))
    if checkpoint is not None:
        changed = differences(checkpoint["settings"], settings)
        if changed:
            raise UsageError(f"{checkpoint_path} was made with other settings ({'; '.join(changed[:3])}); "
                             "rerun with those, or use --overwrite to start again")

    styles = [read_image(p)[0] for p in request.styles]
    if not frames_path.exists():
        check_inputs(list(request.inputs))
    device = resolve_device(config.device)
    configure_cpu_threads(config.threads)
    folder.mkdir(exist_ok=True)
    if frames_path.exists():
        data = TrainingSet.load(frames_path)
    else:
        heard.message("reading the inputs" + ("" if request.decoder else " and computing their flow"))
        data = load_inputs(list(request.inputs), training.size, training.max_frames, config, training.crop, heard.message,
                           with_flow=not request.decoder)
        data.save(frames_path)

    torch.manual_seed(seed)
    task: _Task = _DecoderTask(config, device) if request.decoder else _TransferTask(config, training, styles, data.crop, device)
    adam = torch.optim.Adam(task.module.parameters(), lr=training.lr)
    done = 0
    if checkpoint is not None:
        task.module.load_state_dict(checkpoint["net"])
        adam.load_state_dict(checkpoint["adam"])
        done = int(checkpoint["step"])
    resumed_at = done

    def save(step: int) -> None:
        record = {**settings["training"], "losses": settings["losses"], "inputs": [Path(p).name for p in request.inputs],
                  "seed": seed, "frames": len(data), "pairs": data.pairs, "crop": list(data.crop), "steps_done": step,
                  "torch": torch.__version__, "python": platform.python_version()}
        # The checkpoint first: a kill between the two leaves a model file behind its checkpoint,
        # never ahead of what a resume continues from.
        if step < training.steps:
            state = {"settings": settings, "step": step, "net": task.module.state_dict(), "adam": adam.state_dict()}
            atomic_write(checkpoint_path, lambda stream: torch.save(state, stream))
        task.write(output, settings, record)

    heard.start(training.steps, done)
    loss_value = float("nan")
    with _stop_requests() as stop:
        while done < training.steps:
            generator = _step_generator(seed, done)
            loss = task.loss(data.sample(training.batch, generator), generator)
            adam.zero_grad(set_to_none=True)
            loss.backward()
            adam.step()
            done += 1
            loss_value = float(loss.detach())
            if not np.isfinite(loss_value):
                raise FloatingPointError(f"the training loss became {loss_value} at step {done}; lower --lr or the weights")
            heard.step(done, loss_value)
            if training.preview_every and (done % training.preview_every == 0 or done == training.steps):
                _write_preview(output, data, task)
            if done % training.checkpoint_every == 0 or done == training.steps or stop[0]:
                save(done)
            if stop[0]:
                raise Interrupted(f"stopped at step {done}; checkpoint kept, rerun the same command to continue")
    shutil.rmtree(folder, ignore_errors=True)
    return TrainResult(str(output), training.steps, resumed_at, time.perf_counter() - started, loss_value, len(data), data.pairs)


def training_loss(net: TransferNet, stylizer: Any, batch: Batch, style_index: torch.Tensor, style_grams: dict[str, torch.Tensor],
                  config: StyleConfig, temporal_weight: float, device: torch.device | str) -> torch.Tensor:
    """The loss of one step (module docstring).

    Args:
        batch: frames (B, 3, h, w) with their previous frames, flow and reliability.
        style_index: (B,) the style each sample is trained toward.
        style_grams: layer -> (S, C, C) each style's Gram at the crop size.
    Returns:
        scalar.
    """
    import flow

    styles = style_grams[config.style_layers[0]].shape[0]
    weights = torch.nn.functional.one_hot(style_index, styles).float().to(device)
    current = batch.current.to(device)
    temporal = temporal_weight > 0 and batch.has_pairs
    if temporal:
        both = net(torch.cat([current, batch.previous.to(device)]), torch.cat([weights, weights]))
        output, previous_output = both.chunk(2)
    else:
        output = net(current, weights)
    features = stylizer.features(output)
    with torch.no_grad():
        content_target = stylizer.features(current, (config.content_layer,))[config.content_layer]
    targets = {layer: grams[style_index.to(grams.device)] for layer, grams in style_grams.items()}
    loss = config.style_weight * losses.style_loss(features, targets, stylizer.layer_weights)
    loss = loss + config.content_weight * losses.content_loss(features[config.content_layer], content_target)
    if config.tv_weight:
        loss = loss + config.tv_weight * losses.tv_loss(output * PIXEL_SCALE)
    if temporal:
        warped = flow.warp_torch(previous_output, batch.backward_flow.to(device))
        loss = loss + temporal_weight * losses.temporal_loss(output * PIXEL_SCALE, warped * PIXEL_SCALE, batch.reliability.to(device))
    return loss


class _Task(Protocol):
    """What differs between training a transfer network and training the decoders."""

    @property
    def module(self) -> torch.nn.Module: ...

    def loss(self, batch: Batch, generator: torch.Generator) -> torch.Tensor: ...

    def write(self, output: Path, settings: dict, record: dict) -> None: ...

    def preview(self, image: torch.Tensor) -> torch.Tensor: ...


class _TransferTask:
    """A transfer network toward ``styles`` (one-hot style per sample, drawn by the generator)."""

    def __init__(self, config: StyleConfig, training: TrainConfig, styles: list[np.ndarray], crop: tuple[int, int],
                 device: torch.device | str):
        from ..optimize import Stylizer

        self.config, self.training, self.device = config, training, device
        self.styles = len(styles)
        self.module = self.net = TransferNet(Architecture(styles=len(styles), width=training.width, blocks=training.blocks)).to(device)
        self.stylizer = Stylizer(config, styles, device=device)
        per_style = self.stylizer.style_image_grams(*crop)
        self.style_grams = {layer: torch.cat([g[layer] for g in per_style]) for layer in config.style_layers}  # (S, C, C)

    def loss(self, batch: Batch, generator: torch.Generator) -> torch.Tensor:
        style_index = torch.randint(self.styles, (batch.current.shape[0],), generator=generator)
        return training_loss(self.net, self.stylizer, batch, style_index, self.style_grams, self.config,
                             self.training.temporal_weight, self.device)

    def write(self, output: Path, settings: dict, record: dict) -> None:
        save_model(output, self.net, ModelInfo(self.net.architecture, tuple(settings["styles"]), record, _version()))

    def preview(self, image: torch.Tensor) -> torch.Tensor:
        from .network import stylize

        weights = torch.zeros(self.styles, device=image.device)
        weights[0] = 1
        return stylize(self.net, image, weights)


class _DecoderTask:
    """The decoders of every level, each reconstructing the frames from their VGG features."""

    def __init__(self, config: StyleConfig, device: torch.device | str):
        from ..features import VGG19Features
        from .decoder import DecoderSet

        self.network = VGG19Features.load(config.weights).to(device)
        self.module = self.decoders = DecoderSet().to(device)

    def loss(self, batch: Batch, generator: torch.Generator) -> torch.Tensor:
        from .decoder import reconstruction_loss

        images = batch.current.to(next(self.decoders.parameters()).device)
        # Mirror half the samples (Li et al.'s crops and flips): a few clips' worth of frames teach
        # more with both handednesses; drawn from the step's generator, so a resume stays exact.
        flip = (torch.rand(images.shape[0], generator=generator) < 0.5).to(images.device)
        images = torch.where(flip[:, None, None, None], images.flip(-1), images)
        return reconstruction_loss(self.decoders, self.network, images)

    def write(self, output: Path, settings: dict, record: dict) -> None:
        from .decoder import save_decoders

        save_decoders(output, self.decoders, record)

    def preview(self, image: torch.Tensor) -> torch.Tensor:
        from .arbitrary import ArbitraryStylizer

        # The reconstruction through the whole cascade with the frame as its own style: what the
        # decoders lose.
        stylizer = ArbitraryStylizer(self.network, dict(self.decoders.items()))  # type: ignore[arg-type]
        stylizer.set_styles([image])
        return stylizer.stylize(image)


def _write_preview(output: Path, data: TrainingSet, task: _Task) -> None:
    """``MODEL.preview.png``: the first training frame | the network's output of it (first style)."""
    from ..frames import to_float
    from ..io.image import write_image

    image = to_float(data.frames[0])
    device = next(task.module.parameters()).device
    with torch.no_grad():
        tensor = torch.from_numpy(image).permute(2, 0, 1)[None].to(device)
        result = task.preview(tensor)[0].permute(1, 2, 0).cpu().numpy()
    write_image(output.with_name(output.stem + ".preview.png"), np.concatenate([image, result], axis=1))


def _version() -> str:
    from .. import __version__

    return __version__


