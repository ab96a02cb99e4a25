"""``vsrife eval``: PSNR/SSIM of rebuilt middle frames, against baselines."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path
from typing import TYPE_CHECKING

from . import CLIError, eval_corpus

if TYPE_CHECKING:
    from ..dev.evaluate import Method, Result, Triplet

FILTER_KEYS = {"model": str, "model_path": str, "scale": float, "ensemble": int, "device": str, "fp16": int}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval", help="measure picture quality (PSNR, SSIM) on clips or Vimeo90K-style triplets",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Rebuild middle frames and compare them with the truth.  A video input drops every other\n"
                    "frame (or the --frames given) and rebuilds it from its neighbours; a directory input uses\n"
                    "every folder holding im1.png im2.png im3.png.  Prints a table of PSNR (RGB) and SSIM (Y)\n"
                    "per clip and the mean over all frames, and saves it with plots under --out.",
        epilog="examples:\n  vsrife eval bigbuckbunny.mp4 --frames 10,30,50 --baselines blend,mvtools\n"
               "  vsrife eval --corpus --rife model=4.25 --rife model=best --baselines blend --cache q\n"
               "  vsrife eval clip.mkv --rife model=4.25 --rife model=4.25,ensemble=1 --limit 20\n"
               "  vsrife eval vimeo_triplet/sequences --limit 100 --strips 5",
    )
    p.add_argument("inputs", nargs="*", help="video files or directories of triplets (or --corpus)")
    p.add_argument("--rife", action="append", metavar="SPEC", default=None,
                   help="filter settings to test, KEY=VALUE[,KEY=VALUE]; keys: " + ", ".join(FILTER_KEYS)
                   + " (repeatable; default: the filter defaults)")
    p.add_argument("--baselines", default="", help="comma list of blend, mvtools, minterpolate")
    p.add_argument("--frames", default=None, help="video middle frames to rebuild, comma list (default: every other)")
    p.add_argument("--step", type=int, default=2, help="rebuild every STEP-th frame of a video (default 2)")
    p.add_argument("--limit", type=int, default=None, help="at most this many triplets per input")
    p.add_argument("--width", type=int, default=None, help="downscale videos to this width first")
    p.add_argument("--out", default="eval-out", help="folder for results.md/.csv/.json and PNGs (default eval-out)")
    p.add_argument("--strips", type=int, default=3, help="PNG strips of the N worst frames of the first rife setting")
    p.add_argument("--no-plot", action="store_true", help="skip the per-frame PSNR plot")
    eval_corpus.add_arguments(p)
    p.set_defaults(func=run)


def parse_spec(spec: str) -> dict:
    """``model=4.25,ensemble=1`` -> filter keyword arguments."""
    kw: dict = {}
    for part in filter(None, (s.strip() for s in spec.split(","))):
        key, sep, val = part.partition("=")
        if not sep or key not in FILTER_KEYS:
            raise CLIError(f"--rife {spec!r}: expected KEY=VALUE with KEY one of {', '.join(FILTER_KEYS)}")
        try:
            kw[key] = FILTER_KEYS[key](val)
        except ValueError:
            raise CLIError(f"--rife {spec!r}: {key} must be {FILTER_KEYS[key].__name__}, got {val!r}") from None
    return kw


def _methods(args: argparse.Namespace) -> list[Method]:
    from ..dev import evaluate as ev

    methods: list[Method] = [ev.RifeMethod(parse_spec(s)) for s in (args.rife or [""])]
    for b in filter(None, (s.strip() for s in args.baselines.split(","))):
        if b not in ev.BASELINES:
            raise CLIError(f"--baselines: unknown {b!r}; allowed: {', '.join(ev.BASELINES)}")
        methods.append(ev.BASELINES[b]())
    return methods


def _triplets(args: argparse.Namespace) -> list[Triplet]:
    from ..dev import evaluate as ev

    if args.step < 1:
        raise CLIError(f"--step must be >= 1, got {args.step}")
    if args.limit is not None and args.limit < 1:
        raise CLIError(f"--limit must be >= 1, got {args.limit}")
    try:
        centers = [int(x) for x in args.frames.split(",")] if args.frames else None
    except ValueError:
        raise CLIError(f"--frames must be a comma list of frame numbers, got {args.frames!r}") from None
    trips: list[Triplet] = []
    for inp in args.inputs:
        path = Path(inp)
        try:
            if path.is_dir():
                trips += ev.triplets_from_dir(path, args.limit)
            elif path.is_file():
                trips += ev.triplets_from_video(path, centers, args.step, args.limit, args.width)
            else:
                raise CLIError(f"{inp}: no such file or directory")
        except ValueError as e:
            raise CLIError(str(e)) from None
        except Exception as e:  # vs.Error from the source filter
            if type(e).__name__ == "Error":
                raise CLIError(f"{inp}: cannot read: {e}") from None
            raise
    return trips


def _write(results: list[Result], out: Path) -> list[Path]:
    from ..dev import evaluate as ev

    text = ev.table(ev.summary(results))
    print(text)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.md").write_text(text + "\n")
    (out / "summary.json").write_text(json.dumps(ev.summary(results), indent=1))
    with open(out / "results.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["clip", "frame", "method", "psnr", "ssim", "s_per_frame"])
        for r in results:
            w.writerow([r.clip, r.name, r.method, f"{r.psnr:.4f}", f"{r.ssim:.5f}", f"{r.seconds:.4f}"])
    return [out / "results.md", out / "results.csv"]


def run(args: argparse.Namespace) -> int:
    from ..dev import evaluate as ev

    methods = _methods(args)
    if args.corpus:
        return eval_corpus.run_corpus(args, methods)
    if not args.inputs:
        raise CLIError("give video files or triplet directories, or --corpus")
    trips = _triplets(args)
    try:
        results, frames = ev.evaluate(trips, methods, log=print)
    except Exception as e:
        if type(e).__name__ == "Error":  # vs.Error from the filter: a bad setting
            raise CLIError(str(e)) from None
        raise
    if not results:
        raise CLIError("no triplets left to evaluate (all skipped as scene cuts)")
    out = Path(args.out)
    saved = _write(results, out)
    if not args.no_plot:
        try:
            ev.plot_per_frame(results, out / "psnr_per_frame.png")
            saved.append(out / "psnr_per_frame.png")
        except ImportError:
            print("note: matplotlib is not installed; no per-frame plot (pip install matplotlib)")
    if args.strips > 0:
        saved += ev.save_strips(results, frames, trips, methods[0].name, out, args.strips)
    print("saved: " + ", ".join(str(p) for p in saved))
    return 0
