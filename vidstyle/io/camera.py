"""Live sources for ``vidstyle live``: a camera index, a video file or a stream URL.

:class:`Capture` reads on its own thread so decoding (or waiting for the camera) overlaps with the
optimiser. What the consumer gets depends on the mode:

- **latest** (cameras, URLs, and files paced at their real frame rate): the reader thread keeps only
  the newest frame. A frame the consumer did not collect before the next one arrived is dropped and
  counted in :attr:`Capture.dropped`, so a slow consumer always sees the present, never a queue of the
  past. This is what a live preview wants.
- **every** (files, unpaced): the reader decodes one frame ahead and then waits for the consumer to
  take it, so every frame arrives, in order, with none dropped. Runs are repeatable, which is what
  tests and offline previews want.

Frames come out as float32 RGB in [0, 1] (the pipeline's convention, :mod:`vidstyle.frames`), each
stamped with the ``time.perf_counter()`` at which it was read, for latency measurements. Files go
through :class:`~vidstyle.io.video.VideoReader` (PyAV) like everywhere else in vidstyle, so rotation
and colour handling match ``vidstyle stylize``; cameras and URLs go through ``cv2.VideoCapture``.

Opening problems raise :class:`CaptureError` (a ``ValueError``: the CLI turns it into one line and exit
code 2) before the thread starts, so a wrong ``--source`` fails fast.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import UsageError
from ..frames import to_float
from .video import VideoReader

if TYPE_CHECKING:  # OpenCV is imported only when a camera or URL is opened
    import cv2

__all__ = ["Captured", "Capture", "CaptureError", "parse_source"]

# A camera that fails this many reads in a row (about a second) is taken as gone (unplugged, taken by
# another program). Some V4L2 cameras fail a read or two right after opening, so one failure is not.
_CAMERA_RETRIES = 20
_RETRY_PAUSE = 0.05
# How long open() waits for a camera or stream to deliver its first frame.
_FIRST_FRAME_TIMEOUT = 10.0


class CaptureError(UsageError):
    """A live source cannot be opened or read; the message names the source and says what to try."""


@dataclass(frozen=True)
class Captured:
    """One frame handed to the consumer.

    Attributes:
        image: float32 (H, W, 3) RGB in [0, 1].
        index: position in the source, counting dropped frames too (so gaps show drops).
        captured_at: ``time.perf_counter()`` when the frame was read from the source (every-frame
            mode: when the consumer asked for it).
        seconds: the frame's own timestamp in the source (files: pts; cameras/URLs: None).
    """

    image: np.ndarray
    index: int
    captured_at: float
    seconds: float | None = None


def parse_source(text: str | int | os.PathLike) -> int | str:
    """``--source`` value -> a camera index (int), a URL or a file path (str).

    A string of digits is a camera index (``"0"``); anything with ``://`` is a URL; the rest is a path.
    """
    if isinstance(text, int):
        return text
    text = os.fspath(text).strip()
    if text.isdigit():
        return int(text)
    return text


def _is_url(source: int | str) -> bool:
    return isinstance(source, str) and "://" in source


def _is_device(source: int | str) -> bool:
    """A camera named by its device node (``/dev/video2``): read like a camera, not like a file."""
    try:
        return isinstance(source, str) and stat.S_ISCHR(os.stat(source).st_mode)
    except OSError:
        return False


@contextlib.contextmanager
def _quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's own log while probing a device: a missing camera makes it print several WARN
    and ERROR lines (V4L2, FFmpeg, Orbbec backends) around our one-line error."""
    import cv2

    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(level)


class Capture:
    """Frames from a camera, a video file or a URL, read on a background thread.

    Args:
        source: camera index (int or digit string), video file path, or URL (rtsp://, http://, ...).
        pace: files only. True: deliver frames at the file's real rate (by their timestamps) and drop
            the ones the consumer is too slow for, like a camera. False: deliver every frame, in order,
            as fast as the consumer takes them. Cameras and URLs are live whatever this says.

    Usage::

        with Capture("clip.mp4", pace=False) as capture:
            while (item := capture.read()) is not None:
                ...   # item.image float32 (H, W, 3) RGB

    Raises:
        CaptureError: no such camera, a URL that cannot be opened, a source that gives no frame.
        MediaError: a file that is missing or not a readable video (from VideoReader).
    """

    def __init__(self, source: int | str | os.PathLike, pace: bool = False):
        self.source = parse_source(source)
        self.kind = "camera" if isinstance(self.source, int) or _is_device(self.source) else "url" if _is_url(self.source) else "file"
        self.latest_only = self.kind != "file" or pace
        self.pace = self.kind == "file" and pace
        self.dropped = 0
        self.stop_reason: str | None = None  # why a camera or stream ended, when it ended on its own
        self.fps: float | None = None
        self._cond = threading.Condition()
        self._slot: tuple | None = None  # (raw image, index, captured_at, seconds, converter)
        self._ended = False
        self._error: BaseException | None = None
        self._stopping = False
        self._capture: cv2.VideoCapture | None = None  # for cameras and URLs
        self._reader: VideoReader | None = None
        if self.kind == "file":
            assert isinstance(self.source, str)  # an int source is a camera
            self._reader = VideoReader(self.source)  # MediaError (one line, names the file) if unusable
            self.fps = float(self._reader.info.fps)
            self.width, self.height = self._reader.info.width, self._reader.info.height
            produce = self._produce_file
        else:
            self._open_cv2()
            produce = self._produce_cv2
        self._thread = threading.Thread(target=self._run, args=(produce,), name=f"capture {self.describe()}", daemon=True)

    def start(self) -> None:
        """Start reading (done by the first :meth:`read`). Opening checks the source without reading,
        so a paced file's clock and a camera's stream start when the consumer is ready for them,
        not while it is still loading its network."""
        with self._cond:
            if self._thread.ident is None and not self._stopping:
                self._thread.start()

    # -- opening ------------------------------------------------------------------------------------
    def describe(self) -> str:
        """How the source is named in messages: ``camera 0``, the URL, or the file path."""
        return f"camera {self.source}" if isinstance(self.source, int) else str(self.source)

    def _open_cv2(self) -> None:
        import cv2

        with _quiet_opencv():
            capture = cv2.VideoCapture(self.source)
        if not capture.isOpened():
            capture.release()
            if self.kind == "camera":
                raise CaptureError(
                    f"--source {self.source}: {self.describe()} cannot be opened (no such camera, or another "
                    "program is using it); try another index, or a video file"
                )
            raise CaptureError(f"--source {self.source}: cannot open this stream (check the URL and that it is live)")
        # Ask the driver to keep one buffered frame: we read continuously anyway, and fewer buffers
        # mean less latency with drivers that honour it (others ignore the request).
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        fps = capture.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and np.isfinite(fps) and fps > 0 else None
        self.width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self._capture = capture

    # -- the reader thread --------------------------------------------------------------------------
    def _run(self, produce: Callable[[], None]) -> None:
        try:
            produce()
        except BaseException as error:  # handed to the consumer, which raises it on its own thread
            with self._cond:
                self._error = error
        finally:
            with self._cond:
                self._ended = True
                self._cond.notify_all()
            if self._capture is not None:
                self._capture.release()

    def _put(self, raw: np.ndarray, index: int, seconds: float | None, convert: Callable[[np.ndarray], np.ndarray]) -> bool:
        """Hand one frame over; False when the consumer has closed the capture."""
        with self._cond:
            if not self.latest_only:
                # Every-frame mode: wait until the consumer took the previous one.
                while self._slot is not None and not self._stopping:
                    self._cond.wait()
            if self._stopping:
                return False
            if self._slot is not None:
                self.dropped += 1  # never collected: the consumer was busy; the newer frame wins
            self._slot = (raw, index, time.perf_counter(), seconds, convert)
            self._cond.notify_all()
            return True

    def _produce_file(self) -> None:
        assert self._reader is not None
        started: float | None = None
        first: float | None = None
        with self._reader as reader:
            for frame in reader:
                seconds = float(frame.pts * frame.time_base) if frame.pts is not None and frame.time_base else None
                if self.pace and seconds is not None:
                    # Real rate: frame k is due (its pts - the first pts) after the first was read.
                    if started is None:
                        started, first = time.perf_counter(), seconds
                    assert first is not None  # set together with started
                    delay = started + (seconds - first) - time.perf_counter()
                    if delay > 0 and self._sleep(delay):
                        return
                if not self._put(frame.image, frame.index, seconds, _identity):
                    return

    def _produce_cv2(self) -> None:
        capture, index, failures = self._capture, 0, 0
        assert capture is not None  # opened by _open_cv2 before the thread starts
        while not self._stopping:
            ok, bgr = capture.read()  # blocks until the camera delivers: the camera paces us
            if not ok or bgr is None:
                failures += 1
                if self.kind == "url" or failures >= _CAMERA_RETRIES:
                    self.stop_reason = f"{self.describe()} stopped delivering frames"
                    return
                if self._sleep(_RETRY_PAUSE):
                    return
                continue
            failures = 0
            if not self._put(bgr, index, None, _bgr_to_rgb_float):
                return
            index += 1

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless closed meanwhile; True when the capture is closing."""
        with self._cond:
            self._cond.wait_for(lambda: self._stopping, timeout=seconds)
            return self._stopping

    # -- the consumer side --------------------------------------------------------------------------
    def read(self, timeout: float | None = None) -> Captured | None:
        """The newest frame not yet returned, waiting for one if needed.

        Returns None at the end of a file or when a camera/stream stopped (see :attr:`stop_reason`),
        and also when ``timeout`` seconds pass without a frame.
        Raises whatever stopped the reader thread (e.g. a MediaError for a damaged file).
        """
        self.start()
        with self._cond:
            if not self._cond.wait_for(lambda: self._slot is not None or self._ended or self._stopping, timeout=timeout):
                return None
            if self._slot is None:
                if self._error is not None:
                    raise self._error
                return None
            raw, index, captured_at, seconds, convert = self._slot
            self._slot = None
            self._cond.notify_all()  # an every-frame reader may decode the next one now
        if not self.latest_only:
            # Every-frame mode reads on demand; decoding one frame ahead only hides the decode time.
            # The frame counts as captured when it is asked for, or latency would include the wait
            # for the consumer's previous frame.
            captured_at = time.perf_counter()
        # Converting here, not on the reader thread, spends no work on frames that get dropped.
        return Captured(convert(raw), index, captured_at, seconds)

    def first(self, timeout: float = _FIRST_FRAME_TIMEOUT) -> Captured:
        """The first frame, or CaptureError naming the source when none comes within ``timeout``."""
        item = self.read(timeout=timeout)
        if item is None:
            reason = self.stop_reason or (f"no frame within {timeout:.0f} s" if not self._ended else "it has no frames")
            raise CaptureError(f"--source {self.source}: {self.describe()} gives no picture ({reason})")
        return item

    def close(self) -> None:
        """Stop the reader thread and release the device or file (safe to call twice)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            # A camera read blocks for at most one frame interval; a file decode for one frame.
            self._thread.join(timeout=5.0)
        elif self._thread.ident is None:  # never started: release what opening took
            if self._capture is not None:
                self._capture.release()
            if self._reader is not None:
                self._reader.close()

    def __enter__(self) -> "Capture":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _identity(image: np.ndarray) -> np.ndarray:
    return image


def _bgr_to_rgb_float(bgr: np.ndarray) -> np.ndarray:
    """OpenCV's uint8 BGR (H, W, 3) (or grey (H, W)) -> float32 RGB (H, W, 3) in [0, 1]."""
    if bgr.ndim == 2:
        bgr = np.repeat(bgr[:, :, None], 3, axis=2)
    return to_float(np.ascontiguousarray(bgr[:, :, 2::-1]))


def file_exists(source: int | str) -> bool:
    """Whether ``source`` names an existing file (for output checks against the input)."""
    return isinstance(source, str) and not _is_url(source) and Path(source).is_file()
