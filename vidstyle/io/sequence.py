"""Numbered frame sequences (``plates/sh010.####.exr``): patterns, frame ranges, reader, writer.

Patterns and ranges are parsed by ``fileseq``, the library VFX pipelines already use for exactly
this (no hand-rolled regular expressions here). Accepted frame tokens:

    ``shot.####.png``        four digits, zero-padded (each ``#`` one digit, as in Nuke)
    ``shot.#.png``           four digits too: fileseq's default, where a lone ``#`` means 4
    ``shot.@.png``           one digit, i.e. unpadded (``@@@`` = 3)
    ``shot.%04d.png``        printf style
    ``shot.1001-1100#.exr``  a frame range inside the pattern (any token may follow the range)

fileseq's default style reads ``####`` as 4 x 4 = 16 digits, which is never what a plate's name
means, so a run of several ``#`` is re-parsed with one digit per ``#``; a single ``#`` keeps
fileseq's 4. Padding is a minimum width: frame 10000 of ``####`` is ``shot.10000.png``.

Frame ranges (``--frames``) are fileseq ``FrameSet`` strings: ``1001-1100``, ``1001-1100x2``
(every 2nd), ``1001,1003,1005``, ``1001-1010,1020``. Frames must increase: a reversed or
unordered range is an error rather than a silently backwards render (temporal consistency runs
forward in time).

:class:`SequenceReader` streams :class:`~vidstyle.frames.Frame` objects one file at a time and
refuses to start when requested frames are missing; :class:`SequenceWriter` writes each frame
atomically at its own number (output numbers follow input numbers), so a killed render leaves
only whole frames plus hidden temporaries that :meth:`SequenceWriter.cleanup_temporaries`
removes, and :meth:`SequenceWriter.exists` tells a resumed render what is already done.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator, Sequence
from functools import reduce
from pathlib import Path
from typing import TYPE_CHECKING, cast

import cv2
import fileseq
import numpy as np

from vidstyle.errors import UsageError
from vidstyle.frames import Frame, Plate, resize_linear
from vidstyle.io.image import (
    ImageError,
    ImageFormat,
    RawImage,
    as_picture,
    canonical_extension,
    format_for,
    read_raw,
    temporary_target,
    write_image,
    write_raw,
)

if TYPE_CHECKING:
    from vidstyle.io.colour import ColourOptions, PlateColour

__all__ = [
    "SequenceError",
    "SequenceReader",
    "SequenceWriter",
    "format_numbers",
    "parse_frames",
    "parse_pattern",
]

_FRAME_RANGE_HELP = "expected e.g. 1001-1100, 1001-1100x2 or 1001,1003,1005"


class SequenceError(UsageError):
    """A frame pattern, frame range or sequence on disk is unusable. The message says which."""


# The frame-number tokens a pattern may use: #### (or a range followed by #), @, printf %04d, $F4.
_FRAME_TOKEN = re.compile(r"#|@|%0?\d*d|\$F\d*")


def parse_pattern(pattern: str | os.PathLike[str]) -> fileseq.FileSequence:
    """Parse a frame pattern into a ``fileseq.FileSequence`` (see the module docstring for tokens).

    The result's ``frame(n)`` is the path of frame ``n`` and ``frameSet()`` is the range written
    inside the pattern, or None.

    Raises:
        SequenceError: the pattern has no frame token, or cannot be parsed.
    """
    text = os.fspath(pattern)
    try:
        seq = fileseq.FileSequence(text)
        padding = seq.padding()
        if len(padding) > 1 and set(padding) == {"#"}:
            seq = fileseq.FileSequence(text, pad_style=fileseq.PAD_STYLE_HASH1)
    except (fileseq.ParseException, fileseq.FileSeqException, ValueError) as e:
        raise SequenceError(f"cannot parse frame pattern {text!r}: {e}") from e
    # fileseq also reads a bare number as a one-frame range ("render_v2.5.mov", "out0.6.mp4" would be
    # frame 5 and 6 of a sequence): only an explicit token makes a pattern.
    if not padding or not _FRAME_TOKEN.search(os.path.basename(text)):
        raise SequenceError(
            f"{text!r} is not a frame pattern: it has no frame-number token (use e.g. shot.####.png, "
            "shot.%04d.png or shot.@.png)"
        )
    return seq


def parse_frames(spec: str) -> list[int]:
    """Frame numbers of a ``--frames`` spec, in increasing order.

    ``"1001-1005"`` -> [1001, ..., 1005]; ``"1001-1009x2"`` -> [1001, 1003, ..., 1009];
    ``"1001,1003,1005"`` -> [1001, 1003, 1005].

    Raises:
        SequenceError: empty, unparsable, reversed or unordered, sub-frames, or too large.
    """
    text = str(spec).strip()
    if not text:
        raise SequenceError(f"empty frame range {spec!r}: {_FRAME_RANGE_HELP}")
    try:
        frame_set = fileseq.FrameSet(text)
    except fileseq.MaxSizeException as e:
        raise SequenceError(f"frame range {text!r} is too large: {e}") from e
    except (fileseq.ParseException, ValueError) as e:
        raise SequenceError(f"cannot parse frame range {text!r}: {_FRAME_RANGE_HELP}") from e
    frames = list(frame_set)
    if not frames:
        raise SequenceError(f"frame range {text!r} contains no frames: {_FRAME_RANGE_HELP}")
    if not all(isinstance(f, int) for f in frames):
        raise SequenceError(f"frame range {text!r} has sub-frames; only whole frame numbers are supported")
    if any(b <= a for a, b in zip(frames, frames[1:])):
        raise SequenceError(
            f"frame range {text!r} is reversed or out of order: frames must increase "
            f"(write e.g. {min(frames)}-{max(frames)})"
        )
    return cast(list[int], frames)  # all whole numbers: checked above


def format_numbers(numbers: Sequence[int], limit: int = 20) -> str:
    """Compact, readable list of frame numbers: [1004, 1006] -> "1004, 1006"; runs become "8-1000"."""
    runs: list[str] = []
    ordered = sorted(numbers)
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        runs.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    if len(runs) > limit:
        return ", ".join(runs[:limit]) + f", ... ({len(ordered)} frames)"
    return ", ".join(runs)


class SequenceReader:
    """Frames of a numbered sequence on disk, read lazily in frame order.

    Which frames: ``frames`` (a ``--frames`` spec) if given, else the range written in the pattern,
    else every frame found on disk, from the first to the last at their common step (so a sequence
    rendered on twos, 1001, 1003, ..., is whole, but a gap in it is reported). Frames found on
    disk outside the requested range are ignored. Matching is strict about padding: with
    ``shot.####.png``, ``shot.12.png`` is not frame 12 (``shot.0012.png`` is).

    The first frame is read on construction, to report ``width``, ``height``, ``format`` and
    ``has_alpha`` and to fail early. Iterating yields ``Frame(image, index, number, alpha=alpha)``
    with image float32 (H, W, 3) sRGB in [0, 1] and alpha float32 (H, W) or None, reading one
    file per frame; iterating again reads the files again.

    ``colour``: the render's colour options (None: the plain path of :mod:`vidstyle.io.image`).
    With them, an EXR sequence (or any sequence, when an option is given) is colour-managed
    (:mod:`vidstyle.io.colour`): ``colour`` becomes the :class:`~vidstyle.io.colour.PlateColour`
    decided from the first frame, each frame's image is the view of the plate and its ``plate``
    carries the scene-linear pixels to the sink.

    Raises (on construction):
        SequenceError: bad pattern or range; "pattern ... matches no files"; "missing input
            frames: 1004, 1006 (pattern ...)"; first frame unreadable.
    """

    def __init__(self, pattern: str | os.PathLike[str], frames: str | None = None,
                 colour: "ColourOptions | None" = None) -> None:
        self.pattern = os.fspath(pattern)
        self._seq = parse_pattern(self.pattern)
        # Searching needs the pattern without a range in it: rebuild it from its parts.
        search = f"{self._seq.dirname()}{self._seq.basename()}{self._seq.padding()}{self._seq.extension()}"
        try:
            canonical_extension(search)
        except ImageError as e:
            raise SequenceError(f"pattern {self.pattern}: {e}") from e

        if frames is not None:
            requested: list[int] | None = parse_frames(frames)
        elif self._seq.frameSet() is not None:
            requested = parse_frames(self._seq.frameRange())
        else:
            requested = None

        on_disk = self._find_on_disk(search)
        if requested is None:
            requested = _whole_range(on_disk)
        present = set(on_disk)
        missing = [n for n in requested if n not in present]
        if missing:
            raise SequenceError(f"missing input frames: {format_numbers(missing)} (pattern {self.pattern})")
        self.numbers: list[int] = requested

        first = self.path_for(self.numbers[0])
        try:
            raw = read_raw(first)
        except ImageError as e:
            raise SequenceError(f"frame {self.numbers[0]}: {e}") from e
        self.colour: PlateColour | None = None
        if colour is not None:
            from vidstyle.io.colour import plate_colour

            self.colour = plate_colour(colour, raw, os.fspath(first))
        self.format: ImageFormat = raw.format
        self.height, self.width = int(raw.values.shape[0]), int(raw.values.shape[1])
        self.has_alpha: bool = raw.alpha is not None

    def _find_on_disk(self, search: str) -> list[int]:
        folder = Path(self._seq.dirname() or ".")
        if not folder.is_dir():
            raise SequenceError(f"pattern {self.pattern} matches no files (folder {folder} does not exist)")
        try:
            found = fileseq.FileSequence.findSequenceOnDisk(
                search, strictPadding=True, pad_style=self._seq.padStyle()
            )
        except fileseq.FileSeqException as e:
            raise SequenceError(f"pattern {self.pattern} matches no files") from e
        frame_set = found.frameSet()
        numbers = sorted(int(n) for n in frame_set) if frame_set is not None else []
        # findSequenceOnDisk matches names only; a folder called shot.1001.png is not a frame.
        numbers = [n for n in numbers if self.path_for(n).is_file()]
        if not numbers:
            raise SequenceError(f"pattern {self.pattern} matches no files")
        return numbers

    def path_for(self, number: int) -> Path:
        """Path of frame ``number`` (whether or not it exists)."""
        return Path(self._seq.frame(number))

    def __len__(self) -> int:
        return len(self.numbers)

    def __iter__(self) -> Iterator[Frame]:
        for index, number in enumerate(self.numbers):
            try:
                raw = read_raw(self.path_for(number))
            except ImageError as e:
                # Frames before this one were already yielded; the message names the bad file.
                raise SequenceError(f"frame {number}: {e}") from e
            if raw.values.shape[:2] != (self.height, self.width):
                raise SequenceError(
                    f"frame {number}: {self.path_for(number)} is {raw.values.shape[1]}x{raw.values.shape[0]}, "
                    f"but the sequence is {self.width}x{self.height}"
                )
            yield self._frame(raw, index, number)

    def _frame(self, raw: RawImage, index: int, number: int) -> Frame:
        if self.colour is None:
            image, alpha, _ = as_picture(raw)
            return Frame(image=image, index=index, number=number, alpha=alpha)
        image, linear = self.colour.to_working(raw.values)
        return Frame(image=image, index=index, number=number, alpha=raw.alpha, plate=Plate(linear, image))

    def __repr__(self) -> str:
        return f"SequenceReader({self.pattern!r}, {len(self.numbers)} frames, {self.width}x{self.height})"


def _whole_range(numbers: list[int]) -> list[int]:
    """First to last of ``numbers`` at their common step: [1001, 1003, 1007] -> 1001..1007 by 2."""
    if len(numbers) < 2:
        return list(numbers)
    step = reduce(math.gcd, (b - a for a, b in zip(numbers, numbers[1:])))
    return list(range(numbers[0], numbers[-1] + 1, step))


class SequenceWriter:
    """Writes frames to a numbered sequence, one atomic file per frame.

    Args:
        pattern: output pattern; its token may differ from the input's (``####`` in, ``%05d``
            out). A range written inside it is ignored: each frame is written at ``frame.number``.
        fmt: usually the reader's :attr:`SequenceReader.format`. Kept (bit depth, half/float) when
            the output extension is the same; otherwise the output extension's default is used
            (see :mod:`vidstyle.io.image`).
        size: ``(width, height)`` of the plate. Frames of another size (the optimiser may work
            smaller) are resized back to it, so the output matches the plate: INTER_AREA when
            shrinking, INTER_CUBIC (clipped to [0, 1]) when enlarging. Alpha of the right size is
            written unchanged; alpha of another size is resized the same way.
        colour: a colour-managed input's :class:`~vidstyle.io.colour.PlateColour` (its output side
            chosen). A frame carrying its :class:`~vidstyle.frames.Plate` is then written with the
            plate's dynamic range: restored (:meth:`PlateColour.restore`) at the size it was
            stylised at, from the plate brought to that size the way the engine brought its image
            (so an unstylised frame is the plate exactly), resized to the plate's size without
            clipping (area when shrinking, bilinear when enlarging: cubic would ring around
            highlights of 16.0), converted to the output colour space and stored as is.

    The output folder is created on the first write.
    """

    def __init__(
        self,
        pattern: str | os.PathLike[str],
        fmt: ImageFormat | None = None,
        size: tuple[int, int] | None = None,
        colour: "PlateColour | None" = None,
    ) -> None:
        self.pattern = os.fspath(pattern)
        self.colour = colour
        self._seq = parse_pattern(self.pattern)
        try:
            self.format: ImageFormat = format_for(self.path_for(0), like=fmt)
        except ImageError as e:
            raise SequenceError(f"output pattern {self.pattern}: {e}") from e
        if size is not None:
            width, height = (int(v) for v in size)
            if width <= 0 or height <= 0:
                raise SequenceError(f"output size must be positive (width, height), got {size}")
            size = (width, height)
        self.size: tuple[int, int] | None = size

    def path_for(self, number: int) -> Path:
        """Path of output frame ``number``."""
        return Path(self._seq.frame(number))

    def exists(self, number: int) -> bool:
        """True if output frame ``number`` is finished (temporaries do not count, nor empty files)."""
        path = self.path_for(number)
        return path.is_file() and path.stat().st_size > 0

    def write(self, frame: Frame) -> Path:
        """Write ``frame.image`` (and ``frame.alpha``) as output frame ``frame.number``; returns its path.

        Raises:
            SequenceError: the image could not be written (message names the file).
        """
        image, alpha = frame.image, frame.alpha
        if self.size is not None:
            target = (self.size[1], self.size[0])
        else:
            target = tuple(image.shape[:2])
        if alpha is not None and alpha.shape != target:
            alpha = _resize(alpha, target)
        path = self.path_for(frame.number)
        colour = self.colour
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if colour is not None and frame.plate is not None and colour.output_colorspace is not None:
                restored = colour.restore_at(frame.plate, image)
                values = colour.to_output(resize_linear(restored, (target[1], target[0])))
                return write_raw(path, values, alpha, self.format, colour.output_chromaticities)
            if image.shape[:2] != target:
                image = _resize(image, target)
            return write_image(path, image, alpha, self.format)
        except (ImageError, OSError) as e:
            raise SequenceError(f"frame {frame.number}: {e}") from e

    def read_back(self, number: int) -> np.ndarray:
        """Output frame ``number`` as a display-referred image (what was stylised), for a resume
        that has no saved state: through the colour pipeline when there is one."""
        raw = read_raw(self.path_for(number))
        if self.colour is not None and self.colour.output_colorspace is not None:
            return self.colour.from_output(raw.values)
        return as_picture(raw)[0]

    def cleanup_temporaries(self) -> list[Path]:
        """Delete temporaries of this pattern left by a killed run; returns what was removed.

        Only names of the form ``.<frame file name>.tmp-<pid><ext>`` whose frame file name fits
        this pattern are touched. Call it before writing, not while another process writes the
        same pattern (its in-flight temporaries would be deleted too).
        """
        folder = Path(self._seq.dirname() or ".")
        if not folder.is_dir():
            return []
        removed = []
        for entry in folder.iterdir():
            target = temporary_target(entry)
            if target is not None and self._is_frame_name(target.name) and entry.is_file():
                entry.unlink(missing_ok=True)
                removed.append(entry)
        return sorted(removed)

    def _is_frame_name(self, name: str) -> bool:
        """Whether ``name`` is exactly the file name this pattern gives some frame number."""
        base, ext = self._seq.basename(), self._seq.extension()
        if not (name.startswith(base) and name.endswith(ext)) or len(name) <= len(base) + len(ext):
            return False
        digits = name[len(base): len(name) - len(ext)]
        if not digits.lstrip("-").isdigit():
            return False
        return self.path_for(int(digits)).name == name

    def __repr__(self) -> str:
        return f"SequenceWriter({self.pattern!r}, {self.format}, size={self.size})"


def _resize(pixels: np.ndarray, target_hw: tuple[int, int]) -> np.ndarray:
    """Resize float32 (H, W) or (H, W, C) to ``target_hw``: area when shrinking, cubic otherwise."""
    height, width = target_hw
    shrinking = height <= pixels.shape[0] and width <= pixels.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    resized = cv2.resize(np.ascontiguousarray(pixels, dtype=np.float32), (width, height),
                         interpolation=interpolation)
    return np.clip(resized, 0.0, 1.0)  # cubic overshoots at edges
