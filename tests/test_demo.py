"""``vidstyle demo --quick``: the README's first command in its sub-minute form, end to end."""

from __future__ import annotations

import pytest

from vidstyle.cli import main
from vidstyle.io.video import probe
from vidstyle.model.arbitrary import SHIPPED_DECODER


def test_quick_demo_writes_the_video_the_side_by_side_and_the_plot(tmp_path, capsys):
    import importlib.resources

    if not importlib.resources.files("vidstyle").joinpath("data", SHIPPED_DECODER).is_file():
        pytest.fail("the shipped decoder is missing from vidstyle/data/ (docs/ARBITRARY.md)")
    assert main(["demo", "--quick", "-o", str(tmp_path), "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    video, compare = probe(tmp_path / "clip_starry_night.mp4"), probe(tmp_path / "clip_starry_night_side_by_side.mp4")
    assert (video.width, video.height, video.frame_count) == (96, 54, 48) and video.has_audio
    assert (compare.width, compare.frame_count) == (192, 48)
    assert (tmp_path / "clip_starry_night_warping_error.png").stat().st_size > 1000
    for name in ("clip_starry_night.mp4", "side_by_side.mp4", "warping_error.png"):
        assert name in err  # each output is named, with what it shows
