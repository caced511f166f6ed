"""Files ``vidstyle eval`` writes besides its report: the warping-error plot and the side-by-side
video (source | stylised)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..frames import Frame, resize
from .image import temporary_path
from .video import VideoWriter

__all__ = ["write_side_by_side", "write_warping_plot"]


def write_warping_plot(path: str | os.PathLike, output_errors: list[float], source_errors: list[float], title: str,
                       static: tuple[list[float], list[float]] | None = None) -> None:
    """The per-frame warping error of the stylised video and of its source, as a picture (format
    from the extension), written under a temporary name and renamed into place. ``static``: the
    per-frame change of the output and of the source where the source stands still ([0, 1] units),
    drawn below in 8-bit codes."""
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    figure, panels = plt.subplots(2 if static else 1, 1, figsize=(7, 5.6 if static else 3.2), dpi=100, squeeze=False)
    frames = range(1, len(output_errors) + 1)
    axes = panels[0][0]
    axes.plot(frames, output_errors, label="stylised", color="tab:red")
    axes.plot(frames, source_errors, label="source", color="tab:gray", linestyle="--")
    axes.set_xlabel("frame")
    axes.set_ylabel("warping error")
    axes.set_title(os.path.basename(title))
    axes.legend()
    if static:
        below = panels[1][0]
        below.plot(frames, [255 * v for v in static[0]], label="stylised", color="tab:red")
        below.plot(frames, [255 * v for v in static[1]], label="source", color="tab:gray", linestyle="--")
        below.set_xlabel("frame")
        below.set_ylabel("change where still (/255)")
        below.legend()
    figure.tight_layout()
    temporary = temporary_path(path)
    try:
        figure.savefig(temporary, format=Path(path).suffix.lstrip(".") or "png")
        os.replace(temporary, path)
    finally:
        plt.close(figure)
        Path(temporary).unlink(missing_ok=True)


def write_side_by_side(path: str | os.PathLike, sources: list[np.ndarray], outputs: list[np.ndarray], fps,
                       audio_from: str | None = None) -> None:
    """A video of source | stylised frames at the stylised frames' size, with ``audio_from``'s sound."""
    height, width = outputs[0].shape[:2]
    with VideoWriter(path, 2 * width, height, fps, audio_from=audio_from) as writer:
        for index, (left, right) in enumerate(zip(sources, outputs)):
            writer.write(Frame(np.concatenate([resize(left, (width, height)), right], axis=1), index, index))
