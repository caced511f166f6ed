"""Reliability of a flow: forward-backward consistency, motion boundaries, pixels leaving the frame.

For frame t of a video, call ``reliability(F_t→t-1, F_t-1→t)``: the result is 1 where the pixel of frame t
is visible in frame t-1 and not on a motion boundary, so the warped previous output may be trusted there.

Criteria (Ruder et al. 2016, "Artistic style transfer for videos", after Sundaram et al. 2010), with
w = F_ab and ŵ = F_ba sampled at p + w(p):

- disoccluded if        |w + ŵ|² ≥ 0.01 (|w|² + |ŵ|²) + 0.5
- motion boundary if    |∇u|² + |∇v|² > 0.01 |w|² + 0.002      (u, v = components of w)
- leaving the frame if  p + w(p) lies outside the image area [-0.5, W-0.5] × [-0.5, H-0.5]

Ruder et al. state the check with the roles named the other way round (their w̃ is the forward flow
warped to the second image); it is the same test. Gradients are central differences (one-sided at the
image edge), so a flow step is flagged on the two pixels either side of it.

"Leaving the frame" is measured against the area the pixels cover, half a pixel beyond the outer pixel
centres, not against the centres themselves: with the centres, any static scene loses about half its
border pixels, because an estimated flow of +-0.01 px there points outward half the time (measured: 1.8 %
of a static background at 160x120). Within that half pixel the replicate border returns the edge pixel,
which is as good as nearest-neighbour sampling. The paper's constants are
kept: with DIS flow they pass the tests in tests/test_flow_consistency.py (a square moving 8 px over a
textured background, a synthetic camera move over a photo) with margin; see docs/BENCHMARKS.md.
"""

from __future__ import annotations

import cv2
import numpy as np

from flow._checks import check_flow
from flow.warp import _cv2_remap_is_exact, warp_numpy

__all__ = ["reliability"]


_CENTRAL_DIFFERENCE = np.array([[-0.5, 0.0, 0.5]], dtype=np.float32)


def _gradient_sq(channel: np.ndarray) -> np.ndarray:
    """|∇channel|² of a contiguous float32 (H, W) plane, as np.gradient defines the derivatives.

    Central differences inside, one-sided differences on the outer rows and columns; an axis of length 1
    has zero derivative. cv2.filter2D does the interior several times faster than np.gradient.
    """
    H, W = channel.shape
    out = np.zeros_like(channel)
    if W > 1:
        dx = cv2.filter2D(channel, -1, _CENTRAL_DIFFERENCE, borderType=cv2.BORDER_REPLICATE)
        dx[:, 0] = channel[:, 1] - channel[:, 0]
        dx[:, -1] = channel[:, -1] - channel[:, -2]
        out += dx * dx
    if H > 1:
        dy = cv2.filter2D(channel, -1, _CENTRAL_DIFFERENCE.T, borderType=cv2.BORDER_REPLICATE)
        dy[0] = channel[1] - channel[0]
        dy[-1] = channel[-1] - channel[-2]
        out += dy * dy
    return out


def _sample_planes(F: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bilinearly sample both channels of F at (map_x, map_y), replicate border, as flow.warp does."""
    if _cv2_remap_is_exact(1):
        return tuple(  # type: ignore[return-value]
            cv2.remap(plane, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            for plane in cv2.split(F)
        )
    H, W = map_x.shape
    xs = np.arange(W, dtype=np.float32)[None, :]
    ys = np.arange(H, dtype=np.float32)[:, None]
    sampled = warp_numpy(F, np.dstack([map_x - xs, map_y - ys]))
    return np.ascontiguousarray(sampled[..., 0]), np.ascontiguousarray(sampled[..., 1])


def _smooth_keep(ratio: np.ndarray) -> np.ndarray:
    """Soft version of ``ratio < 1``: 1 for ratio <= 0.5, 0 for ratio >= 1.5, smoothstep between.

    It equals 0.5 exactly at the hard threshold, so thresholding the soft map at 0.5 gives the hard one
    (up to ties).
    """
    t = np.clip(1.5 - ratio, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def reliability(
    F_ab: np.ndarray,
    F_ba: np.ndarray,
    soft: bool = False,
    *,
    occlusion_relative: float = 0.01,
    occlusion_absolute: float = 0.5,
    boundary_relative: float = 0.01,
    boundary_absolute: float = 0.002,
) -> np.ndarray:
    """Reliability of each pixel of frame a under the flow pair (F_ab, F_ba).

    Args:
        F_ab: (H, W, 2) float32 flow a -> b (for video: the backward flow F_t→t-1).
        F_ba: (H, W, 2) float32 flow b -> a (for video: the forward flow F_t-1→t).
        soft: False gives a 0/1 mask. True gives a smooth map in [0, 1]: each criterion's ratio
            (left side / right side of its inequality) is mapped through a smoothstep that is 1 at
            ratio <= 0.5, 0.5 at the threshold and 0 at ratio >= 1.5; leaving the frame fades linearly
            from 1 at the outer pixel centres through 0.5 at the edge of the image area to 0 half a pixel
            beyond it. The three factors are multiplied.
        occlusion_relative, occlusion_absolute: the 0.01 and 0.5 of the disocclusion test.
        boundary_relative, boundary_absolute: the 0.01 and 0.002 of the motion-boundary test.

    Returns:
        c: float32 (H, W) in [0, 1]; 1 = reliable.
    """
    F_ab = check_flow("flow.reliability", "F_ab", F_ab)
    F_ba = check_flow("flow.reliability", "F_ba", F_ba, shape_hw=F_ab.shape[:2])
    H, W = F_ab.shape[:2]
    # Work on contiguous planes: arithmetic on the (H, W, 2) layout and reductions over its last axis
    # are several times slower (measured: reliability went from ~40 to ~15 ms at 640x480).
    u, v = cv2.split(F_ab)  # w = (u, v)
    target_x = u + np.arange(W, dtype=np.float32)[None, :]  # p + w(p)
    target_y = v + np.arange(H, dtype=np.float32)[:, None]
    u_hat, v_hat = _sample_planes(F_ba, target_x, target_y)  # ŵ(p) = F_ba(p + w(p)), replicate border

    w_sq = u * u + v * v
    occlusion_lhs = (u + u_hat) ** 2 + (v + v_hat) ** 2
    occlusion_rhs = occlusion_relative * (w_sq + u_hat * u_hat + v_hat * v_hat) + occlusion_absolute

    boundary_lhs = _gradient_sq(u) + _gradient_sq(v)
    boundary_rhs = boundary_relative * w_sq + boundary_absolute

    # How far p + w(p) lands beyond the image area [-0.5, W-0.5] x [-0.5, H-0.5]; negative inside.
    overshoot = np.maximum(
        np.maximum(-0.5 - target_x, target_x - (W - 0.5)),
        np.maximum(-0.5 - target_y, target_y - (H - 0.5)),
    )

    if not soft:
        keep = (occlusion_lhs < occlusion_rhs) & (boundary_lhs <= boundary_rhs) & (overshoot <= 0)
        return keep.astype(np.float32)

    c = (
        _smooth_keep(occlusion_lhs / occlusion_rhs)
        * _smooth_keep(boundary_lhs / boundary_rhs)
        * np.clip(0.5 - overshoot, 0.0, 1.0)
    )
    return c.astype(np.float32)
