"""The engine interface: what the one frame loop (:mod:`vidstyle.render`) asks of whatever computes a
stylised frame, and the records that pass between them.

An engine turns the frames of one shot, in order, into stylised frames. The loop never knows how:
the optimiser with its temporal term (:class:`vidstyle.temporal.VideoStylizer`, the first engine), a
trained network, or a wrapper around either (a matte: :class:`vidstyle.io.mask.MaskedEngine`) all
meet it through :class:`Engine`. No I/O happens here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

import flow

from .frames import Frame

if TYPE_CHECKING:  # the optimiser's progress record; importing optimize at run time would load torch
    from .optimize import Progress

__all__ = ["Engine", "FrameReport", "HistoryEntry", "PreparedFrame", "composite"]


@dataclass(frozen=True)
class FrameReport:
    """What happened to one frame.

    ``iterations``: optimiser iterations run (0 for an engine that does not iterate); ``loss``: the
    final loss (NaN when the engine has none); ``warp_error``: E_warp of this output against the
    warped previous output (None for a fresh start or an engine that computes no flow)."""

    index: int
    number: int
    iterations: int
    loss: float
    seconds: float
    fresh_start: bool  # first frame, scene cut, or --no-temporal
    scene_cut: bool
    reliable_fraction: float | None  # fraction of pixels trusted from the previous frame
    warp_error: float | None


@dataclass(frozen=True)
class PreparedFrame:
    """A frame with its working-size input, (H, W, 3) float32, and the flow pair with the previous
    input (None for the first frame, or for an engine that needs no flow)."""

    frame: Frame
    source: np.ndarray
    pair: flow.FlowPair | None
    previous_number: int | None = None


@dataclass(frozen=True)
class HistoryEntry:
    """A finished frame, at the working size: its number, input and stylised output (H, W, 3) [0, 1].

    ``target``: what later frames are held to, (H, W, 3), when it differs from ``output`` (a frame
    composited with a matte: the composite inside, the unshown stylised result outside); None:
    ``output``.

    ``age``: how many frames ``output`` already averages per pixel, (H, W) (the deflicker engine's
    running-mean weight, :func:`vidstyle.deflicker.deflicker_frame`); None for engines without one.

    ``inner``: a wrapping engine's record of the engine it wraps, for the same frame (``stylize
    --deflicker``: the stylising engine's own entry, its output before deflickering), so that a
    resumed render restores both; None for engines that wrap none."""

    number: int
    source: np.ndarray
    output: np.ndarray
    target: np.ndarray | None = None
    age: np.ndarray | None = None
    inner: HistoryEntry | None = None


@runtime_checkable
class Engine(Protocol):
    """How the frame loop drives a stylising engine.

    Contract:

    - ``size``: the working size (width, height). :meth:`process` returns frames of that size; the
      loop never resizes.
    - :meth:`prepare` maps the input frames, in order, to prepared frames: everything that depends
      only on the input (resizing, the optical flow with the previous input when the engine uses it).
      The loop runs it on a worker thread ahead of :meth:`process`, so it must not touch the state
      that :meth:`process` changes. An engine that needs no flow leaves ``pair`` None.
    - :meth:`process` stylises one prepared frame (or a bare :class:`Frame`, prepared on the spot)
      and returns the output frame (the input's number, timestamp and alpha, working-size pixels)
      and a :class:`FrameReport`. ``progress`` receives the engine's iterations as they happen (an
      engine that does not iterate may never call it). ``mask``: float32 (H, W) in [0, 1]; the
      output is ``mask * stylised + (1 - mask) * input`` and the engine decides what its own state
      keeps. Frames come in order; a gap (frames skipped by a resume) is the caller's business, told
      through :meth:`restore`.
    - ``stylised``: the last processed frame's stylised image before any matte, (H, W, 3) at the
      working size; None before the first frame. What a caller compositing at another size needs.
    - ``depth`` and ``history``: the engine's state between frames is the last ``depth`` finished
      frames (``history``, oldest first; ``depth`` 0 for an engine with no state between frames).
      :meth:`restore` continues after the given frames as if they had just been processed; a resumed
      render saves ``history`` before each frame and restores it (vidstyle.io.resume).

    Multi-pass engines (several sweeps over a shot) and engines with no iterations fit the same
    contract: the loop runs once per sweep; an engine with nothing to report reports 0 iterations.
    """

    @property
    def size(self) -> tuple[int, int]: ...

    @property
    def depth(self) -> int: ...

    @property
    def history(self) -> list[HistoryEntry]: ...

    @property
    def stylised(self) -> np.ndarray | None: ...

    def prepare(self, frames: Iterable[Frame]) -> Iterator[PreparedFrame]: ...

    def process(self, frame: Frame | PreparedFrame, progress: Callable[[Progress], None] | None = None,
                mask: np.ndarray | None = None) -> tuple[Frame, FrameReport]: ...

    def restore(self, entries: list[HistoryEntry]) -> None: ...


def composite(stylised: np.ndarray, source: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """The matte contract of :meth:`Engine.process` for an engine that keeps no state from it:
    ``mask * stylised + (1 - mask) * source``, with ``mask`` (H', W') or (H', W', 1) of any size of the
    frame's aspect, resized to the (H, W) of ``stylised`` and clipped to [0, 1]; None: ``stylised``."""
    from .frames import resize

    if mask is None:
        return stylised
    matte = np.asarray(mask, dtype=np.float32)
    matte = matte[..., 0] if matte.ndim == 3 else matte
    matte = np.clip(resize(np.ascontiguousarray(matte), (stylised.shape[1], stylised.shape[0])), 0.0, 1.0)[..., None]
    return matte * stylised + (1.0 - matte) * source
