"""``vsrife bench``: time 2x interpolation on this CPU against eager PyTorch and CPU peers."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import CLIError

SIZES = {"720p": (1280, 720, 1.0), "1080p": (1920, 1080, 0.5), "tiny": (128, 72, 1.0)}


def _size(text: str) -> tuple[int, int, float]:
    """'720p', '1080p', 'WxH' or 'WxH@scale'."""
    if text in SIZES:
        return SIZES[text]
    body, _, sc = text.partition("@")
    try:
        w, h = (int(v) for v in body.lower().split("x"))
        scale = float(sc) if sc else 1.0
    except ValueError:
        raise argparse.ArgumentTypeError(f"size {text!r} must be 720p, 1080p, WxH or WxH@scale") from None
    if w < 16 or h < 16:
        raise argparse.ArgumentTypeError(f"size {text!r} is too small: width and height must be >= 16")
    return w, h, scale


def register(sub: argparse._SubParsersAction) -> None:
    from ..dev.bench import COMPARISONS

    p = sub.add_parser(
        "bench", help="benchmark CPU interpolation against eager PyTorch, vs-mlrt and mvtools",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Times 2x interpolation of Big Buck Bunny through vspipe (model 4.25) and, in the same run,\n"
                    "the eager fp32 model, a 3x3 conv ceiling, vs-mlrt (OpenVINO / ONNX Runtime) on our model\n"
                    "exported to ONNX, and mvtools FlowFPS.  Writes bench.json, bench.md and bench.png.",
        epilog="examples:\n  vsrife bench\n  vsrife bench --sizes 720p --compare eager vsrife ov --runs 5\n"
               "  vsrife bench --tiny",
    )
    p.add_argument("--sizes", nargs="+", type=_size, default=None, metavar="SIZE",
                   help="720p, 1080p (scale 0.5), WxH or WxH@scale (default: 720p 1080p)")
    p.add_argument("--compare", nargs="+", choices=COMPARISONS, default=list(COMPARISONS), metavar="NAME",
                   help=f"contenders, any of: {', '.join(COMPARISONS)} (default: all)")
    p.add_argument("--runs", type=int, default=3, help="timed runs per contender; the median is reported (default 3)")
    p.add_argument("--pairs", type=int, default=10, help="interpolated frames per filter run (default 10)")
    p.add_argument("--warmup", type=int, default=2,
                   help="pairs per filter run excluded from timing (default 2: one per stream)")
    p.add_argument("--streams", type=int, default=2, help="vs-mlrt num_streams (default 2)")
    p.add_argument("--out", type=Path, default=Path("out/bench"), help="output folder (default out/bench)")
    p.add_argument("--tiny", action="store_true", help="a quick smoke run: 128x72, 1 run, 3 pairs")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .. import weights as registry
    from ..dev.bench import main_bench

    sizes = args.sizes or ([SIZES["tiny"]] if args.tiny else [SIZES["720p"], SIZES["1080p"]])
    runs, pairs, warmup = (1, 3, 1) if args.tiny else (args.runs, args.pairs, args.warmup)
    if runs < 1:
        raise CLIError(f"--runs must be >= 1, got {runs}")
    if not 0 <= warmup < pairs:
        raise CLIError(f"--warmup must be >= 0 and smaller than --pairs ({pairs}), got {warmup}")
    if args.streams < 1:
        raise CLIError(f"--streams must be >= 1, got {args.streams}")
    try:
        footage = registry.fetch("footage", log=lambda s: None)
    except registry.AssetError as e:
        raise CLIError(str(e)) from None
    main_bench(sizes, runs, pairs, warmup, args.compare, args.out, footage, streams=args.streams)
    return 0
