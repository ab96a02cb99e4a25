"""Compare models/ensemble/padding/scale and baselines on real footage to choose the filter defaults.

Triplets: Big Buck Bunny middle frames 10, 30, ..., 110 (1280x720) and bikes 10, 50, 100, 160, 200, 220
(640x272), full resolution.  Writes docs/img/defaults.{md,json} and prints the table, then times one
720p frame per setting (engine only, after a warm-up, best of 3).

Usage: VSRIFE_MODEL_DIR=... python tools/choose_defaults.py
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from vsrife import weights as registry
from vsrife.dev import evaluate as ev
from vsrife.engine import Engine

BBB = [10, 30, 50, 70, 90, 110]
BIKES = [10, 50, 100, 160, 200, 220]


class EngineMethod(ev.Method):
    """The engine directly (as the filter runs it), for settings the filter does not expose (pad_mode)."""

    def __init__(self, label: str, **kw) -> None:
        self.name, self.kw = label, kw

    def run(self, trips: Sequence[ev.Triplet]) -> list[np.ndarray]:
        eng = Engine(**self.kw)
        out = []
        for t in trips:
            a = torch.from_numpy(t.first.transpose(2, 0, 1).astype(np.float32) / 255)
            b = torch.from_numpy(t.last.transpose(2, 0, 1).astype(np.float32) / 255)
            img = eng.interpolate(a, b, 0.5)[0].numpy()
            out.append(np.clip(np.round(img * 255), 0, 255).astype(np.uint8).transpose(1, 2, 0))
        return out


def speed(settings: dict[str, dict], reps: int = 3) -> dict[str, float]:
    """Best-of-``reps`` seconds for one 720p middle frame per engine setting."""
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(3, 720, 1280, generator=g), torch.rand(3, 720, 1280, generator=g)
    engines = {k: Engine(**kw) for k, kw in settings.items()}
    for e in engines.values():
        e.interpolate(a[:, :64, :64], b[:, :64, :64], 0.5)
    best = {k: float("inf") for k in engines}
    for _ in range(reps):
        for k, e in engines.items():
            t0 = time.perf_counter()
            e.interpolate(a, b, 0.5)
            best[k] = min(best[k], time.perf_counter() - t0)
    return best


def main() -> int:
    foot = registry.fetch("footage", log=lambda s: None)
    trips = ev.triplets_from_video(foot / "bigbuckbunny.mp4", BBB) + ev.triplets_from_video(foot / "bikes.mp4", BIKES)
    methods: list[ev.Method] = [
        ev.RifeMethod({"model": "4.25"}, "4.25"),
        ev.RifeMethod({"model": "4.25", "ensemble": True}, "4.25 ensemble"),
        EngineMethod("4.25 pad reflect", model="4.25", pad_mode="reflect"),
        EngineMethod("4.25 pad constant", model="4.25", pad_mode="constant"),
        ev.RifeMethod({"model": "4.25", "scale": 0.5}, "4.25 scale 0.5"),
        ev.RifeMethod({"model": "4.25", "scale": 2.0}, "4.25 scale 2"),
        ev.RifeMethod({"model": "hd"}, "hd (native ensemble)"),
        ev.RifeMethod({"model": "4.0"}, "4.0"),
        ev.RifeMethod({"model": "4.0", "ensemble": True}, "4.0 ensemble"),
        ev.RifeMethod({"model": "3.1"}, "3.1"),
        ev.BlendMethod(), ev.MVToolsMethod(), ev.MinterpolateMethod(),
    ]
    results, _ = ev.evaluate(trips, methods, log=lambda s: print(s, flush=True))
    rows = ev.summary(results)
    settings = {"4.25": {"model": "4.25"}, "4.25 ensemble": {"model": "4.25", "ensemble": True},
                "4.25 scale 2": {"model": "4.25", "scale": 2.0}, "hd (native ensemble)": {"model": "hd"},
                "4.0 ensemble": {"model": "4.0", "ensemble": True}, "3.1": {"model": "3.1"}}
    sp = speed(settings)
    for r in rows:
        r["s_720p"] = sp.get(r["method"])
    text = ev.table(rows)
    text += "\n\nEngine time for one 1280x720 frame (CPU, best of 3):\n\n| setting | s | x 4.25 |\n|---|---:|---:|\n"
    text += "\n".join(f"| {k} | {v:.2f} | {v / sp['4.25']:.2f} |" for k, v in sp.items())
    print(text)
    out = Path("docs/img")
    out.mkdir(parents=True, exist_ok=True)
    (out / "defaults.md").write_text(text + "\n")
    (out / "defaults.json").write_text(json.dumps({"rows": rows, "speed_720p": sp,
                                                   "per_frame": [r.__dict__ for r in results]}, indent=1))
    ev.plot_per_frame(results, out / "defaults_per_frame.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
