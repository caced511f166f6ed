"""``vidstyle bench``: how fast the per-frame optimiser runs on this device, and how close it is to
the network's own cost.

One run measures two things, interleaved so that both see the same machine load:

- the optimiser: :meth:`Stylizer.stylize` on a real photo and painting (the bundled samples), timed
  through its progress callback. L-BFGS reports once per window of iterations (see
  ``optimize._run``), so a timed window runs from one report to the first report at least ``--iters``
  iterations later, and ms per iteration is the time between the two reports over the iteration
  counter's difference. Warm-up is everything up to the end of the first window (where the line search
  runs, and where the style Grams, cuDNN's algorithm search and the CPU's primitive caches are built)
  plus ``--warmup`` more iterations.
- the bare network: VGG-19 forward to the layers the losses read and backward to the input image,
  the same number of passes, right after each optimiser window. Its ratio to the optimiser's time per
  iteration is the optimiser's overhead (losses, Grams, L-BFGS, Python); 1.0 would be none.

Achieved TFLOP/s use the conv FLOP count of :mod:`vidstyle.flops` for both. Peak memory is
``torch.cuda.max_memory_allocated`` on CUDA (tensors only, not the caching allocator's reserve) and the
process's peak resident set size on the CPU: the kernel's high-water mark is reset before the run
(``/proc/self/clear_refs``) and read after it (``VmHWM``), so it is the peak during the benchmark, but of
the whole process (Python, torch, the network's weights included; ``rss_before_mb`` is the level it
started from). Where that reset is not possible it falls back to ``getrusage``'s lifetime peak and says so.

``vidstyle bench --model MODEL`` times a trained transfer network instead (:func:`run_model_bench`):
at each ``--size``, ``--warmup`` untimed passes, then ``--iters`` timed passes of
:meth:`ModelEngine.stylize_images <vidstyle.model.engine.ModelEngine.stylize_images>` (what
``stylize --model`` and ``live --model`` run: padding, autocast, the network, the clamp; not the
resizing or the copies to and from the device) on ``--batch`` copies of the bundled photo in one
batch. Per size it reports the median wall time per frame (a pass over the batch size), the frames
per second that makes, the median process CPU time per frame beside it, and the peak memory of that
size's passes (measured as above, reset before each size).

Nothing here prints: :func:`run_bench` returns a :class:`BenchResult` and :func:`format_report` its
summary, :func:`run_model_bench` a :class:`ModelBenchResult` and :func:`format_model_report` its;
the command is :mod:`vidstyle.cli.bench`.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where it is used
    import torch

__all__ = [
    "BenchResult", "ModelBenchResult", "ModelSizeResult", "bench_images", "check_size_for_layers",
    "format_model_report", "format_report", "parse_size", "run_bench", "run_model_bench", "samples_folder"
]


DEFAULT_SIZE = "128x96"
DEFAULT_ITERS = 10
DEFAULT_WARMUP = 5


class _Enough(Exception):
    """Raised from the progress callback to stop the optimiser once every window is timed."""


# ---------------------------------------------------------------------------------------------------
# inputs


def parse_size(text: str) -> tuple[int, int]:
    """``"128x96"`` -> (128, 96). Raises ValueError naming the option, what was expected and what came."""
    parts = str(text).strip().lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise ValueError(f"--size: expected WIDTHxHEIGHT in pixels such as 128x96, got {text!r}")
    width, height = int(parts[0]), int(parts[1])
    if width < 1 or height < 1:
        raise ValueError(f"--size: width and height must be at least 1 pixel, got {text!r}")
    return width, height


def check_size_for_layers(width: int, height: int, layers) -> None:
    """Refuse a size the network cannot take to the deepest layer (each pool halves the size)."""
    from .flops import deepest_layer, layer_sizes

    deepest = deepest_layer(layers)
    smallest = min(min(h, w) for _, h, w in layer_sizes(width, height, layers).values())
    if smallest < 1:
        pools = sum(1 for name in layer_sizes(16, 16, layers) if name.startswith("pool"))
        raise ValueError(
            f"--size {width}x{height} is too small: {deepest} lies behind {pools} 2x2 pools, "
            f"so both sides must be at least {2 ** pools} pixels"
        )


def samples_folder() -> Path:
    """The bundled samples beside the package (a checkout or an editable install)."""
    import vidstyle

    return Path(vidstyle.__file__).resolve().parents[1] / "samples"


def bench_images(width: int, height: int, seed: int = 0):
    """(content (H, W, 3), style (h, w, 3), where from): the Tübingen photo and Starry Night from
    samples/, the photo centre-cropped to the aspect ratio and resized; seeded noise if absent."""
    import numpy as np

    from .frames import resize

    folder = samples_folder()
    photo_path, painting_path = folder / "tubingen.jpg", folder / "starry_night.jpg"
    if photo_path.is_file() and painting_path.is_file():
        from .io.image import read_image

        photo, painting = read_image(photo_path)[0], read_image(painting_path)[0]
        ph, pw = photo.shape[:2]
        # Crop to the requested aspect ratio so the content is not stretched.
        if pw * height > ph * width:
            crop = max(1, round(ph * width / height))
            photo = photo[:, (pw - crop) // 2:(pw - crop) // 2 + crop]
        else:
            crop = max(1, round(pw * height / width))
            photo = photo[(ph - crop) // 2:(ph - crop) // 2 + crop]
        return resize(np.ascontiguousarray(photo), (width, height)), painting, "samples"
    rng = np.random.default_rng(seed)
    return (rng.random((height, width, 3), dtype=np.float32),
            rng.random((256, 256, 3), dtype=np.float32), "random")


def _device_name(device) -> str:
    """The GPU's name, or the CPU's model name (Linux), for the record."""
    import platform

    import torch

    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


# ---------------------------------------------------------------------------------------------------
# memory


def _read_status_kb(key: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


class _PeakMemory:
    """Peak memory of a stretch of work; see the module docstring for what is measured where."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.source = ""
        self.before_mb: float | None = None

    def start(self) -> None:
        import torch

        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.before_mb = torch.cuda.memory_allocated(self.device) / 2**20
            self.source = "torch.cuda.max_memory_allocated (tensors, reset before the run)"
            return
        rss = _read_status_kb("VmRSS")
        self.before_mb = rss / 1024 if rss is not None else None
        try:
            # Linux >= 4.0: writing 5 resets the peak-RSS high-water mark to the current RSS.
            with open("/proc/self/clear_refs", "w") as clear:
                clear.write("5")
            self.source = "peak RSS of the process during the run (VmHWM, reset before it)"
        except OSError:
            self.source = "peak RSS of the process since it started (getrusage ru_maxrss)"

    def peak_mb(self) -> float:
        import torch

        if self.device.type == "cuda":
            return torch.cuda.max_memory_allocated(self.device) / 2**20
        if "VmHWM" in self.source:
            hwm = _read_status_kb("VmHWM")
            if hwm is not None:
                return hwm / 1024
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB elsewhere


# ---------------------------------------------------------------------------------------------------
# measurement


@dataclass
class BenchResult:
    """What one benchmark run measured. Times in ms, memory in MiB (2**20 bytes)."""

    device: str
    device_name: str
    width: int
    height: int
    dtype: str
    threads: int
    optimizer: str
    ms_per_iter: float            # median over the timed windows
    ms_per_iter_min: float
    iters_per_s: float            # 1000 / ms_per_iter
    tflops: float                 # conv FLOPs per iteration / ms_per_iter
    bare_ms: float                # bare VGG-19 forward + backward, median over the blocks
    bare_ms_min: float
    bare_tflops: float
    ratio: float                  # median over windows of (optimiser ms/iter / the next bare ms/pass)
    gflop_per_iter: float
    evals_per_iter: float         # network forward passes per iteration in the timed windows
    cpu_ms_per_iter: float        # process CPU time (all threads), median; see _WindowTimer
    bare_cpu_ms: float
    cpu_ratio: float
    iters_timed: int
    peak_mem_mb: float
    peak_mem_source: str
    mem_before_mb: float | None
    images: str
    windows_ms: list[float] = field(default_factory=list)
    bare_windows_ms: list[float] = field(default_factory=list)
    torch_version: str = ""

    def to_json(self) -> str:
        values = asdict(self)
        for key, value in values.items():
            if isinstance(value, float):
                values[key] = round(value, 4)
            elif isinstance(value, list):
                values[key] = [round(v, 4) for v in value]
        return json.dumps(values)


class _WindowTimer:
    """Progress callback that times windows of at least ``iters`` iterations after the warm-up and
    runs ``between(iters)`` (the bare-network block) after each one, outside the timed stretch.

    ``now()`` returns (wall seconds, process CPU seconds); ``between`` returns the same per bare pass.
    """

    def __init__(self, iters: int, warmup: int, windows: int, now: Callable[[], tuple[float, float]],
                 evaluations: Callable[[], int], between: Callable[[int], tuple[float, float]]):
        self.iters, self.warmup, self.windows = iters, warmup, windows
        self.now, self.evaluations, self.between = now, evaluations, between
        self.start_after: int | None = None
        self.start: tuple[int, tuple[float, float], int] | None = None
        self.timed: list[tuple[int, float, float, int]] = []  # (iterations, wall s, CPU s, evaluations)
        self.bare: list[tuple[float, float]] = []              # (wall s, CPU s) per bare pass

    def __call__(self, progress) -> None:
        now = self.now()
        if self.start_after is None:
            # The first report closes the first window, where L-BFGS runs its line search.
            self.start_after = progress.iteration + self.warmup
        if self.start is None:
            if progress.iteration >= self.start_after:
                self.start = (progress.iteration, now, self.evaluations())
            return
        first, started, evaluations = self.start
        if progress.iteration - first < self.iters:
            return
        self.timed.append((progress.iteration - first, now[0] - started[0], now[1] - started[1],
                           self.evaluations() - evaluations))
        self.bare.append(self.between(self.iters))
        if len(self.timed) >= self.windows:
            raise _Enough
        self.start = (progress.iteration, self.now(), self.evaluations())


def run_bench(
    width: int,
    height: int,
    iters: int = DEFAULT_ITERS,
    device: str = "auto",
    dtype: str = "float32",
    warmup: int = DEFAULT_WARMUP,
    repeats: int = 1,
    threads: int | None = None,
    optimizer: str = "lbfgs",
    weights: str | None = None,
) -> BenchResult:
    """Time the optimiser and the bare network at ``width`` x ``height``; see the module docstring.

    Args:
        iters: iterations per timed window (at least; windows end on the optimiser's reports).
        warmup: iterations after the first (line-search) window before timing starts.
        repeats: timed windows, each followed by a bare-network block of ``iters`` passes.
        threads: CPU threads for torch (default: every core this process may use).
    """
    import dataclasses

    import torch

    from .config import StyleConfig
    from .device import configure_cpu_threads, resolve_device
    from .flops import vgg_flops
    from .optimize import Stylizer, image_to_tensor

    if iters < 1:
        raise ValueError(f"--iters must be >= 1, got {iters}")
    if warmup < 0:
        raise ValueError(f"--warmup must be >= 0, got {warmup}")
    if repeats < 1:
        raise ValueError(f"--repeats must be >= 1, got {repeats}")
    if threads is not None and threads < 1:
        raise ValueError(f"--threads must be >= 1, got {threads}")

    # No early stopping: every requested iteration must run.
    config = dataclasses.replace(StyleConfig(), device=device, dtype=dtype, optimizer=optimizer,
                                 weights=weights, tolerance=0.0).validate()
    target = resolve_device(config.device)
    layers = tuple(dict.fromkeys((*config.style_layers, config.content_layer)))
    check_size_for_layers(width, height, layers)
    if target.type == "cpu":
        if threads is not None:
            torch.set_num_threads(threads)
        else:
            configure_cpu_threads()
    # Stylizer autocasts to bfloat16 on CUDA and on CPUs with native bfloat16 (it refuses the rest).
    effective_dtype = dtype

    content_image, style_image, images = bench_images(width, height)
    stylizer = Stylizer(config, [style_image], device=target)
    content = image_to_tensor(content_image, target)

    def now() -> tuple[float, float]:
        if target.type == "cuda":
            torch.cuda.synchronize(target)  # time finished work, not queued launches
        # Process CPU time too: on a shared CPU it is far less sensitive to other jobs than wall time
        # (with one thread it is the work itself; with more it adds the OpenMP threads' spinning).
        return time.perf_counter(), time.process_time()

    forwards = [0]
    hook = stylizer.network.register_forward_hook(lambda *_: forwards.__setitem__(0, forwards[0] + 1))

    # The bare pass: what every optimiser evaluation must do at the least. It goes through
    # Stylizer.features so it runs exactly as the optimiser's does (channels_last and autocast on
    # CUDA), and is seeded with fixed dense gradients at the layers the losses read.
    seeds: dict[str, torch.Tensor] = {}

    def bare_pass() -> None:
        image = content.detach().clone().requires_grad_(True)
        feats = stylizer.features(image, layers)
        if not seeds:
            generator = torch.Generator(device=target).manual_seed(0)
            for name, value in feats.items():
                seeds[name] = torch.randn(value.shape, generator=generator, device=target, dtype=value.dtype).to(
                    memory_format=torch.channels_last if target.type == "cuda" else torch.contiguous_format)
        torch.autograd.backward([feats[name] for name in layers], [seeds[name] for name in layers])

    def bare_block(passes: int) -> tuple[float, float]:
        started = now()
        for _ in range(passes):
            bare_pass()
        ended = now()
        return (ended[0] - started[0]) / passes, (ended[1] - started[1]) / passes

    memory = _PeakMemory(target)
    try:
        for _ in range(2):  # build the conv primitives / pick cuDNN algorithms before timing
            bare_pass()
        memory.start()
        timer = _WindowTimer(iters, warmup, repeats, now, lambda: forwards[0], bare_block)
        # Enough iterations for the first window (<= 10), the warm-up and every timed window, each of
        # which may overshoot by up to one report interval; the timer stops the run when it has them.
        budget = 10 + warmup + 10 + repeats * (iters + 10)
        try:
            stylizer.stylize(content, iters=budget, callback=timer)
        except _Enough:
            pass
        peak = memory.peak_mb()
    finally:
        hook.remove()
    if not timer.timed:
        raise RuntimeError("the optimiser stopped before a window could be timed; try a larger --size or fewer --warmup iterations")

    per_iter = [wall * 1e3 / count for count, wall, _, _ in timer.timed]
    cpu_per_iter = [cpu * 1e3 / count for count, _, cpu, _ in timer.timed]
    bare = [wall * 1e3 for wall, _ in timer.bare]
    bare_cpu = [cpu * 1e3 for _, cpu in timer.bare]
    ms, bare_ms = statistics.median(per_iter), statistics.median(bare)
    flop = vgg_flops(width, height, layers).total
    iterations = sum(count for count, *_ in timer.timed)
    return BenchResult(
        device=str(target), device_name=_device_name(target), width=width, height=height, dtype=effective_dtype,
        threads=torch.get_num_threads(), optimizer=config.optimizer,
        ms_per_iter=ms, ms_per_iter_min=min(per_iter), iters_per_s=1e3 / ms, tflops=flop / (ms * 1e-3) / 1e12,
        bare_ms=bare_ms, bare_ms_min=min(bare), bare_tflops=flop / (bare_ms * 1e-3) / 1e12,
        ratio=statistics.median(o / b for o, b in zip(per_iter, bare)),
        gflop_per_iter=flop / 1e9,
        evals_per_iter=sum(e for *_, e in timer.timed) / iterations,
        cpu_ms_per_iter=statistics.median(cpu_per_iter), bare_cpu_ms=statistics.median(bare_cpu),
        cpu_ratio=statistics.median(o / b for o, b in zip(cpu_per_iter, bare_cpu)),
        iters_timed=iterations, peak_mem_mb=peak, peak_mem_source=memory.source, mem_before_mb=memory.before_mb,
        images=images, windows_ms=per_iter, bare_windows_ms=bare, torch_version=torch.__version__,
    )


# ---------------------------------------------------------------------------------------------------
# the transfer network (--model)


@dataclass
class ModelSizeResult:
    """One size of a :func:`run_model_bench` run. Times in ms per frame (a pass / the batch)."""

    width: int
    height: int
    ms_per_frame: float           # median over the timed passes
    ms_per_frame_min: float
    fps: float                    # 1000 / ms_per_frame
    cpu_ms_per_frame: float       # process CPU time (all threads), median over the passes
    peak_mem_mb: float            # during this size's passes, warm-up included
    passes_ms: list[float] = field(default_factory=list)


@dataclass
class ModelBenchResult:
    """What one ``bench --model`` run measured, one :class:`ModelSizeResult` per size."""

    model: str
    styles: int
    net_width: int
    blocks: int
    device: str
    device_name: str
    dtype: str
    threads: int
    batch: int
    passes: int                   # timed passes per size
    warmup: int
    peak_mem_source: str
    images: str
    sizes: list[ModelSizeResult] = field(default_factory=list)
    torch_version: str = ""

    def to_json(self) -> str:
        return json.dumps(_rounded(asdict(self)))


def _rounded(value):
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def run_model_bench(
    model: str,
    sizes: list[tuple[int, int]],
    iters: int = DEFAULT_ITERS,
    warmup: int = DEFAULT_WARMUP,
    batch: int = 1,
    device: str = "auto",
    dtype: str = "float32",
    threads: int | None = None,
) -> ModelBenchResult:
    """Time the transfer network in ``model`` at each of ``sizes`` (width, height); see the module
    docstring. Every size is checked (ValueError) and the model file read (ModelFileError, a
    ValueError) before any timing.

    Args:
        iters: timed passes per size; warmup: untimed passes before them.
        batch: frames per pass (one batch through the network: what a GPU wants); times are per frame.
        threads: CPU threads for torch (default: every core this process may use).
    """
    import torch

    from .device import configure_cpu_threads, resolve_device
    from .model.engine import ModelEngine, check_model_size
    from .model.file import load_model

    if not sizes:
        raise ValueError("--size: expected at least one WIDTHxHEIGHT")
    if iters < 1:
        raise ValueError(f"--iters must be >= 1, got {iters}")
    if warmup < 0:
        raise ValueError(f"--warmup must be >= 0, got {warmup}")
    if batch < 1:
        raise ValueError(f"--batch must be >= 1, got {batch}")
    if threads is not None and threads < 1:
        raise ValueError(f"--threads must be >= 1, got {threads}")
    if dtype not in ("float32", "bfloat16"):
        raise ValueError(f"--dtype: expected float32 or bfloat16, got {dtype!r}")
    for size in sizes:
        try:
            check_model_size(size)
        except ValueError:
            from .model.network import MIN_SIDE

            raise ValueError(f"--size {size[0]}x{size[1]} is too small for a transfer network: both sides must be "
                             f"at least {MIN_SIDE} pixels") from None
    target = resolve_device(device)
    if target.type == "cpu":
        if threads is not None:
            torch.set_num_threads(threads)
        else:
            configure_cpu_threads()
    net, info = load_model(model, target)
    # ModelEngine autocasts to bfloat16 on CUDA and on CPUs with native bfloat16 (it refuses the rest).
    effective_dtype = dtype

    def now() -> tuple[float, float]:
        if target.type == "cuda":
            torch.cuda.synchronize(target)  # time finished work, not queued launches
        return time.perf_counter(), time.process_time()

    results: list[ModelSizeResult] = []
    source = ""
    images = ""
    for width, height in sizes:
        engine = ModelEngine(net, (width, height), device=target, dtype=dtype)
        content, _, images = bench_images(width, height)
        frames = torch.from_numpy(content).permute(2, 0, 1)[None].expand(batch, -1, -1, -1).contiguous().to(target)
        memory = _PeakMemory(target)
        memory.start()
        source = memory.source
        for _ in range(warmup):
            engine.stylize_images(frames)
        walls, cpus = [], []
        for _ in range(iters):
            started = now()
            engine.stylize_images(frames)
            ended = now()
            walls.append((ended[0] - started[0]) * 1e3 / batch)
            cpus.append((ended[1] - started[1]) * 1e3 / batch)
        peak = memory.peak_mb()
        del frames, engine
        ms = statistics.median(walls)
        results.append(ModelSizeResult(
            width=width, height=height, ms_per_frame=ms, ms_per_frame_min=min(walls), fps=1e3 / max(ms, 1e-9),
            cpu_ms_per_frame=statistics.median(cpus), peak_mem_mb=peak, passes_ms=[w * batch for w in walls],
        ))
    arch = info.architecture
    return ModelBenchResult(
        model=str(model), styles=arch.styles, net_width=arch.width, blocks=arch.blocks, device=str(target),
        device_name=_device_name(target), dtype=effective_dtype, threads=torch.get_num_threads(), batch=batch,
        passes=iters, warmup=warmup, peak_mem_source=source, images=images, sizes=results,
        torch_version=torch.__version__,
    )


# ---------------------------------------------------------------------------------------------------
# command line


def format_report(result: BenchResult) -> str:
    """The human-readable summary."""
    r = result
    threads = f", {r.threads} thread{'' if r.threads == 1 else 's'}" if r.device == "cpu" else ""
    lines = [
        f"vidstyle bench: {r.width}x{r.height} on {r.device} [{r.device_name}] ({r.dtype}{threads}), {r.optimizer}, "
        f"{r.gflop_per_iter:.2f} GFLOP of conv work per iteration, {r.images} images",
        f"  optimiser  {r.ms_per_iter:9.1f} ms/iter (min {r.ms_per_iter_min:.1f})  {r.iters_per_s:7.2f} iter/s  "
        f"{r.tflops:8.4f} TFLOP/s  ({r.iters_timed} iterations timed, {r.evals_per_iter:.2f} evaluations/iter)",
        f"  bare VGG   {r.bare_ms:9.1f} ms/pass (min {r.bare_ms_min:.1f})  {1e3 / r.bare_ms:7.2f} pass/s  "
        f"{r.bare_tflops:8.4f} TFLOP/s  (forward to relu5_1 + backward to the input)",
        f"  ratio      {r.ratio:9.2f}x  optimiser iteration / bare pass "
        f"(process CPU time: {r.cpu_ms_per_iter:.1f} / {r.bare_cpu_ms:.1f} ms = {r.cpu_ratio:.2f}x)",
        f"  peak mem   {r.peak_mem_mb:9.0f} MiB  ({r.peak_mem_source}"
        + (f"; {r.mem_before_mb:.0f} MiB before)" if r.mem_before_mb is not None else ")"),
    ]
    return "\n".join(lines)


def format_model_report(result: ModelBenchResult) -> str:
    """The human-readable summary of :func:`run_model_bench`: a header, then one line per size."""
    r = result
    threads = f", {r.threads} thread{'' if r.threads == 1 else 's'}" if r.device == "cpu" else ""
    lines = [
        f"vidstyle bench: model {r.model} ({r.styles} style{'' if r.styles == 1 else 's'}, width {r.net_width}, "
        f"{r.blocks} residual block{'' if r.blocks == 1 else 's'}) on {r.device} [{r.device_name}] ({r.dtype}{threads})",
        f"  batch {r.batch}, median of {r.passes} timed pass(es) after {r.warmup} warm-up, {r.images} images; "
        f"peak mem: {r.peak_mem_source}",
    ]
    for size in r.sizes:
        lines.append(
            f"  {f'{size.width}x{size.height}':>10}  {size.ms_per_frame:9.2f} ms/frame (min {size.ms_per_frame_min:.2f})  "
            f"{size.fps:8.2f} fps  CPU {size.cpu_ms_per_frame:9.2f} ms/frame  peak mem {size.peak_mem_mb:7.0f} MiB"
        )
    return "\n".join(lines)
