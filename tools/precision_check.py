"""PSNR of the CPU fast path (fp32 and bf16 convolutions) against the fp32 eager model on real footage.

    PYTHONPATH=. .venv/bin/python tools/precision_check.py --pairs 12 --size 1280x720

For each clip (Big Buck Bunny, bikes) it takes ``--pairs`` evenly spaced neighbouring pairs, interpolates
t = 0.5 with the eager ``IFNet`` (fp32), ``FastV4`` (fp32) and ``FastV4(dtype=bfloat16)`` and prints the
PSNR of each fast variant against eager (min / median over the pairs).  Issue 5's bound is 50 dB.
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np
import torch
import torch.nn.functional as F
import vapoursynth as vs

from vsrife.nn.fast import FastV4, bf16_supported
from vsrife.weights import fetch, load_model


def frames(path: str, w: int, h: int, pairs: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    core = vs.core
    clip = core.bs.VideoSource(path)
    clip = core.resize.Bicubic(clip, w, h, format=vs.RGBS, matrix_in_s="709")
    out = []
    for n in np.linspace(0, clip.num_frames - 2, pairs).astype(int):
        ab = []
        for k in (n, n + 1):
            f = clip.get_frame(int(k))
            ab.append(torch.from_numpy(np.stack([np.asarray(f[p]) for p in range(3)])).unsqueeze(0).clamp(0, 1))
        out.append((ab[0], ab[1]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=12)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--model", default="4.25")
    ap.add_argument("--scale", type=float, default=1.0)
    a = ap.parse_args()
    w, h = (int(v) for v in a.size.split("x"))
    net, _ = load_model(a.model)
    net = net.float().eval()
    m = net.arch.pad_multiple(a.scale)
    hp, wp = -(-h // m) * m, -(-w // m) * m
    variants = {"fp32": FastV4(net)}
    if bf16_supported():
        variants["bf16"] = FastV4(net, torch.bfloat16)
    else:
        print("this CPU has no native bf16: bf16 not measured")
    tt = torch.full((1,), 0.5)
    for name in ("bigbuckbunny.mp4", "bikes.mp4"):
        res: dict[str, list[float]] = {k: [] for k in variants}
        for x, y in frames(str(fetch("footage", log=lambda s: None) / name), w, h, a.pairs):
            px, py = (F.pad(t, (0, wp - w, 0, hp - h), mode="replicate") for t in (x, y))
            with torch.inference_mode():
                ref = net(px, py, 0.5, scale=a.scale).image[..., :h, :w]
                for k, fast in variants.items():
                    out = fast(px, py, tt, scale=a.scale)[..., :h, :w]
                    mse = (out - ref).pow(2).mean().item()
                    res[k].append(10 * np.log10(1 / max(mse, 1e-20)))
        for k, v in res.items():
            print(f"{name:18s} {a.size} scale {a.scale:g} {k}: min {min(v):.1f} dB, "
                  f"median {statistics.median(v):.1f} dB over {len(v)} pairs", flush=True)


if __name__ == "__main__":
    main()
