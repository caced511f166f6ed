"""Still-image I/O: transfer functions, every format's round trip, errors, atomic writes.

Files are checked with raw decoders (cv2 with IMREAD_UNCHANGED, OpenEXR) as well as through
read_image, so a bug that is symmetric in read and write (say, both forgetting BGR) still fails.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

import cv2
import numpy as np
import OpenEXR
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vidstyle.io.image import (
    ImageError,
    ImageFormat,
    default_format,
    format_for,
    linear_to_srgb,
    read_image,
    srgb_to_linear,
    temporary_path,
    temporary_target,
    write_image,
)

H, W = 12, 16


def _raw(path: Path) -> np.ndarray:
    """The file's samples exactly as stored (OpenCV order: BGR(A))."""
    pixels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert pixels is not None, path
    return pixels


def _gradient(h: int = H, w: int = W) -> np.ndarray:
    """Smooth float32 (h, w, 3) RGB in [0, 1]: distinct ramps per channel (JPEG-friendly)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.stack([x / (w - 1), y / (h - 1), 1.0 - x / (w - 1) * 0.5], axis=-1).astype(np.float32)


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --------------------------------------------------------------------------- transfer functions

def test_srgb_to_linear_known_values():
    # ((0.5 + 0.055) / 1.055) ** 2.4 = 0.214041...; 0.04045 / 12.92 = 0.0031308 (the two branches meet)
    got = srgb_to_linear(np.array([0.0, 0.04045, 0.5, 1.0], dtype=np.float32))
    np.testing.assert_allclose(got, [0.0, 0.0031308, 0.2140412, 1.0], rtol=1e-5, atol=1e-7)
    assert got.dtype == np.float32


def test_linear_to_srgb_known_values():
    # 0.18 (mid grey) -> 1.055 * 0.18 ** (1 / 2.4) - 0.055 = 0.461356; 0.001 is on the linear segment
    got = linear_to_srgb(np.array([0.0, 0.001, 0.0031308, 0.18, 1.0], dtype=np.float32))
    np.testing.assert_allclose(got, [0.0, 0.01292, 0.04045, 0.4613561, 1.0], rtol=1e-5, atol=1e-7)
    assert got.dtype == np.float32


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=0.0, max_value=1.0, width=32))
def test_transfer_functions_are_inverse(x):
    v = np.float32(x)
    assert math.isclose(float(linear_to_srgb(srgb_to_linear(v))), float(v), abs_tol=2e-6)
    assert math.isclose(float(srgb_to_linear(linear_to_srgb(v))), float(v), abs_tol=2e-6)


def test_srgb_to_linear_is_monotonic_across_the_knee():
    x = np.linspace(0.0, 1.0, 10001, dtype=np.float32)
    assert np.all(np.diff(srgb_to_linear(x)) >= 0)


# --------------------------------------------------------------------------- PNG

@pytest.mark.parametrize("with_alpha", [False, True])
def test_png8_round_trip_is_exact(tmp_path, with_alpha):
    rng = np.random.default_rng(1)
    raw_rgb = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    raw_alpha = rng.integers(0, 256, (H, W), dtype=np.uint8)
    src = tmp_path / "src.png"
    stored = np.dstack([raw_rgb[..., ::-1], raw_alpha]) if with_alpha else raw_rgb[..., ::-1]
    cv2.imwrite(str(src), stored)

    rgb, alpha, fmt = read_image(src)
    assert fmt == ImageFormat("png", "uint8", 4 if with_alpha else 3, False)
    assert rgb.dtype == np.float32 and rgb.shape == (H, W, 3) and rgb.flags.c_contiguous
    np.testing.assert_array_equal(np.round(rgb * 255).astype(np.uint8), raw_rgb)
    if with_alpha:
        assert alpha.dtype == np.float32 and alpha.shape == (H, W)
        np.testing.assert_array_equal(np.round(alpha * 255).astype(np.uint8), raw_alpha)
    else:
        assert alpha is None

    out = tmp_path / "out.png"
    write_image(out, rgb, alpha, fmt)
    np.testing.assert_array_equal(_raw(out), stored)


@pytest.mark.parametrize("with_alpha", [False, True])
def test_png16_round_trip_keeps_every_integer(tmp_path, with_alpha):
    # Random 16-bit values (almost none are multiples of 257): an 8-bit detour would show.
    rng = np.random.default_rng(2)
    stored = rng.integers(0, 65536, (H, W, 4 if with_alpha else 3), dtype=np.uint16)
    src = tmp_path / "src.png"
    cv2.imwrite(str(src), stored)

    rgb, alpha, fmt = read_image(src)
    assert fmt == ImageFormat("png", "uint16", 4 if with_alpha else 3, False)
    assert (alpha is not None) == with_alpha
    out = tmp_path / "out.png"
    write_image(out, rgb, alpha, fmt)
    back = _raw(out)
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, stored)


def test_channel_order_is_rgb(tmp_path):
    # A pure red pixel stored the OpenCV way (BGR) must come out as R = 1.
    stored = np.zeros((2, 2, 3), np.uint8)
    stored[..., 2] = 255
    cv2.imwrite(str(tmp_path / "red.png"), stored)
    rgb, _, _ = read_image(tmp_path / "red.png")
    np.testing.assert_array_equal(rgb[0, 0], [1.0, 0.0, 0.0])

    write_image(tmp_path / "out.png", rgb)
    np.testing.assert_array_equal(_raw(tmp_path / "out.png"), stored)


def test_greyscale_becomes_three_equal_channels(tmp_path):
    grey = np.arange(H * W, dtype=np.uint16).reshape(H, W) * 100
    cv2.imwrite(str(tmp_path / "g.png"), grey)
    rgb, alpha, fmt = read_image(tmp_path / "g.png")
    assert rgb.shape == (H, W, 3) and alpha is None
    assert fmt == ImageFormat("png", "uint16", 3, False)
    for c in range(3):
        np.testing.assert_allclose(rgb[..., c], grey / 65535.0, atol=1e-7)


def test_uint_encoding_rounds_to_nearest(tmp_path):
    # 0.5 * 65535 = 32767.5 -> 32768; 0.5 * 255 = 127.5 -> 128; out-of-range values are clipped.
    rgb = np.array([[[0.5, 1.5, -0.25]]], dtype=np.float32)
    write_image(tmp_path / "a.png", rgb, fmt=ImageFormat("png", "uint16", 3, False))
    write_image(tmp_path / "b.png", rgb)
    np.testing.assert_array_equal(_raw(tmp_path / "a.png")[0, 0], [0, 65535, 32768])  # BGR
    np.testing.assert_array_equal(_raw(tmp_path / "b.png")[0, 0], [0, 255, 128])


# --------------------------------------------------------------------------- TIFF, JPEG

@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32"])
def test_tiff_round_trip(tmp_path, dtype):
    rng = np.random.default_rng(3)
    if dtype == "float32":
        stored = rng.random((H, W, 4), dtype=np.float32)
    else:
        top = np.iinfo(dtype).max
        stored = rng.integers(0, top + 1, (H, W, 4), dtype=dtype)
    src = tmp_path / "src.tif"
    cv2.imwrite(str(src), stored)

    rgb, alpha, fmt = read_image(src)
    assert fmt == ImageFormat("tif", dtype, 4, False)
    out = tmp_path / "out.tiff"  # the .tiff spelling is the same format
    write_image(out, rgb, alpha, fmt)
    back = _raw(out)
    assert back.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(back, stored)


def test_jpeg_round_trip_is_close(tmp_path):
    rgb = _gradient()
    write_image(tmp_path / "a.jpg", rgb)
    back, alpha, fmt = read_image(tmp_path / "a.jpg")
    assert fmt == ImageFormat("jpg", "uint8", 3, False) and alpha is None
    assert np.abs(back - rgb).mean() < 0.01
    assert np.abs(back - rgb).max() < 0.06


def test_jpeg_drops_alpha_with_a_warning(tmp_path):
    with pytest.warns(UserWarning, match="alpha dropped"):
        write_image(tmp_path / "a.jpeg", _gradient(), np.ones((H, W), np.float32))
    assert _raw(tmp_path / "a.jpeg").shape == (H, W, 3)


# --------------------------------------------------------------------------- EXR

def _write_raw_exr(path: Path, planes: dict[str, np.ndarray]) -> None:
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    with OpenEXR.File(header, planes) as f:
        f.write(str(path))


def _read_raw_exr(path: Path) -> dict[str, np.ndarray]:
    with OpenEXR.File(str(path), separate_channels=True) as f:
        return {name: ch.pixels.copy() for name, ch in f.channels().items()}


def test_exr_is_read_as_linear_and_encoded_to_srgb(tmp_path):
    # Linear 0.2140412 is sRGB 0.5 (hand value above); 4.0 is a highlight, clipped to 1; negatives to 0.
    row = np.array([[0.0, 0.2140412, 1.0, 4.0, -0.5]], dtype=np.float32)
    _write_raw_exr(tmp_path / "lin.exr", {"R": row, "G": row, "B": row})
    rgb, alpha, fmt = read_image(tmp_path / "lin.exr")
    assert fmt == ImageFormat("exr", "float32", 3, True) and alpha is None
    np.testing.assert_allclose(rgb[0, :, 0], [0.0, 0.5, 1.0, 1.0, 0.0], atol=1e-6)


@pytest.mark.parametrize("dtype,np_dtype", [("float16", np.float16), ("float32", np.float32)])
def test_exr_round_trip(tmp_path, dtype, np_dtype):
    rgb = np.random.default_rng(4).random((H, W, 3), dtype=np.float32)
    # Alpha with values half cannot represent exactly is fine for float; for half use representable ones.
    alpha = np.random.default_rng(5).random((H, W), dtype=np.float32).astype(np_dtype).astype(np.float32)
    path = tmp_path / "a.exr"
    write_image(path, rgb, alpha, ImageFormat("exr", dtype, 4, True))

    planes = _read_raw_exr(path)
    assert sorted(planes) == ["A", "B", "G", "R"]
    assert all(p.dtype == np_dtype for p in planes.values())
    # What is stored is linear light: the file holds srgb_to_linear of what we gave it.
    np.testing.assert_allclose(planes["R"], srgb_to_linear(rgb[..., 0]), rtol=1e-3, atol=1e-6)
    np.testing.assert_array_equal(planes["A"].astype(np.float32), alpha)

    back, back_alpha, fmt = read_image(path)
    assert fmt == ImageFormat("exr", dtype, 4, True)
    # half keeps 11 significant bits; through the sRGB curve that is < 1e-3 on [0, 1]
    np.testing.assert_allclose(back, rgb, atol=1e-3 if dtype == "float16" else 1e-6)
    np.testing.assert_array_equal(back_alpha, alpha)

    # Writing what we read back in the same format reproduces the alpha channel bit for bit.
    write_image(tmp_path / "b.exr", back, back_alpha, fmt)
    np.testing.assert_array_equal(_read_raw_exr(tmp_path / "b.exr")["A"], planes["A"])


def test_exr_default_is_half_and_greyscale_y_is_read(tmp_path):
    write_image(tmp_path / "a.exr", _gradient())
    assert all(p.dtype == np.float16 for p in _read_raw_exr(tmp_path / "a.exr").values())

    y = np.full((3, 4), 0.2140412, np.float16)
    _write_raw_exr(tmp_path / "y.exr", {"Y": y})
    rgb, _, fmt = read_image(tmp_path / "y.exr")
    assert rgb.shape == (3, 4, 3) and fmt.dtype == "float16"
    np.testing.assert_allclose(rgb, 0.5, atol=1e-3)


def test_exr_without_colour_channels_is_rejected(tmp_path):
    _write_raw_exr(tmp_path / "z.exr", {"Z": np.zeros((3, 4), np.float32)})
    with pytest.raises(ImageError, match=r"z\.exr.*no R, G, B.*found: Z"):
        read_image(tmp_path / "z.exr")


# --------------------------------------------------------------------------- formats

def test_default_formats_per_extension():
    assert default_format("a.png") == ImageFormat("png", "uint8", 3, False)
    assert default_format("a.TIFF") == ImageFormat("tif", "uint16", 3, False)
    assert default_format("a.jpeg") == ImageFormat("jpg", "uint8", 3, False)
    assert default_format("a.exr") == ImageFormat("exr", "float16", 3, True)


def test_format_for_keeps_depth_only_for_the_same_extension():
    png16 = ImageFormat("png", "uint16", 4, False)
    assert format_for("out.png", like=png16) == png16
    assert format_for("out.exr", like=png16) == ImageFormat("exr", "float16", 3, True)
    tiff32 = ImageFormat("tif", "float32", 3, False)
    assert format_for("out.tiff", like=tiff32) == tiff32


def test_temporary_names_round_trip():
    tmp = temporary_path("/x/shot.1001.png")
    assert tmp.parent == Path("/x") and tmp.name.startswith(".shot.1001.png.tmp-") and tmp.suffix == ".png"
    assert temporary_target(tmp) == Path("/x/shot.1001.png")
    assert temporary_target("/x/shot.1001.png") is None
    assert temporary_target("/x/.shot.1001.png.tmp-abc.png") is None


# --------------------------------------------------------------------------- errors

def _one_line(err: pytest.ExceptionInfo) -> str:
    message = str(err.value)
    assert "\n" not in message
    return message


def test_missing_file(tmp_path):
    with pytest.raises(ImageError) as err:
        read_image(tmp_path / "nope.png")
    assert "nope.png" in _one_line(err) and "no such file" in str(err.value)


def test_empty_file(tmp_path):
    (tmp_path / "empty.exr").write_bytes(b"")
    with pytest.raises(ImageError) as err:
        read_image(tmp_path / "empty.exr")
    assert "empty.exr" in _one_line(err) and "empty" in str(err.value)


@pytest.mark.parametrize("name", ["bad.png", "bad.jpg", "bad.tif", "bad.exr"])
def test_corrupt_file(tmp_path, name):
    (tmp_path / name).write_bytes(b"not an image at all" * 8)
    with pytest.raises(ImageError) as err:
        read_image(tmp_path / name)
    assert _one_line(err).startswith("cannot decode ") and name in str(err.value)


def test_truncated_png(tmp_path):
    write_image(tmp_path / "a.png", _gradient())
    data = (tmp_path / "a.png").read_bytes()
    (tmp_path / "a.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match=r"cannot decode .*a\.png"):
        read_image(tmp_path / "a.png")


def test_unsupported_extension(tmp_path):
    (tmp_path / "a.xyz").write_bytes(b"data")
    with pytest.raises(ImageError, match=r"a\.xyz.*unsupported image extension '\.xyz'"):
        read_image(tmp_path / "a.xyz")
    with pytest.raises(ImageError, match="unsupported"):
        write_image(tmp_path / "b.xyz", _gradient())


def test_dtype_the_extension_cannot_hold(tmp_path):
    with pytest.raises(ImageError, match=r"\.png cannot hold float32"):
        write_image(tmp_path / "a.png", _gradient(), fmt=ImageFormat("png", "float32", 3, False))
    assert _listing(tmp_path) == []


def test_wrong_shapes(tmp_path):
    with pytest.raises(ImageError, match=r"\(H, W, 3\)"):
        write_image(tmp_path / "a.png", np.zeros((4, 4), np.float32))
    with pytest.raises(ImageError, match="alpha"):
        write_image(tmp_path / "a.png", np.zeros((4, 4, 3), np.float32), np.zeros((4, 5), np.float32))


# --------------------------------------------------------------------------- atomic writes

def test_write_leaves_no_temporary_and_replaces_atomically(tmp_path):
    write_image(tmp_path / "a.png", np.zeros((H, W, 3), np.float32))
    write_image(tmp_path / "a.png", np.ones((H, W, 3), np.float32))
    assert _listing(tmp_path) == ["a.png"]
    assert _raw(tmp_path / "a.png").min() == 255


def test_failed_write_keeps_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    write_image(tmp_path / "a.png", np.zeros((H, W, 3), np.float32))

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(ImageError, match=r"cannot write .*a\.png: .*No space left"):
        write_image(tmp_path / "a.png", np.ones((H, W, 3), np.float32))
    assert _listing(tmp_path) == ["a.png"]
    assert _raw(tmp_path / "a.png").max() == 0


def test_missing_folder(tmp_path):
    with pytest.raises(ImageError, match="does not exist"):
        write_image(tmp_path / "no" / "a.png", _gradient())


def test_no_warnings_for_ordinary_round_trips(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_image(tmp_path / "a.png", _gradient(), np.ones((H, W), np.float32))
        read_image(tmp_path / "a.png")
