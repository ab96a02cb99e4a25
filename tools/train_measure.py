"""Training measurements for docs/training.md (issue 6).

finetune: fine-tune 4.25 (with its pretrained teacher) on triplets cut from Big Buck Bunny, validate on
held-out triplets of the same clip (the last part of it), report validation PSNR before/after.
ablation: a small random-init IFNet trained with and without distillation at equal steps; PNG of both curves.

Usage: python tools/train_measure.py finetune|ablation [--steps N] [--estimate] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import torch

from vsrife.train import TrainConfig, Trainer, init_net, make_batch, read_video, split, val_batches, video_source
from vsrife.weights import fetch


def data(width: int | None, val_crop: int | None, batch: int, interleave: bool = False, span: int = 2,
         guard: str = "frames", ceiling: bool = False):
    frames = read_video(fetch("footage", log=lambda s: None) / "bigbuckbunny.mp4", width=width)
    src = video_source(frames, span=span)
    if interleave:  # every 10th triplet; no training triplet shares a frame with a held-out one
        train, val = split(src, val_fraction=0.1, gap=0, interleave=True, guard=guard)
    else:
        train, val = split(src, val_fraction=0.15, gap=2)
    if ceiling:  # train on the held-out windows themselves: what the recipe can reach on exactly those frames
        train = val
    print(f"{len(frames)} frames {frames[0].shape[1]}x{frames[0].shape[0]}: {len(train)} train / {len(val)} "
          f"validation triplets{' (training on the validation triplets: ceiling)' if ceiling else ''}", flush=True)
    return train, val_batches(val, val_crop, batch, seed=1)


def run(name: str, init: str | None, arch: str, config: TrainConfig, train, val, out: Path) -> list[dict]:
    torch.manual_seed(config.seed)
    net, caltime = init_net(init, arch, teacher=config.distill)
    tr = Trainer(net, config, caltime)

    def sample(rng: random.Random):
        return make_batch(train, [rng.randrange(len(train)) for _ in range(config.batch)], config.crop, rng,
                          config.augment, config.crop_tries)

    t0 = time.monotonic()
    hist = tr.fit(sample, val, checkpoint=out / f"{name}.ckpt.safetensors", checkpoint_every=100)
    print(f"{name}: {config.steps} steps in {time.monotonic() - t0:.0f} s; val PSNR "
          f"{hist[0]['val_psnr']:.3f} -> {hist[-1]['val_psnr']:.3f} dB", flush=True)
    return hist


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=("finetune", "ablation"))
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--crop", type=int, default=128)
    ap.add_argument("--val-every", type=int, default=50)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--interleave", action="store_true", help="hold out every 10th triplet instead of the last 15%%")
    ap.add_argument("--lr", type=float, help="peak learning rate (default: finetune 2e-5, ablation 3e-4)")
    ap.add_argument("--augment", choices=("all", "flip", "none"), default="all")
    ap.add_argument("--ema", type=float, default=0.0, help="EMA decay of the validated weights (0: off)")
    ap.add_argument("--span", type=int, default=2, help="finetune: training windows of up to N frame intervals")
    ap.add_argument("--aux-weight", type=float, default=0.1, help="finetune: L_rec weight of the earlier blocks")
    ap.add_argument("--distill-weight", type=float, default=0.01, help="finetune: λ of L_dis")
    ap.add_argument("--seed", type=int, default=0, help="finetune: seed of the initialisation and the sampler")
    ap.add_argument("--motion-crops", type=int, default=1, help="finetune: most-moving of K random crop places")
    ap.add_argument("--loss", choices=("lap", "l1", "l2"), default="lap", help="finetune: reconstruction loss")
    ap.add_argument("--freeze", default="", help="finetune: comma-separated student modules kept fixed")
    ap.add_argument("--guard", choices=("frames", "targets"), default="frames",
                    help="finetune --interleave: keep out of training every window sharing a frame with a held-out "
                         "one (frames) or only those containing a held-out ground-truth frame (targets)")
    ap.add_argument("--ceiling", action="store_true",
                    help="finetune: train on the held-out triplets themselves (an upper bound for the recipe on them)")
    ap.add_argument("--estimate", action="store_true", help="time 10 steps and exit")
    ap.add_argument("--out", type=Path, default=Path("/tmp/vsrife-train"))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    a.out.mkdir(parents=True, exist_ok=True)
    steps = 10 if a.estimate else a.steps
    results: dict = {"mode": a.mode, "steps": steps, "batch": a.batch, "crop": a.crop, "augment": a.augment,
                     "ema": a.ema, "span": a.span, "aux_weight": a.aux_weight, "distill_weight": a.distill_weight,
                     "seed": a.seed, "motion_crops": a.motion_crops,
               "freeze": a.freeze, "loss": a.loss, "guard": a.guard, "ceiling": a.ceiling}
    if a.mode == "finetune":
        # whole held-out frames (1280x704), triplets
        train, val = data(None, None, 2, a.interleave, a.span, a.guard, a.ceiling)
        results["val"] = "interleaved" if a.interleave else "last 15%"
        lr = a.lr or 2e-5
        cfg = TrainConfig(steps=steps, lr=lr, lr_min=lr / 10, warmup=min(20, steps), batch=a.batch, crop=a.crop,
                          augment=a.augment, ema=a.ema, aux_weight=a.aux_weight, distill_weight=a.distill_weight,
                          seed=a.seed, crop_tries=a.motion_crops,
                          freeze=tuple(n for n in a.freeze.split(",") if n), loss=a.loss,
                          val_every=a.val_every if not a.estimate else 10**9)
        results["lr"] = lr
        results["distill"] = run("finetune-4.25", "4.25", "4.25", cfg, train, val, a.out)
    else:
        train, val = data(640, 128, 8)
        for distill in (True, False):
            lr = a.lr or 3e-4
            cfg = TrainConfig(steps=steps, lr=lr, lr_min=lr / 10, warmup=min(30, steps), batch=a.batch,
                              crop=a.crop, aux_weight=None, distill=distill,
                              val_every=a.val_every if not a.estimate else 10**9)
            name = "distill" if distill else "no-distill"
            results[name] = run(f"ablation-{name}", None, "small", cfg, train, val, a.out)
        if not a.estimate:
            plot(results, a.out / "ablation.png")
    (a.out / f"{a.mode}.json").write_text(json.dumps(results, indent=1))
    print(json.dumps(results), file=sys.stderr)


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name in ("distill", "no-distill"):
        h = results[name]
        ax.plot([r["step"] for r in h], [r["val_psnr"] for r in h], marker="o", label=name)
    ax.set_xlabel("step")
    ax.set_ylabel("validation PSNR (dB)")
    ax.set_title(f"small IFNet from scratch, Big Buck Bunny 640x360, crop {results['crop']}")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"plot: {path}", flush=True)


if __name__ == "__main__":
    main()
