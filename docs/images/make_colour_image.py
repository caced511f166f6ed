"""Rebuild docs/images/colour.png (docs/VFX_COLOUR.md): a plate with bright lights before and after.

    python docs/images/make_colour_image.py      # work files in vidstyle_demo/colour/

1. The plate: the Tübingen photo at 224 px, converted from sRGB to ACEScg by OpenColorIO (the
   built-in config), plus four lights (two white, two warm) whose cores reach 16.0, written as a half
   EXR with ACES AP1 chromaticities: what a studio's ACEScg plate is.
2. `vidstyle image plate.exr -s samples/starry_night.jpg -o stylised.exr --size 224 --iters 60 --seed 0`
   (CPU, about a minute).
3. The picture, 2x2: top, the plate and the result through the config's default view (ACES 2.0 SDR,
   sRGB display); bottom, both three stops darker (x 1/8, then the view), where the lights, far
   above 1.0 in both files, are still the brightest things in the frame. It prints how many of the
   plate's values above 1.0 are above 1.0 in the result.
"""

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

from vidstyle.frames import resize, to_uint8
from vidstyle.io.colour import BUILTIN_CONFIG, ColourOptions, plate_colour
from vidstyle.io.image import ImageFormat, read_image, read_raw, write_raw

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / "vidstyle_demo" / "colour"
AP1 = (0.713, 0.293, 0.165, 0.830, 0.128, 0.044, 0.32168, 0.33767)
LIGHTS = [((0.18, 0.22, 6.0), (1.0, 1.0, 1.0)), ((0.62, 0.15, 8.0), (1.0, 0.7, 0.4)),
          ((0.45, 0.62, 4.0), (1.0, 1.0, 1.0)), ((0.86, 0.55, 5.0), (1.0, 0.55, 0.25))]


def make_plate(path: Path) -> np.ndarray:
    import PyOpenColorIO as ocio

    photo = read_image(ROOT / "samples" / "tubingen.jpg")[0]
    photo = resize(photo, (224, round(224 * photo.shape[0] / photo.shape[1])))
    linear = np.array(photo, dtype=np.float32, copy=True)
    config = ocio.Config.CreateFromFile(BUILTIN_CONFIG)
    config.getProcessor("sRGB Encoded Rec.709 (sRGB)", "ACEScg").getDefaultCPUProcessor().applyRGB(linear.reshape(-1, 3))
    height, width = linear.shape[:2]
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    for (x, y, sigma), colour in LIGHTS:
        glow = np.exp(-((xx - x * width) ** 2 + (yy - y * height) ** 2) / (2 * sigma**2))
        linear += 16.0 * glow[..., None] * np.float32(colour)
    linear = np.minimum(linear, 16.0).astype(np.float16).astype(np.float32)
    write_raw(path, linear, None, ImageFormat("exr", "float16", 3, True), AP1)
    return linear


def main() -> None:
    os.environ.pop("OCIO", None)  # the built-in config, whatever this machine's $OCIO says
    WORK.mkdir(parents=True, exist_ok=True)
    plate_path, stylised_path = WORK / "plate.exr", WORK / "stylised.exr"
    plate = make_plate(plate_path)
    command = ["image", str(plate_path), "-s", str(ROOT / "samples" / "starry_night.jpg"), "-o", str(stylised_path),
               "--size", "224", "--iters", "60", "--seed", "0", "--device", "cpu", "--overwrite"]
    print("vidstyle " + " ".join(command), flush=True)
    subprocess.run([sys.executable, "-m", "vidstyle.cli", *command], check=True)
    stylised = read_raw(stylised_path).values

    raw = read_raw(plate_path)
    colour = plate_colour(ColourOptions(), raw, str(plate_path))
    assert colour is not None
    bright = plate > 1.0
    print(f"{(stylised[bright] > 1.0).mean():.1%} of the plate's {bright.sum()} values above 1.0 are above 1.0 in the result; "
          f"brightest {plate.max():.1f} -> {stylised.max():.1f}; finite: {bool(np.isfinite(stylised).all())}")
    rows = [np.concatenate([colour.display_image(image * scale) for image in (plate, stylised)], axis=1)
            for scale in (1.0, 1.0 / 8.0)]
    gap = np.ones((4, rows[0].shape[1], 3), np.float32)
    picture = to_uint8(np.concatenate([rows[0], gap, rows[1]], axis=0))
    # PNG at zlib's strongest setting (write_image uses OpenCV's fast default): the page stays light.
    target = ROOT / "docs" / "images" / "colour.png"
    cv2.imwrite(str(target), np.ascontiguousarray(picture[:, :, ::-1]), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"wrote {target} ({target.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
