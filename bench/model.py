"""The transfer network against the optimiser (issue 16): quality, flicker, speed and the hybrid.

    python bench/model.py --model city.safetensors [--model-t0 city_t0.safetensors] [--parts quality,speed,hybrid]

Parts (each prints its numbers and the run ends with one JSON line):

- ``quality``: on ``--frames`` consecutive frames of the training clip (the shared real city clip,
  from frame 0) and of a clip the model never saw (the bundled ``samples/clip.mp4``), at ``--size``
  (128): the temporal optimiser's output (the video defaults: 150 iterations for the first frame,
  40 after, warm-started and held by the temporal term) and the model's. For each: the mean Gram
  distance to the style and relu4_2 content distance to the frame (``vidstyle.metrics``), their
  ratios model / optimiser, and the warping error (Lai et al.) of each, with ``--model-t0`` (a model
  trained with ``--temporal-weight 0``) as the third.
- ``speed``: in one run, an optimiser temporal frame at 256x144 (40 iterations, warm-started, mean of
  two frames after the first) and a model frame at 256x144, 640x360 and 1280x720 (median of the
  timed passes), wall and CPU time.
- ``hybrid``: at 128 px on ``--hybrid-frames`` (5) frames of the unseen clip, each a fresh start:
  the loss after 150 iterations from the content, and how many iterations the optimiser started
  from the model's output needs to reach it (L-BFGS reports every 10 iterations: to within 10).

Run it on an idle machine: it is a benchmark.
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

CITY = ROOT.parent / "shared" / "data" / "clips" / "city_cc0.mpg"
UNSEEN = ROOT / "samples" / "clip.mp4"
STYLE = ROOT / "samples" / "starry_night.jpg"
SHOT2 = 116  # the city clip's cut: its second shot starts at this frame (largest frame difference)


def frames_of(path: Path, count: int, size: int, start: int = 0) -> list[np.ndarray]:
    from vidstyle.frames import resize, working_size
    from vidstyle.io.video import VideoReader

    out = []
    for frame in VideoReader(str(path)):
        if len(out) == count:
            break
        if frame.index < start:
            continue
        out.append(resize(frame.image, working_size(frame.image.shape[1], frame.image.shape[0], size, True)))
    return out


def optimiser_outputs(frames: list[np.ndarray], style: np.ndarray, network, seconds: list[float] | None = None) -> list[np.ndarray]:
    from vidstyle.config import StyleConfig
    from vidstyle.frames import Frame
    from vidstyle.optimize import Stylizer
    from vidstyle.temporal import VideoStylizer

    size = (frames[0].shape[1], frames[0].shape[0])
    video = VideoStylizer(Stylizer(StyleConfig.video().with_(seed=0), [style], network=network), size, generator_seed=0)
    outputs = []
    for i, image in enumerate(frames):
        started = time.perf_counter()
        out, _ = video.process(Frame(image, i, i))
        if seconds is not None:
            seconds.append(time.perf_counter() - started)
        outputs.append(out.image)
    return outputs


def model_outputs(path: str, frames: list[np.ndarray]) -> list[np.ndarray]:
    from vidstyle.frames import Frame
    from vidstyle.model.engine import ModelEngine
    from vidstyle.model.file import load_model

    net, _ = load_model(path)
    engine = ModelEngine(net, (frames[0].shape[1], frames[0].shape[0]))
    return [engine.process(Frame(image, i, i))[0].image for i, image in enumerate(frames)]


def measure(outputs: list[np.ndarray], frames: list[np.ndarray], style: np.ndarray, network) -> dict:
    from vidstyle.metrics import content_distance, style_distance, warping_errors

    errors, source_errors = warping_errors(outputs, frames)
    return {
        "gram": float(np.mean([style_distance(network, o, style) for o in outputs])),
        "content": float(np.mean([content_distance(network, o, f) for o, f in zip(outputs, frames)])),
        "warping_error": float(np.mean(errors)),
        "source_warping_error": float(np.mean(source_errors)),
    }


def quality(args, style, network) -> dict:
    from vidstyle.io.image import write_image

    results = {}
    clips = [("training clip (city)", CITY, 0), ("unseen clip (samples/clip.mp4)", UNSEEN, 0)]
    if args.shot2:
        # A model trained on the first shot only (frames 0-115, before the cut) meets the second
        # shot as footage it never saw: real, the same night city, another camera position.
        clips = [("training shot (city 0-115)", CITY, 0), ("unseen shot (city 116-)", CITY, SHOT2), clips[1]]
    for name, path, start in clips:
        frames = frames_of(path, args.frames, args.size, start)
        started = time.perf_counter()
        optimised = optimiser_outputs(frames, style, network)
        optimiser_seconds = time.perf_counter() - started
        rows = {"optimiser": measure(optimised, frames, style, network)}
        rows["optimiser"]["seconds"] = optimiser_seconds
        modelled = model_outputs(args.model, frames)
        rows["model"] = measure(modelled, frames, style, network)
        if args.model_t0:
            rows["model_t0"] = measure(model_outputs(args.model_t0, frames), frames, style, network)
        if args.frames_out:
            stem = ("city" if start == 0 else "shot2") if path == CITY else "unseen"
            Path(args.frames_out).mkdir(parents=True, exist_ok=True)
            strip = np.concatenate([np.concatenate([frames[i], optimised[i], modelled[i]], axis=1) for i in (0, len(frames) - 1)], axis=0)
            write_image(Path(args.frames_out) / f"model_vs_optimiser_{stem}.png", strip)
        base = rows["optimiser"]
        for key, row in rows.items():
            print(f"{name:32s} {key:10s} gram {row['gram']:.4g} ({row['gram'] / base['gram']:.2f}x)  content {row['content']:.4g} "
                  f"({row['content'] / base['content']:.2f}x)  warping error {row['warping_error']:.5f} "
                  f"({row['warping_error'] / base['warping_error']:.2f}x; source {row['source_warping_error']:.5f})", flush=True)
        results[name] = rows
    return results


def speed(args, style, network) -> dict:
    import torch

    from vidstyle.model.engine import ModelEngine
    from vidstyle.model.file import load_model

    frames = frames_of(CITY, 3, 256)
    seconds: list[float] = []
    optimiser_outputs(frames, style, network, seconds)
    optimiser_frame = statistics.mean(seconds[1:])
    print(f"optimiser temporal frame at {frames[0].shape[1]}x{frames[0].shape[0]} (40 iterations): {optimiser_frame * 1000:.0f} ms", flush=True)
    net, _ = load_model(args.model)
    rows = {"optimiser_frame_ms_256x144": optimiser_frame * 1000}
    for width, height in ((256, 144), (640, 360), (1280, 720)):
        engine = ModelEngine(net, (width, height))
        image = torch.rand(1, 3, height, width)
        for _ in range(2):
            engine.stylize_images(image)
        walls, cpus = [], []
        for _ in range(args.repeats if width < 1000 else max(3, args.repeats // 3)):
            wall, cpu = time.perf_counter(), time.process_time()
            engine.stylize_images(image)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
        ms, cpu_ms = statistics.median(walls) * 1000, statistics.median(cpus) * 1000
        rows[f"model_ms_{width}x{height}"] = ms
        rows[f"model_cpu_ms_{width}x{height}"] = cpu_ms
        extra = f"  = 1/{optimiser_frame * 1000 / ms:.0f} of an optimiser frame" if width == 256 else ""
        print(f"model frame at {width}x{height}: {ms:.1f} ms ({1000 / ms:.1f} fps), CPU {cpu_ms:.0f} ms{extra}", flush=True)
    # The width choice (config.TrainConfig.width): the same layout at Johnson et al.'s width 32 and
    # at 16, untrained (speed does not depend on the weights), in the same run.
    from vidstyle.model.network import Architecture, TransferNet

    for width in (16, 32):
        engine = ModelEngine(TransferNet(Architecture(width=width)).eval(), (256, 144))
        image = torch.rand(1, 3, 144, 256)
        engine.stylize_images(image)
        walls = []
        for _ in range(args.repeats):
            wall = time.perf_counter()
            engine.stylize_images(image)
            walls.append(time.perf_counter() - wall)
        rows[f"width{width}_ms_256x144"] = statistics.median(walls) * 1000
        print(f"network width {width} at 256x144: {rows[f'width{width}_ms_256x144']:.1f} ms", flush=True)
    return rows


def hybrid(args, style, network) -> dict:
    from vidstyle.config import StyleConfig
    from vidstyle.model.engine import ModelEngine
    from vidstyle.model.file import load_model
    from vidstyle.optimize import Stylizer, image_to_tensor

    clip, start = {"city": (CITY, 0), "shot2": (CITY, SHOT2), "unseen": (UNSEEN, 0)}[args.hybrid_clip]
    frames = frames_of(clip, 60, args.size, start)[:: 60 // args.hybrid_frames][: args.hybrid_frames]
    config = StyleConfig.video().with_(seed=0, tolerance=0.0)
    stylizer = Stylizer(config, [style], network=network)
    net, _ = load_model(args.model)
    engine = ModelEngine(net, (frames[0].shape[1], frames[0].shape[0]))
    rows = []
    for i, image in enumerate(frames):
        content = image_to_tensor(image)
        # L-BFGS reports every 10 iterations (optimize.TOLERANCE_WINDOW): the count is to within 10.
        from_content: list[tuple[int, float]] = []
        stylizer.stylize(content, iters=150, callback=lambda p: from_content.append((p.iteration, p.loss)))
        target = from_content[-1][1]
        from_model: list[tuple[int, float]] = []
        stylizer.stylize(content, init=engine.stylize_images(content), iters=150,
                         callback=lambda p: from_model.append((p.iteration, p.loss)))
        reached = next((iteration for iteration, loss in from_model if loss <= target), None)
        at_40 = next(loss for iteration, loss in from_model if iteration >= 40)
        rows.append({"loss_150_from_content": target, "iterations_from_model": reached, "loss_40_from_model": at_40,
                     "curve_from_model": from_model, "curve_from_content": from_content})
        print(f"frame {i}: 150 iterations from the content reach {target:.4g}; from the model's output "
              f"{'after ' + str(reached) + ' iterations' if reached else 'not within 150'} (at 40: {at_40:.4g})", flush=True)
    return {"frames": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--model-t0", help="a model trained with --temporal-weight 0, for the flicker comparison")
    parser.add_argument("--parts", default="quality,speed,hybrid")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--hybrid-frames", type=int, default=5)
    parser.add_argument("--hybrid-clip", choices=("unseen", "city", "shot2"), default="unseen",
                        help="the hybrid on samples/clip.mp4, on the city clip from its start, or on its second shot")
    parser.add_argument("--shot2", action="store_true",
                        help="the model was trained on the city clip's first shot only: measure its second shot as unseen")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--frames-out", help="folder for side-by-side PNGs (frame | optimiser | model)")
    parser.add_argument("--threads", type=int)
    args = parser.parse_args()

    from vidstyle.device import configure_cpu_threads
    from vidstyle.features import VGG19Features
    from vidstyle.io.image import read_image

    configure_cpu_threads(args.threads)
    network = VGG19Features.load()
    style = read_image(STYLE)[0]
    results: dict = {"model": args.model, "model_t0": args.model_t0}
    started, cpu = time.perf_counter(), time.process_time()
    for part in args.parts.split(","):
        results[part] = {"quality": quality, "speed": speed, "hybrid": hybrid}[part](args, style, network)
    print(f"wall {time.perf_counter() - started:.0f} s, CPU {time.process_time() - cpu:.0f} s", flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
