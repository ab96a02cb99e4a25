"""The tables of docs/quality.md from what tools/corpus_cv.py left in its cache (``report`` step).

Scores: a clip's PSNR is the mean of its two task means (t = 1/2; t = 1/3, 2/3), the corpus score the
mean over clips.  Leave-one-clip-out: the setting for clip k is the one with the best mean PSNR over the
other clips, among the candidates within the speed budget; its scores on clip k (PSNR, SSIM Y and the PSNR
of each task) count.
"""

from __future__ import annotations

import json
from collections import Counter
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
CURRENT = "4.25 ens"  # the default before this cross-validation
METRICS = ("psnr", "ssim", "1/2", "1/3,2/3")  # mean PSNR, mean SSIM Y, PSNR per task
Scores = dict[str, dict[str, dict[str, float]]]  # metric -> method -> clip -> score


def _results(cache: Path, samples: list[ce.Sample], m: ev.Method) -> list[ce.CorpusResult]:
    """A method's scores (cached next to its frames)."""
    f = cache / ce._slug(m.name) / "results.json"
    if f.is_file():
        return [ce.CorpusResult(**r) for r in json.loads(f.read_text())]
    res, _ = ce.evaluate_corpus(samples, [m], cache=cache)
    f.write_text(json.dumps([r.__dict__ for r in res]))
    return res


def _mean_frames(cache: Path, members: Sequence[str], clip: str) -> dict[str, np.ndarray]:
    """The mean of the members' cached uint8 frames of one clip (what model="a+b" does, up to rounding)."""
    zs = [np.load(cache / ce._slug(m) / f"{clip}.npz") for m in members]
    return {k: np.round(np.mean([z[k].astype(np.float32) for z in zs], 0)).astype(np.uint8) for k in zs[0].files}


def _offline(cache: Path, samples: list[ce.Sample], members: Sequence[str]) -> list[ce.CorpusResult]:
    """The plain mean of the members' cached frames, scored."""
    name = "mean of " + " + ".join(members)
    f = cache / "offline" / (ce._slug(name) + ".json")
    if f.is_file():
        return [ce.CorpusResult(**r) for r in json.loads(f.read_text())]
    out = []
    for clip in dict.fromkeys(s.clip for s in samples):
        got = _mean_frames(cache, members, clip)
        for s in (s for s in samples if s.clip == clip):
            for k, truth in enumerate(s.truths):
                img = got[f"{s.key}/{k}"]
                out.append(ce.CorpusResult(clip, s.task, s.start + k + 1, name, ev.psnr(img, truth),
                                           ev.ssim_y(img, truth), float("nan")))
    f.parent.mkdir(exist_ok=True)
    f.write_text(json.dumps([r.__dict__ for r in out]))
    return out


def _scores(results: dict[str, list[ce.CorpusResult]]) -> Scores:
    out: Scores = {m: {} for m in METRICS}
    for n, r in results.items():
        out["psnr"][n] = ce.clip_scores(r)[n]
        out["ssim"][n] = ce.clip_scores(r, "ssim")[n]
        for task in ce.TASKS:
            out[task][n] = ce.clip_scores([x for x in r if x.task == task])[n]
    return out


def _add_policies(sc: Scores, singles: Sequence[str], small_x: Sequence[str], small: int) -> list[str]:
    """Per-resolution policies "X (h<=small) / Y": X on clips up to ``small`` lines, Y on the others."""
    height = {c.name: c.size_wh[1] for c in corpus.CLIPS}
    names = []
    for x in [*singles, *small_x]:
        for y in singles:
            if x != y:
                name = f"{x} (h<={small}) / {y}"
                names.append(name)
                for per in sc.values():
                    per[name] = {c: per[x if height[c] <= small else y][c] for c in per[y]}
    return names


MEASURED: dict[str, str] = {}  # "mean of a + b" -> the label of the fusion whose speed was measured (report() sets it)


def _cost(name: str, speed: dict[str, list[float]]) -> float:
    """Time per 720p frame (t = 1/2) relative to one 4.25 pass; a policy costs what it runs at 720p; a mean of
    members what the filter's fusion of them measured, else the sum of the members' times."""
    key = name.split(" / ")[-1]
    if key in MEASURED and MEASURED[key] in speed:
        return speed[MEASURED[key]][0] / speed[REF][0]
    if key.startswith("mean of "):
        return sum(speed[m][0] for m in key.removeprefix("mean of ").split(" + ")) / speed[REF][0]
    return speed[key][0] / speed[REF][0] if key in speed else float("nan")


def _cv(sc: Scores, cands: Sequence[str]) -> tuple[dict[str, float], dict[str, tuple[str, float]]]:
    """Leave-one-clip-out on the mean PSNR; every metric of the setting chosen for clip k, on clip k."""
    _, picks = ce.loco(sc["psnr"], cands)
    return {m: float(np.mean([sc[m][p][c] for c, (p, _) in picks.items()])) for m in METRICS}, picks


def _fmt_cv(title: str, picks: dict[str, tuple[str, float]], cv: float, scores: dict, ref: Sequence[str]) -> str:
    lines = [f"**{title}: cross-validated mean {cv:.2f} dB**", "",
             "| held-out clip | chosen without it | its PSNR there | " + " | ".join(ref) + " |",
             "|---|---|---:|" + "---:|" * len(ref)]
    for c, (p, v) in picks.items():
        lines.append(f"| {c} | {p} | {v:.2f} | " + " | ".join(f"{scores[r][c]:.2f}" for r in ref) + " |")
    lines.append(f"| **mean** | | **{cv:.2f}** | " + " | ".join(f"{ce.mean_over_clips(scores[r]):.2f}" for r in ref)
                 + " |")
    return "\n".join(lines)


def _summary(rows: dict[str, dict[str, float]], costs: dict[str, float]) -> str:
    """Cross-validated choices next to every single setting and baseline: means over clips."""
    ref = rows[CURRENT]["psnr"]
    lines = [f"| setting | **mean PSNR** | vs {CURRENT} | mean SSIM Y | t=1/2 | t=1/3,2/3 | x 4.25 (720p) |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for n, r in rows.items():
        cost = costs.get(n, float("nan"))
        lines.append(f"| {n} | **{r['psnr']:.2f}** | {r['psnr'] - ref:+.2f} | {r['ssim']:.4f} | {r['1/2']:.2f} | "
                     f"{r['1/3,2/3']:.2f} | {'' if np.isnan(cost) else f'{cost:.2f}'} |")
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


def _speed_table(speed: dict[str, list[float]]) -> str:
    lines = ["| setting | s per 720p frame, t=1/2 | s per frame, multi=3 | x 4.25 |", "|---|---:|---:|---:|"]
    for n, (half, third) in sorted(speed.items(), key=lambda kv: kv[1][0]):
        lines.append(f"| {n} | {half:.2f} | {third:.2f} | {half / speed[REF][0]:.2f} |")
    return "\n".join(lines)


def _fusion_table(sc: Scores, speed: dict, fuse: Sequence[str], best_single: str) -> str:
    lines = ["| fusion | **mean PSNR** | vs best single | mean SSIM Y | t=1/2 | t=1/3,2/3 | x 4.25 (720p) |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    base = ce.mean_over_clips(sc["psnr"][best_single])
    for n in sorted(fuse, key=lambda n: -ce.mean_over_clips(sc["psnr"][n])):
        m, ss = (ce.mean_over_clips(sc[k][n]) for k in ("psnr", "ssim"))
        half, third = (ce.mean_over_clips(sc[t][n]) for t in ce.TASKS)
        lines.append(f"| {n} | **{m:.2f}** | {m - base:+.2f} | {ss:.4f} | {half:.2f} | {third:.2f} | "
                     f"{_cost(n, speed):.1f} |")
    return "\n".join(lines)


def _filter_check(cache: Path, samples: list[ce.Sample], cfg: dict, ps: dict[str, dict[str, float]]) -> str:
    """The fusions run through the filter (on the clips their cache holds) against the offline mean of their members."""
    lines = ["| through the filter | clip | PSNR | offline mean of the members | difference |",
             "|---|---|---:|---:|---:|"]
    for label, kw in cfg["fusions"].items():
        d = cache / ce._slug(label)
        clips = sorted(p.stem for p in d.glob("*.npz")) if d.is_dir() else []
        off = "mean of " + " + ".join(cfg["fusion_offline"][label])
        if not clips or off not in ps:
            continue
        res, _ = ce.evaluate_corpus([s for s in samples if s.clip in clips], [ev.RifeMethod(kw, label)], cache=cache)
        got = ce.clip_scores(res)[label]
        for c in clips:
            lines.append(f"| {label} | {c} | {got[c]:.3f} | {ps[off][c]:.3f} | {got[c] - ps[off][c]:+.3f} |")
        a, b = np.mean(list(got.values())), np.mean([ps[off][c] for c in clips])
        lines.append(f"| {label} | **mean of {len(clips)}** | **{a:.3f}** | {b:.3f} | {a - b:+.3f} |")
    return "\n".join(lines)


def _load(cache: Path, cfg: dict) -> tuple[list[ce.Sample], dict[str, list[ce.CorpusResult]]]:
    """Every setting's scores: baselines, single settings, the small-clip candidates, the offline fusions."""
    samples = ce.load_samples(log=print)
    methods = [ev.BASELINES[b]() for b in cfg["baselines"]] + [ev.RifeMethod(kw, n) for n, kw in cfg["single"].items()]
    results = {m.name: _results(cache, samples, m) for m in methods}
    small_samples = [s for s in samples if corpus.clip(s.clip).size_wh[1] <= cfg["small"]]
    for n, kw in cfg["small_only"].items():
        results[n] = _results(cache, small_samples, ev.RifeMethod(kw, n))
    for members in cfg["offline_sets"]:
        r = _offline(cache, samples, members)
        results[r[0].method] = r
    return samples, results


def report(cache: Path, cfg: dict) -> None:
    """``cfg``: single, small_only, fusions (run through the filter), offline_sets, baselines, small (lines)."""
    samples, results = _load(cache, cfg)
    MEASURED.update({"mean of " + " + ".join(m): label for label, m in cfg["fusion_offline"].items()})
    speed = json.loads((cache / "speed.json").read_text())
    sc = _scores(results)
    singles, fuse = list(cfg["single"]), [n for n in results if n.startswith("mean of ")]
    pol = _add_policies(sc, singles, list(cfg["small_only"]), cfg["small"])
    within = [n for n in singles if _cost(n, speed) <= DEFAULT_BUDGET]
    cands = within + [p for p in pol if _cost(p, speed) <= DEFAULT_BUDGET]
    cv_def, picks_def = _cv(sc, within)  # the default: one setting for every clip
    cv_pol, picks_pol = _cv(sc, cands)  # per-resolution policies too (what they run at 720p within the budget)
    cv_all, picks_all = _cv(sc, singles + pol)
    cv_best, picks_best = _cv(sc, [n for n in fuse if _cost(n, speed) <= BEST_BUDGET] + singles)
    best_single = max(singles, key=lambda n: ce.mean_over_clips(sc["psnr"][n]))
    ps, ref = sc["psnr"], [n for n in (REF, CURRENT) if n in sc["psnr"]]
    rows = {f"**CV default** (single settings within {DEFAULT_BUDGET:g}x)": cv_def,
            f"CV, single settings or per-resolution policies within {DEFAULT_BUDGET:g}x at 720p": cv_pol,
            "CV, any single setting or policy (no budget)": cv_all,
            f"**CV best** (fusions within {BEST_BUDGET:g}x)": cv_best}
    for n in sorted([*singles, *cfg["baselines"]], key=lambda n: -ce.mean_over_clips(ps[n])):
        rows[n] = {m: ce.mean_over_clips(sc[m][n]) for m in METRICS}
    parts = {
        "summary": _summary(rows, {n: _cost(n, speed) for n in singles}),
        "single": _single_table(results, speed, [*cfg["baselines"], *singles]),
        "cv_default": _fmt_cv(f"default: single settings within {DEFAULT_BUDGET:g}x a 4.25 pass "
                              f"({', '.join(within)})", picks_def, cv_def["psnr"], ps, ref),
        "cv_policy": _fmt_cv(f"per-resolution policies within {DEFAULT_BUDGET:g}x at 720p ({len(cands)} candidates)",
                             picks_pol, cv_pol["psnr"], ps, ref),
        "cv_unbounded": _fmt_cv("any single setting or policy, no budget", picks_all, cv_all["psnr"], ps, ref),
        "fusion": _fusion_table(sc, speed, fuse, best_single),
        "cv_best": _fmt_cv(f"best fusion within {BEST_BUDGET:g}x", picks_best, cv_best["psnr"], ps,
                           [best_single, *ref]),
        "speed": _speed_table(speed),
        "filter_check": _filter_check(cache, samples, cfg, ps),
    }
    IMG.mkdir(parents=True, exist_ok=True)
    for k, v in parts.items():
        (IMG / f"corpus_{k}.md").write_text(v + "\n")
        print(v, "\n")
    summary = {"clip_psnr": ps, "clip_ssim": sc["ssim"], "speed": speed, "cv_default": [cv_def, picks_def],
               "cv_best": [cv_best, picks_best], "cv_unbounded": [cv_all, picks_all], "cv_policy": [cv_pol, picks_pol],
               "best_single": best_single,
               "costs": {n: _cost(n, speed) for n in [*singles, *fuse]}}
    (IMG / "corpus_results.json").write_text(json.dumps(summary, indent=1))
    _pictures(results, samples, cache, picks_def, picks_best, cfg["baselines"])


def _pictures(results: dict, samples: list[ce.Sample], cache: Path, picks_def: dict, picks_best: dict,
              baselines: Sequence[str]) -> None:
    from PIL import Image

    default = Counter(p[0] for p in picks_def.values()).most_common(1)[0][0].split(" / ")[-1]
    best = Counter(p[0] for p in picks_best.values()).most_common(1)[0][0]
    shown = [*baselines, "4.25", "4.25 ens", "4.6 ens", "hd ens", "3.1", default, best]
    rows = [r for n in dict.fromkeys(shown) if n in results for r in results[n]]
    ce.plot_clips(rows, IMG / "corpus_psnr.png", list(dict.fromkeys(n for n in shown if n in results)))
    for label, name in (("default", default), ("best", best)):
        frames: dict[str, dict[str, np.ndarray]] = {name: {}}
        for clip in dict.fromkeys(s.clip for s in samples):
            if name.startswith("mean of "):
                got = _mean_frames(cache, name.removeprefix("mean of ").split(" + "), clip)
            else:
                with np.load(cache / ce._slug(name) / f"{clip}.npz") as z:
                    got = {k: z[k] for k in z.files}
            frames[name].update({f"{clip}/{k}": v for k, v in got.items()})
        path = ce.worst_strip(results[name], frames, samples, name, IMG / f"corpus_worst_{label}.png", count=3,
                              tile=256)
        Image.open(path).quantize(256, dither=Image.Dither.NONE).save(path, optimize=True)  # keep the PNG small
