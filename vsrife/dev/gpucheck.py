"""``make gpu-check``: the CUDA path verified in one command (under 5 minutes on a GPU).

1. the CUDA tests (``pytest -m cuda tests/test_cuda.py``): fp32 and fp16 against the CPU's fp32 output
   (>= 45 dB), warps in fp32 under fp16, source frames bit-exact in every format, output bit-identical for
   any ``core.num_threads``, memory released;
2. a benchmark row at 1280x720 and 1920x1080: the engine in fp32 and fp16 and the eager network (the plain
   ``IFNet`` call, both encoders every call) in s per interpolated frame, and their ratios;
3. frame transfer, host planes to the device and back: the engine's current ``copy_`` per plane against
   pinned staging buffers (and cupy through DLPack when cupy is installed), in ms per frame.

Weights: the cached 4.25 when present (the machine may be offline), else a random-init 4.25 layout (same
speed).  Without CUDA (or without torch) it prints one line and exits 0.

Usage: python -m vsrife.dev.gpucheck [--skip-tests] [--out gpu-check.md]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["bench_rows", "main", "transfer_rows"]

SIZES = ((1280, 720), (1920, 1080))
TEST_TIMEOUT_S = 200


def _timed(fn: Callable[[], object], sync: Callable[[], None], reps: int, warmup: int = 2) -> float:
    """Median seconds of ``fn`` (``sync`` waits for the device)."""
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _model_kwargs(tmp: Path) -> tuple[dict, str]:
    """Engine keywords for the cached default model, or a random-init file of its layout."""
    import torch

    from ..nn.ifnet import IFNet
    from ..weights import DEFAULT, verify

    if not verify(DEFAULT.name):
        return {"model": DEFAULT.name}, f"{DEFAULT.name} (cached weights)"
    torch.manual_seed(0)
    path = tmp / "random_4.25.pkl"
    torch.save(IFNet(DEFAULT.arch).state_dict(), path)
    return {"model_path": str(path)}, f"{DEFAULT.arch.name} layout, random init (no cached weights)"


def _sync(device: str) -> Callable[[], None]:
    import torch

    return torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)


def _bench_size(net, kw: dict, w: int, h: int, reps: int, device: str) -> str:
    import torch

    from ..engine import Engine, Prepared

    sync = _sync(device)
    g = torch.Generator().manual_seed(1)
    a, b = torch.rand(3, h, w, generator=g), torch.rand(3, h, w, generator=g)
    got = {}
    for label, fp16 in (("fp32", False), ("fp16", True)):
        eng = Engine(device=device, fp16=fp16, ensemble=False, **kw)
        pa, pb = eng.prepare(a), eng.prepare(b)

        def run(e: Engine = eng, x: Prepared = pa, y: Prepared = pb) -> None:
            e.interpolate(x, y, 0.5, size=(h, w))

        got[label] = _timed(run, sync, reps)
    m = net.arch.pad_multiple(1.0)
    pad = (0, -w % m, 0, -h % m)
    x0 = torch.nn.functional.pad(a[None], pad, mode="replicate").to(device)
    x1 = torch.nn.functional.pad(b[None], pad, mode="replicate").to(device)
    with torch.inference_mode():
        got["eager"] = _timed(lambda: net(x0, x1, 0.5).image.cpu(), sync, reps)
    f32, f16, eager = got["fp32"], got["fp16"], got["eager"]
    return (f"| {w}x{h} | {f32:.4f} | {f16:.4f} | {eager:.4f} | {eager / f32:.2f} | {eager / f16:.2f} | "
            f"{f32 / f16:.2f} |")


def bench_rows(kw: dict, reps: int = 10, device: str = "cuda",
               sizes: tuple[tuple[int, int], ...] = SIZES) -> list[str]:
    """Markdown rows: s per interpolated frame of engine fp32 / fp16 and eager fp32 at each size."""
    from ..weights import load_model

    net = load_model(kw.get("model"), kw.get("model_path"))[0].to(device).eval()
    return ["| size | engine fp32 | engine fp16 | eager fp32 | eager / fp32 | eager / fp16 | fp32 / fp16 |",
            "|---|---:|---:|---:|---:|---:|---:|", *(_bench_size(net, kw, w, h, reps, device) for w, h in sizes)]


def _h2d(planes, dev, staging=None):
    import torch

    h, w = planes[0].shape
    t = torch.empty((1, 3, h, w), device=dev)
    if staging is None:  # the engine's path: one copy_ per plane from the frame's (pageable) memory
        for c in range(3):
            t[0, c].copy_(torch.from_numpy(planes[c]), non_blocking=True)
    else:  # pinned staging: planes copied into page-locked memory, then one asynchronous transfer
        for c in range(3):
            staging[c].numpy()[...] = planes[c]
        t[0].copy_(staging, non_blocking=True)
    return t


def _d2h(out, dst, staging=None) -> None:
    import torch

    if staging is None:
        for p in range(3):
            torch.from_numpy(dst[p]).copy_(out[p])
    else:
        staging.copy_(out, non_blocking=True)
        if out.device.type == "cuda":
            torch.cuda.current_stream().synchronize()
        for p in range(3):
            dst[p][...] = staging[p].numpy()


def _transfer_size(w: int, h: int, reps: int, cupy, device: str) -> str:
    import numpy as np
    import torch

    sync = _sync(device)
    dev = torch.device(device)
    rng = np.random.default_rng(0)
    planes = [rng.random((h, w), dtype=np.float32) for _ in range(3)]
    staging = torch.empty((3, h, w), pin_memory=dev.type == "cuda")
    h_copy = _timed(lambda: _h2d(planes, dev), sync, reps) * 1e3
    h_pin = _timed(lambda: _h2d(planes, dev, staging), sync, reps) * 1e3
    if not torch.equal(_h2d(planes, dev).cpu(), _h2d(planes, dev, staging).cpu()):
        raise RuntimeError("pinned staging gave other values than copy_")
    cp = "n/a (no cupy)"
    if cupy is not None and dev.type == "cuda":
        cp = f"{_timed(lambda: [torch.from_dlpack(cupy.asarray(p)) for p in planes], sync, reps) * 1e3:.3f}"
    out = torch.rand((3, h, w), device=dev)
    dst = [np.empty((h, w), np.float32) for _ in range(3)]
    d_copy = _timed(lambda: _d2h(out, dst), sync, reps) * 1e3
    d_pin = _timed(lambda: _d2h(out, dst, staging), sync, reps) * 1e3
    return f"| {w}x{h} | {h_copy:.3f} | {h_pin:.3f} | {cp} | {d_copy:.3f} | {d_pin:.3f} |"


def transfer_rows(reps: int = 20, device: str = "cuda", sizes: tuple[tuple[int, int], ...] = SIZES) -> list[str]:
    """Markdown rows: ms per frame (3 float32 planes) host -> device and back, for each transfer method."""
    try:
        import cupy  # type: ignore[import-not-found]
    except ImportError:
        cupy = None
    return ["| size | H2D copy_ | H2D pinned | H2D cupy | D2H copy_ | D2H pinned |", "|---|---:|---:|---:|---:|---:|",
            *(_transfer_size(w, h, reps, cupy, device) for w, h in sizes)]


def _run_tests() -> tuple[int, list[str]]:
    root = Path(__file__).resolve().parents[2]
    cmd = [sys.executable, "-m", "pytest", "-q", "-m", "cuda", "-rs", "-p", "no:cacheprovider",
           str(root / "tests" / "test_cuda.py")]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TEST_TIMEOUT_S, cwd=root, check=False)
    except subprocess.TimeoutExpired:
        return 1, [f"CUDA tests: timed out after {TEST_TIMEOUT_S} s"]
    tail = (proc.stdout + proc.stderr).strip().splitlines()[-25:]
    return proc.returncode, [f"CUDA tests (rc {proc.returncode}):", *tail]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="gpu-check", description=__doc__.splitlines()[0])
    p.add_argument("--skip-tests", action="store_true", help="only the benchmark and transfer rows")
    p.add_argument("--out", default=None, help="also write the report to this file")
    args = p.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("gpu-check: torch is not installed, so there is no CUDA path to check here")
        return 0
    if not torch.cuda.is_available():
        print(f"gpu-check: no CUDA device (torch {torch.__version__}, CUDA build {torch.version.cuda or 'none'}); "
              "nothing to check on this machine")
        return 0
    t0 = time.time()
    props = torch.cuda.get_device_properties(0)
    lines = [f"gpu-check: {props.name}, {props.total_memory / 2**30:.0f} GiB, capability {props.major}.{props.minor}, "
             f"torch {torch.__version__}, CUDA {torch.version.cuda}"]
    rc = 0
    if not args.skip_tests:
        rc, out = _run_tests()
        lines += out
    with tempfile.TemporaryDirectory(prefix="vsrife-gpucheck-") as tmp:
        kw, source = _model_kwargs(Path(tmp))
        lines += ["", f"Benchmark ({source}, ensemble=False), s per interpolated frame, median of 10:", "",
                  *bench_rows(kw)]
    lines += ["", "Frame transfer, 3 float32 planes, ms per frame, median of 20:", "", *transfer_rows(),
              "", f"gpu-check: done in {time.time() - t0:.0f} s, tests {'passed' if rc == 0 else 'FAILED'}"]
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
