"""The working size never silently exceeds the input (issue 18, item 3)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import sample_path
from vidstyle.cli import main
from vidstyle.frames import working_size
from vidstyle.io.image import write_image


@pytest.mark.parametrize("size, longest, upscale, expected", [
    ((80, 45), 512, False, (80, 45)),  # smaller input: its own size
    ((80, 45), 512, True, (512, 288)),  # asked for
    ((1920, 1080), 512, False, (512, 288)),  # larger input: scaled down as always
    ((80, 45), 80, False, (80, 45)),
    ((45, 80), 40, False, (22, 40)),
])
def test_working_size(size, longest, upscale, expected):
    assert working_size(*size, longest, upscale) == expected


def plates(folder, count=2, size=(32, 18)):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for n in range(1, count + 1):
        write_image(folder / f"p.{n:04d}.png", rng.uniform(0, 1, (size[1], size[0], 3)).astype(np.float32))
    return folder / "p.####.png"


FAST = ["--iters", "1", "--first-iters", "1", "--device", "cpu", "--seed", "0", "--threads", "1"]


def test_a_small_plate_is_worked_at_its_own_size_unless_upscaling_is_asked_for(tmp_path, capsys):
    pattern = plates(tmp_path / "in")
    style = str(sample_path("starry_night.jpg"))
    assert main(["stylize", str(pattern), "-s", style, "-o", str(tmp_path / "a" / "o.####.png"), *FAST]) == 0
    settings = json.loads((tmp_path / "a" / "o.vidstyle.json").read_text())
    assert settings["size"] == [32, 18]  # not 512 wide: the config's default --size
    assert "stylised at" not in capsys.readouterr().err
    assert main(["stylize", str(pattern), "-s", style, "-o", str(tmp_path / "b" / "o.####.png"), "--size", "48", "--upscale", *FAST]) == 0
    assert json.loads((tmp_path / "b" / "o.vidstyle.json").read_text())["size"] == [48, 27]
    summary = capsys.readouterr().err.strip().splitlines()[-1]
    assert "stylised at 48x27, written at the plate's 32x18" in summary
