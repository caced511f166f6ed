"""flow.viz.flow_to_color: Middlebury colour wheel."""

from __future__ import annotations

import colorsys

import numpy as np
import pytest

from flow.viz import color_wheel, flow_to_color


def _one_pixel(u: float, v: float, **kw) -> np.ndarray:
    return flow_to_color(np.array([[[u, v]]], np.float32), **kw)[0, 0]


def test_zero_flow_is_white():
    out = flow_to_color(np.zeros((3, 4, 2), np.float32))
    assert out.shape == (3, 4, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, 255)


def test_wheel_has_the_55_middlebury_hues():
    wheel = color_wheel()
    assert wheel.shape == (55, 3)
    np.testing.assert_array_equal(wheel[0], [255, 0, 0])  # red
    np.testing.assert_array_equal(wheel[15], [255, 255, 0])  # yellow after 15 steps
    np.testing.assert_array_equal(wheel[21], [0, 255, 0])  # green after 6 more
    np.testing.assert_array_equal(wheel[25], [0, 255, 255])  # cyan after 4 more
    np.testing.assert_array_equal(wheel[36], [0, 0, 255])  # blue after 11 more
    np.testing.assert_array_equal(wheel[49], [255, 0, 255])  # magenta after 13 more


def test_unit_directions_at_full_saturation():
    """Right is pure red; the other three directions as the wheel places them (hand-computed positions)."""
    np.testing.assert_array_equal(_one_pixel(1.0, 0.0), [255, 0, 0])
    np.testing.assert_array_equal(_one_pixel(0.0, 1.0), [255, 229, 0])  # wheel position 13.5: orange-yellow
    np.testing.assert_array_equal(_one_pixel(-1.0, 0.0), [0, 208, 255])  # position 27: cyan -> blue
    np.testing.assert_array_equal(_one_pixel(0.0, -1.0), [88, 0, 255])  # position 40.5: blue -> magenta


def test_hue_changes_with_direction_and_not_with_length():
    angles = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    F = np.stack([np.cos(angles), np.sin(angles)], axis=-1).astype(np.float32)[None]
    hues = [colorsys.rgb_to_hsv(*(c / 255.0))[0] for c in flow_to_color(F)[0]]
    assert len({round(h, 2) for h in hues}) == 12  # 12 directions, 12 different hues
    half = flow_to_color(F * 0.5, max_magnitude=1.0)[0]
    half_hues = [colorsys.rgb_to_hsv(*(c / 255.0))[0] for c in half]
    np.testing.assert_allclose(half_hues, hues, atol=0.02)


def test_saturation_follows_magnitude():
    """Half the maximum length: halfway to white (255 - 255 * 0.5 = 127.5 -> 127 in the zero channels)."""
    np.testing.assert_array_equal(_one_pixel(0.5, 0.0, max_magnitude=1.0), [255, 127, 127])
    # beyond max_magnitude: full colour darkened to 75 %
    np.testing.assert_array_equal(_one_pixel(2.0, 0.0, max_magnitude=1.0), [191, 0, 0])


def test_default_scale_is_the_largest_vector():
    F = np.array([[[2.0, 0.0], [4.0, 0.0]]], np.float32)
    out = flow_to_color(F)
    np.testing.assert_array_equal(out[0, 1], [255, 0, 0])
    np.testing.assert_array_equal(out[0, 0], [255, 127, 127])


def test_non_finite_is_black_and_does_not_spoil_the_scale():
    F = np.array([[[np.nan, 0.0], [1.0, 0.0]]], np.float32)
    out = flow_to_color(F)
    np.testing.assert_array_equal(out[0, 0], [0, 0, 0])
    np.testing.assert_array_equal(out[0, 1], [255, 0, 0])


def test_bad_input():
    with pytest.raises(ValueError, match=r"expected F of shape \(H, W, 2\), got \(3, 4\)"):
        flow_to_color(np.zeros((3, 4), np.float32))
    with pytest.raises(ValueError, match=r"expected max_magnitude > 0 or None, got 0"):
        flow_to_color(np.zeros((3, 4, 2), np.float32), max_magnitude=0)
