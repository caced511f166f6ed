"""Test images with known flow for the flow package tests: a real photo moved by known affine motions.

All frames are RGB uint8 (H, W, 3); ground-truth flows are float32 (H, W, 2), channel 0 = x, in the
package's convention (F_ab(p) = where pixel p of frame a is in frame b).
"""

from __future__ import annotations

import functools
from pathlib import Path

import cv2
import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
PHOTO_NAME = "tubingen.jpg"
# samples/ first (the project may bundle a copy), then the shared data folder beside the repository.
PHOTO_CANDIDATES = (REPO_ROOT / "samples" / PHOTO_NAME, REPO_ROOT.parent / "shared" / "data" / "styles" / PHOTO_NAME)


@functools.lru_cache(maxsize=1)
def load_photo() -> np.ndarray:
    """The Tübingen photograph (Andreas Praefcke, CC BY 3.0) as RGB uint8 (768, 1024, 3)."""
    for path in PHOTO_CANDIDATES:
        if path.is_file():
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if bgr is not None:
                return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    raise FileNotFoundError(f"test photo not found; looked in {[str(p) for p in PHOTO_CANDIDATES]}")


def affine_pair(width: int, height: int, matrix: np.ndarray, margin_scale: float = 1.5):
    """Frames a, b of size (height, width) with b = a moved by the 2x3 affine ``matrix``, and F_ab.

    ``matrix`` acts on pixel coordinates of the crop: pixel p of a is at matrix @ [p, 1] in b. The
    photo is resized to ``margin_scale`` times the crop, moved with cv2.warpAffine (bicubic) and then
    both frames are cropped from the centre, so real content (not a border fill) enters at the edges.

    Returns:
        a, b: RGB uint8 (height, width, 3); flow_ab: float32 (height, width, 2), exact.
    """
    photo = load_photo()
    big_w, big_h = int(round(width * margin_scale)), int(round(height * margin_scale))
    source = cv2.resize(photo, (big_w, big_h), interpolation=cv2.INTER_AREA)
    ox, oy = (big_w - width) // 2, (big_h - height) // 2
    to_big = np.array([[1.0, 0.0, ox], [0.0, 1.0, oy], [0.0, 0.0, 1.0]])
    m3 = np.vstack([np.asarray(matrix, dtype=np.float64), [0.0, 0.0, 1.0]])
    big_matrix = (to_big @ m3 @ np.linalg.inv(to_big))[:2]
    moved = cv2.warpAffine(source, big_matrix, (big_w, big_h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    a = np.ascontiguousarray(source[oy:oy + height, ox:ox + width])
    b = np.ascontiguousarray(moved[oy:oy + height, ox:ox + width])
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    m = m3[:2]
    flow_ab = np.dstack([m[0, 0] * xs + m[0, 1] * ys + m[0, 2] - xs, m[1, 0] * xs + m[1, 1] * ys + m[1, 2] - ys])
    return a, b, flow_ab.astype(np.float32)


def translation_pair(width: int, height: int, dx: float, dy: float):
    """a and b = a translated by (dx, dy) px (sub-pixel, bicubic); F_ab = (dx, dy) everywhere."""
    return affine_pair(width, height, np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]]))


def camera_move_pair(width: int = 192, height: int = 144):
    """A synthetic camera move over the real photo: zoom 2 %, rotation 1.5 degrees, pan (4, -3) px."""
    matrix = cv2.getRotationMatrix2D((width / 2.0, height / 2.0), 1.5, 1.02)
    matrix[0, 2] += 4.0
    matrix[1, 2] -= 3.0
    return affine_pair(width, height, matrix)


def end_point_error(flow: np.ndarray, truth: np.ndarray, margin: int) -> float:
    """Mean |flow - truth| over the interior (``margin`` px trimmed from every side)."""
    error = np.linalg.norm(flow.astype(np.float64) - truth, axis=2)
    return float(error[margin:-margin, margin:-margin].mean())


def to_float(img: np.ndarray) -> np.ndarray:
    """uint8 -> float32 in [0, 1]."""
    return img.astype(np.float32) / 255.0
