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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..engine import Engine, FrameReport
from ..frames import Frame
from ..optimize import Progress
from ..request import StylizeRequest
from .plan import Chunk

__all__ = ["ChunkJob", "ChunkResult", "chunk_state_path", "render_chunk"]


@dataclass(frozen=True)
class ChunkJob:
    """Everything a worker needs, picklable. Paths must be readable (and the output writable) where
    the worker runs: on a cluster, shared storage.

    ``sequence_output``: the worker writes the request's output sequence itself; False: every frame
    goes back to the driver. ``resume``: skip the finished frames of a sequence output and continue
    from the chunk's state."""

    chunk: Chunk
    request: StylizeRequest
    size: tuple[int, int]
    styles: tuple[np.ndarray, ...]
    sequence_output: bool
    resume: bool

    @property
    def config(self):
        return self.request.config


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

    weights = job.request.style_weights
    key = (job.config, device, weights, tuple((s.shape, hash(s.tobytes())) for s in job.styles))
    if _CACHED.get("key") != key:
        _CACHED.clear()
        stylizer = Stylizer(job.config, list(job.styles), list(weights) if weights else None, device=resolve_device(device))
        _CACHED.update(key=key, stylizer=stylizer)
    return _CACHED["stylizer"]


def _device(name: str):
    from ..device import resolve_device

    return resolve_device(name)


class _ChunkSink:
    """The sink of one chunk: frames the driver must blend (the chunk's overlaps), and every frame
    of a video output, go back to the driver; the others are written to the output sequence."""

    def __init__(self, chunk: Chunk, sequence=None):
        self.chunk = chunk
        self.sequence = sequence
        self.returned: list[Frame] = []
        self.resumable = sequence is not None

    def write(self, frame: Frame) -> None:
        if self.sequence is None or self.chunk.is_blended(frame.index):
            self.returned.append(frame)
        else:
            self.sequence.write(frame)

    def exists(self, number: int) -> bool:
        return self.sequence is not None and self.sequence.exists(number)

    def path_for(self, number: int) -> str | None:
        return self.sequence.path_for(number) if self.sequence is not None else None

    def close(self) -> None:
        pass  # the driver owns the output: it closes the sequence and encodes the video

    def abort(self) -> None:
        pass  # frames already written are final


class _CountingProgress:
    """Progress of a chunk as one number, frames done (skipped ones included), for the driver."""

    def __init__(self, report: Callable[[int], None]):
        self.report = report
        self.done = 0

    def advance(self, frames: int, report: FrameReport | None = None) -> None:
        self.done += frames
        self.report(self.done)

    def iteration(self, progress: Progress) -> None:
        pass


def render_chunk(job: ChunkJob, device: str | None = None, threads: int | None = None,
                 progress: Callable[[int], None] | None = None) -> ChunkResult:
    """Render ``job.chunk``; ``device`` overrides the config's (a Ray GPU task or a local process is
    given its own), ``threads`` the CPU threads (``--threads`` wins when given);
    ``progress(frames_done)`` is called after each frame (skipped ones included)."""
    from ..device import configure_cpu_threads
    from ..io.media import open_sink, open_source
    from ..io.resume import ResumeState
    from ..render import render
    from ..engines import build_engine

    started = time.perf_counter()
    chunk, config, request = job.chunk, job.config, job.request
    configure_cpu_threads(config.threads or threads)
    from ..io.colour import ColourOptions

    # The same colour options as the driver's source: the same pipeline from the same files.
    source = open_source(request.input, request.frames, ColourOptions.from_config(config))
    stylizer = None if request.model else _stylizer(job, device or config.device)
    engine: Engine = build_engine(request, job.size, list(job.styles), stylizer.device if stylizer else _device(device or config.device), stylizer)
    if request.mask:
        from ..io.mask import MaskedEngine, open_mask

        engine = MaskedEngine(engine, open_mask(request.mask, source, job.size), at_plate=job.sequence_output and source.is_sequence)
    sink = _ChunkSink(chunk, open_sink(request.output, source, job.size, output_colorspace=config.output_colorspace)
                      if job.sequence_output else None)
    resume = ResumeState(chunk_state_path(request.output, chunk), skip_finished=job.resume) if job.sequence_output else None
    result = render(source, engine, sink, resume=resume, start_number=request.start_number,
                    indices=range(chunk.start, chunk.stop), progress=_CountingProgress(progress) if progress else None)
    return ChunkResult(chunk, sink.returned, result.reports, result.skipped, os.getpid(), time.perf_counter() - started)
