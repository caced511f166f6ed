"""Render one chunk of a clip: the worker side of the scale-out, the same in a Ray task and in a
local process.

A worker reads its frames from the shared input itself (a video is decoded from the start and the
frames before the chunk are skipped: decoding costs milliseconds per frame against seconds of
optimisation; a sequence is read frame by frame) and runs the same :class:`VideoStylizer` as a local
render, seeded per frame number, so a chunk that starts at a cut gives the frames of the sequential
render. Frame sequences are written straight to the shared output by the worker, each frame final
when written, with a resume state per chunk; frames the driver must blend (chunk overlaps) and every
frame of a video output go back to the driver, which owns the one encoder and the audio.
"""

from __future__ import annotations

import os
import time
import types
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..config import StyleConfig
from ..frames import Frame
from ..style_keys import StyleKeys
from ..temporal import FrameReport
from .plan import Chunk


@dataclass(frozen=True)
class ChunkJob:
    """Everything a worker needs, picklable. Paths must be readable (and ``output`` writable) where
    the worker runs: on a cluster, shared storage."""

    chunk: Chunk
    input: str
    frames: str | None  # --frames of a sequence input
    start_number: int  # number of a video's first frame when written as a sequence
    size: tuple[int, int]
    config: StyleConfig
    styles: tuple[np.ndarray, ...]
    style_weights: tuple[float, ...] | None
    style_keys: StyleKeys | None
    mask: str | None
    sequence_output: str | None  # pattern the worker writes itself; None: every frame goes back
    resume: bool  # skip finished frames of a sequence output and continue from the chunk's state


@dataclass(frozen=True)
class ChunkResult:
    """What comes back: the frames the driver writes or blends (in order), the reports of every
    frame rendered, and how many finished frames were found on disk and skipped."""

    chunk: Chunk
    frames: list[Frame]
    reports: list[FrameReport]
    skipped: int
    pid: int
    seconds: float


def chunk_state_path(output_pattern: str, chunk: Chunk) -> Path:
    """The resume state of one chunk, beside the sequence's settings sidecar."""
    from ..io.resume import sidecar_paths

    state = sidecar_paths(output_pattern)[1]
    return state.with_name(f"{state.stem}-chunk{chunk.start:06d}{state.suffix}")


# One stylizer per worker process, reused by the next chunk of the same render: building it loads
# VGG-19 and computes the style Grams, seconds that a shot of a few frames should not pay again.
_CACHED: dict = {}


def _stylizer(job: ChunkJob, device: str):
    from ..device import resolve_device
    from ..optimize import Stylizer

    key = (job.config, device, job.style_weights, tuple((s.shape, hash(s.tobytes())) for s in job.styles))
    if _CACHED.get("key") != key:
        _CACHED.clear()
        stylizer = Stylizer(job.config, list(job.styles), list(job.style_weights) if job.style_weights else None,
                            device=resolve_device(device))
        _CACHED.update(key=key, stylizer=stylizer)
    return _CACHED["stylizer"]


def render_chunk(job: ChunkJob, device: str | None = None, threads: int | None = None,
                 progress: Callable[[int], None] | None = None) -> ChunkResult:
    """Render ``job.chunk``; ``device`` overrides the config's (a Ray GPU task or a local process is
    given its own), ``threads`` the CPU threads (``--threads`` wins when given);
    ``progress(frames_done)`` is called after each frame (skipped ones included)."""
    from ..device import configure_cpu_threads
    from ..io import resume as resume_io
    from ..io.media import open_sink, open_source
    from ..prefetch import prefetch
    from ..temporal import VideoStylizer

    started = time.perf_counter()
    chunk, config = job.chunk, job.config
    configure_cpu_threads(config.threads or threads)
    source = open_source(job.input, job.frames)
    stylizer = _stylizer(job, device or config.device)
    video = VideoStylizer(stylizer, job.size, temporal=config.temporal, generator_seed=config.seed, style_keys=job.style_keys)
    if job.mask:
        from ..io.mask import MaskedVideo, open_mask

        video = MaskedVideo(video, open_mask(job.mask, source, job.size), at_plate=bool(job.sequence_output) and source.is_sequence)
    sink = open_sink(job.sequence_output, source, job.size) if job.sequence_output else None
    state = chunk_state_path(job.sequence_output, chunk) if sink is not None else None
    skipping = types.SimpleNamespace(count=0, done=None)

    def frames_of_chunk():
        resuming = job.resume and sink is not None
        for frame in source.frames:
            if frame.index >= chunk.stop:
                break
            if frame.index < chunk.start:
                continue
            if not source.is_sequence:
                frame = replace(frame, number=frame.number + job.start_number)
            if resuming and sink.exists(frame.number):
                skipping.count, skipping.done = skipping.count + 1, frame
                continue
            resuming = False
            yield frame

    returned, reports, saved = [], [], []
    frames = prefetch(video.prepare(frames_of_chunk()), depth=2)
    try:
        for prepared in frames:
            if not reports and skipping.count:
                saved = resume_io.resume_history(state, video, sink, skipping.done)
                video.restore(saved)
            output, report = video.process(prepared)
            if state is not None and video.depth:
                latest = {e.number for e in video.history}
                saved = ([e for e in saved if e.number not in latest] + video.history)[-(video.depth + 1):]
                resume_io.write_state(state, saved)
            if sink is None or chunk.is_blended(output.index):
                returned.append(output)
            else:
                sink.write(output)
            reports.append(report)
            if progress is not None:
                progress(skipping.count + len(reports))
    finally:
        frames.close()
    if progress is not None and not reports:
        progress(skipping.count)
    return ChunkResult(chunk, returned, reports, skipping.count, os.getpid(), time.perf_counter() - started)
