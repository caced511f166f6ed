"""Synthetic clips with known motion: the project's own sample and test videos.

A virtual camera moves over a large photo (pan, zoom, roll), so the true optical flow between any two
frames is known exactly: frame t shows photo point ``M_t p`` at pixel p, where ``M_t`` is an affine map
(frame pixel -> photo pixel), so the flow from frame a to frame b is ``F_ab(p) = M_b⁻¹ M_a p − p``.
That is the project's flow convention (DESIGN.md): ``F_ab`` sends pixel p of frame a to p + F_ab(p) in
frame b, and sampling frame b at p + F_ab(p) reproduces frame a. For a pure pan where the camera moves
by (dx, dy) photo pixels per frame at scale 1, the picture slides by (−dx, −dy) on screen and
``F_t→t−1 = (+dx, +dy)`` everywhere.

:func:`write_clip` encodes frames as H.264 MP4 with an AAC chirp, optionally with variable frame
rate or a rotation display matrix; it talks to PyAV directly (not through :mod:`vidstyle.io.video`) so
that tests of the reader/writer check against an independent maker.

Run ``python -m vidstyle.synth samples/clip.mp4`` to rebuild the bundled sample clip.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import av
import cv2
import numpy as np

from vidstyle.frames import to_float, to_uint8

__all__ = [
    "CameraPath",
    "camera_flow",
    "camera_move",
    "load_photo",
    "make_sample_clip",
    "scene_cut",
    "write_clip",
    "write_tone",
]

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


# --------------------------------------------------------------------------------------------------
# the camera
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CameraPath:
    """A camera gliding over a photo; frame t is the photo seen through ``matrix(t)``.

    Attributes:
        size: (W, H) of the frames.
        shift_per_frame: (dx, dy) the camera centre moves per frame, in photo pixels.
        zoom_per_frame: magnification factor per frame (> 1 zooms in).
        rotation_per_frame_deg: the picture turns this many degrees counter-clockwise on screen per
            frame (the camera rolls clockwise).
        scale: frame pixels per photo pixel at t = 0 (< 1 shows more of the photo).
        start: photo position (x, y) seen at the frame centre at t = 0.
    """

    size: tuple[int, int]
    shift_per_frame: tuple[float, float] = (0.0, 0.0)
    zoom_per_frame: float = 1.0
    rotation_per_frame_deg: float = 0.0
    scale: float = 1.0
    start: tuple[float, float] = (0.0, 0.0)

    def scale_at(self, t: float) -> float:
        return self.scale * self.zoom_per_frame**t

    def matrix(self, t: float) -> np.ndarray:
        """(3, 3) float64 affine map: homogeneous frame pixel (x, y, 1) of frame t -> photo pixel."""
        w, h = self.size
        theta = math.radians(self.rotation_per_frame_deg * t)
        # x right, y down: this R sends the frame's +x axis towards +y of the photo, so the picture
        # appears turned counter-clockwise on screen for positive theta.
        r = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
        a = r / self.scale_at(t)
        centre = np.array(self.start, dtype=np.float64) + t * np.asarray(self.shift_per_frame, dtype=np.float64)
        origin = np.array([(w - 1) / 2.0, (h - 1) / 2.0])
        m = np.eye(3)
        m[:2, :2] = a
        m[:2, 2] = centre - a @ origin
        return m

    def flow(self, a: int, b: int) -> np.ndarray:
        """Exact flow F_ab, float32 (H, W, 2): pixel p of frame a is at p + F_ab(p) in frame b."""
        w, h = self.size
        m = np.linalg.inv(self.matrix(b)) @ self.matrix(a)
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
        x2 = m[0, 0] * xs + m[0, 1] * ys + m[0, 2]
        y2 = m[1, 0] * xs + m[1, 1] * ys + m[1, 2]
        return np.stack([x2 - xs, y2 - ys], axis=-1).astype(np.float32)

    def corners(self, t: float) -> np.ndarray:
        """(4, 2) photo positions of the frame's corner pixels at time t."""
        w, h = self.size
        pts = np.array([[0, 0, 1], [w - 1, 0, 1], [0, h - 1, 1], [w - 1, h - 1, 1]], dtype=np.float64)
        return (self.matrix(t) @ pts.T).T[:, :2]


def _path(photo_shape, size, frames, shift_per_frame, zoom_per_frame, rotation_per_frame_deg,
          scale, start) -> CameraPath:
    w, h = int(size[0]), int(size[1])
    if w <= 0 or h <= 0:
        raise ValueError(f"size must be positive (W, H), got {size}")
    if frames < 1:
        raise ValueError(f"frames must be >= 1, got {frames}")
    if scale <= 0 or zoom_per_frame <= 0:
        raise ValueError("scale and zoom_per_frame must be > 0")
    ph, pw = photo_shape[:2]
    if start is None:
        # Centre the whole journey on the photo.
        half = (frames - 1) / 2.0
        start = ((pw - 1) / 2.0 - half * shift_per_frame[0], (ph - 1) / 2.0 - half * shift_per_frame[1])
    return CameraPath((w, h), (float(shift_per_frame[0]), float(shift_per_frame[1])),
                      float(zoom_per_frame), float(rotation_per_frame_deg), float(scale),
                      (float(start[0]), float(start[1])))


def camera_move(
    photo: np.ndarray,
    size: tuple[int, int],
    frames: int,
    shift_per_frame: tuple[float, float] = (2.0, 0.0),
    zoom_per_frame: float = 1.0,
    rotation_per_frame_deg: float = 0.0,
    *,
    scale: float = 1.0,
    start: tuple[float, float] | None = None,
) -> list[np.ndarray]:
    """Render ``frames`` frames of a camera moving over ``photo``.

    Args:
        photo: (h, w, 3) RGB, uint8 or float in [0, 1]; must be larger than the view.
        size: (W, H) of the frames.
        frames: number of frames.
        shift_per_frame, zoom_per_frame, rotation_per_frame_deg, scale: see :class:`CameraPath`.
        start: photo point at the frame centre at t = 0; default centres the whole path on the photo.

    Returns:
        ``frames`` float32 (H, W, 3) arrays in [0, 1]. :func:`camera_flow` with the same arguments gives
        their exact flow.

    Raises:
        ValueError: if the view leaves the photo at some frame (the flow would be wrong at the border).
    """
    image = to_float(np.asarray(photo))
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"photo must be (h, w, 3), got {image.shape}")
    path = _path(image.shape, size, frames, shift_per_frame, zoom_per_frame, rotation_per_frame_deg,
                 scale, start)
    ph, pw = image.shape[:2]
    for t in range(frames):
        c = path.corners(t)
        if c.min() < 0 or c[:, 0].max() > pw - 1 or c[:, 1].max() > ph - 1:
            raise ValueError(
                f"the camera leaves the {pw}x{ph} photo at frame {t}: use a smaller shift, zoom or "
                "view, a larger scale, or a bigger photo"
            )

    # Minification: bilinear sampling would alias, and warpAffine has no area mode; so shrink the
    # photo once with INTER_AREA to the smallest scale on the path, then warp (now magnifying or ~1:1)
    # with INTER_LINEAR.
    s_min = min(path.scale_at(0), path.scale_at(frames - 1))
    pre = np.eye(3)
    if s_min < 1.0:
        sw, sh = max(1, round(pw * s_min)), max(1, round(ph * s_min))
        image = cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA)
        fx, fy = sw / pw, sh / ph
        # cv2.resize aligns pixel centres: p' = (p + 0.5) * f - 0.5.
        pre = np.array([[fx, 0, 0.5 * fx - 0.5], [0, fy, 0.5 * fy - 0.5], [0, 0, 1]])
    w, h = path.size
    out = []
    for t in range(frames):
        m = (pre @ path.matrix(t))[:2]
        frame = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_REPLICATE)
        out.append(np.clip(frame, 0.0, 1.0).astype(np.float32, copy=False))
    return out


def camera_flow(
    t: int,
    size: tuple[int, int],
    shift_per_frame: tuple[float, float] = (2.0, 0.0),
    zoom_per_frame: float = 1.0,
    rotation_per_frame_deg: float = 0.0,
    *,
    scale: float = 1.0,
    to: int | None = None,
) -> np.ndarray:
    """Exact flow of :func:`camera_move` frames (same motion arguments), float32 (H, W, 2), x first.

    By default the backward flow F_t→t−1: pixel p of frame t shows what frame t−1 shows at
    p + F(p), so ``cv2.remap(frame[t-1], p + F)`` reproduces frame t. ``to`` picks another target
    frame (``to=t+1`` gives the forward flow F_t→t+1). The flow does not depend on the photo or the
    start point, only on the motion.
    """
    b = t - 1 if to is None else to
    path = CameraPath((int(size[0]), int(size[1])), (float(shift_per_frame[0]), float(shift_per_frame[1])),
                      float(zoom_per_frame), float(rotation_per_frame_deg), float(scale))
    return path.flow(t, b)


def scene_cut(
    photo: np.ndarray,
    size: tuple[int, int],
    frames: tuple[int, int] = (12, 12),
    shift_per_frame: tuple[float, float] = (2.0, 0.0),
    second_photo: np.ndarray | None = None,
    **camera,
) -> tuple[list[np.ndarray], int]:
    """Two camera moves cut together: returns (frames, index of the first frame after the cut).

    The second shot moves over ``second_photo``, or over ``photo`` turned upside down (a different
    picture as far as flow and style are concerned). ``camera`` takes the other
    :func:`camera_move` keywords, used for both shots.
    """
    first = camera_move(photo, size, frames[0], shift_per_frame, **camera)
    other = second_photo if second_photo is not None else np.ascontiguousarray(np.asarray(photo)[::-1, ::-1])
    second = camera_move(other, size, frames[1], shift_per_frame, **camera)
    return first + second, len(first)


def load_photo(path: str | Path) -> np.ndarray:
    """Read an image file as float32 (h, w, 3) RGB in [0, 1]."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(f"{path}: cannot read image")
    return to_float(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


# --------------------------------------------------------------------------------------------------
# encoding
# --------------------------------------------------------------------------------------------------


def _chirp(seconds: float, sample_rate: int) -> np.ndarray:
    """float32 (n,) mono chirp 220 -> 880 Hz, amplitude 0.25, with 10 ms fades (no clicks)."""
    n = max(1, int(round(seconds * sample_rate)))
    t = np.arange(n) / sample_rate
    f0, f1 = 220.0, 880.0
    k = (f1 - f0) / max(seconds, 1e-9)
    signal = 0.25 * np.sin(2 * np.pi * (f0 * t + 0.5 * k * t * t))
    fade = min(n // 2, int(0.01 * sample_rate))
    if fade:
        ramp = np.linspace(0.0, 1.0, fade)
        signal[:fade] *= ramp
        signal[-fade:] *= ramp[::-1]
    return signal.astype(np.float32)


class _AudioTrack:
    """Encodes a mono AAC track chunk by chunk so it can be interleaved with video."""

    def __init__(self, container, seconds: float, sample_rate: int, language: str | None):
        self.stream = container.add_stream("aac", rate=sample_rate)
        self.stream.layout = "mono"
        if language:
            self.stream.metadata["language"] = language
        self.samples = _chirp(seconds, sample_rate)
        self.sample_rate = sample_rate
        self.done = 0
        self.container = container

    def until(self, seconds: float | None) -> None:
        end = len(self.samples) if seconds is None else min(len(self.samples), int(seconds * self.sample_rate))
        chunk = 1024  # AAC frame size
        while self.done < end:
            piece = self.samples[self.done:self.done + chunk]
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(piece[None, :]), format="fltp", layout="mono")
            frame.sample_rate = self.sample_rate
            frame.pts = self.done
            frame.time_base = Fraction(1, self.sample_rate)
            self.container.mux(self.stream.encode(frame))
            self.done += len(piece)
        if seconds is None:
            self.container.mux(self.stream.encode(None))


def write_clip(
    path: str | Path,
    frames: Iterable[np.ndarray],
    fps: Fraction | int = Fraction(24),
    audio: bool = True,
    audio_seconds: float | None = None,
    *,
    variable_frame_rate: Sequence[int] | None = None,
    time_base: Fraction | None = None,
    crf: int = 23,
    rotation: int = 0,
    metadata: Mapping[str, str] | None = None,
    audio_language: str | None = None,
    sample_rate: int = 48000,
) -> Path:
    """Encode frames as H.264 (yuv420p) in ``path`` (mp4/mkv/mov), with an AAC chirp.

    Args:
        frames: (H, W, 3) RGB arrays, float in [0, 1] or uint8; H and W even.
        fps: nominal frame rate; frame i is at i / fps unless ``variable_frame_rate`` is given.
        audio: add a mono 48 kHz AAC chirp track.
        audio_seconds: its length; default the video's duration (last frame's end).
        variable_frame_rate: one pts per frame, increasing, in ``time_base`` units (default 1/1000 s).
        time_base: see above; with constant rate the default is 1/fps.
        crf: x264 constant rate factor.
        rotation: display matrix to store, counter-clockwise degrees; frames are stored as given and
            a player (or :class:`~vidstyle.io.video.VideoReader`) turns them.
        metadata: container tags (title, ...); audio_language: the audio stream's language tag.

    Returns:
        ``path`` as a Path.
    """
    path = Path(path)
    frames = list(frames)
    if not frames:
        raise ValueError("write_clip needs at least one frame")
    h, w = frames[0].shape[:2]
    if w % 2 or h % 2:
        raise ValueError(f"H.264 yuv420p needs even sizes, got {w}x{h}")
    fps = Fraction(fps)
    if variable_frame_rate is not None:
        pts = [int(p) for p in variable_frame_rate]
        if len(pts) != len(frames):
            raise ValueError(f"{len(pts)} pts for {len(frames)} frames")
        if any(b <= a for a, b in zip(pts, pts[1:])):
            raise ValueError("variable_frame_rate pts must increase")
        tb = Fraction(time_base) if time_base is not None else Fraction(1, 1000)
        last = pts[-1] - pts[-2] if len(pts) > 1 else round(1 / (fps * tb))
    else:
        tb = Fraction(time_base) if time_base is not None else 1 / fps
        step = 1 / (fps * tb)
        if step.denominator != 1:
            raise ValueError(f"time base {tb} cannot express frame rate {fps} exactly")
        pts = [i * int(step) for i in range(len(frames))]
        last = int(step)
    video_seconds = float((pts[-1] + last) * tb)

    container = av.open(str(path), "w")
    try:
        for k, v in (metadata or {}).items():
            container.metadata[k] = str(v)
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = w, h
        stream.pix_fmt = "yuv420p"
        # Same colour conventions as VideoWriter: BT.709 matrix, limited range, centred chroma.
        stream.options = {"crf": str(crf), "chroma_sample_location": "center"}
        cc = stream.codec_context
        cc.colorspace = cc.color_primaries = cc.color_trc = 1
        cc.color_range = int(av.video.reformatter.ColorRange.MPEG)
        stream.time_base = tb
        cc.time_base = tb
        if rotation:
            stream.set_display_rotation(rotation)
        track = None
        if audio:
            track = _AudioTrack(container, audio_seconds if audio_seconds is not None else video_seconds,
                                sample_rate, audio_language)
        for image, p in zip(frames, pts):
            rgb = image if image.dtype == np.uint8 else to_uint8(to_float(image))
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24").reformat(
                format="yuv420p",
                dst_colorspace=av.video.reformatter.Colorspace.ITU709,
                dst_color_range=av.video.reformatter.ColorRange.MPEG,
            )
            vf.pts = p
            vf.time_base = tb
            container.mux(stream.encode(vf))
            if track is not None:
                track.until(float(p * tb))
        container.mux(stream.encode(None))
        if track is not None:
            track.until(None)
    finally:
        container.close()
    return path


def write_tone(path: str | Path, seconds: float = 1.0, sample_rate: int = 48000) -> Path:
    """An audio-only file (AAC chirp; use .m4a or .mp4)."""
    path = Path(path)
    container = av.open(str(path), "w")
    try:
        track = _AudioTrack(container, seconds, sample_rate, None)
        track.until(None)
    finally:
        container.close()
    return path


# --------------------------------------------------------------------------------------------------
# the bundled sample
# --------------------------------------------------------------------------------------------------


def make_sample_clip(
    path: str | Path = SAMPLES / "clip.mp4",
    photo: str | Path = SAMPLES / "tubingen.jpg",
    size: tuple[int, int] = (320, 180),
    frames: int = 48,
    fps: Fraction | int = 24,
) -> Path:
    """Make the bundled sample: 2 s at 24 fps, 320x180, a slow pan with a slight zoom over the
    Tübingen photo, with a chirp soundtrack. About 150 KB."""
    image = load_photo(photo)
    # Half scale shows a 640x360 window of the 1024x768 photo; the camera drifts right and a little
    # down (2 px on screen per frame) while zooming in by 0.3 % per frame (15 % over the clip).
    clip = camera_move(image, size, frames, shift_per_frame=(4.0, 1.0), zoom_per_frame=1.003, scale=0.5)
    return write_clip(path, clip, fps=Fraction(fps), metadata={"title": "vidstyle sample: Tübingen pan"})


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m vidstyle.synth",
                                     description="Write the bundled sample clip (a camera pan over a photo).")
    parser.add_argument("output", nargs="?", default=str(SAMPLES / "clip.mp4"), help="output video file")
    parser.add_argument("--photo", default=str(SAMPLES / "tubingen.jpg"), help="photo to pan over")
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--fps", type=int, default=24)
    args = parser.parse_args(argv)
    out = make_sample_clip(args.output, args.photo, frames=args.frames, fps=args.fps)
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
