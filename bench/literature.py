"""Measurements behind docs/literature.md: texture synthesis, style keyframes, mattes.

    python bench/literature.py texture [--size 128] [--iters 100] [--styles starry_night,...]
    python bench/literature.py keys    [--size 64] [--frames 24] [--iters 20] [--seed 0] [--blend-check]
    python bench/literature.py mask    [--size 64] [--frames 24] [--iters 20]
    python bench/literature.py animate [--size 64] [--frames 24] [--iters 20]

Each prints one line per measurement and a JSON object at the end (``--json FILE`` writes it too).
CPU runs at these sizes take minutes; timings on a shared machine are noise, the numbers are not.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vidstyle import synth  # noqa: E402
from vidstyle.config import StyleConfig  # noqa: E402
from vidstyle.features import VGG19Features  # noqa: E402
from vidstyle.frames import Frame, fit_longest_side, resize  # noqa: E402
from vidstyle.io.image import read_image  # noqa: E402
from vidstyle.metrics import content_distance, style_distance, warping_errors  # noqa: E402
from vidstyle.optimize import Stylizer, image_to_tensor, tensor_to_image  # noqa: E402
from vidstyle.style_keys import StyleKeys  # noqa: E402
from vidstyle.temporal import VideoStylizer  # noqa: E402

SAMPLES = ROOT / "samples"
STYLES = sorted(p.stem for p in SAMPLES.glob("*.jpg") if p.stem != "tubingen")


def load(name: str) -> np.ndarray:
    return read_image(SAMPLES / f"{name}.jpg")[0]


def generator(seed: int) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def texture(args, net) -> dict:
    """Per style: Gram distance of a texture (seeds 0 and 1) and of the stylised photo, same settings."""
    photo = load("tubingen")
    size = fit_longest_side(photo.shape[1], photo.shape[0], args.size)
    content = image_to_tensor(resize(photo, size))
    results = {}
    for name in args.styles.split(",") if args.styles else STYLES:
        style = load(name)
        config = StyleConfig(size=args.size, iters=args.iters, seed=0)
        started = time.perf_counter()
        stylised = tensor_to_image(Stylizer(config, [style], network=net).stylize(content, generator=generator(0)))
        photo_seconds = time.perf_counter() - started
        textures = []
        for seed in (0, 1):
            texture_config = replace(config, content_weight=0.0, init="noise", seed=seed)
            blank = torch.zeros(1, 3, args.size, args.size)
            textures.append(tensor_to_image(Stylizer(texture_config, [style], network=net).stylize(blank, generator=generator(seed))))
        row = {
            "photo_style_distance": style_distance(net, stylised, style),
            "texture_style_distance": [style_distance(net, t, style) for t in textures],
            "seed_mean_abs_difference": float(np.abs(textures[0] - textures[1]).mean()),
            "photo_seconds": photo_seconds,
        }
        row["ratio"] = max(row["texture_style_distance"]) / row["photo_style_distance"]
        results[name] = row
        print(f"{name}: texture {row['texture_style_distance'][0]:.4g} / {row['texture_style_distance'][1]:.4g} (seeds 0/1), "
              f"stylised photo {row['photo_style_distance']:.4g}, worse ratio {row['ratio']:.2f}, "
              f"seeds differ by {row['seed_mean_abs_difference']:.3f} mean abs", flush=True)
    if args.init_check:
        # Why content weight 0 starts from noise: from the photo, the photo's layout survives.
        style = load(args.init_check)
        config = StyleConfig(size=args.size, iters=args.iters, content_weight=0.0, seed=0)
        stylizer = Stylizer(config, [style], network=net)
        from_photo = tensor_to_image(stylizer.stylize(content, init=content))
        from_noise = tensor_to_image(stylizer.stylize(content, generator=generator(0)))
        check = {
            "from_photo": {"style": style_distance(net, from_photo, style), "content": content_distance(net, from_photo, photo)},
            "from_noise": {"style": style_distance(net, from_noise, style), "content": content_distance(net, from_noise, photo)},
        }
        results["init_check"] = {"style": args.init_check, **check}
        print(f"content weight 0, {args.init_check}: from the photo style {check['from_photo']['style']:.4g} content "
              f"{check['from_photo']['content']:.4g}; from noise style {check['from_noise']['style']:.4g} content "
              f"{check['from_noise']['content']:.4g}", flush=True)
    return results


SHIFT, SCALE = (2.0, 0.5), 0.5


def clip(size: int, frames: int, seed: int = 0) -> list[np.ndarray]:
    """A camera pan over the Tübingen photo. Seed 0: the path centred on the photo (the documented
    clip); another seed: the same pan started at a random point of the photo (another clip of the
    same kind, for the spread of a measurement over clips)."""
    photo = load("tubingen")
    view = fit_longest_side(16, 9, size)
    start = None
    if seed:
        rng = np.random.default_rng(seed)
        # The frame covers view / SCALE photo pixels; keep the whole path inside the photo.
        half_w, half_h = (view[0] / SCALE) / 2 + 2, (view[1] / SCALE) / 2 + 2
        travel_x, travel_y = SHIFT[0] * (frames - 1), SHIFT[1] * (frames - 1)
        height, width = photo.shape[:2]
        start = (rng.uniform(half_w, width - 1 - half_w - travel_x), rng.uniform(half_h, height - 1 - half_h - travel_y))
    return synth.camera_move(photo, view, frames, shift_per_frame=SHIFT, scale=SCALE, start=start)


def run_video(net, styles, frames, config, keys=None, weights=None, mask=None, composite_only=False, seed=0) -> list[np.ndarray]:
    """Stylise ``frames``; ``composite_only``: forget each frame's unshown stylisation, so the next
    frame is held to the composite and trusts it only inside the matte (the alternative design)."""
    size = (frames[0].shape[1], frames[0].shape[0])
    video = VideoStylizer(Stylizer(config, styles, weights, network=net), size, generator_seed=seed, style_keys=keys)
    outputs = []
    for i, image in enumerate(frames):
        outputs.append(video.process(Frame(image, i, i), mask=mask)[0].image)
        if composite_only:
            video.history = [replace(entry, target=None) for entry in video.history]
    return outputs


def rank_correlation(values) -> float:
    """Spearman's rho of ``values`` against their index (no ties expected)."""
    ranks = np.argsort(np.argsort(values)).astype(float)
    index = np.arange(len(values), dtype=float)
    return float(np.corrcoef(ranks, index)[0, 1])


def keys(args, net) -> dict:
    """A clip morphing from style a to b: Gram distances per frame and warping error vs single style.

    Also the warping error of a pixel cross-fade of the two single-style runs with the same weights
    per frame: what any morph costs merely for changing its look from frame to frame (that change
    is the point, not flicker), so the morph's own excess can be told from it."""
    a, b = args.style_a, args.style_b
    styles = [load(a), load(b)]
    frames = clip(args.size, args.frames, args.seed)
    # The seed also seeds the optimiser, but with the content start (content weight > 0) it draws no
    # noise: for a given clip the run is deterministic. The seed's effect is the clip (see clip()).
    config = StyleConfig.video().with_(size=args.size, iters=args.iters, first_iters=args.first_iters, seed=args.seed)
    spec = f"0:1,0 {args.frames - 1}:0,1"
    style_keys = StyleKeys.parse(spec, 2)
    morph = run_video(net, styles, frames, config, keys=style_keys, seed=args.seed)
    only_a = run_video(net, styles[:1], frames, config, seed=args.seed)
    only_b = run_video(net, styles[1:], frames, config, seed=args.seed)
    weights_b = [style_keys.at(i)[1] for i in range(len(frames))]
    crossfade = [(1 - w) * x + w * y for w, x, y in zip(weights_b, only_a, only_b)]
    to_a = [style_distance(net, o, styles[0]) for o in morph]
    to_b = [style_distance(net, o, styles[1]) for o in morph]
    runs = (("morph", morph), ("only_a", only_a), ("only_b", only_b), ("crossfade", crossfade))
    if args.blend_check:
        # The two styles blended half and half for the whole clip: does a blended target by itself
        # flicker more than either style, or only a target that moves?
        runs += (("constant_blend", run_video(net, styles, frames, config, weights=[0.5, 0.5], seed=args.seed)),)
    per_frame = {name: warping_errors(out, frames)[0] for name, out in runs}
    errors = {name: float(np.mean(values)) for name, values in per_frame.items()}
    # The single-style runs' own errors, frame by frame, weighted as the morph weighs the styles there.
    errors["single_at_same_weights"] = float(np.mean([(1 - w) * x + w * y for w, x, y in
                                                      zip(weights_b[1:], per_frame["only_a"], per_frame["only_b"])]))
    result = {
        "keys": spec, "styles": [a, b], "size": list(frames[0].shape[1::-1]), "iters": args.iters,
        "first_iters": args.first_iters, "frames": args.frames, "seed": args.seed,
        "distance_to_a": to_a, "distance_to_b": to_b,
        "rank_correlation_a": rank_correlation(to_a), "rank_correlation_b": rank_correlation(to_b),
        "warping_error": errors,
        "ratio_to_a": errors["morph"] / errors["only_a"],
        "ratio_to_b": errors["morph"] / errors["only_b"],
        "ratio_to_mean": errors["morph"] / ((errors["only_a"] + errors["only_b"]) / 2),
        "ratio_to_crossfade": errors["morph"] / errors["crossfade"],
        "ratio_to_single_at_same_weights": errors["morph"] / errors["single_at_same_weights"],
        "warping_error_per_frame": per_frame,
        **({"constant_blend_ratio_to_mean": errors["constant_blend"] / ((errors["only_a"] + errors["only_b"]) / 2)}
           if args.blend_check else {}),
        "warping_error_ratio": errors["morph"] / max(errors["only_a"], errors["only_b"]),
        "only_a_distance_to_a": float(np.mean([style_distance(net, o, styles[0]) for o in only_a])),
        "only_b_distance_to_b": float(np.mean([style_distance(net, o, styles[1]) for o in only_b])),
    }
    print(f"keys {spec!r} ({a} -> {b}) at {result['size'][0]}x{result['size'][1]}, {args.first_iters}/{args.iters} iters, "
          f"clip seed {args.seed}", flush=True)
    print("  distance to a: " + " ".join(f"{d:.3g}" for d in to_a))
    print("  distance to b: " + " ".join(f"{d:.3g}" for d in to_b))
    print(f"  rank correlation with frame index: a {result['rank_correlation_a']:+.3f}, b {result['rank_correlation_b']:+.3f}")
    print(f"  warping error: morph {errors['morph']:.5f}, only a {errors['only_a']:.5f}, only b {errors['only_b']:.5f}, "
          f"cross-fade of the two {errors['crossfade']:.5f}", flush=True)
    print(f"  morph / only a {result['ratio_to_a']:.3f}, / only b {result['ratio_to_b']:.3f}, / their mean "
          f"{result['ratio_to_mean']:.3f}, / cross-fade {result['ratio_to_crossfade']:.3f}, / single-style runs weighted "
          f"frame by frame as the keys {result['ratio_to_single_at_same_weights']:.3f}", flush=True)
    if args.blend_check:
        print(f"  constant half-and-half blend: {errors['constant_blend']:.5f}, "
              f"{result['constant_blend_ratio_to_mean']:.3f}x the mean of the single-style runs", flush=True)
    return result


def mask(args, net) -> dict:
    """Left-half matte: outside equals the input; warping error inside vs a run without a matte."""
    style = [load(args.style_a)]
    frames = clip(args.size, args.frames)
    height, width = frames[0].shape[:2]
    config = StyleConfig.video().with_(size=args.size, iters=args.iters, first_iters=args.first_iters, seed=0)
    matte = np.zeros((height, width), np.float32)
    matte[:, : width // 2] = 1.0
    masked = run_video(net, style, frames, config, mask=matte)
    plain = run_video(net, style, frames, config)
    composite_only = run_video(net, style, frames, config, mask=matte, composite_only=True)
    outside = matte == 0
    outside_error = max(float(np.abs(o - f)[outside].max()) for o, f in zip(masked, frames))
    # Inside, away from the edge by more than the motion per frame (2 px), so that no measured pixel
    # was outside the matte one frame earlier (those change from input to stylised by design).
    inside = np.zeros_like(matte)
    inside[:, : width // 2 - args.margin] = 1.0
    error_masked = float(np.mean(warping_errors(masked, frames, region=inside)[0]))
    error_plain = float(np.mean(warping_errors(plain, frames, region=inside)[0]))
    error_composite_only = float(np.mean(warping_errors(composite_only, frames, region=inside)[0]))
    encoded = _encoded_outside(frames, matte, args)
    result = {
        "size": [width, height], "iters": args.iters, "frames": args.frames, "margin_px": args.margin,
        "max_abs_outside": outside_error,
        "warping_error_inside": {"masked": error_masked, "no_mask": error_plain, "composite_only": error_composite_only},
        "ratio": error_masked / error_plain,
        "composite_only_ratio": error_composite_only / error_plain,
        "encoded_outside": encoded,
    }
    print(f"mask (left half) at {width}x{height}: max |output - input| outside {outside_error:.2e}; warping error inside "
          f"(margin {args.margin} px) masked {error_masked:.5f} vs no mask {error_plain:.5f}, ratio {result['ratio']:.3f}", flush=True)
    print(f"  held to the composite only (trusted inside the warped matte): {error_composite_only:.5f}, "
          f"ratio {result['composite_only_ratio']:.3f}", flush=True)
    print(f"  through the CLI and H.264 (crf 18), {args.margin + 2} px or more from the edge: mean |output - input| outside "
          f"{encoded['mean_abs']:.4f}, 99th percentile {encoded['p99_abs']:.4f}", flush=True)
    return result


def _encoded_outside(frames, matte, args) -> dict:
    """``vidstyle stylize --mask`` on an H.264 clip: output vs decoded input outside the matte."""
    import tempfile

    from vidstyle.cli import main
    from vidstyle.io.image import write_image
    from vidstyle.io.video import VideoReader

    height, width = matte.shape
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        clip_path = synth.write_clip(folder / "clip.mp4", frames, audio=False)
        write_image(folder / "matte.png", np.repeat(matte[..., None], 3, axis=2))
        out = folder / "out.mp4"
        code = main(["stylize", str(clip_path), "-s", str(SAMPLES / f"{args.style_a}.jpg"), "-o", str(out), "--mask",
                     str(folder / "matte.png"), "--size", str(max(width, height)), "--iters", str(args.iters),
                     "--first-iters", str(args.first_iters), "--seed", "0", "--device", "cpu"])
        if code:
            raise SystemExit(f"vidstyle stylize failed ({code})")
        with VideoReader(clip_path) as a, VideoReader(out) as b:
            pairs = [(x.image, y.image) for x, y in zip(a, b, strict=True)]
    outside = np.zeros_like(matte, dtype=bool)
    outside[:, width // 2 + args.margin + 2:] = True
    differences = np.concatenate([np.abs(o - i)[outside].ravel() for i, o in pairs])
    return {"mean_abs": float(differences.mean()), "p99_abs": float(np.percentile(differences, 99)), "max_abs": float(differences.max())}


def animate(args, net) -> dict:
    """``stylize --content-weight 0``: an animated texture; warping error with and without the
    temporal term, and how far the frames are from the style and from the input."""
    style = load(args.style_a)
    frames = clip(args.size, args.frames)
    config = StyleConfig.video().with_(size=args.size, iters=args.iters, first_iters=args.first_iters, seed=0, content_weight=0.0)
    size = (frames[0].shape[1], frames[0].shape[0])
    runs = {}
    for name, temporal in (("temporal", True), ("per_frame", False)):
        video = VideoStylizer(Stylizer(config, [style], network=net), size, temporal=temporal, generator_seed=0)
        runs[name] = [video.process(Frame(image, i, i))[0].image for i, image in enumerate(frames)]
    result = {"size": list(size), "iters": args.iters, "frames": args.frames, "style": args.style_a}
    for name, outputs in runs.items():
        errors, source_errors = warping_errors(outputs, frames)
        result[name] = {
            "warping_error": float(np.mean(errors)),
            "style_distance": float(np.mean([style_distance(net, o, style) for o in outputs])),
            "mean_abs_from_input": float(np.mean([np.abs(o - f).mean() for o, f in zip(outputs, frames)])),
        }
        result["source_warping_error"] = float(np.mean(source_errors))
        print(f"content weight 0, {name}: warping error {result[name]['warping_error']:.5f}, Gram distance "
              f"{result[name]['style_distance']:.4g}, mean |output - input| {result[name]['mean_abs_from_input']:.3f}", flush=True)
    print(f"  source warping error {result['source_warping_error']:.5f}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("texture", "keys", "mask", "animate"))
    parser.add_argument("--size", type=int)
    parser.add_argument("--iters", type=int)
    parser.add_argument("--first-iters", type=int, default=60)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--styles", help="comma-separated bundled style names (texture; default all)")
    parser.add_argument("--init-check", metavar="STYLE", help="texture: also compare photo and noise starts at content weight 0")
    parser.add_argument("--style-a", default="starry_night")
    parser.add_argument("--style-b", default="the_scream")
    parser.add_argument("--margin", type=int, default=4)
    parser.add_argument("--blend-check", action="store_true", help="keys: also run both styles blended half and half throughout")
    parser.add_argument("--seed", type=int, default=0, help="keys: 0 is the documented pan; another seed starts the same pan elsewhere on the photo")
    parser.add_argument("--json", metavar="FILE")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (1 is faster on a busy machine)")
    args = parser.parse_args()
    defaults = {"texture": (128, 100), "keys": (64, 20), "mask": (64, 20), "animate": (64, 20)}[args.what]
    args.size = args.size or defaults[0]
    args.iters = args.iters or defaults[1]
    torch.set_num_threads(args.threads)
    net = VGG19Features.load()
    started = time.perf_counter()
    result = {"texture": texture, "keys": keys, "mask": mask, "animate": animate}[args.what](args, net)
    result["seconds"] = time.perf_counter() - started
    text = json.dumps(result)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
