"""The benchmark runs end to end on a tiny input; the CPU fast path and the ONNX export match eager PyTorch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import vapoursynth as vs
from helpers import psnr, read_video

from vsrife import settings
from vsrife.cli import main
from vsrife.dev.export import export_onnx, gather_warp
from vsrife.engine import Engine
from vsrife.nn.fast import FastV4
from vsrife.nn.warp import warp
from vsrife.weights import load_model

core = vs.core


@pytest.fixture(scope="module")
def bbb(footage: Path) -> torch.Tensor:
    """Two neighbouring Big Buck Bunny frames (720p), RGB [2,3,H,W] in [0,1]."""
    raw = read_video(footage / "bigbuckbunny.mp4", 1280, 720, 2, start=40)
    return torch.from_numpy(raw.copy()).permute(0, 3, 1, 2).float() / 255


def _pair(frames: torch.Tensor, h: int = 144, w: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """The two frames downscaled to h x w, each [1,3,h,w]."""
    t = F.interpolate(frames, size=(h, w), mode="area")
    return t[:1], t[1:]


def _eager(model: str, a: torch.Tensor, b: torch.Tensor, ts: list[float], ensemble: bool = False,
           scale: float = 1.0) -> np.ndarray:
    net, _ = load_model(model)
    net = net.float().eval()
    h, w = a.shape[-2:]
    m = net.arch.pad_multiple(scale)
    hp, wp = -(-h // m) * m, -(-w // m) * m
    pa, pb = (F.pad(x, (0, wp - w, 0, hp - h), mode="replicate") for x in (a, b))
    with torch.inference_mode():
        out = [net(pa, pb, t, ensemble=ensemble, scale=scale, refine=net.arch.refines).image[:, :, :h, :w] for t in ts]
    return torch.cat(out).numpy()


@pytest.mark.parametrize(("model", "ensemble", "scale"), [
    ("4.25", False, 1.0), ("4.25", True, 1.0), ("4.0", False, 1.0), ("4.25", False, 0.5), ("4.0", False, 0.25),
    ("4.0", True, 1.0), ("4.6", True, 1.0), ("4.6", False, 0.5)])
def test_fast_path_matches_eager_on_footage(bbb: torch.Tensor, model: str, ensemble: bool, scale: float) -> None:
    """The CPU fast path the filter uses stays within 50 dB PSNR of the fp32 eager model (issue 5's bound).

    At scale 1 blocks 1-2, at 0.5 blocks 1-3 and at 0.25 every block after the first read their inputs
    only at the points their downscale samples (FastV4's sparse inputs).
    """
    a, b = _pair(bbb)
    eng = Engine(model=model, device="cpu", ensemble=ensemble, scale=scale)
    assert isinstance(eng.fast, FastV4)
    ts = [0.25, 0.5]
    fast = eng.interpolate(a[0], b[0], ts).numpy()
    ref = _eager(model, a, b, ts, ensemble, scale)
    assert fast.shape == ref.shape == (2, 3, 144, 256)
    for k in range(2):
        assert psnr(fast[k], ref[k], peak=1.0) >= 50.0
    # the frame really is in between: closer to the blend of both than either source is
    mid = (a[0] + b[0]).numpy() / 2
    assert psnr(fast[1], mid, peak=1.0) > psnr(a[0].numpy(), b[0].numpy(), peak=1.0)


def test_streams_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Engine(model="4.25", device="cpu", streams=3).streams == 3
    with settings.override(streams=1):
        assert Engine(model="4.25", device="cpu").streams == 1
    for bad in (0, 65, 1.5, True):
        with pytest.raises(ValueError, match=r"streams must be an integer in 1\.\.64"):
            Engine(model="4.25", device="cpu", streams=bad)
    with pytest.raises(ValueError, match=r"\$VSRIFE_STREAMS must be an integer in 1..64, got 'two'"):
        settings.from_env({"VSRIFE_STREAMS": "two"})


def test_fast_path_only_where_supported() -> None:
    assert isinstance(Engine(model="4.25", device="cpu").fast, FastV4)  # default: ensemble on
    assert isinstance(Engine(model="4.0", device="cpu", ensemble=True).fast, FastV4)  # 4.0's blockwise ensemble
    assert Engine(model="hd", device="cpu").fast is None


def test_gather_warp_equals_grid_sample() -> None:
    g = torch.Generator().manual_seed(1)
    img = torch.rand(2, 7, 24, 40, generator=g)
    flow = torch.randn(2, 2, 24, 40, generator=g) * 9  # large: many samples clamp at the border
    assert torch.allclose(gather_warp(img, flow), warp(img, flow), atol=1e-5)


def test_onnx_export_runs_in_vs_mlrt(bbb: torch.Tensor, tmp_path: Path) -> None:
    """Our exported model gives the eager frame through vs-mlrt's OpenVINO plugin (Gather warps for ORT)."""
    if not hasattr(core, "ov"):
        pytest.fail("vs-mlrt's OpenVINO plugin (vapoursynth-mlrt-ov) is not installed")
    a, b = _pair(bbb, 128, 192)
    path = export_onnx(tmp_path / "rife.onnx", 128, 192)

    def clip(x: torch.Tensor) -> vs.VideoNode:
        c = core.std.BlankClip(width=192, height=128, format=vs.RGBS, length=1)
        arr = x[0].numpy()

        def fill(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
            out = f.copy()
            for p in range(3):
                np.asarray(out[p])[...] = arr[p]
            return out

        return c.std.ModifyFrame(c, fill)

    ca, cb = clip(a), clip(b)
    t = core.std.BlankClip(ca, format=vs.GRAYS, color=0.5)
    f = core.ov.Model([ca, cb, t], network_path=str(path)).get_frame(0)
    got = np.stack([np.asarray(f[p]) for p in range(3)])
    ref = _eager("4.25", a, b, [0.5])[0]
    assert psnr(got, ref, peak=1.0) >= 45.0


def test_bench_cli_tiny(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``vsrife bench --tiny``: the filter really runs in vspipe next to eager torch, the ceiling and mvtools."""
    out = tmp_path / "bench"
    assert main(["bench", "--tiny", "--compare", "eager", "conv", "vsrife", "mvtools", "--out", str(out)]) == 0
    data = json.loads((out / "bench.json").read_text())
    rows = {r["name"]: r for r in data["results"]}
    assert set(rows) == {"eager", "conv", "vsrife", "mvtools"}
    for name in ("eager", "vsrife", "mvtools"):
        assert rows[name]["median"] > 0, rows[name]
        assert (rows[name]["width"], rows[name]["height"]) == (128, 72)
    assert rows["vsrife"]["peak_rss_mb"] > 50
    assert data["conv_ceiling_gflops"] > 0.5
    assert (out / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| 128x72 | 1 | vsrife |" in (out / "bench.md").read_text()
    assert "speed-up vs eager" in capsys.readouterr().out


def test_bench_cli_rejects_bad_size(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["bench", "--sizes", "720x"])
    assert e.value.code == 2
    assert "720p, 1080p, WxH or WxH@scale" in capsys.readouterr().err


_HEAP_PROBE = """
import resource, threading
from vsrife.heap import keep_freed_memory  # as vsrife does on import: before torch is imported
on = keep_freed_memory()
import torch
from vsrife.nn.fast import FastV4
from vsrife.weights import load_model
torch.set_num_threads(1)
fast = FastV4(load_model("4.25")[0].eval())
a = torch.rand(1, 3, 768, 1280)
x0, x1 = fast.source(a), fast.source(a.roll(4, -1))
faults = []
def work():  # like a VapourSynth worker thread started after the script was evaluated
    with torch.inference_mode():
        for _ in range(5):
            r0 = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
            fast.interpolate(x0, x1, torch.full((1,), 0.5))
            faults.append(resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - r0)
t = threading.Thread(target=work)
t.start(); t.join()
print(on, min(faults[2:]))
"""


@pytest.mark.parametrize("setting", ["1", "0"])
def test_heap_settings_reuse_freed_tensor_memory(setting: str) -> None:
    """With vsrife.heap's settings a 720p pass in a worker thread reuses the memory of the previous one."""
    import os
    import platform
    import subprocess
    import sys

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("glibc only")
    env = {**os.environ, "VSRIFE_MALLOC": setting}
    out = subprocess.run([sys.executable, "-c", _HEAP_PROBE], env=env, capture_output=True, text=True, check=True)
    on, faults = out.stdout.split()
    if setting == "1":
        assert on == "True" and int(faults) < 10000  # pages reused (measured: 0-6,000 once warm)
    else:
        assert on == "False" and int(faults) > 20000  # glibc's defaults: ~60,000 fresh pages per pass
