"""A typed use of vidstyle's Python API, as a pipeline script would make it (docs/API.md).

    python docs/api_example.py [SAMPLES_FOLDER] [OUTPUT_FOLDER]

Renders the bundled clip at a thumbnail size through the API alone (``import vidstyle``, no
submodule), counting frames in a progress callback, and checks the result: every frame seen, the
audio kept. CI runs it (tests/test_api.py) and type-checks it (mypy, pyproject.toml).
"""

from __future__ import annotations

import sys
from pathlib import Path

import vidstyle


def render_clip(samples: Path, folder: Path, size: int = 32) -> vidstyle.RenderResult:
    """The bundled clip toward Starry Night at ``size`` px, into ``folder``/clip_starry.mp4; raises
    SystemExit unless every frame was seen by the callback and written, with the clip's audio."""
    clip = samples / "clip.mp4"
    seen: list[vidstyle.FrameReport] = []
    # The arbitrary-style decoders (one pass a frame, any painting) with their flow-warped stabiliser.
    config = vidstyle.StyleConfig.video().with_(size=size, engine="arbitrary", seed=0)
    result = vidstyle.stylize_video(clip, folder / "clip_starry.mp4", [samples / "starry_night.jpg"], config,
                                    overwrite=True, on_frame=seen.append)
    info = vidstyle.probe(folder / "clip_starry.mp4")
    expected = vidstyle.probe(clip).frame_count
    if len(seen) != expected or info.frame_count != expected or not info.has_audio:
        raise SystemExit(f"expected {expected} frames with audio, saw {len(seen)}, wrote {info.frame_count} (audio: {info.has_audio})")
    return result


if __name__ == "__main__":
    here = Path(__file__).resolve().parents[1]
    samples = Path(sys.argv[1]) if len(sys.argv) > 1 else here / "samples"
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else Path.cwd()
    try:
        print(render_clip(samples, out).summary())
    except vidstyle.UsageError as error:
        raise SystemExit(f"api_example: {error}") from None
