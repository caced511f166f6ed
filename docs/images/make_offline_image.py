"""The pictures of docs/OFFLINE_QUALITY.md, made by the tool:

    python docs/images/make_offline_image.py    # about 5 minutes on a 2-core CPU

- ``passes.png``: 24 frames of the shared real clip (``../shared/data/clips/city_cc0.mpg``) at
  128 px with Starry Night, one pass (120 iterations for the first frame, 40 for each later one)
  against ``--passes 4 --iters 25`` (25 in pass 1, 5 in each of three more: the same 40): three
  frames of each and the warping error of every frame (flow on the source), as bench/passes.py
  measures it.
- ``coarse_to_fine.png``: the Tübingen photo at 384 px, 150 iterations at one scale against
  ``--min-scale 128`` (50 at each of 128, 181 and 256 px, then 150 at 384).
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import passes as bench_passes  # noqa: E402  (bench/passes.py: the clip cut and the measure)

import vidstyle  # noqa: E402
from vidstyle.config import StyleConfig  # noqa: E402
from vidstyle.features import VGG19Features  # noqa: E402
from vidstyle.io.image import read_image, write_image  # noqa: E402

STYLE = str(ROOT / "samples" / "starry_night.jpg")
CLIP = str(ROOT.parent / "shared" / "data" / "clips" / "city_cc0.mpg")


def passes_picture(out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    network = VGG19Features.load()
    style = read_image(STYLE)[0]
    base = dataclasses.replace(StyleConfig.video(), size=128, first_iters=120, seed=0)
    variants = {"one pass, 40 iterations a frame": dataclasses.replace(base, iters=40),
                "--passes 4 --iters 25 (25 + 3 x 5)": dataclasses.replace(base, iters=25, passes=4, pass_iters=5)}
    shown = (5, 14, 23)
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        source = bench_passes.cut(CLIP, 0, 24, folder)
        sources = [read_image(source.replace("####", f"{n:04d}"))[0] for n in range(1, 25)]
        rows, curves = [], {}
        for i, (name, config) in enumerate(variants.items()):
            pattern = str(folder / f"v{i}.####.tif")
            vidstyle.stylize_video(source, pattern, [STYLE], config)
            measured = bench_passes.measure(pattern, sources, style, network)
            curves[f"{name}: mean {measured['warping_error']:.6f}"] = measured["warping_error_per_frame"]
            rows.append((name, [read_image(pattern.replace("####", f"{n + 1:04d}"))[0] for n in shown]))
    figure = plt.figure(figsize=(10, 6.4), dpi=100)
    grid = figure.add_gridspec(3, len(shown), height_ratios=[1, 1, 1.3])
    for r, (name, frames) in enumerate(rows):
        for c, (number, image) in enumerate(zip(shown, frames)):
            axes = figure.add_subplot(grid[r, c])
            axes.imshow(np.clip(image, 0, 1))
            axes.set_xticks([])
            axes.set_yticks([])
            if c == 0:
                axes.set_ylabel(name.split(",")[0].split(" (")[0], fontsize=9)
            if r == 0:
                axes.set_title(f"frame {number + 1}", fontsize=9)
    plot = figure.add_subplot(grid[2, :])
    for (label, values), colour in zip(curves.items(), ("tab:gray", "tab:red")):
        plot.plot(range(2, len(values) + 2), values, label=label, color=colour)
    plot.set_xlabel("frame")
    plot.set_ylabel("warping error")
    plot.legend(fontsize=8)
    figure.suptitle("city_cc0.mpg, 128 px, Starry Night: the same 40 iterations a frame", fontsize=10)
    figure.tight_layout()
    figure.savefig(out)
    plt.close(figure)


def coarse_to_fine_picture(out: Path) -> None:
    photo = read_image(ROOT / "samples" / "tubingen.jpg")[0]
    painting = read_image(STYLE)[0]
    base = dataclasses.replace(StyleConfig(), size=384, iters=150, seed=0, tolerance=0.0)
    one = vidstyle.stylize_image(photo, painting, base)
    ladder = vidstyle.stylize_image(photo, painting, dataclasses.replace(base, min_scale=128, scale_iters=50))
    gap = np.ones((one.shape[0], 8, 3), np.float32)
    write_image(out, np.concatenate([one, gap, ladder], axis=1))


def main() -> int:
    passes_picture(HERE / "passes.png")
    coarse_to_fine_picture(HERE / "coarse_to_fine.png")
    print(f"wrote {HERE / 'passes.png'} and {HERE / 'coarse_to_fine.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
