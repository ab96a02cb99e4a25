"""The tables of docs/quality.md from what tools/corpus_cv.py left in its cache (``report`` step).

Scores: a clip's PSNR is the mean of its two task means (t = 1/2; t = 1/3, 2/3), the corpus score the
mean over clips.  Leave-one-clip-out: the setting for clip k is the one with the best mean over the other
clips, among the candidates within the speed budget; its score on clip k counts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vsrife.dev import corpus_eval as ce
from vsrife.dev import evaluate as ev
from vsrife.weights import corpus

ROOT = Path(__file__).resolve().parents[1]
IMG = ROOT / "docs" / "img"
DEFAULT_BUDGET, BEST_BUDGET = 2.0, 5.0
REF = "4.25"  # a single 4.25 pass (no ensemble): the unit of the budgets


def _results(cache: Path, samples: list[ce.Sample], m: ev.Method) -> list[ce.CorpusResult]:
    """A method's scores (cached next to its frames)."""
    f = cache / ce._slug(m.name) / "results.json"
    if f.is_file():
        return [ce.CorpusResult(**r) for r in json.loads(f.read_text())]
    res, _ = ce.evaluate_corpus(samples, [m], cache=cache)
    f.write_text(json.dumps([r.__dict__ for r in res]))
    return res


def _offline(cache: Path, samples: list[ce.Sample], members: Sequence[str]) -> list[ce.CorpusResult]:
    """The mean of the members' cached uint8 frames, scored (what model="a+b" does, up to rounding)."""
    name = "mean of " + " + ".join(members)
    f = cache / "offline" / (ce._slug(name) + ".json")
    if f.is_file():
        return [ce.CorpusResult(**r) for r in json.loads(f.read_text())]
    out = []
    for clip in dict.fromkeys(s.clip for s in samples):
        zs = [np.load(cache / ce._slug(m) / f"{clip}.npz") for m in members]
        for s in (s for s in samples if s.clip == clip):
            for k, truth in enumerate(s.truths):
                key = f"{s.key}/{k}"
                img = np.round(np.mean([z[key].astype(np.float32) for z in zs], 0)).astype(np.uint8)
                out.append(ce.CorpusResult(clip, s.task, s.start + k + 1, name, ev.psnr(img, truth),
                                           ev.ssim_y(img, truth), float("nan")))
    f.parent.mkdir(exist_ok=True)
    f.write_text(json.dumps([r.__dict__ for r in out]))
    return out


def _policies(scores: dict[str, dict[str, float]], singles: Sequence[str], small_x: Sequence[str],
              small: int) -> dict[str, dict[str, float]]:
    """Per-resolution policies: X on clips up to ``small`` lines, Y on the others (X != Y)."""
    height = {c.name: c.size_wh[1] for c in corpus.CLIPS}
    out = {}
    for x in [*singles, *small_x]:
        for y in singles:
            if x != y:
                out[f"{x} (h<={small}) / {y}"] = {c: scores[x if height[c] <= small else y][c] for c in scores[y]}
    return out


def _cost(name: str, speed: dict[str, list[float]]) -> float:
    """Time per 720p frame (t = 1/2) relative to one 4.25 pass; a policy costs what it runs at 720p."""
    key = name.split(" / ")[-1]
    if key.startswith("mean of "):
        return sum(speed[m][0] for m in key.removeprefix("mean of ").split(" + ")) / speed[REF][0]
    return speed[key][0] / speed[REF][0] if key in speed else float("nan")


def _fmt_cv(title: str, picks: dict[str, tuple[str, float]], cv: float, scores: dict, ref: Sequence[str]) -> str:
    clips = list(picks)
    lines = [f"**{title}: cross-validated mean {cv:.2f} dB**", "",
             "| held-out clip | chosen without it | its PSNR there | " + " | ".join(ref) + " |",
             "|---|---|---:|" + "---:|" * len(ref)]
    for c in clips:
        lines.append(f"| {c} | {picks[c][0]} | {picks[c][1]:.2f} | "
                     + " | ".join(f"{scores[r][c]:.2f}" for r in ref) + " |")
    lines.append(f"| **mean** | | **{cv:.2f}** | " + " | ".join(f"{ce.mean_over_clips(scores[r]):.2f}" for r in ref)
                 + " |")
    return "\n".join(lines)


def _single_table(results: dict[str, list[ce.CorpusResult]], speed: dict, names: Sequence[str]) -> str:
    rows = [r for n in names for r in results[n]]
    text = ce.table(rows).splitlines()
    head = text[0].replace(" s/frame |", " s/frame (corpus) | 720p s/frame | x 4.25 |")
    out = [head, text[1] + "---:|---:|"]
    for n, line in zip(names, text[2:], strict=True):
        t = speed.get(n, [float("nan")])[0]
        out.append(line + (f" {t:.2f} | {t / speed[REF][0]:.2f} |" if n in speed else " | |"))
    return "\n".join(out)


def report(cache: Path, single: dict, small_only: dict, fusions: dict, offline_sets: list, baselines: Sequence[str],
           small: int) -> None:
    samples = ce.load_samples(log=print)
    speed = json.loads((cache / "speed.json").read_text())
    methods = [ev.BASELINES[b]() for b in baselines] + [ev.RifeMethod(kw, n) for n, kw in {**single, **fusions}.items()]
    results = {m.name: _results(cache, samples, m) for m in methods}
    small_samples = [s for s in samples if corpus.clip(s.clip).size_wh[1] <= small]
    for n, kw in small_only.items():
        results[n] = _results(cache, small_samples, ev.RifeMethod(kw, n))
    for members in offline_sets:
        r = _offline(cache, samples, members)
        results[r[0].method] = r
    ps = {n: ce.clip_scores(r)[n] for n, r in results.items()}
    pol = _policies(ps, list(single), list(small_only), small)
    singles = list(single)
    within = [n for n in singles if _cost(n, speed) <= DEFAULT_BUDGET]
    cands = within + [p for p in pol if _cost(p, speed) <= DEFAULT_BUDGET]
    cv_def, picks_def = ce.loco({**ps, **pol}, cands)
    cv_all, picks_all = ce.loco({**ps, **pol}, singles + list(pol))
    fuse = [n for n in results if n.startswith("mean of ") or n in fusions]
    fuse_ok = [n for n in fuse if _cost(n, speed) <= BEST_BUDGET] + singles
    cv_best, picks_best = ce.loco(ps, fuse_ok)
    ref = [n for n in ("4.25", "4.25 ens") if n in ps]
    best_single = max(singles, key=lambda n: ce.mean_over_clips(ps[n]))
    parts = {
        "single": _single_table(results, speed, [*baselines, *singles]),
        "cv_default": _fmt_cv(f"default within {DEFAULT_BUDGET:g}x a 4.25 pass ({len(cands)} candidates: "
                              f"{', '.join(within)} and per-resolution policies of them)", picks_def, cv_def, ps, ref),
        "cv_unbounded": _fmt_cv("any single setting or policy, no budget", picks_all, cv_all, ps, ref),
        "fusion": _fusion_table(results, ps, speed, fuse, best_single),
        "cv_best": _fmt_cv(f"best fusion within {BEST_BUDGET:g}x", picks_best, cv_best, ps, [best_single, *ref]),
    }
    IMG.mkdir(parents=True, exist_ok=True)
    for k, v in parts.items():
        (IMG / f"corpus_{k}.md").write_text(v + "\n")
        print(v, "\n")
    summary = {"clip_psnr": ps, "speed": speed, "cv_default": [cv_def, picks_def], "cv_best": [cv_best, picks_best],
               "cv_unbounded": [cv_all, picks_all], "best_single": best_single}
    (IMG / "corpus_results.json").write_text(json.dumps(summary, indent=1))
    _pictures(results, samples, cache, picks_def, picks_best, baselines)


def _fusion_table(results: dict, ps: dict, speed: dict, fuse: Sequence[str], best_single: str) -> str:
    lines = ["| fusion | **mean PSNR** | vs best single | mean SSIM Y | t=1/2 | t=1/3,2/3 | x 4.25 (720p) |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    base = ce.mean_over_clips(ps[best_single])
    for n in sorted(fuse, key=lambda n: -ce.mean_over_clips(ps[n])):
        r = results[n]
        ss = ce.mean_over_clips(ce.clip_scores(r, "ssim")[n])
        half, third = ce.task_scores(r, "1/2")[n], ce.task_scores(r, "1/3,2/3")[n]
        m = ce.mean_over_clips(ps[n])
        lines.append(f"| {n} | **{m:.2f}** | {m - base:+.2f} | {ss:.4f} | {half:.2f} | {third:.2f} | "
                     f"{_cost(n, speed):.1f} |")
    return "\n".join(lines)


def _pictures(results: dict, samples: list[ce.Sample], cache: Path, picks_def: dict, picks_best: dict,
              baselines: Sequence[str]) -> None:
    from collections import Counter

    default = Counter(p[0] for p in picks_def.values()).most_common(1)[0][0].split(" / ")[-1]
    best = Counter(p[0] for p in picks_best.values()).most_common(1)[0][0]
    shown = [*baselines, "4.25", "4.25 ens", "hd ens", "3.1", default, best]
    rows = [r for n in dict.fromkeys(shown) if n in results for r in results[n]]
    ce.plot_clips(rows, IMG / "corpus_psnr.png", list(dict.fromkeys(n for n in shown if n in results)))
    for label, name in (("default", default), ("best", best)):
        frames = {name: {}}
        for clip in dict.fromkeys(s.clip for s in samples):
            if name.startswith("mean of "):
                zs = [np.load(cache / ce._slug(m) / f"{clip}.npz") for m in name.removeprefix("mean of ").split(" + ")]
                keys = zs[0].files
                got = {k: np.round(np.mean([z[k].astype(np.float32) for z in zs], 0)).astype(np.uint8) for k in keys}
            else:
                with np.load(cache / ce._slug(name) / f"{clip}.npz") as z:
                    got = {k: z[k] for k in z.files}
            frames[name].update({f"{clip}/{k}": v for k, v in got.items()})
        ce.worst_strip(results[name], frames, samples, name, IMG / f"corpus_worst_{label}.png", count=3)
