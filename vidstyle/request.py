"""What a user asks ``vidstyle stylize`` for, as one typed record.

The command line builds a :class:`StylizeRequest` once from its arguments; the pipeline
(:mod:`vidstyle.pipeline`) and the scale-out (:mod:`vidstyle.shots`) read it, never an argparse
namespace. Library callers build one directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from .config import DeflickerSettings, StyleConfig
from .style_keys import StyleKeys

__all__ = ["DeflickerRequest", "StylizeRequest"]


@dataclass(frozen=True)
class StylizeRequest:
    """A video or frame-sequence render.

    Attributes:
        input: video file or frame-sequence pattern (``shot.####.exr``, ``shot.%04d.png``, ...).
        output: video file or frame-sequence pattern.
        styles: style image paths (their Grams are blended).
        config: every setting of the frames and of their computation (:class:`StyleConfig`).
        style_weights: one weight per style (not normalised), or None for equal weights.
        style_keys: style weights over time (``--style-keys``), or None.
        mask: ``--mask``: ``alpha``, an image, a video or a frame pattern; None stylises everywhere.
        frames: frames of a sequence input to render (``1001-1100x2``), or None for all.
        fps: frame rate of a video made from a sequence.
        start_number: number of a video's first frame when it becomes a sequence.
        overwrite: replace an existing output (and re-render every frame of a sequence).
        model: a trained transfer network (``vidstyle train``) to render with instead of the
            optimiser; its styles are its own (``styles`` must then be empty).
        init_model: a transfer network whose output starts the optimiser on every fresh frame and
            fills the unreliable pixels of later ones (the hybrid; ``styles`` are the optimiser's).
        deflicker: ``--deflicker``: every stylised frame goes through the deflicker stage in the same
            pass, with flow on the input (:class:`vidstyle.deflicker.DeflickeredEngine`); None: not.
    """

    input: str
    output: str
    styles: tuple[str, ...]
    config: StyleConfig = field(default_factory=StyleConfig.video)
    style_weights: tuple[float, ...] | None = None
    style_keys: StyleKeys | None = None
    mask: str | None = None
    frames: str | None = None
    fps: Fraction | None = None
    start_number: int = 1
    overwrite: bool = False
    model: str | None = None
    init_model: str | None = None
    deflicker: DeflickerSettings | None = None

    def blend_weights(self) -> list[float]:
        """The style weights as the blend uses them (summing to 1), so 0.7 0.3 and 7 3 record alike."""
        weights = list(self.style_weights) if self.style_weights else [1.0] * max(1, len(self.styles))
        return [w / sum(weights) for w in weights]


@dataclass(frozen=True)
class DeflickerRequest:
    """``vidstyle deflicker``: make ``processed`` temporally consistent, with flow from ``original``.

    Attributes:
        processed: the flickering video or frame pattern (it decides the output's size and timing).
        original: the video or frame pattern it was made from (any size, the same frame count).
        output: video file or frame pattern.
        settings: how strongly each band and the global colour are held (:class:`DeflickerSettings`).
        config: flow, ``long_term``, scene-cut and still-pixel settings, encoder, threads.
        frames, fps, start_number, overwrite: as for :class:`StylizeRequest` (``frames`` selects the
            same frames of both inputs when they are sequences).
    """

    processed: str
    original: str
    output: str
    settings: DeflickerSettings = field(default_factory=DeflickerSettings)
    config: StyleConfig = field(default_factory=StyleConfig.deflicker)
    frames: str | None = None
    fps: Fraction | None = None
    start_number: int = 1
    overwrite: bool = False

