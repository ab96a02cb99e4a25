"""Fusion rules beyond the plain mean, on the corpus's t = 1/2 task (the CV in tools/corpus_cv.py decides).

For every t = 1/2 sample, each member runs once (the plain PyTorch model, which exposes its flows, mask and
warped inputs) and every rule fuses every member set:

- ``mean``: the mean of the members' frames (what ``model="a+b"`` does);
- ``flow``: the members' flows and mask logits averaged, then one warp and blend (4.x / hd members only);
- ``resid T``: per-pixel weights exp(-r / T) from each member's warp residual r = |warp(I0) - warp(I1)|
  (9x9 box-blurred, mean over RGB): a member whose two warped inputs disagree is trusted less there;
- ``agree T``: per-pixel weights exp(-d / T), d = the member's blurred distance to the members' median (3+ members).

Writes ``<cache>/fusion_rules.json``: {rule: {member set: {clip: mean PSNR}}}.
``--cv``: no computing; leave-one-clip-out over what the log holds (clips with all their samples), the
plain mean against every rule, among the member sets within 5x a 4.25 pass (``<cache>/speed.json`` of
tools/corpus_cv.py, or ``--speed``).
Usage: python tools/fusion_rules.py [--cache DIR] [--cv [--speed FILE]]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from vsrife.dev import corpus_eval as ce
from vsrife.dev import evaluate as ev
from vsrife.engine import Engine
from vsrife.nn.warp import warp
from vsrife.weights import corpus
from vsrife.weights.cache import cache_dir

MEMBERS = {"4.25 ens": ("4.25", True), "hd": ("hd", False), "3.1": ("3.1", None), "4.0": ("4.0", False)}
SETS = [("4.25 ens", "hd"), ("4.25 ens", "3.1"), ("4.25 ens", "4.0"), ("4.25 ens", "hd", "3.1"),
        ("4.25 ens", "hd", "4.0"), ("4.25 ens", "4.0", "3.1"), ("4.25 ens", "hd", "3.1", "4.0")]
TAUS = (0.01, 0.03, 0.1)


def blur(x: torch.Tensor, k: int = 9) -> torch.Tensor:
    return F.avg_pool2d(F.pad(x, (k // 2,) * 4, mode="replicate"), k, 1)


def run_member(eng: Engine, ta: torch.Tensor, tb: torch.Tensor, h: int, w: int) -> dict:
    """One member on the shared padded pair (padded to the largest multiple, as the fusion does)."""
    with torch.inference_mode():
        out = eng.net(ta, tb, 0.5, scale=eng.scale, ensemble=eng.ensemble)
    crop = (slice(None), slice(None), slice(0, h), slice(0, w))
    w0, w1 = out.warped
    return {"image": out.image[crop], "resid": (w0 - w1)[crop].abs().mean(1, keepdim=True),
            "flow": out.flow, "logit": out.mask_logit, "padded": (ta, tb), "crop": crop}


def to_u8(x: torch.Tensor) -> np.ndarray:
    return (x[0].clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()


def rules(outs: list[dict], names: tuple[str, ...]) -> dict[str, torch.Tensor]:
    imgs = torch.stack([o["image"] for o in outs])  # [K,1,3,H,W]
    got = {"mean": imgs.mean(0)}
    r = torch.stack([blur(o["resid"]) for o in outs])
    for tau in TAUS:
        wts = torch.softmax(-r / tau, 0)
        got[f"resid {tau}"] = (wts * imgs).sum(0)
    if len(outs) >= 3:
        med = imgs.median(0).values
        d = torch.stack([blur((i - med).abs().mean(1, keepdim=True)) for i in imgs])
        for tau in TAUS:
            got[f"agree {tau}"] = (torch.softmax(-d / tau, 0) * imgs).sum(0)
    if all(MEMBERS[n][0] != "3.1" for n in names):
        flow = torch.stack([o["flow"] for o in outs]).mean(0)
        m = torch.sigmoid(torch.stack([o["logit"] for o in outs]).mean(0))
        ta, tb = outs[0]["padded"]
        img = warp(ta, flow[:, :2]) * m + warp(tb, flow[:, 2:4]) * (1 - m)
        got["flow"] = img[outs[0]["crop"]]
    return got


def _log_scores(log: Path) -> tuple[dict[str, dict[str, float]], set[str]]:
    """``{"rule | set": {clip: mean PSNR}}`` (singles as ``"single | name"``) over the clips the log holds whole."""
    recs = [json.loads(line) for line in log.read_text().splitlines()]
    per_clip = Counter(r["clip"] for r in recs)
    whole = {c for c, n in per_clip.items() if n == len(corpus.clip(c).triplets)}
    acc: dict[str, dict[str, list[float]]] = {}
    for r in recs:
        if r["clip"] in whole:
            for rule, sets in r["psnr"].items():
                for k, v in sets.items():
                    acc.setdefault(f"{rule} | {k}", {}).setdefault(r["clip"], []).append(v)
    return {k: {c: float(np.mean(v)) for c, v in per.items()} for k, per in acc.items()}, whole


def rules_cv(log: Path, speed: dict[str, list[float]], budget: float = 5.0) -> str:
    """Markdown: cross-validated t = 1/2 mean of each rule (its member set chosen without the held-out clip)."""
    scores, whole = _log_scores(log)

    def cost(key: str) -> float:
        names = key.split(" | ")[1].split("+")
        return sum(speed[n][0] for n in names) / speed["4.25"][0]

    ok = [k for k in scores if cost(k) <= budget]
    singles = [k for k in ok if k.startswith("single | ")]
    rules = list(dict.fromkeys(k.split(" | ")[0] for k in ok if not k.startswith("single | ")))
    lines = [f"t = 1/2 on {len(whole)} clips ({', '.join(sorted(whole))}); member sets within {budget:g}x a 4.25 "
             "pass; the singles are candidates too.", "",
             "| rule | CV mean PSNR | vs plain mean (CV) | best set (full mean) | its mean |",
             "|---|---:|---:|---|---:|"]
    base, _ = ce.loco(scores, [k for k in ok if k.startswith("mean | ")] + singles)
    for rule in rules:
        mine = [k for k in ok if k.startswith(f"{rule} | ")]
        cv, _ = ce.loco(scores, mine + singles)
        top = max(mine, key=lambda k: np.mean(list(scores[k].values())))
        lines.append(f"| {rule} | {cv:.3f} | {cv - base:+.3f} | {top.split(' | ')[1]} | "
                     f"{np.mean(list(scores[top].values())):.3f} |")
    for family in dict.fromkeys(r.split()[0] for r in rules if " " in r):  # the temperature chosen by the CV too
        cv, _ = ce.loco(scores, [k for k in ok if k.startswith(f"{family} ")] + singles)
        lines.append(f"| {family} (T chosen per held-out clip) | {cv:.3f} | {cv - base:+.3f} | | |")
    every, picks = ce.loco(scores, ok)
    lines += ["", f"Any rule and set (chosen per held-out clip): CV {every:.3f} dB ({every - base:+.3f} vs the plain "
              f"mean); picks: {', '.join(f'{c}: {p}' for c, (p, _) in picks.items())}"]
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cache", type=Path, default=cache_dir() / "quality")
    p.add_argument("--clips", default=None, help="comma list (default: all)")
    p.add_argument("--out", default="fusion_rules.json")
    p.add_argument("--cv", action="store_true", help="only the cross-validation of what the log holds")
    p.add_argument("--speed", type=Path, default=None, help="speed.json of tools/corpus_cv.py speed")
    p.add_argument("--budget", type=float, default=5.0, help="--cv: member sets up to this many 4.25 passes")
    args = p.parse_args()
    if args.cv:
        speed = json.loads((args.speed or args.cache / "speed.json").read_text())
        print(rules_cv(args.cache / (Path(args.out).stem + ".jsonl"), speed, args.budget))
        return 0
    clips = None if not args.clips else [corpus.clip(n) for n in args.clips.split(",")]
    samples = [s for s in ce.load_samples(clips, log=print) if s.task == "1/2"]
    engines = {n: Engine(model=m, ensemble=e) for n, (m, e) in MEMBERS.items()}
    args.cache.mkdir(parents=True, exist_ok=True)
    log = args.cache / (Path(args.out).stem + ".jsonl")  # one line per sample: a rerun continues
    done = {json.loads(line)["sample"] for line in log.read_text().splitlines()} if log.is_file() else set()
    t0 = time.perf_counter()
    for i, s in enumerate(samples):
        sid = f"{s.clip}/{s.key}"
        if sid in done:
            continue
        lead = engines["4.25 ens"]
        ta, tb = (lead.to_device(torch.from_numpy(x.transpose(2, 0, 1).astype(np.float32) / 255))
                  for x in (s.first, s.last))
        outs = {n: run_member(e, ta, tb, *s.first.shape[:2]) for n, e in engines.items()}
        row: dict[str, dict[str, float]] = {"single": {n: ev.psnr(to_u8(o["image"]), s.truths[0])
                                                       for n, o in outs.items()}}
        for names in SETS:
            for rule, img in rules([outs[n] for n in names], names).items():
                row.setdefault(rule, {})["+".join(names)] = ev.psnr(to_u8(img), s.truths[0])
        with open(log, "a") as fh:
            fh.write(json.dumps({"sample": sid, "clip": s.clip, "psnr": row}) + "\n")
        print(f"{i + 1}/{len(samples)} {s.clip} {time.perf_counter() - t0:.0f} s", flush=True)
    scores: dict[str, dict[str, dict[str, list[float]]]] = {}
    for line in log.read_text().splitlines():
        rec = json.loads(line)
        for rule, sets in rec["psnr"].items():
            for k, v in sets.items():
                scores.setdefault(rule, {}).setdefault(k, {}).setdefault(rec["clip"], []).append(v)
    means = {r: {k: {c: float(np.mean(v)) for c, v in per.items()} for k, per in sets.items()}
             for r, sets in scores.items()}
    (args.cache / args.out).write_text(json.dumps(means, indent=1))
    for r, sets in means.items():
        for k, per in sets.items():
            print(f"{r:12} {k:32} {np.mean(list(per.values())):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
