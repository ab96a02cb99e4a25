"""The CUDA path (marked ``cuda``, skipped without a CUDA device; ``make gpu-check`` runs them) and the fp16
branches it uses, run on the CPU so that they are not dead code where there is no GPU (issue 17).

Nothing is fetched here: a GPU machine may be offline.  The cached 4.25 weights and footage are used when
present, else a random-init 4.25-layout file and a synthetic texture.
"""

from __future__ import annotations

import gc
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import vapoursynth as vs
from helpers import clip_from_arrays, psnr, read_video, textured

import vsrife
import vsrife.engine.engine
from vsrife import weights as registry
from vsrife.engine import Engine
from vsrife.engine.models import release
from vsrife.nn import IFNet

core = vs.core
CUDA = torch.cuda.is_available()


def on_cuda(test):
    """Marked ``cuda`` (``pytest -m cuda``, ``make gpu-check``) and skipped without a CUDA device."""
    return pytest.mark.cuda(pytest.mark.skipif(not CUDA, reason="no CUDA device")(test))


FORMATS = [vs.YUV420P8, vs.YUV420P10, vs.YUV444PS, vs.RGB24, vs.RGBS, vs.GRAY8, vs.YUV422P16, vs.YUV410P8,
           vs.YUV411P8, vs.YUV440P8, vs.RGBH, vs.GRAYS, vs.YUV444P12]


@pytest.fixture(scope="module")
def all_models() -> list[str]:
    """Overrides conftest's: only what is cached (nothing is downloaded here)."""
    return [n for n in registry.MODELS if not registry.verify(n)]


@pytest.fixture(scope="module")
def model_kw(all_models: list[str], tmp_path_factory: pytest.TempPathFactory) -> dict:
    if registry.DEFAULT.name in all_models:
        return {"model": registry.DEFAULT.name}
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("w") / "random_4.25.pkl"
    torch.save(IFNet(registry.DEFAULT.arch).state_dict(), path)
    return {"model_path": str(path)}


@pytest.fixture(scope="module")
def pair() -> tuple[torch.Tensor, torch.Tensor]:
    """Two neighbouring frames [3,256,512]: Big Buck Bunny 40/41 when cached, else a moving texture."""
    if not registry.verify("footage"):
        raw = read_video(registry.locate("footage") / "bigbuckbunny.mp4", 1280, 720, 2, start=40)
        t = F.interpolate(torch.from_numpy(raw.copy()).permute(0, 3, 1, 2).float() / 255, size=(256, 512),
                          mode="area")
        return t[0], t[1]
    tex = torch.from_numpy(textured(256, 512 + 8, seed=4))
    return tex[:, :, :512].contiguous(), tex[:, :, 6:518].contiguous()


def _digest(frame: vs.VideoFrame) -> str:
    h = hashlib.sha1()
    for p in range(frame.format.num_planes):
        h.update(np.asarray(frame[p]).tobytes())
    return h.hexdigest()


def _moving(n: int = 3, h: int = 96, w: int = 128) -> vs.VideoNode:
    tex = textured(h, w + 4 * n + 8, seed=3)
    return clip_from_arrays([np.ascontiguousarray(tex[:, :, 4 * k:4 * k + w]) for k in range(n)], vs.RGBS)


def _planes(frame: vs.VideoFrame) -> np.ndarray:
    fmt = frame.format
    scale = 1.0 if fmt.sample_type == vs.FLOAT else float(2**fmt.bits_per_sample - 1)
    return np.concatenate([np.asarray(frame[p], dtype=np.float64).ravel() / scale for p in range(fmt.num_planes)])


class _GridSampleDtypes:
    """Records the dtype of every grid_sample input (the warps) while active."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.seen: list[torch.dtype] = []
        orig = F.grid_sample

        def spy(inp, grid, *a, **k):
            self.seen.append(inp.dtype)
            self.seen.append(grid.dtype)
            return orig(inp, grid, *a, **k)

        monkeypatch.setattr(F, "grid_sample", spy)


@on_cuda
@pytest.mark.parametrize("ensemble", [False, True])
@pytest.mark.parametrize("fp16", [False, True])
def test_cuda_matches_cpu_fp32(model_kw: dict, pair, fp16: bool, ensemble: bool) -> None:
    a, b = pair
    ref = Engine(device="cpu", ensemble=ensemble, **model_kw).interpolate(a, b, 0.5)
    eng = Engine(device="cuda", fp16=fp16, ensemble=ensemble, **model_kw)
    assert eng.dtype == (torch.float16 if fp16 else torch.float32)
    got = eng.interpolate(a, b, 0.5)
    assert got.device.type == "cpu" and got.dtype == torch.float32
    assert psnr(got.numpy(), ref.numpy(), peak=1.0) >= 45.0


@on_cuda
def test_cuda_fp16_warps_in_fp32(model_kw: dict, pair, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = pair
    eng = Engine(device="cuda", fp16=True, **model_kw)
    spy = _GridSampleDtypes(monkeypatch)
    out = eng.interpolate(a, b, [0.3, 0.7], to_cpu=False)
    assert out.dtype == torch.float16 and out.device.type == "cuda"
    assert spy.seen and set(spy.seen) == {torch.float32}


@on_cuda
@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: core.get_video_format(f).name)
def test_cuda_every_format_source_frames_bit_exact(model_kw: dict, fmt: int) -> None:
    rgb = _moving()
    kw = {"matrix_s": "709"} if core.get_video_format(fmt).color_family != vs.RGB else {}
    src = rgb.resize.Bicubic(format=fmt, **kw)
    gpu = vsrife.RIFE(src, multi=2, device="cuda", fp16=True, **model_kw)
    cpu = vsrife.RIFE(src, multi=2, device="cpu", **model_kw)
    assert (gpu.format.id, gpu.width, gpu.height, gpu.num_frames) == (src.format.id, 128, 96, 6)
    for n in range(6):
        f = gpu.get_frame(n)
        if n % 2 == 0:
            assert _digest(f) == _digest(src.get_frame(n // 2))
        elif n < 4:
            assert psnr(_planes(f), _planes(cpu.get_frame(n)), peak=1.0) >= 40.0  # includes 8-bit rounding


@on_cuda
def test_cuda_threads_bit_identical(model_kw: dict) -> None:
    src = _moving(6).resize.Bicubic(format=vs.YUV420P10, matrix_s="709")
    old = core.num_threads
    try:
        runs = []
        for nt in (1, 4):
            core.num_threads = nt
            out = vsrife.RIFE(src, multi=3, device="cuda", fp16=True, **model_kw)
            runs.append([_digest(out.get_frame(n)) for n in range(out.num_frames)])
    finally:
        core.num_threads = old
    assert runs[0] == runs[1]


@on_cuda
def test_cuda_memory_released(model_kw: dict) -> None:
    release()
    base = torch.cuda.memory_allocated()
    out = vsrife.RIFE(_moving(8, 256, 384), multi=2, device="cuda", **model_kw)
    out.get_frame(1)
    first = torch.cuda.memory_allocated()
    for n in range(2, out.num_frames):
        out.get_frame(n)
    assert torch.cuda.memory_allocated() <= first + 8 * 2**20  # no growth per frame beyond the frame cache
    del out
    gc.collect()
    release()
    assert torch.cuda.memory_allocated() <= base + 2**20


def _cpu_as_cuda_precision(device: torch.device, fp16: bool) -> tuple[torch.dtype, torch.dtype]:
    """The CUDA branch of ``engine.precision`` on any device: float16 network and frames."""
    return (torch.float16 if fp16 else torch.float32), torch.float32


def test_fp16_branches_on_cpu(all_models: list[str], model_kw: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """fp16=True as on CUDA, run on the CPU: float16 convolutions, float32 warps, frames written from half."""
    monkeypatch.setattr(vsrife.engine.engine, "precision", _cpu_as_cuda_precision)
    tex = torch.from_numpy(textured(64, 104, seed=6))
    a, b = tex[:, :, :96].contiguous(), tex[:, :, 6:102].contiguous()
    ref = Engine(device="cpu", ensemble=False, **model_kw).interpolate(a, b, 0.5)
    eng = Engine(device="cpu", fp16=True, ensemble=False, **model_kw)
    assert eng.dtype == torch.float16 and eng.fast is None and next(eng.net.parameters()).dtype == torch.float16
    spy = _GridSampleDtypes(monkeypatch)
    half = eng.interpolate(a, b, 0.5, to_cpu=False)
    assert half.dtype == torch.float16 and set(spy.seen) == {torch.float32}
    got = eng.interpolate(a, b, 0.5)
    assert got.dtype == torch.float32 and 45.0 <= psnr(got.numpy(), ref.numpy(), peak=1.0) < 150.0  # 72 dB here
    clip = _moving(2, 64, 96)
    out = vsrife.RIFE(clip, multi=2, device="cpu", fp16=True, ensemble=False, sc=False, **model_kw)
    assert _digest(out.get_frame(0)) == _digest(clip.get_frame(0))
    mid = np.stack([np.asarray(out.get_frame(1)[p]) for p in range(3)])
    full = vsrife.RIFE(clip, multi=2, device="cpu", ensemble=False, sc=False, **model_kw).get_frame(1)
    assert 45.0 <= psnr(mid, np.stack([np.asarray(full[p]) for p in range(3)]), peak=1.0) < 150.0


def test_gpu_check_says_so_in_one_line_without_cuda() -> None:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([sys.executable, "-m", "vsrife.dev.gpucheck"], capture_output=True, text=True, env=env,
                          cwd=Path(__file__).resolve().parents[1], timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("\n") == 1 and proc.stdout.startswith("gpu-check: no CUDA device (torch ")


def test_gpu_check_rows_dry_run_on_cpu(model_kw: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """The benchmark and transfer code of gpu-check, run on the CPU at a small size (fp16 as on CUDA)."""
    from vsrife.dev import gpucheck

    monkeypatch.setattr(vsrife.engine.engine, "precision", _cpu_as_cuda_precision)
    bench = gpucheck.bench_rows(model_kw, reps=1, device="cpu", sizes=((96, 64),))
    transfer = gpucheck.transfer_rows(reps=2, device="cpu", sizes=((96, 64),))
    assert len(bench) == len(transfer) == 3
    assert bench[2].startswith("| 96x64 | ") and bench[2].count("|") == 8
    assert transfer[2].startswith("| 96x64 | ") and "n/a" in transfer[2]
