"""Optical flow for vidstyle, usable on its own (it does not import vidstyle).

Public API::

    flow.estimate(a, b, method="dis", *, init_flow=None, **options) -> F_ab         # (H, W, 2) float32
    flow.warp(img, F)                        # backward warp: out(p) = img(p + F(p)); numpy or torch
    flow.warp_torch(img, flow)               # (N, C, H, W), (N, 2, H, W), grid_sample(align_corners=True)
    flow.reliability(F_ab, F_ba, soft=False) -> c                                   # (H, W) float32 in [0, 1]
    flow.pair(previous, current, method="dis", *, warm_start=None, ...) -> FlowPair(backward, forward, reliability)
    flow.still_mask(previous, current) -> bool (H, W); flow.hold_still(pair, still) -> FlowPair   # zero flow where nothing moved
    flow.viz.flow_to_color(F, max_magnitude=None) -> (H, W, 3) uint8
    flow.io.read_flo(path), flow.io.write_flo(path, F)

Convention: flow is float32 (H, W, 2) in pixels, channel 0 = x. F_ab(p) sends pixel p of frame a to
p + F_ab(p) in frame b, and ``warp(b, F_ab) ≈ a``. To bring the previous output onto frame t:
``warp(out[t-1], F_t→t-1)``, i.e. ``warp(prev_output, pair(prev_frame, frame).backward)``.
"""

from flow import io, viz
from flow.consistency import reliability
from flow.estimate import estimate
from flow.pair import FlowPair, pair
from flow.still import hold_still, still_mask
from flow.warp import flow_from_torch, flow_to_torch, warp, warp_numpy, warp_torch

__all__ = [
    "estimate",
    "warp",
    "warp_numpy",
    "warp_torch",
    "flow_to_torch",
    "flow_from_torch",
    "reliability",
    "pair",
    "FlowPair",
    "still_mask",
    "hold_still",
    "viz",
    "io",
]
