"""The one record that travels from a source to a sink.

Every source (video file, frame sequence, camera) yields :class:`Frame` objects and every sink takes
them back, so the pipeline in between never knows where pixels came from. Sources convert whatever
they read (8/16-bit, half/float EXR, rotated video) into the same form: float32 RGB in [0, 1],
display-referred (sRGB-encoded, or a colour-managed plate's view: :mod:`vidstyle.io.colour`).
Anything a sink needs to write the frame back faithfully (its number, timestamp, alpha, a managed
plate's scene-linear pixels) rides along untouched: engines replace only the image.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction

import numpy as np


__all__ = ["Frame", "Plate", "fit_longest_side", "resize", "resize_linear", "to_float", "to_uint8", "working_size"]


@dataclass(frozen=True)
class Plate:
    """A colour-managed input frame as read, at the source's size, for the sink to write the stylised
    frame back with the plate's dynamic range (:meth:`vidstyle.io.colour.PlateColour.restore`).

    Attributes:
        linear: float32 (H, W, 3), the plate in the config's scene_linear space, unclipped.
        view: float32 (H, W, 3) in [0, 1], the display-referred image made of it: the frame's image
            as the source yielded it, before any engine replaced it.
    """

    linear: np.ndarray
    view: np.ndarray


@dataclass(frozen=True)
class Frame:
    """One decoded frame.

    Attributes:
        image: float32 (H, W, 3) RGB in [0, 1], sRGB-encoded.
        index: position in the source, 0-based, counting only frames actually yielded.
        number: the frame's own number (sequence frame number; equals ``index`` for video).
        pts: presentation timestamp in ``time_base`` units (video), or None.
        time_base: the stream's time base (video), or None.
        alpha: float32 (H, W) in [0, 1] or None. Passed through to the sink unchanged.
        plate: a colour-managed source's :class:`Plate` (None otherwise). Passed through to the sink
            unchanged, like alpha: the data flows one way, and the sink alone turns it back into files.
    """

    image: np.ndarray
    index: int
    number: int
    pts: int | None = None
    time_base: Fraction | None = None
    alpha: np.ndarray | None = None
    plate: Plate | None = None

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    def with_image(self, image: np.ndarray) -> "Frame":
        """The same frame (number, timestamp, alpha, plate) carrying new pixels."""
        return replace(self, image=image)


def to_float(image: np.ndarray) -> np.ndarray:
    """uint8 / uint16 / float (H, W, C) -> float32 in [0, 1] (floats are clipped, not rescaled)."""
    if image.dtype in (np.uint8, np.uint16):  # divided in place: one pass fewer over every decoded frame
        out = image.astype(np.float32)
        return np.divide(out, 255.0 if image.dtype == np.uint8 else 65535.0, out=out)
    if np.issubdtype(image.dtype, np.floating):
        return np.clip(image, 0.0, 1.0).astype(np.float32, copy=False)
    raise ValueError(f"expected a uint8, uint16 or float image, got dtype {image.dtype}")


def to_uint8(image: np.ndarray) -> np.ndarray:
    """float (H, W, C) in [0, 1] -> uint8, rounded to nearest."""
    scaled = np.clip(image, 0.0, 1.0)
    scaled *= 255.0
    scaled += 0.5
    return scaled.astype(np.uint8)


def fit_longest_side(width: int, height: int, longest: int) -> tuple[int, int]:
    """(width, height) scaled so the longer side is ``longest``, aspect ratio kept, each side >= 1."""
    if width <= 0 or height <= 0:
        raise ValueError(f"expected a positive image size, got {width}x{height}")
    scale = longest / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def working_size(width: int, height: int, longest: int, upscale: bool = False) -> tuple[int, int]:
    """The size an input of ``width`` x ``height`` is stylised at: its longest side scaled to
    ``longest`` (``--size``), but never above the input's own size unless ``upscale``: optimising
    an 80 px plate at 512 px costs 41x the pixels and is scaled back down anyway."""
    if not upscale and max(width, height) <= longest:
        fit_longest_side(width, height, max(width, height))  # same checks on the size
        return width, height
    return fit_longest_side(width, height, longest)


def resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize (H, W[, C]) to ``size`` = (width, height): area averaging down, bicubic up."""
    import cv2  # local: keeps this module importable for type use without OpenCV's start-up cost

    width, height = size
    if (image.shape[1], image.shape[0]) == (width, height):
        return image
    shrinking = width * height < image.shape[0] * image.shape[1]
    out = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)
    return np.clip(out, 0.0, 1.0) if np.issubdtype(out.dtype, np.floating) else out


def resize_linear(values: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize scene-linear float32 (H, W[, C]) to ``size`` = (width, height), unclipped: area
    averaging down (the average of light), bilinear up (cubic would ring around highlights far
    above 1.0, and could turn a black next to a lamp negative)."""
    import cv2

    width, height = size
    values = np.ascontiguousarray(values, dtype=np.float32)
    if (values.shape[1], values.shape[0]) == (width, height):
        return values
    shrinking = width <= values.shape[1] and height <= values.shape[0]
    return cv2.resize(values, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
