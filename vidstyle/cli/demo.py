"""``vidstyle demo``: the bundled clip stylised with a bundled painting, then evaluated."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..config import StyleConfig
from ..errors import UsageError
from . import options


def add_parser(commands) -> argparse.ArgumentParser:
    demo = commands.add_parser("demo", help="stylise the bundled sample clip end to end",
                               description="Stylise samples/clip.mp4 with a bundled painting, then evaluate it.")
    demo.add_argument("--style", default="starry_night", help="bundled style name (default: starry_night)")
    demo.add_argument("--size", type=int, default=96, help="longest side in pixels (default: 96: 48 frames took 12 min on a 2-core CPU shared with other jobs)")
    demo.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    demo.add_argument("-o", "--output-dir", default="vidstyle_demo", help="where to write the results (default: vidstyle_demo)")
    options.add_common(demo)
    demo.set_defaults(func=run)
    return demo


def samples_folder() -> Path:
    """The bundled samples: beside the package in a checkout, else ./samples."""
    for folder in (Path(__file__).resolve().parents[2] / "samples", Path.cwd() / "samples"):
        if (folder / "clip.mp4").is_file():
            return folder
    raise UsageError("cannot find the bundled samples/ folder (run from the vidstyle checkout)")


def run(args: argparse.Namespace) -> int:
    from . import main

    samples = samples_folder()
    clip, style = samples / "clip.mp4", samples / f"{args.style}.jpg"
    if not style.is_file():
        names = sorted(p.stem for p in samples.glob("*.jpg") if p.stem != "tubingen")
        raise UsageError(f"no bundled style {args.style!r}; choose one of {', '.join(names)}")
    out_dir = Path(args.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    video = out_dir / f"clip_{args.style}.mp4"
    plot = out_dir / f"clip_{args.style}_warping_error.png"
    preset = StyleConfig.video()
    print(f"vidstyle demo: stylising {clip} with {style.name} at {args.size} px -> {video}", file=sys.stderr)
    code = main([
        "stylize", str(clip), "-s", str(style), "-o", str(video), "--size", str(args.size),
        "--iters", str(preset.iters), "--first-iters", str(preset.start_iters),
        "--device", args.device, "--seed", "0", "--overwrite",
    ])
    if code:
        return code
    return main(["eval", str(video), "--source", str(clip), "--plot", str(plot), "--overwrite"])
