"""Flicker on real footage (issue 15): what the temporal method does to pixels that should not move.

Builds the cases, renders each with the temporal method under the settings asked for and with
``--no-temporal`` (the per-frame baseline), and measures, with the project's own metrics:

- the change of the output where the source stands still (``metrics.static_changes``, /255 a frame);
- the warping error (Lai et al.), and its ratio to the baseline's;
- the Gram distance to the style and the relu4_2 content distance to the source, against the
  baseline's (mean over frames).

Cases (all at the working size ``--size``, default 96 px as in the issue):

- ``city_a``, ``city_b``: 12 frames cut from the shared real clip (``../shared/data/clips/city_cc0.mpg``:
  real camera, night lights, MPEG-2 noise) at frames 0 and 100;
- ``still_object``: a still camera on the Tübingen photo with a crop of The Scream sliding across it,
  Gaussian sensor noise (sigma 2/255) on every frame, then H.264 at CRF 23 (decoded back): the case a
  clean synthetic clip hides;
- ``camera_move``: the first 12 frames of the bundled synthetic clip (the regression check).

    python bench/flicker.py [--cases city_a,still_object] [--size 96] [--set temporal_blend=0.9 ...]

``--set FIELD=VALUE`` overrides StyleConfig fields of the temporal run (repeatable, several
variants separated by ``--variant``); prints one table row per case and variant, and a JSON line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vidstyle.config import StyleConfig  # noqa: E402
from vidstyle.frames import Frame, resize  # noqa: E402

CITY = ROOT.parent / "shared" / "data" / "clips" / "city_cc0.mpg"
SAMPLES = ROOT / "samples"


def read_video(path: Path, start: int, count: int) -> list[np.ndarray]:
    from vidstyle.io.video import VideoReader

    frames = []
    for frame in VideoReader(str(path)):
        if frame.index >= start + count:
            break
        if frame.index >= start:
            frames.append(frame.image)
    return frames


def still_object(frames: int = 12, seed: int = 0) -> list[np.ndarray]:
    """A still camera, one moving object, sensor noise and H.264 compression."""
    import tempfile

    from vidstyle.io.image import read_image
    from vidstyle.synth import write_clip

    photo = resize(read_image(SAMPLES / "tubingen.jpg")[0], (192, 108))
    scream = read_image(SAMPLES / "the_scream.jpg")[0]
    patch = resize(scream[: scream.shape[0] // 2], (40, 40))
    rng = np.random.default_rng(seed)
    clean = []
    for t in range(frames):
        image = photo.copy()
        x, y = 20 + 8 * t, 40 + (t % 3)
        image[y:y + 40, x:x + 40] = patch
        clean.append(np.clip(image + rng.normal(0, 2 / 255, image.shape).astype(np.float32), 0, 1))
    with tempfile.TemporaryDirectory() as folder:
        path = write_clip(Path(folder) / "still.mp4", clean, fps=24, audio=False, crf=23)
        from vidstyle.io.video import VideoReader

        return [f.image for f in VideoReader(str(path))]


def case(name: str, long: int = 100) -> list[np.ndarray]:
    if name == "city_a":
        return read_video(CITY, 0, 12)
    if name == "city_b":
        return read_video(CITY, 100, 12)
    if name == "city_long":
        return read_video(CITY, 0, long)
    if name == "still_object":
        return still_object()
    if name == "camera_move":
        return read_video(SAMPLES / "clip.mp4", 0, 12)
    raise SystemExit(f"unknown case {name!r}")


def render(frames: list[np.ndarray], config: StyleConfig, network, style: np.ndarray, size: tuple[int, int]) -> tuple[list[np.ndarray], float]:
    from vidstyle.optimize import Stylizer
    from vidstyle.temporal import VideoStylizer

    started = time.process_time()
    engine = VideoStylizer(Stylizer(config, [style], network=network), size, temporal=config.temporal, generator_seed=0)
    outputs = []
    for index, image in enumerate(frames):
        output, _ = engine.process(Frame(image, index, index))
        outputs.append(np.round(output.image * 255) / 255)  # as an 8-bit file would hold it
    return outputs, time.process_time() - started


def measure(outputs, sources, network, style) -> dict:
    from vidstyle.metrics import content_distance, static_changes, style_distance, warping_errors

    errors, source_errors = warping_errors(outputs, sources)
    static, source_static, fractions = static_changes(outputs, sources)
    return {
        "warping_error": float(np.mean(errors)),
        "source_warping_error": float(np.mean(source_errors)),
        "static_change_255": 255 * float(np.nanmean(static)),
        "source_static_change_255": 255 * float(np.nanmean(source_static)),
        "static_fraction": float(np.mean(fractions)),
        "gram": float(np.mean([style_distance(network, o, style) for o in outputs])),
        "content": float(np.mean([content_distance(network, o, s) for o, s in zip(outputs, sources)])),
        "gram_per_frame": [style_distance(network, o, style) for o in outputs],
        "content_per_frame": [content_distance(network, o, s) for o, s in zip(outputs, sources)],
    }


def drift(frames_full: list[np.ndarray], config: StyleConfig, network, style: np.ndarray, size: tuple[int, int],
          every: int = 10) -> dict:
    """Over a long shot: the Gram and content distances of the last 10 frames against the first 10
    (drift), and the content distance in the moving region (pixels that are not still) against the
    per-frame baseline's, on every ``every``-th frame (the baseline is per-frame, so a subset is exact)."""
    import flow
    from vidstyle.metrics import content_distance, static_changes, style_distance

    sources = [resize(f, size) for f in frames_full]
    outputs, cpu = render(frames_full, config, network, style, size)
    gram = [style_distance(network, o, style) for o in outputs]
    content = [content_distance(network, o, s) for o, s in zip(outputs, sources)]
    sampled = list(range(every, len(frames_full), every))
    baseline_config = dataclasses.replace(config, temporal=False, iters=150)
    baseline, _ = render([frames_full[i] for i in sampled], baseline_config, network, style, size)
    moving_ratio = []
    for i, reference in zip(sampled, baseline):
        motion = flow.pair(sources[i - 1], sources[i]).backward
        moving = (~flow.still_mask(sources[i - 1], sources[i], flow=motion)).astype(np.float32)
        if moving.mean() < 0.01:
            continue
        moving_ratio.append(content_distance(network, outputs[i], sources[i], region=moving)
                            / content_distance(network, reference, sources[i], region=moving))
    static, source_static, _ = static_changes(outputs, sources)
    return {
        "frames": len(outputs), "cpu_s": cpu,
        "gram_last_over_first": float(np.mean(gram[-10:]) / np.mean(gram[:10])),
        "content_last_over_first": float(np.mean(content[-10:]) / np.mean(content[:10])),
        "moving_content_over_baseline": moving_ratio,
        "static_change_255": 255 * float(np.nanmean(static)),
        "source_static_change_255": 255 * float(np.nanmean(source_static)),
    }


def parse_value(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(text.lower(), text)


def main(argv=None) -> int:
    import torch

    from vidstyle.features import VGG19Features
    from vidstyle.frames import fit_longest_side
    from vidstyle.io.image import read_image

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default="city_a,city_b,still_object,camera_move")
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--style", default="starry_night")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--variant", action="append", default=[], metavar="FIELD=VALUE[,FIELD=VALUE]",
                        help="a temporal variant (StyleConfig overrides); default: the defaults alone")
    parser.add_argument("--no-baseline", action="store_true", help="skip the --no-temporal baseline")
    parser.add_argument("--long", type=int, default=100, help="frames of city_long")
    parser.add_argument("--drift", action="store_true", help="only the long-shot drift and ghosting check on city_long")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    network = VGG19Features.load()
    style = read_image(SAMPLES / f"{args.style}.jpg")[0]
    variants = [dict(kv.split("=", 1) for kv in v.split(",")) for v in args.variant] or [{}]
    base = StyleConfig.video().with_(size=args.size, seed=0, device="cpu")
    if args.drift:
        frames_full = case("city_long", args.long)
        size = fit_longest_side(frames_full[0].shape[1], frames_full[0].shape[0], args.size)
        for variant in variants:
            config = dataclasses.replace(base, **{k: parse_value(v) for k, v in variant.items()}).validate()
            result = drift(frames_full, config, network, style, size)
            label = ",".join(f"{k}={v}" for k, v in variant.items()) or "defaults"
            print(f"city_long {label}: {json.dumps(result)}", flush=True)
        return 0
    results = []
    for name in args.cases.split(","):
        sources_full = case(name, args.long)
        size = fit_longest_side(sources_full[0].shape[1], sources_full[0].shape[0], args.size)
        sources = [resize(f, size) for f in sources_full]
        baseline = None
        if not args.no_baseline:
            outputs, cpu = render(sources_full, dataclasses.replace(base, temporal=False, iters=150), network, style, size)
            baseline = measure(outputs, sources, network, style)
            baseline["cpu_s"] = cpu
            results.append({"case": name, "variant": "no-temporal", **baseline})
            print(f"{name:13s} {'no-temporal':34s} static {baseline['static_change_255']:6.2f}/255 (src {baseline['source_static_change_255']:.2f}, "
                  f"{100 * baseline['static_fraction']:.0f}% still)  E_warp {baseline['warping_error']:.5f}  gram {baseline['gram']:.4g}  "
                  f"content {baseline['content']:.4g}  cpu {cpu:.0f} s", flush=True)
        for variant in variants:
            config = dataclasses.replace(base, **{k: parse_value(v) for k, v in variant.items()}).validate()
            outputs, cpu = render(sources_full, config, network, style, size)
            m = measure(outputs, sources, network, style)
            m["cpu_s"] = cpu
            label = ",".join(f"{k}={v}" for k, v in variant.items()) or "defaults"
            ratios = ""
            if baseline:
                ratios = (f"  E_warp x{m['warping_error'] / baseline['warping_error']:.3f}  gram x{m['gram'] / baseline['gram']:.3f}"
                          f"  content x{m['content'] / baseline['content']:.3f}")
            print(f"{name:13s} {label:34s} static {m['static_change_255']:6.2f}/255 (src {m['source_static_change_255']:.2f})  "
                  f"E_warp {m['warping_error']:.5f}{ratios}  gram {m['gram']:.4g}  content {m['content']:.4g}  cpu {cpu:.0f} s", flush=True)
            results.append({"case": name, "variant": label, **m})
    print(json.dumps([{k: v for k, v in r.items() if not k.endswith("per_frame")} for r in results]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
