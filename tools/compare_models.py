"""Quality and speed of catalog models side by side (docs/quality.md, "Model 4.6").

Quality: the 12 triplets of tools/choose_defaults.py (Big Buck Bunny middle frames 10, 30, ..., 110 at
1280x720, bikes 10, 50, 100, 160, 200, 220 at 640x272), middle frame dropped and rebuilt through the filter,
PSNR on RGB24 / SSIM on luma, with and without ensemble.  Speed: the engine (CPU fast path) on one
1280x720 pair, warm, every setting timed in turn ``--reps`` times (interleaved, so that a busy shared
machine slows all alike); medians.

Usage: python tools/compare_models.py 4.25 4.6 [--reps 7] [--out docs/img/models_46.md]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from vsrife import weights as registry
from vsrife.dev import evaluate as ev
from vsrife.engine import Engine

BBB = [10, 30, 50, 70, 90, 110]
BIKES = [10, 50, 100, 160, 200, 220]


def speed(settings: dict[str, dict], reps: int) -> dict[str, float]:
    """Median seconds per 1280x720 interpolated frame for each engine setting (interleaved)."""
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(3, 720, 1280, generator=g), torch.rand(3, 720, 1280, generator=g)
    engines = {k: Engine(device="cpu", **kw) for k, kw in settings.items()}
    for e in engines.values():
        e.interpolate(a, b, 0.5)  # warm: grids, oneDNN primitives
    times: dict[str, list[float]] = {k: [] for k in engines}
    for _ in range(reps):
        for k, e in engines.items():
            t0 = time.perf_counter()
            e.interpolate(a, b, 0.5)
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+")
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--out", default=None)
    args = p.parse_args()
    foot = registry.fetch("footage", log=lambda s: None)
    trips = ev.triplets_from_video(foot / "bigbuckbunny.mp4", BBB) + ev.triplets_from_video(foot / "bikes.mp4", BIKES)
    settings = {f"{m}{' ensemble' if e else ''}": {"model": m, "ensemble": e}
                for m in args.models for e in (True, False)}
    methods = [ev.RifeMethod(kw, label) for label, kw in settings.items()]
    results, _ = ev.evaluate(trips, methods, log=lambda s: print(s, flush=True))
    rows = ev.summary(results)
    sp = speed(settings, args.reps)
    base = sp[next(iter(sp))]
    text = ev.table(rows)
    text += (f"\n\nEngine (CPU fast path) time per 1280x720 interpolated frame, median of {args.reps}, "
             f"interleaved, torch threads {torch.get_num_threads()}:\n\n| setting | s/frame | x {next(iter(sp))} |\n"
             "|---|---:|---:|\n")
    text += "\n".join(f"| {k} | {v:.3f} | {v / base:.2f} |" for k, v in sp.items())
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
