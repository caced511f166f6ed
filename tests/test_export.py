"""``vidstyle export``: the exported TorchScript and ONNX files run in a fresh Python without vidstyle
and match the network; the command's errors are one line and exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from vidstyle.model.export import METADATA_FILE, export_metadata, export_onnx, export_torchscript
from vidstyle.model.file import ModelInfo, load_model, save_model
from vidstyle.model.network import Architecture, TransferNet

STYLES = ({"name": "a", "sha256": "0"}, {"name": "b", "sha256": "1"})
BLEND = np.array([0.3, 0.7], dtype=np.float32)
SIZES = ((32, 48), (40, 64))  # (height, width)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    """A tiny two-style model whose norm scales and shifts differ per style (so blends matter)."""
    torch.manual_seed(0)
    net = TransferNet(Architecture(styles=2, width=4, blocks=1))
    with torch.no_grad():
        for name, parameter in net.named_parameters():
            if name.endswith(("scale", "shift")):
                parameter.add_(0.5 * torch.randn_like(parameter))
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    save_model(path, net, ModelInfo(net.architecture, STYLES, {"steps": 1, "steps_done": 1}, "0.1.0"))
    return path


@pytest.fixture(scope="module")
def model(model_file):
    return load_model(model_file)


def _inputs(tmp_path: Path, net: TransferNet, fixed: np.ndarray | None = None) -> None:
    """Random images at both sizes (batch 2, second row another blend) and the net's own outputs."""
    rng = np.random.default_rng(1)
    for i, (height, width) in enumerate(SIZES):
        image = rng.random((2, 3, height, width), dtype=np.float32)
        weights = np.stack([BLEND, np.array([1.0, 0.0], dtype=np.float32)])
        np.save(tmp_path / f"image{i}.npy", image)
        np.save(tmp_path / f"weights{i}.npy", weights)
        with torch.no_grad():
            expected = net(torch.from_numpy(image), torch.from_numpy(weights)).numpy()
            np.save(tmp_path / f"expected{i}.npy", expected)
            if fixed is not None:
                rows = torch.from_numpy(fixed)[None].expand(2, -1)
                np.save(tmp_path / f"expected_fixed{i}.npy", net(torch.from_numpy(image), rows).numpy())


def _fresh_python(code: str, cwd: Path) -> None:
    """``code`` in a new interpreter (no PYTHONPATH, cwd the test's folder) where importing vidstyle
    fails (vidstyle is installed in the venv, so a finder blocks it) and is asserted not to happen."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    guard = textwrap.dedent("""\
        import sys
        class _Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "vidstyle":
                    raise ImportError("vidstyle must not be needed to run an exported file")
        sys.meta_path.insert(0, _Block())
        """)
    epilogue = "\nassert 'vidstyle' not in sys.modules, 'the exported file pulled in vidstyle'\n"
    result = subprocess.run([sys.executable, "-c", guard + textwrap.dedent(code) + epilogue], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]


def _max_difference(tmp_path: Path, stem: str) -> float:
    worst = 0.0
    for i, (height, width) in enumerate(SIZES):
        got, expected = np.load(tmp_path / f"out_{stem}{i}.npy"), np.load(tmp_path / f"expected{'_fixed' if 'fixed' in stem else ''}{i}.npy")
        assert got.shape == expected.shape == (2, 3, height, width)
        worst = max(worst, float(np.abs(got - expected).max()))
    return worst


def test_onnx_runs_in_onnxruntime_without_vidstyle(model, tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    net, info = model
    result = export_onnx(net, tmp_path / "tiny.onnx", size=(48, 32), metadata=export_metadata(net, info))
    assert result.path.is_file() and result.max_difference <= 1e-4
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    _inputs(tmp_path, net)
    _fresh_python("""
        import json
        import numpy as np
        import onnxruntime
        session = onnxruntime.InferenceSession("tiny.onnx", providers=["CPUExecutionProvider"])
        assert [i.name for i in session.get_inputs()] == ["image", "style_weights"]
        assert session.get_inputs()[0].shape == ["batch", 3, "height", "width"], session.get_inputs()[0].shape
        meta = session.get_modelmeta().custom_metadata_map
        assert json.loads(meta["style_names"]) == ["a", "b"]
        assert json.loads(meta["vidstyle"])["architecture"]["styles"] == 2
        for i in range(2):
            feeds = {"image": np.load(f"image{i}.npy"), "style_weights": np.load(f"weights{i}.npy")}
            np.save(f"out_onnx{i}.npy", session.run(None, feeds)[0])
        """, tmp_path)
    worst = _max_difference(tmp_path, "onnx")
    print(f"ONNX max difference: {worst:.2e}")
    assert worst <= 1e-4


def test_torchscript_runs_in_plain_torch_without_vidstyle(model, tmp_path):
    net, info = model
    fixed = np.array([0.25, 0.75], dtype=np.float32)
    export_torchscript(net, tmp_path / "tiny.pt", size=(48, 32), metadata=export_metadata(net, info))
    baked = export_torchscript(net, tmp_path / "fixed.pt", style_weights=[1, 3], size=(48, 32))  # normalised
    assert baked.style_weights == (0.25, 0.75)
    _inputs(tmp_path, net, fixed)
    _fresh_python("""
        import json
        import numpy as np
        import torch
        extra = {"vidstyle.json": ""}
        blend = torch.jit.load("tiny.pt", _extra_files=extra)
        meta = json.loads(extra["vidstyle.json"])
        assert meta["style_names"] == ["a", "b"] and meta["architecture"]["width"] == 4, meta
        fixed = torch.jit.load("fixed.pt")
        with torch.no_grad():
            for i in range(2):
                image, weights = torch.from_numpy(np.load(f"image{i}.npy")), torch.from_numpy(np.load(f"weights{i}.npy"))
                np.save(f"out_ts{i}.npy", blend(image, weights).numpy())
                np.save(f"out_fixed{i}.npy", fixed(image).numpy())
        """, tmp_path)
    worst, worst_fixed = _max_difference(tmp_path, "ts"), _max_difference(tmp_path, "fixed")
    print(f"TorchScript max difference: {worst:.2e}, with the blend built in: {worst_fixed:.2e}")
    assert worst <= 1e-4 and worst_fixed <= 1e-4


def _cli(args: list[str]) -> int:
    from vidstyle.cli import main

    return main(args)


def test_cli_exports_and_prints_one_line(model_file, tmp_path, capsys):
    output = tmp_path / "out" / "tiny.pt"
    assert _cli(["export", str(model_file), "-o", str(output), "--size", "48x32", "--style-weights", "1", "3"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"exported {model_file} to {output} (TorchScript"), err
    assert "0.25/0.75 built in" in err[0]
    extra = {METADATA_FILE: ""}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit's deprecation (the CLI prints warnings to stderr)
        torch.jit.load(str(output), _extra_files=extra)
    assert json.loads(extra[METADATA_FILE])["style_weights"] == [0.25, 0.75]
    # an existing output needs --overwrite
    assert _cli(["export", str(model_file), "-o", str(output), "--size", "48x32"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("vidstyle: error: ") and "--overwrite" in err[0], err
    assert _cli(["export", str(model_file), "-o", str(output), "--size", "48x32", "--overwrite"]) == 0
    assert "style_weights (N,2)" in capsys.readouterr().err


@pytest.mark.parametrize("case", ["corrupt", "missing", "extension", "size"])
def test_cli_bad_input_is_one_line_and_exit_2(case, model_file, tmp_path, capsys):
    model, output, extra = str(model_file), str(tmp_path / "out.onnx"), []
    if case == "corrupt":
        broken = tmp_path / "broken.safetensors"
        broken.write_bytes(model_file.read_bytes()[:100])
        model = str(broken)
    elif case == "missing":
        model = str(tmp_path / "nothing.safetensors")
    elif case == "extension":
        output = str(tmp_path / "out.bin")
    else:
        extra = ["--size", "50x32"]
    assert _cli(["export", model, "-o", output, *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("vidstyle: error: "), err
    if case == "extension":
        assert ".pt" in err[0] and ".onnx" in err[0]
    assert not Path(output).exists()
