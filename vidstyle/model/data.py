"""What a transfer network trains on: frames of the user's own inputs at the training size, and for
consecutive frames of a video or sequence, the flow between them and its reliability.

Few-shot training on the footage itself (Texler et al. 2020; Deep Video Prior 2020) instead of a
large photo dataset (Johnson et al. used COCO; Ruder et al. 2018 and ReCoNet add Hollywood2 with
precomputed flow): nothing is downloaded, and the network only has to do well on what it will be
used on. The flow is the temporal loop's own (:func:`vidstyle.temporal.frame_pair`, still pixels held),
computed once on the *input* frames and saved with the training state, so a resumed training reads
the very same numbers.

Inputs are anything ``vidstyle stylize`` reads (a video file, a frame pattern), a still image or a
folder of stills.
At most ``max_frames`` frames are taken from all inputs together, spread evenly over each (in
proportion to its length), each video frame with the frame before it. This module reads files (an
edge of the pipeline: training's source); :class:`TrainingSet` itself is pure arrays.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..config import StyleConfig
from ..errors import UsageError
from ..frames import fit_longest_side, resize, to_float, to_uint8

__all__ = ["Batch", "TrainingSet", "check_inputs", "load_inputs"]


@dataclass(frozen=True)
class Batch:
    """One step's samples, all (B, ...) float32 tensors at the crop size (h, w).

    ``current``: (B, 3, h, w) frames; ``previous``: (B, 3, h, w) the frame before each (zeros where a
    sample has none); ``backward_flow``: (B, 2, h, w) current -> previous, in pixels;
    ``reliability``: (B, 1, h, w) in [0, 1], zero where a sample has no previous frame or its flow
    leaves the crop."""

    current: torch.Tensor
    previous: torch.Tensor
    backward_flow: torch.Tensor
    reliability: torch.Tensor

    @property
    def has_pairs(self) -> bool:
        return bool(self.reliability.any())


@dataclass
class TrainingSet:
    """Frames at the training size and, for frames with a previous frame, their flow pair.

    ``frames``: uint8 (H_i, W_i, 3) each; ``previous``: the frame before each, or None;
    ``backward_flow``: float32 (H_i, W_i, 2) or None; ``reliability``: float32 (H_i, W_i) or None.
    ``crop``: the (width, height) every sample is cut to, multiples of 4."""

    frames: list[np.ndarray]
    previous: list[np.ndarray | None]
    backward_flow: list[np.ndarray | None]
    reliability: list[np.ndarray | None]
    crop: tuple[int, int]

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def pairs(self) -> int:
        return sum(f is not None for f in self.backward_flow)

    def sample(self, batch: int, generator: torch.Generator) -> Batch:
        """``batch`` random samples (frame, crop position), drawn with ``generator`` only, so that a
        step's batch depends on nothing but the generator's seed (an exact resume)."""
        width, height = self.crop
        picks = torch.randint(len(self.frames), (batch,), generator=generator).tolist()
        current, previous, flows, reliable = [], [], [], []
        for index in picks:
            frame = self.frames[index]
            h, w = frame.shape[:2]
            y = int(torch.randint(h - height + 1, (1,), generator=generator))
            x = int(torch.randint(w - width + 1, (1,), generator=generator))
            window = (slice(y, y + height), slice(x, x + width))
            current.append(to_float(frame[window]))
            flow, mask = self.backward_flow[index], self.reliability[index]
            earlier = self.previous[index]
            if flow is None or mask is None or earlier is None:
                previous.append(np.zeros((height, width, 3), np.float32))
                flows.append(np.zeros((height, width, 2), np.float32))
                reliable.append(np.zeros((height, width), np.float32))
                continue
            previous.append(to_float(earlier[window]))
            cut = flow[window]
            flows.append(cut)
            # A pixel whose flow lands outside the crop has no previous output to be held to.
            ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
            inside = (xs + cut[..., 0] >= 0) & (xs + cut[..., 0] <= width - 1) & (ys + cut[..., 1] >= 0) & (ys + cut[..., 1] <= height - 1)
            reliable.append(mask[window] * inside)

        def stack(images: list[np.ndarray]) -> torch.Tensor:
            array = np.stack(images)
            if array.ndim == 3:
                array = array[..., None]
            return torch.from_numpy(np.ascontiguousarray(array.transpose(0, 3, 1, 2)))

        return Batch(stack(current), stack(previous), stack(flows), stack(reliable))

    # -- the cache: plain arrays, read back without pickle ------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        from ..io.resume import atomic_write

        arrays: dict[str, np.ndarray] = {"crop": np.array(self.crop)}
        for i, frame in enumerate(self.frames):
            arrays[f"frame_{i}"] = frame
            previous, flow, mask = self.previous[i], self.backward_flow[i], self.reliability[i]
            if previous is not None and flow is not None and mask is not None:
                arrays[f"previous_{i}"], arrays[f"flow_{i}"], arrays[f"reliability_{i}"] = previous, flow, mask
        atomic_write(Path(path), lambda stream: np.savez(stream, **arrays))  # type: ignore[arg-type]

    @classmethod
    def load(cls, path: str | os.PathLike) -> "TrainingSet":
        with np.load(path, allow_pickle=False) as data:
            count = sum(1 for key in data.files if key.startswith("frame_"))
            frames = [data[f"frame_{i}"] for i in range(count)]
            previous = [data[f"previous_{i}"] if f"previous_{i}" in data.files else None for i in range(count)]
            flows = [data[f"flow_{i}"] if f"flow_{i}" in data.files else None for i in range(count)]
            masks = [data[f"reliability_{i}"] if f"reliability_{i}" in data.files else None for i in range(count)]
            crop = tuple(int(v) for v in data["crop"])
        return cls(frames, previous, flows, masks, (crop[0], crop[1]))


def _crop_size(frames: list[np.ndarray], crop: int | None) -> tuple[int, int]:
    if crop is not None:
        side = crop - crop % 4
        small = min(min(f.shape[:2]) for f in frames)
        if side > small:
            raise UsageError(f"--crop {crop} is larger than the smallest training frame's side ({small} px at the training --size)")
        return side, side
    width = min(f.shape[1] for f in frames)
    height = min(f.shape[0] for f in frames)
    return width - width % 4, height - height % 4


def _stills(folder: Path, size: int) -> list[np.ndarray]:
    from ..io.image import SUPPORTED_EXTENSIONS, read_image

    paths = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower().lstrip(".") in SUPPORTED_EXTENSIONS)
    if not paths:
        raise UsageError(f"--on {folder}: no images in the folder (expected {', '.join(SUPPORTED_EXTENSIONS)})")
    return [to_uint8(_at_size(read_image(p)[0], size)) for p in paths]


def _is_still(path: Path) -> bool:
    from ..io.image import SUPPORTED_EXTENSIONS

    return path.is_file() and path.suffix.lower().lstrip(".") in SUPPORTED_EXTENSIONS


def _read_still(path: Path) -> np.ndarray:
    from ..io.image import read_image

    return read_image(path)[0]


def _at_size(image: np.ndarray, size: int) -> np.ndarray:
    return resize(image, fit_longest_side(image.shape[1], image.shape[0], size))


def _clip(spec: str, size: int) -> list[np.ndarray]:
    """Every frame of a video or sequence at the training size, uint8."""
    from ..io.media import open_source

    source = open_source(spec)
    frames = [to_uint8(_at_size(frame.image, size)) for frame in source.frames]
    if not frames:
        raise UsageError(f"--on {spec}: no frames could be read")
    return frames


def check_inputs(inputs: list[str]) -> None:
    """Refuse, before any work, an input that cannot be read: a missing path, an empty folder, a file
    that is not a video or a pattern with no frames (one line naming it)."""
    from ..io.image import SUPPORTED_EXTENSIONS
    from ..io.media import is_pattern, open_source

    for spec in inputs:
        path = Path(spec)
        if path.is_dir():
            if not any(p.suffix.lower().lstrip(".") in SUPPORTED_EXTENSIONS for p in path.iterdir() if p.is_file()):
                raise UsageError(f"--on {spec}: no images in the folder (expected {', '.join(SUPPORTED_EXTENSIONS)})")
            continue
        if not is_pattern(spec) and not path.exists():
            raise UsageError(f"--on {spec}: no such file or folder")
        if _is_still(path):
            _read_still(path)  # an unreadable image: ImageError, one line
            continue
        source = open_source(spec)
        if source.count == 0:
            raise UsageError(f"--on {spec}: no frames")


def load_inputs(inputs: list[str], size: int, max_frames: int, config: StyleConfig, crop: int | None = None,
                progress: Callable[[str], None] | None = None, with_flow: bool = True) -> TrainingSet:
    """Read ``inputs`` (videos, frame patterns, folders of stills) into a :class:`TrainingSet`.

    Frames are resized so their longest side is ``size``. Each video's frames are taken evenly spread
    (its share of ``max_frames``, by length), each with the frame before it and their flow pair;
    a pair across a scene cut (``config.scene_cut_reliable``) is dropped, its frame kept alone.
    ``progress`` hears what is being read; ``with_flow`` False takes single frames only (what the
    decoders train on)."""
    from ..temporal import frame_pair, is_scene_cut

    clips: list[tuple[list[np.ndarray], bool]] = []
    for spec in inputs:
        if progress:
            progress(f"reading {spec}")
        path = Path(spec)
        if path.is_dir():
            clips.append((_stills(path, size), False))
        elif _is_still(path):
            clips.append(([to_uint8(_at_size(_read_still(path), size))], False))
        else:
            clips.append((_clip(spec, size), True))
    total = sum(len(frames) for frames, _ in clips)
    frames_out: list[np.ndarray] = []
    previous_out: list[np.ndarray | None] = []
    flows_out: list[np.ndarray | None] = []
    masks_out: list[np.ndarray | None] = []
    for frames, moving in clips:
        share = max(1, round(max_frames * len(frames) / total))
        moving = moving and with_flow
        first = 1 if moving and len(frames) > 1 else 0
        chosen = sorted(set(np.linspace(first, len(frames) - 1, min(share, len(frames) - first)).round().astype(int).tolist()))
        for index in chosen:
            frame = frames[index]
            pair = None
            if moving and index > 0 and frames[index - 1].shape == frame.shape:
                pair = frame_pair(to_float(frames[index - 1]), to_float(frame), config)
                if is_scene_cut(pair, config.scene_cut_reliable):
                    pair = None
            frames_out.append(frame)
            previous_out.append(frames[index - 1] if pair is not None else None)
            flows_out.append(pair.backward.astype(np.float32) if pair is not None else None)
            masks_out.append(pair.reliability.astype(np.float32) if pair is not None else None)
        if progress:
            progress(f"{len(chosen)} frame(s) taken")
    window = _crop_size(frames_out, crop)
    if min(window) < 16:
        raise UsageError(f"training frames of {window[0]}x{window[1]} px are too small; use a larger --size")
    return TrainingSet(frames_out, previous_out, flows_out, masks_out, window)
