"""Arbitrary styles (vidstyle.model.decoder, vidstyle.model.arbitrary): the feature transforms, the
decoders and their file, and the engine through the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vidstyle.cli import main
from vidstyle.model.decoder import (DECODER_LEVELS, Decoder, DecoderSet, adain, blend_statistics, feature_statistics,
                                    load_decoders, save_decoders, whiten_colour)
from vidstyle.model.file import ModelFileError

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT / "samples" / "clip.mp4"
STARRY = ROOT / "samples" / "starry_night.jpg"
SCREAM = ROOT / "samples" / "the_scream.jpg"
TUBINGEN = ROOT / "samples" / "tubingen.jpg"


def test_whiten_colour_gives_the_styles_mean_and_covariance():
    generator = torch.Generator().manual_seed(0)
    content = torch.randn(1, 4, 9, 11, generator=generator, dtype=torch.float64)
    mixing = torch.randn(4, 4, generator=generator, dtype=torch.float64)
    style = (mixing @ torch.randn(4, 300, generator=generator, dtype=torch.float64) + 3.0).reshape(1, 4, 15, 20)
    mean, covariance = feature_statistics(style)
    out_mean, out_covariance = feature_statistics(whiten_colour(content, mean, covariance, eps=1e-12))
    assert torch.allclose(out_mean, mean, atol=1e-9) and torch.allclose(out_covariance, covariance, atol=1e-8)
    # strength 0 is the content itself
    assert torch.allclose(whiten_colour(content, mean, covariance, strength=0.0), content, atol=1e-12)


def test_adain_and_blended_statistics():
    content = torch.randn(1, 3, 8, 8, dtype=torch.float64)
    style = torch.randn(1, 3, 5, 7, dtype=torch.float64) * 4 + 2
    out = adain(content, style, eps=0.0)
    assert torch.allclose(out.mean((2, 3)), style.mean((2, 3))) and torch.allclose(out.std((2, 3)), style.std((2, 3)))
    a, b = (torch.zeros(3, 1), torch.eye(3)), (torch.ones(3, 1), 3 * torch.eye(3))
    mean, covariance = blend_statistics([a, b], [1.0, 3.0])  # 1/4 of a, 3/4 of b
    assert torch.allclose(mean, torch.full((3, 1), 0.75)) and torch.allclose(covariance, 2.5 * torch.eye(3))


def test_decoders_invert_each_level_to_the_images_size():
    from vidstyle.features import VGG19Features

    network = VGG19Features.load()
    image = torch.rand(1, 3, 32, 48)
    features = network(image, DECODER_LEVELS)
    for level in DECODER_LEVELS:
        with torch.no_grad():
            decoded = Decoder(level)(features[level])
        assert decoded.shape == (1, 3, 32, 48) and 0 <= float(decoded.min()) and float(decoded.max()) <= 1
    with pytest.raises(ValueError, match="expected features"):
        Decoder("relu2_1")(features["relu3_1"])


def test_decoders_start_unsaturated_and_learn(vgg, photo):
    from vidstyle.frames import resize
    from vidstyle.model.decoder import reconstruction_loss

    torch.manual_seed(0)
    decoders = DecoderSet()
    images = torch.from_numpy(resize(photo, (48, 32))).permute(2, 0, 1)[None]
    features = vgg(images, DECODER_LEVELS)
    with torch.no_grad():
        for level in DECODER_LEVELS:
            # Fed VGG's raw 0-255-scale activations the sigmoid sat at 0 or 1 and nothing trained.
            decoded = decoders[level](features[level])
            assert 0.2 < float(decoded.mean()) < 0.8 and float(decoded.std()) < 0.2, level
    optimiser = torch.optim.Adam(decoders.parameters(), lr=1e-3)
    start = float(reconstruction_loss(decoders, vgg, images).detach())
    for _ in range(8):
        optimiser.zero_grad()
        reconstruction_loss(decoders, vgg, images).backward()
        optimiser.step()
    assert float(reconstruction_loss(decoders, vgg, images).detach()) < 0.6 * start  # 8.1 -> 4.2 measured


def test_decoder_file_round_trip_in_half_precision(tmp_path):
    torch.manual_seed(0)
    decoders = DecoderSet(("relu1_1", "relu2_1"))
    save_decoders(tmp_path / "d.safetensors", decoders, {"steps": 1})
    loaded, record = load_decoders(tmp_path / "d.safetensors")
    assert record["levels"] == ["relu1_1", "relu2_1"] and record["dtype"] == "float16"
    for name, tensor in decoders.state_dict().items():
        assert torch.equal(tensor.half().float(), loaded.state_dict()[name])
    (tmp_path / "bad.safetensors").write_bytes(b"nonsense")
    with pytest.raises(ModelFileError, match="not a vidstyle decoder"):
        load_decoders(tmp_path / "bad.safetensors")


@pytest.fixture(scope="module")
def tiny_decoder(tmp_path_factory):
    path = tmp_path_factory.mktemp("decoder") / "decoders.safetensors"
    code = main(["train", "--decoder", "--on", str(CLIP), "--on", str(TUBINGEN), "-o", str(path), "--size", "48",
                 "--steps", "3", "--batch", "2", "--max-frames", "6", "--seed", "0"])
    assert code == 0
    return path


def test_image_with_the_arbitrary_engine(tmp_path, tiny_decoder, capsys):
    from vidstyle.io.image import read_image

    out = tmp_path / "out.png"
    args = ["image", str(TUBINGEN), "-s", str(STARRY), "-s", str(SCREAM), "--style-weights", "1", "1", "-o", str(out),
            "--engine", "arbitrary", "--decoder", str(tiny_decoder), "--size", "40"]
    assert main(args) == 0
    image = read_image(out)[0]
    assert image.shape == (30, 40, 3)
    capsys.readouterr()
    assert main(["train", "--decoder", "-s", str(STARRY), "--on", str(CLIP), "-o", str(tmp_path / "x.safetensors")]) == 2
    assert "takes no style images" in capsys.readouterr().err


def test_stabilised_arbitrary_video_flickers_less(tmp_path, tiny_decoder):
    from vidstyle.io.video import VideoReader
    from vidstyle.metrics import warping_errors

    errors = {}
    for name, stabilise in (("plain", "0"), ("stable", "0.6")):
        out = tmp_path / f"{name}.mp4"
        assert main(["stylize", str(CLIP), "-s", str(STARRY), "-o", str(out), "--engine", "arbitrary", "--decoder",
                     str(tiny_decoder), "--size", "40", "--stabilise", stabilise, "--crf", "0"]) == 0
        frames = [f.image for f in VideoReader(str(out))]
        source = [f.image for f in VideoReader(str(CLIP))]
        assert len(frames) == len(source)
        errors[name] = float(np.mean(warping_errors(frames, source)[0]))
    assert errors["stable"] < 0.8 * errors["plain"], errors


def test_live_arbitrary_keys_switch_the_style_on_the_next_frame(tmp_path, tiny_decoder, capsys):
    from vidstyle import live
    from vidstyle.config import StyleConfig
    from vidstyle.io.image import read_image
    from vidstyle.model.arbitrary import ArbitraryEngine, build_arbitrary

    config = StyleConfig.live().with_(decoder=str(tiny_decoder), threads=1)
    styles = [read_image(STARRY)[0], read_image(SCREAM)[0]]
    size = (40, 24)
    stylizer = build_arbitrary(config, styles, size)
    engine = ArbitraryEngine(stylizer, size, config, stabilise=0.6)
    session = live.LiveSession.with_model(engine, ["starry", "scream"], snapshot_dir=tmp_path)
    assert session.overlay_lines(2.0)[0] == "2.0 fps  arbitrary" and engine.weights == [1.0, 0.0]
    photo = read_image(TUBINGEN)[0]
    session.process(photo)
    session.process(photo)  # stabilised: carries the first output
    assert len(engine.history) == 1
    session.press(ord("n"))  # the even blend of both
    shown = session.process(photo)
    content = torch.from_numpy(np.ascontiguousarray(session.camera)).permute(2, 0, 1)[None]
    alone = stylizer.stylize(content, [0.5, 0.5])[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(shown, alone, atol=1e-6)  # the new style whole, nothing of the old one
    starry = stylizer.stylize(content, [1.0, 0.0])[0].permute(1, 2, 0).numpy()
    assert np.abs(alone - starry).mean() > 1e-3

    code = main(["live", "-s", str(STARRY), "-s", str(SCREAM), "--engine", "arbitrary", "--decoder", str(tiny_decoder),
                 "--source", str(CLIP), "--no-window", "--max-frames", "3", "--size", "40", "--device", "cpu", "--threads", "1"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "arbitrary-style decoders (2 styles)" in err and "live: 3 frame(s)" in err
    assert main(["live", "-s", str(STARRY), "--engine", "arbitrary", "--decoder", str(tmp_path / "none.safetensors"),
                 "--source", str(CLIP), "--no-window", "--device", "cpu"]) == 2
    assert len([line for line in capsys.readouterr().err.splitlines() if line.strip()]) == 1
