"""Input checks shared by the flow package.

Every check raises ``ValueError`` naming the function, what was expected and what came, e.g.
``flow.warp: expected F of shape (H, W, 2), got (4, 5, 3)``.
"""

from __future__ import annotations

import numpy as np


def describe(x: object) -> str:
    """Short description of an argument for error messages: type, shape and dtype when it has them."""
    shape = getattr(x, "shape", None)
    dtype = getattr(x, "dtype", None)
    if shape is not None and dtype is not None:
        return f"{type(x).__name__} of shape {tuple(shape)} and dtype {dtype}"
    return type(x).__name__


def check_flow(where: str, name: str, F: object, shape_hw: tuple[int, int] | None = None) -> np.ndarray:
    """Return F as a C-contiguous float32 (H, W, 2) array, or raise ValueError.

    float32 and float64 are accepted (float64 is converted); anything else is refused because an
    integer flow is almost always a bug (a mask or an image passed by mistake).
    """
    if not isinstance(F, np.ndarray):
        raise ValueError(f"{where}: expected {name} as a numpy array of shape (H, W, 2), got {describe(F)}")
    if F.ndim != 3 or F.shape[2] != 2:
        raise ValueError(f"{where}: expected {name} of shape (H, W, 2), got {F.shape}")
    if F.shape[0] < 1 or F.shape[1] < 1:
        raise ValueError(f"{where}: expected {name} with H, W >= 1, got {F.shape}")
    if F.dtype not in (np.float32, np.float64):
        raise ValueError(f"{where}: expected {name} of dtype float32 (or float64), got {F.dtype}")
    if shape_hw is not None and F.shape[:2] != tuple(shape_hw):
        raise ValueError(
            f"{where}: expected {name} of shape ({shape_hw[0]}, {shape_hw[1]}, 2) to match, got {F.shape}"
        )
    return np.ascontiguousarray(F, dtype=np.float32)


def check_frame(where: str, name: str, img: object) -> np.ndarray:
    """Check an RGB (H, W, 3) or grey (H, W) frame, uint8 or float in [0, 1]; return it unchanged."""
    if not isinstance(img, np.ndarray):
        raise ValueError(
            f"{where}: expected {name} as a numpy array of shape (H, W, 3) or (H, W), got {describe(img)}"
        )
    if not (img.ndim == 2 or (img.ndim == 3 and img.shape[2] == 3)):
        raise ValueError(f"{where}: expected {name} of shape (H, W, 3) or (H, W), got {img.shape}")
    if img.shape[0] < 1 or img.shape[1] < 1:
        raise ValueError(f"{where}: expected {name} with H, W >= 1, got {img.shape}")
    if img.dtype == np.uint8:
        return img
    if img.dtype in (np.float32, np.float64):
        lo, hi = float(np.min(img)), float(np.max(img))
        # NaN fails both comparisons, so it is caught here too.
        if not (lo >= 0.0 and hi <= 1.0):
            raise ValueError(f"{where}: expected float {name} with values in [0, 1], got range [{lo}, {hi}]")
        return img
    raise ValueError(f"{where}: expected {name} of dtype uint8, float32 or float64, got {img.dtype}")
