"""`vidstyle bench`: the JSON line, its values, and the refusal of bad sizes. Tiny sizes keep it fast."""

from __future__ import annotations

import argparse
import contextlib
import io
import json

import pytest

from vidstyle import bench
from vidstyle.cli import bench as bench_command
from vidstyle.flops import vgg_flops

REQUIRED = ("ms_per_iter", "iters_per_s", "device", "width", "height", "tflops", "peak_mem_mb")


def bench_parser() -> argparse.ArgumentParser:
    """A parser with `bench` registered the way cli.build_parser registers it."""
    parser = argparse.ArgumentParser(prog="vidstyle")
    bench_command.add_parser(parser.add_subparsers(dest="command"))
    return parser


@pytest.fixture(scope="module")
def tiny_run():
    """One real run at 32x24 shared by the tests (pytest's capsys is per test, so capture by hand).

    One thread: on a shared 2-core machine two OpenMP threads can be several times slower. Warm-up
    10: the window right after the line search has one evaluation fewer than it has iterations
    (the search already evaluated its last point), and the evaluation count below is the steady one.
    """
    args = bench_parser().parse_args(["bench", "--size", "32x24", "--iters", "2", "--warmup", "10", "--device", "cpu",
                                      "--threads", "1", "--json"])
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = args.func(args)
    return code, buffer.getvalue()


def test_json_last_line_has_every_required_key_with_sane_values(tiny_run):
    code, output = tiny_run
    assert code == 0
    lines = output.strip().splitlines()
    result = json.loads(lines[-1])
    assert set(REQUIRED) <= set(result)
    assert result["device"] == "cpu" and result["threads"] == 1
    assert (result["width"], result["height"]) == (32, 24)
    assert result["ms_per_iter"] > 0 and result["tflops"] > 0 and result["peak_mem_mb"] > 0
    assert result["iters_per_s"] == pytest.approx(1000 / result["ms_per_iter"], rel=1e-3)
    # TFLOP/s is the flops module's count over the measured time.
    expected = vgg_flops(32, 24).total / (result["ms_per_iter"] / 1e3) / 1e12
    assert result["tflops"] == pytest.approx(expected, rel=1e-2, abs=1e-4)
    assert result["iters_timed"] >= 2
    assert result["bare_ms"] > 0 and result["ratio"] > 0
    # Past the line-search window L-BFGS evaluates once per iteration.
    assert result["evals_per_iter"] == pytest.approx(1.0)
    assert result["images"] == "samples"


def test_human_summary_comes_before_the_json(tiny_run):
    _, output = tiny_run
    text = output.strip().splitlines()
    assert any("ms/iter" in line for line in text[:-1])
    assert any("bare VGG" in line for line in text[:-1])


@pytest.mark.parametrize("text", ["12", "0x5", "5x0", "axb", "128x", "-3x4", "1x2x3", ""])
def test_bad_size_is_a_value_error_naming_the_option(text):
    with pytest.raises(ValueError, match="--size"):
        bench.parse_size(text)


def test_bad_size_fails_before_any_work():
    args = bench_parser().parse_args(["bench", "--size", "12", "--device", "cpu"])
    with pytest.raises(ValueError, match=r"WIDTHxHEIGHT.*'12'"):
        bench_command.run(args)


def test_size_too_small_for_relu5_1_says_how_small_it_may_be():
    with pytest.raises(ValueError, match="at least 16 pixels"):
        bench.run_bench(8, 32, iters=1, device="cpu")


def test_parse_size_accepts_either_case():
    assert bench.parse_size("128x96") == (128, 96)
    assert bench.parse_size(" 64X48 ") == (64, 48)


def test_bad_counts_are_refused():
    for kwargs, flag in (({"iters": 0}, "--iters"), ({"warmup": -1}, "--warmup"), ({"repeats": 0}, "--repeats"),
                         ({"threads": 0}, "--threads")):
        with pytest.raises(ValueError, match=flag):
            bench.run_bench(32, 24, device="cpu", **kwargs)


def test_window_timer_measures_from_report_to_report():
    # Reports at the L-BFGS window ends (5 after the line-search window, then every 10): with
    # warm-up 5 timing starts at 15 (the first report >= 5 + 5); a 10-iteration window ends at 25.
    from vidstyle.optimize import Progress

    clock = iter([(float(t), float(t) / 2) for t in range(100)])
    bare_calls = []
    timer = bench._WindowTimer(10, 5, 2, lambda: next(clock), lambda: 0, lambda n: bare_calls.append(n) or (0.5, 0.25))
    reports = [5, 15, 25, 35, 45]
    with pytest.raises(bench._Enough):
        for iteration in reports:
            timer(Progress(iteration, 100, 1.0))
    # Clock ticks: report 5 -> 0, 15 -> 1 (start), 25 -> 2 (end), restart -> 3, 35 -> 4 (end).
    assert timer.timed == [(10, 1.0, 0.5, 0), (10, 1.0, 0.5, 0)]
    assert bare_calls == [10, 10]


def test_the_cli_turns_a_bad_size_into_a_one_line_usage_error(capsys):
    from vidstyle.cli import EXIT_USAGE, main

    assert main(["bench", "--size", "0x5", "--device", "cpu"]) == EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--size" in err and "0x5" in err


# --------------------------------------------------------------------------------------------------
# --model: the transfer network


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from vidstyle.model.file import ModelInfo, save_model
    from vidstyle.model.network import Architecture, TransferNet

    net = TransferNet(Architecture(styles=2, width=4, blocks=1))
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    save_model(path, net, ModelInfo(net.architecture, ({"name": "a", "sha256": "0"}, {"name": "b", "sha256": "1"}),
                                    {"steps": 1, "steps_done": 1}, "0.1.0"))
    return path


def run_model_bench_cli(*extra):
    args = bench_parser().parse_args(["bench", "--device", "cpu", "--threads", "1", "--iters", "2", "--warmup", "1",
                                      *map(str, extra)])
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = args.func(args)
    return code, buffer.getvalue().strip().splitlines()


def test_model_bench_prints_one_line_per_size(tiny_model):
    code, lines = run_model_bench_cli("--model", tiny_model, "--size", "32x24", "48x36")
    assert code == 0
    timed = [line for line in lines if "ms/frame" in line]
    assert len(timed) == 2 and all("fps" in line for line in timed)
    assert "32x24" in timed[0] and "48x36" in timed[1]
    assert "bare VGG" not in "\n".join(lines) and "2 styles" in lines[0]


def test_model_bench_json_has_one_entry_per_size_and_per_frame_batch_times(tiny_model):
    code, lines = run_model_bench_cli("--model", tiny_model, "--size", "32x24", "20x16", "--batch", "3", "--json")
    assert code == 0
    result = json.loads(lines[-1])
    assert result["batch"] == 3 and result["styles"] == 2 and result["device"] == "cpu"
    assert [(s["width"], s["height"]) for s in result["sizes"]] == [(32, 24), (20, 16)]
    for size in result["sizes"]:
        assert size["ms_per_frame"] > 0 and size["cpu_ms_per_frame"] >= 0 and size["peak_mem_mb"] > 0
        assert size["fps"] == pytest.approx(1000 / size["ms_per_frame"], rel=1e-2)
        assert len(size["passes_ms"]) == 2


def test_model_bench_refuses_a_size_the_network_cannot_take_in_one_line(tiny_model, capsys):
    from vidstyle.cli import EXIT_USAGE, main

    assert main(["bench", "--model", str(tiny_model), "--size", "32x24", "8x8", "--device", "cpu"]) == EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "8x8" in err and "16" in err


def test_model_bench_refuses_a_bad_model_file_in_one_line(tmp_path, capsys):
    from vidstyle.cli import EXIT_USAGE, main

    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"nope")
    assert main(["bench", "--model", str(bad), "--device", "cpu"]) == EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "not a vidstyle model" in err


def test_several_sizes_and_batch_need_a_model(capsys):
    from vidstyle.cli import EXIT_USAGE, main

    assert main(["bench", "--size", "32x24", "48x36", "--device", "cpu"]) == EXIT_USAGE
    assert main(["bench", "--batch", "2", "--device", "cpu"]) == EXIT_USAGE
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "--model" in err[0] and "--model" in err[1]
