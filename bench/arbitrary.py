"""The arbitrary-style decoders against the optimiser (issue 17).

    python bench/arbitrary.py [--decoder FILE] [--parts quality,speed,init,video]

- ``quality``: the Tübingen photo at ``--size`` (256) toward three paintings the decoders never saw
  (Starry Night, The Scream, Woman with a Hat): the optimiser's 150-iteration output and the
  arbitrary output; Gram distance to the painting and relu4_2 content distance to the photo, and
  their ratios (vidstyle.metrics).
- ``speed``: in one run, an optimiser temporal frame at 256x144 (40 iterations, warm-started) and an
  arbitrary frame at 256x144, 640x360 and 1280x720 (median of the timed passes), wall and CPU.
- ``init``: on the same photo and paintings, the loss after 150 iterations from the content, and
  how many iterations ``--init arbitrary`` needs to reach it.
- ``video``: 24 frames of the real city clip at 128 px, arbitrary with ``--stabilise 0`` and the
  default: warping error (Lai et al.) and Gram distance of each.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.model import frames_of  # noqa: E402

CITY = ROOT.parent / "shared" / "data" / "clips" / "city_cc0.mpg"
PHOTO = ROOT / "samples" / "tubingen.jpg"
PAINTINGS = ("starry_night.jpg", "the_scream.jpg", "woman-with-hat-matisse.jpg")


def _tensor(image: np.ndarray):
    import torch

    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None]


def _image(tensor) -> np.ndarray:
    return tensor[0].permute(1, 2, 0).numpy()


def quality_and_init(args, network, parts: set[str]) -> dict:
    from vidstyle.config import StyleConfig
    from vidstyle.frames import fit_longest_side, resize
    from vidstyle.io.image import read_image, write_image
    from vidstyle.metrics import content_distance, style_distance
    from vidstyle.model.arbitrary import build_arbitrary
    from vidstyle.optimize import Stylizer

    photo = read_image(PHOTO)[0]
    photo = resize(photo, fit_longest_side(photo.shape[1], photo.shape[0], args.size))
    size = (photo.shape[1], photo.shape[0])
    content = _tensor(photo)
    rows, strips = {}, []
    for name in PAINTINGS:
        style = read_image(ROOT / "samples" / name)[0]
        config = StyleConfig(seed=0, tolerance=0.0, decoder=args.decoder)
        stylizer = Stylizer(config, [style], network=network)
        losses_content: list[tuple[int, float]] = []  # (iteration, loss) every 10 iterations (L-BFGS)
        optimised = stylizer.stylize(content, iters=150, callback=lambda p: losses_content.append((p.iteration, p.loss)))
        started = time.perf_counter()
        arbitrary = build_arbitrary(config, [style], size, network=network)
        out = arbitrary.stylize(content)
        seconds = time.perf_counter() - started
        row = {
            "optimiser_gram": style_distance(network, _image(optimised), style),
            "optimiser_content": content_distance(network, _image(optimised), photo),
            "arbitrary_gram": style_distance(network, _image(out), style),
            "arbitrary_content": content_distance(network, _image(out), photo),
            "arbitrary_seconds_with_setup": seconds,
        }
        row["gram_ratio"] = row["arbitrary_gram"] / row["optimiser_gram"]
        row["content_ratio"] = row["arbitrary_content"] / row["optimiser_content"]
        print(f"{name:28s} gram: optimiser {row['optimiser_gram']:.4g}, arbitrary {row['arbitrary_gram']:.4g} "
              f"({row['gram_ratio']:.2f}x); content: {row['optimiser_content']:.4g} vs {row['arbitrary_content']:.4g} "
              f"({row['content_ratio']:.2f}x)", flush=True)
        for strength in args.strengths:  # the strength sweep: how style and content trade
            for levels in args.level_sets:
                variant = build_arbitrary(config.with_(arbitrary_strength=strength), [style], size, network=network)
                variant.levels = [level for level in variant.levels if level in levels]
                image = _image(variant.stylize(content))
                gram = style_distance(network, image, style) / row["optimiser_gram"]
                kept = content_distance(network, image, photo) / row["optimiser_content"]
                row[f"strength_{strength:g}_{'+'.join(levels)}"] = {"gram_ratio": gram, "content_ratio": kept}
                print(f"{'':28s} strength {strength:g}, levels {'+'.join(levels)}: Gram {gram:.2f}x, content {kept:.2f}x", flush=True)
        if "init" in parts:
            target = losses_content[-1][1]
            for strength in args.init_strengths:
                start = out if strength == config.arbitrary_strength else \
                    build_arbitrary(config.with_(arbitrary_strength=strength), [style], size, network=network).stylize(content)
                from_arbitrary: list[tuple[int, float]] = []
                stylizer.stylize(content, init=start, iters=150, callback=lambda p: from_arbitrary.append((p.iteration, p.loss)))
                reached = next((iteration for iteration, loss in from_arbitrary if loss <= target), None)
                row[f"init_iterations_to_150_loss_strength_{strength:g}"] = reached
                print(f"{'':28s} --init arbitrary (strength {strength:g}) reaches the 150-iteration loss {target:.4g} "
                      f"{'after ' + str(reached) + ' iterations' if reached else 'not within 150'}; "
                      f"after 10: {from_arbitrary[0][1]:.4g} (from the content: {losses_content[0][1]:.4g})", flush=True)
        rows[name] = row
        strips.append(np.concatenate([photo, _image(optimised), _image(out)], axis=1))
    if args.frames_out:
        Path(args.frames_out).mkdir(parents=True, exist_ok=True)
        write_image(Path(args.frames_out) / "arbitrary_vs_optimiser.png", np.concatenate(strips, axis=0))
    return rows


def speed(args, network) -> dict:
    import torch

    from vidstyle.config import StyleConfig
    from vidstyle.io.image import read_image
    from vidstyle.model.arbitrary import build_arbitrary

    from bench.model import optimiser_outputs

    style = read_image(ROOT / "samples" / PAINTINGS[0])[0]
    frames = frames_of(CITY, 3, 256)
    seconds: list[float] = []
    optimiser_outputs(frames, style, network, seconds)
    optimiser_frame = statistics.mean(seconds[1:])
    rows = {"optimiser_frame_ms_256x144": optimiser_frame * 1000}
    print(f"optimiser temporal frame at 256x144 (40 iterations): {optimiser_frame * 1000:.0f} ms", flush=True)
    from vidstyle.device import cpu_has_bfloat16

    for width, height, dtype in ((256, 144, "float32"), (640, 360, "float32"), (1280, 720, "float32"),
                                 *(((256, 144, "bfloat16"), (640, 360, "bfloat16"), (1280, 720, "bfloat16")) if cpu_has_bfloat16() else ())):
        arbitrary = build_arbitrary(StyleConfig(decoder=args.decoder, dtype=dtype), [style], (width, height), network=network)
        image = torch.rand(1, 3, height, width)
        arbitrary.stylize(image)
        walls, cpus = [], []
        for _ in range(args.repeats if width < 1000 else 3):
            wall, cpu = time.perf_counter(), time.process_time()
            arbitrary.stylize(image)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
        ms = statistics.median(walls) * 1000
        key = f"{width}x{height}_{dtype}"
        rows[f"arbitrary_ms_{key}"] = ms
        rows[f"arbitrary_cpu_ms_{key}"] = statistics.median(cpus) * 1000
        extra = f" = 1/{optimiser_frame * 1000 / ms:.0f} of an optimiser frame" if width == 256 else ""
        print(f"arbitrary frame at {width}x{height} ({dtype}): {ms:.0f} ms, CPU {rows[f'arbitrary_cpu_ms_{key}']:.0f} ms{extra}", flush=True)
    return rows


def video(args, network) -> dict:
    from vidstyle.config import StyleConfig
    from vidstyle.frames import Frame
    from vidstyle.io.image import read_image
    from vidstyle.metrics import style_distance, warping_errors
    from vidstyle.model.arbitrary import ArbitraryEngine, build_arbitrary

    style = read_image(ROOT / "samples" / PAINTINGS[0])[0]
    frames = frames_of(CITY, 24, 128)
    size = (frames[0].shape[1], frames[0].shape[0])
    rows = {}
    for stabilise in (0.0, StyleConfig().stabilise):
        config = StyleConfig.video().with_(decoder=args.decoder, stabilise=stabilise)
        engine = ArbitraryEngine(build_arbitrary(config, [style], size, network=network), size, config, stabilise=stabilise)
        outputs = [engine.process(Frame(image, i, i))[0].image for i, image in enumerate(frames)]
        errors, source = warping_errors(outputs, frames)
        rows[f"stabilise_{stabilise:g}"] = {"warping_error": float(np.mean(errors)), "source": float(np.mean(source)),
                                            "gram": float(np.mean([style_distance(network, o, style) for o in outputs]))}
        print(f"city, 24 frames at 128 px, stabilise {stabilise:g}: warping error {np.mean(errors):.5f} "
              f"(source {np.mean(source):.5f}), Gram {rows[f'stabilise_{stabilise:g}']['gram']:.4g}", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--decoder", help="decoder file (default: the shipped one)")
    parser.add_argument("--parts", default="quality,init,speed,video")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--frames-out")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--strengths", type=float, nargs="*", default=[],
                        help="also measure the arbitrary output at these --arbitrary-strength values (quality part)")
    parser.add_argument("--level-sets", nargs="*", default=["relu4_1,relu3_1,relu2_1,relu1_1"], type=lambda text: text.split(","),
                        help="with --strengths: cascades to try, each a comma list of levels")
    parser.add_argument("--init-strengths", type=float, nargs="+", default=[1.0],
                        help="--arbitrary-strength values to start the optimiser from (init part)")
    args = parser.parse_args()

    from vidstyle.device import configure_cpu_threads
    from vidstyle.features import VGG19Features

    configure_cpu_threads(args.threads)
    network = VGG19Features.load()
    parts = set(args.parts.split(","))
    results: dict = {"decoder": args.decoder}
    started, cpu = time.perf_counter(), time.process_time()
    if parts & {"quality", "init"}:
        results["quality"] = quality_and_init(args, network, parts)
    if "speed" in parts:
        results["speed"] = speed(args, network)
    if "video" in parts:
        results["video"] = video(args, network)
    print(f"wall {time.perf_counter() - started:.0f} s, CPU {time.process_time() - cpu:.0f} s", flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
