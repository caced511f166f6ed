"""The driver of a scale-out render: plan, submit, gather in order, blend overlaps, write once.

At most ``workers`` chunks are in flight; the rest wait their turn in order, so the earliest frames
come back first and the single encoder (a video keeps one file, its audio and timing) never waits
longer than it must. Results are written strictly in frame order; a chunk that finishes early is
fetched at once (so that a failed chunk stops the render now, not when its turn comes) and waits in
this process's memory until the ones before it are written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..engine import FrameReport
from ..frames import Frame
from .plan import Chunk, crossfade_weight
from .worker import ChunkJob, ChunkResult

__all__ = ["RenderStats", "blend", "run"]


POLL_SECONDS = 0.5


@dataclass
class RenderStats:
    """What the summary line reports."""

    reports: list[FrameReport] = field(default_factory=list)
    skipped: int = 0
    chunks: int = 0
    shots: int = 0


def blend(earlier: Frame, later: Frame, weight: float) -> Frame:
    """``(1 - weight) * earlier + weight * later`` on the later frame's metadata."""
    if earlier.image.shape != later.image.shape:
        raise ValueError(f"overlapping chunks gave frames of shapes {earlier.image.shape} and {later.image.shape}")
    mixed = (1.0 - weight) * earlier.image + weight * later.image
    return later.with_image(mixed.astype(np.float32))


class _InOrderWriter:
    """Takes chunk results in chunk order and writes their frames in frame order, cross-fading
    the frames two chunks share."""

    def __init__(self, write: Callable[[Frame], None], exists: Callable[[int], bool]):
        self.write = write
        self.exists = exists
        self.tail: dict[int, Frame] = {}  # index -> the earlier chunk's version of a shared frame

    def add(self, result: ChunkResult) -> None:
        chunk = result.chunk
        coming = {frame.index for frame in result.frames}
        self._flush_unpaired(lambda index: index not in coming)
        for frame in result.frames:
            position = frame.index - chunk.start
            if position < chunk.blend_in and frame.index in self.tail:
                earlier = self.tail.pop(frame.index)
                self.write(blend(earlier, frame, crossfade_weight(position, chunk.blend_in)))
            elif frame.index >= chunk.stop - chunk.blend_out:
                self.tail[frame.index] = frame  # wait for the next chunk's version
            elif not self.exists(frame.number):
                self.write(frame)

    def finish(self) -> None:
        self._flush_unpaired(lambda index: True)

    def _flush_unpaired(self, unpaired: Callable[[int], bool]) -> None:
        """Shared frames whose partner will not come (the next chunk found it finished on disk, or
        there is no next chunk): written as they are, unless already on disk."""
        for index in sorted(self.tail):
            if unpaired(index):
                frame = self.tail.pop(index)
                if not self.exists(frame.number):
                    self.write(frame)


def run(jobs: list[ChunkJob], backend, workers: int, write: Callable[[Frame], None], exists: Callable[[int], bool],
        on_progress: Callable[[int], None] | None = None) -> RenderStats:
    """Render ``jobs`` (in frame order) on ``backend`` with at most ``workers`` in flight; hand the
    frames that come back to ``write`` in order. ``on_progress(frames done)`` while waiting."""
    stats = RenderStats(chunks=len(jobs), shots=len({j.chunk.shot for j in jobs}))
    writer = _InOrderWriter(write, exists)
    waiting = list(jobs)
    in_flight: dict = {}  # handle -> chunk id
    finished: dict[int, ChunkResult] = {}
    next_chunk = 0
    order = [j.chunk.id for j in jobs]
    chunks = {j.chunk.id: j.chunk for j in jobs}
    done_before: dict[int, int] = {}  # frames of chunks already gathered

    try:
        while waiting or in_flight or next_chunk < len(order):
            while waiting and len(in_flight) < workers:
                job = waiting.pop(0)
                in_flight[backend.submit(job)] = job.chunk.id
            for handle in backend.wait(list(in_flight), timeout=POLL_SECONDS) if in_flight else []:
                result = backend.result(handle)
                finished[in_flight.pop(handle)] = result
                done_before[result.chunk.id] = _new_frames(result.chunk, len(result.reports) + result.skipped)
            while next_chunk < len(order) and order[next_chunk] in finished:
                result = finished.pop(order[next_chunk])
                writer.add(result)
                stats.reports.extend(result.reports)
                stats.skipped += result.skipped
                next_chunk += 1
            if on_progress is not None:
                live = backend.progress()
                running = sum(_new_frames(chunks[cid], n) for cid, (n, _pid) in live.items() if cid not in done_before and cid in chunks)
                on_progress(sum(done_before.values()) + running)
        writer.finish()
    except BaseException:
        backend.close(list(in_flight))
        raise
    backend.close()
    return stats


def _new_frames(chunk: Chunk, done: int) -> int:
    """Frames of the clip a chunk has finished, not counting those it shares with the chunk before
    (they are counted there), so the total comes to the clip's frame count."""
    return max(0, done - chunk.blend_in)
