"""Picture quality on the public corpus (:mod:`vsrife.weights.corpus`), and leave-one-clip-out selection.

Tasks per clip: ``1/2`` rebuilds the middle frame of triplets (every other frame dropped) and
``1/3,2/3`` rebuilds the two inner frames of runs of four (2 of every 3 frames dropped, as in
``multi=3`` and rate conversion).  Samples whose inputs differ like a scene cut are skipped (the
manifest's frames already avoid its listed cuts).  Metrics as in :mod:`vsrife.dev.evaluate`: PSNR on
RGB (8 bit) and SSIM on Y.  A clip's score is the mean of its two task means; the corpus score is
the mean over clips, so that no clip weighs more than another.

Rebuilt frames can be cached on disk per method and clip (``cache``), so that sweeps over many
settings rerun cheaply; the cache key is the method's name, so give each setting its own label.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..weights import corpus
from . import evaluate as ev

__all__ = ["TASKS", "CorpusResult", "Sample", "clip_scores", "evaluate_corpus", "load_samples", "loco",
           "mean_over_clips", "table"]

TASKS: dict[str, int] = {"1/2": 2, "1/3,2/3": 3}  # task -> multi


@dataclass
class Sample:
    """Two inputs and the ``multi - 1`` true frames between them, [H, W, 3] uint8 RGB."""

    clip: str
    task: str
    start: int  # frame number of the first input
    first: np.ndarray
    last: np.ndarray
    truths: list[np.ndarray]

    @property
    def multi(self) -> int:
        return len(self.truths) + 1

    @property
    def key(self) -> str:
        return f"{self.task}@{self.start}"


@dataclass
class CorpusResult:
    clip: str
    task: str
    frame: int  # the rebuilt frame's number
    method: str
    psnr: float
    ssim: float
    seconds: float  # wall time per rebuilt frame (this clip and task)


def _video_frames(path: Path, numbers: set[int], max_height: int | None) -> dict[int, np.ndarray]:
    import vapoursynth as vs

    clip = vs.core.bs.VideoSource(str(path))
    rgb = ev._rgb24(clip)
    if max_height is not None and clip.height > max_height:
        w = round(clip.width * max_height / clip.height / 2) * 2
        rgb = rgb.resize.Bicubic(w, max_height)
    return {n: ev._array(rgb.get_frame(n)) for n in sorted(numbers)}


def _numbers(c: corpus.Clip) -> set[int]:
    return {c0 + d for c0 in c.triplets for d in (-1, 0, 1)} | {s + d for s in c.quads for d in range(4)}


def load_samples(clips: Sequence[corpus.Clip] | None = None, root: Path | None = None,
                 max_height: int | None = None, log: Callable[[str], None] = lambda s: None) -> list[Sample]:
    """The samples of every task of ``clips`` (default: the whole corpus, which must be fetched)."""
    from ..weights.packages import locate_corpus
    from . import lineart

    chosen = list(corpus.CLIPS if clips is None else clips)
    real = [c for c in chosen if not c.synthetic]
    folder = locate_corpus(root, real) if real else None
    out: list[Sample] = []
    for c in chosen:
        nums = _numbers(c)
        if c.synthetic:
            h = c.size_wh[1] if max_height is None else min(max_height, c.size_wh[1])
            fr = {n: lineart.frame(n, round(c.size_wh[0] * h / c.size_wh[1] / 2) * 2, h) for n in sorted(nums)}
        else:
            assert folder is not None
            fr = _video_frames(folder / c.file, nums, max_height)
        for task, starts in (("1/2", [m - 1 for m in c.triplets]), ("1/3,2/3", list(c.quads))):
            m = TASKS[task]
            for s in starts:
                smp = Sample(c.name, task, s, fr[s], fr[s + m], [fr[s + k] for k in range(1, m)])
                if ev.is_cut(ev.Triplet(c.name, str(s), smp.first, smp.truths[0], smp.last)):
                    log(f"skipped {c.name} {smp.key}: the inputs differ like a scene cut")
                    continue
                out.append(smp)
    return out


# -- running methods -------------------------------------------------------------------------------
def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_.+" else "_" for ch in name)


def _cached(cache: Path | None, method: str, clip: str) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    if cache is None:
        return {}, {}
    d = cache / _slug(method)
    try:
        with np.load(d / f"{clip}.npz") as z:
            frames = {k: z[k] for k in z.files}
        return frames, json.loads((d / f"{clip}.json").read_text())
    except (OSError, ValueError):
        return {}, {}


def _store(cache: Path | None, method: str, clip: str, frames: dict[str, np.ndarray], secs: dict[str, float]) -> None:
    if cache is None:
        return
    d = cache / _slug(method)
    d.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(d / f"{clip}.npz", **frames)  # type: ignore[arg-type]
    (d / f"{clip}.json").write_text(json.dumps(secs))


def _run_clip(m: ev.Method, samples: list[Sample], cache: Path | None) -> tuple[dict[str, np.ndarray], dict]:
    """Rebuilt frames of one method on one clip's samples (``key/k`` -> frame), from the cache or computed."""
    clip = samples[0].clip
    frames, secs = _cached(cache, m.name, clip)
    want = {f"{s.key}/{k}" for s in samples for k in range(s.multi - 1)}
    if want <= frames.keys():
        return frames, secs
    for task, multi in TASKS.items():
        group = [s for s in samples if s.task == task]
        if not group:
            continue
        t0 = time.perf_counter()
        outs = m.interpolate([(s.first, s.last) for s in group], multi)
        secs[task] = (time.perf_counter() - t0) / (len(group) * (multi - 1))
        for s, o in zip(group, outs, strict=True):
            for k, img in enumerate(o):
                frames[f"{s.key}/{k}"] = img
    _store(cache, m.name, clip, frames, secs)
    return frames, secs


def evaluate_corpus(samples: Sequence[Sample], methods: Sequence[ev.Method], cache: Path | None = None,
                    log: Callable[[str], None] = lambda s: None
                    ) -> tuple[list[CorpusResult], dict[str, dict[str, np.ndarray]]]:
    """Scores of every method on every sample frame, and the rebuilt frames (by method, then ``clip/key/k``)."""
    by_clip: dict[str, list[Sample]] = {}
    for s in samples:
        by_clip.setdefault(s.clip, []).append(s)
    results: list[CorpusResult] = []
    frames: dict[str, dict[str, np.ndarray]] = {}
    for m in methods:
        for clip, group in by_clip.items():
            got, secs = _run_clip(m, group, cache)
            for s in group:
                for k, truth in enumerate(s.truths):
                    img = got[f"{s.key}/{k}"]
                    frames.setdefault(m.name, {})[f"{clip}/{s.key}/{k}"] = img
                    results.append(CorpusResult(clip, s.task, s.start + k + 1, m.name, ev.psnr(img, truth),
                                                ev.ssim_y(img, truth), secs.get(s.task, float("nan"))))
            log(f"{m.name}: {clip} done")
    return results, frames


# -- scores --------------------------------------------------------------------------------------
def clip_scores(results: Sequence[CorpusResult], metric: str = "psnr") -> dict[str, dict[str, float]]:
    """``{method: {clip: score}}``: a clip's score is the mean of its task means."""
    acc: dict[str, dict[str, dict[str, list[float]]]] = {}
    for r in results:
        acc.setdefault(r.method, {}).setdefault(r.clip, {}).setdefault(r.task, []).append(getattr(r, metric))
    return {m: {c: float(np.mean([np.mean(v) for v in tasks.values()])) for c, tasks in per.items()}
            for m, per in acc.items()}


def task_scores(results: Sequence[CorpusResult], task: str, metric: str = "psnr") -> dict[str, float]:
    """``{method: mean over clips}`` of one task."""
    acc: dict[str, dict[str, list[float]]] = {}
    for r in results:
        if r.task == task:
            acc.setdefault(r.method, {}).setdefault(r.clip, []).append(getattr(r, metric))
    return {m: float(np.mean([np.mean(v) for v in per.values()])) for m, per in acc.items()}


def mean_over_clips(per_clip: dict[str, float]) -> float:
    return float(np.mean(list(per_clip.values())))


def loco(scores: dict[str, dict[str, float]], candidates: Sequence[str] | None = None
         ) -> tuple[float, dict[str, tuple[str, float]]]:
    """Leave-one-clip-out selection: for each clip, the candidate with the best mean over the *other*
    clips is chosen and scored on the clip.  Returns the mean of those scores and ``{clip: (chosen, score)}``."""
    cands = list(scores if candidates is None else candidates)
    clips = list(scores[cands[0]])
    picks = {}
    for held in clips:
        train = [c for c in clips if c != held]
        best = max(cands, key=lambda m: (float(np.mean([scores[m][c] for c in train])), -cands.index(m)))
        picks[held] = (best, scores[best][held])
    return float(np.mean([v for _, v in picks.values()])), picks


def table(results: Sequence[CorpusResult]) -> str:
    """Markdown: one row per method, PSNR per clip, the means over clips (PSNR, SSIM, per task), s/frame."""
    ps, ss = clip_scores(results), clip_scores(results, "ssim")
    half, third = task_scores(results, "1/2"), task_scores(results, "1/3,2/3")
    secs: dict[str, list[float]] = {}
    for r in results:
        secs.setdefault(r.method, []).append(r.seconds)
    clips = list(dict.fromkeys(r.clip for r in results))
    head = "| method | " + " | ".join(clips) + " | **mean PSNR** | mean SSIM Y | t=1/2 | t=1/3,2/3 | s/frame |"
    lines = [head, "|---|" + "---:|" * (len(clips) + 5)]
    for m, per in ps.items():
        cells = " | ".join(f"{per[c]:.2f}" if c in per else "" for c in clips)
        lines.append(f"| {m} | {cells} | **{mean_over_clips(per):.2f}** | {mean_over_clips(ss[m]):.4f} | "
                     f"{half.get(m, float('nan')):.2f} | {third.get(m, float('nan')):.2f} | "
                     f"{np.nanmean(secs[m]):.3f} |")
    return "\n".join(lines)


# -- pictures ------------------------------------------------------------------------------------
def plot_clips(results: Sequence[CorpusResult], path: str | Path, methods: Sequence[str] | None = None) -> None:
    """PNG bar chart: PSNR per clip (and the mean over clips), one bar per method (needs matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ps = clip_scores(results)
    names = list(ps if methods is None else methods)
    clips = [*dict.fromkeys(r.clip for r in results), "mean"]
    fig, ax = plt.subplots(figsize=(min(14.0, max(8.0, 0.9 * len(clips) + 0.2 * len(names) * len(clips))), 4.6))
    width = 0.8 / len(names)
    for i, m in enumerate(names):
        vals = [ps[m].get(c, np.nan) if c != "mean" else mean_over_clips(ps[m]) for c in clips]
        ax.bar(np.arange(len(clips)) + (i - (len(names) - 1) / 2) * width, vals, width, label=m)
    ax.set_xticks(range(len(clips)), clips, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("PSNR RGB (dB), mean of both tasks")
    lo = min(np.nanmin([ps[m][c] for c in ps[m]]) for m in names)
    ax.set_ylim(max(0.0, lo - 3), None)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, ncol=min(4, len(names)))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def worst_strip(results: Sequence[CorpusResult], frames: dict[str, dict[str, np.ndarray]],
                samples: Sequence[Sample], method: str, path: str | Path, count: int = 3, tile: int = 400) -> Path:
    """One PNG of the ``count`` worst frames of ``method`` (each from another clip): ours | truth | error x4."""
    from PIL import Image, ImageDraw

    truth = {f"{s.clip}/{s.key}/{k}": t for s in samples for k, t in enumerate(s.truths)}
    start = {(s.clip, s.task, s.start + k + 1): f"{s.clip}/{s.key}/{k}" for s in samples for k in range(s.multi - 1)}
    rows, seen = [], set()
    for r in sorted((r for r in results if r.method == method), key=lambda r: r.psnr):
        if r.clip in seen:
            continue
        seen.add(r.clip)
        key = start[(r.clip, r.task, r.frame)]
        ours, true = frames[method][key], truth[key]
        err = np.repeat(np.clip(np.abs(ours.astype(np.int16) - true).mean(-1) * 4, 0, 255).astype(np.uint8)[..., None],
                        3, -1)
        h = round(true.shape[0] * tile / true.shape[1])
        tiles = [Image.fromarray(x).resize((tile, h), Image.Resampling.BOX) for x in (ours, true, err)]
        row = Image.new("RGB", (3 * tile, h))
        draw = ImageDraw.Draw(row)
        for i, (im, text) in enumerate(zip(tiles, (f"{method}: {r.psnr:.2f} dB", f"truth {r.clip} {r.frame} "
                                                   f"(t={r.task})", "error x4"), strict=True)):
            row.paste(im, (i * tile, 0))
            draw.rectangle((i * tile, 0, i * tile + 6 * len(text) + 6, 13), fill=(0, 0, 0))
            draw.text((i * tile + 3, 1), text, fill=(255, 255, 255))
        rows.append(row)
        if len(rows) == count:
            break
    out = Image.new("RGB", (3 * tile, sum(r.height for r in rows)))
    y = 0
    for row in rows:
        out.paste(row, (0, y))
        y += row.height
    out.save(path)
    return Path(path)
