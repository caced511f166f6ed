"""Blind temporal consistency (Bonneel et al. 2015; Lai et al. 2018): make a flickering per-frame
video consistent, given the original it was made from. An :class:`~vidstyle.engine.Engine`, so it runs
through the one frame loop with every input and output the tool has.

For frame t, with flow and reliability computed on the *original* frames (the processed ones
flicker, so their flow would follow the flicker), each output pixel minimises

    |O_t - P_t|^2 + strength * sum_k c_k |O_t - warp(O_{t-k})|^2

(``P_t`` the processed frame, ``c_k`` the closest-first reliability masks of the long-term offsets, as
in the temporal loss), whose minimiser is the per-pixel closed form

    O_t = (P_t + strength * sum_k c_k W_k) / (1 + strength * sum_k c_k).

Where the flow is unreliable (disocclusions, after a scene cut) the output is the processed frame.
Departure from Bonneel et al.: the data term is on pixels, not gradients, and solved in closed form
instead of by a screened Poisson solve; measured in docs/BENCHMARKS.md. Optionally
(``DeflickerSettings.resynth_iters``) each held frame's texture is then re-synthesised toward the
processed frame's Grams by a few VGG iterations (:mod:`vidstyle.resynthesis`): the closed form
alone averages strokes into a texture VGG's deeper layers no longer see as the painting's. No I/O
here besides reading the original frames the engine was given (and VGG's weights, for that).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

import flow

from .config import DeflickerSettings, StyleConfig
from .engine import Engine, FrameReport, HistoryEntry, PreparedFrame
from .frames import Frame, resize
from .temporal import frame_pair, is_scene_cut

if TYPE_CHECKING:
    import torch

    from .features import VGG19Features
    from .optimize import Progress

__all__ = [
    "DeflickerEngine", "DeflickerStage", "DeflickeredEngine", "HeldFrame", "colour_relation", "deflicker_frame",
    "gaussian_like", "hold_colour", "octave_sigmas", "output_age", "restore_contrast",
]


def deflicker_frame(processed: np.ndarray, warped: list[np.ndarray], masks: list[np.ndarray], strength: float,
                    detail_sigma: float = 0.0, detail_strength: float = 0.0,
                    ages: list[np.ndarray] | None = None) -> np.ndarray:
    """The closed form above, per frequency band. processed: (H, W, 3); warped: the earlier outputs
    warped onto this frame, (H, W, 3) each; masks: their closest-first reliabilities, (H, W) in [0, 1];
    ages: how many frames each warped output already averages, (H, W) each (None: at least
    ``strength``, the steady state); all float32.

    A band's weight on warped output k is ``mask_k * min(strength, age_k)``: the history counts as
    many frames as it has averaged, up to ``strength``. At the steady state that is the fixed weight
    of the formula above; before it (the first frames of a shot, pixels just disoccluded) the output
    is the running mean of the frames so far, so the first frame's own flicker is not carried along
    with weight ``strength / (1 + strength)`` for a whole window, as a fixed weight would do.
    Departure from Bonneel et al., whose weight is fixed.

    ``detail_sigma`` = 0: one band, every frequency held with ``strength``. ``detail_sigma`` > 0: the
    frame is split at a Gaussian blur of that sigma (pixels) into a base (the blur) and a detail (the
    rest), and each band gets its own closed form: the base with ``strength``, the detail with
    ``detail_strength``. A grade's or filter's flicker lives in the base and wants a strong hold;
    per-frame style transfer paints its strokes anew each frame, in the detail, where a strong hold
    would average strokes away (the Gram distance rises) and a weak one keeps the texture. This is the
    intent of Bonneel et al.'s gradient-domain data term (keep the processed frame's detail) without a
    Poisson solve. A held detail band is held octave by octave (:func:`octave_sigmas`), each getting
    its local contrast back (:func:`restore_contrast`, over a window of twice its sigma): averaging
    strokes would otherwise flatten them."""
    processed = processed.astype(np.float32)
    if ages is None:
        ages = [np.full(processed.shape[:2], max(strength, detail_strength), np.float32)] * len(warped)

    def held(band_strength: float, frame: np.ndarray, earlier: list[np.ndarray]) -> np.ndarray:
        if band_strength <= 0 or not earlier:
            return frame
        numerator = frame.copy()
        denominator = np.ones(frame.shape[:2], np.float32)
        for image, mask, age in zip(earlier, masks, ages, strict=True):
            weight = mask * np.minimum(age, band_strength)
            numerator += _per_channel(weight, image) * image
            denominator += weight
        return numerator / _per_channel(denominator, frame)

    if detail_sigma <= 0:
        return held(strength, processed, warped)

    def base(image: np.ndarray) -> np.ndarray:
        return gaussian_like(image, detail_sigma)

    if detail_strength <= 0 or not warped:
        # The base held, the detail passed through: held(base(P), base(W_k)) + P - base(P), which
        # by the blur's linearity is P + sum_k weight_k base(W_k - P) / (1 + sum_k weight_k): one
        # blur a warped output instead of one more of P, and fewer passes over the frame (default
        # settings at 640x360: about 5 ms of CPU less, of 25-30, measured; equal to 4e-6).
        if strength <= 0 or not warped:
            return processed
        change = np.zeros_like(processed)
        denominator = np.ones(processed.shape[:2], np.float32)
        for image, mask, age in zip(warped, masks, ages, strict=True):
            weight = mask * np.minimum(age, strength)
            change += _per_channel(weight, image) * base(image - processed)
            denominator += weight
        return processed + change / _per_channel(denominator, processed)
    processed_base = base(processed)
    warped_bases = [base(image) for image in warped]
    output = held(strength, processed_base, warped_bases)
    # The held detail, an octave at a time (sigmas detail_sigma, /2, ... down to 0.5 px), each with
    # its own contrast restored: restored as one band, the finest strokes stay flattened under the
    # coarser ones' energy (city render, strokes settings: Gram 1.48x -> 1.24x the input's at
    # warping 0.24x -> 0.27x and the same change; docs/BENCHMARKS.md, "Deflicker").
    finer, finer_warped = processed, list(warped)
    for sigma in octave_sigmas(detail_sigma):
        coarser = processed_base if sigma == detail_sigma else gaussian_like(processed, sigma)
        coarser_warped = warped_bases if sigma == detail_sigma else [gaussian_like(w, sigma) for w in warped]
        octave = finer - coarser
        kept = held(detail_strength, octave, [f - c for f, c in zip(finer_warped, coarser_warped)])
        output = output + restore_contrast(kept, octave, 2.0 * sigma)
        finer, finer_warped = coarser, coarser_warped
    return output


def octave_sigmas(detail_sigma: float, finest: float = 0.5) -> list[float]:
    """The blurs that cut a detail band below ``detail_sigma`` into octaves, finest first:
    ``detail_sigma / 2**k`` for k = K..0, every one at least ``finest`` (just ``[detail_sigma]`` if
    it is below that). 4 -> [0.5, 1, 2, 4]."""
    sigmas = [detail_sigma]
    while sigmas[-1] / 2 >= finest:
        sigmas.append(sigmas[-1] / 2)
    return sigmas[::-1]


def _per_channel(plane: np.ndarray, like: np.ndarray) -> np.ndarray:
    """(H, W) repeated into ``like``'s (H, W, C). Why not ``plane[..., None]``: numpy broadcasting
    along a short last axis is about 4x slower than a product of equal shapes (3.4 ms against
    0.6 + 0.3 ms for the copy at 640x360, measured), and this is the inner loop of every frame."""
    import cv2

    return cv2.merge([np.ascontiguousarray(plane, dtype=np.float32)] * like.shape[2])


def gaussian_like(image: np.ndarray, sigma: float) -> np.ndarray:
    """A blur of standard deviation ``sigma`` (pixels) of (H, W[, C]) float32: OpenCV's stack blur,
    whose tent-shaped kernel of radius r has variance r (r + 2) / 6, with r chosen to match. Why not
    a true Gaussian: at sigma 4 on 640x360 it costs 1.7 ms against 6.2 ms, and a band split needs a
    smooth low-pass, not that exact one (the blur is the same for every frame, so bands stay
    consistent)."""
    import cv2

    radius = max(1, round(np.sqrt(1.0 + 6.0 * sigma * sigma) - 1.0))
    return cv2.stackBlur(np.ascontiguousarray(image, dtype=np.float32), (2 * radius + 1, 2 * radius + 1))


def restore_contrast(blended: np.ndarray, reference: np.ndarray, window: float, most: float = 3.0) -> np.ndarray:
    """``blended`` (H, W, C) scaled, per pixel and channel, so that its local energy (a Gaussian
    window of sigma ``window`` over its square) matches ``reference``'s; the gain is held in
    [1, ``most``], so it only ever undoes the loss of contrast. Both are zero-mean detail bands.

    Why: averaging two differently painted stroke patterns lowers the texture's contrast, which is
    what a Gram matrix sees (measured on a per-frame render of the city clip: the Gram distance
    rose 2.2x at a detail hold of 1, 1.5x with this restoration, at the same warping error). The
    averaged pattern is kept, so the output stays consistent where the strokes agree; only their
    amplitude returns to the processed frame's. Departure from Bonneel et al. and Lai et al., who
    keep the processed frame's gradients instead of holding the detail at all."""
    def local(energy: np.ndarray) -> np.ndarray:
        return gaussian_like(energy, window)

    gain = np.sqrt((local(reference * reference) + 1e-5) / (local(blended * blended) + 1e-5))
    return blended * np.clip(gain, 1.0, most)


def colour_relation(image: np.ndarray, source: np.ndarray, stride: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """The per-channel affine map from ``source`` to ``image``, both (H, W, 3) in [0, 1]: gain and
    offset, (3,) each, least squares over every ``stride``-th pixel each way, leaving out pixels
    where ``image`` is clipped (at 0 or 1 the map is not seen). A flat source channel gets gain 0
    (the offset is then the mean)."""
    # Channels as rows (C, N), all fitted at once by weighted sums along the rows (weight 1 where
    # seen; every pixel for a channel seen at fewer than 16), instead of a fit per channel in a Python
    # loop: 1.3 against 2.4 ms at 640x360 (the same values, to 2e-16). Rows, not (N, C) columns:
    # numpy's sums over a length-3 last axis made that version slower than the loop (4.3 ms).
    image = np.ascontiguousarray(image[::stride, ::stride].reshape(-1, image.shape[-1]).T, dtype=np.float64)
    source = np.ascontiguousarray(source[::stride, ::stride].reshape(-1, source.shape[-1]).T, dtype=np.float64)
    seen = (image > 0.5 / 255) & (image < 254.5 / 255)
    weight = np.where(seen.sum(axis=1, keepdims=True) >= 16, seen, True).astype(np.float64)
    count = weight.sum(axis=1, keepdims=True)
    source_mean = (weight * source).sum(axis=1, keepdims=True) / count
    image_mean = (weight * image).sum(axis=1, keepdims=True) / count
    centred = source - source_mean
    spread = (weight * centred * centred).sum(axis=1) / count[:, 0]
    covariance = (weight * centred * (image - image_mean)).sum(axis=1) / count[:, 0]
    gain = np.where(spread > 1e-6, covariance / np.maximum(spread, 1e-6), 0.0)
    return gain, image_mean[:, 0] - gain * source_mean[:, 0]


def hold_colour(processed: np.ndarray, source: np.ndarray, previous_output: np.ndarray, previous_source: np.ndarray,
                weight: float) -> np.ndarray:
    """``processed`` (H, W, 3) with its global colour held to the previous output's: each frame's
    per-channel affine relation to its own source (:func:`colour_relation`) is replaced by the
    weighted mean ``(relation + weight * previous relation) / (1 + weight)``, the previous relation
    being the previous output's to its source. Since that output was held the same way, this is a
    running mean of the relation over the shot, up to ``weight`` frames (the caller passes the
    output's age, so a shot's first frames average what they have).

    Why: a grade's or exposure's flicker, and a per-frame styliser's colour drift, is global, and a
    warp-based hold cannot reach pixels that just came into view (image borders under a camera
    move, disocclusions): there the processed frame's flicker would pass through. Relative to the
    source, so a real change of the original (a light turned on, a fade) is kept. The classic
    deflicker filters (ffmpeg's ``deflicker``) average the frame's mean brightness instead, which
    also removes real changes. Measured in docs/BENCHMARKS.md ("Deflicker")."""
    import cv2

    gain, offset = colour_relation(processed, source)
    previous_gain, previous_offset = colour_relation(previous_output, previous_source)
    held_gain = (gain + weight * previous_gain) / (1.0 + weight)
    held_offset = (offset + weight * previous_offset) / (1.0 + weight)
    # processed + source * (held_gain - gain) + (held_offset - offset), per channel, as one affine
    # map of the source (cv2.transform: numpy's broadcast along a length-3 last axis is ~4x slower).
    channels = len(gain)
    change = np.zeros((channels, channels + 1))
    change[:, :channels] = np.diag(held_gain - gain)
    change[:, channels] = held_offset - offset
    return processed + cv2.transform(np.ascontiguousarray(source, dtype=np.float32), change)


def output_age(masks: list[np.ndarray], ages: list[np.ndarray], cap: float) -> np.ndarray:
    """How many frames an output of :func:`deflicker_frame` averages, per pixel, (H, W): its own frame
    plus what it took from each warped output, with no count beyond ``cap`` (the largest strength:
    more is never used)."""
    age = np.ones(masks[0].shape if masks else (0, 0), np.float32)
    for mask, earlier in zip(masks, ages, strict=True):
        age += mask * np.minimum(earlier, cap)
    return np.minimum(age, max(cap, 1.0))


@dataclass(frozen=True)
class HeldFrame:
    """What :meth:`DeflickerStage.hold` made of one frame: ``output`` (H, W, 3), matted when a matte
    was given; ``held``, the deflickered frame before the matte; and what a :class:`FrameReport`
    says of it."""

    output: np.ndarray
    held: np.ndarray
    fresh_start: bool
    scene_cut: bool
    reliable_fraction: float | None
    warp_error: float | None


class DeflickerStage:
    """The deflicker state between frames and the step that advances it, for the two engines that
    use it: :class:`DeflickerEngine` (``vidstyle deflicker``: the frames come processed) and
    :class:`DeflickeredEngine` (``stylize --deflicker``: another engine processes them first).

    Args:
        size: working size (width, height).
        config: ``flow``, ``flow_preset``, ``flow_scale``, ``long_term``, ``scene_cut_reliable`` and
            ``still_threshold`` are used; with ``settings.resynth_iters``, also ``weights``,
            ``style_layers`` and ``device`` (the re-synthesis' VGG, :mod:`vidstyle.resynthesis`).
        settings: the bands' and the colour's strengths (:class:`~vidstyle.config.DeflickerSettings`).
        depth: frames of history kept (default: the largest long-term offset; a wrapper keeping
            its engine's history beside this one asks for at least that engine's depth).
        network: the VGG-19 an engine already holds (the optimiser's, the arbitrary decoders'
            encoder), for the re-synthesis to use instead of loading a second copy of
            ``config.weights``; where it is, it runs.
    """

    def __init__(self, size: tuple[int, int], config: StyleConfig, settings: DeflickerSettings, depth: int | None = None,
                 network: VGG19Features | None = None):
        self.size = size
        self.config = config
        self.settings = settings.validate()
        self.depth = max(max(config.long_term), depth or 0)
        self.history: list[HistoryEntry] = []
        self._vgg: tuple[VGG19Features, torch.device] | None = None
        if network is not None:
            self._vgg = (network, next(network.parameters()).device)

    def restore(self, entries: list[HistoryEntry]) -> None:
        self.history = list(entries)[-self.depth:]

    def _network(self) -> tuple[VGG19Features, torch.device]:
        """VGG-19 for the re-synthesis and where it runs, loaded at the first use (the closed form
        needs none)."""
        if self._vgg is None:
            from .device import resolve_device
            from .features import VGG19Features

            device = resolve_device(self.config.device)
            self._vgg = (VGG19Features.load(self.config.weights).to(device), device)
        return self._vgg

    def hold(self, processed: np.ndarray, source: np.ndarray, number: int, pair: flow.FlowPair | None = None,
             previous_number: int | None = None, mask: np.ndarray | None = None,
             outside: np.ndarray | None = None) -> HeldFrame:
        """Deflicker frame ``number``: ``processed`` (H, W, 3) in [0, 1], made from ``source`` (the
        original at the working size). ``pair``: the flow pair from the original frame
        ``previous_number`` to this one, when already computed (else it is computed here when the
        history needs it). ``mask`` (H', W') in [0, 1]: the output is ``mask * held + (1 - mask) *
        outside`` (``outside`` default: ``processed``); later frames are held to ``held``."""
        settings = self.settings
        warped: list[np.ndarray] = []
        masks: list[np.ndarray] = []
        ages: list[np.ndarray] = []
        cap = max(settings.strength, settings.detail_strength)
        reliable, cut, error = None, False, None
        if self.history:
            previous = self.history[-1]
            if pair is None or previous_number != previous.number:
                pair = frame_pair(previous.source, source, self.config)
            reliable, cut = float(pair.reliability.mean()), is_scene_cut(pair, self.config.scene_cut_reliable)
            if cut:
                self.history = []
            else:
                covered = np.zeros(source.shape[:2], np.float32)
                for offset in sorted(self.config.long_term):
                    if offset > len(self.history):
                        break
                    entry = self.history[-offset]
                    step = pair if offset == 1 else frame_pair(entry.source, source, self.config)
                    masks.append(np.clip(step.reliability - covered, 0.0, 1.0))
                    covered = np.clip(covered + masks[-1], 0.0, 1.0)
                    warped.append(flow.warp(entry.target if entry.target is not None else entry.output, step.backward))
                    # An entry restored without its age (an older state file, a re-read output) counts as settled.
                    ages.append(flow.warp(entry.age, step.backward) if entry.age is not None else np.full(source.shape[:2], cap, np.float32))
        if warped and settings.colour_strength > 0:
            previous = self.history[-1]
            settled = float(previous.age.mean()) if previous.age is not None else cap
            previous_held = previous.target if previous.target is not None else previous.output
            processed = hold_colour(processed, source, previous_held, previous.source, min(settings.colour_strength, settled))
        held = deflicker_frame(processed, warped, masks, settings.strength, settings.detail_sigma, settings.detail_strength, ages)
        held = np.clip(held, 0.0, 1.0, out=held if held is not processed else None)
        if warped and settings.resynth_iters:
            # Toward the colour-held processed frame's texture: its Grams without the colour flicker.
            from .resynthesis import resynthesise

            network, device = self._network()
            held = resynthesise(network, held, processed, int(settings.resynth_iters), settings.resynth_weight,
                                self.config.style_layers, device)
        age = output_age(masks, ages, cap) if warped else np.ones(source.shape[:2], np.float32)
        output, target = held, None
        if mask is not None:
            matte = np.clip(resize(np.ascontiguousarray(mask, dtype=np.float32), self.size), 0.0, 1.0)[..., None]
            output, target = matte * held + (1.0 - matte) * (processed if outside is None else outside), held
        if warped and pair is not None:
            from .metrics import warped_frame_error

            error = warped_frame_error(output, warped[0], pair.reliability)  # warped[0]: the previous output, by ``pair``
        self.history = (self.history + [HistoryEntry(number, source, output, target=target, age=age)])[-self.depth:]
        return HeldFrame(output, held, fresh_start=not warped, scene_cut=cut, reliable_fraction=reliable, warp_error=error)


class DeflickerEngine:
    """The engine of ``vidstyle deflicker``: frames in are the processed video's; ``original`` yields
    the frames they were made from, in the same order (0-based ``index`` matches).

    Args:
        original: iterable of :class:`Frame` of the original video (any size; resized to ``size``).
        size: working size (width, height): the processed frames' own.
        config: as for :class:`DeflickerStage`.
        settings: the bands' and the colour's strengths (default: a grade's,
            :class:`~vidstyle.config.DeflickerSettings`).
    """

    def __init__(self, original: Iterable[Frame], size: tuple[int, int], config: StyleConfig,
                 settings: DeflickerSettings | None = None):
        self.original = iter(original)
        self.size = size
        self.config = config
        self.stage = DeflickerStage(size, config, settings or DeflickerSettings())
        self.depth = self.stage.depth
        self.stylised: np.ndarray | None = None
        self._original: Frame | None = None
        self._passed: Frame | None = None  # the original frame read just before ``_original``
        self._before_first: np.ndarray | None = None  # the original before the first prepared frame

    @property
    def history(self) -> list[HistoryEntry]:
        return self.stage.history

    def _original_at(self, index: int) -> np.ndarray:
        """The original frame at ``index`` at the working size (frames are asked for in order)."""
        while self._original is None or self._original.index < index:
            try:
                self._passed, self._original = self._original, next(self.original)
            except StopIteration:
                raise ValueError(f"the original video ends before frame {index + 1} of the processed one") from None
        return resize(self._original.image, self.size)

    def prepare(self, frames: Iterable[Frame]) -> Iterator[PreparedFrame]:
        previous: np.ndarray | None = None
        previous_number: int | None = None
        for frame in frames:
            source = self._original_at(frame.index)
            if previous is None and self._passed is not None and self._passed.index == frame.index - 1:
                # A resume starts after skipped frames: keep the original of the last one for restore().
                self._before_first = resize(self._passed.image, self.size)
            pair = frame_pair(previous, source, self.config) if previous is not None else None
            yield PreparedFrame(frame, source, pair, previous_number)
            previous, previous_number = source, frame.number

    def restore(self, entries: list[HistoryEntry]) -> None:
        """Continue after ``entries``, the last of them the frame just before the first prepared one.
        Its ``source`` is set to the original frame there: an entry the resume re-read from an output
        file carries the loop's input (here the processed frame, not the original the flow needs)."""
        if entries and self._before_first is not None:
            entries = [*entries[:-1], replace(entries[-1], source=self._before_first)]
        self.stage.restore(entries)

    def process(self, frame: Frame | PreparedFrame, progress: Callable[[Progress], None] | None = None,
                mask: np.ndarray | None = None) -> tuple[Frame, FrameReport]:
        started = time.perf_counter()
        prepared = frame if isinstance(frame, PreparedFrame) else next(self.prepare([frame]))
        current = prepared.frame
        step = self.stage.hold(resize(current.image, self.size), prepared.source, current.number, prepared.pair,
                               prepared.previous_number, mask)
        self.stylised = step.held
        report = FrameReport(index=current.index, number=current.number, iterations=0, loss=float("nan"),
                             seconds=time.perf_counter() - started, fresh_start=step.fresh_start, scene_cut=step.scene_cut,
                             reliable_fraction=step.reliable_fraction, warp_error=step.warp_error)
        return current.with_image(step.output), report


class DeflickeredEngine:
    """An :class:`~vidstyle.engine.Engine` whose frames are another engine's, deflickered in the same
    pass (``vidstyle stylize --deflicker``): what ``vidstyle deflicker`` would make of the wrapped
    engine's output, with the flow of the input frames, without writing and re-reading a video.

    The wrapped engine keeps its own state and sees frames exactly as it would alone (the stage
    does not feed its output back), so ``--deflicker`` is a post-process of that engine's render.
    A flow pair the wrapped engine computes is reused; one that needs none (a transfer network)
    gets one computed in :meth:`prepare`, on the prefetch thread. The history is the stage's, each
    entry carrying the wrapped engine's own for that frame (``HistoryEntry.inner``), so a resumed
    render restores both. A matte (``mask``) is the stage's: the wrapped engine stylises the whole
    frame, and the deflickered frame is composited over the input."""

    def __init__(self, engine: Engine, config: StyleConfig, settings: DeflickerSettings, network: VGG19Features | None = None):
        self.engine = engine
        self.config = config
        self.stage = DeflickerStage(engine.size, config, settings, depth=engine.depth, network=network)
        self.stylised: np.ndarray | None = None

    @property
    def size(self) -> tuple[int, int]:
        return self.engine.size

    @property
    def depth(self) -> int:
        return self.stage.depth

    @property
    def history(self) -> list[HistoryEntry]:
        inner = {entry.number: entry for entry in self.engine.history}
        return [replace(entry, inner=inner.get(entry.number)) for entry in self.stage.history]

    def prepare(self, frames: Iterable[Frame]) -> Iterator[PreparedFrame]:
        previous: PreparedFrame | None = None
        for prepared in self.engine.prepare(frames):
            if prepared.pair is None and previous is not None:
                prepared = replace(prepared, pair=frame_pair(previous.source, prepared.source, self.config),
                                   previous_number=previous.frame.number)
            yield prepared
            previous = prepared

    def restore(self, entries: list[HistoryEntry]) -> None:
        self.stage.restore(entries)
        # An entry without the wrapped engine's record (re-read from an output file) stands in for it.
        self.engine.restore([entry.inner or HistoryEntry(entry.number, entry.source, entry.output, entry.target) for entry in entries])

    def process(self, frame: Frame | PreparedFrame, progress: Callable[[Progress], None] | None = None,
                mask: np.ndarray | None = None) -> tuple[Frame, FrameReport]:
        started = time.perf_counter()
        prepared = frame if isinstance(frame, PreparedFrame) else PreparedFrame(frame, resize(frame.image, self.size), None)
        stylised, inner = self.engine.process(prepared, progress=progress)
        processed = self.engine.stylised if self.engine.stylised is not None else stylised.image
        step = self.stage.hold(processed, prepared.source, prepared.frame.number, prepared.pair, prepared.previous_number,
                               mask, outside=prepared.source)
        self.stylised = step.held
        report = replace(inner, seconds=time.perf_counter() - started, fresh_start=step.fresh_start,
                         scene_cut=inner.scene_cut or step.scene_cut, reliable_fraction=step.reliable_fraction,
                         warp_error=step.warp_error)
        return stylised.with_image(step.output), report
