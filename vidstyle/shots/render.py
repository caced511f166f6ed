"""``vidstyle stylize --backend ray`` / ``--devices``: the command's scale-out path.

Called by :func:`vidstyle.cli.cmd_stylize` with what it has already checked and opened (source,
sink, resume settings); builds the jobs, picks the backend and runs the driver with one progress
bar. The driver process never loads VGG-19: only workers optimise.
"""

from __future__ import annotations

import time

import numpy as np

from ..frames import resize
from . import backends, driver, plan
from .worker import ChunkJob


def find_plan(source, size: tuple[int, int], config) -> tuple[list[plan.Chunk], int]:
    """Decode the source once at the working size and plan its chunks; returns (chunks, frames)."""
    frames = [0]

    def working_size_frames():
        for frame in source.frames:
            frames[0] += 1
            yield resize(frame.image, size)

    if config.temporal:
        options = {"weights": config.flow_weights} if config.flow == "raft" else {}
        cuts = plan.find_cuts(working_size_frames(), config.flow, config.scene_cut_reliable, **options)
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


def render_shots(args, config, source, size, styles, weights, keys, sink, resume, progress_bar) -> str:
    """Render on the configured backend; returns the summary line."""
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
    sequence_output = args.output if getattr(sink, "resumable", False) else None
    jobs = [
        ChunkJob(chunk, args.input, args.frames, args.start_number, size, config, tuple(styles),
                 tuple(weights) if weights else None, keys, args.mask, sequence_output,
                 resume=resume is not None and not resume.overwrite)
        for chunk in chunks
    ]
    workers = config.workers or backend.slots
    bar = progress_bar(count, "frames", unit="frame")

    def show(done: int) -> None:
        bar.n = min(done, count)
        bar.refresh()

    try:
        stats = driver.run(jobs, backend, workers, sink.write, sink.exists, on_progress=show)
        sink.close()
    except BaseException:
        sink.abort()
        raise
    finally:
        bar.close()
    elapsed = time.perf_counter() - started
    rendered = len({r.index for r in stats.reports})
    parts = [f"{rendered} frame(s) stylised in {elapsed:.1f} s ({elapsed / max(rendered, 1):.2f} s/frame)",
             f"{stats.shots} shot(s) in {stats.chunks} chunk(s) on {min(workers, len(jobs))} {backend.name} worker(s)"]
    if stats.skipped:
        parts.append(f"{stats.skipped} already done")
    errors = [r.warp_error for r in stats.reports if r.warp_error is not None]
    if errors:
        parts.append(f"mean warping error {np.mean(errors):.5f}")
    return "; ".join(parts)
