"""`vidstyle deflicker` against issue 19's three measured targets, each variant in one run.

- ``city``: a ``--no-temporal`` render of the shared real clip (``city_cc0.mpg``, the first
  ``--frames`` frames at ``--size`` px, Starry Night, the per-frame optimiser at its video defaults),
  deflickered with flow from the clip itself. Reported against the render: warping error (Lai et al.,
  flow of the original, ``vidstyle.metrics``), Gram distance to the style (mean over frames) and the
  mean absolute change from the processed frames (/255). Targets: at most 0.3×, 1.1× and 8/255.
  The render is cached (``--cache``), since it is the slow part and does not depend on the variant.
- ``synthetic``: a camera move over the Tübingen photo (a crop window panning, zooming and turning,
  uncompressed), with per-frame brightness and colour jitter: gain U(0.85, 1.15) and offset
  U(-0.05, 0.05) per channel. The original is the clean move, the processed is the jittered one, and
  the answer is known: the mean absolute error to the clean frames, against the input's.
  Target: at least 3× closer.
- ``arbitrary``: ``stylize --engine arbitrary --deflicker`` (issue 19 item 3): the shipped decoders'
  per-frame output on the same clip frames, alone, with their own stabiliser (``--stabilise``, the
  default of ``--engine arbitrary`` on a video), and through the deflicker stage in the same pass
  (:class:`~vidstyle.deflicker.DeflickeredEngine`, ``--deflicker``'s defaults unless a variant says
  otherwise). Same three measures, against the per-frame output.
- ``speed``: frames per second of the whole command (``deflicker_video``: decode both inputs, flow,
  the closed form, encode) at 640×360, from the clip scaled to that size with the synthetic jitter as
  the "processed" video. Wall and process CPU time. Target: at least 20 frames a second. Also, since
  the answer is known there too (real footage, jitter added), the output's mean absolute error to
  the clean frames against the input's, as in ``synthetic`` (not timed).

    python bench/deflicker.py [--cases city,arbitrary,synthetic,speed] [--variant strength=16,detail_strength=0.5 ...]

A variant sets ``strength``, ``detail_sigma``, ``detail_strength``, ``colour_strength``,
``resynth_iters``, ``resynth_weight`` (DeflickerSettings fields) and any StyleConfig field
(``flow_preset=fast``); with none, the defaults alone. ``--style`` picks the city render's painting
(a file stem in samples/: ``the_scream`` is a style the settings were not chosen on). Prints a table row per case
and variant, then one JSON line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from flicker import CITY, SAMPLES, parse_value, read_video, render  # noqa: E402

from vidstyle.config import DeflickerSettings, StyleConfig  # noqa: E402
from vidstyle.frames import Frame, fit_longest_side, resize  # noqa: E402
from vidstyle.request import DeflickerRequest  # noqa: E402

ENGINE_FIELDS = ("strength", "detail_sigma", "detail_strength", "colour_strength", "resynth_iters", "resynth_weight")


def jitter(frames: list[np.ndarray], seed: int = 0) -> list[np.ndarray]:
    """Per-frame gain U(0.85, 1.15) and offset U(-0.05, 0.05), each per channel: a flickering grade."""
    rng = np.random.default_rng(seed)
    out = []
    for image in frames:
        gain = rng.uniform(0.85, 1.15, 3).astype(np.float32)
        offset = rng.uniform(-0.05, 0.05, 3).astype(np.float32)
        out.append(np.clip(image * gain + offset, 0.0, 1.0))
    return out


def camera_move(frames: int = 24, size: tuple[int, int] = (160, 90)) -> list[np.ndarray]:
    """A crop window panning across the photo while zooming in 10 % and turning 3 degrees."""
    import cv2

    from vidstyle.io.image import read_image

    photo = read_image(SAMPLES / "tubingen.jpg")[0]
    height, width = photo.shape[:2]
    out = []
    for t in range(frames):
        s = t / max(frames - 1, 1)
        crop_w = width * (0.6 - 0.06 * s)
        centre = (width * (0.35 + 0.3 * s), height * (0.5 + 0.05 * np.sin(3 * s)))
        matrix = cv2.getRotationMatrix2D(centre, 3.0 * s, size[0] / crop_w)
        matrix[:, 2] += np.array(size, np.float64) / 2 - np.array(centre)
        out.append(cv2.warpAffine(photo, matrix, size, flags=cv2.INTER_AREA if t == 0 else cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_REFLECT))
    return out


def deflicker(processed: list[np.ndarray], original: list[np.ndarray], config: StyleConfig, engine_args: dict) -> list[np.ndarray]:
    """The engine of `vidstyle deflicker`, in-process (the command runs the same engine in the frame loop)."""
    from vidstyle.deflicker import DeflickerEngine

    size = (processed[0].shape[1], processed[0].shape[0])
    engine = DeflickerEngine((Frame(image, i, i) for i, image in enumerate(original)), size, config, DeflickerSettings(**engine_args))
    return [engine.process(Frame(image, i, i))[0].image for i, image in enumerate(processed)]


def split(variant: dict, base: DeflickerSettings | None = None) -> tuple[dict, dict]:
    defaults = (base or DeflickerSettings()).record()
    engine_args = {**defaults, **{k: float(v) for k, v in variant.items() if k in ENGINE_FIELDS}}
    config_args = {k: parse_value(v) for k, v in variant.items() if k not in ENGINE_FIELDS}
    return engine_args, config_args


def city_render(args, network, style) -> tuple[list[np.ndarray], list[np.ndarray]]:
    frames = read_video(CITY, 0, args.frames)
    size = fit_longest_side(frames[0].shape[1], frames[0].shape[0], args.size)
    cache = Path(args.cache) / f"deflicker_city_{args.size}_{args.frames}_{args.style}.npy"
    if cache.exists():
        rendered = list(np.load(cache))
    else:
        config = StyleConfig.video().with_(size=args.size, seed=0, device="cpu", temporal=False)
        rendered, cpu = render(frames, config, network, style, size)
        print(f"# rendered {len(rendered)} frames --no-temporal in {cpu:.0f} s CPU", file=sys.stderr)
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, np.stack(rendered).astype(np.float32))
    return rendered, [resize(f, size) for f in frames]


def city(args, variants, network, style) -> list[dict]:
    from vidstyle.metrics import style_distance, warping_errors

    processed, sources = city_render(args, network, style)
    base = StyleConfig.deflicker().with_(device="cpu")
    input_warp = float(np.mean(warping_errors(processed, sources)[0]))
    input_gram = float(np.mean([style_distance(network, p, style) for p in processed]))
    rows = []
    for variant in variants:
        engine_args, config_args = split(variant)
        outputs = deflicker(processed, sources, dataclasses.replace(base, **config_args).validate(), engine_args)
        outputs = [np.round(o * 255) / 255 for o in outputs]  # as an 8-bit file would hold it
        warp = float(np.mean(warping_errors(outputs, sources)[0]))
        gram = float(np.mean([style_distance(network, o, style) for o in outputs]))
        change = 255 * float(np.mean([np.abs(o - p).mean() for o, p in zip(outputs, processed)]))
        rows.append({"case": "city", "variant": variant, "warping_ratio": warp / input_warp, "gram_ratio": gram / input_gram,
                     "change_255": change, "input_warping_error": input_warp, "input_gram": input_gram})
        print(f"city  {label(variant):48s} warping {warp / input_warp:6.3f}x  Gram {gram / input_gram:5.3f}x  "
              f"change {change:5.2f}/255", flush=True)
    return rows


def arbitrary(args, variants, network, style) -> list[dict]:
    from vidstyle.deflicker import DeflickeredEngine
    from vidstyle.metrics import style_distance, warping_errors
    from vidstyle.model.arbitrary import ArbitraryEngine, build_arbitrary

    frames = read_video(CITY, 0, args.frames)
    size = fit_longest_side(frames[0].shape[1], frames[0].shape[0], args.size)
    sources = [resize(f, size) for f in frames]
    config = StyleConfig.video().with_(size=args.size, device="cpu", engine="arbitrary")
    stylizer = build_arbitrary(config, [style], size, "cpu", network=network)

    def run(engine) -> tuple[list[np.ndarray], float]:
        started = time.process_time()
        outputs = [np.round(engine.process(p)[0].image * 255) / 255 for p in engine.prepare(Frame(f, i, i) for i, f in enumerate(frames))]
        return outputs, time.process_time() - started

    per_frame, cpu = run(ArbitraryEngine(stylizer, size, config, stabilise=0.0))
    input_warp = float(np.mean(warping_errors(per_frame, sources)[0]))
    input_gram = float(np.mean([style_distance(network, p, style) for p in per_frame]))
    print(f"arbitrary per-frame: {1000 * cpu / len(frames):.0f} ms CPU a frame at {size[0]}x{size[1]}", flush=True)
    rows = []
    cases = [("stabilise=0.5 (its own)", ArbitraryEngine(stylizer, size, config, stabilise=0.5), {})]
    for variant in variants:
        engine_args, config_args = split(variant, DeflickerSettings.strokes())
        cases.append((f"--deflicker {label(variant)}", DeflickeredEngine(ArbitraryEngine(stylizer, size, config, stabilise=0.0),
                      dataclasses.replace(config, **config_args).validate(), DeflickerSettings(**engine_args)), variant))
    for name, engine, variant in cases:
        outputs, cpu = run(engine)
        warp = float(np.mean(warping_errors(outputs, sources)[0]))
        gram = float(np.mean([style_distance(network, o, style) for o in outputs]))
        change = 255 * float(np.mean([np.abs(o - p).mean() for o, p in zip(outputs, per_frame)]))
        rows.append({"case": "arbitrary", "variant": name, "warping_ratio": warp / input_warp, "gram_ratio": gram / input_gram,
                     "change_255": change, "cpu_ms_per_frame": 1000 * cpu / len(frames)})
        print(f"arbitrary {name:44s} warping {warp / input_warp:6.3f}x  Gram {gram / input_gram:5.3f}x  change {change:5.2f}/255  "
              f"{1000 * cpu / len(frames):.0f} ms CPU a frame", flush=True)
    return rows


def synthetic(args, variants) -> list[dict]:
    clean = camera_move(args.synthetic_frames)
    processed = jitter(clean)
    base = StyleConfig.deflicker().with_(device="cpu")
    input_mae = 255 * float(np.mean([np.abs(p - c).mean() for p, c in zip(processed, clean)]))
    rows = []
    for variant in variants:
        engine_args, config_args = split(variant)
        outputs = deflicker(processed, clean, dataclasses.replace(base, **config_args).validate(), engine_args)
        mae = 255 * float(np.mean([np.abs(np.round(o * 255) / 255 - c).mean() for o, c in zip(outputs, clean)]))
        rows.append({"case": "synthetic", "variant": variant, "mae_255": mae, "input_mae_255": input_mae, "closer": input_mae / mae})
        print(f"synth {label(variant):48s} MAE {mae:5.2f}/255 (input {input_mae:5.2f}): {input_mae / mae:4.2f}x closer", flush=True)
    return rows


def speed(args, variants) -> list[dict]:
    from vidstyle.io.video import VideoReader
    from vidstyle.pipeline import deflicker_video
    from vidstyle.synth import write_clip

    frames = [resize(f, (640, 360)) for f in read_video(CITY, 0, args.speed_frames)]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        original = write_clip(Path(folder) / "original.mp4", frames, fps=25, audio=False, crf=18)
        processed = write_clip(Path(folder) / "processed.mp4", jitter(frames), fps=25, audio=False, crf=18)
        clean = [f.image for f in VideoReader(original)]
        input_mae = 255 * float(np.mean([np.abs(f.image - c).mean() for f, c in zip(VideoReader(processed), clean)]))
        for variant in variants:
            engine_args, config_args = split(variant)
            config = dataclasses.replace(StyleConfig.deflicker().with_(device="cpu", threads=args.threads), **config_args)
            request = DeflickerRequest(str(processed), str(original), str(Path(folder) / "out.mp4"), config=config,
                                       overwrite=True, settings=DeflickerSettings(**engine_args))
            wall, cpu = time.perf_counter(), time.process_time()
            result = deflicker_video(request)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            count = len(result.reports)
            # The clip is real footage with a known answer (the jitter was added): how close the
            # output came to the clean frames, against the processed input's distance, in /255.
            outputs = [f.image for f in VideoReader(Path(folder) / "out.mp4")]
            mae = 255 * float(np.mean([np.abs(o - c).mean() for o, c in zip(outputs, clean)]))
            rows.append({"case": "speed", "variant": variant, "frames": count, "fps": count / wall, "cpu_ms_per_frame": 1000 * cpu / count,
                         "mae_to_clean_255": mae, "input_mae_to_clean_255": input_mae})
            print(f"speed {label(variant):48s} {count} frames 640x360: {count / wall:5.1f} frames/s, {1000 * cpu / count:5.1f} ms CPU a frame; "
                  f"MAE to the clean frames {mae:.2f}/255 (input {input_mae:.2f})", flush=True)
    return rows


def label(variant: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in variant.items()) or "defaults"


def main(argv=None) -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default="city,arbitrary,synthetic,speed")
    parser.add_argument("--variant", action="append", default=[], metavar="FIELD=VALUE[,FIELD=VALUE]")
    parser.add_argument("--size", type=int, default=96, help="working size of the city render")
    parser.add_argument("--frames", type=int, default=24, help="frames of the city render")
    parser.add_argument("--synthetic-frames", type=int, default=24)
    parser.add_argument("--speed-frames", type=int, default=100)
    parser.add_argument("--style", default="starry_night")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "vidstyle_bench"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    variants = [dict(kv.split("=", 1) for kv in v.split(",")) for v in args.variant] or [{}]
    cases = args.cases.split(",")
    rows: list[dict] = []
    if "city" in cases:
        from vidstyle.features import VGG19Features
        from vidstyle.io.image import read_image

        network = VGG19Features.load()
        rows += city(args, variants, network, read_image(SAMPLES / f"{args.style}.jpg")[0])
    if "arbitrary" in cases:
        from vidstyle.features import VGG19Features
        from vidstyle.io.image import read_image

        rows += arbitrary(args, variants, VGG19Features.load(), read_image(SAMPLES / f"{args.style}.jpg")[0])
    if "synthetic" in cases:
        rows += synthetic(args, variants)
    if "speed" in cases:
        rows += speed(args, variants)
    print(json.dumps({"date": time.strftime("%Y-%m-%d"), "rows": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
