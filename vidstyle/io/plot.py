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


def write_warping_plot(path: str | os.PathLike, output_errors: list[float], source_errors: list[float], title: str) -> None:
    """The per-frame warping error of the stylised video and of its source, as a picture (format
    from the extension), written under a temporary name and renamed into place."""
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 3.2), dpi=100)
    frames = range(1, len(output_errors) + 1)
    axes.plot(frames, output_errors, label="stylised", color="tab:red")
    axes.plot(frames, source_errors, label="source", color="tab:gray", linestyle="--")
    axes.set_xlabel("frame")
    axes.set_ylabel("warping error")
    axes.set_title(os.path.basename(title))
    axes.legend()
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
