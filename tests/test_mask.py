"""Mattes (``--mask``): outside the matte the output is the input, soft edges blend, the temporal
coherence inside holds; matte sources (still, video, sequence, alpha) and their errors."""

from fractions import Fraction

import cv2
import numpy as np
import pytest

from vidstyle import synth
from vidstyle.cli import main
from vidstyle.config import StyleConfig
from vidstyle.frames import Frame, resize
from vidstyle.io.image import ImageFormat, write_image
from vidstyle.io.mask import MaskError, open_mask
from vidstyle.io.media import open_source
from vidstyle.io.video import VideoReader
from vidstyle.metrics import warping_errors
from vidstyle.optimize import Stylizer
from vidstyle.temporal import HistoryEntry, VideoStylizer

from conftest import sample_path

SIZE = (32, 18)
FAST = ["--iters", "3", "--first-iters", "6", "--device", "cpu", "--seed", "0"]


@pytest.fixture(scope="module")
def frames(photo):
    return synth.camera_move(photo, SIZE, 6, shift_per_frame=(1.0, 0.5), scale=0.4)


def half_matte(width=SIZE[0], height=SIZE[1]):
    matte = np.zeros((height, width), np.float32)
    matte[:, : width // 2] = 1.0
    return matte


def run(vgg, painting, frames, masks=None, temporal=True):
    config = StyleConfig(iters=4, first_iters=12, seed=0)
    video = VideoStylizer(Stylizer(config, [painting], network=vgg), SIZE, temporal=temporal, generator_seed=0)
    outputs = []
    for i, image in enumerate(frames):
        mask = masks(i) if callable(masks) else masks
        outputs.append(video.process(Frame(image, i, i), mask=mask)[0].image)
    return outputs, video


@pytest.fixture(scope="module")
def plain_and_masked(vgg, painting, frames):
    plain, _ = run(vgg, painting, frames)
    masked, video = run(vgg, painting, frames, half_matte())
    return plain, masked, video.history


# -- the pipeline --------------------------------------------------------------------------------


def test_outside_the_matte_the_output_is_the_input(frames, plain_and_masked):
    _, masked, _ = plain_and_masked
    outside = half_matte() == 0
    for output, source in zip(masked, frames):
        assert np.array_equal(output[outside], source[outside])
    inside = ~outside
    assert all(np.abs(o - s)[inside].mean() > 0.02 for o, s in zip(masked, frames))  # and it is stylised inside


def test_temporal_coherence_inside_the_matte_holds(frames, plain_and_masked):
    """A hard matte does not disturb the optimisation: inside, the frames match a run without one,
    so the warping error measured inside is the same (not merely within 1.2x)."""
    plain, masked, _ = plain_and_masked
    inside = half_matte() == 1
    for p, m in zip(plain, masked):
        assert np.allclose(p[inside], m[inside], atol=1e-5)
    region = np.zeros(SIZE[::-1], np.float32)
    region[:, : SIZE[0] // 2 - 3] = 1.0  # away from the edge by more than a frame's motion
    masked_error = np.mean(warping_errors(masked, frames, region=region)[0])
    plain_error = np.mean(warping_errors(plain, frames, region=region)[0])
    assert masked_error <= 1.2 * plain_error, (masked_error, plain_error)


def test_soft_edges_blend_stylised_and_input(vgg, painting, frames, plain_and_masked):
    plain, _, _ = plain_and_masked
    ramp = np.tile(np.linspace(0.0, 1.0, SIZE[0], dtype=np.float32), (SIZE[1], 1))
    first, _ = run(vgg, painting, frames[:1], ramp)
    assert np.allclose(first[0], ramp[..., None] * plain[0] + (1 - ramp[..., None]) * frames[0], atol=1e-5)


def test_the_history_keeps_the_composite_and_the_unshown_stylisation(plain_and_masked):
    plain, masked, history = plain_and_masked
    entry = history[-1]
    assert np.array_equal(entry.output, masked[-1])
    assert np.allclose(entry.target, plain[-1], atol=1e-5)  # hard matte: the stylised frame everywhere


def test_a_restored_history_without_its_target_trusts_only_the_warped_matte(vgg, painting, frames, plain_and_masked):
    _, masked, _ = plain_and_masked
    config = StyleConfig(iters=4, first_iters=12, seed=0)
    video = VideoStylizer(Stylizer(config, [painting], network=vgg), SIZE, generator_seed=0)
    video.restore([HistoryEntry(0, resize(frames[0], SIZE), masked[0])])
    output, report = video.process(Frame(frames[1], 1, 1), mask=half_matte())
    outside = half_matte() == 0
    assert np.array_equal(output.image[outside], frames[1][outside]) and not report.fresh_start


def test_a_matte_of_another_size_is_resized_and_a_bad_one_refused(vgg, painting, frames):
    big = half_matte(64, 36)
    (output,), _ = run(vgg, painting, frames[:1], big, temporal=False)
    assert np.array_equal(output[:, -4:], frames[0][:, -4:])
    with pytest.raises(ValueError, match="matte of shape"):
        run(vgg, painting, frames[:1], np.ones((18, 32, 3), np.float32))


def test_content_weight_zero_animates_a_texture_inside_the_matte(vgg, painting, frames):
    config = StyleConfig(iters=0, first_iters=0, content_weight=0.0, seed=0)
    video = VideoStylizer(Stylizer(config, [painting], network=vgg), SIZE, generator_seed=0)
    output, report = video.process(Frame(frames[0], 0, 0), mask=half_matte())
    inside = half_matte() == 1
    # No iterations: the first frame is its start, noise (mid-grey, NOISE_STD) inside, the input outside.
    assert report.fresh_start and np.abs(output.image[inside] - 0.5).max() < 0.06
    assert output.image[inside].std() > 0.002
    assert np.array_equal(output.image[~inside], frames[0][~inside])


# -- matte sources -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clip(tmp_path_factory, frames):
    path = tmp_path_factory.mktemp("mask") / "pan.mp4"
    return synth.write_clip(path, frames, fps=Fraction(24), audio=False)


def test_still_matte_applies_to_every_frame(tmp_path, clip):
    path = tmp_path / "matte.png"
    write_image(path, np.repeat(half_matte(64, 36)[..., None], 3, axis=2))
    masks = open_mask(str(path), open_source(clip), (16, 9))
    first = masks.for_frame(Frame(np.zeros((18, 32, 3), np.float32), 0, 0))
    assert first.shape == (9, 16) and first.dtype == np.float32
    assert first[:, :8].min() == 1.0 and first[:, 8:].max() == 0.0
    assert masks.for_frame(Frame(np.zeros((18, 32, 3), np.float32), 5, 5)) is first


def test_video_matte_goes_frame_by_frame(tmp_path, clip, frames):
    mattes = [np.full((18, 32, 3), value, np.float32) for value in (0.0, 1.0, 0.0, 1.0, 1.0, 0.0)]
    path = synth.write_clip(tmp_path / "matte.mp4", mattes, fps=Fraction(24), audio=False, crf=0)
    masks = open_mask(str(path), open_source(clip), SIZE)
    got = [float(masks.for_frame(Frame(f, i, i)).mean()) for i, f in enumerate(frames) if i != 2]  # a skipped frame
    assert got == pytest.approx([0.0, 1.0, 1.0, 1.0, 0.0], abs=0.02)


def test_sequence_matte_matches_frame_numbers(tmp_path):
    plates, mattes = tmp_path / "plate.####.png", tmp_path / "matte.####.png"
    for number in range(1001, 1005):
        write_image(str(plates).replace("####", str(number)), np.full((18, 32, 3), 0.5, np.float32))
    for number in range(1000, 1006):  # the matte covers more frames; numbers decide
        write_image(str(mattes).replace("####", str(number)), np.full((18, 32, 3), (number - 1000) / 10, np.float32))
    source = open_source(str(plates), "1002-1004")
    masks = open_mask(str(mattes), source, SIZE)
    values = [float(masks.for_frame(frame).mean()) for frame in source.frames]
    assert values == pytest.approx([0.2, 0.3, 0.4], abs=0.003)


def test_alpha_matte_uses_the_inputs_alpha(tmp_path):
    pattern = tmp_path / "rgba.####.png"
    alpha = np.zeros((18, 32), np.float32)
    alpha[:, 16:] = 1.0
    for number in (1, 2):
        write_image(str(pattern).replace("####", f"{number:04d}"), np.full((18, 32, 3), 0.5, np.float32), alpha)
    source = open_source(str(pattern))
    masks = open_mask("alpha", source, (16, 9))
    matte = masks.for_frame(next(iter(source.frames)))
    assert matte.shape == (9, 16) and matte[:, 8:].min() == 1.0 and matte[:, :8].max() == 0.0


@pytest.mark.parametrize("make, message", [
    (lambda d, clip: "alpha", "has no alpha channel"),
    (lambda d, clip: str(d / "missing.png"), "no such file"),
    (lambda d, clip: write_image(d / "square.png", np.ones((32, 32, 3), np.float32)) and str(d / "square.png"), "aspect ratio"),
    (lambda d, clip: str(synth.write_clip(d / "short.mp4", [np.ones((18, 32, 3), np.float32)] * 3, audio=False)), "has 3 frames but the input has 6"),
    (lambda d, clip: str(d / "nothing.####.png"), "matches no files"),
])
def test_bad_mattes_are_refused(tmp_path, clip, make, message):
    with pytest.raises(MaskError, match=message):
        open_mask(make(tmp_path, clip), open_source(clip), SIZE)


# -- command line --------------------------------------------------------------------------------


def test_cli_half_matte_keeps_the_input_outside(tmp_path, clip):
    matte = tmp_path / "half.png"
    write_image(matte, np.repeat(half_matte()[..., None], 3, axis=2))
    out = tmp_path / "out.mp4"
    argv = ["stylize", str(clip), "-s", str(sample_path("starry_night.jpg")), "-o", str(out), "--mask", str(matte), "--size", "32", *FAST]
    assert main(argv) == 0
    with VideoReader(clip) as a, VideoReader(out) as b:
        pairs = [(x.image, y.image) for x, y in zip(a, b, strict=True)]
    # Away from the edge (x264 codes chroma in 2x2 blocks and 4x4+ transforms): encoding noise only.
    outside = np.zeros(SIZE[::-1], bool)
    outside[:, SIZE[0] // 2 + 4:] = True
    for source, output in pairs:
        assert np.abs(output - source)[outside].mean() < 0.02
        assert np.abs(output - source)[~outside][:, : SIZE[0] // 2 - 4].mean() > 0.03


@pytest.mark.parametrize("mask, message", [
    ("alpha", "has no alpha channel"),
    ("missing.png", "no such file"),
])
def test_cli_bad_matte_is_one_line_exit_2(tmp_path, clip, capsys, mask, message):
    out = tmp_path / "out.mp4"
    argv = ["stylize", str(clip), "-s", str(sample_path("starry_night.jpg")), "-o", str(out), "--mask", mask, *FAST]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not out.exists()


# -- sequence renders: the plate's own pixels, a resume with another matte ------------------------


@pytest.fixture
def shared_network(vgg, monkeypatch):
    """The CLI's renders use the session's network (loading the weights dominates a tiny render),
    and leave torch's thread count alone (OMP_NUM_THREADS)."""
    from vidstyle.features import VGG19Features

    real_load = VGG19Features.load.__func__
    monkeypatch.setattr(VGG19Features, "load", classmethod(lambda cls, path=None: vgg if path is None else real_load(cls, path)))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


def write_plates(folder, photo, size, count, fmt=None):
    """``count`` frames of a pan, shot.1001.png …, at ``size`` (width, height); returns the pattern."""
    images = synth.camera_move(photo, size, count, shift_per_frame=(1.0, 0.5), scale=0.4)
    for number, image in enumerate(images, 1001):
        write_image(folder / f"shot.{number}.png", image, None, fmt)
    return str(folder / "shot.####.png")


def write_matte(path, matte):
    write_image(path, np.repeat(matte[..., None], 3, axis=2))
    return str(path)


@pytest.mark.parametrize("fmt, tolerance", [(None, 0), (ImageFormat("png", "uint16", 3, False), 1)], ids=["8-bit", "16-bit"])
def test_a_sequence_keeps_the_plates_own_pixels_outside_the_matte(tmp_path, photo, shared_network, fmt, tolerance):
    """A 64x48 plate rendered at --size 32: outside the matte the written frames are the plate's own
    pixels (the composite is made at the plate's size), not the plate resized down and up."""
    plates = write_plates(tmp_path, photo, (64, 48), 2, fmt)
    matte = write_matte(tmp_path / "half.png", half_matte(64, 48))
    out = tmp_path / "out" / "shot.####.png"
    assert main(["stylize", plates, "-s", str(sample_path("starry_night.jpg")), "-o", str(out), "--mask", matte,
                 "--size", "32", "--iters", "1", "--first-iters", "2", "--device", "cpu", "--seed", "0"]) == 0
    for number in (1001, 1002):
        plate = cv2.imread(str(tmp_path / f"shot.{number}.png"), cv2.IMREAD_UNCHANGED).astype(np.int64)
        output = cv2.imread(str(out).replace("####", str(number)), cv2.IMREAD_UNCHANGED).astype(np.int64)
        assert output.shape == plate.shape == (48, 64, 3) and output.dtype == plate.dtype
        assert np.abs(output[:, 32:] - plate[:, 32:]).max() <= tolerance
        scale = 255 if fmt is None else 65535
        assert np.abs(output[:, :28] - plate[:, :28]).mean() > 0.03 * scale  # stylised inside


def test_resume_with_another_matte_is_refused_and_with_the_same_one_resumes(tmp_path, photo, shared_network, capsys):
    plates = write_plates(tmp_path, photo, SIZE, 2)
    matte = write_matte(tmp_path / "matte.png", half_matte())
    out = tmp_path / "out" / "shot.####.png"

    def render(*mask):
        capsys.readouterr()
        code = main(["stylize", plates, "-s", str(sample_path("starry_night.jpg")), "-o", str(out), *mask,
                     "--size", "32", "--iters", "1", "--first-iters", "2", "--device", "cpu", "--seed", "0"])
        return code, capsys.readouterr().err

    assert render("--mask", matte)[0] == 0
    code, err = render("--mask", matte)
    assert code == 0 and "2 already done" in err, err

    def refused(*mask):
        code, err = render(*mask)
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 2 and len(lines) == 1 and lines[0].startswith("vidstyle: error:"), err
        assert "records other settings" in lines[0] and "mask" in lines[0] and "Traceback" not in err, err

    refused()  # no matte now
    other = half_matte()[:, ::-1].copy()
    write_matte(tmp_path / "matte.png", other)  # the same name, another matte
    refused("--mask", matte)
    for number in (1001, 1002):
        write_matte(tmp_path / f"roto.{number}.png", half_matte())
    refused("--mask", str(tmp_path / "roto.####.png"))
    write_matte(tmp_path / "matte.png", half_matte())  # the first matte again: resumes
    code, err = render("--mask", matte)
    assert code == 0 and "2 already done" in err, err
