"""Multi-pass rendering (Ruder et al. 2016, section 3.5): sweeps over a shot in alternating
directions, each frame refined from its previous-pass result and its neighbours.

A single forward pass carries every frame's error into the next and lets them pile up in one
direction; the last frames of a long shot are held to everything before them. With ``--passes N``:

1. Pass 1 is the single-pass render (:class:`~vidstyle.temporal.VideoStylizer`: fresh start, then
   each frame from the warped previous one with the temporal term), forward.
2. Passes 2..N sweep backward, forward, ... For frame i, with n its neighbour the sweep came from
   (already refined in this pass) and o the other one (still at the previous pass):

       init_i = δ c_n ⊙ warp(x_n) + (1 − δ c_n) ⊙ x_i^(previous pass)          (Ruder's eq. 9, δ = --pass-blend)

   and the temporal term holds it to both neighbours, each warped with its own reliability:
   ``c_n (x − warp(x_n))² + c_o (x − warp(x_o^(previous pass)))²`` (the bidirectional term of the
   paper's multi-pass algorithm). Across a scene cut a neighbour gives nothing.
3. The output is the last pass, copied out in the input's order through the ordinary sink.

Every sweep, and the final copy, runs through the one frame loop (:func:`vidstyle.render.render`)
with an engine of this module. Between passes the frames live on disk (:class:`PassStore`): the
working-size inputs, the flow pairs with both neighbours, and each pass's outputs, next to the output
under a hidden temporary name, written atomically; a killed render resumes at the pass and frame
where it stopped, and gives the frames an unbroken run gives (same seed and threads), because every
frame reads its neighbours back from float32 files, exactly as they were.

Departures, on purpose: no long-term terms and no still-pixel blend in passes 2..N (the neighbours
on both sides already hold still pixels in place); the first frame of each shot is a fresh start in
pass 1 only.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

import flow

from .engine import FrameReport, HistoryEntry, PreparedFrame
from .frames import Frame, resize
from .io.pass_store import PassStore, StoreResume, StoreSink, StoreSource, pass_store_path
from .io.resume import ResumeState

if TYPE_CHECKING:
    from .optimize import Progress, Stylizer
    from .temporal import VideoStylizer

__all__ = ["CopyEngine", "RecordingEngine", "SweepEngine", "render_multipass", "sweep_order"]


def sweep_order(numbers: list[int], pass_index: int) -> list[int]:
    """The frame numbers in the order pass ``pass_index`` (1-based) visits them: odd passes
    forward, even passes backward."""
    return list(numbers) if pass_index % 2 == 1 else list(reversed(numbers))


class RecordingEngine:
    """Pass 1: the single-pass engine, keeping each frame's working-size input in the store."""

    def __init__(self, inner: "VideoStylizer", store: PassStore):
        self.inner, self.store = inner, store

    size = property(lambda self: self.inner.size)
    depth = property(lambda self: self.inner.depth)
    history = property(lambda self: self.inner.history)
    stylised = property(lambda self: self.inner.stylised)

    def prepare(self, frames: Iterable[Frame]) -> Iterator[PreparedFrame]:
        return self.inner.prepare(frames)

    def process(self, frame: Frame | PreparedFrame, progress: Callable[["Progress"], None] | None = None,
                mask: np.ndarray | None = None) -> tuple[Frame, FrameReport]:
        bare = frame.frame if isinstance(frame, PreparedFrame) else frame
        source = frame.source if isinstance(frame, PreparedFrame) else resize(bare.image, self.size)
        if not self.store.has("inputs", bare.number):
            self.store.put("inputs", bare.number, source)
        return self.inner.process(frame, progress, mask)

    def restore(self, entries: list[HistoryEntry]) -> None:
        self.inner.restore(entries)


@dataclass(frozen=True)
class _Neighbour:
    number: int
    pair: flow.FlowPair  # of this frame, from the neighbour


class SweepEngine:
    """One later pass (2..N) over the store, frames in sweep order; see the module docstring.

    Args:
        stylizer: the one-frame optimiser of pass 1 (same network, style targets, config).
        store: the frames so far; pass ``pass_index - 1`` must be complete.
        numbers: every frame number of the render in input order.
        pair: computes a frame's flow pair from a neighbour's input (``temporal.frame_pair``).
        iters: iterations a frame in this pass; blend: δ of the initialisation.
    """

    depth = 0
    history: list[HistoryEntry] = []

    def __init__(self, stylizer: "Stylizer", size: tuple[int, int], store: PassStore, pass_index: int, numbers: list[int],
                 pair: Callable[[np.ndarray, np.ndarray], flow.FlowPair], iters: int, blend: float, scene_cut: Callable[[flow.FlowPair], bool],
                 style_weights: Callable[[int], Any] | None = None, seed: int | None = None):
        self.stylizer, self.size, self.store = stylizer, size, store
        self.pass_index, self.numbers, self.iters, self.blend = pass_index, numbers, iters, blend
        self._position = {n: i for i, n in enumerate(numbers)}
        self._pair, self._scene_cut, self._style_weights, self.seed = pair, scene_cut, style_weights, seed
        self.previous_folder = PassStore.pass_folder(pass_index - 1)
        self.folder = PassStore.pass_folder(pass_index)
        self.forward = pass_index % 2 == 1
        self.stylised: np.ndarray | None = None

    def prepare(self, frames: Iterable[Frame]) -> Iterator[PreparedFrame]:
        for frame in frames:
            yield PreparedFrame(frame, self.store.get("inputs", frame.number), None)

    def restore(self, entries: list[HistoryEntry]) -> None:
        pass  # every neighbour is read back from the store

    def neighbours(self, number: int) -> tuple[_Neighbour | None, _Neighbour | None]:
        """(the neighbour the sweep came from, the other one), each None at the shot's end or across
        a scene cut."""
        position = self._position[number]
        before = self.numbers[position - 1] if position > 0 else None
        after = self.numbers[position + 1] if position + 1 < len(self.numbers) else None
        came_from, other = (before, after) if self.forward else (after, before)

        def link(neighbour: int | None) -> _Neighbour | None:
            if neighbour is None:
                return None
            pair = self.store.pair(number, neighbour, lambda: self._pair(self.store.get("inputs", neighbour), self.store.get("inputs", number)))
            return None if self._scene_cut(pair) else _Neighbour(neighbour, pair)

        return link(came_from), link(other)

    def process(self, frame: Frame | PreparedFrame, progress: Callable[["Progress"], None] | None = None,
                mask: np.ndarray | None = None) -> tuple[Frame, FrameReport]:
        import torch

        from .optimize import Progress, TemporalTarget, image_to_tensor, tensor_to_image

        if mask is not None:
            raise ValueError("a multi-pass render takes no matte")
        started = time.perf_counter()
        bare = frame.frame if isinstance(frame, PreparedFrame) else frame
        source = frame.source if isinstance(frame, PreparedFrame) else self.store.get("inputs", bare.number)
        device = self.stylizer.device
        if self._style_weights is not None:
            self.stylizer.set_style_weights(self._style_weights(bare.index))
        content = image_to_tensor(source, device)
        current = image_to_tensor(self.store.get(self.previous_folder, bare.number), device)
        came_from, other = self.neighbours(bare.number)
        targets: list[TemporalTarget] = []
        init = current
        for neighbour, folder in ((came_from, self.folder), (other, self.previous_folder)):
            if neighbour is None:
                continue
            neighbour_output = image_to_tensor(self.store.get(folder, neighbour.number), device)
            warped = flow.warp_torch(neighbour_output, flow.flow_to_torch(neighbour.pair.backward, device=device))
            reliability = torch.from_numpy(neighbour.pair.reliability)[None, None].to(device)
            targets.append(TemporalTarget(warped, reliability))
            if folder == self.folder:
                weight = self.blend * reliability
                init = weight * warped + (1 - weight) * current
        last = [Progress(0, self.iters, float("nan"))]

        def track(p: Progress) -> None:
            last[0] = p
            if progress is not None:
                progress(p)

        generator = torch.Generator().manual_seed((self.seed or 0) + bare.number + 1_000_003 * self.pass_index)
        result = self.stylizer.stylize(content, init=init, temporal=targets or None, iters=self.iters, callback=track,
                                       generator=generator)
        output = tensor_to_image(result)
        self.stylised = output
        report = FrameReport(index=bare.index, number=bare.number, iterations=last[0].iteration, loss=last[0].loss,
                             seconds=time.perf_counter() - started, fresh_start=False, scene_cut=came_from is None and other is None,
                             reliable_fraction=float(came_from.pair.reliability.mean()) if came_from else None, warp_error=None)
        return bare.with_image(output), report


class CopyEngine:
    """The final copy: each input frame (number, timestamp, alpha kept) gets the last pass's output,
    and its report the warping error of the finished video against the frame before it."""

    depth = 0
    history: list[HistoryEntry] = []

    def __init__(self, store: PassStore, last_pass: int, size: tuple[int, int], numbers: list[int],
                 scene_cut: Callable[[flow.FlowPair], bool]):
        self.store, self.folder, self.size, self.numbers = store, PassStore.pass_folder(last_pass), size, numbers
        self._position = {n: i for i, n in enumerate(numbers)}
        self._scene_cut = scene_cut
        self.stylised: np.ndarray | None = None

    def prepare(self, frames: Iterable[Frame]) -> Iterator[PreparedFrame]:
        for frame in frames:
            yield PreparedFrame(frame, self.store.get("inputs", frame.number), None)

    def restore(self, entries: list[HistoryEntry]) -> None:
        pass

    def process(self, frame: Frame | PreparedFrame, progress: Callable[["Progress"], None] | None = None,
                mask: np.ndarray | None = None) -> tuple[Frame, FrameReport]:
        from .metrics import frame_warping_error

        started = time.perf_counter()
        bare = frame.frame if isinstance(frame, PreparedFrame) else frame
        output = self.store.get(self.folder, bare.number)
        self.stylised = output
        position = self._position[bare.number]
        warp_error, cut = None, False
        if position > 0:
            previous = self.numbers[position - 1]
            pair = self.store.pair(bare.number, previous, lambda: self._no_pair(bare.number, previous))
            cut = self._scene_cut(pair)
            if not cut:
                warp_error = frame_warping_error(output, self.store.get(self.folder, previous), pair.backward, pair.reliability)
        report = FrameReport(index=bare.index, number=bare.number, iterations=0, loss=float("nan"),
                             seconds=time.perf_counter() - started, fresh_start=position == 0 or cut, scene_cut=cut,
                             reliable_fraction=None, warp_error=warp_error)
        return bare.with_image(output), report

    @staticmethod
    def _no_pair(number: int, previous: int) -> flow.FlowPair:
        raise RuntimeError(f"the pass store lacks the flow of frame {number} from {previous}; was pass 2 run?")


def render_multipass(request: Any, size: tuple[int, int], styles: list, device: Any, sink: Any,
                     resume: ResumeState | None, progress: Any, open_input: Callable[[], Any],
                     settings: dict[str, Any]) -> Any:
    """Render ``request`` with ``config.passes`` sweeps (module docstring) into ``sink``; returns
    the final copy's :class:`~vidstyle.render.RenderResult` with every pass's reports before its own
    and the whole wall time. ``open_input`` opens the input afresh (pass 1 and the final copy each
    read it); ``resume``: the output sequence's own policy (None for a video); ``settings``: what
    decides the frames (``pipeline.render_settings``), which the store is kept under."""
    import dataclasses

    from .engines import build_engine
    from .render import render
    from .temporal import VideoStylizer, frame_pair, is_scene_cut

    config = request.config
    started = time.perf_counter()
    settings = {k: v for k, v in settings.items() if k != "versions"}
    if request.overwrite:  # --overwrite renders everything again, the passes too
        shutil.rmtree(pass_store_path(request.output), ignore_errors=True)
    store = PassStore(pass_store_path(request.output), settings)

    def run(source: Any, engine: Any, target: Any, policy: Any, label: str) -> Any:
        if progress is None:
            return render(source, engine, target, resume=policy, start_number=request.start_number)
        with progress(source.count) as shown:
            describe = getattr(shown, "describe", None)
            if describe is not None:
                describe(label)
            return render(source, engine, target, resume=policy, start_number=request.start_number, progress=shown)

    reports: list[FrameReport] = []
    numbers: list[int] = []

    def scene_cut(flow_pair: flow.FlowPair) -> bool:
        return is_scene_cut(flow_pair, config.scene_cut_reliable)

    if _output_complete(open_input(), sink, resume, request.start_number):
        # A rerun of a finished sequence: nothing to render (a single pass skips every frame too).
        result = run(open_input(), CopyEngine(store, config.passes, size, numbers, scene_cut), sink, resume, "writing")
        store.remove()
        return result
    try:
        first = build_engine(request, size, styles, device)
        if not isinstance(first, VideoStylizer):  # config.validate and the pipeline refuse the rest
            raise TypeError(f"--passes needs the optimiser engine, got {type(first).__name__}")
        pass_one = RecordingEngine(first, store)
        result = run(open_input(), pass_one, StoreSink(store, 1), StoreResume(store, 1, store.numbers()),
                     f"pass 1/{config.passes}")
        reports += result.reports
        numbers = store.numbers()
        stylizer = first.stylizer

        def pair(neighbour_input: np.ndarray, this_input: np.ndarray) -> flow.FlowPair:
            return frame_pair(neighbour_input, this_input, config)

        keys = request.style_keys
        iters = config.later_pass_iters
        position = {n: i for i, n in enumerate(numbers)}
        for pass_index in range(2, config.passes + 1):
            order = sweep_order(numbers, pass_index)
            engine = SweepEngine(stylizer, size, store, pass_index, numbers, pair, iters, config.pass_blend, scene_cut,
                                 style_weights=keys.at if keys is not None else None, seed=config.seed)
            result = run(StoreSource(store, order, position, size), engine, StoreSink(store, pass_index),
                         StoreResume(store, pass_index, order), f"pass {pass_index}/{config.passes}")
            reports += result.reports
    except BaseException:
        sink.abort()  # the passes so far stay in the store for the next run
        raise
    copy = CopyEngine(store, config.passes, size, numbers, scene_cut)
    result = run(open_input(), copy, sink, resume, "writing")
    # One report a frame, as a single pass gives: the finished video's cuts and warping errors (the
    # copy's), with the iterations and seconds of every pass and the last pass's loss.
    per_frame: dict[int, list[FrameReport]] = {}
    for report in reports:
        per_frame.setdefault(report.number, []).append(report)
    result.reports = [dataclasses.replace(
        copied, iterations=sum(r.iterations for r in per_frame.get(copied.number, [])),
        loss=per_frame[copied.number][-1].loss if copied.number in per_frame else copied.loss,
        seconds=copied.seconds + sum(r.seconds for r in per_frame.get(copied.number, [])),
    ) for copied in result.reports]
    result.seconds = time.perf_counter() - started
    result.details = (*result.details, f"{config.passes} passes")
    store.remove()
    return result


def _output_complete(source: Any, sink: Any, resume: ResumeState | None, start_number: int) -> bool:
    """Whether every frame of a resumable output exists already (a finished sequence rerun)."""
    if resume is None or not resume.skip_finished or not sink.resumable:
        return False
    if source.is_sequence:
        expected = list(source.reader.numbers)
    elif source.count:
        expected = list(range(start_number, start_number + source.count))
    else:
        return False
    return bool(expected) and all(sink.exists(n) for n in expected)

