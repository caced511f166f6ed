"""Middlebury ``.flo`` files: read and write optical flow.

Layout (all little-endian): float32 magic 202021.25 (the bytes "PIEH"), int32 width, int32 height, then
height x width x 2 float32 values, row by row, u (x) then v (y) for each pixel. Writes are atomic: the file
is written under a temporary name in the same folder and moved into place with ``os.replace``, so a reader
never sees half a file.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from flow._checks import check_flow

__all__ = ["read_flo", "write_flo", "FLO_MAGIC"]

FLO_MAGIC = 202021.25
_HEADER_BYTES = 12
# Middlebury's reference code refuses larger sizes; it also stops a corrupt header from asking for
# gigabytes before the size check below would catch it.
_MAX_SIDE = 100_000


def read_flo(path: str | os.PathLike) -> np.ndarray:
    """Read a ``.flo`` file -> float32 (H, W, 2) flow, channel 0 = x.

    Raises:
        ValueError: the file is not a valid .flo file (message says what was expected and what came).
        FileNotFoundError: no such file.
    """
    path = os.fspath(path)
    with open(path, "rb") as fh:
        data = fh.read()
    if len(data) < _HEADER_BYTES:
        raise ValueError(f"read_flo: expected at least {_HEADER_BYTES} header bytes in {path}, got {len(data)}")
    magic = float(np.frombuffer(data, dtype="<f4", count=1, offset=0)[0])
    if magic != FLO_MAGIC:
        raise ValueError(
            f"read_flo: expected magic {FLO_MAGIC} (bytes b'PIEH') at the start of {path}, "
            f"got {magic!r} (bytes {data[:4]!r})"
        )
    width, height = (int(x) for x in np.frombuffer(data, dtype="<i4", count=2, offset=4))
    if not (1 <= width <= _MAX_SIDE and 1 <= height <= _MAX_SIDE):
        raise ValueError(
            f"read_flo: expected width and height in [1, {_MAX_SIDE}] in {path}, got width={width}, height={height}"
        )
    expected = _HEADER_BYTES + 4 * 2 * width * height
    if len(data) != expected:
        raise ValueError(
            f"read_flo: expected {expected} bytes in {path} for width={width}, height={height}, got {len(data)}"
        )
    flow = np.frombuffer(data, dtype="<f4", offset=_HEADER_BYTES).reshape(height, width, 2)
    return flow.astype(np.float32)  # native byte order, writable copy


def write_flo(path: str | os.PathLike, F: np.ndarray) -> None:
    """Write a float32 (H, W, 2) flow to ``path`` as a ``.flo`` file, atomically."""
    F = check_flow("write_flo", "F", F)
    path = os.fspath(path)
    height, width = F.shape[:2]
    payload = (
        np.array([FLO_MAGIC], dtype="<f4").tobytes()
        + np.array([width, height], dtype="<i4").tobytes()
        + F.astype("<f4", copy=False).tobytes()
    )
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp_path = tempfile.mkstemp(prefix=".tmp-", suffix=".flo", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        os.replace(tmp_path, path)
    except BaseException:
        # Leave no temporary file behind on any failure, then re-raise.
        try:
            os.unlink(tmp_path)
        except FileNotFoundError:
            pass
        raise
