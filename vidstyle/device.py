"""Choosing where the optimiser runs."""

from __future__ import annotations

import functools
import os

import torch


__all__ = ["autocast", "available_memory", "configure_cpu_threads", "cpu_has_bfloat16", "resolve_device"]


def resolve_device(spec: str = "auto") -> torch.device:
    """``auto`` (CUDA when present, else CPU), ``cpu``, ``cuda`` or ``cuda:N`` -> a usable device.

    Raises ValueError naming what was asked for and what exists.
    """
    spec = spec.strip().lower()
    if spec == "auto":
        return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "cuda" or spec.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ValueError(f"--device {spec}: CUDA is not available on this machine (use --device cpu or auto)")
        index = 0 if spec == "cuda" else spec.split(":", 1)[1]
        if not str(index).isdigit():
            raise ValueError(f"--device {spec}: expected cuda:N with N a GPU index")
        count = torch.cuda.device_count()
        if int(index) >= count:
            raise ValueError(f"--device {spec}: there are {count} GPU(s), numbered 0..{count - 1}")
        return torch.device(f"cuda:{index}")
    raise ValueError(f"--device: expected auto, cpu, cuda or cuda:N, got {spec!r}")


@functools.cache
def cpu_has_bfloat16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX-512 BF16 or AMX, as oneDNN reports it).
    Without it torch emulates bfloat16 convolutions, several times slower than float32. Asked once:
    the optimiser enters :func:`autocast` at every network pass."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch built without oneDNN
        return False


def autocast(device: torch.device, dtype: str):
    """The context a network runs in for ``--dtype``: bfloat16 autocast on CUDA, and on a CPU with
    native bfloat16 (:func:`cpu_has_bfloat16`); float32 (a null context) otherwise. Raises
    ValueError for bfloat16 on a CPU without it: emulated, it would be slower, not faster."""
    import contextlib

    if dtype != "bfloat16":
        return contextlib.nullcontext()
    if device.type == "cpu" and not cpu_has_bfloat16():
        raise ValueError("--dtype bfloat16: this CPU has no native bfloat16 (AVX-512 BF16 or AMX); use float32")
    return torch.autocast(device.type, dtype=torch.bfloat16)


def configure_cpu_threads(threads: int | None = None) -> None:
    """Set torch's CPU threads: ``threads`` when given (``--threads``), else every core the process
    may run on unless the user pinned a count (OMP_NUM_THREADS).

    The count changes the order of floating-point sums, and L-BFGS amplifies those differences: the
    same ``--seed`` gives the same frames only at the same thread count (measured: 1 vs 2 threads,
    64 px, 20 iterations, up to 84/255 apart; 1 vs 1 in two processes, identical)."""
    if threads is not None:
        torch.set_num_threads(threads)
        return
    if "OMP_NUM_THREADS" in os.environ:
        return
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    if torch.get_num_threads() != cores:
        torch.set_num_threads(cores)


def available_memory(device: torch.device) -> int | None:
    """Bytes free for a new allocation on ``device`` (None when unknown)."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None
