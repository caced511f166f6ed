"""flow.warp: backward warp out(p) = img(p + F(p)), numpy and torch, one convention."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch

import flow

# The function flow.warp shadows the submodule of the same name on the package; fetch the module itself.
warp_module = importlib.import_module("flow.warp")


def _torch_img(img: np.ndarray) -> torch.Tensor:
    """(H, W, C) numpy -> (1, C, H, W) tensor."""
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None]


def _random_image(h: int, w: int, c: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((h, w, c), dtype=np.float32)


# --------------------------------------------------------------------------------------------- identity


@pytest.mark.parametrize("shape", [(7, 9), (7, 9, 1), (7, 9, 3), (7, 9, 5)])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_zero_flow_is_identity_numpy(shape, dtype):
    img = (np.random.default_rng(1).random(shape) * 255).astype(dtype)
    out = flow.warp(img, np.zeros((7, 9, 2), np.float32))
    assert out.shape == img.shape and out.dtype == img.dtype
    np.testing.assert_array_equal(out, img)


def test_zero_flow_is_identity_torch():
    img = _torch_img(_random_image(6, 8, 3))
    out = flow.warp_torch(img, torch.zeros(1, 2, 6, 8))
    # Normalising to [-1, 1] and back costs float32 rounding at most.
    torch.testing.assert_close(out, img, atol=1e-6, rtol=0)


# ------------------------------------------------------------------------------------ integer shift, sign


def test_integer_shift_moves_interior_exactly_numpy():
    """F = (+2, -1) everywhere: out[y, x] = img[y - 1, x + 2] wherever that source is inside."""
    img = _random_image(10, 12, 3)
    F = np.zeros((10, 12, 2), np.float32)
    F[..., 0], F[..., 1] = 2.0, -1.0
    out = flow.warp(img, F)
    np.testing.assert_array_equal(out[1:, :-2], img[:-1, 2:])


def test_integer_shift_moves_interior_exactly_torch():
    img = _random_image(10, 12, 3)
    F = np.zeros((10, 12, 2), np.float32)
    F[..., 0], F[..., 1] = 2.0, -1.0
    out = flow.warp_torch(_torch_img(img), flow.flow_to_torch(F))
    expected = _torch_img(img)[..., :-1, 2:]
    torch.testing.assert_close(out[..., 1:, :-2], expected, atol=1e-5, rtol=0)


def test_positive_x_flow_samples_from_the_right():
    """The sign convention on one row: [0, 10, 20, 30] with F = +1 -> [10, 20, 30, 30] (replicated edge)."""
    img = np.array([[0.0, 10.0, 20.0, 30.0]], np.float32)
    F = np.zeros((1, 4, 2), np.float32)
    F[..., 0] = 1.0
    np.testing.assert_array_equal(flow.warp(img, F), [[10.0, 20.0, 30.0, 30.0]])
    F[..., 0] = -0.25  # bilinear: out(x) = img(x - 0.25)
    np.testing.assert_allclose(flow.warp(img, F), [[0.0, 7.5, 17.5, 27.5]], atol=1e-6)


def test_replicate_border_outside_the_frame():
    """Sources beyond the edge take the edge pixel, in numpy and torch alike."""
    img = np.arange(12, dtype=np.float32).reshape(3, 4)  # rows [0..3], [4..7], [8..11]
    F = np.zeros((3, 4, 2), np.float32)
    F[..., 0] = 100.0  # far right: every pixel reads column 3 of its own row
    np.testing.assert_array_equal(flow.warp(img, F), [[3, 3, 3, 3], [7, 7, 7, 7], [11, 11, 11, 11]])
    F[..., 0], F[..., 1] = -100.0, -100.0  # far up-left: the top-left pixel
    np.testing.assert_array_equal(flow.warp(img, F), np.zeros((3, 4)))
    out_t = flow.warp_torch(torch.from_numpy(img)[None, None], flow.flow_to_torch(F))
    np.testing.assert_array_equal(out_t[0, 0].numpy(), np.zeros((3, 4)))


# ------------------------------------------------------------------------------ numpy and torch agree


@pytest.mark.parametrize("channels", [1, 2, 3, 5])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_and_torch_agree_on_random_flows(channels, dtype):
    """Random sub-pixel flows, including sources outside the frame. 2 channels matters: reliability
    warps a flow; OpenCV 5 quantises 2-channel remaps to 1/32 px, which warp_numpy must avoid."""
    rng = np.random.default_rng(2)
    img = _random_image(23, 31, channels, seed=3).astype(dtype)
    F = rng.uniform(-6, 6, (23, 31, 2)).astype(np.float32)
    out_np = flow.warp(img, F)
    out_t = flow.warp(_torch_img(img.astype(np.float32)), flow.flow_to_torch(F))
    assert isinstance(out_t, torch.Tensor) and out_t.shape == (1, channels, 23, 31)
    assert out_np.dtype == dtype
    assert np.abs(out_np - out_t[0].permute(1, 2, 0).numpy()).max() < 1e-5


def test_numpy_fallback_matches_opencv(monkeypatch):
    """The pure-numpy sampler (used where cv2.remap quantises positions, as OpenCV 4 does) gives the same answer."""
    rng = np.random.default_rng(4)
    img = _random_image(11, 13, 3, seed=5)
    F = rng.uniform(-4, 4, (11, 13, 2)).astype(np.float32)
    with_cv2 = flow.warp(img, F)
    monkeypatch.setattr(warp_module, "_cv2_remap_is_exact", lambda channels: False)
    without_cv2 = flow.warp(img, F)
    np.testing.assert_allclose(without_cv2, with_cv2, atol=1e-6)


@pytest.mark.parametrize("channels, dtype", [(1, np.float32), (3, np.float32), (2, np.float32), (3, np.uint8)])
def test_the_warp_gives_the_bits_of_remap_with_two_planar_maps(channels, dtype):
    """flow.warp hands cv2.remap one interleaved (H, W, 2) map, which is faster; every render's
    frames (tests/test_pipeline_reference.py) were recorded with two (H, W) maps, so the two must
    agree bit for bit, here on flows that also leave the frame."""
    import cv2

    rng = np.random.default_rng(7)
    img = _random_image(37, 53, channels, seed=8)
    img = (img * 255).astype(np.uint8) if dtype == np.uint8 else img
    F = (rng.standard_normal((37, 53, 2)) * 12).astype(np.float32)
    map_x = F[..., 0] + np.arange(53, dtype=np.float32)[None, :]
    map_y = F[..., 1] + np.arange(37, dtype=np.float32)[:, None]
    if channels == 2:  # remap's quantised path for 2 channels: flow.warp goes plane by plane
        planar = np.stack([cv2.remap(np.ascontiguousarray(img[..., k]), map_x, map_y, cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_REPLICATE) for k in range(2)], axis=-1)
    else:
        planar = cv2.remap(img, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).reshape(img.shape)
    assert np.array_equal(flow.warp(img, F), planar)


def test_uint8_warp_is_the_rounded_float_warp():
    rng = np.random.default_rng(6)
    img = (rng.random((9, 10, 3)) * 255).astype(np.uint8)
    F = rng.uniform(-2, 2, (9, 10, 2)).astype(np.float32)
    exact = flow.warp(img.astype(np.float32), F)
    assert np.abs(flow.warp(img, F).astype(np.float32) - exact).max() <= 0.5 + 1e-3


def test_torch_flow_batch_of_one_broadcasts():
    img = torch.rand(3, 2, 5, 6)
    F = torch.rand(1, 2, 5, 6) * 2 - 1
    out = flow.warp_torch(img, F)
    for n in range(3):
        torch.testing.assert_close(out[n : n + 1], flow.warp_torch(img[n : n + 1], F))


def test_flow_torch_round_trip():
    F = np.random.default_rng(7).standard_normal((4, 5, 2)).astype(np.float32)
    t = flow.flow_to_torch(F)
    assert t.shape == (1, 2, 4, 5)
    assert float(t[0, 0, 1, 2]) == F[1, 2, 0] and float(t[0, 1, 1, 2]) == F[1, 2, 1]
    np.testing.assert_array_equal(flow.flow_from_torch(t), F)


# ------------------------------------------------------------------------------------------ gradients


def test_gradcheck_wrt_image():
    img = torch.rand(1, 2, 5, 6, dtype=torch.float64, requires_grad=True)
    F = torch.rand(1, 2, 5, 6, dtype=torch.float64) * 4 - 2
    assert torch.autograd.gradcheck(lambda x: flow.warp_torch(x, F), (img,))


def test_gradcheck_wrt_flow_away_from_integer_positions():
    """Bilinear sampling has kinks at integer positions; keep every source strictly between pixels."""
    rng = np.random.default_rng(8)
    img = torch.rand(1, 2, 6, 7, dtype=torch.float64)
    # fractional parts in [0.2, 0.8] and sources inside the frame (|F| < 1, edges pulled inwards)
    fraction = torch.from_numpy(rng.uniform(0.2, 0.8, (1, 2, 6, 7)))
    sign = torch.ones(1, 2, 6, 7, dtype=torch.float64)
    sign[:, 0, :, 3:] = -1.0  # right half of the columns points left so nothing leaves the frame
    sign[:, 1, 3:, :] = -1.0
    F = (fraction * sign).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda f: flow.warp_torch(img, f), (F,))


# ----------------------------------------------------------------------------------------- input checks


def test_flow_of_wrong_shape_says_what_was_expected_and_what_came():
    with pytest.raises(ValueError, match=r"expected F of shape \(H, W, 2\), got \(4, 5, 3\)"):
        flow.warp(np.zeros((4, 5), np.float32), np.zeros((4, 5, 3), np.float32))


def test_flow_of_other_size_than_image():
    with pytest.raises(ValueError, match=r"expected F of shape \(4, 5, 2\) to match, got \(4, 6, 2\)"):
        flow.warp(np.zeros((4, 5, 3), np.float32), np.zeros((4, 6, 2), np.float32))


def test_integer_flow_is_refused():
    with pytest.raises(ValueError, match=r"expected F of dtype float32 \(or float64\), got int64"):
        flow.warp(np.zeros((4, 5), np.float32), np.zeros((4, 5, 2), np.int64))


@pytest.mark.parametrize("img, message", [
    (np.zeros((4, 5), np.int32), r"expected img of dtype uint8, float32 or float64, got int32"),
    (np.zeros((2, 4, 5, 3), np.float32), r"expected img of shape \(H, W\) or \(H, W, C\), got \(2, 4, 5, 3\)"),
    ([[0.0]], r"expected img as a numpy array"),
])
def test_bad_image_is_refused(img, message):
    with pytest.raises(ValueError, match=message):
        flow.warp_numpy(img, np.zeros((4, 5, 2), np.float32))


def test_torch_shapes_are_checked():
    with pytest.raises(ValueError, match=r"expected flow of shape \(2 or 1, 2, 5, 6\) to match img \(2, 3, 5, 6\), got \(2, 2, 5, 7\)"):
        flow.warp_torch(torch.zeros(2, 3, 5, 6), torch.zeros(2, 2, 5, 7))
    with pytest.raises(ValueError, match=r"expected img as a tensor of shape \(N, C, H, W\)"):
        flow.warp_torch(torch.zeros(3, 5, 6), torch.zeros(1, 2, 5, 6))
    with pytest.raises(ValueError, match=r"expected floating-point img and flow"):
        flow.warp_torch(torch.zeros(1, 3, 5, 6, dtype=torch.uint8), torch.zeros(1, 2, 5, 6))
