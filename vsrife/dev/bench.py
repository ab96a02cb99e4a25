"""CPU benchmark: vsrife through vspipe against eager PyTorch, a conv ceiling, vs-mlrt and mvtools.

Every contender interpolates real footage (Big Buck Bunny, 2x) in the same run:

* ``eager``   - the plain :class:`~vsrife.nn.ifnet.IFNet`, fp32, one pair per call (the baseline);
* ``conv``    - a large 3x3 convolution: the machine's practical GFLOP/s ceiling;
* ``vsrife``  - the real filter (``core.rife.RIFE`` or ``vsrife.RIFE``) run by ``vspipe``;
* ``vsrife-bf16`` - the same with ``fp16=True``: the blocks' convolutions in bfloat16 (CPUs with native bf16 only);
* ``vsrife-nofast`` - the same with ``VSRIFE_FAST=0`` (the engine's caches, but the plain model);
* ``vsrife-1stream`` - the same with ``VSRIFE_STREAMS=1`` (one pair at a time on all threads);
* ``vsrife-malloc0`` - the same with ``VSRIFE_MALLOC=0`` (glibc's default heap settings, see ``vsrife.heap``);
* ``vsrife-nofused`` - the same with ``VSRIFE_FUSED=0`` (FastV4's torch ops instead of the fused C kernels);
* ``vsrife-ensemble`` - the filter's default quality setting (``ensemble=True``: two passes per frame);
  the other rows run ``ensemble=False``, the same computation as the eager baseline and the ONNX export;
* ``ov``/``ort`` - vs-mlrt's OpenVINO / ONNX Runtime plugins running our model exported to ONNX;
* ``mvtools`` - ``mv.FlowFPS`` for scale.

Filters run in a fresh ``vspipe`` per run; a generated script stamps each output frame so that the
start-up and ``warmup`` pairs are excluded.  Seconds per interpolated frame are the median over
``runs``; effective GFLOP/s use one FLOP count of the eager forward pass (torch's FLOP counter).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from .. import settings
from ..nn.fast import bf16_supported
from ..weights.catalog import DEFAULT_MODEL

__all__ = ["COMPARISONS", "Result", "conv_ceiling", "count_flops", "main_bench", "render_table"]

COMPARISONS = ("eager", "conv", "vsrife", "vsrife-bf16", "vsrife-nofast", "vsrife-nofused", "vsrife-1stream",
               "vsrife-malloc0", "vsrife-ensemble", "ov", "ort", "mvtools")
REPO = Path(__file__).resolve().parent.parent
SETTING_VARIANTS: dict[str, dict[str, object]] = {  # contender -> settings of its vspipe processes
    "vsrife-nofast": {"fast": False}, "vsrife-1stream": {"streams": 1},
    "vsrife-malloc0": {"malloc": False}, "vsrife-nofused": {"fused": False}}


@dataclass
class Result:
    """One contender at one resolution."""

    name: str
    width: int
    height: int
    scale: float
    seconds: list[float] = field(default_factory=list)  # per interpolated frame, one per run
    peak_rss_mb: float | None = None
    gflops: float | None = None  # effective: model FLOPs per frame / seconds (conv row: measured)
    note: str = ""

    @property
    def median(self) -> float | None:
        return statistics.median(self.seconds) if self.seconds else None


# -- FLOPs and the ceiling ----------------------------------------------------------------------
def padded(h: int, w: int, multiple: int) -> tuple[int, int]:
    return (h + multiple - 1) // multiple * multiple, (w + multiple - 1) // multiple * multiple


def count_flops(h: int, w: int, scale: float = 1.0, model: str = DEFAULT_MODEL) -> float:
    """FLOPs of one eager forward pass (both encoders included) at the padded size of h x w."""
    from torch.utils.flop_counter import FlopCounterMode

    from ..weights import load_model

    net, _ = load_model(model)
    hp, wp = padded(h, w, net.arch.pad_multiple(scale))
    a = torch.rand(1, 3, hp, wp)
    with torch.inference_mode(), FlopCounterMode(display=False) as fc:
        net.float().eval()(a, a, 0.5, scale=scale)
    return float(fc.get_total_flops())


def conv_ceiling(size: tuple[int, int] = (192, 320), channels: int = 128, runs: int = 5) -> tuple[float, list[float]]:
    """GFLOP/s of a 3x3 conv (channels_last, fp32): median and per-run values."""
    conv = torch.nn.Conv2d(channels, channels, 3, padding=1).eval().to(memory_format=torch.channels_last)
    x = torch.rand(1, channels, *size).contiguous(memory_format=torch.channels_last)
    flops = 2.0 * channels * channels * 9 * size[0] * size[1]
    per = []
    with torch.inference_mode():
        conv(x)
        for _ in range(runs):
            t = time.perf_counter()
            conv(x)
            per.append(flops / (time.perf_counter() - t) / 1e9)
    return statistics.median(per), per


# -- eager baseline -------------------------------------------------------------------------------
def _source_rgb(footage: Path, w: int, h: int, start: int, count: int) -> list[torch.Tensor]:
    import numpy as np
    import vapoursynth as vs

    core = vs.core
    clip = core.bs.VideoSource(str(footage))[start:start + count]
    clip = core.resize.Bicubic(clip, w, h, format=vs.RGBS, matrix_in_s="709")
    out = []
    for f in clip.frames():
        out.append(torch.from_numpy(np.stack([np.asarray(f[p]) for p in range(3)])).unsqueeze(0).clone())
    return out


def time_eager(footage: Path, w: int, h: int, scale: float, runs: int, start: int = 30,
               model: str = DEFAULT_MODEL) -> Result:
    """The plain model, fp32 NCHW, one pair per call, both encoders each call."""
    import torch.nn.functional as F

    from ..weights import load_model

    net, _ = load_model(model)
    net = net.float().eval()
    hp, wp = padded(h, w, net.arch.pad_multiple(scale))
    frames = [F.pad(x, (0, wp - w, 0, hp - h), mode="replicate") for x in _source_rgb(footage, w, h, start, runs + 2)]
    res = Result("eager", w, h, scale, note="plain IFNet fp32, one pair per call")
    with torch.inference_mode():
        net(frames[0], frames[1], 0.5, scale=scale)  # warm-up
        for i in range(1, runs + 1):
            t = time.perf_counter()
            net(frames[i], frames[i + 1], 0.5, scale=scale)
            res.seconds.append(time.perf_counter() - t)
    res.peak_rss_mb = peak_rss_mb()
    return res


def peak_rss_mb() -> float | None:
    """This process's peak resident memory in MB; None where there is no ``resource`` module (Windows)."""
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


# -- filters through vspipe ---------------------------------------------------------------------------
SCRIPT = r'''
import json, sys, time
import vapoursynth as vs
def peak_rss_mb():  # as vsrife.dev.bench.peak_rss_mb (not imported: only some contenders import vsrife)
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024
core = vs.core
cfg = json.loads(open(CFG_PATH).read())
t_start = time.perf_counter()
clip = core.bs.VideoSource(cfg["footage"])[cfg["start"]:cfg["start"] + cfg["pairs"] + 1]
if (clip.width, clip.height) != (cfg["w"], cfg["h"]):
    clip = core.resize.Bicubic(clip, cfg["w"], cfg["h"])
kind = cfg["kind"]
if kind == "vsrife":
    if hasattr(core, "rife"):
        out = core.rife.RIFE(clip, multi=2, sc=False, scale=cfg["scale"], device="cpu", ensemble=cfg["ensemble"],
                             fp16=cfg["fp16"])
    else:
        import vsrife
        out = vsrife.RIFE(clip, multi=2, sc=False, scale=cfg["scale"], device="cpu", ensemble=cfg["ensemble"],
                          fp16=cfg["fp16"])
elif kind in ("ov", "ort"):
    rgb = core.resize.Bicubic(clip, format=vs.RGBS, matrix_in_s="709")
    pad = rgb.std.AddBorders(right=cfg["wp"] - cfg["w"], bottom=cfg["hp"] - cfg["h"])
    a, b = pad[:-1], pad[1:]
    t = core.std.BlankClip(a, format=vs.GRAYS, color=0.5)
    if kind == "ov":
        mid = core.ov.Model([a, b, t], network_path=cfg["onnx"], num_streams=cfg["streams"])
    else:
        mid = core.ort.Model([a, b, t], network_path=cfg["onnx"], provider="CPU", num_streams=cfg["streams"])
    mid = mid.std.Crop(right=cfg["wp"] - cfg["w"], bottom=cfg["hp"] - cfg["h"])
    out = core.std.Interleave([rgb[:-1], mid]).resize.Bicubic(format=clip.format.id, matrix_s="709")
elif kind == "mvtools":
    sup = core.mv.Super(clip, pel=2)
    bv = core.mv.Analyse(sup, isb=True)
    fv = core.mv.Analyse(sup, isb=False)
    out = core.mv.FlowFPS(clip, sup, bv, fv, num=2 * clip.fps.numerator, den=clip.fps.denominator)
else:
    raise InputError(kind)
stamps = []
need = 2 * cfg["pairs"]
def stamp(n, f):
    stamps.append(time.perf_counter())
    if len(stamps) == need:
        json.dump({"stamps": sorted(stamps), "start": t_start, "rss_mb": peak_rss_mb()}, open(cfg["result"], "w"))
    return f
out[:need].std.ModifyFrame(out[:need], stamp).set_output()
'''


def vspipe_path() -> str:
    exe = Path(sys.executable).with_name("vspipe")
    return str(exe) if exe.exists() else (shutil.which("vspipe") or "vspipe")


def run_filter(kind: str, footage: Path, w: int, h: int, scale: float, runs: int, pairs: int, warmup: int,
               workdir: Path, start: int = 30, onnx: Path | None = None, pad: tuple[int, int] | None = None,
               streams: int = 2, env: dict[str, str] | None = None, ensemble: bool = False,
               fp16: bool = False) -> Result:
    """Run one filter graph in ``runs`` fresh vspipe processes; per-frame time excludes the warm-up pairs."""
    res = Result(kind, w, h, scale)
    result_path = workdir / f"{kind}.json"
    cfg: dict[str, object] = {
        "kind": kind, "footage": str(footage), "w": w, "h": h, "scale": scale, "start": start, "pairs": pairs,
        "onnx": str(onnx.resolve()) if onnx else "", "streams": streams, "ensemble": int(ensemble),
        "fp16": int(fp16), "result": str(result_path)}
    if pad:
        cfg["hp"], cfg["wp"] = pad
    cfg_path = workdir / f"{kind}_cfg.json"
    cfg_path.write_text(json.dumps(cfg))
    script = workdir / f"{kind}.vpy"
    script.write_text(f"CFG_PATH = {str(cfg_path)!r}\n" + SCRIPT)
    penv = dict(os.environ)
    penv["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [penv.get("PYTHONPATH")])])
    penv.update(env or {})
    rss = []
    for _ in range(runs):
        result_path.unlink(missing_ok=True)
        p = subprocess.run([vspipe_path(), "-e", str(2 * pairs - 1), str(script), "--"], env=penv,
                           capture_output=True, text=True)
        if p.returncode != 0 or not result_path.exists():
            res.note = f"failed: {(p.stderr or p.stdout).strip().splitlines()[-1:] or ['no output']}"[:300]
            return res
        data = json.loads(result_path.read_text())
        st = data["stamps"]
        t0 = st[2 * warmup - 1] if warmup else data["start"]
        res.seconds.append((st[-1] - t0) / (pairs - warmup))
        rss.append(data["rss_mb"])
    res.peak_rss_mb = None if None in rss else max(rss)
    return res


def export_for(w: int, h: int, scale: float, outdir: Path, model: str = DEFAULT_MODEL,
               warp: str = "gridsample") -> tuple[Path, tuple[int, int]]:
    """ONNX export of ``model`` at the padded size of w x h (cached under ``outdir``)."""
    from ..weights import resolve
    from .export import export_onnx

    hp, wp = padded(h, w, resolve(model).arch.pad_multiple(scale))
    path = outdir / f"rife_{model}_{wp}x{hp}_s{scale:g}_{warp}.onnx"
    if not path.exists():
        export_onnx(path, hp, wp, model=model, scale=scale, warp=warp)
    return path, (hp, wp)


# -- report ------------------------------------------------------------------------------------------
def render_table(results: Sequence[Result], ceiling: float | None) -> str:
    """Markdown table: per resolution, seconds per interpolated frame and ratios to eager."""
    lines = ["| size | scale | contender | s/frame (median) | runs | speed-up vs eager | eff. GFLOP/s "
             "| % of conv ceiling | peak RSS MB | note |", "|---|---|---|---|---|---|---|---|---|---|"]
    base = {(r.width, r.height): r.median for r in results if r.name == "eager" and r.median}
    for r in results:
        if r.name == "conv":
            n = len(r.seconds)
            lines.append(f"| - | - | conv 3x3 ceiling | - | {n} | - | {r.gflops:.1f} | 100 | - | {r.note} |")
            continue
        med, b = r.median, base.get((r.width, r.height))
        ratio = f"{b / med:.2f}x" if med and b else "-"
        gf = f"{r.gflops:.1f}" if r.gflops else "-"
        pct = f"{100 * r.gflops / ceiling:.0f}" if r.gflops and ceiling else "-"
        rss = f"{r.peak_rss_mb:.0f}" if r.peak_rss_mb else "-"
        s = f"{med:.3f}" if med else "-"
        lines.append(f"| {r.width}x{r.height} | {r.scale:g} | {r.name} | {s} | {len(r.seconds)} | {ratio} | {gf} "
                     f"| {pct} | {rss} | {r.note} |")
    return "\n".join(lines)


def plot(results: Sequence[Result], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in results if r.name != "conv" and r.median]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 1.2))
    labels = [f"{r.name} {r.width}x{r.height} s={r.scale:g}" for r in rows]
    ax.barh(labels, [r.median or 0.0 for r in rows], color=["C0" if r.name == "vsrife" else "C7" for r in rows])
    ax.invert_yaxis()
    ax.set_xlabel("seconds per interpolated frame (lower is better)")
    ax.set_title("2x interpolation on this CPU")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


@dataclass
class _Job:
    """What every contender of one benchmark size shares."""

    video: Path
    w: int
    h: int
    scale: float
    runs: int
    pairs: int
    warmup: int
    work: Path
    outdir: Path
    streams: int

    def vspipe(self, kind: str, **kw: Any) -> Result:
        return run_filter(kind, self.video, self.w, self.h, self.scale, self.runs, self.pairs, self.warmup,
                          self.work, **kw)


def _vs_mlrt(name: str, job: _Job) -> Result:
    try:
        # vs-mlrt's ONNX Runtime has no GridSample kernel: export Gather-based warps for it
        warp = "gather" if name == "ort" else "gridsample"
        onnx, pad = export_for(job.w, job.h, job.scale, job.outdir / "onnx", warp=warp)
    except Exception as e:  # reported in the table instead
        return Result(name, job.w, job.h, job.scale, note=f"ONNX export failed: {e}"[:200])
    r = job.vspipe(name, onnx=onnx, pad=pad, streams=job.streams)
    r.note = r.note or f"vs-mlrt {name}, {job.streams} streams, our ONNX ({warp} warp)"
    return r


def _contender(name: str, job: _Job) -> Result:
    """Time one contender at the job's size."""
    if name == "eager":
        return time_eager(job.video, job.w, job.h, job.scale, job.runs)
    if name in ("ov", "ort"):
        return _vs_mlrt(name, job)
    if name == "vsrife-bf16":
        if not bf16_supported():
            return Result(name, job.w, job.h, job.scale, note="this CPU has no native bf16 instructions")
        r = job.vspipe("vsrife", fp16=True)
        r.name, r.note = name, r.note or "vspipe, multi=2, sc=False, fp16=True (bf16 convolutions)"
    elif name == "vsrife-ensemble":
        r = job.vspipe("vsrife", ensemble=True)
        r.name, r.note = name, r.note or "vspipe, multi=2, sc=False, ensemble=True (2 passes)"
    elif name in SETTING_VARIANTS:
        env = settings.to_env(**SETTING_VARIANTS[name])
        r = job.vspipe("vsrife", env=env)
        desc = ", ".join(f"{k}={v}" for k, v in env.items())
        r.name, r.note = name, r.note or f"vspipe, multi=2, sc=False, {desc}"
    else:
        r = job.vspipe(name)
        r.note = r.note or ("vspipe, multi=2, sc=False, ensemble=False" if name == "vsrife" else "vspipe, FlowFPS 2x")
    return r


def main_bench(sizes: Sequence[tuple[int, int, float]], runs: int, pairs: int, warmup: int,
               compare: Sequence[str], outdir: Path, footage: Path, streams: int = 2,
               log: Callable[[str], None] = print) -> list[Result]:
    """Run every contender in ``compare`` at each (w, h, scale); write bench.json, bench.png, bench.md."""
    outdir.mkdir(parents=True, exist_ok=True)
    results: list[Result] = []
    ceiling = None
    if "conv" in compare:
        ceiling, per = conv_ceiling(runs=max(runs, 3))
        results.append(Result("conv", 0, 0, 1.0, seconds=[1 / g for g in per], gflops=ceiling,
                              note="1x128x192x320 3x3 conv, channels_last; seconds column unused"))
        log(f"conv ceiling: {ceiling:.1f} GFLOP/s")
    with tempfile.TemporaryDirectory(prefix="vsrife-bench-") as tmp:
        for w, h, scale in sizes:
            job = _Job(footage / "bigbuckbunny.mp4", w, h, scale, runs, pairs, warmup, Path(tmp), outdir, streams)
            flops = count_flops(h, w, scale)
            log(f"{w}x{h} scale={scale:g}: {flops / 1e9:.1f} GFLOP per interpolated frame (eager, padded)")
            for name in (n for n in compare if n != "conv"):
                log(f"  {name} ...")
                r = _contender(name, job)
                if r.median and name != "mvtools":
                    r.gflops = flops / r.median / 1e9
                results.append(r)
                log(f"    {r.median if r.median else float('nan'):.3f} s/frame {r.note}")
    table = render_table(results, ceiling)
    meta = {"torch": torch.__version__, "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
            "runs": runs, "pairs": pairs, "warmup": warmup, "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    (outdir / "bench.json").write_text(json.dumps(
        {"meta": meta, "conv_ceiling_gflops": ceiling,
         "results": [asdict(r) | {"median": r.median} for r in results]}, indent=1))
    (outdir / "bench.md").write_text(table + "\n")
    plot(results, outdir / "bench.png")
    log(table)
    return results
