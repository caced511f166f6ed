"""``vidstyle eval``'s measurements: the temporal consistency of a stylised video against its source
(warping error, Lai et al. 2018, with flow and reliability from the source) and, given the style
image, the mean Gram and content distances (:mod:`vidstyle.metrics`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import UsageError

__all__ = ["evaluate_frames"]


def evaluate_frames(outputs: list[np.ndarray], sources: list[np.ndarray], *, style: np.ndarray | None = None,
                    weights: str | None = None, flow_method: str = "dis",
                    names: tuple[str, str] = ("the stylised video", "the source")) -> dict[str, Any]:
    """The report of ``vidstyle eval`` for stylised frames and the source frames they came from.

    Args:
        outputs, sources: float32 (H, W, 3) frames in [0, 1], as many of each (at least 2); the
            sources are measured at the outputs' size.
        style: the style image, float32 (H, W, 3): adds the mean Gram distance to it and the mean
            relu4_2 content distance to the sources.
        weights: VGG-19 weights for the distances (default: the bundled original weights).
        flow_method: the flow used for the warping error.
        names: how errors name the two videos (their paths, for the command line).
    Returns:
        frames, width, height, warping_error, source_warping_error, per_frame, source_per_frame
        (one value per frame pair); static_change, source_static_change, static_fraction (means)
        and static_per_frame, source_static_per_frame: the change of the output and of the source
        where the source stands still (:func:`vidstyle.metrics.static_changes`, [0, 1] units);
        and style_distance, content_distance with ``style``.
    """
    from .metrics import static_changes, warping_errors

    if len(outputs) != len(sources):
        raise UsageError(f"{names[0]} has {len(outputs)} frames but {names[1]} has {len(sources)}; expected the same count")
    if len(outputs) < 2:
        raise UsageError(f"{names[0]}: need at least 2 frames to measure temporal consistency, got {len(outputs)}")
    output_errors, source_errors = warping_errors(outputs, sources, method=flow_method)
    report: dict[str, Any] = {
        "frames": len(outputs),
        "width": outputs[0].shape[1],
        "height": outputs[0].shape[0],
        "warping_error": float(np.mean(output_errors)),
        "source_warping_error": float(np.mean(source_errors)),
        "per_frame": output_errors,
        "source_per_frame": source_errors,
    }
    static, source_static, fractions = static_changes(outputs, sources, method=flow_method)
    report.update({
        "static_change": _nanmean(static),
        "source_static_change": _nanmean(source_static),
        "static_fraction": float(np.mean(fractions)),
        "static_per_frame": static,
        "source_static_per_frame": source_static,
    })
    if style is not None:
        from .features import VGG19Features
        from .metrics import content_distance, style_distance

        network = VGG19Features.load(weights)
        report["style_distance"] = float(np.mean([style_distance(network, o, style) for o in outputs]))
        report["content_distance"] = float(np.mean([content_distance(network, o, s) for o, s in zip(outputs, sources)]))
    return report


def _nanmean(values: list[float]) -> float | None:
    """The mean of the values that are numbers; None when none is (JSON has no NaN)."""
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else None

