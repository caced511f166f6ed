"""vidstyle: flicker-free neural style transfer for video.

Pipeline, one module each: source (vidstyle.io) -> frames (vidstyle.frames) -> flow (package
``flow``) -> warp -> engine (vidstyle.optimize and temporal, vidstyle.model) -> sink (vidstyle.io).

The public API is what ``__all__`` names (docs/API.md): stills, videos and sequences, training and
models, the engines and the frame loop, the metrics, the settings and the errors. The names are
imported on first use, so ``import vidstyle`` stays cheap (torch is loaded only when needed) and
the command line can check its arguments before loading anything heavy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> the module that owns it ("module:name" where the public name differs: the frame loop
# is vidstyle.render.render, and "vidstyle.render" is that module's own name)
_PUBLIC = {
    "stylize_image": "api", "stylize_video": "api", "synthesize_texture": "api", "train_model": "api", "load_model": "api",
    "deflicker_video": "pipeline", "DeflickerRequest": "request", "StylizeRequest": "request", "export_model": "model.export",
    "StyleConfig": "config", "TrainConfig": "config",
    "VidstyleError": "errors", "UsageError": "errors", "OutOfMemoryError": "errors", "Interrupted": "errors",
    "Engine": "engine", "FrameReport": "engine", "PreparedFrame": "engine", "HistoryEntry": "engine",
    "Frame": "frames",
    "Stylizer": "optimize", "Progress": "optimize",
    "VideoStylizer": "temporal",
    "ModelEngine": "model.engine", "ArbitraryEngine": "model.arbitrary",
    "render_frames": "render:render", "RenderResult": "render",
    "open_source": "io.media", "open_sink": "io.media",
    "read_image": "io.image", "write_image": "io.image", "probe": "io.video",
    "warping_errors": "metrics", "style_distance": "metrics", "content_distance": "metrics",
    "evaluate_frames": "evaluate",
    "LiveSession": "live", "run_bench": "bench",
}
__all__ = ["__version__", *_PUBLIC]

if TYPE_CHECKING:
    from .api import load_model, stylize_image, stylize_video, synthesize_texture, train_model
    from .model.export import export_model
    from .pipeline import deflicker_video
    from .request import DeflickerRequest, StylizeRequest
    from .config import StyleConfig, TrainConfig
    from .engine import Engine, FrameReport, HistoryEntry, PreparedFrame
    from .errors import Interrupted, OutOfMemoryError, UsageError, VidstyleError
    from .bench import run_bench
    from .evaluate import evaluate_frames
    from .frames import Frame
    from .io.image import read_image, write_image
    from .io.media import open_sink, open_source
    from .io.video import probe
    from .live import LiveSession
    from .metrics import content_distance, style_distance, warping_errors
    from .model.arbitrary import ArbitraryEngine
    from .model.engine import ModelEngine
    from .optimize import Progress, Stylizer
    from .render import RenderResult
    from .render import render as render_frames
    from .temporal import VideoStylizer


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'vidstyle' has no attribute {name!r}")
    import importlib

    module, _, attribute = _PUBLIC[name].partition(":")
    value = getattr(importlib.import_module(f".{module}", __name__), attribute or name)
    globals()[name] = value  # once
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
