"""flow.io: Middlebury .flo read/write (magic 202021.25, little-endian, atomic writes)."""

from __future__ import annotations

import os
import struct

import numpy as np
import pytest

from flow.io import read_flo, write_flo


def test_round_trip(tmp_path):
    F = np.random.default_rng(0).standard_normal((5, 7, 2)).astype(np.float32) * 20
    F[1, 2] = [np.nan, np.inf]  # unknown-flow markers survive too
    path = tmp_path / "f.flo"
    write_flo(path, F)
    back = read_flo(path)
    assert back.shape == (5, 7, 2) and back.dtype == np.float32 and back.flags.writeable
    np.testing.assert_array_equal(back, F)


def test_layout_is_middlebury(tmp_path):
    """Header 'PIEH' (202021.25 as little-endian float32), width, height; then u, v per pixel, row by row."""
    F = np.zeros((2, 3, 2), np.float32)
    F[1, 0] = [1.5, -2.0]  # row 1, column 0 is the 4th pixel
    path = tmp_path / "f.flo"
    write_flo(path, F)
    data = path.read_bytes()
    assert data[:4] == b"PIEH"
    assert struct.unpack("<fii", data[:12]) == (202021.25, 3, 2)
    assert len(data) == 12 + 2 * 3 * 2 * 4
    assert struct.unpack("<ff", data[12 + 3 * 8 : 12 + 4 * 8]) == (1.5, -2.0)


def test_reads_a_hand_written_file(tmp_path):
    path = tmp_path / "hand.flo"
    path.write_bytes(struct.pack("<fii", 202021.25, 2, 1) + struct.pack("<4f", 1.0, 2.0, 3.0, 4.0))
    np.testing.assert_array_equal(read_flo(path), [[[1.0, 2.0], [3.0, 4.0]]])


@pytest.mark.parametrize("content, message", [
    (b"PIE", r"expected at least 12 header bytes in .*, got 3"),
    (struct.pack("<fii", 1.0, 2, 1) + bytes(16), r"expected magic 202021.25 \(bytes b'PIEH'\) at the start of .*, got 1.0"),
    (struct.pack("<fii", 202021.25, 0, 1), r"expected width and height in \[1, 100000\] in .*, got width=0, height=1"),
    (struct.pack("<fii", 202021.25, 2, 1) + bytes(12), r"expected 28 bytes in .* for width=2, height=1, got 24"),
    (struct.pack("<fii", 202021.25, 2, 1) + bytes(20), r"expected 28 bytes in .* for width=2, height=1, got 32"),
])
def test_bad_files_raise_value_error(tmp_path, content, message):
    path = tmp_path / "bad.flo"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        read_flo(path)


def test_big_endian_file_is_refused(tmp_path):
    path = tmp_path / "be.flo"
    path.write_bytes(struct.pack(">fii", 202021.25, 1, 1) + struct.pack(">2f", 0.0, 0.0))
    with pytest.raises(ValueError, match=r"expected magic 202021.25"):
        read_flo(path)


def test_write_refuses_bad_flows(tmp_path):
    with pytest.raises(ValueError, match=r"write_flo: expected F of shape \(H, W, 2\), got \(4, 5, 3\)"):
        write_flo(tmp_path / "x.flo", np.zeros((4, 5, 3), np.float32))
    with pytest.raises(ValueError, match=r"write_flo: expected F of dtype float32 \(or float64\), got int32"):
        write_flo(tmp_path / "x.flo", np.zeros((4, 5, 2), np.int32))
    assert os.listdir(tmp_path) == []


def test_float64_is_written_as_float32(tmp_path):
    F = np.full((2, 2, 2), 0.1, np.float64)
    write_flo(tmp_path / "d.flo", F)
    np.testing.assert_array_equal(read_flo(tmp_path / "d.flo"), F.astype(np.float32))


def test_write_is_atomic(tmp_path, monkeypatch):
    """If the final rename fails, the old file is untouched and no temporary file is left behind."""
    path = tmp_path / "f.flo"
    old = np.ones((2, 2, 2), np.float32)
    write_flo(path, old)
    assert os.listdir(tmp_path) == ["f.flo"]

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        write_flo(path, np.zeros((3, 3, 2), np.float32))
    assert os.listdir(tmp_path) == ["f.flo"]
    np.testing.assert_array_equal(read_flo(path), old)
