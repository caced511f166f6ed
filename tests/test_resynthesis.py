"""The deflicker stage's texture re-synthesis (``--resynth-iters``, vidstyle.resynthesis): its loss
by hand and by gradcheck, what it does to a flattened texture, and its place in the stage."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vidstyle import losses
from vidstyle.config import DeflickerSettings, StyleConfig
from vidstyle.deflicker import DeflickerEngine, gaussian_like
from vidstyle.errors import UsageError
from vidstyle.frames import Frame, resize
from vidstyle.resynthesis import resynthesise
from vidstyle.synth import camera_move, load_photo

from conftest import sample_path


def test_relative_style_loss_by_hand():
    # One channel, two pixels of 1: Gram (1 + 1) / (1 * 1 * 2) = 1. Against a target of 2:
    # (1 - 2)^2 / 2^2 = 0.25; against a target of 1: 0; a zero image scores 1 whatever the target.
    features = {"a": torch.ones(1, 1, 1, 2)}
    assert float(losses.relative_style_loss(features, {"a": torch.full((1, 1, 1), 2.0)})) == pytest.approx(0.25)
    assert float(losses.relative_style_loss(features, {"a": torch.ones(1, 1, 1)})) == pytest.approx(0.0)
    zero = {"a": torch.zeros(1, 1, 1, 2), "b": torch.zeros(1, 2, 2, 2)}
    assert float(losses.relative_style_loss(zero, {"a": torch.full((1, 1, 1), 3.0), "b": torch.eye(2)[None]})) == pytest.approx(1.0)
    # the mean over layers: 0.25 and 0 -> 0.125
    both = {"a": torch.ones(1, 1, 1, 2), "b": torch.ones(1, 1, 1, 2)}
    assert float(losses.relative_style_loss(both, {"a": torch.full((1, 1, 1), 2.0), "b": torch.ones(1, 1, 1)})) == pytest.approx(0.125)


def test_relative_style_loss_gradcheck():
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(1, 3, 4, 5, dtype=torch.float64, generator=generator, requires_grad=True)
    target = losses.gram(torch.randn(1, 3, 4, 5, dtype=torch.float64, generator=generator))
    assert torch.autograd.gradcheck(lambda f: losses.relative_style_loss({"x": f}, {"x": target}), (features,))


@pytest.fixture(scope="module")
def texture(painting):
    """A painted patch (the processed frame) and the same patch with its strokes flattened, as an
    average of two stroke patterns leaves them (the held frame)."""
    processed = resize(painting, (64, 48))
    return processed, gaussian_like(processed, 1.5)


def relative_gram_distance(vgg, image, reference):
    with torch.no_grad():
        def tensor(a):
            return torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)[None].contiguous()
        target = vgg(tensor(reference), ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"))
        grams = {k: losses.gram(v) for k, v in target.items()}
        return float(losses.relative_style_loss(vgg(tensor(image), tuple(grams)), grams))


def test_resynthesis_brings_a_flattened_texture_back_and_stays_near_it(vgg, texture):
    processed, held = texture
    assert resynthesise(vgg, held, processed, 0, 10.0) is held  # off: the held frame itself
    before = relative_gram_distance(vgg, held, processed)
    loose = resynthesise(vgg, held, processed, 10, 1.0)
    tight = resynthesise(vgg, held, processed, 10, 1000.0)
    assert loose.shape == held.shape and loose.dtype == np.float32 and 0.0 <= loose.min() and loose.max() <= 1.0
    # the texture moves toward the processed frame's, the more the looser the pixel anchor ...
    assert relative_gram_distance(vgg, loose, processed) < 0.5 * before, before
    assert relative_gram_distance(vgg, loose, processed) < relative_gram_distance(vgg, tight, processed)
    # ... and the pixels stay nearer the held frame the tighter it is
    assert np.abs(tight - held).mean() < np.abs(loose - held).mean()
    assert np.abs(tight - held).mean() < 0.02


def test_resynthesis_refuses_frames_of_two_shapes(vgg, texture):
    processed, held = texture
    with pytest.raises(ValueError, match="one shape"):
        resynthesise(vgg, held[:32], processed, 2, 10.0)


def test_the_stage_resynthesises_held_frames_only_and_holds_the_next_to_them():
    """A shot's first frame has no history to hold to: it is the processed frame, untouched. Later
    frames are re-synthesised, and the history (what the next frame is held to) is the
    re-synthesised output."""
    photo = load_photo(sample_path("tubingen.jpg"))
    clean = camera_move(photo, (64, 36), 3, shift_per_frame=(1.5, 0.5), scale=0.25)
    rng = np.random.default_rng(0)
    processed = [np.clip(f + rng.normal(0, 0.08, f.shape).astype(np.float32), 0, 1) for f in clean]  # fresh "strokes" each frame

    def run(settings):
        engine = DeflickerEngine(iter(Frame(f, i, i) for i, f in enumerate(clean)), (64, 36), StyleConfig.video().with_(device="cpu"), settings)
        outputs = []
        for i, image in enumerate(processed):
            outputs.append(engine.process(Frame(image, i, i))[0].image)
            assert np.array_equal(engine.history[-1].output, outputs[-1])
        return outputs

    plain = run(DeflickerSettings.strokes())
    resynthesised = run(DeflickerSettings(strength=16.0, detail_strength=1.0, resynth_iters=3))
    assert np.array_equal(plain[0], resynthesised[0])
    for a, b in zip(plain[1:], resynthesised[1:]):
        assert np.abs(a - b).mean() > 1e-3


def test_resynthesis_settings_are_checked_and_recorded_only_when_on():
    with pytest.raises(UsageError, match="--resynth-iters must be >= 0"):
        DeflickerSettings(resynth_iters=-1).validate()
    with pytest.raises(UsageError, match="--resynth-weight must be >= 0"):
        DeflickerSettings(resynth_iters=2, resynth_weight=-1.0).validate()
    with pytest.raises(UsageError, match="whole number"):
        DeflickerSettings(resynth_iters=2.5).validate()  # type: ignore[arg-type]
    # Off, the record is what it was before the re-synthesis existed, so older renders resume.
    assert set(DeflickerSettings().record()) == {"strength", "detail_sigma", "detail_strength", "colour_strength"}
    on = DeflickerSettings.strokes_resynthesised().validate().record()
    assert on["resynth_iters"] == 10 and on["resynth_weight"] == DeflickerSettings().resynth_weight


@pytest.mark.parametrize("engine", ["optimizer", "arbitrary"])
def test_stylize_deflicker_resynthesis_shares_the_engines_vgg(engine):
    """``stylize --deflicker --deflicker-resynth-iters``: the stage re-synthesises with the VGG-19 the
    optimiser (or the arbitrary decoders' encoder) already holds, not a second copy; a transfer
    network holds none, and the stage then loads its own at the first use."""
    from vidstyle.engines import build_engine
    from vidstyle.request import StylizeRequest

    style = load_photo(sample_path("starry_night.jpg"))
    config = StyleConfig.video().with_(device="cpu", size=32, engine=engine)
    request = StylizeRequest("in.mp4", "out.mp4", (str(sample_path("starry_night.jpg")),), config,
                             deflicker=DeflickerSettings.strokes_resynthesised())
    built = build_engine(request, (32, 18), [style], torch.device("cpu"))
    network, device = built.stage._network()
    assert network is built.engine.stylizer.network and device == torch.device("cpu")
