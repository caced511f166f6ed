"""The arbitrary-style stylizer (issue 17): any style image, no training per style, through the
reconstruction decoders of :mod:`vidstyle.model.decoder` (Li et al. 2017, universal style transfer).

Cascade, deepest level first: the current image's features at ``relu{b}_1`` are whitened and
coloured with the style's statistics at that layer and decoded back to an image, which is the input
of the next, shallower level. The deep level moves the large structures (strokes, colour regions),
the shallow ones the fine texture. ``strength`` mixes each level's transformed features with the
content's own (Li et al.'s alpha); several styles blend by their feature statistics. No I/O here.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..engine import FrameReport, HistoryEntry, PreparedFrame, composite
from ..features import VGG19Features
from ..frames import Frame, resize
from .decoder import Decoder, blend_statistics, colouring_matrix, feature_statistics, whiten_colour

__all__ = ["ArbitraryEngine", "ArbitraryStylizer", "SHIPPED_DECODER", "build_arbitrary", "decoder_path"]

# The decoders that ship inside the package (docs/ARBITRARY.md: how they were trained, and the command).
SHIPPED_DECODER = "decoders.safetensors"


def decoder_path(path: str | None) -> Any:
    """``--decoder`` or, when None, the shipped file; UsageError when neither exists."""
    import importlib.resources

    from ..errors import UsageError

    if path is not None:
        return path
    resource = importlib.resources.files("vidstyle").joinpath("data", SHIPPED_DECODER)
    if not resource.is_file():
        raise UsageError("this vidstyle has no shipped decoder; train one with `vidstyle train --decoder --on INPUT -o FILE` "
                         "and pass --decoder FILE")
    return resource


def build_arbitrary(config: Any, styles: Sequence[np.ndarray], size: tuple[int, int], device: torch.device | str = "cpu",
                    network: VGG19Features | None = None) -> "ArbitraryStylizer":
    """An :class:`ArbitraryStylizer` for ``config`` (decoder file, strength, style scale, colours)
    with ``styles`` (float32 (H, W, 3) each) set for frames of ``size``."""
    import contextlib
    import importlib.resources

    from ..frames import fit_longest_side
    from .decoder import load_decoders

    source = decoder_path(config.decoder)
    context = importlib.resources.as_file(source) if not isinstance(source, str) else contextlib.nullcontext(source)
    with context as local:
        decoders, _ = load_decoders(local, device)
    net = (network if network is not None else VGG19Features.load(config.weights)).to(device)
    stylizer = ArbitraryStylizer(net, dict(decoders.items()), config.arbitrary_strength, preserve_colors=config.preserve_colors,  # type: ignore[arg-type]
                                 dtype=config.dtype)
    longest = max(16, round(config.style_scale * max(size)))
    tensors = [torch.from_numpy(np.ascontiguousarray(resize(s, fit_longest_side(s.shape[1], s.shape[0], longest)))).permute(2, 0, 1)[None].to(device)
               for s in styles]
    stylizer.set_styles(tensors)
    return stylizer


class ArbitraryStylizer:
    """Stylise images toward any style image with a set of decoders.

    Args:
        network: the project's VGG-19 (:class:`VGG19Features`), the encoder the decoders invert.
        decoders: level name (``relu4_1`` ...) -> trained :class:`Decoder`; the cascade runs from
            the deepest given level to the shallowest.
        strength: 0..1, how far each level moves toward the style (1: the style's statistics).
        preserve_colors: keep the content's colours (luminance transfer, as the optimiser's option).
        dtype: ``--dtype``: bfloat16 runs the encoder and decoders in bfloat16 where the device has
            it (the feature transforms stay float32).
    """

    def __init__(self, network: VGG19Features, decoders: dict[str, Decoder], strength: float = 1.0, preserve_colors: bool = False,
                 dtype: str = "float32"):
        if not decoders:
            raise ValueError("expected at least one decoder")
        if not 0 <= strength <= 1:
            raise ValueError(f"strength must be in [0, 1], got {strength}")
        self.network = network
        self.decoders = decoders
        self.levels = sorted(decoders, reverse=True)  # relu4_1, relu3_1, ...: deepest first
        self.strength = strength
        self.preserve_colors = preserve_colors
        self.dtype = dtype  # bfloat16: the convolutions autocast (vidstyle.device.autocast), the transforms stay fp32
        self._styles: list[dict[str, tuple[torch.Tensor, torch.Tensor]]] = []
        self._targets: dict[tuple[str, tuple[float, ...]], tuple[torch.Tensor, torch.Tensor]] = {}

    @property
    def styles(self) -> int:
        """How many style images :meth:`set_styles` was given."""
        return len(self._styles)

    def set_styles(self, styles: Sequence[torch.Tensor]) -> None:
        """Each style image (1, 3, h, w) in [0, 1]: its feature statistics at every level, computed once."""
        with torch.no_grad():
            self._styles = []
            self._targets.clear()
            for style in styles:
                features = self.network(style, self.levels)
                self._styles.append({level: feature_statistics(features[level]) for level in self.levels})

    def _target(self, level: str, weights: list[float]) -> tuple[torch.Tensor, torch.Tensor]:
        """The blended style's mean and colouring matrix at ``level``: an eigendecomposition of a
        512x512 covariance is a good part of a frame's cost, and the same for every frame of a
        style, so the last few blends are kept (style keys change the blend every frame)."""
        key = (level, tuple(weights))
        if key not in self._targets:
            mean, covariance = blend_statistics([s[level] for s in self._styles], weights)
            if len(self._targets) >= 4 * len(self.levels):
                self._targets.pop(next(iter(self._targets)))
            self._targets[key] = (mean, colouring_matrix(covariance))
        return self._targets[key]

    def stylize(self, content: torch.Tensor, weights: Sequence[float] | None = None) -> torch.Tensor:
        """(1, 3, H, W) in [0, 1] -> (1, 3, H, W) in [0, 1]: the cascade toward the styles set by
        :meth:`set_styles`, blended by ``weights`` (one per style; None: even)."""
        if not self._styles:
            raise RuntimeError("set_styles() first")
        weights = list(weights) if weights is not None else [1.0] * len(self._styles)
        # VGG halves the size at each pool and the decoder doubles it back: pad (by reflection) to a
        # multiple of the deepest level's stride so every level's output has the input's size.
        stride = 2 ** (int(self.levels[0][4]) - 1)
        height, width = content.shape[2], content.shape[3]
        image = F.pad(content, [0, (-width) % stride, 0, (-height) % stride], mode="reflect")
        from ..device import autocast

        device = image.device
        with torch.no_grad():
            for level in self.levels:
                with autocast(device, self.dtype):
                    features = self.network(image, (level,))[level]
                mean, colouring = self._target(level, weights)
                transformed = whiten_colour(features.float(), mean, None, self.strength, colouring=colouring)
                with autocast(device, self.dtype):
                    image = self.decoders[level](transformed).float()
        result = image[..., :height, :width].clamp(0.0, 1.0)
        if self.preserve_colors:
            from ..color import keep_content_colors

            result = keep_content_colors(result, content)
        return result


class ArbitraryEngine:
    """The arbitrary-style stylizer as an :class:`~vidstyle.engine.Engine` (``--engine arbitrary``).

    Each frame is stylised on its own, then, with ``stabilise`` > 0, blended with the previous
    output warped onto it where the flow is reliable: ``out = k * warped + (1 - k) * stylised`` with
    ``k = stabilise * c`` (c the reliability; a scene cut or the first frame: k = 0). The flow is the
    temporal loop's own (:func:`vidstyle.temporal.frame_pair`), on the input frames.

    Args:
        stylizer: an :class:`ArbitraryStylizer` with its styles set.
        size: working size (width, height).
        config: flow, still-pixel and scene-cut settings.
        weights: style weights (None: even); ``style_keys`` per frame overrides them.
    """

    def __init__(self, stylizer: ArbitraryStylizer, size: tuple[int, int], config: Any, stabilise: float = 0.0,
                 weights: Sequence[float] | None = None, style_keys: Any = None, device: torch.device | str = "cpu"):
        if not 0 <= stabilise < 1:
            raise ValueError(f"--stabilise must be in [0, 1), got {stabilise}")
        self.stylizer, self._size, self.config, self.stabilise = stylizer, size, config, stabilise
        self.weights, self.style_keys, self.device = weights, style_keys, torch.device(device)
        self._history: list[HistoryEntry] = []
        self._stylised: np.ndarray | None = None

    label = "arbitrary"  # what live preview's overlay calls this engine

    @property
    def styles(self) -> int:
        """How many style images are set (the length of :attr:`weights` when given)."""
        return self.stylizer.styles

    @property
    def size(self) -> tuple[int, int]:
        return self._size

    @property
    def depth(self) -> int:
        return 1 if self.stabilise > 0 else 0

    @property
    def history(self) -> list[HistoryEntry]:
        return list(self._history)

    @property
    def stylised(self) -> np.ndarray | None:
        return self._stylised

    def restore(self, entries: list[HistoryEntry]) -> None:
        self._history = list(entries)[-self.depth:] if self.depth else []

    def prepare(self, frames: Iterable[Frame]) -> Iterator[PreparedFrame]:
        from ..temporal import frame_pair

        previous: np.ndarray | None = None
        previous_number: int | None = None
        for frame in frames:
            source = resize(frame.image, self._size)
            pair = frame_pair(previous, source, self.config) if self.depth and previous is not None else None
            yield PreparedFrame(frame, source, pair, previous_number)
            previous, previous_number = source, frame.number

    def process(self, frame: Frame | PreparedFrame, progress: Any = None, mask: np.ndarray | None = None) -> tuple[Frame, FrameReport]:
        import flow

        from ..metrics import frame_warping_error
        from ..temporal import frame_pair, is_scene_cut

        started = time.perf_counter()
        prepared = frame if isinstance(frame, PreparedFrame) else next(self.prepare([frame]))
        frame, source = prepared.frame, prepared.source
        weights = self.style_keys.at(frame.index) if self.style_keys is not None else self.weights
        content = torch.from_numpy(np.ascontiguousarray(source)).permute(2, 0, 1)[None].to(self.device)
        output = self.stylizer.stylize(content, weights)[0].permute(1, 2, 0).cpu().numpy()
        self._stylised = output
        warp_error, reliable, cut = None, None, False
        fresh = not self._history
        if self._history:
            previous = self._history[-1]
            pair: flow.FlowPair = prepared.pair if prepared.pair is not None and prepared.previous_number == previous.number \
                else frame_pair(previous.source, source, self.config)
            reliable = float(pair.reliability.mean())
            cut = is_scene_cut(pair, self.config.scene_cut_reliable)
            if not cut:
                keep = (self.stabilise * pair.reliability)[..., None]
                output = keep * flow.warp(previous.output, pair.backward) + (1 - keep) * output
                warp_error = frame_warping_error(output, previous.output, pair.backward, pair.reliability)
        output = np.ascontiguousarray(composite(output, source, mask), dtype=np.float32)
        if self.depth:
            self._history = [HistoryEntry(frame.number, source, output)]
        report = FrameReport(index=frame.index, number=frame.number, iterations=0, loss=float("nan"),
                             seconds=time.perf_counter() - started, fresh_start=fresh or cut, scene_cut=cut,
                             reliable_fraction=reliable, warp_error=warp_error)
        return frame.with_image(output), report
