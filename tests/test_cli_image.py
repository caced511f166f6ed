"""`vidstyle image`: a tiny end-to-end run, and one-line errors with exit code 2 for bad input."""

import numpy as np
import pytest

from vidstyle.cli import main
from vidstyle.io.image import read_image, write_image

from conftest import sample_path


def run_cli(capfd, *args) -> tuple[int, str]:
    """The exit code and stderr of ``vidstyle ARGS``, in this process: starting Python with torch costs
    about 4 s a case here. capfd captures file descriptor 2, so a C library's own message would count
    as a line too; test_hardening.py runs the CLI as a separate process once."""
    capfd.readouterr()
    try:
        code = main([str(a) for a in args])
    except SystemExit as exit:  # argparse's refusals
        code = exit.code
    return code, capfd.readouterr().err


@pytest.fixture()
def small_images(tmp_path, photo, painting):
    from vidstyle.frames import resize

    content, style = tmp_path / "content.png", tmp_path / "style.png"
    write_image(content, resize(photo, (48, 36)))
    write_image(style, resize(painting, (40, 32)))
    return content, style


def test_image_end_to_end_writes_output_of_requested_size(tmp_path, small_images, capsys):
    content, style = small_images
    out = tmp_path / "out.png"
    code = main(["image", str(content), "-s", str(style), "-o", str(out), "--size", "32", "--iters", "4", "--device", "cpu", "--seed", "0"])
    assert code == 0
    image, alpha, fmt = read_image(out)
    assert image.shape == (24, 32, 3) and alpha is None and fmt.dtype == "uint8"
    assert not np.allclose(image, read_image(content)[0][::1][:24, :32], atol=0.02)  # it changed the image
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left


@pytest.mark.parametrize(
    "make_args, message",
    [
        (lambda c, s, t: ["image", t / "missing.jpg", "-s", s, "-o", t / "o.png"], "missing.jpg"),
        (lambda c, s, t: ["image", c, "-s", t / "missing_style.jpg", "-o", t / "o.png"], "missing_style.jpg"),
        (lambda c, s, t: ["image", c, "-s", t / "text.jpg", "-o", t / "o.png"], "text.jpg"),
        (lambda c, s, t: ["image", t / "empty.png", "-s", s, "-o", t / "o.png"], "empty.png"),
        (lambda c, s, t: ["image", c, "-s", s, "-o", c], "is the input"),
        (lambda c, s, t: ["image", c, "-s", s, "-o", t / "o.png", "--size", "0"], "--size"),
        (lambda c, s, t: ["image", c, "-s", s, "-o", t / "o.png", "--iters", "-1"], "--iters"),
        (lambda c, s, t: ["image", c, "-s", s, "-o", t / "o.png", "--device", "tpu"], "--device"),
        (lambda c, s, t: ["image", c, "-s", s, "-o", t / "o.png", "--style-weights", "1", "2"], "--style-weights"),
        (lambda c, s, t: ["image", c, "-s", s, "-o", t / "nodir" / "o.png"], "does not exist"),
        (lambda c, s, t: ["image", c, "-s", s, "-o", t / "o.png", "--weights", t / "nope.pth"], "nope.pth"),
        (lambda c, s, t: ["image", c, "-s", s, "-o", t / "o.png", "--no-such-flag"], "--no-such-flag"),
    ],
)
def test_bad_input_gives_one_line_exit_2_and_no_output(tmp_path, small_images, make_args, message, capfd, monkeypatch):
    content, style = small_images
    (tmp_path / "text.jpg").write_text("this is not an image")
    (tmp_path / "empty.png").write_bytes(b"")
    before = sorted(p.name for p in tmp_path.iterdir())
    command, *rest = make_args(content, style, tmp_path)
    # Cheap settings first, so that a case's own value (given later) wins if the input is accepted.
    monkeypatch.chdir(tmp_path)
    code, stderr = run_cli(capfd, command, "--iters", "1", "--size", "16", *rest)
    assert code == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], stderr
    assert "Traceback" not in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_existing_output_is_refused_without_overwrite(tmp_path, small_images, capfd):
    content, style = small_images
    out = tmp_path / "o.png"
    out.write_bytes(b"keep me")
    code, stderr = run_cli(capfd, "image", content, "-s", style, "-o", out, "--iters", "1", "--size", "16")
    assert code == 2 and "--overwrite" in stderr
    assert out.read_bytes() == b"keep me"


def test_sample_paths_exist():
    assert sample_path("tubingen.jpg").is_file()


def test_a_size_whose_optimisation_cannot_fit_is_refused_before_any_work(tmp_path, small_images, capfd, monkeypatch):
    """The memory check (optimize.memory_needed against what the device has free): one byte short
    of the estimate at the working size is one line naming the size and the need, nothing written;
    the estimate itself free is enough."""
    import vidstyle.device
    from vidstyle.config import StyleConfig
    from vidstyle.optimize import memory_needed

    content, style = small_images
    out = tmp_path / "out.png"
    need = memory_needed(32, 24, StyleConfig())
    monkeypatch.setattr(vidstyle.device, "available_memory", lambda device: need - 1)
    args = ["image", content, "-s", style, "-o", out, "--size", "32", "--iters", "2", "--device", "cpu"]
    code, err = run_cli(capfd, *args)
    assert code == 2 and err.count("\n") == 1 and "32x24 frame needs about" in err, err
    assert not out.exists()
    monkeypatch.setattr(vidstyle.device, "available_memory", lambda device: need)
    code, err = run_cli(capfd, *args)
    assert code == 0 and out.exists(), err
