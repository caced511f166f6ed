"""flow.estimate: accuracy on known motions of a real photo, direction/sign, warm start, input checks, RAFT loading."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import flow
from flow_helpers import camera_move_pair, end_point_error, to_float, translation_pair

W, H = 192, 144
MARGIN = 16  # interior: DIS patches and the warp both degrade within a patch of the border


@pytest.fixture(scope="module")
def subpixel_pair():
    """The photo and a copy moved by (3.5, -2.25) px with an exact bicubic sub-pixel shift."""
    return translation_pair(W, H, 3.5, -2.25)


# ------------------------------------------------------------------------------------------- accuracy


def test_subpixel_translation_default_dis(subpixel_pair):
    """Default DIS recovers a (3.5, -2.25) px shift to < 0.15 px mean end-point error (measured 0.035)."""
    a, b, truth = subpixel_pair
    flow_ab = flow.estimate(a, b)
    assert flow_ab.shape == (H, W, 2) and flow_ab.dtype == np.float32
    assert end_point_error(flow_ab, truth, MARGIN) <= 0.15


def test_subpixel_translation_warp_reproduces_first_frame(subpixel_pair):
    """warp(b, F_ab) ≈ a as well as warping with the true flow does.

    Even the exact flow leaves about 0.02 mean error: b was made by bicubic resampling and the warp
    resamples bilinearly, and both blur the photo's fine detail. The unwarped b is ~5x worse.
    """
    a, b, truth = subpixel_pair
    a_f, b_f = to_float(a), to_float(b)
    inner = (slice(MARGIN, -MARGIN), slice(MARGIN, -MARGIN))
    error_estimated = np.abs(flow.warp(b_f, flow.estimate(a, b)) - a_f)[inner].mean()
    error_true_flow = np.abs(flow.warp(b_f, truth) - a_f)[inner].mean()
    error_unwarped = np.abs(b_f - a_f)[inner].mean()
    assert error_estimated <= 0.03
    assert error_estimated <= error_true_flow * 1.05
    assert error_unwarped >= 3 * error_estimated


@pytest.mark.parametrize("preset, bound", [("fast", 0.35), ("ultrafast", 0.5)])
def test_subpixel_translation_faster_presets(subpixel_pair, preset, bound):
    """OpenCV's untuned presets, for previews: measured 0.22 (fast) and 0.32 px (ultrafast)."""
    a, b, truth = subpixel_pair
    assert end_point_error(flow.estimate(a, b, preset=preset), truth, MARGIN) <= bound


def test_tuned_medium_beats_stock_medium(subpixel_pair):
    """Our DIS tuning (finest scale 0) must stay well ahead of OpenCV's stock medium (measured 0.035 vs 0.12)."""
    a, b, truth = subpixel_pair
    stock = dict(finest_scale=1, patch_stride=3, gradient_descent_iterations=25)  # OpenCV's medium
    tuned_error = end_point_error(flow.estimate(a, b), truth, MARGIN)
    stock_error = end_point_error(flow.estimate(a, b, **stock), truth, MARGIN)
    assert tuned_error <= 0.5 * stock_error


def test_camera_move_default_dis():
    """Synthetic camera move (zoom 2 %, rotation 1.5°, pan) over the real photo: EPE < 0.15 px (measured 0.05)."""
    a, b, truth = camera_move_pair(W, H)
    assert end_point_error(flow.estimate(a, b), truth, MARGIN) <= 0.15


def test_float_frames_give_the_same_accuracy(subpixel_pair):
    a, b, truth = subpixel_pair
    flow_ab = flow.estimate(to_float(a), to_float(b))
    assert end_point_error(flow_ab, truth, MARGIN) <= 0.15


def test_farneback_recovers_the_shift_where_there_is_texture(subpixel_pair):
    """Farneback leaves flat sky near zero flow (mean EPE ~0.7 px), so check the median (measured 0.05)."""
    a, b, truth = subpixel_pair
    flow_ab = flow.estimate(a, b, "farneback")
    error = np.linalg.norm(flow_ab - truth, axis=2)[MARGIN:-MARGIN, MARGIN:-MARGIN]
    assert np.median(error) <= 0.2


# -------------------------------------------------------------------------------------- direction, sign


@pytest.mark.parametrize("method", ["dis", "farneback"])
def test_direction_and_sign(method):
    """b = a moved right by 3 px  =>  F_ab ≈ (+3, 0), F_ba ≈ (-3, 0), warp(b, F_ab) ≈ a and warp(b, -F_ab) is not."""
    a, b, _ = translation_pair(W, H, 3.0, 0.0)
    flow_ab = flow.estimate(a, b, method)
    flow_ba = flow.estimate(b, a, method)
    inner = (slice(MARGIN, -MARGIN), slice(MARGIN, -MARGIN))
    np.testing.assert_allclose(np.median(flow_ab[inner].reshape(-1, 2), axis=0), [3.0, 0.0], atol=0.1)
    np.testing.assert_allclose(np.median(flow_ba[inner].reshape(-1, 2), axis=0), [-3.0, 0.0], atol=0.1)
    a_f, b_f = to_float(a), to_float(b)
    right_way = np.abs(flow.warp(b_f, flow_ab) - a_f)[inner].mean()
    wrong_way = np.abs(flow.warp(b_f, -flow_ab) - a_f)[inner].mean()
    assert wrong_way >= 3 * right_way


# ------------------------------------------------------------------------------------------ warm start


def test_init_flow_is_used_and_not_modified(subpixel_pair):
    a, b, truth = subpixel_pair
    cold = flow.estimate(a, b)
    init = np.zeros_like(truth)
    warm = flow.estimate(a, b, init_flow=init)
    assert not np.array_equal(warm, cold)  # DIS really received the initial flow
    np.testing.assert_array_equal(init, 0.0)  # and the caller's array is untouched
    assert end_point_error(flow.estimate(a, b, init_flow=truth), truth, MARGIN) <= 0.15
    far_off = np.full_like(truth, 20.0)  # Farneback starts from it: a wrong start shows in the result
    assert end_point_error(flow.estimate(a, b, "farneback", init_flow=far_off), truth, MARGIN) > 5.0


def test_cold_estimate_is_unaffected_by_an_earlier_warm_one(subpixel_pair):
    """OpenCV 5.0 DIS keeps a warm start's initial flow for later calls and crashes on a later size change.

    The cache keeps warm and cold DIS objects apart; this fails (or kills the process) if it does not.
    """
    a, b, truth = subpixel_pair
    cold_before = flow.estimate(a, b)
    flow.estimate(a, b, init_flow=np.ones_like(truth))
    np.testing.assert_array_equal(flow.estimate(a, b), cold_before)
    small_a, small_b, small_truth = translation_pair(64, 48, 1.0, 0.5)  # another size, same thread
    assert end_point_error(flow.estimate(small_a, small_b), small_truth, 8) <= 0.3


def test_threads_get_the_same_answers(subpixel_pair):
    """DIS objects are cached per thread; concurrent calls must agree with sequential ones."""
    a, b, _ = subpixel_pair
    expected = [flow.estimate(a, b), flow.estimate(b, a)]
    results: dict[int, list[np.ndarray]] = {}

    def work(k: int) -> None:
        results[k] = [flow.estimate(a, b), flow.estimate(b, a)]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(3):
        np.testing.assert_array_equal(results[k][0], expected[0])
        np.testing.assert_array_equal(results[k][1], expected[1])


# ----------------------------------------------------------------------------------------- input checks


def _frames(shape=(20, 24, 3), dtype=np.uint8):
    return np.zeros(shape, dtype), np.zeros(shape, dtype)


@pytest.mark.parametrize("a, b, message", [
    (np.zeros((20, 24, 4), np.uint8), np.zeros((20, 24, 4), np.uint8),
     r"expected a of shape \(H, W, 3\) or \(H, W\), got \(20, 24, 4\)"),
    (np.zeros((20, 24, 3), np.int16), np.zeros((20, 24, 3), np.int16),
     r"expected a of dtype uint8, float32 or float64, got int16"),
    (np.full((20, 24, 3), 2.0, np.float32), np.zeros((20, 24, 3), np.float32),
     r"expected float a with values in \[0, 1\], got range \[2.0, 2.0\]"),
    (np.zeros((20, 24, 3), np.uint8), np.zeros((20, 25, 3), np.uint8),
     r"expected a and b of the same shape, got \(20, 24, 3\) and \(20, 25, 3\)"),
    ("frame.png", np.zeros((20, 24, 3), np.uint8), r"expected a as a numpy array"),
])
def test_bad_frames_are_refused(a, b, message):
    with pytest.raises(ValueError, match=message):
        flow.estimate(a, b)


def test_bad_method_option_preset_init_flow():
    a, b = _frames()
    with pytest.raises(ValueError, match=r"expected method in \('dis', 'farneback', 'raft'\), got 'lucas'"):
        flow.estimate(a, b, "lucas")
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['patchsize'\]"):
        flow.estimate(a, b, patchsize=8)
    with pytest.raises(ValueError, match=r"expected preset in \('ultrafast', 'fast', 'medium'\), got 'slow'"):
        flow.estimate(a, b, preset="slow")
    with pytest.raises(ValueError, match=r"expected init_flow of shape \(20, 24, 2\) to match, got \(20, 23, 2\)"):
        flow.estimate(a, b, init_flow=np.zeros((20, 23, 2), np.float32))


def test_frames_too_small_for_dis_raise_value_error():
    a, b = _frames((8, 8, 3))
    with pytest.raises(ValueError, match=r"OpenCV DIS refused frames of shape \(8, 8, 3\)"):
        flow.estimate(a, b)


# ------------------------------------------------------------------------------------------------ RAFT


def test_raft_without_weights_says_so():
    a, b = _frames()
    with pytest.raises(ValueError, match=r"expected weights=PATH to a torchvision RAFT state dict.*nothing is downloaded"):
        flow.estimate(a, b, "raft")


def test_raft_with_missing_file(tmp_path):
    a, b = _frames()
    with pytest.raises(FileNotFoundError, match=r"weights file not found: .*nowhere\.pth"):
        flow.estimate(a, b, "raft", weights=tmp_path / "nowhere.pth")


def test_raft_with_a_file_that_is_not_a_state_dict(tmp_path):
    path = tmp_path / "notes.pth"
    path.write_bytes(b"not a torch file")
    a, b = _frames()
    with pytest.raises(ValueError, match=r"expected .*notes\.pth to be a torch state dict file"):
        flow.estimate(a, b, "raft", weights=path)


@pytest.fixture(scope="module")
def random_raft_small(tmp_path_factory):
    """A randomly initialised torchvision raft_small state dict in a temp file (no download)."""
    torch = pytest.importorskip("torch")
    raft = pytest.importorskip("torchvision.models.optical_flow")
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("raft") / "raft_small_random.pth"
    torch.save(raft.raft_small(weights=None).state_dict(), path)
    return path


def test_raft_loads_a_user_file_and_crops_padding(random_raft_small):
    """Proves the loading path: random weights give a meaningless flow of the right shape and type.

    60 x 68 is not a multiple of 8 (and below RAFT's 128 minimum), so the pad-and-crop path runs.
    """
    rng = np.random.default_rng(0)
    a = (rng.random((60, 68, 3)) * 255).astype(np.uint8)
    b = np.roll(a, 2, axis=1)
    flow_ab = flow.estimate(a, b, "raft", weights=random_raft_small, num_flow_updates=2, device="cpu")
    assert flow_ab.shape == (60, 68, 2) and flow_ab.dtype == np.float32
    assert np.all(np.isfinite(flow_ab))


def test_raft_refuses_a_file_of_the_other_model(random_raft_small):
    a, b = _frames()
    with pytest.raises(ValueError, match=r"state dict of torchvision raft_large, but it does not fit: \d+ missing keys"):
        flow.estimate(a, b, "raft", weights=random_raft_small, model="large")
