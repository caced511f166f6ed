"""Flow visualisation with the Middlebury colour wheel (Baker et al. 2011, "A Database and Evaluation
Methodology for Optical Flow"): hue = direction, saturation = magnitude, zero flow = white.
"""

from __future__ import annotations

import numpy as np

from flow._checks import check_flow

__all__ = ["flow_to_color", "color_wheel"]

# Number of hues between the primaries, as in the Middlebury code: more steps where the eye
# distinguishes more hues (red-yellow, blue-magenta).
_SEGMENTS = (
    ((255, 0, 0), (255, 255, 0), 15),  # red -> yellow
    ((255, 255, 0), (0, 255, 0), 6),  # yellow -> green
    ((0, 255, 0), (0, 255, 255), 4),  # green -> cyan
    ((0, 255, 255), (0, 0, 255), 11),  # cyan -> blue
    ((0, 0, 255), (255, 0, 255), 13),  # blue -> magenta
    ((255, 0, 255), (255, 0, 0), 6),  # magenta -> red
)


def color_wheel() -> np.ndarray:
    """The 55 Middlebury wheel colours, float (55, 3) RGB in [0, 255], going red, yellow, green, cyan, blue, magenta."""
    rows = []
    for start, end, steps in _SEGMENTS:
        t = np.arange(steps, dtype=np.float64)[:, None] / steps
        rows.append(np.floor(np.array(start) + (np.array(end) - np.array(start)) * t))
    return np.concatenate(rows, axis=0)


def flow_to_color(F: np.ndarray, max_magnitude: float | None = None) -> np.ndarray:
    """Colour-code a flow field.

    Args:
        F: (H, W, 2) float32 flow, channel 0 = x.
        max_magnitude: flow length shown at full saturation. None: the largest finite length in ``F``
            (a zero flow stays white). Longer vectors are drawn darkened (x 0.75), as in Middlebury.

    Returns:
        (H, W, 3) uint8 RGB. At full saturation rightward motion is red (255, 0, 0), downward (+y)
        yellow (255, 229, 0), leftward sky blue (0, 208, 255), upward violet (88, 0, 255).
        Non-finite vectors are black.
    """
    F = check_flow("flow.viz.flow_to_color", "F", F)
    if max_magnitude is not None and not (max_magnitude > 0 and np.isfinite(max_magnitude)):
        raise ValueError(f"flow.viz.flow_to_color: expected max_magnitude > 0 or None, got {max_magnitude!r}")
    u = F[..., 0].astype(np.float64)
    v = F[..., 1].astype(np.float64)
    finite = np.isfinite(u) & np.isfinite(v)
    u = np.where(finite, u, 0.0)
    v = np.where(finite, v, 0.0)
    radius = np.hypot(u, v)
    if max_magnitude is None:
        max_magnitude = float(radius.max()) if radius.size else 0.0
        if max_magnitude == 0.0:
            max_magnitude = 1.0
    radius = radius / max_magnitude

    wheel = color_wheel() / 255.0
    n = wheel.shape[0]
    # Angle measured so that +x (rightward) lands at the red end of the wheel.
    angle = np.arctan2(-v, -u) / np.pi  # in [-1, 1]
    position = (angle + 1.0) / 2.0 * (n - 1)
    k0 = np.floor(position).astype(np.intp)
    k1 = (k0 + 1) % n
    frac = (position - k0)[..., None]
    color = (1.0 - frac) * wheel[k0] + frac * wheel[k1]

    r = radius[..., None]
    color = np.where(r <= 1.0, 1.0 - r * (1.0 - color), color * 0.75)
    color = np.where(finite[..., None], color, 0.0)
    return np.floor(255.0 * np.clip(color, 0.0, 1.0)).astype(np.uint8)
