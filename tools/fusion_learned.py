"""Weighted fusion of two members on the corpus, leave-one-clip-out against the plain mean.

    PYTHONPATH=. .venv/bin/python tools/fusion_learned.py --cache Q --members "4.0,4.25 ens" shares
    PYTHONPATH=. .venv/bin/python tools/fusion_learned.py --cache Q --members "4.0,4.25 ens" cnn --steps 600

``Q`` holds the members' rebuilt frames (``tools/corpus_cv.py sweep --cache Q --only "4.0,4.25 ens"``).

* ``shares``: one weight w for the first member (1 - w for the second) over the whole frame, on a grid of
  0.05; for each held-out clip, w is the one with the best mean over the other clips.
* ``cnn``: per-pixel softmax weights from a small CNN (4 convolutions, dilations 1, 2, 4) that sees the members'
  frames, their difference, both inputs and t; trained on 96x96 crops of the other clips (loss: the crops'
  mean log10 MSE, which follows PSNR), initialised to the plain mean (or to ``--init-share``).

Scores as in ``vsrife eval --corpus``: a clip is the mean of its two task means (8-bit frames, PSNR on RGB);
the corpus is the mean over clips.  docs/quality.md, "`best` weighted 0.7 : 0.3", has the results.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vsrife.dev import corpus_eval as ce
from vsrife.dev import evaluate as ev

GRID = [i / 20 for i in range(21)]


class Item:
    """One rebuilt frame: the members' frames, the inputs, t and the truth ([1,3,H,W] float in [0, 1])."""

    def __init__(self, task: str, cands: list[Tensor], i0: Tensor, i1: Tensor, t: float, truth: Tensor) -> None:
        self.task, self.cands, self.i0, self.i1, self.t, self.truth = task, cands, i0, i1, t, truth


class PixelWeights(nn.Module):
    def __init__(self, members: int, width: int, init_share: float | None) -> None:
        super().__init__()
        cin = 3 * members + 6 + 1 + 3 * (members - 1)
        self.body = nn.Sequential(nn.Conv2d(cin, width, 3, 1, 1), nn.ReLU(),
                                  nn.Conv2d(width, width, 3, 1, 2, 2), nn.ReLU(),
                                  nn.Conv2d(width, width, 3, 1, 4, 4), nn.ReLU(),
                                  nn.Conv2d(width, members, 3, 1, 1))
        last = self.body[-1]
        assert isinstance(last, nn.Conv2d) and last.bias is not None
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        if init_share is not None and members == 2:
            with torch.no_grad():
                last.bias[0] = math.log(init_share / (1 - init_share))

    def forward(self, cands: list[Tensor], i0: Tensor, i1: Tensor, t: Tensor) -> Tensor:
        diffs = [c - cands[0] for c in cands[1:]]
        x = torch.cat([*cands, i0, i1, t.expand(-1, 1, *i0.shape[2:]), *diffs], 1)
        w = torch.softmax(self.body(x), 1)
        out = w[:, :1] * cands[0]
        for k in range(1, len(cands)):
            out = out + w[:, k:k + 1] * cands[k]
        return out


def _tensor(a: np.ndarray) -> Tensor:
    return torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1).float().div(255).unsqueeze(0)


def load(cache: Path, members: list[str]) -> dict[str, list[Item]]:
    data: dict[str, list[Item]] = {}
    for s in ce.load_samples():
        got = [ce._cached(cache, m, s.clip)[0] for m in members]
        for k, truth in enumerate(s.truths):
            key = f"{s.key}/{k}"
            missing = [m for m, g in zip(members, got, strict=True) if key not in g]
            if missing:
                raise SystemExit(f"{s.clip} {key}: no frames of {missing} in {cache}; run tools/corpus_cv.py sweep")
            data.setdefault(s.clip, []).append(Item(s.task, [_tensor(g[key]) for g in got], _tensor(s.first),
                                                    _tensor(s.last), (k + 1) / s.multi, _tensor(truth)))
    return data


def _u8(x: Tensor) -> np.ndarray:
    return (x.clamp(0, 1) * 255).round().squeeze(0).permute(1, 2, 0).to(torch.uint8).numpy()


def clip_score(items: list[Item], fuse) -> float:
    per: dict[str, list[float]] = {}
    with torch.inference_mode():
        for it in items:
            per.setdefault(it.task, []).append(ev.psnr(_u8(fuse(it)), _u8(it.truth)))
    return float(np.mean([np.mean(v) for v in per.values()]))


def plain(it: Item) -> Tensor:
    return sum(it.cands[1:], it.cands[0]) / len(it.cands)


def shares(data: dict[str, list[Item]], members: list[str]) -> None:
    if len(members) != 2:
        raise SystemExit("shares: two members")
    by_w = {c: {w: clip_score(items, lambda it, w=w: w * it.cands[0] + (1 - w) * it.cands[1]) for w in GRID}
            for c, items in data.items()}
    print("| share of " + members[0] + " | " + " | ".join(f"{w:g}" for w in GRID) + " |")
    print("|---|" + "---:|" * len(GRID))
    print("| mean PSNR | " + " | ".join(f"{np.mean([by_w[c][w] for c in data]):.3f}" for w in GRID) + " |")
    cv, base = {}, {}
    for c in data:
        w = max(GRID, key=lambda w: np.mean([by_w[x][w] for x in data if x != c]))
        cv[c], base[c] = (w, by_w[c][w]), by_w[c][0.5]
        print(f"{c}: share {w:g} chosen without it: {by_w[c][w]:.3f} (plain mean {base[c]:.3f})")
    m0, m1 = np.mean(list(base.values())), np.mean([v[1] for v in cv.values()])
    print(f"leave-one-clip-out: plain mean {m0:.3f}, chosen share {m1:.3f} ({m1 - m0:+.3f})")


def train(data: dict[str, list[Item]], pool: list[str], args: argparse.Namespace, members: int) -> PixelWeights:
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    net = PixelWeights(members, args.width, args.init_share)
    opt = torch.optim.Adam(net.parameters(), 2e-3)
    size = 96
    for step in range(args.steps):
        batch = []
        for _ in range(16):
            items = data[pool[rng.integers(len(pool))]]  # clips equally likely, as in the corpus mean
            it = items[rng.integers(len(items))]
            h, w = it.truth.shape[2:]
            y, x = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
            batch.append((it, (slice(None), slice(None), slice(y, y + size), slice(x, x + size))))
        cands = [torch.cat([it.cands[k][sl] for it, sl in batch]) for k in range(members)]
        i0, i1, truth = (torch.cat([getattr(it, a)[sl] for it, sl in batch]) for a in ("i0", "i1", "truth"))
        t = torch.tensor([it.t for it, _ in batch]).view(-1, 1, 1, 1)
        mse = ((net(cands, i0, i1, t) - truth) ** 2).mean((1, 2, 3))
        loss = torch.log10(mse + 1e-5).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step == args.steps * 3 // 4:
            for g in opt.param_groups:
                g["lr"] = 5e-4
    return net


def cnn(data: dict[str, list[Item]], args: argparse.Namespace, members: int) -> None:
    t0, res = time.time(), {}
    for c in data:
        net = train(data, [x for x in data if x != c], args, members)
        learned = clip_score(data[c], lambda it, net=net: net(it.cands, it.i0, it.i1, torch.full((1, 1, 1, 1), it.t)))
        res[c] = (clip_score(data[c], plain), learned)
        print(f"{c}: plain mean {res[c][0]:.3f}, learned {res[c][1]:.3f} ({res[c][1] - res[c][0]:+.3f}) "
              f"[{time.time() - t0:.0f} s]", flush=True)
    m0, m1 = np.mean([v[0] for v in res.values()]), np.mean([v[1] for v in res.values()])
    print(f"leave-one-clip-out: plain mean {m0:.3f}, learned {m1:.3f} ({m1 - m0:+.3f})")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("rule", choices=("shares", "cnn"))
    p.add_argument("--cache", type=Path, required=True)
    p.add_argument("--members", default="4.0,4.25 ens", help="comma list of corpus_cv.py labels")
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--width", type=int, default=12)
    p.add_argument("--init-share", type=float, default=None, help="cnn: start from this share of the first member")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    members = args.members.split(",")
    data = load(args.cache, members)
    if args.rule == "shares":
        shares(data, members)
    else:
        cnn(data, args, len(members))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
