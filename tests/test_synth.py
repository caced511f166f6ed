"""vidstyle.synth: the camera's ground-truth flow, rendering, and the clip maker."""

from __future__ import annotations

from fractions import Fraction

import av
import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vidstyle import synth
from vidstyle.synth import camera_flow, camera_move, scene_cut, write_clip


def textured_photo(h: int = 200, w: int = 260, sigma: float = 2.0, seed: int = 0) -> np.ndarray:
    """float32 (h, w, 3): blurred colour noise, detailed but smooth at the pixel scale (so bilinear
    resampling error stays small next to the signal)."""
    rng = np.random.default_rng(seed)
    noise = rng.random((h, w, 3)).astype(np.float32)
    img = cv2.GaussianBlur(noise, (0, 0), sigma)
    img = (img - img.min()) / (img.max() - img.min())
    return img.astype(np.float32)


def backward_warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Sample ``image`` at p + flow(p) (bilinear): the project's warp convention."""
    h, w = flow.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(image, xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def bilinear(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """float64 bilinear sample of ``image`` (H, W, C) at p + flow(p), positions clamped to the frame."""
    h, w = flow.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    x = np.clip(xs + flow[..., 0], 0, w - 1)
    y = np.clip(ys + flow[..., 1], 0, h - 1)
    x0 = np.minimum(np.floor(x).astype(int), w - 2)
    y0 = np.minimum(np.floor(y).astype(int), h - 2)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    img = image.astype(np.float64)
    top = img[y0, x0] * (1 - fx) + img[y0, x0 + 1] * fx
    bottom = img[y0 + 1, x0] * (1 - fx) + img[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def inside(flow: np.ndarray, margin: float = 1.0) -> np.ndarray:
    """(H, W) bool: p + flow(p) lands inside the frame with ``margin`` to spare."""
    h, w = flow.shape[:2]
    xs, ys = np.meshgrid(np.arange(w), np.arange(h))
    x2, y2 = xs + flow[..., 0], ys + flow[..., 1]
    return (x2 >= margin) & (x2 <= w - 1 - margin) & (y2 >= margin) & (y2 <= h - 1 - margin)


# --- the camera -----------------------------------------------------------------------------------


def test_integer_pan_is_an_exact_crop_and_the_flow_points_to_where_the_pixel_was():
    photo = textured_photo()
    frames = camera_move(photo, (64, 48), 4, shift_per_frame=(3.0, 2.0))
    # The camera moves right/down by (3, 2), so the picture slides left/up: what pixel p shows in
    # frame t, frame t-1 showed at p + (3, 2).
    for t in range(1, 4):
        np.testing.assert_allclose(frames[t][:-2, :-3], frames[t - 1][2:, 3:], atol=1e-6)
    flow = camera_flow(2, (64, 48), (3.0, 2.0))
    assert flow.shape == (48, 64, 2) and flow.dtype == np.float32
    np.testing.assert_allclose(flow[..., 0], 3.0, atol=1e-5)
    np.testing.assert_allclose(flow[..., 1], 2.0, atol=1e-5)
    np.testing.assert_allclose(camera_flow(1, (64, 48), (3.0, 2.0), to=2), -flow, atol=1e-5)


@pytest.mark.parametrize(
    "motion",
    [
        dict(shift_per_frame=(1.7, -0.6)),
        dict(shift_per_frame=(1.0, 0.5), zoom_per_frame=1.02),
        dict(shift_per_frame=(0.5, 0.0), zoom_per_frame=0.98, rotation_per_frame_deg=1.5),
        dict(shift_per_frame=(2.0, 1.0), zoom_per_frame=1.01, scale=0.6),  # minified: prefiltered path
    ],
    ids=["pan", "pan+zoom", "pan+zoom-out+roll", "half-scale"],
)
def test_warping_previous_frame_with_backward_flow_reproduces_the_frame(motion):
    photo = textured_photo()
    size = (80, 60)
    frames = camera_move(photo, size, 5, **motion)
    for t in (1, 4):
        flow = camera_flow(t, size, **motion)
        mask = inside(flow)
        assert mask.mean() > 0.7
        err = np.abs(backward_warp(frames[t - 1], flow) - frames[t])[mask].mean()
        # The test must be able to fail: the flow's opposite (or none at all) is far worse.
        wrong = np.abs(backward_warp(frames[t - 1], -flow) - frames[t])[inside(-flow)].mean()
        still = np.abs(frames[t - 1] - frames[t]).mean()
        assert err < 0.01, err
        assert wrong > 4 * err and still > 4 * err, (err, wrong, still)


@settings(max_examples=25, deadline=None)
@given(
    dx=st.floats(-4, 4), dy=st.floats(-4, 4),
    zoom=st.floats(0.9, 1.1), roll=st.floats(-5, 5),
    t=st.integers(1, 20),
)
def test_forward_and_backward_flows_cancel(dx, dy, zoom, roll, t):
    size = (24, 16)
    motion = dict(shift_per_frame=(dx, dy), zoom_per_frame=zoom, rotation_per_frame_deg=roll)
    back = camera_flow(t, size, **motion)            # F_t->t-1
    fwd = camera_flow(t - 1, size, **motion, to=t)   # F_t-1->t
    # F_ab(p) + F_ba(p + F_ab(p)) = 0; affine flows are linear in p, so float64 bilinear sampling is
    # exact (cv2.remap is not: it quantises positions to 1/32 px).
    fwd_at = bilinear(fwd, back)
    mask = inside(back)
    if mask.any():
        assert np.abs(back + fwd_at)[mask].max() < 1e-4


def test_positive_roll_turns_the_picture_counter_clockwise_on_screen():
    photo = np.zeros((101, 101, 3), np.float32)
    photo[50, 70] = 1.0  # a dot 20 px right of the centre
    photo = cv2.GaussianBlur(photo, (0, 0), 1.0)
    frames = camera_move(photo, (61, 61), 2, shift_per_frame=(0.0, 0.0), rotation_per_frame_deg=90.0)
    y0, x0 = np.unravel_index(frames[0][..., 0].argmax(), (61, 61))
    y1, x1 = np.unravel_index(frames[1][..., 0].argmax(), (61, 61))
    assert (y0, x0) == (30, 50)   # right of centre
    assert (y1, x1) == (10, 30)   # turned a quarter counter-clockwise: above centre


def test_zooming_in_magnifies_about_the_centre():
    size = (41, 31)
    flow = camera_flow(1, size, (0.0, 0.0), zoom_per_frame=1.25)
    # Frame 1 is frame 0 magnified 1.25x about the centre, so frame-1 pixel p was at
    # c + (p - c) / 1.25 in frame 0.
    assert np.abs(flow[15, 20]).max() < 1e-5
    np.testing.assert_allclose(flow[15, 40], [(20 / 1.25) - 20, 0.0], atol=1e-4)


def test_minification_is_area_filtered_not_aliased():
    checker = (np.indices((200, 200)).sum(axis=0) % 2).astype(np.float32)
    photo = np.repeat(checker[..., None], 3, axis=2)  # one-pixel checkerboard
    frame = camera_move(photo, (40, 30), 1, shift_per_frame=(0.0, 0.0), scale=0.3)[0]
    # Averaged, a 1-px checkerboard is flat grey; plain bilinear sampling at 0.3x (off the half-pixel
    # grid, where it would happen to average) shows moiré.
    assert abs(frame.mean() - 0.5) < 0.02
    assert frame.std() < 0.05


def test_camera_leaving_the_photo_is_refused():
    with pytest.raises(ValueError, match="leaves the"):
        camera_move(textured_photo(100, 100), (64, 48), 30, shift_per_frame=(5.0, 0.0))


def test_frames_are_float32_rgb_in_range_for_uint8_photos():
    photo = (textured_photo() * 255).astype(np.uint8)
    frames = camera_move(photo, (32, 24), 3)
    assert len(frames) == 3
    for f in frames:
        assert f.shape == (24, 32, 3) and f.dtype == np.float32
        assert 0.0 <= f.min() and f.max() <= 1.0


def test_scene_cut_joins_two_shots_and_says_where():
    photo = textured_photo()
    frames, cut = scene_cut(photo, (48, 32), frames=(4, 3), shift_per_frame=(1.0, 0.0))
    assert len(frames) == 7 and cut == 4
    jumps = [np.abs(frames[i] - frames[i - 1]).mean() for i in range(1, 7)]
    # The jump into the cut frame dwarfs every in-shot change.
    assert jumps[cut - 1] > 3 * max(j for i, j in enumerate(jumps) if i != cut - 1)


# --- clips ----------------------------------------------------------------------------------------


def test_write_clip_constant_rate_with_audio(tmp_path):
    frames = camera_move(textured_photo(), (64, 48), 12)
    path = write_clip(tmp_path / "c.mp4", frames, fps=Fraction(24), audio_seconds=0.75)
    with av.open(str(path)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        assert v.frames == 12 and v.average_rate == 24
        assert (v.width, v.height) == (64, 48)
        assert a.codec_context.name == "aac"
        assert abs(float(a.duration * a.time_base) - 0.75) < 0.03
        times = [float(f.pts * f.time_base) for f in c.decode(v)]
    np.testing.assert_allclose(times, np.arange(12) / 24, atol=1e-6)


def test_write_clip_variable_frame_rate_keeps_each_timestamp(tmp_path):
    frames = camera_move(textured_photo(), (32, 32), 6)
    pts = [0, 40, 100, 130, 210, 250]  # milliseconds
    path = write_clip(tmp_path / "vfr.mp4", frames, variable_frame_rate=pts, audio=False)
    with av.open(str(path)) as c:
        times = [f.pts * f.time_base for f in c.decode(video=0)]
        assert not c.streams.audio
    assert times == [Fraction(p, 1000) for p in pts]


def test_write_clip_rejects_bad_input(tmp_path):
    frames = camera_move(textured_photo(), (32, 32), 3)
    with pytest.raises(ValueError, match="increase"):
        write_clip(tmp_path / "x.mp4", frames, variable_frame_rate=[0, 40, 40])
    with pytest.raises(ValueError, match="even"):
        write_clip(tmp_path / "x.mp4", [f[:31] for f in frames])


def test_sample_clip_is_small_with_sound(tmp_path):
    photo = synth.SAMPLES / "tubingen.jpg"
    if not photo.is_file():
        pytest.skip("samples/tubingen.jpg not present")
    path = synth.make_sample_clip(tmp_path / "clip.mp4", photo)
    assert path.stat().st_size < 1_000_000
    with av.open(str(path)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        assert (v.width, v.height, v.frames, v.average_rate) == (320, 180, 48, 24)
        assert abs(float(a.duration * a.time_base) - 2.0) < 0.05


def test_bundled_sample_clip_matches_its_description():
    path = synth.SAMPLES / "clip.mp4"
    if not path.is_file():
        pytest.skip("samples/clip.mp4 not present")
    assert path.stat().st_size < 1_000_000
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        assert (v.width, v.height, v.frames) == (320, 180, 48)
        assert c.streams.audio
