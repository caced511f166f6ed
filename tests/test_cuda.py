"""CUDA against the CPU (issue 20): skipped without CUDA; bench/device_check.py runs them on a lent GPU.

Tolerances, and why:
- Grams and losses of the same features: float32 sums in another order (cuDNN and cuBLAS pick
  their own algorithms): relative 1e-4.
- One frame's optimisation (L-BFGS, 20 iterations at 64x48 from the content): L-BFGS amplifies
  rounding, so the pixels are not compared; the final loss is, within 2 %.
- bfloat16 autocast on CUDA: finite everywhere, final loss within 10 % of float32's.
- A 4-frame temporal render: its mean warping error within 25 % of the CPU's (the flow is the same
  OpenCV DIS on the CPU in both; the optimised frames differ by rounding).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vidstyle import losses
from vidstyle.config import StyleConfig
from vidstyle.frames import Frame, resize
from vidstyle.optimize import Stylizer, image_to_tensor

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


@pytest.fixture(scope="module")
def content(photo):
    return image_to_tensor(resize(photo, (64, 48)))


def _final_loss(vgg, painting, content, device: str, dtype: str = "float32") -> tuple[float, torch.Tensor]:
    config = StyleConfig(iters=20, tolerance=0.0, seed=0, dtype=dtype, device=device)
    stylizer = Stylizer(config, [painting], network=vgg, device=device)
    seen = []
    out = stylizer.stylize(content.to(device), callback=seen.append)
    return seen[-1].loss, out


def test_grams_and_losses_agree(vgg, painting, content):
    cpu = Stylizer(StyleConfig(), [painting], network=vgg)
    cpu_features = cpu.features(content)
    cpu_grams = {k: losses.gram(v) for k, v in cpu_features.items()}
    cuda = Stylizer(StyleConfig(device="cuda"), [painting], network=vgg, device="cuda")
    cuda_features = cuda.features(content.cuda())
    for layer, gram in cpu_grams.items():
        torch.testing.assert_close(losses.gram(cuda_features[layer]).cpu(), gram, rtol=1e-4, atol=1e-6)
    target = cpu_features[cpu.config.content_layer]
    shifted = target * 1.01
    cpu_loss = losses.content_loss(shifted, target)
    cuda_loss = losses.content_loss(shifted.cuda(), target.cuda())
    torch.testing.assert_close(cuda_loss.cpu(), cpu_loss, rtol=1e-4, atol=0)
    image = content * 255
    torch.testing.assert_close(losses.tv_loss(image.cuda()).cpu(), losses.tv_loss(image), rtol=1e-4, atol=0)


def test_one_frame_optimisation_agrees(vgg, painting, content):
    cpu_loss, _ = _final_loss(vgg, painting, content, "cpu")
    cuda_loss, out = _final_loss(vgg, painting, content, "cuda")
    assert out.device.type == "cuda"
    assert abs(cuda_loss - cpu_loss) <= 0.02 * cpu_loss, (cpu_loss, cuda_loss)


def test_bfloat16_is_finite_and_close(vgg, painting, content):
    fp32, _ = _final_loss(vgg, painting, content, "cuda")
    bf16, out = _final_loss(vgg, painting, content, "cuda", "bfloat16")
    assert torch.isfinite(out).all() and np.isfinite(bf16)
    assert bf16 <= 1.10 * fp32, (fp32, bf16)


def test_temporal_render_warping_error_agrees(vgg, painting, photo):
    from vidstyle.metrics import warping_errors
    from vidstyle.synth import camera_move
    from vidstyle.temporal import VideoStylizer

    frames = camera_move(photo, (64, 48), 4, shift_per_frame=(2.0, 1.0))
    errors = {}
    for device in ("cpu", "cuda"):
        config = StyleConfig.video().with_(iters=10, first_iters=30, seed=0, device=device)
        engine = VideoStylizer(Stylizer(config, [painting], network=vgg, device=device), (64, 48), generator_seed=0)
        outputs = [engine.process(Frame(image.astype(np.float32), i, i))[0].image for i, image in enumerate(frames)]
        errors[device] = float(np.mean(warping_errors(outputs, frames)[0]))
    assert abs(errors["cuda"] - errors["cpu"]) <= 0.25 * errors["cpu"], errors
