"""Both flows and the reliability for one pair of consecutive frames, computed once.

The video loop needs, for frame t: the backward flow F_t→t-1 (to warp the previous output onto frame t),
the forward flow F_t-1→t (for the consistency check) and the reliability c_t. ``pair`` computes each
exactly once and hands them over in a frozen ``FlowPair``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from flow._checks import check_flow, check_frame
from flow.consistency import reliability as _reliability
from flow.estimate import estimate

__all__ = ["FlowPair", "pair"]


@dataclass(frozen=True)
class FlowPair:
    """Flows between the previous frame (t-1) and the current frame (t), and the current frame's reliability.

    Attributes:
        backward: F_t→t-1, float32 (H, W, 2). ``flow.warp(previous_output, pair.backward)`` brings the
            previous (stylised) output onto the current frame.
        forward: F_t-1→t, float32 (H, W, 2).
        reliability: c_t, float32 (H, W) in [0, 1]; 1 where the current pixel is visible in the
            previous frame and not on a motion boundary.
    """

    backward: np.ndarray
    forward: np.ndarray
    reliability: np.ndarray


def pair(
    previous: np.ndarray,
    current: np.ndarray,
    method: str = "dis",
    *,
    warm_start: FlowPair | None = None,
    init_backward: np.ndarray | None = None,
    init_forward: np.ndarray | None = None,
    soft: bool = False,
    **options: Any,
) -> FlowPair:
    """Backward flow, forward flow and reliability of ``current`` with respect to ``previous``.

    Args:
        previous, current: frames t-1 and t, (H, W, 3) RGB uint8 or float in [0, 1].
        method, **options: passed to :func:`flow.estimate` for both directions.
        warm_start: the FlowPair of frames (t-2, t-1). Under a constant-velocity assumption the motion
            t-1 -> t resembles t-2 -> t-1, so its ``backward`` starts the new backward flow and its
            ``forward`` the new forward flow. Ignored where ``init_backward``/``init_forward`` are given.
            After a scene cut, pass None: a wrong start can only cost accuracy.
        init_backward, init_forward: explicit (H, W, 2) initial flows.
        soft: passed to :func:`flow.reliability`.

    Returns:
        FlowPair(backward=F_current→previous, forward=F_previous→current, reliability=c_current).
        ``flow.warp(previous_output, result.backward)`` aligns the previous output with ``current``.
    """
    current = check_frame("flow.pair", "current", current)
    if warm_start is not None:
        if not isinstance(warm_start, FlowPair):
            raise ValueError(f"flow.pair: expected warm_start as a FlowPair or None, got {type(warm_start).__name__}")
        hw = current.shape[:2]
        if init_backward is None:
            init_backward = check_flow("flow.pair", "warm_start.backward", warm_start.backward, shape_hw=hw)
        if init_forward is None:
            init_forward = check_flow("flow.pair", "warm_start.forward", warm_start.forward, shape_hw=hw)
    backward = estimate(current, previous, method, init_flow=init_backward, **options)
    forward = estimate(previous, current, method, init_flow=init_forward, **options)
    return FlowPair(backward=backward, forward=forward, reliability=_reliability(backward, forward, soft=soft))
