"""The one frame loop: every render, local or a scale-out chunk, runs its frames through :func:`render`.

Source, engine, sink and resume policy come in; the loop owns what every render needs around the
engine:

- numbering (a video's frames become ``start_number``, ``start_number + 1``, ... in a sequence) and
  the frames of a chunk (``indices``);
- skipping the frames an earlier run finished (a resumable sink and a resume policy that skips),
  restoring the engine's state from the resume state, and writing that state before each frame;
- running the engine's :meth:`~vidstyle.engine.Engine.prepare` (decode, resize, flow) ahead on a
  worker thread, and a video's encoding on another (:mod:`vidstyle.prefetch`);
- progress (:class:`RenderProgress`) and the summary line (:meth:`RenderResult.summary`).

Sequence sinks: every frame is final as soon as it is written; the state is written before its
frame and holds one entry more than the engine's history (:class:`vidstyle.io.resume.ResumeState`).
Video sinks: an interrupt or failure aborts the sink, which removes the partial file.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol

import numpy as np

from .engine import Engine, FrameReport
from .frames import Frame
from .io.media import Sink, Source
from .io.resume import ResumeState
from .io.video import VideoReader
from .prefetch import BackgroundSink, prefetch

if TYPE_CHECKING:
    from .optimize import Progress

__all__ = ["RenderProgress", "RenderResult", "render", "summary_line"]

# Frames prepared ahead of the engine, and frames waiting for the encoder: enough to hide a slow
# decode or encode behind one optimised frame, without holding many frames in memory.
PREFETCH_DEPTH = 2


class RenderProgress(Protocol):
    """What the frame loop tells whoever shows its progress (a console bar, a scale-out board)."""

    def advance(self, frames: int, report: FrameReport | None = None) -> None:
        """``frames`` more frames are done: rendered (with its ``report``), or found finished."""

    def iteration(self, progress: "Progress") -> None:
        """The engine's progress inside the current frame."""


@dataclass
class RenderResult:
    """What a render did: the reports of the frames it rendered (in order), how many finished frames
    it found and skipped, its wall time, how long the engine waited for the prepared frames and the
    encoder (None where not measured), how many unreadable input frames the reader skipped, and
    details for the summary line (how a scale-out render was split)."""

    reports: list[FrameReport] = field(default_factory=list)
    skipped: int = 0
    seconds: float = 0.0
    waited_seconds: float | None = None
    unreadable: int = 0
    details: tuple[str, ...] = ()

    def summary(self) -> str:
        return summary_line(self.reports, self.seconds, skipped=self.skipped, unreadable=self.unreadable,
                            waited_seconds=self.waited_seconds, details=self.details)


def summary_line(reports: list[FrameReport], seconds: float, *, skipped: int = 0, unreadable: int = 0,
                 waited_seconds: float | None = None, details: tuple[str, ...] = ()) -> str:
    """The one line a render prints at the end; ``details`` go after the timing (e.g. the shots of a
    scale-out render). A frame rendered twice (a chunk overlap) counts once."""
    rendered = len({r.index for r in reports})
    cuts = sum(r.scene_cut for r in reports)
    errors = [r.warp_error for r in reports if r.warp_error is not None]
    # Each optional part: (whether it is said, what is said).
    optional = (
        (skipped, lambda: f"{skipped} already done"),
        (cuts, lambda: f"{cuts} scene cut(s)"),
        (errors, lambda: f"mean warping error {np.mean(errors):.5f}"),
        (unreadable, lambda: f"{unreadable} unreadable input frame(s) skipped"),
        (reports and waited_seconds is not None, lambda: f"the engine waited {waited_seconds:.1f} s for decode/flow/encode"),
    )
    parts = [f"{rendered} frame(s) stylised in {seconds:.1f} s ({seconds / max(rendered, 1):.2f} s/frame)", *details]
    parts += [say() for present, say in optional if present]
    return "; ".join(parts)


def render(source: Source, engine: Engine, sink: Sink, *, resume: ResumeState | None = None, start_number: int = 0,
           indices: range | None = None, progress: RenderProgress | None = None) -> RenderResult:
    """Run the frames of ``source`` through ``engine`` into ``sink``, in order.

    Args:
        source: the input; its frames are read once, on the prefetch thread.
        engine: any :class:`~vidstyle.engine.Engine`.
        sink: any :class:`~vidstyle.io.media.Sink`; closed at the end, aborted on any failure or
            interrupt (which is then re-raised).
        resume: the resume policy of a sequence render (None: nothing is skipped or saved).
        start_number: added to a video's frame numbers (a sequence keeps its own).
        indices: only the input frames at these 0-based positions (a chunk of a scale-out render).
        progress: told about every frame done and every engine iteration.
    Returns:
        the :class:`RenderResult`.
    """
    started = time.perf_counter()
    result = RenderResult()
    skip_finished = resume is not None and resume.skip_finished and sink.resumable
    last_skipped: list[Frame] = []

    def frames_to_render() -> Iterator[Frame]:
        skipping = skip_finished
        for frame in source.frames:
            if indices is not None:
                if frame.index >= indices.stop:
                    break
                if frame.index not in indices:
                    continue
            if not source.is_sequence:
                frame = replace(frame, number=frame.number + start_number)
            if skipping and sink.exists(frame.number):
                result.skipped += 1
                last_skipped[:] = [frame]
                continue
            skipping = False
            yield frame

    def skipped_done() -> None:
        if progress is not None and result.skipped:
            progress.advance(result.skipped)

    # A sequence writes in the loop: its state must reach the disk before its frame for the resume
    # to be exact. Anything else is written on a worker thread while the engine works.
    writer = sink if sink.resumable else BackgroundSink(sink, depth=PREFETCH_DEPTH)
    frames = prefetch(engine.prepare(frames_to_render()), depth=PREFETCH_DEPTH)
    on_iteration = progress.iteration if progress is not None else None
    try:
        for prepared in frames:
            if not result.reports and result.skipped:
                skipped_done()
                if resume is not None:
                    resume.restore(engine, sink, last_skipped[0])
            output, report = engine.process(prepared, progress=on_iteration)
            if resume is not None:
                resume.save(engine)
            writer.write(output)
            result.reports.append(report)
            if progress is not None:
                progress.advance(1, report)
        if not result.reports:
            skipped_done()
        writer.close()
    except BaseException:
        frames.close()
        writer.abort()
        raise
    result.seconds = time.perf_counter() - started
    result.waited_seconds = frames.waited_seconds + (writer.waited_seconds if isinstance(writer, BackgroundSink) else 0.0)
    result.unreadable = source.reader.skipped if isinstance(source.reader, VideoReader) else 0
    return result
