"""Still pixels (issue 15): flow held at zero where nothing moved, the measure of change on still
pixels, and the temporal blend with the warped previous output."""

from __future__ import annotations

import numpy as np
import pytest

import flow
from vidstyle.config import StyleConfig
from vidstyle.frames import Frame
from vidstyle.metrics import static_changes


def textured(height: int = 40, width: int = 48, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(0.2, 0.8, (height, width, 3)).astype(np.float32)


def test_noise_below_the_threshold_is_still_and_a_moved_square_is_not():
    rng = np.random.default_rng(1)
    background = np.full((40, 48, 3), 0.5, np.float32)
    previous = background.copy()
    previous[10:20, 10:20] = 1.0
    current = background + rng.normal(0, 1 / 255, background.shape).astype(np.float32)  # sensor noise
    current[10:20, 14:24] = 1.0  # the square moved 4 px right
    still = flow.still_mask(previous, current)
    assert still.shape == (40, 48)
    assert still[30:, :].all()  # only noise there
    assert not still[12:18, 11:13].any()  # uncovered by the square
    assert not still[12:18, 21:23].any()  # newly covered
    assert still[12:18, 15:19].all()  # inside both squares: nothing changed


def test_a_flat_region_under_a_camera_pan_is_not_still():
    # Nothing changes in a flat sky when the camera pans, but the strokes painted on it must move.
    flat = np.full((32, 32, 3), 0.5, np.float32)
    pan = np.zeros((32, 32, 2), np.float32)
    pan[..., 0] = 0.8  # a slow pan: under a pixel a frame
    # What DIS reports on a still wall: 0.4 px in random directions, which the 7x7 mean averages out.
    angle = np.random.default_rng(0).uniform(0, 2 * np.pi, (32, 32))
    noise = (0.4 * np.stack([np.cos(angle), np.sin(angle)], axis=2)).astype(np.float32)
    assert flow.still_mask(flat, flat).all()
    assert not flow.still_mask(flat, flat, flow=pan).any()
    assert flow.still_mask(flat, flat, flow=noise)[4:-4, 4:-4].all()
    with pytest.raises(ValueError, match="flow of shape"):
        flow.still_mask(flat, flat, flow=np.zeros((32, 32), np.float32))


def test_threshold_is_in_zero_one_units_and_uint8_frames_are_scaled():
    a = np.zeros((8, 8, 3), np.uint8)
    b = np.full((8, 8, 3), 3, np.uint8)  # 3/255 everywhere
    assert flow.still_mask(a, b, threshold=4 / 255).all()
    assert not flow.still_mask(a, b, threshold=2 / 255).any()
    with pytest.raises(ValueError, match="one shape"):
        flow.still_mask(a, np.zeros((8, 9, 3), np.uint8))


def test_hold_still_zeroes_both_flows_and_trusts_still_pixels():
    backward = np.full((4, 5, 2), 0.4, np.float32)
    pair = flow.FlowPair(backward, -backward, np.full((4, 5), 0.25, np.float32))
    still = np.zeros((4, 5), bool)
    still[:2] = True
    held = flow.hold_still(pair, still)
    assert np.all(held.backward[:2] == 0) and np.all(held.forward[:2] == 0)
    assert np.all(held.backward[2:] == 0.4) and np.all(held.forward[2:] == -0.4)
    assert np.all(held.reliability[:2] == 1.0) and np.all(held.reliability[2:] == 0.25)
    assert np.all(pair.backward == 0.4)  # the input is not changed
    with pytest.raises(ValueError, match="shape"):
        flow.hold_still(pair, np.zeros((5, 4), bool))


def test_static_changes_by_hand():
    source = [np.full((16, 24, 3), 0.5, np.float32)] * 3
    source[2] = source[2].copy()
    source[2][:, 12:] = 0.9  # the right half changed in the third frame
    outputs = [np.full((16, 24, 3), v, np.float32) for v in (0.1, 0.1 + 3 / 255, 0.1)]
    changes, source_changes, fractions = static_changes(outputs, source)
    assert changes[0] == pytest.approx(3 / 255) and source_changes[0] == 0.0 and fractions[0] == 1.0
    # third frame: the right half and the column the 3x3 mean carries the edge into are not still
    assert 0 < fractions[1] <= 11 / 24
    assert changes[1] == pytest.approx(3 / 255) and source_changes[1] == 0.0


def test_a_frame_with_no_still_pixel_gives_nan():
    a, b = np.zeros((16, 16, 3), np.float32), np.ones((16, 16, 3), np.float32)
    changes, source_changes, fractions = static_changes([a, b], [a, b])
    assert np.isnan(changes[0]) and np.isnan(source_changes[0]) and fractions[0] == 0.0


@pytest.mark.parametrize("field, value, message", [
    ("still_threshold", -1.0, "--still-threshold"),
    ("temporal_blend", 1.5, "--temporal-blend"),
    ("temporal_blend", -0.1, "--temporal-blend"),
])
def test_config_refuses_out_of_range(field, value, message):
    with pytest.raises(ValueError, match=message):
        StyleConfig().with_(**{field: value}).validate()


def _two_identical_frames(vgg, painting, blend: float, still: float):
    from vidstyle.frames import resize
    from vidstyle.optimize import Stylizer
    from vidstyle.temporal import VideoStylizer

    config = StyleConfig.video().with_(iters=4, first_iters=6, seed=0, device="cpu", temporal_blend=blend, still_threshold=still)
    image = textured(27, 48)
    video = VideoStylizer(Stylizer(config, [resize(painting, (48, 27))], network=vgg), (48, 27), generator_seed=0)
    first = video.process(Frame(image, 0, 0))[0].image
    second = video.process(Frame(image, 1, 1))[0].image
    return first, second


def test_blend_keeps_that_fraction_of_the_previous_output_where_nothing_moved(vgg, painting):
    # Identical frames: the flow is held at exactly zero and reliability is 1 everywhere, so the
    # warped previous output is the previous output and the blend is plain arithmetic on the
    # optimiser's result, which does not depend on the blend.
    first, plain = _two_identical_frames(vgg, painting, blend=0.0, still=4.0)
    first_blend, blended = _two_identical_frames(vgg, painting, blend=0.9, still=4.0)
    assert np.array_equal(first, first_blend)  # a fresh frame is not blended
    step = np.abs(plain - first).mean()
    assert step > 1e-3  # the optimiser did move the second frame
    assert np.abs(blended - first).mean() == pytest.approx(0.1 * step, rel=1e-3)


def test_content_distance_in_a_region(vgg, photo):
    from vidstyle.frames import resize
    from vidstyle.metrics import content_distance

    content = resize(photo, (64, 48))
    image = content.copy()
    image[:, 32:] = 0.5  # the right half differs
    everywhere = content_distance(vgg, image, content)
    assert content_distance(vgg, image, content, region=np.ones((48, 64), np.float32)) == pytest.approx(everywhere, rel=1e-5)
    left, right = np.zeros((48, 64), np.float32), np.zeros((48, 64), np.float32)
    left[:, :24], right[:, 40:] = 1.0, 1.0
    # relu4_2 sees 8x8 blocks: the left third is far from the changed half, the right third inside it
    assert content_distance(vgg, image, content, region=left) < 0.1 * content_distance(vgg, image, content, region=right)
