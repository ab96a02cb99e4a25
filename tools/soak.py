"""Soak and memory checks for the RIFE filter (not part of the default test run).

``python tools/soak.py soak [--frames 5000] [--size 64]``
    renders ``--frames`` output frames (multi=2) of a small moving texture and reports RSS after
    warm-up, RSS growth since then and the sizes of every cache (engine per-frame cache, the
    filter's result cache, loaded models).  Exit status 1 when RSS grows by 50 MB or more or a
    cache exceeds its bound.

``python tools/soak.py memory [--sizes 456x256,960x540,1280x720,3840x2160@0.5]``
    peak RSS of one interpolated frame per size, each in a fresh process.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GROWTH_LIMIT_MB = 50.0


def rss_mb() -> float:
    """Current resident set size in MB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def moving_clip(n: int, w: int, h: int):
    """``n`` RGBS frames of a smooth texture shifted one pixel per frame (generated on request)."""
    import numpy as np
    import vapoursynth as vs

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    ph = rng.random(3) * 6
    base = vs.core.std.BlankClip(width=w, height=h, format=vs.RGBS, length=n, fpsnum=24, fpsden=1)

    def fill(n: int, f):
        out = f.copy()
        for p in range(3):
            np.asarray(out[p])[...] = 0.5 + 0.4 * np.sin((x - n) / 6 + ph[p]) * np.cos((y + 0.5 * n) / 9)
        return out

    return base.std.ModifyFrame(base, fill)


def soak(frames: int, size: int, warmup: int, every: int, max_cache_mb: int | None = None) -> int:
    import vapoursynth as vs

    from vsrife.engine import models as eng_mod
    from vsrife.vs import build, plan

    if max_cache_mb is not None:
        vs.core.max_cache_size = max_cache_mb
    clip = moving_clip(frames // 2, size, size)
    p = plan(clip, multi=2, device="cpu")
    out = build(p)
    work = p.interpolators[0]
    eng = work.engine
    t0 = time.time()
    base = None
    samples = []
    max_cache = max_results = 0
    for n in range(min(frames, out.num_frames)):
        out.get_frame(n)
        max_cache = max(max_cache, len(eng._cache))
        max_results = max(max_results, len(work.results))
        if n + 1 == warmup:
            base = rss_mb()
        if (n + 1) % every == 0:
            samples.append((n + 1, round(rss_mb(), 1)))
            print(f"frame {n + 1}: RSS {samples[-1][1]} MB ({time.time() - t0:.0f} s)", flush=True)
    end = rss_mb()
    growth = end - (base or end)
    result = {
        "frames": out.num_frames, "size": f"{size}x{size}", "seconds": round(time.time() - t0, 1),
        "rss_after_warmup_mb": round(base or 0, 1), "rss_end_mb": round(end, 1), "growth_mb": round(growth, 1),
        "peak_mb": round(peak_mb(), 1), "engine_cache": len(eng._cache), "engine_cache_max": max_cache,
        "engine_cache_bound": eng._cache_size, "result_cache": len(work.results), "result_cache_max": max_results,
        "result_cache_bound": 4 * max(work.multi or 2, 2), "models_loaded": eng_mod.loaded(),
        "stats": eng.stats, "vs_max_cache_size_mb": vs.core.max_cache_size, "samples": samples,
    }
    print(json.dumps(result))
    ok = (growth < GROWTH_LIMIT_MB and max_cache <= eng._cache_size
          and max_results <= result["result_cache_bound"] and eng_mod.loaded() <= 4)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def one_size(w: int, h: int, scale: float) -> dict:
    """Peak RSS of one interpolated frame at ``w``x``h`` (run in a fresh process)."""
    import vsrife

    clip = moving_clip(2, w, h)
    out = vsrife.RIFE(clip, multi=2, scale=scale, device="cpu", sc=False)
    clip.get_frame(0)
    before = peak_mb()
    t0 = time.time()
    out.get_frame(1)
    return {"size": f"{w}x{h}", "scale": scale, "seconds": round(time.time() - t0, 1),
            "peak_before_mb": round(before, 1), "peak_mb": round(peak_mb(), 1)}


def memory(sizes: str) -> int:
    for spec in sizes.split(","):
        dims, _, sc = spec.partition("@")
        w, h = map(int, dims.split("x"))
        code = (f"import json, sys; sys.path.insert(0, {str(ROOT / 'tools')!r}); import soak; "
                f"print(json.dumps(soak.one_size({w}, {h}, {float(sc or 1.0)})))")
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
        line = res.stdout.strip().splitlines()[-1] if res.stdout.strip() else res.stderr.strip()[-400:]
        print(line, flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("soak")
    s.add_argument("--frames", type=int, default=5000)
    s.add_argument("--size", type=int, default=64)
    s.add_argument("--warmup", type=int, default=500)
    s.add_argument("--every", type=int, default=500)
    s.add_argument("--max-cache-mb", type=int, default=None, help="core.max_cache_size (VapourSynth's frame cache)")
    m = sub.add_parser("memory")
    m.add_argument("--sizes", default="456x256,960x540,1280x720,3840x2160@0.5")
    a = ap.parse_args(argv)
    if a.cmd == "soak":
        return soak(a.frames, a.size, a.warmup, a.every, a.max_cache_mb)
    return memory(a.sizes)


if __name__ == "__main__":
    sys.exit(main())
