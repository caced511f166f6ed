"""Sources and sinks behind one interface, so a video file and a frame sequence are the same to the
pipeline: video in → video out, sequence in → sequence out, and either crossed (``--fps`` for a
sequence becoming a video).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator, Protocol, runtime_checkable

from ..config import CODEC, CRF, PIX_FMT
from ..frames import Frame
from .sequence import SequenceError, SequenceReader, SequenceWriter, parse_pattern
from .video import VideoReader, VideoWriter

if TYPE_CHECKING:
    import numpy as np

    from .colour import ColourOptions, PlateColour


__all__ = ["SequenceSink", "Sink", "Source", "VideoSink", "is_pattern", "open_sink", "open_source"]


def is_pattern(spec: str | os.PathLike) -> bool:
    """True for a frame-sequence pattern (``shot.####.png``, ``%04d``, ``@``, ``1001-1100#``)."""
    try:
        parse_pattern(spec)
    except SequenceError:
        return False
    return True


@dataclass
class Source:
    """Frames to stylise and what a sink needs to know about them."""

    frames: Iterable[Frame]
    width: int
    height: int
    fps: Fraction | None  # None for sequences (no timing of their own)
    time_base: Fraction | None
    count: int | None  # frames expected, when known
    is_sequence: bool
    path: str
    reader: SequenceReader | VideoReader  # for details (skipped frames, format, numbers, audio)

    @property
    def audio_path(self) -> str | None:
        """The file whose sound track a video made from this source carries: the input itself when
        it is a video with audio, else None."""
        return self.path if isinstance(self.reader, VideoReader) and self.reader.info.has_audio else None

    @property
    def colour(self) -> "PlateColour | None":
        """The colour pipeline of a colour-managed sequence (:mod:`vidstyle.io.colour`), else None."""
        return self.reader.colour if isinstance(self.reader, SequenceReader) else None


def open_source(spec: str | os.PathLike, frames: str | None = None, colour: "ColourOptions | None" = None) -> Source:
    """Open a video file or a frame-sequence pattern; ``frames`` (``1001-1100x2``) only for sequences.

    ``colour``: the render's colour options; a sequence is then colour-managed where
    :mod:`vidstyle.io.colour` says (always for EXR). None: the plain path, as before colour
    management (deflicker and the other callers that only need pictures)."""
    spec = os.fspath(spec)
    if is_pattern(spec):
        sequence = SequenceReader(spec, frames, colour=colour)
        return Source(iter(sequence), sequence.width, sequence.height, None, None, len(sequence), True, spec, sequence)
    if frames:
        raise ValueError("--frames selects frames of a sequence pattern; the input is a video file")
    if colour is not None and colour.given:
        raise ValueError("--colorspace, --output-colorspace, --display and --view apply to image sequences and stills; "
                         "a video file's decoded pixels are display-referred already")
    video = VideoReader(spec)
    info = video.info
    return Source(_video_frames(video), info.width, info.height, info.fps, info.time_base, info.frame_count, False, spec, video)


def _video_frames(reader: VideoReader) -> Iterator[Frame]:
    with reader:
        yield from reader


@runtime_checkable
class Sink(Protocol):
    """Where the frame loop puts its frames, in order.

    - ``resumable``: every frame is final once written (a frame sequence), so a rerun may skip the
      frames that :meth:`exists` finds; False for a file that appears only when closed (a video).
    - :meth:`path_for`: the file that holds (or will hold) frame ``number``; None when frames are not
      files of their own.
    - :meth:`close` finishes the output; :meth:`abort` is called instead after a failure or an
      interrupt and leaves no partial file (what is final, a sequence's frames, stays).
    """

    resumable: bool

    def write(self, frame: Frame) -> None: ...
    def exists(self, number: int) -> bool: ...
    def path_for(self, number: int) -> str | None: ...
    def close(self) -> None: ...
    def abort(self) -> None: ...


class SequenceSink:
    """A :class:`SequenceWriter` with the sink interface; every frame is final once written."""

    resumable = True

    def __init__(self, writer: SequenceWriter):
        self.writer = writer

    def write(self, frame: Frame) -> None:
        self.writer.write(frame)

    def exists(self, number: int) -> bool:
        return self.writer.exists(number)

    def path_for(self, number: int) -> str | None:
        return os.fspath(self.writer.path_for(number))

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass  # finished frames are kept: that is what makes a render resumable

    def read_back(self, number: int) -> "np.ndarray":
        """Finished frame ``number`` as the display-referred image it was stylised as."""
        return self.writer.read_back(number)


class VideoSink:
    """A :class:`VideoWriter`; the file appears only when closed."""

    resumable = False

    def __init__(self, writer: VideoWriter):
        self.writer = writer

    def write(self, frame: Frame) -> None:
        self.writer.write(frame)

    def exists(self, number: int) -> bool:
        return False

    def path_for(self, number: int) -> str | None:
        return None

    def close(self) -> None:
        self.writer.close()

    def abort(self) -> None:
        self.writer.abort()


def open_sink(
    spec: str | os.PathLike,
    source: Source,
    size: tuple[int, int],
    *,
    fps: Fraction | None = None,
    codec: str = CODEC,
    crf: int = CRF,
    pix_fmt: str = PIX_FMT,
    preset: str | None = None,
    output_colorspace: str | None = None,
) -> SequenceSink | VideoSink:
    """The sink for ``spec``: a sequence pattern or a video file.

    Sequences keep the source plate's size and format (bit depth, alpha) when the source is a
    sequence; a video sink encodes at the working ``size`` with the source's timing and audio.
    A colour-managed source's sequence is written in ``output_colorspace`` (None: the default of
    :meth:`vidstyle.io.colour.PlateColour.for_output`) with the plate's dynamic range; a video gets
    the display-referred stylised frames (the view).
    """
    spec = os.fspath(spec)
    if is_pattern(spec):
        plate = (source.width, source.height) if source.is_sequence else size
        fmt = source.reader.format if isinstance(source.reader, SequenceReader) else None
        frames_out = SequenceWriter(spec, fmt=fmt, size=plate)
        if source.colour is not None:
            frames_out.colour = source.colour.for_output(output_colorspace, frames_out.format)
        return SequenceSink(frames_out)
    if output_colorspace is not None:
        raise ValueError("--output-colorspace applies to image and sequence outputs; a video gets the display-referred view")
    rate = fps or source.fps
    if rate is None:
        raise ValueError("a frame sequence has no frame rate of its own: give --fps to write a video")
    audio = source.audio_path
    time_base = None if fps is not None else source.time_base
    writer = VideoWriter(Path(spec), size[0], size[1], rate, time_base=time_base, codec=codec, crf=crf, pix_fmt=pix_fmt, preset=preset,
                         audio_from=audio)
    return VideoSink(writer)
