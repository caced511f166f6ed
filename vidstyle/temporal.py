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
up resembling instead of from smeared pixels. With content weight 0 (an animated texture that
follows the input's motion) there is no content to resemble: fresh frames and disoccluded regions
start from noise, as in Gatys et al.'s texture synthesis.

Two departures for real footage (docs/BENCHMARKS.md, "Flicker on real footage"): where the input
did not change, the flow is held at zero and trusted fully (:func:`frame_pair`; noisy sub-pixel flow
would resample the painted texture every frame), and ``temporal_blend`` mixes the optimised frame
with the previous output where the input is still.

The hybrid (``--init-model``, issue 16): with an ``initializer`` (a trained transfer network), a
fresh frame starts from the network's output instead of the content, and the network's output, not
the content, fills the pixels the warped previous output cannot be trusted for. The optimiser then
refines a frame that already looks like the style (docs/BENCHMARKS.md, "Transfer network").

Two additions from later work (docs/literature.md):

- style keyframes (:class:`vidstyle.style_keys.StyleKeys`): the style weights of each frame come
  from its index, so the Gram targets move linearly between keys and the clip morphs between styles;
- a matte (``process(frame, mask=...)``): after the optimisation the output is
  ``m * stylised + (1 - m) * input``, and that composite is what the history keeps as the output.
  The next frame is warm-started from and held to ``m * composite + (1 - m) * stylised``: inside the
  matte that is what was shown; outside it the shown pixels are the unstylised input, no target for
  a stylised frame (held to it, whatever moves into the matte would stay unstylised), so there the
  optimiser's own unshown result of the previous frame stands in. The whole frame thus evolves as it
  would without a matte and the optimisation inside is not disturbed by a half re-started every
  frame (docs/literature.md has the measurements). A history restored without that image (a
  resumed render) trusts the previous output only inside the warped current matte.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

import numpy as np
import torch

import flow
from flow.still import STILL_MAX_FLOW

from .config import StyleConfig
from .engine import FrameReport, HistoryEntry, PreparedFrame
from .frames import Frame, resize, resize_linear
from .optimize import Progress, Stylizer, TemporalTarget, image_to_tensor, noise_like, tensor_to_image
from .style_keys import StyleKeys

__all__ = ["VideoStylizer", "flow_options", "frame_pair", "is_scene_cut"]


def flow_options(config: StyleConfig) -> dict:
    """What the configured flow method takes besides the two frames, all of it from the config: the
    weights file for RAFT, the preset for DIS."""
    if config.flow == "raft":
        return {"weights": config.flow_weights}
    if config.flow == "dis":
        return {"preset": config.flow_preset}
    return {}


def frame_pair(previous: np.ndarray, current: np.ndarray, config: StyleConfig) -> flow.FlowPair:
    """The flow pair of two working-size input frames, (H, W, 3) in [0, 1], as the temporal loop
    uses it: the configured flow method, then zero flow and full reliability where the input did not
    change (``still_threshold``; real footage's flow is noise there). The one function the loop
    and the shot planner (:mod:`vidstyle.shots.plan`) call, so both see the same motion."""
    if config.flow_scale < 1:
        return _scaled_pair(previous, current, config)
    pair = flow.pair(previous, current, method=config.flow, **flow_options(config))
    if config.still_threshold > 0:
        pair = flow.hold_still(pair, flow.still_mask(previous, current, config.still_threshold / 255.0, flow=pair.backward))
    return pair


def _scaled_pair(previous: np.ndarray, current: np.ndarray, config: StyleConfig) -> flow.FlowPair:
    """:func:`frame_pair` at ``config.flow_scale`` of the frames' size, scaled back up: the flows
    resized bilinearly and multiplied by the size ratio per axis (a flow is a displacement in pixels),
    the reliability resized. The still-pixel test runs at the small size too, its motion limit
    scaled with the flow (a pixel still at full size moves under ``STILL_MAX_FLOW`` there): at full
    size it cost more than the flow itself (11 against 8 ms of CPU at 640x360 with DIS ultrafast
    at half size, measured), and a still region is large next to a pixel."""
    height, width = current.shape[:2]
    small = (max(8, round(width * config.flow_scale)), max(8, round(height * config.flow_scale)))
    previous_small, current_small = resize(previous, small), resize(current, small)
    coarse = flow.pair(previous_small, current_small, method=config.flow, **flow_options(config))
    if config.still_threshold > 0:
        max_flow = STILL_MAX_FLOW * min(small[0] / width, small[1] / height)
        coarse = flow.hold_still(coarse, flow.still_mask(previous_small, current_small, config.still_threshold / 255.0,
                                                         flow=coarse.backward, max_flow=max_flow))
    import cv2

    def up(field: np.ndarray) -> np.ndarray:
        # OpenCV's product by a per-channel scalar: numpy's broadcast along the flow's length-2 last
        # axis is several times slower, and splitting into planes and merging back 2.4x (1.0 against
        # 2.5 ms of CPU a 640x360 flow, the same bits, measured).
        return cv2.multiply(resize_linear(field, (width, height)), (width / small[0], height / small[1], 0.0, 0.0))

    reliability = np.clip(resize_linear(coarse.reliability, (width, height)), 0.0, 1.0)
    return flow.FlowPair(backward=up(coarse.backward), forward=up(coarse.forward), reliability=reliability)


def is_scene_cut(pair: flow.FlowPair, reliable: float) -> bool:
    """True when fewer than ``reliable`` of the pixels of a frame can be trusted from the previous
    one: a cut, where the frame starts afresh. The one test shared by the temporal loop and the shot
    planner of the scale-out (:mod:`vidstyle.shots.plan`), so both split a clip in the same places."""
    return float(pair.reliability.mean()) < reliable


class VideoStylizer:
    """Stylises a stream of frames one after the other, each warm-started from the previous: the
    optimiser as an :class:`~vidstyle.engine.Engine`.

    Args:
        stylizer: the one-frame optimiser (holds network, style targets and config).
        size: working size (width, height); every frame is resized to it.
        temporal: False for the per-frame baseline (each frame from its own content, no flow).
        generator_seed: seeds each frame's noise (seed + frame number), so a resumed run matches.
        style_keys: style weights per frame index (``--style-keys``), one weight per style image of
            ``stylizer``; None keeps the stylizer's own weights.
        initializer: the hybrid (``--init-model``): maps a content frame (1, 3, H, W) to a starting
            image, a transfer network's output. Fresh frames (the first, after a cut) start from it
            instead of the content, and it fills the unreliable pixels of later frames.
    """

    def __init__(self, stylizer: Stylizer, size: tuple[int, int], temporal: bool = True, generator_seed: int | None = None,
                 style_keys: StyleKeys | None = None, initializer: Callable[[torch.Tensor], torch.Tensor] | None = None):
        if style_keys is not None and style_keys.styles != len(stylizer.styles):
            raise ValueError(f"style keys weigh {style_keys.styles} style image(s) but the stylizer has {len(stylizer.styles)}")
        self.style_keys = style_keys
        self.initializer = initializer
        self.stylizer = stylizer
        self.config = stylizer.config
        self.size = size
        self.temporal = temporal
        self.seed = generator_seed
        self.depth = max(self.config.long_term) if temporal else 0
        self.history: list[HistoryEntry] = []  # most recent last, at most ``depth`` entries
        # The last frame's stylised result before a matte's composite, (H, W, 3) at the working
        # size: what a caller compositing at another size (the plate's) needs. None before any frame.
        self.stylised: np.ndarray | None = None

    # -- history (for resume) --------------------------------------------------------------------
    def restore(self, entries: list[HistoryEntry]) -> None:
        """Continue after these finished frames (oldest first), as if they had just been rendered."""
        for entry in entries:
            if entry.source.shape[:2] != (self.size[1], self.size[0]) or entry.output.shape != entry.source.shape:
                raise ValueError(f"history frame {entry.number}: expected ({self.size[1]}, {self.size[0]}, 3) images, got {entry.source.shape} and {entry.output.shape}")
        self.history = list(entries)[-self.depth:] if self.depth else []

    # -- one frame --------------------------------------------------------------------------------
    def prepare(self, frames: Iterable[Frame]) -> Iterator[PreparedFrame]:
        """The CPU side of each frame, independent of the optimiser: resize, and the flow pair with the
        previous input. Run it ahead on a worker thread (``vidstyle.prefetch``) so the optimiser never
        waits for it."""
        previous_source, previous_number = None, None
        for frame in frames:
            source = resize(frame.image, self.size)
            pair = None
            if self.temporal and previous_source is not None:
                pair = frame_pair(previous_source, source, self.config)
            yield PreparedFrame(frame, source, pair, previous_number)
            previous_source, previous_number = source, frame.number

    def process(self, frame: Frame | PreparedFrame, progress: Callable[[Progress], None] | None = None,
                mask: np.ndarray | None = None) -> tuple[Frame, FrameReport]:
        """Stylise ``frame``; returns the output frame (working size, same number/pts/alpha) and a report.

        ``mask``: float32 (H, W) in [0, 1], any size of the frame's aspect (resized to the working
        size): the output is ``mask * stylised + (1 - mask) * input``; None stylises everywhere.
        With ``style_keys``, the style weights of ``frame.index`` are set before optimising.

        ``frame`` may come from :meth:`prepare`, whose flow pair is used when its previous input is
        the last one in the history (a resumed or restarted stream recomputes it)."""
        started = time.perf_counter()
        cfg, device = self.config, self.stylizer.device
        prepared: PreparedFrame | None = None
        if isinstance(frame, PreparedFrame):
            prepared, frame = frame, frame.frame
        source = prepared.source if prepared else resize(frame.image, self.size)
        content = image_to_tensor(source, device)
        matte = self._matte(mask)
        if self.style_keys is not None:
            self.stylizer.set_style_weights(self.style_keys.at(frame.index))

        targets, init, reliable_fraction, scene_cut, previous_pair = [], None, None, False, None
        nearest: TemporalTarget | None = None
        if self.temporal and self.history:
            previous = self.history[-1]
            if prepared is not None and prepared.pair is not None and prepared.previous_number == previous.number:
                previous_pair = prepared.pair
            else:
                previous_pair = frame_pair(previous.source, source, cfg)
            reliable_fraction = float(previous_pair.reliability.mean())
            scene_cut = is_scene_cut(previous_pair, cfg.scene_cut_reliable)
            if scene_cut:
                self.history = []
            else:
                targets = self._temporal_targets(source, previous_pair, matte)
                nearest = targets[0]
                # Start from the warped previous output where it is reliable, the content elsewhere
                # (noise when there is no content loss: see the module docstring).
                if self.initializer is not None:
                    fill = self.initializer(content)
                else:
                    fill = content if cfg.content_weight else noise_like(content, self._generator(frame))
                init = nearest.reliability * nearest.warped_previous + (1 - nearest.reliability) * fill
                if cfg.temporal_weight == 0:
                    targets = []
        fresh = init is None
        if fresh and self.initializer is not None:
            init = self.initializer(content)
        iterations = self.config.start_iters if fresh else self.config.iters

        last = [Progress(0, iterations, float("nan"))]

        def track(p: Progress) -> None:
            last[0] = p
            if progress is not None:
                progress(p)

        generator = self._generator(frame)
        result = self.stylizer.stylize(content, init=init, temporal=targets or None, iters=iterations, callback=track, generator=generator)
        if nearest is not None and previous_pair is not None and cfg.temporal_blend > 0 and cfg.still_threshold > 0:
            # The optimiser's last steps still move pixels a little every frame, also where nothing
            # moved, and over a shot that walk is seen as boiling. Where the input is still, keep
            # most of the previous output (the flow is zero there, so it is not resampled). Not
            # where things move: blending with a warped, resampled image blurs the strokes and
            # loses style (Gram distance 1.4x at 0.7 when blended everywhere by reliability).
            still = flow.still_mask(self.history[-1].source, source, cfg.still_threshold / 255.0, flow=previous_pair.backward)
            keep = cfg.temporal_blend * torch.from_numpy(still.astype(np.float32))[None, None].to(device)
            result = keep * nearest.warped_previous + (1 - keep) * result
        output, target = tensor_to_image(result), None
        self.stylised = output
        if matte is not None:
            # Composite at the working size, before the history keeps it (see the module docstring).
            stylised, m = output, matte[..., None]
            output = m * stylised + (1.0 - m) * source
            target = m * output + (1.0 - m) * stylised

        warp_error = None
        if previous_pair is not None and not scene_cut:
            from .metrics import frame_warping_error

            warp_error = frame_warping_error(output, self.history[-1].output, previous_pair.backward, previous_pair.reliability)
        if self.depth:
            self.history = (self.history + [HistoryEntry(frame.number, source, output, target)])[-self.depth:]
        report = FrameReport(
            index=frame.index, number=frame.number, iterations=last[0].iteration, loss=last[0].loss,
            seconds=time.perf_counter() - started, fresh_start=fresh, scene_cut=scene_cut,
            reliable_fraction=reliable_fraction, warp_error=warp_error,
        )
        return frame.with_image(output), report

    def _generator(self, frame: Frame) -> torch.Generator:
        """This frame's noise: seeded with seed + frame number (so a resumed run matches), else random."""
        generator = torch.Generator()
        generator.manual_seed((self.seed or 0) + frame.number if self.seed is not None else torch.seed())
        return generator

    def _matte(self, mask: np.ndarray | None) -> np.ndarray | None:
        """``mask`` as float32 (H, W) in [0, 1] at the working size, or None."""
        if mask is None:
            return None
        matte = np.asarray(mask, dtype=np.float32)
        if matte.ndim == 3 and matte.shape[2] == 1:
            matte = matte[..., 0]
        if matte.ndim != 2 or min(matte.shape) == 0:
            raise ValueError(f"expected a matte of shape (H, W), got {matte.shape}")
        return np.clip(resize(np.ascontiguousarray(matte), self.size), 0.0, 1.0)

    def _temporal_targets(self, source: np.ndarray, previous_pair: flow.FlowPair, matte: np.ndarray | None = None) -> list[TemporalTarget]:
        """Warped previous outputs with closest-first masks, nearest (t-1) first; ``matte``: this
        frame's, (H, W) at the working size, or None."""
        device = self.stylizer.device
        targets, covered = [], np.zeros(source.shape[:2], np.float32)
        for offset in sorted(self.config.long_term):
            if offset > len(self.history):
                break
            entry = self.history[-offset]
            if offset == 1:
                pair = previous_pair
            else:
                pair = frame_pair(entry.source, source, self.config)
            trusted = pair.reliability
            if matte is not None and entry.target is None:
                # A restored entry keeps only the composite, unstylised outside its matte: no target
                # there. Its matte is unknown; this frame's, warped back, stands in for it.
                trusted = trusted * flow.warp(matte, pair.backward)
            mask = np.clip(trusted - covered, 0.0, 1.0)
            covered = np.clip(covered + mask, 0.0, 1.0)
            previous_output = image_to_tensor(entry.output if entry.target is None else entry.target, device)
            warped = flow.warp_torch(previous_output, flow.flow_to_torch(pair.backward, device=device))
            targets.append(TemporalTarget(warped, torch.from_numpy(mask)[None, None].to(device)))
        return targets
