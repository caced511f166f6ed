"""vidstyle.io.video: probe, streaming reader, atomic writer with audio remux."""

from __future__ import annotations

import warnings
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from vidstyle.frames import Frame
from vidstyle.io.video import (
    MediaError,
    MediaWarning,
    VideoReader,
    VideoWriter,
    apply_rotation,
    probe,
)
from vidstyle.synth import camera_move, write_clip, write_tone


def photo(h: int = 160, w: int = 200, seed: int = 0, sigma: float = 2.5) -> np.ndarray:
    """float32 (h, w, 3): blurred colour noise; ``sigma`` sets how fine the detail is."""
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), sigma)
    return ((img - img.min()) / (img.max() - img.min())).astype(np.float32)


def moving(n: int, size=(64, 48), sigma: float = 2.5) -> list[np.ndarray]:
    return camera_move(photo(sigma=sigma), size, n, shift_per_frame=(1.5, 0.5))


def read_all(path) -> tuple[VideoReader, list[Frame]]:
    with VideoReader(path) as reader:
        frames = list(reader)
    return reader, frames


def audio_packets(path) -> tuple[list, dict]:
    """Non-empty audio packets as (pts seconds, duration seconds, size) and a summary of the stream.

    Duration is measured from the packets (Matroska stores no stream duration): from max(first pts,
    0) (the AAC encoder-delay packet starts before zero) to the end of the last packet.
    """
    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        tb = stream.time_base
        packets = [(p.pts * tb, p.duration * tb, p.size) for p in c.demux(stream) if p.size]
        end = max(pts + dur for pts, dur, _ in packets)
        info = dict(codec=stream.codec_context.name, rate=stream.codec_context.sample_rate,
                    duration=float(end - max(packets[0][0], 0)), language=stream.language)
    return packets, info


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def clip(tmp_path) -> Path:
    """12 frames at 24 fps (0.5 s), 64x48, with 0.5 s of AAC."""
    return write_clip(tmp_path / "src.mp4", moving(12), fps=Fraction(24),
                      metadata={"title": "a test clip"}, audio_language="fra")


# --- probe ----------------------------------------------------------------------------------------


def test_probe_describes_the_clip(clip):
    info = probe(clip)
    assert (info.width, info.height) == (64, 48)
    assert info.fps == 24
    assert info.frame_count == 12
    assert info.duration == pytest.approx(0.5, abs=0.01)
    assert info.rotation == 0 and info.has_audio and info.codec == "h264"
    assert isinstance(info.time_base, Fraction)


def test_probe_without_audio(tmp_path):
    path = write_clip(tmp_path / "mute.mp4", moving(3), audio=False)
    assert probe(path).has_audio is False


def _file(name: str, content: bytes):
    def make(folder: Path) -> Path:
        (folder / name).write_bytes(content)
        return folder / name
    return make


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d / "nope.mp4", "no such file"),
        (_file("empty.mp4", b""), "empty"),
        (_file("notes.mp4", b"just some text\n" * 50), "not a media file"),
        (lambda d: d, "directory"),
        (lambda d: write_tone(d / "song.m4a", 0.3), r"no video stream \(audio only\)"),
    ],
    ids=["missing", "empty", "text", "directory", "audio-only"],
)
def test_bad_inputs_raise_one_line_media_errors_naming_the_file(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(MediaError, match=message) as e:
        probe(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(MediaError, match=message):
        VideoReader(path)
    assert isinstance(e.value, ValueError)


def test_truncated_mp4_without_index_is_a_media_error(clip, tmp_path):
    data = clip.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])  # PyAV writes the index (moov) last: it is gone
    with pytest.raises(MediaError, match="cut.mp4"):
        probe(cut)


# --- reading --------------------------------------------------------------------------------------


def test_reader_yields_float_rgb_frames_with_timestamps(clip):
    source = moving(12)
    reader, frames = read_all(clip)
    assert len(frames) == 12 and reader.decoded == 12 and reader.skipped == 0
    for i, f in enumerate(frames):
        assert f.image.shape == (48, 64, 3) and f.image.dtype == np.float32
        assert 0.0 <= f.image.min() and f.image.max() <= 1.0
        assert f.index == f.number == i
        assert f.time_base == reader.info.time_base
        assert f.pts * f.time_base == Fraction(i, 24)
        # crf 23 H.264 of fine colour detail at 64x48: close, and closer to its own source frame than
        # to any other (right order, nothing dropped or repeated).
        errors = [np.abs(f.image - s).mean() for s in source]
        assert errors[i] < 0.025
        assert int(np.argmin(errors)) == i


def test_reader_can_iterate_twice_and_stop_early(clip):
    with VideoReader(clip) as reader:
        first = [f.pts for f in reader]
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # stopping early is not damage: no warning
            for f in reader:
                if f.index == 3:
                    break
        again = [f.pts for f in reader]
    assert first == again and len(first) == 12


def test_reader_turns_rotated_video_upright(tmp_path):
    stored = np.zeros((32, 48, 3), np.float32)  # landscape as stored...
    stored[:8, :8] = 1.0                          # ...with a white block top-left
    path = write_clip(tmp_path / "rot.mp4", [stored] * 3, rotation=90, audio=False)
    info = probe(path)
    assert info.rotation == 90
    assert (info.width, info.height) == (32, 48)  # display size: portrait
    _, frames = read_all(path)
    upright = frames[0].image
    assert upright.shape == (48, 32, 3)
    # 90 degrees counter-clockwise: the stored top-left corner ends up bottom-left.
    assert upright[-6:, :6].mean() > 0.9
    assert upright[:6, :6].mean() < 0.1 and upright[-6:, -6:].mean() < 0.1


def test_apply_rotation():
    img = np.arange(6).reshape(2, 3)
    np.testing.assert_array_equal(apply_rotation(img, 0), img)
    np.testing.assert_array_equal(apply_rotation(img, 90), [[2, 5], [1, 4], [0, 3]])
    np.testing.assert_array_equal(apply_rotation(img, 180), img[::-1, ::-1])
    np.testing.assert_array_equal(apply_rotation(img, 270), apply_rotation(img, -90))
    np.testing.assert_array_equal(apply_rotation(apply_rotation(img, 90), 270), img)
    with pytest.raises(ValueError):
        apply_rotation(img, 45)


def test_damaged_stream_is_decoded_as_far_as_possible_and_reported(tmp_path):
    rng = np.random.default_rng(3)
    noise = [rng.random((48, 64, 3)).astype(np.float32) for _ in range(24)]  # incompressible: big mdat
    path = write_clip(tmp_path / "ok.mp4", noise, audio=False, crf=30)
    data = bytearray(path.read_bytes())
    start = len(data) // 3
    data[start:start + 3000] = np.random.default_rng(1).integers(0, 256, 3000, dtype=np.uint8).tobytes()
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(bytes(data))
    with pytest.warns(MediaWarning, match="bad.mp4"):
        reader, frames = read_all(bad)
    assert 0 < len(frames) < 24
    assert reader.skipped == 24 - len(frames)
    assert [f.index for f in frames] == list(range(len(frames)))


# --- writing: round trips -------------------------------------------------------------------------


def test_lossless_round_trip_is_exact(tmp_path):
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(5)]
    out = tmp_path / "lossless.mkv"
    with VideoWriter(out, 64, 48, 24, codec="ffv1", pix_fmt="bgr0") as w:
        for i, img in enumerate(images):
            w.write(Frame(image=img, index=i, number=i))
    _, frames = read_all(out)
    assert len(frames) == 5
    for f, img in zip(frames, images):
        np.testing.assert_array_equal(np.rint(f.image * 255).astype(np.uint8), img)


@pytest.mark.parametrize(
    "codec, pix_fmt, ext, crf, tolerance, max_bias",
    [
        # crf 0 is lossless in x264: what is left is RGB<->YUV 4:2:0 conversion, which must be unbiased.
        ("libx264", "yuv420p", ".mp4", 0, 0.006, 0.0006),
        ("libx264", "yuv420p", ".mp4", 18, 0.012, 0.0025),
        ("libx264", "yuv444p", ".mkv", 18, 0.012, 0.0025),
        ("mpeg4", "yuv420p", ".mp4", 18, 0.03, 0.004),  # no crf in MPEG-4 part 2: default bitrate
        ("libvpx-vp9", "yuv420p", ".webm", 18, 0.012, 0.0025),
    ],
)
def test_round_trip_through_lossy_codecs(tmp_path, codec, pix_fmt, ext, crf, tolerance, max_bias):
    source = moving(6, sigma=5.0)  # photo-like smoothness; fine colour noise is a codec stress test
    out = tmp_path / f"out{ext}"
    with VideoWriter(out, 64, 48, Fraction(24), codec=codec, pix_fmt=pix_fmt, crf=crf) as w:
        for i, img in enumerate(source):
            w.write(Frame(image=img, index=i, number=i))
    reader, frames = read_all(out)
    assert len(frames) == 6 and reader.info.codec in codec.replace("libx264", "h264").replace("libvpx-vp9", "vp9")
    errors = [np.abs(f.image - s).mean() for f, s in zip(frames, source)]
    assert max(errors) < tolerance, errors
    # No systematic colour shift: a matrix/range mismatch, or swscale's direct yuv420p->RGB path
    # (which reads about 1/255 low), shows up as a bias.
    bias = np.mean([(f.image - s).mean(axis=(0, 1)) for f, s in zip(frames, source)], axis=0)
    assert np.abs(bias).max() < max_bias, bias
    np.testing.assert_allclose([float(f.pts * f.time_base) for f in frames], np.arange(6) / 24, atol=1e-3)


def test_subsampled_chroma_is_read_back_where_it_was_written(tmp_path):
    # Fine red/blue detail (luma nearly flat) lives almost only in chroma. If the stream said "left"
    # siting while swscale wrote centred chroma, every colour edge would come back half a pixel off:
    # about twice this error (measured: 0.033 vs 0.018).
    ys, xs = np.mgrid[0:48, 0:64]
    wave = 0.4 * np.sin(xs / 3.0 + ys / 4.0)
    image = np.stack([0.5 + wave, 0.5 + 0 * wave, 0.5 - wave], axis=-1).astype(np.float32)
    out = tmp_path / "chroma.mp4"
    with VideoWriter(out, 64, 48, 24, crf=0) as w:  # lossless: only the 4:2:0 conversion remains
        w.write(Frame(image=image, index=0, number=0))
    back = read_all(out)[1][0].image
    assert np.abs(back - image)[8:-8, 8:-8].mean() < 0.025


def test_copy_of_a_clip_keeps_frames_timing_audio_and_tags(clip, tmp_path):
    out = tmp_path / "copy.mp4"
    with VideoReader(clip) as reader:
        info = reader.info
        with VideoWriter(out, info.width, info.height, info.fps, time_base=info.time_base,
                         audio_from=clip) as w:
            for f in reader:
                w.write(f)
    src, dst = probe(clip), probe(out)
    assert (dst.width, dst.height, dst.fps, dst.frame_count) == (src.width, src.height, src.fps, 12)
    assert dst.time_base == src.time_base
    assert dst.duration == pytest.approx(src.duration, abs=1e-3)
    assert [f.pts for f in read_all(out)[1]] == [f.pts for f in read_all(clip)[1]]

    src_packets, src_audio = audio_packets(clip)
    dst_packets, dst_audio = audio_packets(out)
    assert dst_packets == src_packets  # the very same packets: copied, not re-encoded
    assert dst_audio["codec"] == "aac" and dst_audio["rate"] == src_audio["rate"]
    assert dst_audio["duration"] == pytest.approx(src_audio["duration"], abs=0.1)
    assert dst_audio["language"] == "fra"
    with av.open(str(out)) as c:
        assert c.metadata.get("title") == "a test clip"


def test_audio_longer_than_the_video_is_copied_whole(tmp_path):
    src = write_clip(tmp_path / "long.mp4", moving(6), audio_seconds=1.5)  # 0.25 s of video
    out = tmp_path / "out.mkv"
    with VideoWriter(out, 64, 48, 24, audio_from=src, metadata={"title": "override"}) as w:
        for f in read_all(src)[1]:
            w.write(f)
    packets, audio = audio_packets(out)
    assert len(packets) == len(audio_packets(src)[0])
    assert audio["duration"] == pytest.approx(1.5, abs=0.1)
    with av.open(str(out)) as c:
        assert c.metadata.get("title") == "override"


def test_variable_frame_rate_timestamps_survive(tmp_path):
    pts_ms = [0, 40, 100, 130, 210, 250, 330]
    src = write_clip(tmp_path / "vfr.mp4", moving(7), variable_frame_rate=pts_ms, audio=False)
    reader, frames = read_all(src)
    times = [f.pts * f.time_base for f in frames]
    assert times == [Fraction(p, 1000) for p in pts_ms]
    # Into MP4 with the source's time base, and into Matroska (1 ms clock) rescaled from it.
    for name in ("vfr_out.mp4", "vfr_out.mkv"):
        out = tmp_path / name
        with VideoWriter(out, 64, 48, reader.info.fps, time_base=reader.info.time_base) as w:
            for f in frames:
                w.write(f)
        assert [f.pts * f.time_base for f in read_all(out)[1]] == times, name


def test_frames_without_timestamps_are_spaced_by_fps(tmp_path):
    out = tmp_path / "plain.mp4"
    with VideoWriter(out, 64, 48, Fraction(30000, 1001)) as w:
        for i, img in enumerate(moving(5)):
            w.write(Frame(image=img, index=i, number=i))
    reader, frames = read_all(out)
    assert reader.info.fps == Fraction(30000, 1001)
    assert [f.pts * f.time_base for f in frames] == [Fraction(1001 * i, 30000) for i in range(5)]


def test_constant_rate_containers_get_the_frame_grid_and_increasing_times(tmp_path):
    # AVI stores one frame per tick and no presentation times: a 1/90000 time base would turn into
    # thousands of empty frames, and H.264 B-frames come back with reordered pts unless the reader
    # falls back on the steadily climbing dts.
    source = moving(8)
    out = tmp_path / "old.avi"
    tb = Fraction(1, 90000)
    with VideoWriter(out, 64, 48, Fraction(30000, 1001), time_base=tb) as w:
        for i, img in enumerate(source):
            w.write(Frame(image=img, index=i, number=i, pts=900 + 3003 * i, time_base=tb))
    with warnings.catch_warnings():
        warnings.simplefilter("error", MediaWarning)
        reader, frames = read_all(out)
    assert reader.info.time_base == Fraction(1001, 30000) and reader.info.frame_count == 8
    assert len(frames) == 8
    times = [f.pts for f in frames]
    assert all(b > a for a, b in zip(times, times[1:]))
    order = [int(np.argmin([np.abs(f.image - s).mean() for s in source])) for f in frames]
    assert order == list(range(8))


@pytest.mark.parametrize("pix_fmt, expected", [("yuv420p", (64, 48)), ("yuv444p", (63, 47))])
def test_odd_sizes(tmp_path, pix_fmt, expected):
    source = [img[:47, :63] for img in moving(3)]
    out = tmp_path / "odd.mp4"
    with VideoWriter(out, 63, 47, 24, pix_fmt=pix_fmt, crf=0) as w:
        assert w.encoded_size == expected
        for i, img in enumerate(source):
            w.write(Frame(image=img, index=i, number=i))
    _, frames = read_all(out)
    assert (frames[0].width, frames[0].height) == expected
    image = frames[0].image
    assert np.abs(image[:47, :63] - source[0]).mean() < 0.01  # nothing cropped, nothing shifted
    if expected == (64, 48):  # the added column/row repeat the edge
        assert np.abs(image[:47, 63] - source[0][:, 62]).mean() < 0.02
        assert np.abs(image[47, :63] - source[0][46, :]).mean() < 0.02


# --- writing: failure and atomicity ---------------------------------------------------------------


def test_nothing_appears_until_close(tmp_path):
    out = tmp_path / "out.mp4"
    w = VideoWriter(out, 64, 48, 24)
    for i, img in enumerate(moving(3)):
        w.write(Frame(image=img, index=i, number=i))
    assert not out.exists()
    w.close()
    assert leftovers(tmp_path) == ["out.mp4"]


def test_abort_leaves_no_file_and_keeps_an_existing_one(tmp_path):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"previous result")
    w = VideoWriter(out, 64, 48, 24)
    for i, img in enumerate(moving(3)):
        w.write(Frame(image=img, index=i, number=i))
    w.abort()
    assert leftovers(tmp_path) == ["out.mp4"]
    assert out.read_bytes() == b"previous result"


def test_exception_inside_with_leaves_nothing(tmp_path):
    out = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError, match="optimiser blew up"):
        with VideoWriter(out, 64, 48, 24, audio_from=write_tone(tmp_path / "a.m4a", 0.3)) as w:
            w.write(Frame(image=moving(1)[0], index=0, number=0))
            raise RuntimeError("optimiser blew up")
    assert leftovers(tmp_path) == ["a.m4a"]


def test_closing_without_frames_is_an_error_and_leaves_nothing(tmp_path):
    with pytest.raises(MediaError, match="no frames"):
        with VideoWriter(tmp_path / "out.mp4", 64, 48, 24):
            pass
    assert leftovers(tmp_path) == []


def test_wrong_frame_size_and_backwards_timestamps_are_refused(tmp_path):
    out = tmp_path / "out.mp4"
    img = moving(1)[0]
    with pytest.raises(MediaError, match=r"\(48, 64, 3\)"):
        with VideoWriter(out, 32, 32, 24) as w:
            w.write(Frame(image=img, index=0, number=0))
    with pytest.raises(MediaError, match="pts 5"):
        with VideoWriter(out, 64, 48, 24, time_base=Fraction(1, 24)) as w:
            w.write(Frame(image=img, index=0, number=0, pts=5, time_base=Fraction(1, 24)))
            w.write(Frame(image=img, index=1, number=1, pts=5, time_base=Fraction(1, 24)))
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(codec="no-such-codec"), "unknown video encoder"),
        (dict(codec="aac"), "not a video encoder"),
        (dict(codec="ffv1", pix_fmt="gbrp"), "cannot take pixel format gbrp"),
        (dict(pix_fmt="no-such-format"), "unknown pixel format"),
        (dict(name="out.notaformat"), "extension"),
        (dict(name="missing/out.mp4"), "does not exist"),
        (dict(fps=0), "fps"),
        (dict(codec="mpeg4", preset="fast"), "mpeg4 has none"),
        (dict(preset="fastest"), "unknown encoder preset 'fastest'"),
    ],
)
def test_bad_writer_settings_raise_media_errors(tmp_path, kwargs, message):
    kwargs = dict(kwargs)
    path = tmp_path / kwargs.pop("name", "out.mp4")
    fps = kwargs.pop("fps", 24)
    with pytest.raises(MediaError, match=message):
        VideoWriter(path, 64, 48, fps, **kwargs)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("preset, cabac", [(None, b"cabac=1"), ("ultrafast", b"cabac=0"), ("veryfast", b"cabac=1")])
def test_the_encoder_preset_reaches_x264(tmp_path, preset, cabac):
    # x264 writes the settings it encodes with into the stream (an SEI message): ultrafast is the one
    # preset that turns CABAC off, and veryfast's single reference frame tells it from medium's three.
    out = tmp_path / "out.mp4"
    rng = np.random.default_rng(0)
    with VideoWriter(out, 64, 48, 24, preset=preset) as w:
        for i in range(3):
            w.write(Frame(image=rng.random((48, 64, 3), dtype=np.float32), index=i, number=i + 1))
    data = out.read_bytes()
    assert cabac in data
    assert (b" ref=1 " in data) == (preset in ("ultrafast", "veryfast"))
    assert (b" ref=3 " in data) == (preset is None)


def test_audio_the_container_cannot_hold_is_refused_up_front(clip, tmp_path):
    out = tmp_path / "out.webm"  # WebM holds Vorbis/Opus, not AAC
    with pytest.raises(MediaError, match="audio"):
        VideoWriter(out, 64, 48, 24, codec="libvpx-vp9", audio_from=clip)
    assert leftovers(tmp_path) == ["src.mp4"]


def test_missing_audio_source_is_a_media_error(tmp_path):
    with pytest.raises(MediaError, match="no such file"):
        VideoWriter(tmp_path / "out.mp4", 64, 48, 24, audio_from=tmp_path / "gone.mp4")
    assert leftovers(tmp_path) == []
