"""The transfer network, its model file, its training and its engine (vidstyle.model)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from vidstyle.cli import main
from vidstyle.frames import Frame
from vidstyle.model.data import TrainingSet
from vidstyle.model.engine import ModelEngine, style_vector
from vidstyle.model.file import ModelFileError, ModelInfo, load_model, read_info, save_model
from vidstyle.model.network import Architecture, ConditionalInstanceNorm, TransferNet, stylize

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT / "samples" / "clip.mp4"
STARRY = ROOT / "samples" / "starry_night.jpg"
SCREAM = ROOT / "samples" / "the_scream.jpg"
TINY = ["--size", "32", "--width", "4", "--blocks", "1", "--batch", "2", "--max-frames", "6", "--seed", "3", "--threads", "1"]


def tiny_net(styles: int = 2, seed: int = 0) -> TransferNet:
    torch.manual_seed(seed)
    net = TransferNet(Architecture(styles=styles, width=4, blocks=1))
    with torch.no_grad():  # distinct styles, so that blends and switches are visible
        for module in net.modules():
            if isinstance(module, ConditionalInstanceNorm):
                module.scale.add_(torch.randn_like(module.scale) * 0.5)
                module.shift.add_(torch.randn_like(module.shift) * 0.5)
    return net.eval().requires_grad_(False)


def write_tiny(path: Path, styles: int = 2) -> TransferNet:
    net = tiny_net(styles)
    names = tuple({"name": f"style{i}", "sha256": "0" * 64} for i in range(styles))
    save_model(path, net, ModelInfo(net.architecture, names, {"steps": 1, "steps_done": 1}, "test"))
    return net


# -- the network ---------------------------------------------------------------------------------


def test_conditional_instance_norm_mixes_the_styles_rows_linearly():
    norm = ConditionalInstanceNorm(3, 2).double()
    with torch.no_grad():
        norm.scale.copy_(torch.tensor([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]]))
        norm.shift.copy_(torch.tensor([[0.0, 1.0, 0.0], [2.0, 1.0, 4.0]]))
    x = torch.randn(1, 3, 5, 7, dtype=torch.float64)
    normalised = (x - x.mean((2, 3), keepdim=True)) / torch.sqrt(x.var((2, 3), unbiased=False, keepdim=True) + 1e-5)
    out = norm(x, torch.tensor([[0.25, 0.75]], dtype=torch.float64))
    # gamma = 0.25 * [1, 2, 3] + 0.75 * [3, 2, 1] = [2.5, 2, 1.5]; beta = [1.5, 1, 3]
    expected = normalised * torch.tensor([2.5, 2.0, 1.5]).view(1, 3, 1, 1) + torch.tensor([1.5, 1.0, 3.0]).view(1, 3, 1, 1)
    assert torch.allclose(out, expected, atol=1e-10)


def test_conditional_instance_norm_gradients_float64():
    norm = ConditionalInstanceNorm(2, 3).double()
    x = torch.randn(2, 2, 4, 3, dtype=torch.float64, requires_grad=True)
    weights = torch.tensor([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, w: norm(a, w), (x, weights))


def test_network_keeps_size_and_range_and_blends_styles():
    net = tiny_net()
    image = torch.rand(1, 3, 20, 28)
    one, two = (net(image, torch.tensor(w)) for w in ([1.0, 0.0], [0.0, 1.0]))
    assert one.shape == (1, 3, 20, 28) and float(one.min()) >= 0 and float(one.max()) <= 1
    assert float((one - two).abs().max()) > 1e-3, "the two styles should differ"
    # stylize() pads odd sizes by reflection and crops back
    odd = stylize(net, torch.rand(1, 3, 21, 30), torch.tensor([0.5, 0.5]))
    assert odd.shape == (1, 3, 21, 30)
    with pytest.raises(ValueError, match="multiples of 4"):
        net(torch.rand(1, 3, 21, 30), torch.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="at least 16"):
        stylize(net, torch.rand(1, 3, 12, 40), torch.tensor([1.0, 0.0]))


# -- the model file ------------------------------------------------------------------------------


def test_model_file_round_trip_is_exact(tmp_path):
    net = write_tiny(tmp_path / "m.safetensors")
    loaded, info = load_model(tmp_path / "m.safetensors")
    assert info.architecture == net.architecture and info.style_names == ["style0", "style1"]
    for name, tensor in net.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[name])
    assert read_info(tmp_path / "m.safetensors").training["steps_done"] == 1


def test_bad_model_files_are_refused_with_one_line(tmp_path, capsys):
    from safetensors.torch import save_file

    good = tmp_path / "good.safetensors"
    write_tiny(good)
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign))
    text = tmp_path / "text.safetensors"
    text.write_text("not a model")
    mismatched = tmp_path / "mismatched.safetensors"
    save_file({"w": torch.zeros(2)}, str(mismatched), metadata={"vidstyle": json.dumps(
        {"format": "vidstyle-model", "version": 1, "architecture": Architecture().record(), "styles": [{"name": "x"}]})})
    for path, message in ((truncated, "not a vidstyle model"), (foreign, "not a vidstyle model"), (text, "not a vidstyle model"),
                          (mismatched, "do not match"), (tmp_path / "missing.safetensors", "not found")):
        with pytest.raises(ModelFileError, match=message):
            load_model(path)
        capsys.readouterr()
        assert main(["info", str(path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("vidstyle: error:"), err


# -- the engine ----------------------------------------------------------------------------------


def test_engine_renders_the_networks_output_and_composites_a_matte():
    net = tiny_net()
    engine = ModelEngine(net, (24, 16), style_weights=[3, 1])
    image = np.random.default_rng(0).random((32, 48, 3), dtype=np.float32)
    frame, report = engine.process(Frame(image, 0, 0))
    assert frame.image.shape == (16, 24, 3) and report.iterations == 0
    prepared = next(engine.prepare([Frame(image, 0, 0)]))
    expected = net(torch.from_numpy(prepared.source).permute(2, 0, 1)[None], torch.tensor([0.75, 0.25]))[0].permute(1, 2, 0).numpy()
    assert np.abs(frame.image - expected).max() < 1e-5
    mask = np.zeros((16, 24), np.float32)
    mask[:, 12:] = 1
    matted, _ = engine.process(prepared, mask=mask)
    assert np.abs(matted.image[:, :12] - prepared.source[:, :12]).max() < 1e-6
    assert np.abs(matted.image[:, 12:] - expected[:, 12:]).max() < 1e-5
    with pytest.raises(ValueError, match="3 weight"):
        style_vector([1, 1, 1], 2)
    with pytest.raises(ValueError, match="at least 16"):
        ModelEngine(net, (12, 8))


# -- training ------------------------------------------------------------------------------------


def test_training_sample_drops_flow_that_leaves_the_crop():
    frame = np.zeros((8, 8, 3), np.uint8)
    flow = np.zeros((8, 8, 2), np.float32)
    flow[..., 0] = 3.0  # everything moved 3 px to the left: the right 3 columns come from outside
    data = TrainingSet([frame], [frame], [flow], [np.ones((8, 8), np.float32)], (8, 8))
    batch = data.sample(1, torch.Generator().manual_seed(0))
    reliable = batch.reliability[0, 0].numpy()
    assert reliable[:, :5].min() == 1 and reliable[:, 5:].max() == 0


def test_temporal_term_is_the_optimisers_on_the_output_pair():
    from vidstyle.config import StyleConfig
    from vidstyle.model.data import Batch
    from vidstyle.model.train import training_loss

    class NoVGG:  # features that make style and content terms vanish
        layer_weights = {"relu1_1": 1.0}

        def features(self, image, layers=None):
            return {"relu1_1": torch.zeros(image.shape[0], 1, 2, 2), "relu4_2": torch.zeros(image.shape[0], 1, 2, 2)}

    class Shift(torch.nn.Module):  # a "network" whose output is its input, so the loss is hand-computable
        def forward(self, image, weights):
            return image

    config = StyleConfig(style_layers=("relu1_1",), style_layer_weights=(1.0,), tv_weight=0.0)
    current = torch.full((1, 3, 4, 4), 0.5)
    previous = torch.full((1, 3, 4, 4), 0.25)
    reliability = torch.zeros(1, 1, 4, 4)
    reliability[..., :2] = 1
    batch = Batch(current, previous, torch.zeros(1, 2, 4, 4), reliability)
    grams = {"relu1_1": torch.zeros(1, 1, 1)}
    loss = training_loss(Shift(), NoVGG(), batch, torch.zeros(1, dtype=torch.long), grams, config, 10.0, "cpu")
    # 10 * mean(c * (255 * 0.25)^2) over 3 x 4 x 4 values, half of them reliable
    assert float(loss) == pytest.approx(10.0 * 0.5 * (255 * 0.25) ** 2, rel=1e-6)


KILL_ON_SECOND_CHECKPOINT = """
import os, signal, sys
seen = [0]
real_replace = os.replace
def replace(src, dst, *args, **kwargs):
    if os.path.basename(os.fspath(dst)) == "checkpoint.pt":
        seen[0] += 1
        if seen[0] == 2:
            os.kill(os.getpid(), signal.SIGKILL)
    return real_replace(src, dst, *args, **kwargs)
os.replace = replace
from vidstyle.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _run(code: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=600)


def test_training_killed_and_resumed_ends_with_the_unbroken_runs_weights(tmp_path):
    common = ["train", "-s", str(STARRY), "-s", str(SCREAM), "--on", str(CLIP), *TINY, "--steps", "6", "--checkpoint-every", "2"]
    plain = "import sys; from vidstyle.cli import main; sys.exit(main(sys.argv[1:]))"
    unbroken = _run(plain, *common, "-o", str(tmp_path / "a.safetensors"))
    assert unbroken.returncode == 0, unbroken.stderr
    killed = _run(KILL_ON_SECOND_CHECKPOINT, *common, "-o", str(tmp_path / "b.safetensors"))
    assert killed.returncode == -9, killed.stderr
    assert (tmp_path / "b.safetensors.training" / "checkpoint.pt").exists()
    assert read_info(tmp_path / "b.safetensors").training["steps_done"] == 2  # the model written at the checkpoint
    resumed = _run(plain, *common, "-o", str(tmp_path / "b.safetensors"))
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed at step 2" in resumed.stderr
    assert not (tmp_path / "b.safetensors.training").exists()
    a, _ = load_model(tmp_path / "a.safetensors")
    b, info = load_model(tmp_path / "b.safetensors")
    assert info.training["steps_done"] == 6 and info.style_names == ["starry_night", "the_scream"]
    for name, tensor in a.state_dict().items():
        assert torch.equal(tensor, b.state_dict()[name]), name
    # a finished model is not trained over, and a checkpoint of other settings is refused
    again = _run(plain, *common, "-o", str(tmp_path / "b.safetensors"))
    assert again.returncode == 2 and "--overwrite" in again.stderr


def test_train_bad_input_one_line_exit_2(tmp_path, capsys):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    (tmp_path / "stills").mkdir()
    cases = [
        ["--on", str(empty)],
        ["--on", str(tmp_path / "stills")],
        ["--on", str(CLIP), "--size", "8"],
        ["--on", str(CLIP), "--steps", "0"],
    ]
    for extra in cases:
        code = main(["train", "-s", str(STARRY), "-o", str(tmp_path / "m.safetensors"), *TINY[2:], *extra])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and "vidstyle: error:" in err, (extra, err)
    assert not (tmp_path / "m.safetensors").exists()


# -- stylize --model and --init-model -------------------------------------------------------------


def test_stylize_with_a_model_renders_every_frame_at_video_rate_settings(tmp_path, capsys):
    from vidstyle.io.video import VideoReader

    model = tmp_path / "m.safetensors"
    write_tiny(model)
    out = tmp_path / "out.mp4"
    assert main(["stylize", str(CLIP), "-o", str(out), "--model", str(model), "--size", "48", "--style-weights", "1", "3"]) == 0
    source, result = VideoReader(str(CLIP)).info, VideoReader(str(out)).info
    frames = list(VideoReader(str(out)))
    assert len(frames) == len(list(VideoReader(str(CLIP)))) and (result.width, result.height) == (48, 28)
    assert result.fps == source.fps
    capsys.readouterr()
    for extra in (["--style-weights", "1", "1", "1"], ["-s", str(STARRY)], ["--size", "8"]):
        code = main(["stylize", str(CLIP), "-o", str(tmp_path / "x.mp4"), "--model", str(model), *extra])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1, (extra, err)


def test_stylize_with_a_model_deflickered_in_the_same_pass(tmp_path, capsys):
    """Issue 19 item 3: ``--model … --deflicker``: the network's frames go through the deflicker
    stage (flow on the input) in the same pass: every frame, the size, and less flicker than the
    network's own render of the bundled real clip."""
    from vidstyle.io.video import VideoReader
    from vidstyle.metrics import warping_errors

    model = tmp_path / "m.safetensors"
    write_tiny(model)
    common = ["stylize", str(CLIP), "--model", str(model), "--size", "48", "--device", "cpu"]
    assert main([*common, "-o", str(tmp_path / "plain.mp4")]) == 0
    assert main([*common, "-o", str(tmp_path / "steady.mp4"), "--deflicker"]) == 0
    capsys.readouterr()
    sources = [f.image for f in VideoReader(str(CLIP))]
    plain = [f.image for f in VideoReader(str(tmp_path / "plain.mp4"))]
    steady = [f.image for f in VideoReader(str(tmp_path / "steady.mp4"))]
    assert len(steady) == len(plain) == len(sources) and steady[0].shape == plain[0].shape == (28, 48, 3)
    before, _ = warping_errors(plain, sources)
    after, _ = warping_errors(steady, sources)
    assert np.mean(after) < 0.6 * np.mean(before), (np.mean(before), np.mean(after))  # 0.0030 -> 0.0013 measured


def test_hybrid_starts_fresh_frames_from_the_network():
    from vidstyle.config import StyleConfig
    from vidstyle.optimize import Stylizer
    from vidstyle.temporal import VideoStylizer

    net = tiny_net(styles=1)
    engine = ModelEngine(net, (32, 24))
    style = np.random.default_rng(1).random((24, 32, 3), dtype=np.float32)
    stylizer = Stylizer(StyleConfig(iters=0, first_iters=0), [style])
    video = VideoStylizer(stylizer, (32, 24), initializer=engine.stylize_images)
    image = np.random.default_rng(2).random((24, 32, 3), dtype=np.float32)
    out, report = video.process(Frame(image, 0, 0))
    expected, _ = engine.process(Frame(image, 0, 0))
    assert report.fresh_start and np.abs(out.image - expected.image).max() < 1e-5


def test_model_sequence_render_resumes_with_identical_frames(tmp_path):
    from vidstyle.io.image import read_image

    model = tmp_path / "m.safetensors"
    write_tiny(model)
    out = tmp_path / "seq" / "out.####.png"
    out.parent.mkdir()
    args = ["stylize", str(CLIP), "-o", str(out), "--model", str(model), "--size", "32", "--style-keys", "0:1,0 40:0,1"]
    assert main(args) == 0
    frames = sorted(out.parent.glob("out.*.png"))
    assert len(frames) == 48
    first = {p.name: read_image(p)[0] for p in frames}
    for p in frames[10:20]:
        p.unlink()
    assert main(args) == 0  # the rerun renders the missing frames only, and renders them alike
    for p in sorted(out.parent.glob("out.*.png")):
        assert np.array_equal(read_image(p)[0], first[p.name]), p.name
    assert not np.array_equal(first[frames[0].name], first[frames[-1].name])


INTERRUPT_AT_THIRD_STEP = """
import os, signal, sys, torch
real_step = torch.optim.Adam.step
calls = [0]
def step(self, *args, **kwargs):
    calls[0] += 1
    if calls[0] == 3:
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl+C in the middle of a step
    return real_step(self, *args, **kwargs)
torch.optim.Adam.step = step
from vidstyle.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_ctrl_c_finishes_the_step_and_keeps_a_checkpoint(tmp_path):
    args = ["train", "-s", str(STARRY), "--on", str(CLIP), *TINY, "--steps", "8", "--checkpoint-every", "100",
            "-o", str(tmp_path / "m.safetensors")]
    stopped = _run(INTERRUPT_AT_THIRD_STEP, *args)
    assert stopped.returncode == 130, stopped.stderr
    assert "stopped at step 3; checkpoint kept" in stopped.stderr
    assert read_info(tmp_path / "m.safetensors").training["steps_done"] == 3
    resumed = _run("import sys; from vidstyle.cli import main; sys.exit(main(sys.argv[1:]))", *args)
    assert resumed.returncode == 0 and "resumed at step 3" in resumed.stderr, resumed.stderr


def test_model_renders_through_the_scale_out_like_locally(tmp_path):
    """--devices cpu,cpu: the workers build the same engine (engines.build_engine) from the request."""
    from vidstyle.io.video import VideoReader

    model = tmp_path / "m.safetensors"
    write_tiny(model)
    local, scaled = tmp_path / "local.mp4", tmp_path / "scaled.mp4"
    common = ["--model", str(model), "--size", "32", "--threads", "1", "--crf", "0"]
    assert main(["stylize", str(CLIP), "-o", str(local), *common]) == 0
    assert main(["stylize", str(CLIP), "-o", str(scaled), *common, "--devices", "cpu,cpu", "--shot-max-frames", "24", "--shot-overlap", "4"]) == 0
    a = [f.image for f in VideoReader(str(local))]
    b = [f.image for f in VideoReader(str(scaled))]
    assert len(a) == len(b) == 48
    assert max(float(np.abs(x - y).max()) for x, y in zip(a, b)) <= 2 / 255
