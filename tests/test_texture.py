"""Texture synthesis (``vidstyle texture``; ``stylize --content-weight 0``): the style loss alone
from seeded noise, at any size; as good a Gram match as a stylised photo; animated along the motion."""

import numpy as np
import pytest
import torch

from vidstyle import synth
from vidstyle.cli import main
from vidstyle.config import StyleConfig
from vidstyle.frames import Frame, fit_longest_side, resize
from vidstyle.io.image import read_image
from vidstyle.metrics import style_distance, warping_errors
from vidstyle.optimize import NOISE_STD, Stylizer, image_to_tensor, tensor_to_image
from vidstyle.temporal import VideoStylizer

from conftest import sample_path

FAST = ["--iters", "4", "--device", "cpu"]


def texture(tmp_path, name, size, seed, extra=()):
    out = tmp_path / name
    argv = ["texture", "-s", str(sample_path("starry_night.jpg")), "-o", str(out), "--size", size, "--seed", str(seed), *FAST, *extra]
    assert main(argv) == 0
    return read_image(out)[0]


def test_texture_has_the_requested_size_and_seeds_differ(tmp_path):
    a = texture(tmp_path, "a.png", "40x24", 0)
    b = texture(tmp_path, "b.png", "40x24", 1)
    assert a.shape == b.shape == (24, 40, 3)
    assert np.abs(a - b).mean() > 0.01
    square = texture(tmp_path, "c.png", "32", 0, ["--iters", "0"])
    assert square.shape == (32, 32, 3)
    assert np.abs(square - 0.5).max() <= 4 * NOISE_STD + 1 / 255  # zero iterations: the noise start


def test_same_seed_same_texture(vgg, painting):
    config = StyleConfig(content_weight=0.0, iters=3)
    stylizer = Stylizer(config, [painting], network=vgg)
    blank = torch.zeros(1, 3, 24, 32)
    first = stylizer.stylize(blank, generator=torch.Generator().manual_seed(7))
    again = stylizer.stylize(blank, generator=torch.Generator().manual_seed(7))
    assert torch.equal(first, again)


def test_content_weight_zero_starts_from_noise_and_ignores_the_content(vgg, painting, photo):
    stylizer = Stylizer(StyleConfig(content_weight=0.0, iters=0), [painting], network=vgg)
    content = image_to_tensor(resize(photo, (32, 24)))
    start = stylizer.stylize(content, generator=torch.Generator().manual_seed(0))
    assert torch.equal(start, stylizer.stylize(torch.zeros_like(content), generator=torch.Generator().manual_seed(0)))
    assert (start - 0.5).abs().max() < 5 * NOISE_STD


@pytest.mark.parametrize("argv, message", [
    (["--size", "0x10"], "expected WIDTHxHEIGHT"),
    (["--size", "12by8"], "expected WIDTHxHEIGHT"),
    (["--size", "16x16", "--content-weight", "1"], "unrecognized arguments"),
    (["--size", "16x16", "--iters", "-1"], "--iters must be >= 0"),
    (["--size", "64x8"], "too small"),
])
def test_bad_texture_options_are_one_line_exit_2(tmp_path, capsys, argv, message):
    out = tmp_path / "t.png"
    try:
        code = main(["texture", "-s", str(sample_path("starry_night.jpg")), "-o", str(out), *argv])
    except SystemExit as exit:  # argparse's own errors
        code = exit.code
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and message in err, err
    assert not out.exists()


def test_existing_output_is_refused(tmp_path, capsys):
    out = tmp_path / "t.png"
    out.write_bytes(b"keep")
    assert main(["texture", "-s", str(sample_path("starry_night.jpg")), "-o", str(out), "--size", "8x8"]) == 2
    assert out.read_bytes() == b"keep"


def test_texture_matches_the_style_as_well_as_a_stylised_photo(vgg, painting, photo):
    """128 px, as docs/literature.md (all four bundled styles there, at 100 iterations): the texture's
    Gram distance to the style is within 1.5x that of the photo stylised with the same settings."""
    iters = 40
    size = fit_longest_side(photo.shape[1], photo.shape[0], 128)
    stylised = Stylizer(StyleConfig(iters=iters), [painting], network=vgg).stylize(image_to_tensor(resize(photo, size)))
    made = Stylizer(StyleConfig(iters=iters, content_weight=0.0), [painting], network=vgg).stylize(
        torch.zeros(1, 3, 128, 128), generator=torch.Generator().manual_seed(0))
    photo_distance = style_distance(vgg, tensor_to_image(stylised), painting)
    texture_distance = style_distance(vgg, tensor_to_image(made), painting)
    assert texture_distance <= 1.5 * photo_distance, (texture_distance, photo_distance)


def test_content_weight_zero_video_is_a_texture_moving_with_the_input(vgg, painting, photo):
    """``stylize --content-weight 0``: the first frame is synthesised from noise, later frames are
    carried along the input's flow, so the texture flickers far less than per-frame textures."""
    frames = synth.camera_move(photo, (32, 18), 4, shift_per_frame=(1.0, 0.5), scale=0.4)
    config = StyleConfig(iters=4, first_iters=12, content_weight=0.0, seed=0)

    def run(temporal):
        video = VideoStylizer(Stylizer(config, [painting], network=vgg), (32, 18), temporal=temporal, generator_seed=0)
        return [video.process(Frame(image, i, i))[0].image for i, image in enumerate(frames)]

    animated, per_frame = run(True), run(False)
    animated_error = np.mean(warping_errors(animated, frames)[0])
    per_frame_error = np.mean(warping_errors(per_frame, frames)[0])
    assert animated_error < per_frame_error / 3, (animated_error, per_frame_error)
    # Not the photo repainted: far from it, unlike a stylised frame.
    assert np.abs(animated[0] - frames[0]).mean() > 0.1
