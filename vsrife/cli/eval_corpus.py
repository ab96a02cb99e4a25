"""``vsrife eval --corpus``: picture quality on the public evaluation corpus (``vsrife models fetch corpus``)."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from . import CLIError


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("corpus (vsrife models fetch corpus)")
    g.add_argument("--corpus", action="store_true",
                   help="evaluate on the public corpus: tasks t=1/2 and t=1/3,2/3 on every clip, mean over clips")
    g.add_argument("--clips", default=None, help="comma list of corpus clips (default: all)")
    g.add_argument("--max-height", type=int, default=None, help="downscale corpus clips taller than this first")
    g.add_argument("--cache", default=None,
                   help="folder that keeps rebuilt frames per setting and clip, so reruns skip them")


def _clips(spec: str | None) -> list:
    from ..weights import corpus

    if not spec:
        return list(corpus.CLIPS)
    try:
        return [corpus.clip(n.strip()) for n in spec.split(",") if n.strip()]
    except KeyError as e:
        raise CLIError(f"--clips: {e.args[0]}") from None


def run_corpus(args: argparse.Namespace, methods: list) -> int:
    from ..dev import corpus_eval as ce
    from ..errors import AssetError

    if args.inputs:
        raise CLIError("--corpus takes no input files (it reads the corpus from the cache)")
    if args.max_height is not None and args.max_height < 16:
        raise CLIError(f"--max-height must be >= 16, got {args.max_height}")
    try:
        samples = ce.load_samples(_clips(args.clips), max_height=args.max_height, log=print)
    except AssetError as e:
        raise CLIError(str(e)) from None
    try:
        results, frames = ce.evaluate_corpus(samples, methods, Path(args.cache) if args.cache else None, log=print)
    except Exception as e:
        if type(e).__name__ == "Error":  # vs.Error from the filter: a bad setting
            raise CLIError(str(e)) from None
        raise
    text = ce.table(results)
    print(text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "corpus.md").write_text(text + "\n")
    scores = {"psnr": ce.clip_scores(results), "ssim": ce.clip_scores(results, "ssim")}
    (out / "corpus.json").write_text(json.dumps(scores, indent=1))
    with open(out / "corpus.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["clip", "task", "frame", "method", "psnr", "ssim", "s_per_frame"])
        for r in results:
            w.writerow([r.clip, r.task, r.frame, r.method, f"{r.psnr:.4f}", f"{r.ssim:.5f}", f"{r.seconds:.4f}"])
    saved = [out / "corpus.md", out / "corpus.csv", out / "corpus.json"]
    if not args.no_plot:
        try:
            ce.plot_clips(results, out / "corpus_psnr.png")
            saved.append(out / "corpus_psnr.png")
        except ImportError:
            print("note: matplotlib is not installed; no plot (pip install matplotlib)")
    if args.strips > 0:
        saved.append(ce.worst_strip(results, frames, samples, methods[0].name, out / "corpus_worst.png", args.strips))
    print("saved: " + ", ".join(str(p) for p in saved))
    return 0
