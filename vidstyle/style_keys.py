"""Style keyframes: a clip that morphs from one style (blend) to another over time.

``--style-keys "0:1,0 120:0,1"`` gives, per keyframe, a 0-based source frame index (``Frame.index``)
and one weight per style image. Each key's weights are first normalised to sum 1; between two keys
the normalised weights are interpolated linearly in the frame index, and before the first key or
after the last they stay at that key's values. Since a blended Gram target is the weighted mean of
the style images' Grams (:func:`vidstyle.losses.blend_grams`), the target Grams themselves then move
linearly from key to key, and the warm start plus the temporal term carry the picture along without
a jump.

Pure: no I/O. Parse errors are ``ValueError`` with the option's name and what was expected; the CLI
turns them into one line and exit code 2.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass

__all__ = ["StyleKeys"]


OPTION = "--style-keys"


@dataclass(frozen=True)
class StyleKeys:
    """Keyframes of style weights.

    Attributes:
        frames: key frame indices, strictly increasing, each >= 0.
        weights: per key, one weight per style image, normalised to sum 1.
    """

    frames: tuple[int, ...]
    weights: tuple[tuple[float, ...], ...]

    def __post_init__(self) -> None:
        if not self.frames or len(self.frames) != len(self.weights):
            raise ValueError(f"{OPTION}: expected one weight list per key frame, got {len(self.frames)} frames and {len(self.weights)} weight lists")
        if any(b <= a for a, b in zip(self.frames, self.frames[1:])):
            raise ValueError(f"{OPTION}: key frames must increase, got {' '.join(map(str, self.frames))}")
        if len({len(w) for w in self.weights}) != 1:
            raise ValueError(f"{OPTION}: every key needs the same number of weights")

    def record(self) -> dict:
        """The keys as plain data (frames and normalised weights), e.g. for a render's settings
        sidecar: two spellings of the same keys ("0:2,0" and "0:1,0") record alike."""
        return {"frames": list(self.frames), "weights": [list(w) for w in self.weights]}

    @property
    def styles(self) -> int:
        """Number of style images the keys weigh."""
        return len(self.weights[0])

    @classmethod
    def parse(cls, text: str, styles: int) -> "StyleKeys":
        """Parse ``"FRAME:W1,W2,... FRAME:..."`` (keys separated by spaces) for ``styles`` style images.

        Raises ValueError naming the bad key: not ``FRAME:WEIGHTS``, a frame that is not an integer
        >= 0, weights that are not finite numbers, the wrong number of weights, a negative weight,
        all weights zero, or frames that do not increase.
        """
        keys = text.split()
        if not keys:
            raise ValueError(f"{OPTION}: expected keys like \"0:1,0 120:0,1\" (frame:one weight per style), got {text!r}")
        frames: list[int] = []
        weights: list[tuple[float, ...]] = []
        for key in keys:
            frame_text, colon, weight_text = key.partition(":")
            if not colon or not weight_text:
                raise ValueError(f"{OPTION}: key {key!r} is not FRAME:WEIGHTS (e.g. 0:1,0)")
            try:
                frame = int(frame_text)
            except ValueError:
                raise ValueError(f"{OPTION}: key {key!r}: frame {frame_text!r} is not an integer") from None
            if frame < 0:
                raise ValueError(f"{OPTION}: key {key!r}: frame must be >= 0 (0-based index in the input)")
            try:
                values = [float(part) for part in weight_text.split(",")]
            except ValueError:
                raise ValueError(f"{OPTION}: key {key!r}: weights must be numbers separated by commas") from None
            if len(values) != styles:
                raise ValueError(f"{OPTION}: key {key!r} has {len(values)} weight(s) for {styles} style image(s)")
            if not all(math.isfinite(v) for v in values):
                raise ValueError(f"{OPTION}: key {key!r}: weights must be finite")
            if any(v < 0 for v in values):
                raise ValueError(f"{OPTION}: key {key!r}: weights must be >= 0")
            total = sum(values)
            if total <= 0:
                raise ValueError(f"{OPTION}: key {key!r}: weights are all zero")
            if frames and frame <= frames[-1]:
                raise ValueError(f"{OPTION}: key frames must increase, but {frame} follows {frames[-1]}")
            frames.append(frame)
            weights.append(tuple(v / total for v in values))
        return cls(tuple(frames), tuple(weights))

    def at(self, index: int) -> tuple[float, ...]:
        """Style weights (summing to 1) for source frame ``index``: linear between the keys around
        it, clamped to the first key before it and to the last key after it."""
        frames = self.frames
        if index <= frames[0]:
            return self.weights[0]
        if index >= frames[-1]:
            return self.weights[-1]
        right = bisect_right(frames, index)
        left = right - 1
        t = (index - frames[left]) / (frames[right] - frames[left])
        return tuple((1 - t) * a + t * b for a, b in zip(self.weights[left], self.weights[right]))
