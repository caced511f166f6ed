"""FLOP counts of the VGG-19 layers, checked against sums done by hand."""

from __future__ import annotations

import pytest

from vidstyle.flops import DEFAULT_LAYERS, deepest_layer, gram_flops, layer_sizes, vgg_flops


def test_conv1_1_alone_at_2x2_by_hand():
    count = vgg_flops(2, 2, ["relu1_1"])
    assert count.forward == 2 * 3 * 64 * 9 * 4 == 13824
    assert count.backward == count.forward  # input gradient of a 3x3 conv: same multiply-adds
    assert count.total == 2 * 13824
    assert count.per_conv == {"conv1_1": 13824}


def test_first_block_and_a_pool_at_4x2_by_hand():
    # conv1_1 3->64 and conv1_2 64->64 at 4x2, then pool1 -> 2x1, conv2_1 64->128 at 2x1.
    count = vgg_flops(4, 2, ["relu2_1"])
    assert count.per_conv == {
        "conv1_1": 2 * 3 * 64 * 9 * 8,
        "conv1_2": 2 * 64 * 64 * 9 * 8,
        "conv2_1": 2 * 64 * 128 * 9 * 2,
    }
    assert count.forward == sum(count.per_conv.values())


def test_pools_round_down_like_maxpool():
    sizes = layer_sizes(37, 21, ["relu5_1"])
    assert sizes["pool1"] == (64, 10, 18)
    assert sizes["pool4"] == (512, 1, 2)
    assert sizes["conv5_1"] == (512, 1, 2)


def test_only_as_deep_as_the_deepest_layer_in_any_order():
    assert list(vgg_flops(64, 64, ["relu4_2", "relu1_1"]).per_conv)[-1] == "conv4_2"
    assert deepest_layer(DEFAULT_LAYERS) == "relu5_1"
    assert list(vgg_flops(64, 64).per_conv)[-1] == "conv5_1"
    assert len(vgg_flops(64, 64).per_conv) == 13


def test_default_layers_match_the_design_performance_model():
    # DESIGN.md: about 0.72 MFLOP per pixel forward, 1.33 TFLOP per iteration at 1280x720.
    count = vgg_flops(1280, 720)
    assert count.forward / (1280 * 720) == pytest.approx(0.7223e6, rel=1e-3)
    assert count.total == pytest.approx(1.3314e12, rel=1e-3)


def test_gram_flops_by_hand():
    # relu1_1 at 2x2: C=64, H*W=4; forward 2*64*64*4, backward twice that.
    assert gram_flops(2, 2, ["relu1_1"]) == 3 * 2 * 64 * 64 * 4


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="width and height"):
        vgg_flops(0, 5)
    with pytest.raises(ValueError, match="width and height"):
        vgg_flops(3.5, 5)
    with pytest.raises(ValueError, match="unknown VGG-19 layer"):
        vgg_flops(8, 8, ["relu9_9"])
    with pytest.raises(ValueError, match="at least one"):
        vgg_flops(8, 8, [])
