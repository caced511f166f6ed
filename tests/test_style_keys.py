"""Style keyframes (``--style-keys``): parsing, interpolation, per-frame Gram blending, a morphing clip,
and the keys recorded in a sequence render's settings (a resume with other keys is refused)."""

import json

import numpy as np
import pytest
import torch

from vidstyle import synth
from vidstyle.cli import main
from vidstyle.config import StyleConfig
from vidstyle.frames import Frame
from vidstyle.io.image import read_image
from vidstyle.metrics import style_distance, warping_errors
from vidstyle.optimize import Stylizer
from vidstyle.style_keys import StyleKeys
from vidstyle.temporal import VideoStylizer

from conftest import sample_path


@pytest.fixture(scope="module")
def scream():
    return read_image(sample_path("the_scream.jpg"))[0]


# -- parsing and interpolation ------------------------------------------------------------------


def test_weights_interpolate_linearly_between_keys_and_clamp_outside():
    keys = StyleKeys.parse("10:1,0 20:0,1", 2)
    assert keys.at(0) == (1.0, 0.0) and keys.at(10) == (1.0, 0.0)
    assert keys.at(15) == pytest.approx((0.5, 0.5))
    assert keys.at(12) == pytest.approx((0.8, 0.2))
    assert keys.at(20) == (0.0, 1.0) and keys.at(500) == (0.0, 1.0)


def test_each_key_is_normalised_before_interpolating():
    # 2,0 and 0,4 are the same blends as 1,0 and 0,1: half way is an equal mix, not 1:2.
    keys = StyleKeys.parse("0:2,0 4:0,4", 2)
    assert keys.at(2) == pytest.approx((0.5, 0.5))
    three = StyleKeys.parse("0:1,1,2 2:0,0,1 4:3,1,0", 3)
    assert three.at(0) == pytest.approx((0.25, 0.25, 0.5))
    assert three.at(1) == pytest.approx((0.125, 0.125, 0.75))
    assert three.at(3) == pytest.approx((0.375, 0.125, 0.5))
    assert sum(three.at(3)) == pytest.approx(1.0)


def test_a_single_key_holds_for_every_frame():
    keys = StyleKeys.parse("  5:1,3  ", 2)
    assert keys.at(0) == keys.at(99) == pytest.approx((0.25, 0.75))


@pytest.mark.parametrize("text, styles, message", [
    ("", 2, "expected keys like"),
    ("0-1,0", 2, "is not FRAME:WEIGHTS"),
    ("0:", 2, "is not FRAME:WEIGHTS"),
    ("a:1,0", 2, "is not an integer"),
    ("-1:1,0", 2, "must be >= 0"),
    ("0:1,x", 2, "must be numbers"),
    ("0:1,0,0", 2, "has 3 weight(s) for 2 style image(s)"),
    ("0:1 10:0,1", 2, "has 1 weight(s) for 2 style image(s)"),
    ("0:1,-1", 2, "must be >= 0"),
    ("0:0,0", 2, "all zero"),
    ("0:nan,1", 2, "finite"),
    ("0:1,0 0:0,1", 2, "must increase"),
    ("10:1,0 5:0,1", 2, "must increase"),
])
def test_bad_keys_are_refused_with_the_reason(text, styles, message):
    with pytest.raises(ValueError, match="--style-keys") as error:
        StyleKeys.parse(text, styles)
    assert message in str(error.value)


# -- Stylizer: per-style Grams kept, blend per call ---------------------------------------------


def test_set_style_weights_reblends_the_cached_style_grams(vgg, painting, scream):
    stylizer = Stylizer(StyleConfig(), [painting, scream], network=vgg)
    per_style = stylizer.style_image_grams(32, 24)
    stylizer.set_style_weights([3.0, 1.0])
    assert stylizer.style_image_grams(32, 24) is per_style  # the network pass is not repeated
    for layer in ("relu1_1", "relu4_1"):
        expected = 0.75 * per_style[0][layer] + 0.25 * per_style[1][layer]
        assert torch.allclose(stylizer.style_grams(32, 24)[layer], expected, rtol=1e-5, atol=1e-6)
    blended = stylizer.style_grams(32, 24)
    stylizer.set_style_weights([3.0, 1.0])
    assert stylizer.style_grams(32, 24) is blended  # same weights: the blend is kept
    stylizer.set_style_weights([0.0, 1.0])
    assert torch.allclose(stylizer.style_grams(32, 24)["relu2_1"], per_style[1]["relu2_1"])


@pytest.mark.parametrize("weights, message", [([1.0], "2 style images but 1"), ([1.0, -1.0], ">= 0"), ([0.0, 0.0], "not all zero")])
def test_set_style_weights_checks_its_input(vgg, painting, scream, weights, message):
    stylizer = Stylizer(StyleConfig(), [painting, scream], network=vgg)
    with pytest.raises(ValueError, match=message):
        stylizer.set_style_weights(weights)


def test_video_stylizer_sets_each_frames_weights_from_its_index(vgg, photo, painting, scream):
    frames = synth.camera_move(photo, (32, 18), 5, shift_per_frame=(1.0, 0.0))
    config = StyleConfig(iters=0, first_iters=0)
    keys = StyleKeys.parse("1:1,0 3:0,1", 2)
    video = VideoStylizer(Stylizer(config, [painting, scream], network=vgg), (32, 18), temporal=False, style_keys=keys)
    seen = []
    for i, image in enumerate(frames):
        video.process(Frame(image, i, 1001 + i))  # the index counts, not the frame number
        seen.append(tuple(video.stylizer.style_weights))
    assert seen == [pytest.approx(w) for w in [(1, 0), (1, 0), (0.5, 0.5), (0, 1), (0, 1)]]
    with pytest.raises(ValueError, match="weigh 2 style image"):
        VideoStylizer(Stylizer(config, [painting], network=vgg), (32, 18), style_keys=keys)


def test_keys_that_hold_one_style_give_exactly_the_single_style_run(vgg, photo, painting, scream):
    """Setting the weights before every frame changes nothing else: keys that keep all the weight on
    Starry Night give the frames of a Starry-Night-only run, bit for bit."""
    frames = synth.camera_move(photo, (32, 18), 3, shift_per_frame=(1.0, 0.5), scale=0.4)
    config = StyleConfig(iters=3, first_iters=5, seed=0)

    def run(styles, keys=None):
        video = VideoStylizer(Stylizer(config, styles, network=vgg), (32, 18), generator_seed=0, style_keys=keys)
        return [video.process(Frame(image, i, i))[0].image for i, image in enumerate(frames)]

    held = run([painting, scream], StyleKeys.parse("0:1,0 2:1,0", 2))
    for a, b in zip(held, run([painting])):
        assert np.array_equal(a, b)


def test_a_clip_morphs_from_one_style_to_the_other_without_extra_flicker(vgg, photo, painting, scream):
    """12 frames at 32x18: the Gram distance to style a rises and to b falls across the clip, and
    the morph flickers no more than 1.2x the single-style runs (24 frames at 64 px: bench/literature.py).

    The faster the morph and the fewer the iterations, the more each frame must change: here 1.07x
    the single-style runs; 9 frames at 5 iterations gave 1.5x (still monotonic)."""
    frames = synth.camera_move(photo, (32, 18), 12, shift_per_frame=(1.0, 0.5), scale=0.4)
    config = StyleConfig(iters=8, first_iters=20, seed=0)

    def run(styles, keys=None):
        video = VideoStylizer(Stylizer(config, styles, network=vgg), (32, 18), generator_seed=0, style_keys=keys)
        return [video.process(Frame(image, i, i))[0].image for i, image in enumerate(frames)]

    morph = run([painting, scream], StyleKeys.parse("0:1,0 11:0,1", 2))
    to_a = np.array([style_distance(vgg, o, painting) for o in morph])
    to_b = np.array([style_distance(vgg, o, scream) for o in morph])
    # Monotonic within noise: thirds in order, and the end well past the start.
    thirds_a = [to_a[i:i + 4].mean() for i in (0, 4, 8)]
    thirds_b = [to_b[i:i + 4].mean() for i in (0, 4, 8)]
    assert thirds_a[0] < thirds_a[1] < thirds_a[2] and to_a[-1] > 2 * to_a[0], to_a
    assert thirds_b[0] > thirds_b[1] > thirds_b[2] and to_b[-1] < to_b[0] / 2, to_b
    # The morph spends half its time nearer each style, and the styles flicker differently (at 64 px
    # Starry Night 0.00120, The Scream 0.00084): compare with the mean of the two single-style runs.
    morph_error = np.mean(warping_errors(morph, frames)[0])
    single_error = np.mean([np.mean(warping_errors(run([style]), frames)[0]) for style in (painting, scream)])
    assert morph_error <= 1.2 * single_error, (morph_error, single_error)


# -- command line --------------------------------------------------------------------------------


@pytest.mark.parametrize("keys, extra, message", [
    ("0:1,0,1", [], "has 3 weight(s) for 2 style image(s)"),
    ("0:1,-1", [], "must be >= 0"),
    ("0:0,0", [], "all zero"),
    ("5:1,0 5:0,1", [], "must increase"),
    ("0:1,0", ["--style-weights", "1", "1"], "give one of them"),
])
def test_bad_style_keys_are_one_line_exit_2(tmp_path, capsys, keys, extra, message):
    style = str(sample_path("starry_night.jpg"))
    argv = ["stylize", str(tmp_path / "in.mp4"), "-s", style, "-s", style, "-o", str(tmp_path / "out.mp4"), "--style-keys", keys, *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not (tmp_path / "out.mp4").exists()


def test_style_keys_end_to_end(tmp_path, photo):
    clip = tmp_path / "pan.mp4"
    synth.write_clip(clip, synth.camera_move(photo, (32, 18), 4, shift_per_frame=(1.0, 0.0)), audio=False)
    out = tmp_path / "morph.mp4"
    styles = ["-s", str(sample_path("starry_night.jpg")), "-s", str(sample_path("the_scream.jpg"))]
    argv = ["stylize", str(clip), *styles, "-o", str(out), "--style-keys", "0:1,0 3:0,1", "--size", "32",
            "--iters", "2", "--first-iters", "3", "--device", "cpu", "--seed", "0"]
    assert main(argv) == 0
    assert out.stat().st_size > 0


def test_resume_with_other_style_keys_is_refused_and_with_the_same_ones_resumes(tmp_path, photo, vgg, monkeypatch, capsys):
    from vidstyle.features import VGG19Features
    from vidstyle.io.image import write_image

    real_load = VGG19Features.load.__func__
    monkeypatch.setattr(VGG19Features, "load", classmethod(lambda cls, path=None: vgg if path is None else real_load(cls, path)))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the CLI leaves torch's thread count alone
    for number, image in enumerate(synth.camera_move(photo, (32, 18), 3, shift_per_frame=(1.0, 0.0)), 1001):
        write_image(tmp_path / f"shot.{number}.png", image)
    out = tmp_path / "out" / "shot.####.png"
    styles = ["-s", str(sample_path("starry_night.jpg")), "-s", str(sample_path("the_scream.jpg"))]

    def render(*blend):
        capsys.readouterr()
        code = main(["stylize", str(tmp_path / "shot.####.png"), *styles, "-o", str(out), *blend, "--size", "32",
                     "--iters", "1", "--first-iters", "2", "--device", "cpu", "--seed", "0"])
        return code, capsys.readouterr().err

    assert render("--style-keys", "0:1,0 2:0,1")[0] == 0
    assert json.loads((tmp_path / "out" / "shot.vidstyle.json").read_text())["style_keys"] == {
        "frames": [0, 2], "weights": [[1.0, 0.0], [0.0, 1.0]]}
    code, err = render("--style-keys", "0:2,0 2:0,5")  # the same keys, spelled otherwise
    assert code == 0 and "3 already done" in err, err
    for blend in (["--style-keys", "0:1,0 1:0,1"], ["--style-keys", "0:1,0 2:1,1"], [], ["--style-weights", "1", "1"]):
        code, err = render(*blend)
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 2 and len(lines) == 1 and lines[0].startswith("vidstyle: error:"), (blend, err)
        assert "records other settings" in lines[0] and "style_keys" in lines[0] and "Traceback" not in err, (blend, err)
