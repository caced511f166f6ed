"""Scale-out (issue 9): shot planning, in-order blending, and renders on local processes and Ray that
match the sequential render.

The end-to-end tests compare 8-bit PNG sequences (lossless) rendered at one CPU thread everywhere:
float sums depend on the thread count and L-BFGS amplifies the difference (see
``device.configure_cpu_threads``), so only equal thread counts can be compared frame for frame.
"""

from __future__ import annotations

import os
import signal
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from vidstyle import cli, synth
from vidstyle.config import StyleConfig
from vidstyle.frames import Frame
from vidstyle.io.media import open_source
from vidstyle.io.video import probe
from vidstyle.shots import backends, driver, plan
from vidstyle.shots.render import find_plan
from vidstyle.shots.worker import ChunkResult

from conftest import sample_path

CUTS = (5, 9)  # the clip below: shots of 5, 4 and 5 frames
RENDER = ["--size", "48", "--iters", "6", "--first-iters", "16", "--seed", "0", "--device", "cpu", "--threads", "1"]


# ---------------------------------------------------------------------------------------------------
# planning (pure)


def test_shot_ranges_split_at_every_cut():
    assert plan.shot_ranges(10, [4, 7]) == [(0, 4), (4, 7), (7, 10)]
    assert plan.shot_ranges(10, []) == [(0, 10)]
    assert plan.shot_ranges(3, [0, 3, 9]) == [(0, 3)]  # cuts outside (0, count) mean nothing


def test_a_shot_that_fits_is_one_chunk_without_blending():
    chunks = plan.plan_chunks(10, [4], max_frames=6, overlap=2)
    assert [(c.shot, c.start, c.stop, c.blend_in, c.blend_out) for c in chunks] == [(0, 0, 4, 0, 0), (1, 4, 10, 0, 0)]


def test_a_long_shot_becomes_even_overlapping_chunks():
    # 20 frames, at most 8 per chunk, 2 shared: 3 chunks of 8 (6 new frames each after the first).
    chunks = plan.plan_chunks(20, [], max_frames=8, overlap=2)
    assert [(c.start, c.stop, c.blend_in, c.blend_out) for c in chunks] == [(0, 8, 0, 2), (6, 14, 2, 2), (12, 20, 2, 0)]
    # 21 frames: 4 chunks (7, 7, 7, 6 frames), never one shorter than the overlap.
    chunks = plan.plan_chunks(21, [], max_frames=8, overlap=2)
    assert [(c.start, c.stop) for c in chunks] == [(0, 7), (5, 12), (10, 17), (15, 21)]
    assert chunks[1].is_blended(5) and chunks[1].is_blended(6) and not chunks[1].is_blended(7) and chunks[1].is_blended(10)


@pytest.mark.parametrize("count, cuts, max_frames, overlap", [(1, [], 1, 0), (50, [7, 30], 9, 3), (33, [], 6, 2), (30, [], 5, 1), (12, [11], 4, 1), (100, [50], 49, 16)])
def test_chunks_cover_every_frame_once_plus_their_overlaps(count, cuts, max_frames, overlap):
    chunks = plan.plan_chunks(count, cuts, max_frames, overlap)
    assert all(1 <= len(c) <= max_frames and len(c) > max(c.blend_in, c.blend_out) for c in chunks)
    covered = [0] * count
    for c in chunks:
        for i in range(c.start, c.stop):
            covered[i] += 1
    shared = {i for a, b in zip(chunks, chunks[1:]) if a.shot == b.shot for i in range(b.start, a.stop)}
    assert covered == [2 if i in shared else 1 for i in range(count)]
    assert all(a.stop - b.start == overlap for a, b in zip(chunks, chunks[1:]) if a.shot == b.shot)
    assert {c.start for c in chunks if c.blend_in == 0} == {0, *cuts}  # every shot starts a chunk afresh


def test_crossfade_weights_step_evenly():
    assert [plan.crossfade_weight(p, 3) for p in range(3)] == [0.25, 0.5, 0.75]
    with pytest.raises(ValueError):
        plan.crossfade_weight(3, 3)


def test_bad_chunk_settings_are_refused():
    with pytest.raises(ValueError, match="shot-overlap"):
        plan.plan_chunks(10, [], max_frames=8, overlap=3)  # chunk 3 could reach into chunk 1
    with pytest.raises(ValueError, match="shot-max-frames"):
        plan.plan_chunks(10, [], max_frames=0, overlap=0)


# ---------------------------------------------------------------------------------------------------
# the driver, with an in-process backend whose chunks finish in any order


class _FakeBackend:
    """Renders chunk ``c`` as frames of the constant value ``c`` and finishes them in ``order``."""

    name = "fake"
    slots = 2

    def __init__(self, finish_order):
        self.finish_order = list(finish_order)
        self.in_flight, self.most_in_flight = set(), 0

    def submit(self, job):
        self.in_flight.add(job.chunk.id)
        self.most_in_flight = max(self.most_in_flight, len(self.in_flight))
        return job

    def wait(self, handles, timeout):
        for chunk_id in self.finish_order:
            for handle in handles:
                if handle.chunk.id == chunk_id:
                    self.finish_order.remove(chunk_id)
                    return [handle]
        return []

    def result(self, job):
        chunk = job.chunk
        self.in_flight.discard(chunk.id)
        frames = [Frame(np.full((2, 2, 3), float(chunk.id), np.float32), i, 100 + i) for i in range(chunk.start, chunk.stop)]
        return ChunkResult(chunk, frames, [], 0, 0, 0.0)

    def progress(self):
        return {}

    def close(self, handles=()):
        pass


class _Job:
    def __init__(self, chunk):
        self.chunk = chunk


def test_driver_writes_in_order_and_crossfades_the_overlaps():
    chunks = plan.plan_chunks(20, [], max_frames=8, overlap=2)  # (0,8) (6,14) (12,20)
    written = []
    backend = _FakeBackend(finish_order=[2, 1, 0])  # the last chunk first
    stats = driver.run([_Job(c) for c in chunks], backend, workers=3, write=written.append, exists=lambda n: False)
    assert [f.index for f in written] == list(range(20))
    values = [float(f.image[0, 0, 0]) for f in written]
    # chunk 0 alone, then 1/3 and 2/3 of chunk 1 over chunk 0, chunk 1 alone, the same into chunk 2.
    third = 1 / 3
    expected = [0.0] * 6 + [third, 2 * third] + [1.0] * 4 + [1 + third, 1 + 2 * third] + [2.0] * 6
    assert values == pytest.approx(expected)
    assert [f.number for f in written] == list(range(100, 120))
    assert stats.chunks == 3 and stats.shots == 1


def test_driver_keeps_at_most_workers_chunks_in_flight():
    chunks = plan.plan_chunks(12, [3, 6, 9], max_frames=10, overlap=0)
    backend = _FakeBackend(finish_order=[1, 0, 3, 2])
    written = []
    driver.run([_Job(c) for c in chunks], backend, workers=2, write=written.append, exists=lambda n: False)
    assert backend.most_in_flight == 2
    assert [f.index for f in written] == list(range(12))


def test_driver_skips_frames_already_on_disk():
    chunks = plan.plan_chunks(10, [], max_frames=6, overlap=2)  # (0,6) (4,10): 4 and 5 shared
    written = []
    driver.run([_Job(c) for c in chunks], _FakeBackend([0, 1]), workers=2, write=written.append,
               exists=lambda number: number in (100, 101))
    assert [f.index for f in written] == [2, 3, 4, 5, 6, 7, 8, 9]


# ---------------------------------------------------------------------------------------------------
# a clip with two hard cuts and audio


@pytest.fixture(scope="module")
def cut_clip(tmp_path_factory) -> Path:
    photo = synth.load_photo(sample_path("tubingen.jpg"))
    first = synth.camera_move(photo, (96, 54), CUTS[0], (1.5, 0.5), scale=0.3)
    second = synth.camera_move(np.ascontiguousarray(photo[::-1, ::-1]), (96, 54), CUTS[1] - CUTS[0], (1.5, 0.0), scale=0.3)
    third = synth.camera_move(np.ascontiguousarray(photo[:, ::-1]), (96, 54), 5, (-1.0, 1.0), zoom_per_frame=1.01, scale=0.25)
    return synth.write_clip(tmp_path_factory.mktemp("shots") / "cuts.mp4", first + second + third, fps=Fraction(24))


def _frames(pattern_folder: Path) -> list[np.ndarray]:
    return [cv2.imread(str(p)) for p in sorted(pattern_folder.glob("*.png"))]


@pytest.fixture(scope="module")
def sequential(cut_clip, tmp_path_factory) -> list[np.ndarray]:
    """The local backend's frames (one thread, like every worker below)."""
    out = tmp_path_factory.mktemp("sequential")
    assert cli.main(["stylize", str(cut_clip), "-s", str(sample_path("starry_night.jpg")), "-o", str(out / "f.####.png"), *RENDER]) == 0
    return _frames(out)


def test_the_planner_finds_the_cuts_where_the_temporal_loop_restarts(cut_clip):
    chunks, count = find_plan(open_source(cut_clip), (48, 27), StyleConfig.video())
    assert count == 14
    assert [(c.start, c.stop) for c in chunks] == [(0, CUTS[0]), CUTS, (CUTS[1], 14)]


def _assert_same_frames(frames, reference):
    assert len(frames) == len(reference) == 14
    worst = max(int(np.abs(a.astype(int) - b.astype(int)).max()) for a, b in zip(frames, reference))
    assert worst <= 1, f"frames differ from the local backend's by up to {worst}/255"


@pytest.fixture(scope="module")
def in_processes(cut_clip, tmp_path_factory) -> tuple[Path, str]:
    """The clip rendered in shots on two local processes: the output folder (frames and each chunk's
    resume state) and the render's stderr. Shared by the tests below: a render costs two process
    start-ups with torch."""
    import contextlib
    import io

    folder = tmp_path_factory.mktemp("in_processes")
    captured = io.StringIO()  # what the render tells the user (capfd is per test)
    with contextlib.redirect_stderr(captured):
        code = cli.main(["stylize", str(cut_clip), "-s", str(sample_path("starry_night.jpg")), "-o", str(folder / "f.####.png"),
                         *RENDER, "--devices", "cpu,cpu"])
    err = captured.getvalue()
    assert code == 0, err
    return folder, err


def test_devices_render_shots_in_processes_like_the_local_backend(in_processes, sequential):
    folder, err = in_processes
    assert "3 shot(s) in 3 chunk(s) on 2 processes worker(s)" in err
    _assert_same_frames(_frames(folder), sequential)


def test_unknown_device_is_one_line_before_any_work(cut_clip, tmp_path, capfd):
    code = cli.main(["stylize", str(cut_clip), "-s", str(sample_path("starry_night.jpg")), "-o", str(tmp_path / "o.mp4"),
                     *RENDER, "--devices", "cpu,tpu:0"])
    err = capfd.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "tpu:0" in err
    assert not (tmp_path / "o.mp4").exists()


@pytest.mark.parametrize("address, code, message", [("127.0.0.1:1", 1, "could not reach a Ray cluster at 127.0.0.1:1"),
                                                    ("nonsense", 2, "expected auto or HOST:PORT")])
def test_a_ray_address_nobody_answers_is_one_line_in_seconds(cut_clip, tmp_path, capfd, address, code, message):
    import ray

    assert not ray.is_initialized()  # (these run before the Ray fixture below starts one)
    assert cli.main(["stylize", str(cut_clip), "-s", str(sample_path("starry_night.jpg")), "-o", str(tmp_path / "o.mp4"),
                     *RENDER, "--backend", "ray", "--ray-address", address]) == code
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not (tmp_path / "o.mp4").exists()


# ---------------------------------------------------------------------------------------------------
# Ray, started in this process with 2 CPUs


@pytest.fixture(scope="module")
def ray_cluster():
    import ray  # an optional extra of the package, installed by the README's test command

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield ray
    ray.shutdown()


def test_ray_backend_gives_the_local_frames_count_and_audio(ray_cluster, cut_clip, sequential, tmp_path, capfd):
    style = str(sample_path("starry_night.jpg"))
    assert cli.main(["stylize", str(cut_clip), "-s", style, "-o", str(tmp_path / "f.####.png"), *RENDER,
                     "--backend", "ray", "--workers", "2"]) == 0
    assert "3 shot(s) in 3 chunk(s) on 2 ray worker(s)" in capfd.readouterr().err
    _assert_same_frames(_frames(tmp_path), sequential)

    video = tmp_path / "out.mp4"
    assert cli.main(["stylize", str(cut_clip), "-s", style, "-o", str(video), *RENDER, "--backend", "ray", "--workers", "2"]) == 0
    source, result = probe(cut_clip), probe(video)
    assert result.frame_count == source.frame_count == 14
    assert result.fps == source.fps and (result.width, result.height) == (48, 28)  # 48x27 encoded at even height
    assert result.has_audio and abs(result.duration - source.duration) <= 0.1


def test_a_killed_ray_worker_has_its_shot_retried(ray_cluster, cut_clip, sequential, tmp_path, monkeypatch):
    killed = []
    original = backends.RayBackend.progress

    def kill_first_worker_mid_shot(self):
        board = original(self)
        done, pid = board.get(0, (0, None))
        if not killed and pid and 1 <= done < CUTS[0]:
            os.kill(pid, signal.SIGKILL)
            killed.append((done, pid))
        return board

    monkeypatch.setattr(backends.RayBackend, "progress", kill_first_worker_mid_shot)
    monkeypatch.setattr(driver, "POLL_SECONDS", 0.05)
    # More iterations per frame make the first shot long enough to be caught between its frames.
    render = [*RENDER[:2], "--iters", "20", *RENDER[4:]]
    assert cli.main(["stylize", str(cut_clip), "-s", str(sample_path("starry_night.jpg")), "-o", str(tmp_path / "f.####.png"),
                     *render, "--backend", "ray", "--workers", "2"]) == 0
    assert killed, "the first shot finished before it could be killed"
    frames = _frames(tmp_path)
    assert len(frames) == 14
    assert all(f is not None and f.shape == (27, 48, 3) for f in frames)


def test_a_long_shot_split_into_chunks_shows_no_seam(tmp_path):
    """A 16-frame shot in chunks of at most 8 frames. Cut hard (no overlap), the switch between two
    independently optimised chunks is one jump in the warping error (measured 134e-4 against about
    2e-4 elsewhere). Cross-faded over n = 2 frames it becomes n + 1 steps of 1/(n + 1) of the
    difference each, so a squared error of about 1/9 of the jump per step (measured 11e-4)."""
    from vidstyle.metrics import warping_errors

    clip = synth.make_sample_clip(tmp_path / "long.mp4", frames=16)
    style = str(sample_path("starry_night.jpg"))
    errors = {}
    for name, overlap in (("hard", "0"), ("faded", "2")):
        out = tmp_path / f"{name}.####.png"
        assert cli.main(["stylize", str(clip), "-s", style, "-o", str(out), *RENDER, "--devices", "cpu,cpu",
                         "--shot-max-frames", "8", "--shot-overlap", overlap]) == 0
        frames = [f[..., ::-1].astype(np.float32) / 255 for f in _frames(tmp_path)]
        assert len(frames) == 16
        errors[name] = warping_errors(frames, [f.image for f in open_source(clip).frames])[0]
        for path in tmp_path.glob("*.png"):
            path.unlink()
    typical = float(np.median(errors["hard"]))
    assert max(errors["hard"]) > 10 * typical  # the seam of a hard switch
    assert max(errors["faded"]) < 0.25 * max(errors["hard"])  # spread over the overlap


def test_a_sequence_rendered_in_shots_resumes_per_frame(cut_clip, in_processes, sequential, tmp_path, capfd):
    """The last frames of two shots missing, as when workers are killed after saving their state but
    before writing the frame: those frames are rendered again from each chunk's own resume state and
    come out as the uninterrupted render's; the other frames are skipped."""
    import shutil

    shutil.copytree(in_processes[0], tmp_path, dirs_exist_ok=True)  # the finished render, with its resume states
    out = tmp_path / "f.####.png"
    command = ["stylize", str(cut_clip), "-s", str(sample_path("starry_night.jpg")), "-o", str(out), *RENDER, "--devices", "cpu,cpu"]
    written = sorted(tmp_path.glob("f.*.png"))
    assert len(written) == 14 and len(list(tmp_path.glob("*chunk*"))) == 3, sorted(p.name for p in tmp_path.iterdir())
    missing = [written[CUTS[1] - 1], written[-1]]  # the last frames of the second and third shots
    untouched = {p: p.stat().st_mtime_ns for p in written if p not in missing}
    for path in missing:
        path.unlink()
    capfd.readouterr()
    assert cli.main(command) == 0
    err = capfd.readouterr().err
    assert "2 frame(s) stylised" in err and "12 already done" in err
    assert all(p.stat().st_mtime_ns == t for p, t in untouched.items())
    _assert_same_frames(_frames(tmp_path), sequential)
