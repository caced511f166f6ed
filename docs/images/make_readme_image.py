"""Rebuild docs/images/readme.png from results made by the tool itself.

    python docs/images/make_readme_image.py            # runs vidstyle image and vidstyle demo first

Top row: the photo and `vidstyle image … --size 128 --iters 150`; bottom row: four frames of `vidstyle demo`.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np

from vidstyle.frames import fit_longest_side, resize
from vidstyle.io.image import read_image, write_image
from vidstyle.io.video import VideoReader

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "images"
WORK = ROOT / "vidstyle_demo"


def vidstyle(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "vidstyle.cli", *args], check=True)


def main() -> None:
    still = WORK / "tubingen_starry.png"
    if not still.exists():
        WORK.mkdir(exist_ok=True)
        vidstyle("image", str(ROOT / "samples/tubingen.jpg"), "-s", str(ROOT / "samples/starry_night.jpg"),
                 "-o", str(still), "--size", "128", "--iters", "150", "--seed", "0")
    clip = WORK / "clip_starry_night.mp4"
    if not clip.exists():
        vidstyle("demo")
    stylised = read_image(still)[0]
    photo = resize(read_image(ROOT / "samples/tubingen.jpg")[0], (stylised.shape[1], stylised.shape[0]))
    top = np.concatenate([photo, stylised], axis=1)
    with VideoReader(clip) as reader:
        frames = [f.image for f in reader]
    picks = [frames[i] for i in np.linspace(0, len(frames) - 1, 4).astype(int)]
    width = top.shape[1] // 4
    height = fit_longest_side(picks[0].shape[1], picks[0].shape[0], width)[1]
    bottom = np.concatenate([resize(f, (width, height)) for f in picks], axis=1)
    bottom = resize(bottom, (top.shape[1], height))
    write_image(OUT / "readme.png", np.concatenate([top, bottom], axis=0))
    print(f"wrote {OUT / 'readme.png'}")


if __name__ == "__main__":
    main()
