"""``vidstyle stylize --backend ray`` / ``--devices``: the pipeline's scale-out path.

Called by :func:`vidstyle.pipeline.stylize_video` with what it has already checked and opened
(source, sink, resume settings); builds the jobs, picks the backend and runs the driver with one
progress display. The driver process never loads VGG-19: only workers optimise, each chunk through
the one frame loop (:func:`vidstyle.render.render`).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..frames import resize
from ..io.media import Sink, Source
from ..io.resume import ResumeState
from ..render import RenderResult
from ..request import StylizeRequest
from . import backends, driver, plan
from .worker import ChunkJob

if TYPE_CHECKING:
    from ..pipeline import ProgressFactory

__all__ = ["find_plan", "open_backend", "render_shots"]


def find_plan(source, size: tuple[int, int], config) -> tuple[list[plan.Chunk], int]:
    """Decode the source once at the working size and plan its chunks; returns (chunks, frames)."""
    frames = [0]

    def working_size_frames():
        for frame in source.frames:
            frames[0] += 1
            yield resize(frame.image, size)

    if config.temporal:
        cuts = plan.find_cuts(working_size_frames(), config)
        overlap = config.shot_overlap
    else:
        for _ in working_size_frames():
            pass
        cuts, overlap = [], 0  # independent frames: chunks need no overlap
    return plan.plan_chunks(frames[0], cuts, config.shot_max_frames, overlap), frames[0]


def open_backend(config):
    if config.backend == "ray":
        if config.devices:
            raise backends.BackendError("--devices picks local devices; with --backend ray the cluster's GPUs are used")
        return backends.RayBackend(config.ray_address, config.device, config.threads)
    devices = [d.strip() for d in (config.devices or "").split(",") if d.strip()]
    if not devices:
        raise backends.BackendError(f"--devices: expected a list such as cuda:0,cuda:1, got {config.devices!r}")
    return backends.ProcessBackend(devices, config.threads)


class _Shown:
    """Absolute frame counts from the driver, as increments for a RenderProgress."""

    def __init__(self, progress, total: int):
        self.progress, self.total, self.shown = progress, total, 0

    def __call__(self, done: int) -> None:
        done = min(done, self.total)
        if done > self.shown:
            self.progress.advance(done - self.shown)
            self.shown = done


def render_shots(request: StylizeRequest, source: Source, size: tuple[int, int], styles, sink: Sink,
                 resume: ResumeState | None, progress: "ProgressFactory | None" = None) -> RenderResult:
    """Render on the configured backend; returns what the render did, its summary naming the shots."""
    config = request.config
    started = time.perf_counter()
    backend = None
    try:
        backend = open_backend(config)  # a cluster or device that is not there fails before the planning pass
        chunks, count = find_plan(source, size, config)
    except BaseException:
        if backend is not None:
            backend.close()
        sink.abort()
        raise
    jobs = [ChunkJob(chunk, request, size, tuple(styles), sequence_output=sink.resumable,
                     resume=resume is not None and resume.skip_finished)
            for chunk in chunks]
    workers = config.workers or backend.slots
    try:
        if progress is None:
            stats = driver.run(jobs, backend, workers, sink.write, sink.exists)
        else:
            with progress(count) as shown:
                stats = driver.run(jobs, backend, workers, sink.write, sink.exists, on_progress=_Shown(shown, count))
        sink.close()
    except BaseException:
        sink.abort()
        raise
    split = f"{stats.shots} shot(s) in {stats.chunks} chunk(s) on {min(workers, len(jobs))} {backend.name} worker(s)"
    return RenderResult(stats.reports, stats.skipped, time.perf_counter() - started, details=(split,))
