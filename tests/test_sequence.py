"""Frame sequences: patterns, --frames specs, reader (gaps, corruption, streaming), writer."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vidstyle.frames import Frame
from vidstyle.io.image import ImageFormat, temporary_path
from vidstyle.io.sequence import (
    SequenceError,
    SequenceReader,
    SequenceWriter,
    format_numbers,
    parse_frames,
    parse_pattern,
)

H, W = 8, 10


def _plant(folder: Path, numbers, name="shot.{:04d}.png", h=H, w=W, dtype=np.uint8, channels=3):
    """Write small frames whose first pixel encodes the frame number (to check order)."""
    folder.mkdir(parents=True, exist_ok=True)
    top = np.iinfo(dtype).max
    for n in numbers:
        pixels = np.full((h, w, channels), (n * 37) % (top + 1), dtype=dtype)
        cv2.imwrite(str(folder / name.format(n)), pixels)


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --------------------------------------------------------------------------- patterns

@pytest.mark.parametrize(
    "pattern,frame_7,frame_1001",
    [
        ("shot.####.png", "shot.0007.png", "shot.1001.png"),
        ("shot.#.png", "shot.0007.png", "shot.1001.png"),
        ("shot.%04d.png", "shot.0007.png", "shot.1001.png"),
        ("shot.@.png", "shot.7.png", "shot.1001.png"),
        ("shot.@@@.png", "shot.007.png", "shot.1001.png"),
        ("shot.1001-1100#.exr", "shot.0007.exr", "shot.1001.exr"),
        ("shot.1001-1100####.exr", "shot.0007.exr", "shot.1001.exr"),
    ],
)
def test_pattern_padding(pattern, frame_7, frame_1001):
    seq = parse_pattern(pattern)
    assert seq.frame(7) == frame_7
    assert seq.frame(1001) == frame_1001


def test_pattern_padding_is_a_minimum_width():
    assert parse_pattern("plates/sh010.####.exr").frame(10000) == "plates/sh010.10000.exr"


def test_pattern_range():
    assert list(parse_pattern("shot.1001-1005#.exr").frameSet()) == [1001, 1002, 1003, 1004, 1005]
    assert parse_pattern("shot.####.png").frameSet() is None


def test_pattern_without_token():
    with pytest.raises(SequenceError, match="no frame-number token"):
        parse_pattern("shot.png")


# --------------------------------------------------------------------------- --frames

@pytest.mark.parametrize(
    "spec,expected",
    [
        ("1001-1005", [1001, 1002, 1003, 1004, 1005]),
        ("1001-1009x2", [1001, 1003, 1005, 1007, 1009]),
        ("1001-1010x3", [1001, 1004, 1007, 1010]),
        ("1001,1003,1005", [1001, 1003, 1005]),
        ("1001-1002,1010", [1001, 1002, 1010]),
        (" 1001 ", [1001]),
    ],
)
def test_parse_frames(spec, expected):
    assert parse_frames(spec) == expected


@pytest.mark.parametrize("spec", ["1100-1001", "1005-1001x2", "1005,1003"])
def test_reversed_ranges_are_refused(spec):
    with pytest.raises(SequenceError, match="reversed or out of order"):
        parse_frames(spec)


@pytest.mark.parametrize("spec,message", [("", "empty"), ("  ", "empty"), ("abc", "cannot parse"),
                                          ("1-2x0.5", "sub-frames"), ("1-100000000", "too large")])
def test_bad_frame_specs(spec, message):
    with pytest.raises(SequenceError, match=message):
        parse_frames(spec)


def test_format_numbers():
    assert format_numbers([1006, 1004]) == "1004, 1006"
    assert format_numbers([8, 9, 10, 1004]) == "8-10, 1004"


# --------------------------------------------------------------------------- reader

def test_reader_finds_frames_and_streams_them_in_order(tmp_path):
    _plant(tmp_path, range(1001, 1005))
    reader = SequenceReader(str(tmp_path / "shot.####.png"))
    assert reader.numbers == [1001, 1002, 1003, 1004]
    assert (reader.width, reader.height, reader.has_alpha) == (W, H, False)
    assert reader.format == ImageFormat("png", "uint8", 3, False)
    assert reader.path_for(1002) == tmp_path / "shot.1002.png"
    frames = list(reader)
    assert [(f.index, f.number) for f in frames] == [(0, 1001), (1, 1002), (2, 1003), (3, 1004)]
    for f in frames:
        assert f.image.dtype == np.float32 and f.image.shape == (H, W, 3) and f.alpha is None
        assert round(float(f.image[0, 0, 0]) * 255) == (f.number * 37) % 256


@pytest.mark.parametrize("pattern", ["shot.####.png", "shot.#.png", "shot.%04d.png"])
def test_reader_pattern_styles_find_the_same_frames(tmp_path, pattern):
    _plant(tmp_path, [1001, 1002])
    _plant(tmp_path, [3], name="shot.{}.png")  # unpadded: not a frame of a 4-padded pattern
    assert SequenceReader(tmp_path / pattern).numbers == [1001, 1002]


def test_reader_unpadded_pattern(tmp_path):
    _plant(tmp_path, [9, 10, 11], name="shot.{}.png")
    assert SequenceReader(tmp_path / "shot.@.png").numbers == [9, 10, 11]


def test_reader_frames_spec_selects_and_steps(tmp_path):
    _plant(tmp_path, range(1001, 1009))
    reader = SequenceReader(tmp_path / "shot.####.png", frames="1002-1006x2")
    assert reader.numbers == [1002, 1004, 1006]
    assert [(f.index, f.number) for f in reader] == [(0, 1002), (1, 1004), (2, 1006)]


def test_reader_range_inside_the_pattern(tmp_path):
    _plant(tmp_path, range(1001, 1009))
    assert SequenceReader(tmp_path / "shot.1003-1005#.png").numbers == [1003, 1004, 1005]
    # --frames wins over the range in the pattern
    assert SequenceReader(tmp_path / "shot.1003-1005#.png", frames="1001-1002").numbers == [1001, 1002]


def test_reader_reports_missing_frames_by_number(tmp_path):
    _plant(tmp_path, [1001, 1002, 1003, 1005, 1007, 1008])
    with pytest.raises(SequenceError) as err:
        SequenceReader(tmp_path / "shot.####.png", frames="1001-1008")
    assert str(err.value) == f"missing input frames: 1004, 1006 (pattern {tmp_path / 'shot.####.png'})"
    # with no range given, a gap inside what is on disk is reported the same way
    with pytest.raises(SequenceError, match="missing input frames: 1004, 1006 "):
        SequenceReader(tmp_path / "shot.####.png")


def test_reader_requested_frames_beyond_the_disk(tmp_path):
    _plant(tmp_path, range(1001, 1004))
    with pytest.raises(SequenceError, match="missing input frames: 1004-1010 "):
        SequenceReader(tmp_path / "shot.####.png", frames="1001-1010")


def test_reader_accepts_a_sequence_rendered_on_twos(tmp_path):
    _plant(tmp_path, [1001, 1003, 1005])
    assert SequenceReader(tmp_path / "shot.####.png").numbers == [1001, 1003, 1005]


def test_reader_no_match(tmp_path):
    _plant(tmp_path, [1001])
    with pytest.raises(SequenceError, match=r"pattern .*other\.####\.png matches no files"):
        SequenceReader(tmp_path / "other.####.png")
    with pytest.raises(SequenceError, match="matches no files .*does not exist"):
        SequenceReader(tmp_path / "nowhere" / "shot.####.png")


def test_reader_ignores_temporaries(tmp_path):
    _plant(tmp_path, [1001, 1002])
    temporary_path(tmp_path / "shot.1003.png").write_bytes(b"partial")
    assert SequenceReader(tmp_path / "shot.####.png").numbers == [1001, 1002]


def test_reader_names_a_corrupt_middle_frame(tmp_path):
    _plant(tmp_path, range(1001, 1004))
    (tmp_path / "shot.1002.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    reader = SequenceReader(tmp_path / "shot.####.png")
    got = []
    with pytest.raises(SequenceError, match=r"frame 1002: cannot decode .*shot\.1002\.png"):
        for frame in reader:
            got.append(frame.number)
    assert got == [1001]


def test_reader_refuses_a_frame_of_another_size(tmp_path):
    _plant(tmp_path, [1001, 1002])
    _plant(tmp_path, [1003], h=H + 2)
    with pytest.raises(SequenceError, match=r"frame 1003: .*shot\.1003\.png is 10x10, but the sequence is 10x8"):
        list(SequenceReader(tmp_path / "shot.####.png"))


def test_reader_streams_one_file_at_a_time(tmp_path):
    # Replace frame 1002 after frame 1001 was yielded: a reader that read ahead would miss it.
    _plant(tmp_path, [1001, 1002])
    frames = iter(SequenceReader(tmp_path / "shot.####.png"))
    next(frames)
    cv2.imwrite(str(tmp_path / "shot.1002.png"), np.full((H, W, 3), 200, np.uint8))
    assert round(float(next(frames).image[0, 0, 0]) * 255) == 200


def test_reader_unsupported_extension(tmp_path):
    (tmp_path / "shot.1001.gifx").write_bytes(b"x")
    with pytest.raises(SequenceError, match="unsupported image extension"):
        SequenceReader(tmp_path / "shot.####.gifx")


# --------------------------------------------------------------------------- writer

def _frame(number: int, h=H, w=W, alpha=None, value=0.25) -> Frame:
    return Frame(image=np.full((h, w, 3), value, np.float32), index=0, number=number, alpha=alpha)


def test_writer_writes_at_the_frame_number_with_its_own_padding(tmp_path):
    writer = SequenceWriter(tmp_path / "out" / "res.%05d.png")
    assert not writer.exists(1001)
    path = writer.write(_frame(1001))
    assert path == tmp_path / "out" / "res.01001.png"
    assert writer.exists(1001) and not writer.exists(1002)
    assert _names(tmp_path / "out") == ["res.01001.png"]  # no temporary left behind


def test_writer_format_from_input_and_extension(tmp_path):
    png16 = ImageFormat("png", "uint16", 4, False)
    assert SequenceWriter(tmp_path / "a.####.png", fmt=png16).format.dtype == "uint16"
    assert SequenceWriter(tmp_path / "a.####.exr", fmt=png16).format == ImageFormat("exr", "float16", 3, True)
    assert SequenceWriter(tmp_path / "a.####.png").format.dtype == "uint8"
    with pytest.raises(SequenceError, match="unsupported image extension"):
        SequenceWriter(tmp_path / "a.####.gifx")


def test_writer_resizes_back_to_the_plate(tmp_path):
    writer = SequenceWriter(tmp_path / "o.####.png", size=(2 * W, 2 * H))
    alpha = np.linspace(0, 1, H * W, dtype=np.float32).reshape(H, W)
    writer.write(_frame(1, alpha=alpha))
    stored = cv2.imread(str(tmp_path / "o.0001.png"), cv2.IMREAD_UNCHANGED)
    assert stored.shape == (2 * H, 2 * W, 4)
    assert np.all(stored[..., :3] == 64)  # 0.25 * 255 = 63.75 -> 64, flat stays flat

    SequenceWriter(tmp_path / "s.####.png", size=(W // 2, H // 2)).write(_frame(1))
    assert cv2.imread(str(tmp_path / "s.0001.png"), cv2.IMREAD_UNCHANGED).shape == (H // 2, W // 2, 3)


def test_writer_exists_ignores_temporaries_and_cleanup_removes_them(tmp_path):
    writer = SequenceWriter(tmp_path / "shot.####.png")
    writer.write(_frame(1001))
    planted = tmp_path / ".shot.1002.png.tmp-99999.png"
    planted.write_bytes(b"half a frame")
    unrelated = [tmp_path / ".other.1002.png.tmp-99999.png", tmp_path / "shot.1002.png.tmp",
                 tmp_path / ".shot.12.png.tmp-99999.png"]  # last: not a 4-padded frame name
    for path in unrelated:
        path.write_bytes(b"keep")
    assert not writer.exists(1002)

    assert writer.cleanup_temporaries() == [planted]
    assert not planted.exists()
    assert all(p.exists() for p in unrelated) and writer.exists(1001)


def test_writer_creates_the_output_folder(tmp_path):
    SequenceWriter(tmp_path / "a" / "b" / "shot.@.exr").write(_frame(7))
    assert (tmp_path / "a" / "b" / "shot.7.exr").is_file()


def test_16bit_rgba_sequence_round_trip(tmp_path):
    rng = np.random.default_rng(7)
    plates = {}
    (tmp_path / "in").mkdir()
    for n in range(1001, 1009):
        plates[n] = rng.integers(0, 65536, (H, W, 4), dtype=np.uint16)
        cv2.imwrite(str(tmp_path / "in" / f"sh010.{n:04d}.png"), plates[n])

    reader = SequenceReader(tmp_path / "in" / "sh010.####.png")
    assert reader.numbers == list(range(1001, 1009))
    assert reader.format == ImageFormat("png", "uint16", 4, False) and reader.has_alpha
    writer = SequenceWriter(tmp_path / "out" / "sh010_style.%04d.png", fmt=reader.format,
                            size=(reader.width, reader.height))
    for frame in reader:
        # stand-in for the optimiser: works at half size, alpha rides along untouched
        small = cv2.resize(frame.image, (W // 2, H // 2), interpolation=cv2.INTER_AREA)
        writer.write(frame.with_image(small))

    assert _names(tmp_path / "out") == [f"sh010_style.{n}.png" for n in range(1001, 1009)]
    for n, plate in plates.items():
        out = cv2.imread(str(tmp_path / "out" / f"sh010_style.{n}.png"), cv2.IMREAD_UNCHANGED)
        assert out.dtype == np.uint16 and out.shape == (H, W, 4)
        np.testing.assert_array_equal(out[..., 3], plate[..., 3])


@pytest.mark.parametrize("name", ["render_v2.5.mov", "out0.6.mp4", "take.2.exr"])
def test_a_bare_number_in_a_file_name_is_not_a_frame_pattern(name):
    from vidstyle.io.media import is_pattern

    assert not is_pattern(name)  # fileseq alone reads these as one-frame sequences
    assert is_pattern(name.replace(name.split(".")[-2], "####", 1))
