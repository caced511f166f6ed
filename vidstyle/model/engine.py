"""A trained transfer network as an :class:`~vidstyle.engine.Engine`: one forward pass a frame,
through the same frame loop, sources and sinks as the optimiser (``vidstyle stylize --model``).

The network keeps no state between frames (its temporal stability was trained in), so ``depth`` is
0 and there is no flow to compute. Style weights come from ``--style-weights`` or, per frame, from
``--style-keys`` (a multi-style model blends its conditional instance norms). A matte composites as
in the optimiser: ``mask * stylised + (1 - mask) * input``. No I/O here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..device import autocast
from ..engine import FrameReport, HistoryEntry, PreparedFrame, composite
from ..frames import Frame, resize
from .network import MIN_SIDE, TransferNet, padding_for, stylize

if TYPE_CHECKING:
    from ..optimize import Progress
    from ..style_keys import StyleKeys

__all__ = ["ModelEngine", "check_model_size", "style_vector"]


def style_vector(weights: Sequence[float] | None, styles: int) -> list[float]:
    """``--style-weights`` for a model of ``styles`` styles as a vector summing to 1 (None: the first
    style alone for a one-style model, an even blend otherwise). ValueError naming both counts when
    the numbers of weights and styles differ."""
    if weights is None:
        return [1.0 / styles] * styles
    values = [float(w) for w in weights]
    if len(values) != styles:
        raise ValueError(f"--style-weights: got {len(values)} weight(s) for a model of {styles} style(s)")
    if any(w < 0 for w in values) or sum(values) <= 0:
        raise ValueError(f"--style-weights must be >= 0 and not all zero, got {values}")
    return [w / sum(values) for w in values]


def check_model_size(size: tuple[int, int]) -> None:
    """ValueError for a working size the network cannot take (smaller than its minimum side)."""
    try:
        padding_for(*size)
    except ValueError:
        raise ValueError(f"a transfer network needs a working size of at least {MIN_SIDE}x{MIN_SIDE} px, got "
                         f"{size[0]}x{size[1]}; use a larger --size") from None


class ModelEngine:
    """Stylises each frame with ``net``.

    Args:
        net: a loaded network (eval mode), on ``device``.
        size: working size (width, height); frames are resized to it.
        style_weights: one weight per style of the model (None: even blend).
        style_keys: per-frame style weights (``--style-keys``); overrides ``style_weights``.
        device: where ``net`` is.
        dtype: ``bfloat16`` autocasts the network (``--dtype``) on CUDA and on CPUs with native
            bfloat16 (:func:`vidstyle.device.autocast`; refused on other CPUs).
    """

    depth = 0

    def __init__(self, net: TransferNet, size: tuple[int, int], style_weights: Sequence[float] | None = None,
                 style_keys: "StyleKeys | None" = None, device: torch.device | str = "cpu", dtype: str = "float32"):
        check_model_size(size)
        styles = net.architecture.styles
        if style_keys is not None and style_keys.styles != styles:
            raise ValueError(f"--style-keys weigh {style_keys.styles} style(s) but the model has {styles}")
        self.net = net
        self._size = size
        self.device = torch.device(device)
        self.weights = style_vector(style_weights, styles)
        self.style_keys = style_keys
        self.dtype = dtype
        autocast(self.device, dtype)  # bfloat16 on a CPU without it: ValueError now
        self._stylised: np.ndarray | None = None

    label = "model"  # what live preview's overlay calls this engine

    @property
    def styles(self) -> int:
        """How many styles the network knows (the length of :attr:`weights`)."""
        return self.net.architecture.styles

    @property
    def size(self) -> tuple[int, int]:
        return self._size

    @property
    def history(self) -> list[HistoryEntry]:
        return []

    @property
    def stylised(self) -> np.ndarray | None:
        return self._stylised

    def restore(self, entries: list[HistoryEntry]) -> None:
        """Nothing to restore: every frame stands alone."""

    def prepare(self, frames: Iterable[Frame]) -> Iterator[PreparedFrame]:
        for frame in frames:
            yield PreparedFrame(frame, resize(frame.image, self._size), None)

    def stylize_images(self, images: torch.Tensor, weights: Sequence[float] | None = None) -> torch.Tensor:
        """(N, 3, H, W) in [0, 1] on the engine's device -> (N, 3, H, W) stylised (a batch of frames
        in one pass: what a GPU wants)."""
        vector = torch.tensor(list(weights) if weights is not None else self.weights, dtype=torch.float32, device=self.device)
        with torch.no_grad(), autocast(self.device, self.dtype):
            return stylize(self.net, images, vector).float().clamp_(0.0, 1.0)

    def process(self, frame: Frame | PreparedFrame, progress: "Callable[[Progress], None] | None" = None,
                mask: np.ndarray | None = None) -> tuple[Frame, FrameReport]:
        started = time.perf_counter()
        if isinstance(frame, PreparedFrame):
            source, frame = frame.source, frame.frame
        else:
            source = resize(frame.image, self._size)
        weights = None
        if self.style_keys is not None:
            weights = style_vector(self.style_keys.at(frame.index), self.net.architecture.styles)
        tensor = torch.from_numpy(np.ascontiguousarray(source)).permute(2, 0, 1)[None].to(self.device)
        output = self.stylize_images(tensor, weights)[0].permute(1, 2, 0).cpu().numpy()
        self._stylised = output
        output = composite(output, source, mask)
        report = FrameReport(index=frame.index, number=frame.number, iterations=0, loss=float("nan"),
                             seconds=time.perf_counter() - started, fresh_start=True, scene_cut=False,
                             reliable_fraction=None, warp_error=None)
        return frame.with_image(np.ascontiguousarray(output, dtype=np.float32)), report
