"""Losses: hand-derived values and float64 gradchecks."""

import pytest
import torch

from vidstyle import losses


def test_gram_of_constant_map_by_hand():
    # F = c everywhere: every entry of F F^T is c^2 * H * W; divided by C*H*W it is c^2 / C.
    c, channels, h, w = 3.0, 4, 5, 6
    g = losses.gram(torch.full((2, channels, h, w), c))
    assert g.shape == (2, channels, channels)
    assert torch.allclose(g, torch.full_like(g, c * c / channels))


def test_gram_of_orthogonal_channels_is_diagonal():
    features = torch.zeros(1, 2, 2, 2)
    features[0, 0, 0, :] = 1.0  # top row
    features[0, 1, 1, :] = 2.0  # bottom row: no overlap with channel 0
    g = losses.gram(features)[0]
    # diag: sum of squares / (C*H*W) = 2/8 and 8/8; off-diagonal 0.
    assert torch.allclose(g, torch.tensor([[0.25, 0.0], [0.0, 1.0]]))


def test_gram_rejects_wrong_rank():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        losses.gram(torch.zeros(3, 4, 5))


def test_content_loss_zero_at_target_and_mse_elsewhere():
    target = torch.randn(1, 8, 4, 4)
    assert losses.content_loss(target, target).item() == 0.0
    assert losses.content_loss(target + 2.0, target).item() == pytest.approx(4.0)


def test_style_loss_zero_at_target_grams_and_weighted():
    feats = {"a": torch.randn(1, 3, 4, 4), "b": torch.randn(1, 5, 2, 2)}
    grams = {k: losses.gram(v) for k, v in feats.items()}
    assert losses.style_loss(feats, grams, {"a": 1.0, "b": 1.0}).item() == pytest.approx(0.0, abs=1e-12)
    shifted = {"a": grams["a"] + 1.0, "b": grams["b"]}
    # Only layer a differs, by 1 everywhere: MSE 1, times its weight 3.
    assert losses.style_loss(feats, shifted, {"a": 3.0, "b": 1.0}).item() == pytest.approx(3.0, rel=1e-5)


def test_blend_grams_is_normalised_weighted_mean():
    a, b = torch.ones(1, 2, 2), torch.full((1, 2, 2), 3.0)
    assert torch.allclose(losses.blend_grams([a, b], [1.0, 3.0]), torch.full((1, 2, 2), 2.5))
    with pytest.raises(ValueError):
        losses.blend_grams([a, b], [0.0, 0.0])
    with pytest.raises(ValueError):
        losses.blend_grams([a], [1.0, 2.0])


def test_tv_of_checkerboard_and_constant():
    y, x = torch.meshgrid(torch.arange(6), torch.arange(8), indexing="ij")
    board = ((x + y) % 2).float()[None, None]
    # Every horizontal and vertical neighbour pair differs by exactly 1: both means are 1.
    assert losses.tv_loss(board).item() == pytest.approx(2.0)
    assert losses.tv_loss(torch.full((1, 3, 5, 5), 0.7)).item() == 0.0


def test_temporal_loss_by_hand():
    image = torch.zeros(1, 3, 2, 2)
    warped = torch.ones(1, 3, 2, 2)
    reliability = torch.tensor([[1.0, 0.0], [0.0, 0.5]])
    # (1 + 0 + 0 + 0.5) * 3 channels * 1^2 / (3 * 4) = 0.375
    assert losses.temporal_loss(image, warped, reliability).item() == pytest.approx(0.375)
    assert losses.temporal_loss(image, warped, torch.zeros(2, 2)).item() == 0.0
    with pytest.raises(ValueError, match="differ in shape"):
        losses.temporal_loss(image, torch.ones(1, 3, 3, 2), reliability)


def _double(*shape):
    return torch.randn(*shape, dtype=torch.float64, requires_grad=True)


def test_gradcheck_every_loss():
    assert torch.autograd.gradcheck(losses.gram, (_double(1, 3, 4, 5),))
    target = torch.randn(1, 3, 4, 5, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda f: losses.content_loss(f, target), (_double(1, 3, 4, 5),))
    grams = {"a": torch.randn(1, 3, 3, dtype=torch.float64)}
    assert torch.autograd.gradcheck(lambda f: losses.style_loss({"a": f}, grams, {"a": 2.0}), (_double(1, 3, 4, 4),))
    assert torch.autograd.gradcheck(losses.tv_loss, (_double(1, 3, 5, 6),))
    warped = torch.randn(1, 3, 4, 4, dtype=torch.float64)
    reliability = torch.rand(1, 1, 4, 4, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda x: losses.temporal_loss(x, warped, reliability), (_double(1, 3, 4, 4),))
