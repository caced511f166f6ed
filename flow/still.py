"""Where nothing moved: the pixels of a frame pair whose flow should be exactly zero.

Dense flow on real footage is not zero where nothing moves: sensor noise and compression make DIS
report sub-pixel motion on a still wall (0.37 px on average, 0.75 px at the 90th percentile, measured
on a handheld clip). Warping a high-frequency painted texture by that noise resamples it every frame,
which is seen as boiling. :func:`still_mask` finds the pixels whose neighbourhood did not change and
:func:`hold_still` gives them zero flow and full reliability, so the previous output is carried over
there unchanged.
"""

from __future__ import annotations

import functools
from dataclasses import replace

import numpy as np

from flow._checks import check_frame
from flow.pair import FlowPair

__all__ = ["STILL_MAX_FLOW", "STILL_THRESHOLD", "hold_still", "still_mask"]

# A pixel is still between two frames when its 3x3 neighbourhood mean changes by less than this (any
# channel, [0, 1] units): above the sensor noise and compression flicker of real footage (0.7/255 a
# frame on a still wall, measured), below the change any real motion of an edge or texture makes.
STILL_THRESHOLD = 4 / 255
# ... and the estimated motion there is below this many pixels. Intensity alone is not enough: in a
# flat region (a sky, a wall) under a camera pan nothing changes either, yet the painted strokes must
# move with the scene; held at zero they stay on the screen while the scene slides under them (the
# "shower door" look; the warping error of a synthetic pan rose 2.5x when only intensity was tested).
# Flow noise on a still wall is 0.37 px on average, 0.75 px at the 90th percentile (measured), but
# random in direction, so the flow is averaged over 7x7 pixels first: noise cancels, motion stays.
# 0.25 px, not 0.5: DIS underestimates motion in textureless regions, and at 0.5 px a synthetic pan
# with a flat sky had an 18 % higher warping error against its exact flow than with no holding at
# all (0.00113 against 0.00095); at 0.25 it is 0.00078 (docs/BENCHMARKS.md).
STILL_MAX_FLOW = 0.25
_FLOW_WINDOW = (7, 7)


def still_mask(previous: np.ndarray, current: np.ndarray, threshold: float = STILL_THRESHOLD,
               flow: np.ndarray | None = None, max_flow: float = STILL_MAX_FLOW) -> np.ndarray:
    """bool (H, W): where nothing moved between ``previous`` and ``current``, (H, W, 3) or (H, W),
    uint8 or float in [0, 1], of one shape.

    The 3x3 mean averages noise out before the comparison; a pixel is still when its mean changed
    by less than ``threshold`` ([0, 1] units) in every channel and, given the estimated ``flow``
    between the two (H, W, 2), its motion averaged over 7x7 pixels is under ``max_flow`` pixels."""
    import cv2

    frames = [check_frame("flow.still_mask", name, image) for name, image in (("previous", previous), ("current", current))]
    if frames[0].shape != frames[1].shape:
        raise ValueError(f"flow.still_mask: expected frames of one shape, got {frames[0].shape} and {frames[1].shape}")
    a, b = (cv2.blur(f.astype(np.float32) / 255.0 if f.dtype == np.uint8 else np.ascontiguousarray(f, dtype=np.float32), (3, 3))
            for f in frames)
    difference = cv2.absdiff(a, b)
    # Elementwise maxima of the channels' strided views, not a reduction over the last axis nor
    # cv2.split then maxima: numpy reduces a length-3 inner axis about 40x slower (19 ms against
    # 0.5 ms at 640x360, measured), the split several times slower, and this runs on every pair.
    if difference.ndim == 3:
        difference = functools.reduce(np.maximum, [difference[..., c] for c in range(difference.shape[2])])
    still = difference < threshold
    if flow is not None:
        if flow.shape != (*still.shape, 2):
            raise ValueError(f"flow.still_mask: expected a flow of shape {(*still.shape, 2)}, got {flow.shape}")
        mean_u, mean_v = cv2.split(cv2.blur(np.ascontiguousarray(flow, dtype=np.float32), _FLOW_WINDOW))
        still &= cv2.magnitude(mean_u, mean_v) < max_flow
    return np.asarray(still)


def hold_still(pair: FlowPair, still: np.ndarray) -> FlowPair:
    """``pair`` with zero flow in both directions and reliability 1 where ``still`` (bool (H, W))."""
    import cv2

    if still.shape != pair.reliability.shape:
        raise ValueError(f"hold_still: expected a mask of shape {pair.reliability.shape}, got {still.shape}")
    # A product with the mask repeated per channel: boolean indexing, or broadcasting along the
    # flow's length-2 last axis, is several times slower, and this runs on every pair.
    moving_plane = (~still).astype(np.float32)
    moving = cv2.merge([moving_plane, moving_plane])
    backward, forward = pair.backward * moving, pair.forward * moving
    reliability = np.where(still, np.float32(1.0), pair.reliability).astype(np.float32)
    return replace(pair, backward=backward, forward=forward, reliability=reliability)
