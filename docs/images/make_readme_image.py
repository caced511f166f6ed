"""Rebuild docs/images/readme.png (1024 px wide) from results made by the tool's own commands.

    python docs/images/make_readme_image.py      # runs the commands below first (results kept in vidstyle_demo/)

- Top: the Tübingen photo | `vidstyle image samples/tubingen.jpg -s samples/starry_night.jpg
  -o tubingen_starry_512.png --size 512 --min-scale 128 --iters 150 --dtype bfloat16 --seed 0`
  (512 px each; coarse to fine from 128 px, bfloat16 where the CPU has it, else drop that option).
- Middle: four frames of `vidstyle demo` (256 px each).
- Below, two paintings a row: for each bundled painting, `vidstyle image samples/tubingen.jpg -s
  PAINTING --size 256 --engine arbitrary` (the arbitrary-style decoders, one pass) | the same with
  the optimiser, `--iters 150 --seed 0` (and `--dtype bfloat16` where the CPU has it).
"""

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

from vidstyle.frames import resize
from vidstyle.io.image import read_image, write_image
from vidstyle.io.video import VideoReader

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "images"
WORK = ROOT / "vidstyle_demo"
PHOTO = ROOT / "samples" / "tubingen.jpg"
PAINTINGS = ("starry_night", "the_scream", "woman-with-hat-matisse", "shipwreck")
WIDTH = 1024


def vidstyle(*args: str) -> None:
    print("vidstyle " + " ".join(args), flush=True)
    subprocess.run([sys.executable, "-m", "vidstyle.cli", *args], check=True)


def still(name: str, style: str, *options: str) -> np.ndarray:
    """``vidstyle image`` of the photo toward ``style`` into vidstyle_demo/NAME.png (kept: not redone)."""
    path = WORK / f"{name}.png"
    if not path.exists():
        vidstyle("image", str(PHOTO), "-s", str(ROOT / "samples" / f"{style}.jpg"), "-o", str(path), *options)
    return read_image(path)[0]


def label(image: np.ndarray, text: str) -> np.ndarray:
    """``text`` in the top-left corner, white on a dark band."""
    out = np.ascontiguousarray(np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8))  # OpenCV draws on 8-bit
    cv2.rectangle(out, (0, 0), (out.shape[1], 18), (0, 0, 0), thickness=-1)
    cv2.putText(out, text, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 1, cv2.LINE_AA)
    return out.astype(np.float32) / 255


def row(images: list[np.ndarray], width: int = WIDTH) -> np.ndarray:
    """``images`` side by side, each scaled to width / len(images), all to the first one's height."""
    tile = width // len(images)
    height = round(tile * images[0].shape[0] / images[0].shape[1])
    return np.concatenate([resize(image, (tile, height)) for image in images], axis=1)


def main() -> None:
    WORK.mkdir(exist_ok=True)
    from vidstyle.device import cpu_has_bfloat16

    fast = ["--dtype", "bfloat16"] if cpu_has_bfloat16() else []
    big = still("tubingen_starry_512", "starry_night", "--size", "512", "--min-scale", "128", "--iters", "150", *fast, "--seed", "0")
    photo = resize(read_image(PHOTO)[0], (big.shape[1], big.shape[0]))
    rows = [row([label(photo, "photo"), label(big, "vidstyle image --size 512 (The Starry Night)")])]
    clip = WORK / "clip_starry_night.mp4"
    if not clip.exists():
        vidstyle("demo")
    with VideoReader(clip) as reader:
        frames = [f.image for f in reader]
    picks = [frames[i] for i in np.linspace(0, len(frames) - 1, 4).astype(int)]
    rows.append(row([label(picks[0], "vidstyle demo"), *picks[1:]]))
    pairs = []
    for painting in PAINTINGS:
        arbitrary = still(f"tubingen_{painting}_arbitrary", painting, "--size", "256", "--engine", "arbitrary")
        optimised = still(f"tubingen_{painting}_optimiser", painting, "--size", "256", "--iters", "150", *fast, "--seed", "0")
        name = painting.replace("-matisse", "").replace("_", " ").replace("-", " ")
        pairs += [label(arbitrary, f"{name}: --engine arbitrary"), label(optimised, "optimiser, 150 iterations")]
    for start in range(0, len(pairs), 4):
        rows.append(row(pairs[start:start + 4]))
    picture = np.concatenate([resize(r, (WIDTH, r.shape[0])) for r in rows], axis=0)
    write_image(OUT / "readme.png", picture)
    print(f"wrote {OUT / 'readme.png'} ({picture.shape[1]}x{picture.shape[0]})")


if __name__ == "__main__":
    main()
