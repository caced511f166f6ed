"""Who runs the chunks: Ray tasks on a cluster, or processes on this machine, one per device.

Both offer the same small interface to the driver: ``submit(job)`` returns a handle, ``wait(handles,
timeout)`` the finished ones, ``result(handle)`` a :class:`ChunkResult` (or raises the worker's
error), ``progress()`` frames done per chunk id, and ``close()``.

Ray is the distributed engine here rather than anything home-made: it schedules tasks on whatever
GPUs and CPUs the cluster has, moves results through its object store, and retries a task whose
worker died (``max_retries``), which is the fault tolerance a render farm needs. It is an optional
dependency (``pip install vidstyle[ray]``), imported only when ``--backend ray`` is asked for.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor
from concurrent.futures import wait as wait_futures
from typing import Any

from .worker import ChunkJob, ChunkResult, render_chunk

__all__ = ["BackendError", "ProcessBackend", "RayBackend"]


# A worker that dies (killed, out of memory, node lost) has its chunk rerun this many times.
RAY_TASK_RETRIES = 3


class BackendError(RuntimeError):
    """The backend cannot start or cannot run what was asked (one line for the user)."""


# ---------------------------------------------------------------------------------------------------
# Ray


def _import_ray():
    try:
        import ray
    except ImportError as error:
        raise BackendError("--backend ray needs Ray: pip install 'vidstyle[ray]'") from error
    return ray


class RayBackend:
    """Chunks as Ray tasks: one GPU each when the cluster has GPUs (and the device is not forced to
    the CPU), else one CPU each (Ray then sets ``OMP_NUM_THREADS=1`` in the worker).

    ``address``: None starts a Ray instance in this process (or uses the one already started, as the
    tests do); ``auto`` or ``HOST:PORT`` joins a running cluster.
    """

    name = "ray"

    def __init__(self, address: str | None, device: str = "auto", threads: int | None = None):
        ray = self.ray = _import_ray()
        self.started_here = not ray.is_initialized()
        if self.started_here:
            _check_reachable(address)
            try:
                ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
                         configure_logging=True)
            except (ConnectionError, RuntimeError, ValueError) as error:
                where = address or "a local instance"
                raise BackendError(f"could not start or reach Ray at {where}: {str(error).splitlines()[0]}") from error
        gpus = ray.cluster_resources().get("GPU", 0)
        self.use_gpu = gpus > 0 and device != "cpu"
        if device.startswith("cuda") and not self.use_gpu:
            raise BackendError(f"--device {device}: the Ray cluster has no GPUs")
        self.device = "cuda" if self.use_gpu else "cpu"  # Ray hides all but the task's GPU
        self.threads = threads or 1
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.slots = int(gpus) if self.use_gpu else max(1, cpus // self.threads)
        self.progress_actor = ray.remote(num_cpus=0)(_ProgressBoard).remote()
        self.task = ray.remote(_ray_render_chunk).options(
            num_cpus=1 if self.use_gpu else self.threads, num_gpus=1 if self.use_gpu else 0, max_retries=RAY_TASK_RETRIES, retry_exceptions=False,
        )

    def submit(self, job: ChunkJob):
        return self.task.remote(job, self.device, self.threads, self.progress_actor)

    def wait(self, handles: list, timeout: float) -> list:
        ready, _ = self.ray.wait(list(handles), num_returns=len(handles), timeout=timeout, fetch_local=False)
        return ready

    def result(self, handle) -> ChunkResult:
        try:
            return self.ray.get(handle)
        except self.ray.exceptions.RayTaskError as error:
            cause = getattr(error, "cause", None)
            raise (cause if isinstance(cause, Exception) else BackendError(str(error).splitlines()[0])) from None
        except self.ray.exceptions.RayError as error:
            raise BackendError(f"a Ray worker failed beyond its {RAY_TASK_RETRIES} retries: {str(error).splitlines()[0]}") from None

    def progress(self) -> dict[int, tuple[int, int]]:
        """``{chunk id: (frames done, worker pid)}`` as last reported."""
        return self.ray.get(self.progress_actor.snapshot.remote())

    def close(self, handles: Sequence[Any] = ()) -> None:
        """Cancel what still runs (``force`` kills the workers: an interrupted render stops now) and
        shut down a Ray instance this backend started."""
        for handle in handles:
            try:
                self.ray.cancel(handle, force=True)
            except Exception:  # noqa: BLE001 - already finished or already gone
                pass
        if self.started_here:
            self.ray.shutdown()


def _check_reachable(address: str | None, seconds: float = 5.0) -> None:
    """Fail in seconds, with one line, for a HOST:PORT nobody listens on: Ray itself retries an
    unreachable head for minutes, printing warnings."""
    if not address or address == "auto" or "://" in address:
        return
    import socket

    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--ray-address: expected auto or HOST:PORT, got {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=seconds).close()
    except OSError as error:
        raise BackendError(f"could not reach a Ray cluster at {address}: {error.strerror or error}") from None


class _ProgressBoard:
    """A Ray actor that workers report to and the driver reads: the latest count per chunk, so a
    retried chunk counts its frames once (and its count falls back while it redoes them)."""

    def __init__(self) -> None:
        self.done: dict[int, tuple[int, int]] = {}

    def report(self, chunk: int, frames: int, pid: int) -> None:
        self.done[chunk] = (frames, pid)

    def snapshot(self) -> dict[int, tuple[int, int]]:
        return dict(self.done)


def _ray_render_chunk(job: ChunkJob, device: str, threads: int, board) -> ChunkResult:
    pid = os.getpid()
    board.report.remote(job.chunk.id, 0, pid)
    return render_chunk(job, device, threads, progress=lambda done: board.report.remote(job.chunk.id, done, pid))


# ---------------------------------------------------------------------------------------------------
# local processes, one per device


# This worker process's device, CPU threads and progress board (set once by _bind_device).
_WORKER: dict = {}


def _bind_device(devices, board, threads: int) -> None:
    _WORKER.update(device=devices.get(), board=board, threads=threads)


def _process_render_chunk(job: ChunkJob) -> ChunkResult:
    board, pid = _WORKER["board"], os.getpid()

    def report(done: int) -> None:
        board[job.chunk.id] = (done, pid)

    report(0)
    return render_chunk(job, _WORKER["device"], _WORKER["threads"], progress=report)


class ProcessBackend:
    """``--devices cuda:0,cuda:1``: one worker process per device on this machine, the same chunk
    scheduling as Ray without a cluster. ``cpu`` may be listed too (several times to run several CPU
    workers, each with its share of the cores). A worker that dies fails the render (no retries:
    that is what Ray is for)."""

    name = "processes"

    def __init__(self, devices: list[str], threads: int | None = None):
        import multiprocessing

        from ..device import resolve_device

        for device in devices:
            try:
                resolve_device(device)  # one line naming a device that does not exist, before any work
            except ValueError as error:
                raise ValueError(f"--devices {','.join(devices)}: {str(error).split(': ', 1)[-1]}") from None
        context = multiprocessing.get_context("spawn")  # CUDA cannot be used in a forked child
        self._manager = context.Manager()
        self.board = self._manager.dict()
        queue = self._manager.Queue()
        for device in devices:
            queue.put(device)
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        threads = threads or max(1, cores // max(1, sum(d == "cpu" for d in devices)))
        self.slots = len(devices)
        self.pool = ProcessPoolExecutor(len(devices), mp_context=context, initializer=_bind_device,
                                        initargs=(queue, self.board, threads))

    def submit(self, job: ChunkJob) -> Future:
        return self.pool.submit(_process_render_chunk, job)

    def wait(self, handles: list, timeout: float) -> list:
        done, _ = wait_futures(handles, timeout=timeout, return_when=FIRST_COMPLETED)
        return [h for h in handles if h in done]

    def result(self, handle: Future) -> ChunkResult:
        from concurrent.futures.process import BrokenProcessPool

        try:
            return handle.result()
        except BrokenProcessPool:
            raise BackendError("a worker process died (killed or out of memory); rerun, or use --backend ray for retries") from None

    def progress(self) -> dict[int, tuple[int, int]]:
        try:
            return dict(self.board)
        except (OSError, EOFError):
            return {}

    def close(self, handles: Sequence[Future] = ()) -> None:
        """Stop the workers; chunks still running are abandoned (an interrupt must not wait for them)."""
        running = [h for h in handles if not h.done()]
        if running:
            # The executor has no public way to stop a busy worker; terminate its processes.
            for process in list(getattr(self.pool, "_processes", {}).values()):
                process.terminate()
        self.pool.shutdown(wait=not running, cancel_futures=True)
        self._manager.shutdown()
