"""``vidstyle live``: a live stylised preview of a camera, a video file or a stream.

The pipeline per shown frame::

    Capture (own thread, newest frame only) -> resize to the working size
      -> VideoStylizer.process: flow from the previous input, warp the previous output onto this
         frame, a few warm-started optimiser iterations with the temporal term (Ruder et al.)
      -> compose (stylised, or camera | stylised) -> window (+ overlay) and/or --record file

Because every frame starts from the warped previous output, the style keeps building up over the
first frames of a session (or after a scene cut): a handful of iterations per frame is enough for a
preview that converges within a second or two of live video and then stays stable.

Everything that needs a screen lives in :class:`Window`; keys go through the pure
:func:`handle_key`, and :class:`LiveSession` does the rest without any GUI, so all of it is testable
headless. The command is :mod:`vidstyle.cli.live`.

Decisions (see docs/live.md):

- File sources are read at their real frame rate (frames dropped when stylising is slower, like a
  camera) when a window is shown, and frame by frame (every frame, in order, repeatable) with
  ``--no-window``; ``--pace`` overrides this.
- ``--record`` writes what is shown: the stylised view (side by side if that was on at the start), at
  the working size, without the overlay text. Each frame's timestamp is the wall-clock time at which it
  was shown (1 ms time base), so the file plays back at the speed the session ran, pauses included.
- Several ``-s`` images are alternatives switched with n/p (one :class:`Stylizer` each, sharing one
  network), not a blend as in ``vidstyle stylize``. Switching keeps the temporal history, so the new
  style grows out of the old one instead of restarting from the camera image.
- ``--model MODEL`` replaces the optimiser by a trained transfer network
  (:class:`~vidstyle.model.engine.ModelEngine`): one forward pass a frame, no flow, no VGG. n/p then
  step round a ring of the model's styles and the even blends of neighbours (2 styles: 1, 1+2, 2;
  3 styles: 1, 1+2, 2, 2+3, 3, 3+1), b toggles the even blend of all styles, and +/- mix the input
  frame back in: ``f * stylised + (1 - f) * input`` with the strength factor ``f`` = 2**strength,
  which cannot go above 1 (+ stops there). The same :class:`LiveSession` runs both.
- ``--engine arbitrary`` runs the arbitrary-style decoders
  (:class:`~vidstyle.model.arbitrary.ArbitraryEngine`) on the ``-s`` styles with the same keys as a
  model: any painting, no training; the flow-warped stabiliser keeps it steady, and is cleared when
  the style changes so the new one shows whole on the next frame.
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import os
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .config import StyleConfig

if TYPE_CHECKING:
    from .engine import Engine, FrameReport
    from .model.arbitrary import ArbitraryEngine
    from .model.engine import ModelEngine
    from .temporal import VideoStylizer

__all__ = [
    "Action", "LiveSession", "LiveState", "LiveStats", "Recorder", "Window", "display_problem",
    "handle_key", "live_config", "render_overlay", "run_loop", "stylizers_for"
]


# +/- multiply or divide the style weight by 2, at most this many times either way.
MAX_STRENGTH_STEPS = 8
# The window shows the stylised panel with its longest side at least this many pixels (scaled up from
# the working size), so a 256 px preview is not a thumbnail and the overlay text stays legible.
DISPLAY_MIN_SIDE = 512
WINDOW_TITLE = "vidstyle live"
RECORD_TIME_BASE = Fraction(1, 1000)  # wall-clock timestamps in milliseconds
# Smoothing of the fps shown in the overlay (exponential moving average of frame intervals).
FPS_SMOOTHING = 0.2

KEY_ESC = 27


def live_config() -> StyleConfig:
    """The defaults of ``vidstyle live``: :meth:`StyleConfig.live`."""
    return StyleConfig.live()


# ---------------------------------------------------------------------------------------------------
# keys: a pure state machine


class Action(enum.Enum):
    """What a key asks the session to do besides changing :class:`LiveState`."""

    QUIT = "quit"
    PAUSE = "pause"  # paused toggled
    SNAPSHOT = "snapshot"  # save the current stylised frame as a PNG
    STYLE = "style"  # another style image was chosen
    STRENGTH = "strength"  # the style weight changed
    LAYOUT = "layout"  # side by side toggled


@dataclass(frozen=True)
class LiveState:
    """What the keys control.

    styles: number of styles; style: the one in use (0-based), or with ``blends`` the position on
    the ring of styles and neighbour blends (see :attr:`positions`);
    strength: style weight = config.style_weight * 2**strength (with a model: the stylised image's
    share of the output, ``min(1, 2**strength)``), between -MAX_STRENGTH_STEPS and ``max_strength``;
    paused: no new frames are stylised; side_by_side: camera | stylised in the window;
    quit: the session should end;
    blends: n/p also stop at the even blend of neighbouring styles, and b works (a model's
    conditional instance norms blend styles; the optimiser's separate Stylizers do not);
    blend_all: the even blend of every style (the b key) instead of ``style``.
    """

    styles: int = 1
    style: int = 0
    strength: int = 0
    paused: bool = False
    side_by_side: bool = False
    quit: bool = False
    blends: bool = False
    blend_all: bool = False
    max_strength: int = MAX_STRENGTH_STEPS

    @property
    def strength_factor(self) -> float:
        return 2.0 ** self.strength

    @property
    def positions(self) -> int:
        """How many stops n/p cycle through: the styles, and with ``blends`` the neighbour blends
        between them too (2 styles: 1, 1+2, 2; S >= 3 styles: 2S stops, S+1 closing the ring)."""
        if not self.blends or self.styles < 2:
            return self.styles
        return 3 if self.styles == 2 else 2 * self.styles

    def chosen(self) -> tuple[int, ...]:
        """The 0-based styles in use: one, two neighbours (even blend), or all of them."""
        if self.blend_all:
            return tuple(range(self.styles))
        if not self.blends:
            return (self.style,)
        first, between = divmod(self.style, 2)
        return (first, (first + 1) % self.styles) if between else (first,)

    def style_weights(self) -> list[float]:
        """One weight per style summing to 1: one-hot, or the even blend of :meth:`chosen`."""
        chosen = self.chosen()
        return [1.0 / len(chosen) if i in chosen else 0.0 for i in range(self.styles)]


KEYS_HELP = ("q/Esc quit, space pause, s snapshot, n/p next/previous style, +/- style strength, c side by side; "
             "with --model or --engine arbitrary: n/p also stop at blends of neighbouring styles, b blends all styles, "
             "+/- mix the camera image back in")


def handle_key(state: LiveState, key: int | None) -> tuple[LiveState, Action | None]:
    """Apply one key code (as ``cv2.waitKey`` returns it; None or -1 for no key) to ``state``.

    Returns the new state and the action the session must carry out (None when nothing changed).
    Letters work in either case; ``=`` counts as ``+`` (same key without shift), ``_`` as ``-``.
    """
    if key is None or key < 0 or key > 0xFF:
        # Codes above 0xFF are special keys (arrows, F-keys, from cv2.waitKeyEx). They must not be
        # masked to 8 bits: an arrow key's low byte can equal a letter such as q.
        return state, None
    char = chr(key).lower()
    if key == KEY_ESC or char == "q":
        return dataclasses.replace(state, quit=True), Action.QUIT
    if char == " ":
        return dataclasses.replace(state, paused=not state.paused), Action.PAUSE
    if char == "s":
        return state, Action.SNAPSHOT
    if char in ("n", "p"):
        if state.styles < 2:
            return state, None
        step = 1 if char == "n" else -1
        return dataclasses.replace(state, style=(state.style + step) % state.positions, blend_all=False), Action.STYLE
    if char == "b":
        if not state.blends or state.styles < 2:
            return state, None
        return dataclasses.replace(state, blend_all=not state.blend_all), Action.STYLE
    if char in ("+", "=", "-", "_"):
        step = 1 if char in ("+", "=") else -1
        strength = max(-MAX_STRENGTH_STEPS, min(state.max_strength, state.strength + step))
        if strength == state.strength:
            return state, None
        return dataclasses.replace(state, strength=strength), Action.STRENGTH
    if char == "c":
        return dataclasses.replace(state, side_by_side=not state.side_by_side), Action.LAYOUT
    return state, None


# ---------------------------------------------------------------------------------------------------
# the session: stylising, keys, views, snapshots; no GUI


class LiveSession:
    """The live loop's state and work, without a window, with either engine.

    Args:
        stylizers: one :class:`~vidstyle.optimize.Stylizer` per style image (sharing one network);
            their configs are the base settings (the style weight before +/-). Empty with ``model``.
        names: a short name per style, for the overlay.
        size: working size (width, height).
        model: a feed-forward engine to stylise with instead of the optimiser (see
            :meth:`with_model`): a trained network (:class:`~vidstyle.model.engine.ModelEngine`,
            ``--model``) or the arbitrary-style decoders
            (:class:`~vidstyle.model.arbitrary.ArbitraryEngine`, ``--engine arbitrary``); anything
            with a ``styles`` count and a ``weights`` vector it reads at every frame. Its styles are
            the ones named.
        temporal: warm-start from the warped previous output (False: every frame afresh). Optimiser only.
        seed: seeds each frame's noise (only used with ``init="noise"``). Optimiser only.
        side_by_side: start with camera | stylised.
        snapshot_dir: where the s key writes PNGs.
    """

    def __init__(
        self,
        stylizers: Sequence,
        names: Sequence[str],
        size: tuple[int, int],
        *,
        model: "ModelEngine | ArbitraryEngine | None" = None,
        temporal: bool = True,
        seed: int | None = None,
        side_by_side: bool = False,
        snapshot_dir: str | os.PathLike = ".",
    ):
        self.stylizers = list(stylizers)
        self.names = list(names)
        self.model = model
        self.video: VideoStylizer | None = None
        if model is not None:
            if self.stylizers:
                raise ValueError("a live session stylises with a model or with stylizers, not both")
            styles = model.styles
            if len(self.names) != styles:
                raise ValueError(f"expected one name per style of the engine, got {len(self.names)} names for {styles} styles")
            if tuple(model.size) != tuple(size):
                raise ValueError(f"the model engine works at {model.size}, the session at {size}")
            # The model's +/- mixes the input back in: full strength (1) is the most there is.
            self.state = LiveState(styles=styles, side_by_side=side_by_side, blends=True, max_strength=0)
            self.engine: Engine = model
        else:
            if not self.stylizers or len(self.names) != len(self.stylizers):
                raise ValueError(f"expected one name per stylizer, got {len(self.stylizers)} stylizers and {len(self.names)} names")
            self.state = LiveState(styles=len(self.stylizers), side_by_side=side_by_side)
            from .temporal import VideoStylizer  # here: importing temporal.py loads torch

            # The flow preset (ultrafast for live) comes with the config, as every other setting.
            self.video = VideoStylizer(self.stylizers[0], size, temporal=temporal, generator_seed=seed)
            self.engine = self.video
        self.base_configs = [s.config for s in self.stylizers]
        self.size = size
        self.snapshot_dir = Path(snapshot_dir)
        self.camera: np.ndarray | None = None  # last input at the working size, (H, W, 3)
        self.output: np.ndarray | None = None  # last stylised frame, (H, W, 3)
        self.report: FrameReport | None = None  # the last frame's
        self.frames = 0
        self.snapshots: list[Path] = []
        if model is not None:
            self._configure()  # the engine's default is an even blend; the session starts on style 1

    @classmethod
    def with_model(cls, model: "ModelEngine | ArbitraryEngine", names: Sequence[str], **options) -> "LiveSession":
        """A session that stylises with ``model`` at its working size (``options``: as for the
        constructor, of which ``side_by_side`` and ``snapshot_dir`` apply)."""
        return cls((), names, model.size, model=model, **options)

    # -- frames -----------------------------------------------------------------------------------
    def process(self, image: np.ndarray) -> np.ndarray:
        """Stylise one captured image (H, W, 3) float32 RGB [0, 1], any size; returns the output at
        the working size, (h, w, 3) float32, with h, w from ``size``."""
        from .frames import Frame, resize

        self.camera = resize(image, self.size)
        output, self.report = self.engine.process(Frame(self.camera, self.frames, self.frames))
        stylised = output.image
        if self.model is not None and self.state.strength < 0:
            share = min(1.0, self.state.strength_factor)
            stylised = (share * stylised + (1.0 - share) * self.camera).astype(np.float32)
        self.output = stylised
        self.frames += 1
        return self.output

    def view(self, side_by_side: bool | None = None) -> np.ndarray:
        """What is shown: the stylised frame, or camera | stylised; float32 (h, w or 2w, 3).

        ``side_by_side`` None follows the current state (the c key).
        """
        if self.output is None or self.camera is None:
            raise RuntimeError("no frame has been stylised yet")
        both = self.state.side_by_side if side_by_side is None else side_by_side
        return np.concatenate([self.camera, self.output], axis=1) if both else self.output

    # -- keys -------------------------------------------------------------------------------------
    def press(self, key: int | None) -> Action | None:
        """Handle one key code: update the state and carry out its action (snapshot, style, strength)."""
        self.state, action = handle_key(self.state, key)
        if action is Action.SNAPSHOT:
            if self.output is not None:
                self.snapshot()
        elif action in (Action.STYLE, Action.STRENGTH):
            self._configure()
        return action

    def _configure(self) -> None:
        """Point the engine at the chosen style with the chosen strength.

        A model gets the style-weight vector of its conditional instance norms (the strength is
        applied when mixing in :meth:`process`). The optimiser's Stylizer reads ``config.style_weight``
        at every ``stylize`` call, and its cached style Grams do not depend on the weight, so
        replacing the config is all a strength change needs.
        """
        if self.model is not None:
            if self.model.weights is not None and list(self.model.weights) != self.state.style_weights():
                # A new style shows whole on the next frame: the arbitrary engine's stabiliser
                # would otherwise carry the old style's warped output into it for several frames.
                self.model.restore([])
            self.model.weights = self.state.style_weights()
            return
        assert self.video is not None
        index = self.state.style
        stylizer = self.stylizers[index]
        base = self.base_configs[index]
        stylizer.config = dataclasses.replace(base, style_weight=base.style_weight * self.state.strength_factor)
        self.video.stylizer = stylizer

    def snapshot(self) -> Path:
        """Write the current stylised frame (working size, no overlay) as a new PNG; returns its path."""
        from .io.image import write_image

        stamp = time.strftime("%Y%m%d-%H%M%S")
        number = len(self.snapshots) + 1
        while True:
            path = self.snapshot_dir / f"vidstyle_live_{stamp}_{number:03d}.png"
            if not path.exists():
                break
            number += 1
        if self.output is None:
            raise RuntimeError("no frame has been stylised yet")
        write_image(path, self.output)  # atomic: a temporary beside it, renamed into place
        self.snapshots.append(path)
        return path

    # -- overlay text -----------------------------------------------------------------------------
    def overlay_lines(self, fps: float | None) -> list[str]:
        """The overlay: speed and iterations (or "model"), then the style(s) and the strength."""
        first = f"{fps:.1f} fps" if fps else "-- fps"
        if self.model is not None:
            first += "  " + getattr(self.model, "label", "model")
        else:
            first += f"  {self.report.iterations if self.report is not None else 0} it/frame"
        lines = [first, self.style_label()]
        if self.state.strength:
            lines[1] += f"  strength x{self.state.strength_factor:g}"
        if self.state.paused:
            lines.append("paused (space resumes)")
        return lines

    def style_label(self) -> str:
        """``style 1/2 starry``, ``styles 1+2/3 starry + scream`` or ``all 3 styles blended``."""
        state = self.state
        chosen = state.chosen()
        if state.blend_all:
            return f"all {state.styles} styles blended"
        if len(chosen) == 2:
            return f"styles {chosen[0] + 1}+{chosen[1] + 1}/{state.styles} {self.names[chosen[0]]} + {self.names[chosen[1]]}"
        return f"style {chosen[0] + 1}/{state.styles} {self.names[chosen[0]]}"


# ---------------------------------------------------------------------------------------------------
# display


def display_problem(environ: dict | None = None, platform: str | None = None) -> str | None:
    """Why a window cannot be opened here, or None when it can (as far as can be told safely).

    Qt, behind ``cv2.imshow``, aborts the whole process (exit 134) when it finds no display instead of
    raising, so this must be decided before the first window call. Checks, on Linux/BSD: DISPLAY or
    WAYLAND_DISPLAY is set; an X display's server accepts a connection; a Wayland-only session has a
    Qt Wayland plugin (the opencv-python wheels ship only xcb).
    """
    env: Mapping[str, str] = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if platform.startswith(("win", "darwin", "cygwin")):
        return None  # native window systems, always there for a desktop session
    if env.get("QT_QPA_PLATFORM", "").split(":")[0] in ("offscreen", "minimal", "vnc", "eglfs", "linuxfb"):
        return None  # Qt draws without an X/Wayland server
    display, wayland = env.get("DISPLAY", ""), env.get("WAYLAND_DISPLAY", "")
    if not display and not wayland:
        return "no display to open a window on (DISPLAY and WAYLAND_DISPLAY are not set)"
    if display:
        if not _x_server_reachable(display):
            return f"cannot connect to the X display {display!r} (no X server there)"
        return None
    if not _qt_has_wayland(env):
        return f"Wayland display {wayland!r} but this OpenCV's Qt has no Wayland plugin (set DISPLAY for XWayland)"
    return None


def _x_server_reachable(display: str, timeout: float = 1.0) -> bool:
    """Whether an X server answers at ``display`` ([host]:number[.screen]); unknown forms count as yes."""
    host, colon, rest = display.rpartition(":")
    number = rest.split(".")[0]
    if not colon or not number.isdigit() or host.startswith("/"):
        return True  # e.g. macOS launchd sockets: let the toolkit judge
    if host in ("", "unix"):
        path = f"/tmp/.X11-unix/X{number}"
        # Linux X servers listen on an abstract socket too; Xvfb and Xorg on the file socket.
        for address in (path, "\0" + path):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(timeout)
                try:
                    sock.connect(address)
                    return True
                except OSError:
                    continue
        if host == "unix":
            return False
        host = "localhost"
    try:
        with socket.create_connection((host, 6000 + int(number)), timeout=timeout):
            return True
    except OSError:
        return False


def _qt_has_wayland(environ) -> bool:
    folder = environ.get("QT_QPA_PLATFORM_PLUGIN_PATH")
    if folder is None:
        try:
            import cv2

            folder = str(Path(cv2.__file__).parent / "qt" / "plugins")
        except ImportError:
            return True
    platforms = Path(folder) / "platforms"
    if not platforms.is_dir():
        return True  # not the wheel's bundled Qt (or not Qt at all): the system's toolkit decides
    return any("wayland" in p.name for p in platforms.iterdir())


def render_overlay(view: np.ndarray, lines: Sequence[str], panels: int = 1, min_side: int = DISPLAY_MIN_SIDE) -> np.ndarray:
    """The window image: ``view`` (h, w, 3) float RGB [0, 1], made of ``panels`` side by side, scaled
    up so that each panel's longest side reaches ``min_side``; uint8 BGR (H, W, 3) with ``lines``
    written top left."""
    import cv2

    from .frames import to_uint8

    height, width = view.shape[:2]
    scale = max(1.0, min_side / max(height, width / panels))
    bgr = np.ascontiguousarray(to_uint8(view)[:, :, ::-1])
    if scale > 1.0:
        bgr = cv2.resize(bgr, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_LINEAR)
    font, font_scale, thickness = cv2.FONT_HERSHEY_SIMPLEX, 0.55, 1
    for row, text in enumerate(lines):
        origin = (8, 22 + 22 * row)
        # A dark outline under the white text keeps it legible on any painting.
        cv2.putText(bgr, text, origin, font, font_scale, (0, 0, 0), thickness + 2, cv2.LINE_AA)
        cv2.putText(bgr, text, origin, font, font_scale, (255, 255, 255), thickness, cv2.LINE_AA)
    return bgr


class Window:
    """The OpenCV highgui window. Check :func:`display_problem` first: without a display, Qt aborts."""

    def __init__(self, title: str = WINDOW_TITLE):
        import cv2

        clash = _x_library_clash()
        if clash:
            raise RuntimeError(
                f"cannot open a window in this process: PyAV was imported before OpenCV and its bundled {clash} "
                "would be used by OpenCV's Qt, which then hangs; import cv2 before av"
            )
        _use_system_fonts()
        self.title = title
        # AUTOSIZE follows the image (it changes with side by side); GUI_NORMAL drops Qt's toolbar.
        cv2.namedWindow(title, cv2.WINDOW_AUTOSIZE | cv2.WINDOW_GUI_NORMAL)
        self.shown = False

    def show(self, bgr: np.ndarray) -> None:
        import cv2

        cv2.imshow(self.title, bgr)
        self.shown = True

    def key(self, delay_ms: int = 1) -> int | None:
        """Process window events for ``delay_ms``; the key pressed meanwhile, or None."""
        import cv2

        # waitKeyEx: the full code, so special keys stay distinguishable from letters (handle_key).
        key = cv2.waitKeyEx(max(1, delay_ms))
        return None if key < 0 else key

    def closed(self) -> bool:
        """Whether the user closed the window with its close button."""
        import cv2

        if not self.shown:
            return False
        try:
            return cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1
        except cv2.error:
            return True

    def close(self) -> None:
        import cv2

        try:
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)  # let the GUI thread process the destroy before the process moves on
        except cv2.error:
            pass


def _x_library_clash() -> str | None:
    """The name of an X library that PyAV's wheel loaded under a name OpenCV's Qt also wants, or None.

    The opencv-python and av wheels bundle some of the same X libraries under identical hashed names
    (libxcb-shm-0be6dfbf.so.0, libXau-154567c4.so.6, ...) but link them against different libxcb
    copies. Whichever module is imported first provides them; when it is PyAV, Qt talks to the X server
    through two libxcb instances and ``cv2.namedWindow`` hangs for ever (seen with av 18 and
    opencv-python 5.0 under Xvfb). Linux only; elsewhere (no /proc/self/maps) None.
    """
    try:
        import cv2

        with open("/proc/self/maps") as maps:
            mapped = {Path(line.split()[-1]) for line in maps if "/av.libs/" in line}
    except (OSError, ImportError):
        return None
    if not mapped:
        return None
    cv2_libs = Path(cv2.__file__).resolve().parent.parent / "opencv_python.libs"
    if not cv2_libs.is_dir():
        return None
    ours = {p.name for p in cv2_libs.iterdir()}
    clashes = sorted(p.name for p in mapped if p.name in ours and ("xcb" in p.name or "X" in p.name))
    return clashes[0] if clashes else None


def _use_system_fonts() -> None:
    # The opencv-python wheel points Qt at a font folder it does not ship, and Qt then warns on every
    # frame. Point it at the system's fonts when they exist (the overlay uses OpenCV's own fonts).
    configured = os.environ.get("QT_QPA_FONTDIR")
    if configured and Path(configured).is_dir():
        return
    for folder in ("/usr/share/fonts/truetype", "/usr/share/fonts", "/usr/local/share/fonts"):
        if Path(folder).is_dir():
            os.environ["QT_QPA_FONTDIR"] = folder
            return


# ---------------------------------------------------------------------------------------------------
# recording and the loop


class Recorder:
    """``--record``: what is shown, with wall-clock timestamps (see the module docstring).

    Args:
        path: output video; width, height: the recorded view's size; fps: nominal rate for the
        encoder's rate control (the real timing is in the timestamps); codec, crf, pix_fmt, preset:
        as in :class:`~vidstyle.io.video.VideoWriter`.
    """

    def __init__(self, path, width: int, height: int, fps: float, codec: str, crf: int, pix_fmt: str, preset: str | None = None):
        from .io.video import VideoWriter

        self.writer = VideoWriter(path, width, height, fps, time_base=RECORD_TIME_BASE, codec=codec, crf=crf, pix_fmt=pix_fmt,
                                  preset=preset)
        self.start: float | None = None
        self.last_pts = -1

    def write(self, view: np.ndarray, shown_at: float) -> None:
        """Add ``view`` (height, width, 3) float RGB, shown at ``shown_at`` (perf_counter seconds)."""
        from .frames import Frame

        if self.start is None:
            self.start = shown_at
        pts = max(round((shown_at - self.start) / RECORD_TIME_BASE), self.last_pts + 1)  # strictly increasing
        index = self.writer.frames_written
        self.writer.write(Frame(view, index, index, pts=pts, time_base=RECORD_TIME_BASE))
        self.last_pts = pts

    def close(self) -> None:
        self.writer.close()

    def abort(self) -> None:
        self.writer.abort()


@dataclass(frozen=True)
class LiveStats:
    """The end-of-session numbers.

    frames: frames stylised and shown; fps: their mean rate while not paused (frames - 1 over the time
    from the first to the last, pauses taken out); latency: mean seconds from capture to display;
    dropped: frames the capture discarded because the loop was busy; seconds: session length.
    """

    frames: int
    fps: float | None
    latency: float | None
    dropped: int
    seconds: float
    stop_reason: str | None = None

    def summary(self) -> str:
        fps = f"{self.fps:.2f} fps mean" if self.fps else "fps n/a"
        latency = f"{self.latency * 1000:.0f} ms mean latency (capture to display)" if self.latency is not None else "latency n/a"
        parts = [f"{self.frames} frame(s)", fps, latency]
        if self.dropped:
            parts.append(f"{self.dropped} stale frame(s) dropped")
        if self.stop_reason:
            parts.append(self.stop_reason)
        return "live: " + ", ".join(parts)


def run_loop(session: LiveSession, capture, *, window: Window | None = None, recorder: Recorder | None = None,
             max_frames: int | None = None, record_side_by_side: bool = False, first=None) -> LiveStats:
    """Stylise and show frames from ``capture`` until the source ends, q/Esc, the window closes,
    ``max_frames`` frames were shown, or Ctrl+C (which ends the session normally: a headless session
    has no other way to stop, and its recording must be kept).

    ``first``: a frame already read from ``capture`` (it is processed before reading more).
    """
    started = time.perf_counter()
    shown_times: list[float] = []
    latencies: list[float] = []
    paused_seconds, paused_since = 0.0, None
    smoothed_interval: float | None = None
    pending = first
    try:
        while not session.state.quit and (max_frames is None or session.frames < max_frames):
            if window is not None:
                if window.closed():
                    break
                # While paused, wait longer per poll: nothing else to do, and no busy loop.
                action = session.press(window.key(30 if session.state.paused else 1))
                if action is Action.PAUSE:
                    if session.state.paused:
                        paused_since = time.perf_counter()
                    elif paused_since is not None:
                        paused_seconds += time.perf_counter() - paused_since
                        paused_since = None
                        smoothed_interval = None  # the pause is not a frame interval
                if action in (Action.PAUSE, Action.LAYOUT, Action.STRENGTH, Action.STYLE) and session.output is not None:
                    fps = 1.0 / smoothed_interval if smoothed_interval else None
                    window.show(_window_image(session, fps))
                if session.state.quit:
                    break
                if session.state.paused:
                    continue  # the capture keeps dropping stale frames meanwhile
            item = pending if pending is not None else capture.read()
            pending = None
            if item is None:
                break
            session.process(item.image)
            if shown_times:
                interval = time.perf_counter() - shown_times[-1]
                smoothed_interval = interval if smoothed_interval is None else (
                    (1 - FPS_SMOOTHING) * smoothed_interval + FPS_SMOOTHING * interval)
            if window is not None:
                fps = 1.0 / smoothed_interval if smoothed_interval else None
                window.show(_window_image(session, fps))
            shown_at = time.perf_counter()
            shown_times.append(shown_at)
            latencies.append(shown_at - item.captured_at)
            if recorder is not None:
                recorder.write(session.view(record_side_by_side), shown_at)
    except KeyboardInterrupt:
        pass
    if paused_since is not None:
        paused_seconds += time.perf_counter() - paused_since
    fps = None
    if len(shown_times) >= 2:
        span = shown_times[-1] - shown_times[0] - paused_seconds
        fps = (len(shown_times) - 1) / span if span > 0 else None
    return LiveStats(
        frames=len(shown_times), fps=fps, latency=float(np.mean(latencies)) if latencies else None,
        dropped=capture.dropped, seconds=time.perf_counter() - started, stop_reason=capture.stop_reason,
    )


def _window_image(session: LiveSession, fps: float | None) -> np.ndarray:
    return render_overlay(session.view(), session.overlay_lines(fps), panels=2 if session.state.side_by_side else 1)


def stylizers_for(config, styles, paths, network, device):
    """One Stylizer per style image, all sharing one network (loaded once)."""
    from .features import VGG19Features
    from .optimize import Stylizer

    network = network if network is not None else VGG19Features.load(config.weights)
    stylizers = [Stylizer(config, [image], network=network, device=device) for image in styles]
    return stylizers, [Path(p).stem for p in paths]
