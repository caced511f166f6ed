"""The one-frame optimiser on tiny images: it optimises, is repeatable, and honours its options."""

import dataclasses

import numpy as np
import pytest
import torch

from vidstyle import losses
from vidstyle.color import rgb_to_ycbcr
from vidstyle.config import StyleConfig
from vidstyle.frames import resize
from vidstyle.optimize import Stylizer, TemporalTarget, image_to_tensor, tensor_to_image


@pytest.fixture(scope="module")
def content(photo):
    return image_to_tensor(resize(photo, (40, 30)))


def make(vgg, painting, **changes):
    return Stylizer(dataclasses.replace(StyleConfig(), **changes), [painting], network=vgg)


def total_loss(stylizer, image, content):
    cfg = stylizer.config
    feats = stylizer.features(image)
    target = stylizer.features(content)[cfg.content_layer]
    grams = stylizer.style_grams(image.shape[-1], image.shape[-2])
    return (cfg.style_weight * losses.style_loss(feats, grams, stylizer.layer_weights)
            + cfg.content_weight * losses.content_loss(feats[cfg.content_layer], target)
            + cfg.tv_weight * losses.tv_loss(image * 255)).item()


def test_lbfgs_lowers_the_total_loss_by_a_large_factor(vgg, painting, content):
    stylizer = make(vgg, painting, iters=40, tolerance=0.0)
    seen = []
    out = stylizer.stylize(content, callback=seen.append)
    assert seen and seen[-1].iteration == 40 and seen[-1].total == 40
    before, after = total_loss(stylizer, content, content), total_loss(stylizer, out, content)
    assert after < before / 10, (before, after)
    assert out.shape == content.shape and out.min() >= 0 and out.max() <= 1


def test_adam_lowers_the_loss_too(vgg, painting, content):
    stylizer = make(vgg, painting, iters=30, optimizer="adam", lr=5.0, tolerance=0.0)
    out = stylizer.stylize(content)
    assert total_loss(stylizer, out, content) < total_loss(stylizer, content, content) / 2


def test_same_seed_gives_identical_output_on_cpu(vgg, painting, content):
    stylizer = make(vgg, painting, iters=5, init="noise")
    runs = [stylizer.stylize(content, generator=torch.Generator().manual_seed(7)) for _ in range(2)]
    assert torch.equal(runs[0], runs[1])
    other = stylizer.stylize(content, generator=torch.Generator().manual_seed(8))
    assert not torch.equal(runs[0], other)


def test_zero_iterations_returns_the_start_image(vgg, painting, content):
    stylizer = make(vgg, painting, iters=0)
    assert torch.allclose(stylizer.stylize(content), content, atol=1e-6)
    start = torch.full_like(content, 0.25)
    assert torch.allclose(stylizer.stylize(content, init=start), start, atol=1e-6)


def test_early_stop_on_relative_tolerance(vgg, painting, content):
    # A tolerance of 100 % stops after the second window of iterations.
    stylizer = make(vgg, painting, iters=200, tolerance=1.0)
    seen = []
    stylizer.stylize(content, callback=seen.append)
    assert seen[-1].iteration < 200


def test_strong_temporal_term_pins_reliable_pixels_to_the_warped_previous(vgg, painting, content):
    stylizer = make(vgg, painting, iters=20, temporal_weight=1e6)
    previous = torch.rand_like(content)
    reliability = torch.zeros(1, 1, *content.shape[-2:])
    reliability[..., :, :20] = 1.0  # left half reliable
    out = stylizer.stylize(content, init=previous, temporal=TemporalTarget(previous, reliability))
    left = (out - previous)[..., :20].abs().mean().item()
    right = (out - previous)[..., 20:].abs().mean().item()
    assert left < 0.03 and left < right / 5, (left, right)


def test_style_grams_are_computed_once_per_size(vgg, painting):
    stylizer = make(vgg, painting)
    assert stylizer.style_grams(32, 24) is stylizer.style_grams(32, 24)
    assert stylizer.style_grams(32, 24) is not stylizer.style_grams(24, 32)


def test_two_styles_blend_their_grams(vgg, painting, photo):
    both = Stylizer(StyleConfig(), [painting, photo], [1.0, 3.0], network=vgg)
    one = Stylizer(StyleConfig(), [painting], network=vgg)
    other = Stylizer(StyleConfig(), [photo], network=vgg)
    for layer in ("relu1_1", "relu5_1"):
        expected = 0.25 * one.style_grams(32, 24)[layer] + 0.75 * other.style_grams(32, 24)[layer]
        assert torch.allclose(both.style_grams(32, 24)[layer], expected, rtol=1e-5, atol=1e-5)


def test_preserve_colors_keeps_content_chroma(vgg, painting, content):
    out = make(vgg, painting, iters=5, preserve_colors=True).stylize(content)
    chroma_out, chroma_in = rgb_to_ycbcr(out)[:, 1:], rgb_to_ycbcr(content)[:, 1:]
    # Equal up to clipping to [0, 1] after the colour swap.
    assert (chroma_out - chroma_in).abs().mean().item() < 0.01


def test_tensor_round_trip_and_shape_check():
    image = np.random.default_rng(0).random((5, 7, 3), dtype=np.float32)
    assert np.array_equal(tensor_to_image(image_to_tensor(image)), image)
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        image_to_tensor(np.zeros((5, 7)))


def test_scale_ladder_by_hand():
    from vidstyle.optimize import scale_ladder

    # 128 * 2**(k/2): 128, 181, 256, 362; 512 itself is the last (362 * 2**0.25 = 430 < 512 <= 512 * 2**0.25)
    assert scale_ladder(512, 384, 128, 2**0.5) == [(128, 96), (181, 136), (256, 192), (362, 272), (512, 384)]
    assert scale_ladder(300, 200, 128, 2.0) == [(128, 85), (300, 200)]  # 256 is within sqrt(2) of 300: dropped
    assert scale_ladder(120, 90, 128, 2**0.5) == [(120, 90)]  # no larger than the smallest scale
    assert scale_ladder(512, 384, 0, 2**0.5) == [(512, 384)]  # off
    assert scale_ladder(400, 100, 32, 2.0) == [(64, 16), (128, 32), (256, 64), (400, 100)]  # 32x8: too small for VGG


def test_coarse_to_fine_runs_each_scale_from_the_previous_one(vgg, painting, content, monkeypatch):
    stylizer = make(vgg, painting, iters=6, min_scale=24, scale_ratio=1.5, scale_iters=4, tolerance=0.0)
    calls = []
    optimise = Stylizer._optimise

    def spy(self, scaled, init, temporal, iters, callback, generator):
        calls.append((tuple(scaled.shape[-2:]), None if init is None else tuple(init.shape[-2:]), iters))
        return optimise(self, scaled, init, temporal, iters, callback, generator)

    monkeypatch.setattr(Stylizer, "_optimise", spy)
    seen = []
    out = stylizer.stylize(content, callback=seen.append)
    # 40x30: 24x18 (4 iterations from the content), 36x27 is within sqrt(1.5) of 40: dropped; then
    # 40x30 (6 from the upsampled result)
    assert calls == [((18, 24), None, 4), ((30, 40), (30, 40), 6)]
    assert out.shape == content.shape and seen[-1].iteration == 10 and seen[-1].total == 10
    # a warm start (init given) or a temporal frame stays at one scale
    calls.clear()
    stylizer.stylize(content, init=content, iters=2)
    assert calls == [((30, 40), (30, 40), 2)]
    with pytest.raises(ValueError, match="--scale-ratio must be > 1"):
        StyleConfig(scale_ratio=1.0).validate()


def test_bfloat16_on_a_cpu_with_it_and_refused_without(vgg, painting, content, monkeypatch):
    from vidstyle import device

    if not device.cpu_has_bfloat16():
        pytest.skip("this CPU has no native bfloat16")
    outputs, finals = {}, {}
    for dtype in ("float32", "bfloat16"):
        stylizer = make(vgg, painting, iters=20, tolerance=0.0, dtype=dtype)
        seen = []
        outputs[dtype] = stylizer.stylize(content, callback=seen.append)
        finals[dtype] = total_loss(make(vgg, painting), outputs[dtype], content)  # both scored in float32
    assert torch.isfinite(outputs["bfloat16"]).all()
    assert not torch.equal(outputs["bfloat16"], outputs["float32"])  # it did run in another precision
    assert finals["bfloat16"] < 1.25 * finals["float32"], finals  # 1.11x measured at 40x30, 20 iterations
    monkeypatch.setattr(device, "cpu_has_bfloat16", lambda: False)
    with pytest.raises(ValueError, match="no native bfloat16"):
        make(vgg, painting, dtype="bfloat16")
