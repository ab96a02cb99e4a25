"""A/B timing of model variants on one CPU thread (process CPU time), as used in docs/performance.md.

    PYTHONPATH=. .venv/bin/python tools/perf_ab.py --size 768x1280 --variants eager,cl,fast,jit --runs 3

Variants: eager (IFNet NCHW), cl (IFNet channels_last), fast (vsrife.fast.FastV4), jit (FastV4 traced
and frozen), stream (FastV4 as the engine runs it in a stream: the new frame's per-frame work, the source and
4.0's context features, computed; the other frame's cached).  4.0 runs its refine nets in every variant.
Variants are interleaved run by run; PSNR is against eager on the same random input.
"""

from __future__ import annotations

import argparse
import copy
import time
from collections.abc import Callable

import torch

from vsrife.nn.fast import FastV4
from vsrife.weights import load_model


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="768x1280", help="HxW, a multiple of the model's padding")
    ap.add_argument("--model", default="4.25")
    ap.add_argument("--variants", default="eager,cl,fast")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="1: time with process CPU time (load-insensitive)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    clock = time.process_time if args.threads == 1 else time.perf_counter
    h, w = (int(v) for v in args.size.split("x"))
    net, _ = load_model(args.model)
    net = net.float().eval()
    torch.manual_seed(0)
    a = torch.rand(1, 3, h, w)
    b = torch.roll(a, (5, 3), (-2, -1))
    tt = torch.full((1,), 0.5)
    variants = args.variants.split(",")
    refine = net.arch.refines
    fns: dict[str, Callable[[], torch.Tensor]] = {"eager": lambda: net(a, b, 0.5, refine=refine).image}
    with torch.inference_mode():
        ref = fns["eager"]()
        if "cl" in variants:
            cl = copy.deepcopy(net).to(memory_format=torch.channels_last)
            ac, bc = (x.contiguous(memory_format=torch.channels_last) for x in (a, b))
            fns["cl"] = lambda: cl(ac, bc, 0.5, refine=refine).image
        fast = FastV4(net)
        fns["fast"] = lambda: fast(a, b, tt)
        x0 = fast.source(a)
        c0 = fast.context(x0)

        def stream() -> torch.Tensor:
            x1 = fast.source(b)
            return fast.interpolate(x0, x1, tt, ctx0=c0, ctx1=fast.context(x1))

        fns["stream"] = stream
        if "jit" in variants:
            traced = torch.jit.freeze(torch.jit.trace(fast, (a, b, tt), check_trace=False))
            fns["jit"] = lambda: traced(a, b, tt)
        outs = {k: fns[k]() for k in variants}
        times: dict[str, list[float]] = {k: [] for k in variants}
        for _ in range(args.runs):
            for k in variants:
                t = clock()
                fns[k]()
                times[k].append(clock() - t)
    base = sorted(times["eager"])[args.runs // 2] if "eager" in times else None
    for k in variants:
        ts = sorted(times[k])
        mse = (outs[k].float().contiguous() - ref).pow(2).mean().item()
        psnr = 10 * torch.log10(torch.tensor(1 / max(mse, 1e-20))).item()
        ratio = f"{base / ts[args.runs // 2]:.2f}x" if base else "-"
        print(f"{k:8s} min {ts[0]:.3f} s  median {ts[args.runs // 2]:.3f} s  vs eager {ratio}  PSNR {psnr:.1f} dB")


if __name__ == "__main__":
    main()
