"""Mattes for ``vidstyle stylize --mask``: where to stylise (white) and where to keep the input (black).

A matte is read here, at the edge, and handed to the pipeline one frame at a time as float32 (H, W)
in [0, 1] at the working size (:meth:`MaskSource.for_frame`); :meth:`VideoStylizer.process
<vidstyle.temporal.VideoStylizer.process>` does the blending. A sequence output of a sequence input
is composited again at the plate's size (:class:`MaskedEngine`), with the matte asked for at that size. Accepted sources:

- ``alpha``: the input's own alpha channel (a frame sequence with alpha: RGBA PNG/TIFF, EXR);
- a still image (any format :mod:`vidstyle.io.image` reads): the same matte for every frame;
- a video file: its frame k goes with input frame k (0-based position in the input);
- a frame-sequence pattern: with a sequence input, matte frame N goes with input frame N (the same
  numbers, as plates and their mattes are numbered alike); with a video input, by position.

RGB mattes count by their Rec. 709 luma. Soft values blend. Scene-linear files (EXR) are used as
stored: a matte's value is a coverage fraction, not a colour, so the sRGB encoding that
:func:`~vidstyle.io.image.read_image` applies to pictures is undone.

Errors are :class:`MaskError` (a ``ValueError``: one line, exit code 2 from the CLI): no such file, a
matte whose aspect ratio differs from the input's, a video or sequence with fewer frames than the
input, ``alpha`` for an input without alpha.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..engine import Engine, FrameReport, HistoryEntry, PreparedFrame
from ..errors import UsageError
from ..frames import Frame, resize
from .image import SUPPORTED_EXTENSIONS, ImageError, read_image, srgb_to_linear
from .media import Source
from .sequence import SequenceError, SequenceReader

if TYPE_CHECKING:
    from ..optimize import Progress

__all__ = ["MaskError", "MaskSource", "MaskedEngine", "mask_record", "matte_from_rgb", "open_mask"]

OPTION = "--mask"
# Mattes may differ from the input in size (a proxy-resolution roto), not in shape: beyond this
# relative aspect difference the matte would be stretched, which is surely a wrong file.
ASPECT_TOLERANCE = 0.02
_LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)


class MaskError(UsageError):
    """A matte that cannot be used; the one-line message says why."""


def matte_from_rgb(rgb: np.ndarray, linear: bool = False) -> np.ndarray:
    """An RGB picture of a matte, float32 (H, W, 3) -> float32 (H, W) in [0, 1]: its luma.

    ``linear``: the file was scene-linear (EXR) and ``rgb`` is the sRGB encoding read_image made of
    it; undo that. A matte file's own alpha channel is not consulted."""
    values = srgb_to_linear(rgb) if linear else rgb
    return np.clip(values.astype(np.float32) @ _LUMA, 0.0, 1.0)


class MaskSource:
    """Per-frame mattes for one input, at the working size (or any other size asked for).

    Call :meth:`for_frame` with the input's frames in increasing order (frames may be skipped, e.g.
    already-rendered frames of a resumed sequence); asking for the same frame again at another size
    (the working size for the optimiser, the plate's for the composite) reads it only once.
    """

    def __init__(self, spec: str, size: tuple[int, int]):
        self.spec = spec
        self.size = size
        self._last: tuple[tuple[int, int], np.ndarray] | None = None  # (index, number) -> matte as read

    def for_frame(self, frame: Frame, size: tuple[int, int] | None = None) -> np.ndarray:
        """float32 (H, W) in [0, 1] for input frame ``frame``, at ``size`` (width, height; default
        the working size)."""
        key = (frame.index, frame.number)
        if self._last is None or self._last[0] != key:
            self._last = (key, self._read(frame))
        return self._fit(self._last[1], size)

    def _read(self, frame: Frame) -> np.ndarray:
        """The matte for ``frame`` at the resolution it is stored at, float32 (H, W)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release any open file."""

    def _fit(self, matte: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
        return np.clip(resize(np.ascontiguousarray(matte, dtype=np.float32), size or self.size), 0.0, 1.0)


class _StillMask(MaskSource):
    def __init__(self, spec: str, size: tuple[int, int], matte: np.ndarray):
        super().__init__(spec, size)
        self.matte = np.ascontiguousarray(matte, dtype=np.float32)
        self.fitted: dict[tuple[int, int], np.ndarray] = {}

    def for_frame(self, frame: Frame, size: tuple[int, int] | None = None) -> np.ndarray:
        wanted = (size or self.size)[0], (size or self.size)[1]
        if wanted not in self.fitted:
            self.fitted[wanted] = self._fit(self.matte, wanted)
        return self.fitted[wanted]


class _AlphaMask(MaskSource):
    def _read(self, frame: Frame) -> np.ndarray:
        if frame.alpha is None:
            raise MaskError(f"{OPTION} alpha: input frame {frame.number} has no alpha channel")
        return frame.alpha


class _NumberedSequenceMask(MaskSource):
    """Matte frame N for input frame N."""

    def __init__(self, spec: str, size: tuple[int, int], reader: SequenceReader):
        super().__init__(spec, size)
        self.reader = reader

    def _read(self, frame: Frame) -> np.ndarray:
        path = self.reader.path_for(self._number(frame))
        try:
            rgb, _, fmt = read_image(path)
        except ImageError as e:
            raise MaskError(f"{OPTION}: {e}") from None
        return matte_from_rgb(rgb, fmt.linear)

    def _number(self, frame: Frame) -> int:
        return frame.number


class _PositionalSequenceMask(_NumberedSequenceMask):
    """The matte sequence's k-th frame for the input's k-th frame."""

    def _number(self, frame: Frame) -> int:
        if frame.index >= len(self.reader.numbers):
            raise MaskError(f"{OPTION} {self.spec} has {len(self.reader.numbers)} frames; the input has more")
        return self.reader.numbers[frame.index]


class _VideoMask(MaskSource):
    """The matte video's k-th frame for the input's k-th frame, decoded as the input advances."""

    def __init__(self, spec: str, size: tuple[int, int], reader):
        super().__init__(spec, size)
        self.reader = reader
        self.frames: Iterator[Frame] = iter(reader)
        self.current: Frame | None = None
        self.read = 0

    def _read(self, frame: Frame) -> np.ndarray:
        while self.current is None or self.current.index < frame.index:
            try:
                self.current = next(self.frames)
            except StopIteration:
                raise MaskError(f"{OPTION} {self.spec} has {self.read} frames; the input has more") from None
            self.read += 1
        return matte_from_rgb(self.current.image)

    def close(self) -> None:
        close = getattr(self.reader, "close", None)
        if close is not None:
            close()


def mask_record(spec: str | None) -> str | dict | None:
    """What identifies the matte of ``--mask SPEC`` in a render's settings sidecar, so that a resume
    with another matte is refused: ``"alpha"``; a sequence's absolute pattern (its frames are not
    hashed: a sequence may be long); a single file's absolute path and SHA-256 (an image or a video,
    so a matte re-rendered under the same name counts as another). None without a matte."""
    from .media import is_pattern
    from .resume import file_digest

    if spec is None:
        return None
    if spec == "alpha":
        return "alpha"
    if is_pattern(spec):
        return {"pattern": os.path.abspath(spec)}
    return {"path": os.path.abspath(spec), "sha256": file_digest(spec)}


def open_mask(spec: str, source: Source, size: tuple[int, int]) -> MaskSource:
    """The matte source for ``--mask SPEC`` and an opened input.

    Args:
        spec: ``alpha``, an image file, a video file or a frame-sequence pattern.
        source: the input, a :class:`vidstyle.io.media.Source` (its size, frame count, alpha).
        size: working size (width, height) the mattes are resized to.
    Raises:
        MaskError: see the module docstring.
    """
    from .media import is_pattern

    if spec == "alpha":
        if not (isinstance(source.reader, SequenceReader) and source.reader.has_alpha):
            raise MaskError(f"{OPTION} alpha: the input {source.path} has no alpha channel (use a matte file, or a sequence with alpha)")
        return _AlphaMask(spec, size)

    if is_pattern(spec):
        try:
            if isinstance(source.reader, SequenceReader):
                reader = SequenceReader(spec, ",".join(map(str, source.reader.numbers)))
            else:
                reader = SequenceReader(spec)
        except SequenceError as e:
            raise MaskError(f"{OPTION}: {e}") from None
        _check_shape(spec, (reader.width, reader.height), source)
        if source.is_sequence:
            return _NumberedSequenceMask(spec, size, reader)
        _check_count(spec, len(reader), source)
        return _PositionalSequenceMask(spec, size, reader)

    path = Path(spec)
    if not path.is_file():
        raise MaskError(f"{OPTION} {spec}: no such file (expected 'alpha', an image, a video or a frame pattern)")
    if path.suffix.lower().lstrip(".") in SUPPORTED_EXTENSIONS:
        try:
            rgb, _, fmt = read_image(path)
        except ImageError as e:
            raise MaskError(f"{OPTION}: {e}") from None
        _check_shape(spec, (rgb.shape[1], rgb.shape[0]), source)
        return _StillMask(spec, size, matte_from_rgb(rgb, fmt.linear))

    from .video import MediaError, VideoReader

    try:
        video = VideoReader(os.fspath(path))
    except MediaError as e:
        raise MaskError(f"{OPTION}: {e}") from None
    _check_shape(spec, (video.info.width, video.info.height), source)
    if video.info.frame_count is not None:
        _check_count(spec, video.info.frame_count, source)
    return _VideoMask(spec, size, video)


def _check_shape(spec: str, matte_size: tuple[int, int], source: Source) -> None:
    width, height = matte_size
    expected = source.width / source.height
    if abs(width / height - expected) > ASPECT_TOLERANCE * expected:
        raise MaskError(
            f"{OPTION} {spec} is {width}x{height} but the input is {source.width}x{source.height}; "
            "a matte must have the input's aspect ratio"
        )


def _check_count(spec: str, frames: int, source: Source) -> None:
    if source.count is not None and frames < source.count:
        raise MaskError(f"{OPTION} {spec} has {frames} frames but the input has {source.count}; a matte video or sequence needs one per input frame")


class MaskedEngine:
    """An :class:`~vidstyle.engine.Engine` that stylises only inside a matte: each frame's matte is
    read from a :class:`MaskSource` and handed to the wrapped engine's ``process``, which composites
    (and decides what its history keeps). Everything else is the wrapped engine's, through the
    interface.

    ``at_plate``: the sink writes the input's own frames' size (a sequence output of a sequence
    input). The output is then composited again at that size: the stylised frame and the matte
    resized to the plate, and the plate's own pixels where the matte is 0, not the plate resized to
    the working size and back. The history (temporal term, resume state, warping error) keeps the
    working-size composite."""

    def __init__(self, engine: Engine, masks: MaskSource, at_plate: bool = False):
        self.engine = engine
        self.masks = masks
        self.at_plate = at_plate

    @property
    def size(self) -> tuple[int, int]:
        return self.engine.size

    @property
    def depth(self) -> int:
        return self.engine.depth

    @property
    def history(self) -> list[HistoryEntry]:
        return self.engine.history

    @property
    def stylised(self) -> np.ndarray | None:
        return self.engine.stylised

    def prepare(self, frames: Iterable[Frame]) -> Iterator[PreparedFrame]:
        return self.engine.prepare(frames)

    def restore(self, entries: list[HistoryEntry]) -> None:
        self.engine.restore(entries)

    def process(self, frame: Frame | PreparedFrame, progress: Callable[[Progress], None] | None = None,
                mask: np.ndarray | None = None) -> tuple[Frame, FrameReport]:
        """``mask`` (a matte on top of this one) multiplies this frame's matte."""
        original = frame.frame if isinstance(frame, PreparedFrame) else frame
        matte = self.masks.for_frame(original)
        if mask is not None:
            matte = matte * np.clip(resize(np.ascontiguousarray(mask, dtype=np.float32), (matte.shape[1], matte.shape[0])), 0.0, 1.0)
        output, report = self.engine.process(frame, progress=progress, mask=matte)
        plate = original.image
        stylised = self.engine.stylised
        if not self.at_plate or plate.shape[:2] == output.image.shape[:2] or stylised is None:
            return output, report
        size = (plate.shape[1], plate.shape[0])
        plate_matte = self.masks.for_frame(original, size)[..., None]
        return output.with_image(plate_matte * resize(stylised, size) + (1.0 - plate_matte) * plate), report

