"""Video files in and out, through PyAV (FFmpeg).

- :func:`probe` reads what the pipeline needs to know about a file (display size, rate, time base,
  rotation, audio) without decoding more than one frame.
- :class:`VideoReader` streams decoded frames as :class:`~vidstyle.frames.Frame` records: float32 RGB
  in [0, 1], turned upright, each carrying its real timestamp (so variable-frame-rate video keeps its
  timing). A damaged stream is decoded as far as it goes; what was lost is counted and warned about.
- :class:`VideoWriter` encodes frames back, reproducing the caller's timestamps, copying the source's
  audio packets unchanged, and only ever showing the finished file: it writes a hidden temporary file
  next to the target and renames it into place on :meth:`VideoWriter.close`.

Every problem with a file the user named is raised as :class:`MediaError`, one line naming the file.
"""

from __future__ import annotations

import os
import warnings
import weakref
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator, Mapping, cast

import av
import numpy as np

from vidstyle.config import CODEC, CRF, ENCODER_PRESETS, PIX_FMT
from vidstyle.errors import UsageError
from vidstyle.frames import Frame, to_float, to_uint8

__all__ = [
    "MediaError",
    "MediaWarning",
    "VideoInfo",
    "VideoReader",
    "VideoWriter",
    "apply_rotation",
    "count_frames",
    "probe",
]

# Encoders whose quality knob is a constant rate factor ("crf" codec option).
_CRF_CODECS = {"libx264", "libx264rgb", "libx265", "libsvtav1", "libaom-av1", "libvpx-vp9"}
# The encoders whose "preset" option takes x264's names (config.ENCODER_PRESETS).
_PRESET_CODECS = {"libx264", "libx264rgb", "libx265"}

# Container/stream tags that describe the old file's muxing, not its content: never carried over.
_TECHNICAL_TAGS = {
    "major_brand", "minor_version", "compatible_brands", "encoder", "duration", "vendor_id",
    "bps", "number_of_frames", "number_of_bytes", "_statistics_writing_app",
    "_statistics_writing_date_utc", "_statistics_tags", "rotate",
}

_AVFMT_VARIABLE_FPS = 0x0400  # container flag: can store variable frame rate (MP4, MKV, MOV, TS; not AVI)
_AV_COL_BT709 = 1  # AVCOL_SPC_BT709 == AVCOL_PRI_BT709 == AVCOL_TRC_BT709 == 1 in FFmpeg's enums


class MediaError(UsageError):
    """A media file is missing, unreadable or unsuitable; the message names the file and the problem."""


class MediaWarning(UserWarning):
    """Something was lost or changed while reading or writing media (damaged frames, padding)."""


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe` learns about a video file.

    Attributes:
        width, height: display size in pixels, after rotation (what :class:`VideoReader` yields).
        fps: average frame rate (the container's, else FFmpeg's guess); nominal for VFR video.
        time_base: seconds per pts unit of the video stream.
        frame_count: frames the container says it holds, or None where it does not say (Matroska,
            WebM, MPEG-TS).
        duration: seconds, or None when unknown.
        rotation: degrees counter-clockwise the decoded picture must turn to stand upright
            (0, 90, 180 or 270; PyAV's ``VideoFrame.rotation`` convention).
        has_audio: whether the file has at least one audio stream.
        codec: decoder name of the video stream (e.g. "h264").
    """

    width: int
    height: int
    fps: Fraction
    time_base: Fraction
    frame_count: int | None
    duration: float | None
    rotation: int
    has_audio: bool
    codec: str


# --------------------------------------------------------------------------------------------------
# opening files
# --------------------------------------------------------------------------------------------------


def _check_input_file(path: str | os.PathLike) -> Path:
    p = Path(path)
    if not p.exists():
        raise MediaError(f"{p}: no such file")
    if p.is_dir():
        raise MediaError(f"{p}: is a directory, not a video file")
    if p.stat().st_size == 0:
        raise MediaError(f"{p}: file is empty (0 bytes)")
    return p


def _open_input(path: str | os.PathLike) -> tuple[Path, av.container.InputContainer]:
    p = _check_input_file(path)
    try:
        container = av.open(str(p), "r")
    except av.error.InvalidDataError:
        raise MediaError(
            f"{p}: not a media file FFmpeg can read (or it is truncated before its index)"
        ) from None
    except (av.FFmpegError, OSError) as e:
        raise MediaError(f"{p}: cannot open: {e}") from None
    return p, container


def _is_cover_art(stream: av.stream.Stream) -> bool:
    # MP3/M4A cover art is a one-picture "video" stream flagged attached_pic: not a video.
    return bool(int(stream.disposition) & int(av.stream.Disposition.attached_pic))


def _video_stream(container: av.container.InputContainer, p: Path) -> av.video.stream.VideoStream:
    for stream in container.streams.video:
        if not _is_cover_art(stream):
            return stream
    if container.streams.audio:
        raise MediaError(f"{p}: has no video stream (audio only)")
    raise MediaError(f"{p}: has no video stream")


# --------------------------------------------------------------------------------------------------
# rotation
# --------------------------------------------------------------------------------------------------


def _frame_rotation(frame: av.VideoFrame, stream: av.video.stream.VideoStream) -> int:
    """Counter-clockwise degrees (0/90/180/270) that make ``frame`` upright.

    FFmpeg attaches the container's display matrix to every decoded frame (``frame.rotation``); files
    from old muxers may instead carry a ``rotate`` tag, which counts clockwise.
    """
    degrees = frame.rotation
    if degrees == 0:
        tag = stream.metadata.get("rotate")
        if tag is not None:
            try:
                degrees = -int(float(tag))
            except ValueError:
                degrees = 0
    return int(round(degrees / 90.0)) % 4 * 90


def apply_rotation(image: np.ndarray, degrees: int) -> np.ndarray:
    """Turn ``image`` (H, W, ...) counter-clockwise by ``degrees`` (a multiple of 90).

    Returns (H, W, ...) for 0/180 and (W, H, ...) for 90/270, contiguous.
    """
    if degrees % 90:
        raise ValueError(f"rotation must be a multiple of 90 degrees, got {degrees}")
    k = (degrees // 90) % 4
    if k == 0:
        return image
    return np.ascontiguousarray(np.rot90(image, k=k, axes=(0, 1)))


# --------------------------------------------------------------------------------------------------
# probe
# --------------------------------------------------------------------------------------------------


def _stream_rate(stream: av.video.stream.VideoStream) -> Fraction | None:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            return Fraction(rate)
    return None


def probe(path: str | os.PathLike) -> VideoInfo:
    """Describe the first video stream of ``path``.

    Decodes at most one frame (rotation lives in the display matrix FFmpeg attaches to frames).

    Raises:
        MediaError: missing, empty or unreadable file, or no video stream.
    """
    p, container = _open_input(path)
    with container:
        stream = _video_stream(container, p)
        time_base = Fraction(stream.time_base) if stream.time_base else Fraction(1, 90000)
        fps = _stream_rate(stream) or Fraction(25)  # FFmpeg's own fallback when nothing is known
        width, height = stream.codec_context.width, stream.codec_context.height
        rotation = 0
        try:
            for frame in container.decode(stream):
                rotation = _frame_rotation(frame, stream)
                width, height = frame.width, frame.height
                break
        except av.FFmpegError:
            pass  # a damaged first frame: VideoReader will say so; the header sizes stand
        if not width or not height:
            raise MediaError(f"{p}: video stream has no picture size (damaged file?)")
        if rotation in (90, 270):
            width, height = height, width
        if stream.duration is not None and stream.duration > 0:
            duration: float | None = float(stream.duration * time_base)
        elif container.duration is not None and container.duration > 0:
            duration = container.duration / av.time_base
        else:
            duration = None
        return VideoInfo(
            width=int(width),
            height=int(height),
            fps=fps,
            time_base=time_base,
            frame_count=int(stream.frames) if stream.frames else None,
            duration=duration,
            rotation=rotation,
            has_audio=bool(container.streams.audio),
            codec=stream.codec_context.name,
        )


# --------------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------------


def count_frames(path: str | os.PathLike) -> int | None:
    """Frames of the video stream counted by demuxing its packets (no decoding): for containers
    whose header gives no count (Matroska, MPEG-TS, a still read as a one-frame video), where a
    command has to know the length before it starts. One packet is one frame for the codecs
    people deliver (H.264, HEVC, ProRes, MJPEG, VP9, AV1); None where the file cannot be read to
    the end (the decoder will name the problem then)."""
    p, container = _open_input(path)
    try:
        with container:
            stream = _video_stream(container, p)
            return sum(1 for packet in container.demux(stream) if packet.size)
    except av.FFmpegError:
        return None


def _subsampled(fmt: av.VideoFormat) -> tuple[bool, bool]:
    """Whether ``fmt`` halves chroma (horizontally, vertically), as yuv420p does both."""
    probe_fmt = av.VideoFormat(fmt.name, 3, 3)
    chroma = [c for c in probe_fmt.components if c.is_chroma]
    if not chroma:
        return False, False
    return chroma[0].width < 3, chroma[0].height < 3


def _to_rgb_float(frame: av.VideoFrame) -> np.ndarray:
    """Decoded frame -> float32 (H, W, 3) RGB in [0, 1].

    Subsampled YUV is first upsampled to 4:4:4: swscale's direct yuv420p->RGB path rounds low (a
    bias of about -1/255 on every channel, measured), its 4:4:4 path does not. High-bit-depth video
    goes through 16 bits so no precision is thrown away. The frame's own colour tags (matrix, range)
    drive the conversion; untagged video gets swscale's defaults.
    """
    deep = frame.format.components[0].bits > 8
    color_range = frame.color_range or None  # None: untagged, swscale's default (limited)
    if not frame.format.is_rgb and any(_subsampled(frame.format)):
        frame = frame.reformat(format="yuv444p16le" if deep else "yuv444p",
                               src_color_range=color_range, dst_color_range=color_range)
    array = frame.to_ndarray(format="rgb48le" if deep else "rgb24", src_color_range=color_range)
    return to_float(array)


class _TimestampGuess:
    """Pick each decoded frame's time from its pts or its dts, whichever has been more reliable.

    Containers without presentation timestamps (AVI) hand the decoder dts-like values, so after
    B-frame reordering ``frame.pts`` jumps back and forth while ``frame.dts`` climbs steadily. Count
    how often each went backwards and trust the one that did so less (FFmpeg's best-effort timestamp
    follows the same rule; PyAV does not expose it).
    """

    def __init__(self) -> None:
        self.last_pts: int | None = None
        self.last_dts: int | None = None
        self.bad_pts = 0
        self.bad_dts = 0

    def guess(self, pts: int | None, dts: int | None) -> int | None:
        if dts is not None:
            self.bad_dts += self.last_dts is not None and dts <= self.last_dts
            self.last_dts = dts
        if pts is not None:
            self.bad_pts += self.last_pts is not None and pts <= self.last_pts
            self.last_pts = pts
        if pts is not None and (self.bad_pts <= self.bad_dts or dts is None):
            return pts
        return dts


class VideoReader:
    """Stream the frames of a video file.

    Usage::

        with VideoReader("clip.mp4") as reader:
            for frame in reader:          # Frame(image float32 (H, W, 3) RGB [0,1], index, pts, ...)
                ...

    Frames are decoded one at a time (memory does not grow with the video). Each carries the stream's
    real pts and time base, so variable-frame-rate timing survives; a frame the decoder gives no pts
    gets the previous pts plus one nominal frame. Images are turned upright per the display matrix, so
    ``frame.image`` is (info.height, info.width, 3).

    A damaged stream is decoded as far as it goes: packets the decoder rejects are skipped, and after
    the last frame ``skipped`` says how many frames were lost (against the container's frame count
    where it has one, otherwise the number of rejected packets) and a :class:`MediaWarning` is issued.
    Iterating again starts again from the first frame.

    Attributes:
        path: the file.
        info: its :class:`VideoInfo` (from :func:`probe`).
        decoded: frames yielded by the last (or current) pass.
        skipped: frames lost to decode errors in the last completed pass.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.info = probe(self.path)
        self.decoded = 0
        self.skipped = 0
        self._active: av.container.InputContainer | None = None

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stop a pass in progress and release the file."""
        if self._active is not None:
            self._active.close()
            self._active = None

    def __iter__(self) -> Iterator[Frame]:
        self.close()
        _, container = _open_input(self.path)
        self._active = container
        try:
            yield from self._decode(container)
        finally:
            container.close()
            if self._active is container:
                self._active = None

    def _decode(self, container: av.container.InputContainer) -> Iterator[Frame]:
        stream = _video_stream(container, self.path)
        stream.thread_type = "AUTO"  # frame + slice threads: several times faster on long GOPs
        time_base = self.info.time_base
        step = max(1, round(1 / (self.info.fps * time_base)))  # one nominal frame, in pts units
        self.decoded = 0
        self.skipped = 0
        errors = 0
        first_error: str | None = None
        demux_error: str | None = None
        prev_pts: int | None = None
        clock = _TimestampGuess()

        def frames_of(decoded) -> Iterator[Frame]:
            nonlocal prev_pts
            for vf in decoded:
                pts = clock.guess(vf.pts, vf.dts)
                if pts is None or (prev_pts is not None and pts <= prev_pts):
                    # No usable timestamp (or one going backwards in a broken file): one nominal
                    # frame after the last, so sinks always see increasing times.
                    pts = 0 if prev_pts is None else prev_pts + step
                prev_pts = pts
                image = apply_rotation(_to_rgb_float(vf), _frame_rotation(vf, stream))
                frame = Frame(image=image, index=self.decoded, number=self.decoded, pts=pts,
                              time_base=time_base)
                self.decoded += 1
                yield frame

        packets = container.demux(stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except av.FFmpegError as e:  # the container itself is damaged past this point
                demux_error = str(e)
                break
            try:
                decoded = packet.decode()  # the last (empty) packet flushes the decoder
            except av.FFmpegError as e:
                errors += 1
                first_error = first_error or str(e)
                continue
            yield from frames_of(decoded)
        if demux_error is not None:
            try:  # the demuxer stopped before its flush packet: drain the decoder ourselves
                decoded = stream.codec_context.decode(None)
            except av.FFmpegError:
                decoded = []
            yield from frames_of(decoded)
        self._report(errors, first_error, demux_error)

    def _report(self, errors: int, first_error: str | None, demux_error: str | None) -> None:
        expected = self.info.frame_count
        self.skipped = max(expected - self.decoded, 0) if expected else errors
        problems = []
        if self.skipped:
            problems.append(f"{self.skipped} frame(s) could not be decoded")
        elif errors:
            problems.append(f"the decoder rejected {errors} packet(s)")
        if first_error:
            problems.append(f"first error: {first_error}")
        if demux_error:
            problems.append(f"reading stopped early: {demux_error}")
        if not expected and self.info.duration and not demux_error:
            # No frame count in the header (Matroska, TS): the duration still shows a cut-off file.
            estimate = round(self.info.duration * float(self.info.fps))
            if self.decoded < 0.9 * estimate - 1:
                problems.append(f"stream ended after {self.decoded} of about {estimate} frames")
        if problems:
            warnings.warn(f"{self.path}: " + "; ".join(problems), MediaWarning, stacklevel=3)


# --------------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------------


def _partial_path(path: Path) -> Path:
    # Same folder (so os.replace is an atomic rename) and same extension (FFmpeg picks the
    # container from it); hidden so a half-written file is not mistaken for a result.
    return path.with_name(f".{path.stem}.partial{path.suffix}")


def _remove(path: Path) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def _as_fraction(value, what: str) -> Fraction:
    try:
        f = Fraction(value).limit_denominator(1_000_000) if isinstance(value, float) else Fraction(value)
    except (TypeError, ValueError):
        raise MediaError(f"{what} must be a number, got {value!r}") from None
    if f <= 0:
        raise MediaError(f"{what} must be > 0, got {value}")
    return f


def _public_tags(tags: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in tags.items() if k.lower() not in _TECHNICAL_TAGS}


class VideoWriter:
    """Encode frames into a video file, optionally copying another file's audio.

    Args:
        path: output file; the container follows the extension (.mp4, .mkv, .mov, .webm, ...).
        width, height: size of the frames that will be written (Frame.image is (height, width, 3)).
        fps: nominal frame rate (Fraction, int or float); the encoder's rate control uses it and
            frames without a pts are spaced by it.
        time_base: seconds per pts unit of the output stream. None: the first frame's time base,
            else 1/fps. Pass the source's time base to reproduce its timestamps exactly.
        codec: any FFmpeg encoder (libx264, libx265, libvpx-vp9, mpeg4, ffv1, ...).
        crf: constant rate factor, given only to encoders that have one (x264/x265/VP9/AV1).
        pix_fmt: encoder pixel format (yuv420p; bgr0 or yuv444p with ffv1 for lossless work).
        audio_from: a media file whose audio streams are copied packet for packet (no re-encode),
            together with its container tags (title, ...) and stream languages.
        metadata: container tags to set (win over those carried from ``audio_from``).
        preset: x264/x265 speed preset (``config.ENCODER_PRESETS``; None: the encoder's own, medium).
            Refused for other encoders, whose speed options differ, rather than silently ignored.

    Odd sizes: pixel formats with subsampled chroma (yuv420p needs even width and height, yuv422p an
    even width) are encoded one pixel larger, the last column/row repeated (edge padding), so no
    picture is lost; ``encoded_size`` tells the size in the file. Other formats keep the exact size.

    Timestamps: a frame's pts (rescaled from its own time base when it differs) is used as is, so the
    output has the input's frame count, rate, timestamps and duration; frames without pts follow the
    last one by 1/fps. Timestamps must increase. Containers that cannot store variable frame rate
    (AVI) get the 1/fps time base, so timestamps snap to that grid there.

    The file appears only when :meth:`close` succeeds: frames go to ``.{name}.partial{ext}`` next to
    ``path``, renamed over ``path`` at the end. :meth:`abort`, an exception inside ``with``, or any
    failure removes the partial file. Frame alpha is ignored (these codecs carry no alpha here).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        width: int,
        height: int,
        fps: Fraction | int | float,
        time_base: Fraction | None = None,
        codec: str = CODEC,
        crf: int | None = CRF,
        pix_fmt: str = PIX_FMT,
        audio_from: str | os.PathLike | None = None,
        metadata: Mapping[str, str] | None = None,
        preset: str | None = None,
    ):
        self.path = Path(path)
        if not (isinstance(width, (int, np.integer)) and isinstance(height, (int, np.integer))) \
                or width <= 0 or height <= 0:
            raise MediaError(f"{self.path}: frame size must be positive integers, got {width}x{height}")
        self.width, self.height = int(width), int(height)
        self.fps = _as_fraction(fps, f"{self.path}: fps")
        self._time_base = _as_fraction(time_base, f"{self.path}: time_base") if time_base is not None else None
        if self.path.is_dir():
            raise MediaError(f"{self.path}: is a directory")
        if not self.path.parent.is_dir():
            raise MediaError(f"{self.path}: folder {self.path.parent} does not exist")

        try:
            encoder = av.Codec(codec, "w")
        except (av.codec.codec.UnknownCodecError, ValueError):
            raise MediaError(f"{self.path}: unknown video encoder {codec!r}") from None
        if encoder.type != "video":
            raise MediaError(f"{self.path}: {codec!r} is a {encoder.type} encoder, not a video encoder")
        try:
            fmt = av.VideoFormat(pix_fmt)
        except (ValueError, av.FFmpegError):
            raise MediaError(f"{self.path}: unknown pixel format {pix_fmt!r}") from None
        supported = [f.name for f in (encoder.video_formats or [])]
        if supported and pix_fmt not in supported:
            raise MediaError(
                f"{self.path}: encoder {codec} cannot take pixel format {pix_fmt}; it takes "
                + ", ".join(supported[:8]) + (" ..." if len(supported) > 8 else "")
            )
        if preset is not None and codec not in _PRESET_CODECS:
            raise MediaError(f"{self.path}: an encoder preset is for {', '.join(sorted(_PRESET_CODECS))}; {codec} has none")
        if preset is not None and preset not in ENCODER_PRESETS:
            raise MediaError(f"{self.path}: unknown encoder preset {preset!r}; expected one of {', '.join(ENCODER_PRESETS)}")
        self.codec, self.pix_fmt, self.crf, self.preset = codec, pix_fmt, crf, preset
        self._rgb_format = fmt.is_rgb
        self._deep = fmt.components[0].bits > 8

        # Halved chroma needs an even number of luma pixels in that direction.
        half_w, half_h = _subsampled(fmt)
        self._chroma_subsampled = half_w or half_h
        self._pad_w = int(half_w and self.width % 2)
        self._pad_h = int(half_h and self.height % 2)
        self.encoded_size = (self.width + self._pad_w, self.height + self._pad_h)

        self._tmp = _partial_path(self.path)
        _remove(self._tmp)  # a leftover from a crashed run
        # Whatever happens to this object (crash, forgotten close), no partial file survives it.
        self._finalizer = weakref.finalize(self, _remove, self._tmp)
        self._container: av.container.OutputContainer | None = None
        self._audio_src: av.container.InputContainer | None = None
        self._audio_packets: Iterator[av.Packet[Any]] | None = None
        self._pending_audio: av.Packet | None = None
        self._audio_map: dict[int, av.stream.Stream] = {}
        self._stream: av.video.stream.VideoStream | None = None
        self._started = False
        self._last_pts: int | None = None
        self.frames_written = 0
        self.closed = False
        try:
            self._open(encoder, audio_from, metadata)
        except BaseException:
            self._discard()
            raise

    # ---- setup ------------------------------------------------------------------------------------

    def _open(self, encoder: av.Codec, audio_from, metadata) -> None:
        try:
            self._container = av.open(str(self._tmp), "w")
        except ValueError:
            raise MediaError(
                f"{self.path}: cannot tell the container format from the extension {self.path.suffix!r}"
            ) from None
        out = self._container
        try:
            # A video stream: the encoder was checked to be a video encoder in __init__.
            stream = cast("av.video.stream.VideoStream", out.add_stream(encoder.name, rate=self.fps))
        except ValueError as e:
            raise MediaError(f"{self.path}: {e}") from None
        stream.width, stream.height = self.encoded_size
        stream.pix_fmt = self.pix_fmt
        options: dict[str, object] = {}  # the type of Stream.options
        if self.crf is not None and self.codec in _CRF_CODECS:
            options["crf"] = str(int(self.crf))
            if self.codec == "libvpx-vp9":
                options["b"] = "0"  # VP9 is constant-quality only when the bitrate is left open
        if self.preset is not None:
            options["preset"] = self.preset
        if self.codec == "libx265":
            options["x265-params"] = "log-level=error"
        if self._chroma_subsampled:
            # swscale places subsampled chroma at the centre of each 2x2 block; H.264/HEVC decoders
            # assume "left" unless told, which shifts colour edges by half a pixel on read (measured:
            # twice the round-trip error on colourful detail). Say where the chroma is.
            options["chroma_sample_location"] = "center"
        stream.options = options
        if not self._rgb_format:
            # We convert RGB->YUV ourselves with the BT.709 matrix and say so in the stream, so players
            # do not guess (BT.601 for small frames) and shift the colours.
            cc = stream.codec_context
            cc.colorspace = cc.color_primaries = cc.color_trc = _AV_COL_BT709
            cc.color_range = int(av.video.reformatter.ColorRange.MPEG)
        self._stream = stream

        tags: dict[str, str] = {}
        if audio_from is not None:
            self._add_audio(audio_from)
            assert self._audio_src is not None  # opened by _add_audio
            tags.update(_public_tags(self._audio_src.metadata))
        if metadata:
            tags.update({str(k): str(v) for k, v in metadata.items()})
        for k, v in tags.items():
            out.metadata[k] = v

    def _add_audio(self, audio_from) -> None:
        assert self._container is not None and self._stream is not None  # set up by _open first
        p, src = _open_input(audio_from)
        self._audio_src = src
        for video in src.streams.video:
            if not _is_cover_art(video) and video.language and video.language != "und":
                self._stream.metadata["language"] = video.language
                break
        streams = list(src.streams.audio)
        for s in streams:
            try:
                o = self._container.add_stream_from_template(s)
            except ValueError:
                raise MediaError(
                    f"{self.path}: cannot copy the {s.codec_context.name} audio of {p} into a "
                    f"{self.path.suffix} file without re-encoding; write .mkv or .mov instead"
                ) from None
            for k, v in _public_tags(s.metadata).items():
                o.metadata[k] = v
            self._audio_map[s.index] = o
        if streams:
            self._audio_packets = src.demux(*streams)

    # ---- writing ----------------------------------------------------------------------------------

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def _start(self, frame: Frame) -> None:
        assert self._container is not None and self._stream is not None  # set up by _open
        tb = self._time_base or frame.time_base or 1 / self.fps
        if not self._container.format.flags & _AVFMT_VARIABLE_FPS:
            # AVI and friends store one frame per tick: a fine time base would become thousands of
            # empty "dropped" frames. Timestamps get snapped to the 1/fps grid instead.
            tb = 1 / self.fps
        self._time_base = Fraction(tb)
        self._stream.time_base = self._time_base
        codec_tb = self._time_base
        if self.codec == "mpeg4" and codec_tb.denominator > 65535:
            codec_tb = 1 / self.fps  # the MPEG-4 standard caps the time base denominator
        self._stream.codec_context.time_base = codec_tb
        self._started = True

    def _pts(self, frame: Frame) -> int:
        assert self._time_base is not None  # chosen by _start
        if frame.pts is None:
            if self._last_pts is None:
                return 0
            return self._last_pts + max(1, round(1 / (self.fps * self._time_base)))
        if frame.time_base is None or Fraction(frame.time_base) == self._time_base:
            return int(frame.pts)
        return round(frame.pts * Fraction(frame.time_base) / self._time_base)

    def _pixels(self, frame: Frame) -> av.VideoFrame:
        image = frame.image
        if image.ndim != 3 or image.shape[2] != 3 or image.shape[:2] != (self.height, self.width):
            raise MediaError(
                f"{self.path}: frame {frame.index} is {tuple(image.shape)}, expected "
                f"({self.height}, {self.width}, 3)"
            )
        if self._deep:
            array = (np.clip(to_float(image), 0.0, 1.0) * 65535.0 + 0.5).astype(np.uint16)
            src_format = "rgb48le"
        else:
            # float32 (every engine's output) straight to 8 bits: to_float would only clip it once
            # more, a pass over the frame the encoding thread does not need.
            array = image if image.dtype == np.uint8 else to_uint8(image if image.dtype == np.float32 else to_float(image))
            src_format = "rgb24"
        if self._pad_w or self._pad_h:
            array = np.pad(array, ((0, self._pad_h), (0, self._pad_w), (0, 0)), mode="edge")
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(array), format=src_format)
        if not self._rgb_format:
            vf = vf.reformat(
                format=self.pix_fmt,
                dst_colorspace=av.video.reformatter.Colorspace.ITU709,
                dst_color_range=av.video.reformatter.ColorRange.MPEG,
            )
        return vf

    def write(self, frame: Frame) -> None:
        """Encode one frame: image (height, width, 3) float in [0, 1] or uint8, RGB."""
        if self.closed:
            raise MediaError(f"{self.path}: write() after close() or abort()")
        try:
            if not self._started:
                self._start(frame)
            # _open set these up and _start chose the time base; only close/abort clear them.
            assert self._container is not None and self._stream is not None and self._time_base is not None
            pts = self._pts(frame)
            if self._last_pts is not None and pts <= self._last_pts:
                raise MediaError(
                    f"{self.path}: frame {frame.index} has pts {pts}, not after the previous "
                    f"frame's {self._last_pts} (time base {self._time_base})"
                )
            vf = self._pixels(frame)
            vf.pts = pts
            vf.time_base = self._time_base
            self._container.mux(self._stream.encode(vf))
            self._last_pts = pts
            self.frames_written += 1
            # Keep the audio level with the video so the muxer interleaves without buffering it all.
            self._mux_audio(until=pts * self._time_base)
        except MediaError:
            raise
        except av.FFmpegError as e:
            raise MediaError(f"{self.path}: encoding frame {frame.index} failed: {e}") from None

    def _mux_audio(self, until: Fraction | None) -> None:
        """Copy source audio packets up to ``until`` seconds (None: all that are left)."""
        while self._audio_packets is not None:
            if self._pending_audio is None:
                try:
                    packet = next(self._audio_packets)
                except StopIteration:
                    self._audio_packets = None
                    return
                except av.FFmpegError as e:
                    warnings.warn(f"{self.path}: audio copy stopped early: {e}", MediaWarning,
                                  stacklevel=3)
                    self._audio_packets = None
                    return
                # The demuxer ends each stream with an empty packet (a decoder flush): not data.
                if packet.size == 0 or (packet.dts is None and packet.pts is None):
                    continue
                self._pending_audio = packet
            packet = self._pending_audio
            ts = packet.dts if packet.dts is not None else packet.pts
            assert ts is not None  # packets without timestamps were skipped above
            if until is not None and ts * packet.time_base > until:
                return
            packet.stream = self._audio_map[packet.stream.index]
            assert self._container is not None  # audio is copied only while the file is open
            self._container.mux(packet)
            self._pending_audio = None

    # ---- finishing --------------------------------------------------------------------------------

    def close(self) -> None:
        """Finish the file and move it into place. Raises MediaError (and leaves nothing) on failure."""
        if self.closed:
            return
        try:
            if self.frames_written == 0:
                raise MediaError(f"{self.path}: no frames were written")
            assert self._container is not None and self._stream is not None  # open until close/abort
            self._container.mux(self._stream.encode(None))  # drain the encoder's delayed frames
            self._mux_audio(until=None)
            self._container.close()
            self._container = None
            os.replace(self._tmp, self.path)
        except BaseException as e:
            self._discard()
            if isinstance(e, MediaError) or not isinstance(e, (av.FFmpegError, OSError)):
                raise
            raise MediaError(f"{self.path}: finishing the file failed: {e}") from None
        self._release()

    def abort(self) -> None:
        """Give up: close everything and delete the partial file; ``path`` is left untouched."""
        if not self.closed:
            self._discard()

    def _discard(self) -> None:
        try:
            if self._container is not None:
                self._container.close()
        except Exception:
            pass  # a half-set-up container may refuse to write its trailer; it is deleted anyway
        self._container = None
        _remove(self._tmp)
        self._release()

    def _release(self) -> None:
        if self._audio_src is not None:
            self._audio_src.close()
            self._audio_src = None
        self._audio_packets = None
        self._pending_audio = None
        self.closed = True
        self._finalizer.detach()
