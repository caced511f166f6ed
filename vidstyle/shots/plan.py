"""Where the shots are and how they are cut into chunks of work. Pure functions, no I/O.

A *cut* is the index of the first frame of a new shot: a frame whose reliable fraction against the
previous input frame is below ``StyleConfig.scene_cut_reliable`` (:func:`vidstyle.temporal.is_scene_cut`),
exactly the test the sequential temporal loop applies, so a shot rendered on its own starts where the
sequential render would have started afresh and gives the same frames.

A shot longer than ``max_frames`` becomes several chunks. A chunk starting inside a shot has no
previous stylised frame to warm-start from, so consecutive chunks overlap by ``overlap`` frames and
the driver cross-fades them there (:func:`crossfade_weight`): by the end of the overlap the later
chunk has had ``overlap`` frames to settle into its own temporally coherent state, and the switch is
spread over those frames instead of happening between two of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from ..config import StyleConfig


__all__ = ["Chunk", "check_chunking", "crossfade_weight", "find_cuts", "plan_chunks", "shot_ranges"]


@dataclass(frozen=True)
class Chunk:
    """Frames ``start`` (inclusive) to ``stop`` (exclusive), by 0-based input index, rendered by one
    worker with one continuous temporal state.

    ``blend_in``: frames at the start shared with the previous chunk of the same shot (cross-faded);
    ``blend_out``: frames at the end shared with the next chunk. Both 0 at shot boundaries.
    """

    id: int
    shot: int
    start: int
    stop: int
    blend_in: int = 0
    blend_out: int = 0

    def __len__(self) -> int:
        return self.stop - self.start

    def is_blended(self, index: int) -> bool:
        """True for a frame this chunk shares with a neighbouring chunk."""
        return index < self.start + self.blend_in or index >= self.stop - self.blend_out


def find_cuts(sources: Iterable[np.ndarray], config: StyleConfig) -> list[int]:
    """Indices of the frames that start a new shot (never 0) in a stream of working-size input frames
    (float32 (H, W, 3) in [0, 1]), with the temporal loop's own flow pair and cut test."""
    from ..temporal import frame_pair, is_scene_cut

    cuts, previous = [], None
    for index, source in enumerate(sources):
        if previous is not None and is_scene_cut(frame_pair(previous, source, config), config.scene_cut_reliable):
            cuts.append(index)
        previous = source
    return cuts


def shot_ranges(frame_count: int, cuts: Iterable[int]) -> list[tuple[int, int]]:
    """``[(start, stop), …]`` of the shots of a clip of ``frame_count`` frames with these cuts."""
    if frame_count < 0:
        raise ValueError(f"expected a frame count >= 0, got {frame_count}")
    bounds = sorted({c for c in cuts if 0 < c < frame_count})
    starts = [0, *bounds]
    stops = [*bounds, frame_count]
    return [(a, b) for a, b in zip(starts, stops) if b > a]


def plan_chunks(frame_count: int, cuts: Iterable[int], max_frames: int, overlap: int) -> list[Chunk]:
    """Split a clip into chunks: one per shot, and shots longer than ``max_frames`` into chunks of at
    most ``max_frames`` frames where consecutive ones share ``overlap`` frames.

    Raises ValueError unless ``0 <= 3 * overlap <= max_frames``: then even a shot only a little
    longer than ``max_frames`` splits into chunks that each add at least ``overlap`` new frames, so
    no frame is shared by more than two chunks."""
    check_chunking(max_frames, overlap)
    chunks: list[Chunk] = []
    for shot, (start, stop) in enumerate(shot_ranges(frame_count, cuts)):
        for first, last, blend_in, blend_out in _split(start, stop, max_frames, overlap):
            chunks.append(Chunk(len(chunks), shot, first, last, blend_in, blend_out))
    return chunks


def check_chunking(max_frames: int, overlap: int) -> None:
    """Raise ValueError naming the option when the chunk settings cannot work (see plan_chunks)."""
    if max_frames < 1:
        raise ValueError(f"--shot-max-frames must be >= 1, got {max_frames}")
    if overlap < 0 or 3 * overlap > max_frames:
        raise ValueError(f"--shot-overlap must be in 0..{max_frames // 3} (a third of --shot-max-frames at most), got {overlap}")


def _split(start: int, stop: int, max_frames: int, overlap: int) -> Iterator[tuple[int, int, int, int]]:
    """(start, stop, blend_in, blend_out) of the chunks of one shot, as even in length as possible."""
    length = stop - start
    if length <= max_frames:
        yield start, stop, 0, 0
        return
    fresh = length - overlap  # frames not shared with a previous chunk, over the whole shot
    count = -(-fresh // (max_frames - overlap))  # fewest chunks that keep each within max_frames
    # Spread the new frames evenly (the first chunks take the remainder) rather than leaving a short
    # last chunk: a chunk barely longer than the overlap would be nearly all cross-fade.
    base, extra = divmod(fresh, count)
    first = start
    for n in range(count):
        last = first + overlap + base + (n < extra)
        yield first, last, overlap if n else 0, overlap if n < count - 1 else 0
        first = last - overlap


def crossfade_weight(position: int, overlap: int) -> float:
    """Weight of the *later* chunk at ``position`` (0-based) within an overlap of ``overlap`` frames:
    ``(position + 1) / (overlap + 1)``, so neither chunk is shown alone inside the overlap and the
    weights step evenly from one chunk to the other."""
    if not 0 <= position < overlap:
        raise ValueError(f"position {position} is outside an overlap of {overlap} frame(s)")
    return (position + 1) / (overlap + 1)
