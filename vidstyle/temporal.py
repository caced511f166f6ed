"""State across frames: Ruder et al. 2016's temporally consistent video stylisation.

For each frame t, on the *input* frames at the working size:

1. flow between t-1 and t (both directions) and the reliability c_t of each pixel of t
   (visible in t-1, not on a motion boundary, not flowing out of the frame);
2. if too few pixels are reliable, it is a scene cut: the frame starts afresh like a first frame;
3. otherwise the previous *stylised* frame is warped onto t, ``warp(out[t-1], F_t→t-1)``; the
   optimiser starts from it where reliable and from the content elsewhere, and minimises
   content + style + TV + ``temporal_weight * mean(c_t * (x - warped)^2)``;
4. optionally long-term terms for t-k (``long_term`` = (1, 2, 4) …) whose masks do not double count:
   ``c_k = max(0, c(t, t-k) - sum of the masks of closer frames)`` (Ruder's "closest first").

No file or console I/O happens here; :class:`FrameReport` goes to an optional callback. The history
needed to continue (previous inputs and outputs at the working size) can be exported and restored,
which is how a killed sequence render resumes where it stopped.

Departure from the paper: Ruder initialises from the warped previous frame everywhere; we blend it
with the content frame by reliability, so disoccluded regions start from the content they will end
up resembling instead of from smeared pixels.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

import flow

from .frames import Frame, resize
from .optimize import Progress, Stylizer, TemporalTarget, image_to_tensor, tensor_to_image


@dataclass(frozen=True)
class FrameReport:
    """What happened to one frame."""

    index: int
    number: int
    iterations: int
    loss: float
    seconds: float
    fresh_start: bool  # first frame, scene cut, or --no-temporal
    scene_cut: bool
    reliable_fraction: float | None  # fraction of pixels trusted from the previous frame
    warp_error: float | None  # E_warp of this output against the warped previous output


@dataclass(frozen=True)
class HistoryEntry:
    """A finished frame, at the working size: its number, input and stylised output (H, W, 3) [0, 1]."""

    number: int
    source: np.ndarray
    output: np.ndarray


class VideoStylizer:
    """Stylises a stream of frames one after the other, each warm-started from the previous.

    Args:
        stylizer: the one-frame optimiser (holds network, style targets and config).
        size: working size (width, height); every frame is resized to it.
        temporal: False for the per-frame baseline (each frame from its own content, no flow).
        generator_seed: seeds each frame's noise (seed + frame number), so a resumed run matches.
    """

    def __init__(self, stylizer: Stylizer, size: tuple[int, int], temporal: bool = True, generator_seed: int | None = None):
        self.stylizer = stylizer
        self.config = stylizer.config
        self.size = size
        self.temporal = temporal
        self.seed = generator_seed
        self.depth = max(self.config.long_term) if temporal else 0
        self.history: list[HistoryEntry] = []  # most recent last, at most ``depth`` entries

    # -- history (for resume) --------------------------------------------------------------------
    def restore(self, entries: list[HistoryEntry]) -> None:
        """Continue after these finished frames (oldest first), as if they had just been rendered."""
        for entry in entries:
            if entry.source.shape[:2] != (self.size[1], self.size[0]) or entry.output.shape != entry.source.shape:
                raise ValueError(f"history frame {entry.number}: expected ({self.size[1]}, {self.size[0]}, 3) images, got {entry.source.shape} and {entry.output.shape}")
        self.history = list(entries)[-self.depth:] if self.depth else []

    # -- one frame --------------------------------------------------------------------------------
    def process(self, frame: Frame, progress: Callable[[Progress], None] | None = None) -> tuple[Frame, FrameReport]:
        """Stylise ``frame``; returns the output frame (working size, same number/pts/alpha) and a report."""
        started = time.perf_counter()
        cfg, device = self.config, self.stylizer.device
        source = resize(frame.image, self.size)
        content = image_to_tensor(source, device)

        targets, init, reliable_fraction, scene_cut, previous_pair = [], None, None, False, None
        if self.temporal and self.history:
            previous = self.history[-1]
            previous_pair = flow.pair(previous.source, source, method=cfg.flow, **self._flow_options())
            reliable_fraction = float(previous_pair.reliability.mean())
            scene_cut = reliable_fraction < cfg.scene_cut_reliable
            if scene_cut:
                self.history = []
            else:
                targets = self._temporal_targets(source, previous_pair)
                nearest = targets[0]
                # Start from the warped previous output where it is reliable, the content elsewhere.
                init = nearest.reliability * nearest.warped_previous + (1 - nearest.reliability) * content
                if cfg.temporal_weight == 0:
                    targets = []
        fresh = init is None
        iterations = self.config.start_iters if fresh else self.config.iters

        last = [Progress(0, iterations, float("nan"))]

        def track(p: Progress) -> None:
            last[0] = p
            if progress is not None:
                progress(p)

        generator = torch.Generator()
        generator.manual_seed((self.seed or 0) + frame.number if self.seed is not None else torch.seed())
        result = self.stylizer.stylize(content, init=init, temporal=targets or None, iters=iterations, callback=track, generator=generator)
        output = tensor_to_image(result)

        warp_error = None
        if previous_pair is not None and not scene_cut:
            from .metrics import frame_warping_error

            warp_error = frame_warping_error(output, self.history[-1].output, previous_pair.backward, previous_pair.reliability)
        if self.depth:
            self.history = (self.history + [HistoryEntry(frame.number, source, output)])[-self.depth:]
        report = FrameReport(
            index=frame.index, number=frame.number, iterations=last[0].iteration, loss=last[0].loss,
            seconds=time.perf_counter() - started, fresh_start=fresh, scene_cut=scene_cut,
            reliable_fraction=reliable_fraction, warp_error=warp_error,
        )
        return frame.with_image(output), report

    def _flow_options(self) -> dict:
        if self.config.flow == "raft":
            return {"weights": self.config.flow_weights}
        return {}

    def _temporal_targets(self, source: np.ndarray, previous_pair: flow.FlowPair) -> list[TemporalTarget]:
        """Warped previous outputs with closest-first masks, nearest (t-1) first."""
        device = self.stylizer.device
        targets, covered = [], np.zeros(source.shape[:2], np.float32)
        for offset in sorted(self.config.long_term):
            if offset > len(self.history):
                break
            entry = self.history[-offset]
            if offset == 1:
                pair = previous_pair
            else:
                pair = flow.pair(entry.source, source, method=self.config.flow, **self._flow_options())
            mask = np.clip(pair.reliability - covered, 0.0, 1.0)
            covered = np.clip(covered + mask, 0.0, 1.0)
            previous_output = image_to_tensor(entry.output, device)
            warped = flow.warp_torch(previous_output, flow.flow_to_torch(pair.backward, device=device))
            targets.append(TemporalTarget(warped, torch.from_numpy(mask)[None, None].to(device)))
        return targets
