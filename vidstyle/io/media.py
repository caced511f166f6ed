"""Sources and sinks behind one interface, so a video file and a frame sequence are the same to the
pipeline: video in → video out, sequence in → sequence out, and either crossed (``--fps`` for a
sequence becoming a video).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator, Protocol

from ..frames import Frame
from .sequence import SequenceError, SequenceReader, SequenceWriter, parse_pattern
from .video import VideoReader, VideoWriter


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
    reader: object  # VideoReader or SequenceReader, for details (skipped frames, format, numbers)


def open_source(spec: str | os.PathLike, frames: str | None = None) -> Source:
    """Open a video file or a frame-sequence pattern; ``frames`` (``1001-1100x2``) only for sequences."""
    spec = os.fspath(spec)
    if is_pattern(spec):
        reader = SequenceReader(spec, frames)
        return Source(iter(reader), reader.width, reader.height, None, None, len(reader), True, spec, reader)
    if frames:
        raise ValueError("--frames selects frames of a sequence pattern; the input is a video file")
    reader = VideoReader(spec)
    info = reader.info
    return Source(_video_frames(reader), info.width, info.height, info.fps, info.time_base, info.frame_count, False, spec, reader)


def _video_frames(reader: VideoReader) -> Iterator[Frame]:
    with reader:
        yield from reader


class Sink(Protocol):
    def write(self, frame: Frame) -> None: ...
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

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass  # finished frames are kept: that is what makes a render resumable


class VideoSink:
    """A :class:`VideoWriter`; the file appears only when closed."""

    resumable = False

    def __init__(self, writer: VideoWriter):
        self.writer = writer

    def write(self, frame: Frame) -> None:
        self.writer.write(frame)

    def exists(self, number: int) -> bool:
        return False

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
    codec: str = "libx264",
    crf: int = 18,
    pix_fmt: str = "yuv420p",
) -> SequenceSink | VideoSink:
    """The sink for ``spec``: a sequence pattern or a video file.

    Sequences keep the source plate's size and format (bit depth, alpha) when the source is a
    sequence; a video sink encodes at the working ``size`` with the source's timing and audio.
    """
    spec = os.fspath(spec)
    if is_pattern(spec):
        plate = (source.width, source.height) if source.is_sequence else size
        fmt = source.reader.format if source.is_sequence else None
        return SequenceSink(SequenceWriter(spec, fmt=fmt, size=plate))
    rate = fps or source.fps
    if rate is None:
        raise ValueError("a frame sequence has no frame rate of its own: give --fps to write a video")
    audio = source.path if not source.is_sequence and source.reader.info.has_audio else None
    time_base = None if fps is not None else source.time_base
    writer = VideoWriter(Path(spec), size[0], size[1], rate, time_base=time_base, codec=codec, crf=crf, pix_fmt=pix_fmt, audio_from=audio)
    return VideoSink(writer)
