"""Colour management through OpenColorIO (issue 22, vidstyle/io/colour.py): ACEScg EXR plates with
highlights up to 16.0 come back whole, the same photo as an sRGB PNG and as an ACEScg EXR gives the
same working image, $OCIO is honoured, names are checked, and the sidecar refuses other colour
settings. Plates are 48x32 (the tubingen photo converted by OCIO, plus bright spots); the CLI runs
in-process on the CPU with 0 or a few iterations.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import OpenEXR
import PyOpenColorIO as ocio
import pytest
import torch

from vidstyle.cli import main
from vidstyle.frames import resize
from vidstyle.io.colour import (
    BUILTIN_CONFIG, ColourOptions, LoadedConfig, PlateColour, load_config, plate_colour, restore_dynamic_range,
)
from vidstyle.io.image import ImageFormat, RawImage, read_raw, write_image, write_raw
from vidstyle.io.sequence import SequenceReader

from conftest import sample_path

SIZE = (48, 32)
AP1 = (0.713, 0.293, 0.165, 0.830, 0.128, 0.044, 0.32168, 0.33767)
REC709 = (0.64, 0.33, 0.30, 0.60, 0.15, 0.06, 0.3127, 0.3290)
SRGB_TEXTURE = "sRGB Encoded Rec.709 (sRGB)"
HALF = ImageFormat("exr", "float16", 3, True)


@pytest.fixture(autouse=True)
def _builtin_config(monkeypatch):
    # Every test starts from the built-in config, whatever the machine's $OCIO says.
    monkeypatch.delenv("OCIO", raising=False)


def builtin() -> LoadedConfig:
    return LoadedConfig(ocio.Config.CreateFromFile(BUILTIN_CONFIG), BUILTIN_CONFIG)


def convert(values: np.ndarray, source: str, target: str) -> np.ndarray:
    """``values`` converted by OCIO's built-in config (how a studio tool would make the file)."""
    out = np.array(values, dtype=np.float32, copy=True)
    builtin().config.getProcessor(source, target).getDefaultCPUProcessor().applyRGB(out.reshape(-1, 3))
    return out


def small_photo(photo: np.ndarray) -> np.ndarray:
    """The photo at the plate size, quantised to 8 bits (what the PNG of it holds)."""
    return np.round(resize(photo, SIZE) * 255.0).astype(np.float32) / 255.0


@pytest.fixture(scope="module")
def plate(photo) -> np.ndarray:
    """The photo in ACEScg with four lights (two white, two warm) peaking at 16.0, half-rounded:
    float32 (32, 48, 3), what the plate files hold exactly."""
    linear = convert(small_photo(photo), SRGB_TEXTURE, "ACEScg")
    yy, xx = np.mgrid[0:SIZE[1], 0:SIZE[0]].astype(np.float32)
    for (x, y, sigma), colour in zip([(10, 8, 2.5), (36, 10, 3.0), (24, 24, 2.0), (42, 27, 1.5)],
                                     [(1, 1, 1), (1, 0.7, 0.4), (1, 1, 1), (1, 0.55, 0.25)]):
        linear = linear + 16.0 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))[..., None] * np.float32(colour)
    linear = np.minimum(linear, 16.0)
    return linear.astype(np.float16).astype(np.float32)


def write_plates(folder: Path, values: np.ndarray, numbers=(1001, 1002, 1003), chromaticities=AP1) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for number in numbers:
        write_raw(folder / f"shot.{number:04d}.exr", values, None, HALF, chromaticities)
    return folder / "shot.####.exr"


def stylize(source, output, *extra) -> int:
    torch.set_num_threads(1)
    return main(["stylize", str(source), "-o", str(output), "-s", str(sample_path("starry_night.jpg")),
                 "--device", "cpu", "--seed", "0", *map(str, extra)])


UNSTYLISED = ("--size", "48", "--iters", "0", "--first-iters", "0", "--no-temporal")


def relative_error(values: np.ndarray, reference: np.ndarray) -> float:
    return float((np.abs(values - reference) / np.maximum(np.abs(reference), 1e-3)).max())


def one_line(captured: str) -> str:
    lines = [line for line in captured.splitlines() if line.strip()]
    assert len(lines) == 1, captured
    return lines[0]


# --------------------------------------------------------------------------- must-show 1: unstylised

def test_unstylised_acescg_plate_comes_back_with_its_highlights(plate, tmp_path):
    assert plate.max() == 16.0 and (plate > 1.0).mean() > 0.05  # the plate has real highlights
    pattern = write_plates(tmp_path / "plates", plate)
    assert stylize(pattern, tmp_path / "out" / "shot.####.exr", *UNSTYLISED) == 0
    for number in (1001, 1002, 1003):
        path = tmp_path / "out" / f"shot.{number}.exr"
        back = read_raw(path)
        assert back.format == HALF and back.chromaticities == pytest.approx(AP1, abs=1e-6)
        error = relative_error(back.values, plate)
        print(f"frame {number}: largest relative error {error:.2e}, brightest {back.values.max():.3f}")
        assert error <= 1e-3
        assert back.values.max() == 16.0


def test_a_plate_without_chromaticities_is_taken_as_scene_linear(plate, tmp_path):
    # The built-in config's scene_linear role is ACEScg: the same plate, unlabelled, comes back too.
    pattern = write_plates(tmp_path / "plates", plate, numbers=(1,), chromaticities=None)
    assert SequenceReader(pattern, colour=ColourOptions()).colour.colorspace == "ACEScg"
    assert stylize(pattern, tmp_path / "out" / "shot.####.exr", *UNSTYLISED) == 0
    assert relative_error(read_raw(tmp_path / "out" / "shot.0001.exr").values, plate) <= 1e-3


# --------------------------------------------------------------------------- must-show 2: stylised

def test_stylised_plate_keeps_its_highlights_and_no_value_is_nan_or_inf(plate, tmp_path):
    pattern = write_plates(tmp_path / "plates", plate, numbers=(1001, 1002))
    assert stylize(pattern, tmp_path / "out" / "shot.####.exr", "--size", "48", "--iters", "4", "--first-iters", "8") == 0
    colour = PlateColour(builtin(), "ACEScg", "sRGB - Display", "ACES 2.0 - SDR 100 nits (Rec.709)")
    bright = plate > 1.0
    for number in (1001, 1002):
        out = read_raw(tmp_path / "out" / f"shot.{number}.exr").values
        assert np.isfinite(out).all()
        kept = float((out[bright] > 1.0).mean())
        # Stylised for real: through the view, the frame moved well away from the plate's.
        moved = float(np.abs(colour.display_image(out) - colour.display_image(plate)).mean())
        print(f"frame {number}: {kept:.1%} of the {bright.sum()} values above 1.0 stay above 1.0; "
              f"mean change through the view {moved:.3f}")
        assert moved > 0.02
        assert kept >= 0.9


def test_restoration_by_hand():
    # L(x) = x^2 stands in for the inverse view: hand values for each branch of the formula.
    def square(x):
        return x * x

    plate = np.array([[[0.25, 0.25, 0.25], [4.0, 2.0, 1.0], [-0.2, 0.3, 0.005], [0.7071068, 0.1, 0.1]]], np.float32)
    view = np.array([[[0.5, 0.5, 0.5], [0.9, 0.9, 0.9], [0.0, 0.6, 0.1], [0.8, 0.3, 0.3]]], np.float32)
    stylised = np.array([[[0.6, 0.6, 0.6], [0.7, 0.7, 0.7], [0.1, 0.6, 0.0], [0.6, 0.3, 0.3]]], np.float32)
    out = restore_dynamic_range(plate, view, stylised, square)
    # Below 0.5 (t = 0): the plate plus the change in L: 0.25 + 0.36 - 0.25.
    np.testing.assert_allclose(out[0, 0], [0.36] * 3, atol=1e-6)
    # A highlight (t = 1): the plate times (S + 0.1) / (W + 0.1) = 0.8 / 1.0.
    np.testing.assert_allclose(out[0, 1], [3.2, 1.6, 0.8], atol=1e-6)
    # Negative values: kept plus the change (-0.2 + 0.01); a positive channel never comes back
    # negative (0.005 + 0 - 0.01 -> 0).
    np.testing.assert_allclose(out[0, 2], [-0.19, 0.3, 0.0], atol=1e-6)
    # Half-way (brightest 2^-0.5, t = 0.5): 0.7071 + 0.5 * (0.36 - 0.64) + 0.5 * 0.7071 * (0.7 / 0.9 - 1).
    expected = 0.7071068 + 0.5 * (0.36 - 0.64) + 0.5 * 0.7071068 * (0.7 / 0.9 - 1)
    np.testing.assert_allclose(out[0, 3], [expected, 0.1, 0.1], atol=1e-6)


def test_unstylised_is_the_plate_bit_for_bit_and_white_paint_is_no_lamp(plate):
    colour = PlateColour(builtin(), "ACEScg", "sRGB - Display", "ACES 2.0 - SDR 100 nits (Rec.709)")
    image, linear = colour.to_working(plate)
    assert image.min() >= 0 and image.max() <= 1 and np.array_equal(linear, plate)
    assert np.array_equal(colour.restore(linear, image, image), plate)
    # ACES 2.0 SDR: scene 1.0 shows at 0.707; the inverse view makes display white a light of 128,
    # the restoration's L continues with the inverse's slope instead (module docstring).
    assert colour.white == pytest.approx(0.7067, abs=1e-3)
    white = np.ones((1, 1, 3), np.float32)
    assert colour._convert(colour._inverse, white).min() > 100
    assert 2.0 < colour.scene(white).max() < 3.0


# --------------------------------------------------------------------------- must-show 3: PNG vs EXR

def test_png_and_acescg_exr_of_one_photo_give_the_same_working_image(photo, tmp_path):
    srgb = small_photo(photo)
    (tmp_path / "png").mkdir()
    write_image(tmp_path / "png" / "shot.1001.png", srgb)
    write_plates(tmp_path / "exr", convert(srgb, SRGB_TEXTURE, "ACEScg"), numbers=(1001,))

    def working(pattern: str, **options) -> np.ndarray:
        reader = SequenceReader(tmp_path / pattern, colour=ColourOptions(**options))
        return next(iter(reader)).image

    png = working("png/shot.####.png")  # no option: an sRGB file's pixels as stored, as before
    assert np.abs(png - srgb).max() == 0
    exr_untonemapped = working("exr/shot.####.exr", view="Un-tone-mapped")
    exr_aces = working("exr/shot.####.exr")
    png_aces = working("png/shot.####.png", colorspace=SRGB_TEXTURE)  # the PNG colour-managed like the EXR
    plain = np.abs(exr_untonemapped - png).max()
    managed = np.abs(exr_aces - png_aces).max()
    print(f"largest difference: {plain * 255:.2f}/255 (sRGB view), {managed * 255:.2f}/255 (ACES 2.0 view)")
    assert plain <= 2 / 255 and managed <= 2 / 255
    # The primaries matter: the same EXR taken as Rec.709 linear is far off (the test can fail).
    wrong = working("exr/shot.####.exr", colorspace="Linear Rec.709 (sRGB)", view="Un-tone-mapped")
    assert np.abs(wrong - png).max() > 10 / 255


def test_chromaticities_choose_the_input_colour_space(tmp_path):
    values = np.full((4, 4, 3), 0.18, np.float32)
    loaded = builtin()

    def chosen(chromaticities):
        return plate_colour(ColourOptions(), RawImage(values, None, HALF, chromaticities), "plate.exr").colorspace

    assert chosen(AP1) == "ACEScg"
    assert chosen(REC709) == "Linear Rec.709 (sRGB)"
    assert chosen(None) == loaded.config.getColorSpace("scene_linear").getName()
    # An 8-bit file is colour-managed only when asked, and is then sRGB.
    png = RawImage(values, None, ImageFormat("png", "uint8", 3, False))
    assert plate_colour(ColourOptions(), png, "a.png") is None
    assert plate_colour(ColourOptions(view="Un-tone-mapped"), png, "a.png").colorspace == SRGB_TEXTURE
    with pytest.raises(ValueError, match=r"^plate\.exr: its chromaticities \(0\.1, .*match no colour space.*--colorspace$"):
        chosen((0.1, 0.1, 0.2, 0.2, 0.3, 0.3, 0.31, 0.33))


# --------------------------------------------------------------------------- must-show 4: $OCIO, names

STUDIO_CONFIG = """ocio_profile_version: 2

roles:
  scene_linear: studio_linear
  default: studio_linear

displays:
  Studio Monitor:
    - !<View> {name: Gamma, colorspace: studio_gamma}

colorspaces:
  - !<ColorSpace>
    name: studio_linear
    isdata: false

  - !<ColorSpace>
    name: studio_gamma
    isdata: false
    from_scene_reference: !<ExponentTransform> {value: [2.0, 2.0, 2.0, 1.0], direction: inverse}

  - !<ColorSpace>
    name: studio_log
    isdata: false
    from_scene_reference: !<LogTransform> {base: 2}
"""


def test_ocio_environment_config_is_used(tmp_path, monkeypatch, capsys):
    config_path = tmp_path / "studio.ocio"
    config_path.write_text(STUDIO_CONFIG)
    monkeypatch.setenv("OCIO", str(config_path))
    loaded = load_config()
    assert loaded.source == str(config_path) and loaded.config.getColorSpace("studio_log") is not None

    # A plate of this studio: base-2 log of 0.25 .. 16 (-2 .. 4), the view a square root.
    log = np.log2(np.geomspace(0.25, 16.0, SIZE[0] * SIZE[1] * 3)).astype(np.float16).astype(np.float32)
    log = log.reshape(SIZE[1], SIZE[0], 3)  # what the half file holds
    linear = 2.0 ** log
    pattern = write_plates(tmp_path / "plates", log, numbers=(1,), chromaticities=None)
    reader = SequenceReader(pattern, colour=ColourOptions(colorspace="studio_log"))
    assert (reader.colour.display, reader.colour.view, reader.colour.scene_linear) == ("Studio Monitor", "Gamma", "studio_linear")
    frame = next(iter(reader))
    np.testing.assert_allclose(frame.plate.linear, linear, rtol=1e-4)
    np.testing.assert_allclose(frame.image, np.clip(np.sqrt(linear), 0, 1), rtol=1e-4)

    out = tmp_path / "out" / "shot.####.exr"
    assert stylize(pattern, out, "--colorspace", "studio_log", *UNSTYLISED) == 0
    # log -> linear -> log in float32, then half again: at most one half step off (1/256 of a stop at 4).
    assert np.abs(read_raw(tmp_path / "out" / "shot.0001.exr").values - log).max() <= float(np.spacing(np.float16(4.0)))
    record = json.loads((tmp_path / "out" / "shot.vidstyle.json").read_text())["colour"]
    assert record["config"] == str(config_path) and record["colorspace"] == "studio_log"

    # The built-in config's names mean nothing here: refused, in one line naming this config's closest.
    capsys.readouterr()
    assert stylize(pattern, tmp_path / "other" / "shot.####.exr", "--colorspace", "studio_lgo", *UNSTYLISED) == 2
    line = one_line(capsys.readouterr().err)
    assert "'studio_lgo'" in line and "closest: 'studio_log'" in line


def test_unknown_names_are_refused_in_one_line_with_the_closest(plate, tmp_path, capsys):
    pattern = write_plates(tmp_path / "plates", plate, numbers=(1,))
    capsys.readouterr()
    assert stylize(pattern, tmp_path / "out" / "shot.####.exr", "--colorspace", "acesgc", *UNSTYLISED) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith("vidstyle: error: --colorspace: no colour space 'acesgc'") and "'ACEScg'" in line
    assert stylize(pattern, tmp_path / "out" / "shot.####.exr", "--view", "ACES 2.0 SDR", *UNSTYLISED) == 2
    assert "closest: 'ACES 2.0 - SDR 100 nits (Rec.709)'" in one_line(capsys.readouterr().err)
    assert main(["image", str(tmp_path / "plates" / "shot.0001.exr"), "-o", str(tmp_path / "x.exr"),
                 "-s", str(sample_path("starry_night.jpg")), "--output-colorspace", "Linear Rec709"]) == 2
    assert "'Linear Rec.709 (sRGB)'" in one_line(capsys.readouterr().err)
    assert not (tmp_path / "out").exists() and not (tmp_path / "x.exr").exists()


# --------------------------------------------------------------------------- sidecar and resume

def test_a_rerun_with_other_colour_settings_is_refused(plate, tmp_path, monkeypatch, capsys):
    pattern = write_plates(tmp_path / "plates", plate, numbers=(1, 2))
    out = tmp_path / "out" / "shot.####.exr"
    assert stylize(pattern, out, *UNSTYLISED, "--frames", "1") == 0
    capsys.readouterr()
    assert stylize(pattern, out, *UNSTYLISED, "--frames", "1-2", "--view", "Un-tone-mapped") == 2
    assert "config.view: None -> 'Un-tone-mapped'" in one_line(capsys.readouterr().err)
    # Another config under $OCIO: refused by what it resolves to, though no option changed.
    (tmp_path / "studio.ocio").write_text(STUDIO_CONFIG.replace("studio_linear", "ACEScg"))
    monkeypatch.setenv("OCIO", str(tmp_path / "studio.ocio"))
    assert stylize(pattern, out, *UNSTYLISED, "--frames", "1-2") == 2
    assert "colour.config" in one_line(capsys.readouterr().err)
    monkeypatch.delenv("OCIO")
    assert stylize(pattern, out, *UNSTYLISED, "--frames", "1-2") == 0  # the same settings resume
    assert relative_error(read_raw(tmp_path / "out" / "shot.0002.exr").values, plate) <= 1e-3


# --------------------------------------------------------------------------- other outputs

def test_png_output_of_an_exr_plate_is_the_view(plate, tmp_path):
    pattern = write_plates(tmp_path / "plates", plate, numbers=(1,))
    assert stylize(pattern, tmp_path / "out" / "shot.####.png", *UNSTYLISED) == 0
    colour = PlateColour(builtin(), "ACEScg", "sRGB - Display", "ACES 2.0 - SDR 100 nits (Rec.709)")
    png = read_raw(tmp_path / "out" / "shot.0001.png").values
    assert np.abs(png - colour.display_image(plate)).max() <= 0.5 / 255 + 1e-6


def test_still_image_command_keeps_the_highlights(plate, tmp_path):
    write_raw(tmp_path / "plate.exr", plate, None, HALF, AP1)
    assert main(["image", str(tmp_path / "plate.exr"), "-o", str(tmp_path / "out.exr"), "-s", str(sample_path("starry_night.jpg")),
                 "--size", "48", "--iters", "0", "--device", "cpu"]) == 0
    back = read_raw(tmp_path / "out.exr")
    assert relative_error(back.values, plate) <= 1e-3 and back.chromaticities == pytest.approx(AP1, abs=1e-6)
    with OpenEXR.File(str(tmp_path / "out.exr"), separate_channels=True) as exr:
        assert all(ch.pixels.dtype == np.float16 for ch in exr.channels().values())


def test_a_multi_pass_render_of_a_plate_comes_back_with_its_highlights(plate, tmp_path):
    # --passes reads the plate afresh in each sweep and writes the last pass through the same sink:
    # unstylised it is still the plate exactly; stylised, the lights stay lights.
    pattern = write_plates(tmp_path / "plates", plate)
    assert stylize(pattern, tmp_path / "same" / "shot.####.exr", "--size", "48", "--iters", "0", "--first-iters", "0",
                   "--passes", "2", "--pass-iters", "0") == 0
    assert relative_error(read_raw(tmp_path / "same" / "shot.1002.exr").values, plate) <= 1e-3
    assert stylize(pattern, tmp_path / "painted" / "shot.####.exr", "--size", "48", "--iters", "4", "--first-iters", "8",
                   "--passes", "3") == 0
    out = read_raw(tmp_path / "painted" / "shot.1002.exr").values
    assert np.isfinite(out).all() and float((out[plate > 1.0] > 1.0).mean()) >= 0.9
    assert float(np.abs(out - plate).mean()) > 0.01  # it was stylised
