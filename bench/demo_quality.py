"""The demo's quality, as issue 21 measures it, on every eighth frame.

    python bench/demo_quality.py vidstyle_demo/clip_starry_night.mp4 [--source samples/clip.mp4]
                                 [--style samples/starry_night.jpg] [--every 8]

For each frame k = 0, 8, 16, ... of the stylised video and of its source:
- content: relu4_2 distance of the stylised frame to the source frame, over the painting's own
  relu4_2 distance to that frame (1: as far from the photo as the painting is; the houses gone);
- style: Gram distance of the stylised frame to the painting, over the source frame's (0: the
  painting's textures exactly; 1: no style at all).
Printed per frame and as means (``vidstyle.metrics``: content_distance, style_distance).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stylised")
    parser.add_argument("--source", default=str(ROOT / "samples" / "clip.mp4"))
    parser.add_argument("--style", default=str(ROOT / "samples" / "starry_night.jpg"))
    parser.add_argument("--every", type=int, default=8)
    args = parser.parse_args(argv)

    import numpy as np
    import torch

    from vidstyle.features import VGG19Features
    from vidstyle.frames import resize
    from vidstyle.io.image import read_image
    from vidstyle.io.video import VideoReader
    from vidstyle.metrics import content_distance, style_distance

    network = VGG19Features.load()
    style = read_image(args.style)[0]
    outputs = [f.image for f in VideoReader(args.stylised)]
    sources = [f.image for f in VideoReader(args.source)]
    if len(outputs) != len(sources):
        print(f"{args.stylised} has {len(outputs)} frames, {args.source} {len(sources)}", file=sys.stderr)
        return 2
    contents, styles = [], []
    with torch.no_grad():
        for k in range(0, len(outputs), args.every):
            out = outputs[k]
            src = resize(sources[k], (out.shape[1], out.shape[0]))
            painting = resize(style, (out.shape[1], out.shape[0]))  # the painting seen at the frame's size
            content = content_distance(network, out, src) / content_distance(network, painting, src)
            gram = style_distance(network, out, style) / style_distance(network, src, style)
            contents.append(content)
            styles.append(gram)
            print(f"frame {k:3d}: content {content:.3f}, style {gram:.3f}", flush=True)
    print(f"{out.shape[1]}x{out.shape[0]}, {len(contents)} frames: content ratio mean {np.mean(contents):.3f}, "
          f"style ratio mean {np.mean(styles):.3f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
