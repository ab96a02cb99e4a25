"""``vsrife train``: privileged-distillation training / fine-tuning of IFNet on triplets or a video."""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from ..weights.catalog import DEFAULT_MODEL, TRAINABLE
from . import CLIError

EPILOG = """examples:
  # fine-tune 4.25 (with its pretrained teacher) on your own footage, then use the result
  vsrife train --video episode01.mkv --init 4.25 --steps 2000 --out anime.safetensors
  vspipe: core.rife.RIFE(clip, model_path="anime.safetensors")

  # Vimeo90K-style folders (im1.png im2.png im3.png, or im1..im7.png septuplets for arbitrary t)
  vsrife train --data vimeo_triplet/sequences --init 4.25 --steps 20000 --batch 8 --crop 256 --out v.safetensors

  # train a small IFNet from scratch without the distillation term (ablation)
  vsrife train --video clip.mp4 --arch small --steps 500 --no-distill --out small.safetensors

  # continue an interrupted run (the checkpoint is written next to --out every --checkpoint-every steps)
  vsrife train --video clip.mp4 --resume anime.safetensors.ckpt --steps 4000 --out anime.safetensors
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="train or fine-tune RIFE with privileged distillation",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train IFNet with a teacher block that sees the ground-truth middle frame "
                    "(L = L_rec + L_rec_teacher + λ·L_dis). Writes a student-only safetensors file that "
                    "RIFE(model_path=...) loads with its architecture detected.",
        epilog=EPILOG,
    )
    src = p.add_argument_group("data (one of)")
    src.add_argument("--data", type=Path, help="folder of triplet/septuplet folders (im1.png im2.png im3.png ...)")
    src.add_argument("--video", type=Path, help="video file; triplets are cut from it, skipping cuts and still frames")
    p.add_argument("--val-data", type=Path, help="held-out triplet folders (default: the last 10%% of the data)")
    p.add_argument("--video-width", type=int, help="resize --video frames to this width first")
    p.add_argument("--max-frames", type=int, help="read at most this many --video frames (default: all)")
    p.add_argument("--span", type=int, default=2,
                   help="--video: windows of up to SPAN frames give arbitrary timesteps (default 2: triplets)")
    p.add_argument("--init", help="model name (4.25, 4.0, hd: those with a teacher) or weights path; random "
                   "initialisation when absent")
    p.add_argument("--arch", default=DEFAULT_MODEL, choices=("small", *TRAINABLE),
                   help=f"architecture for random init (default {DEFAULT_MODEL})")
    p.add_argument("--steps", type=int, required=True, help="total optimiser steps")
    p.add_argument("--out", type=Path, required=True, help="student weights to write (.safetensors)")
    p.add_argument("--no-distill", action="store_true", help="no teacher, L = L_rec only (ablation)")
    p.add_argument("--distill-weight", type=float, default=0.01, help="λ (default 0.01)")
    p.add_argument("--loss", choices=("lap", "l1", "l2"), default="lap", help="reconstruction loss (default lap)")
    p.add_argument("--aux-weight", type=float, default=0.1,
                   help="weight of the earlier blocks' reconstruction loss (default 0.1; the last block has 1)")
    p.add_argument("--lr", type=float, default=1e-4, help="peak learning rate (default 1e-4)")
    p.add_argument("--lr-min", type=float, default=1e-5, help="final learning rate of the cosine (default 1e-5)")
    p.add_argument("--warmup", type=int, default=100, help="linear warm-up steps (default 100)")
    p.add_argument("--weight-decay", type=float, default=1e-3, help="AdamW weight decay (default 1e-3)")
    p.add_argument("--batch", type=int, default=4, help="batch size (default 4)")
    p.add_argument("--crop", type=int, default=128, help="square random crop in pixels (default 128)")
    p.add_argument("--augment", choices=("all", "flip", "none"), default="all",
                   help="all: flips, time reversal and 90° rotations; flip: no rotations; none (default all)")
    p.add_argument("--motion-crops", type=int, default=1, metavar="K",
                   help="take each crop where the frames move most of K random places (default 1: uniform)")
    p.add_argument("--freeze", default="", metavar="MODULES",
                   help="comma-separated student modules kept fixed, e.g. block0,block1 (the coarse blocks) or "
                        "encode; default: train everything")
    p.add_argument("--ema", type=float, default=0.0,
                   help="validate and export an exponential moving average of the weights with this decay, "
                        "e.g. 0.99 (default 0: off)")
    p.add_argument("--val-every", type=int, default=100, help="validate every N steps (default 100)")
    p.add_argument("--val-crop", type=int, default=256, help="validation crop (default 256; 0: whole frames)")
    p.add_argument("--checkpoint-every", type=int, default=500, help="checkpoint every N steps (default 500)")
    p.add_argument("--resume", type=Path, help="checkpoint to continue from (written as OUT.ckpt)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default cpu)")
    p.set_defaults(func=run)


def _source(args: argparse.Namespace):
    from ..train import folder_source, read_video, split, video_source

    if (args.data is None) == (args.video is None):
        raise CLIError("give exactly one of --data DIR or --video FILE")
    try:
        if args.data is not None:
            if not args.data.is_dir():
                raise CLIError(f"--data {str(args.data)!r} is not a directory")
            src = folder_source(args.data)
        else:
            if not args.video.is_file():
                raise CLIError(f"--video {str(args.video)!r} does not exist")
            src = video_source(read_video(args.video, args.max_frames, args.video_width), span=args.span)
        if args.val_data is not None:
            return src, folder_source(args.val_data)
        if len(src) < 2:
            raise CLIError("the data gives fewer than 2 usable samples (cuts and still frames are skipped)")
        return split(src, 0.1)
    except (ValueError, RuntimeError) as e:
        raise CLIError(str(e)) from None


def _check(args: argparse.Namespace) -> None:
    for name in ("steps", "batch", "crop", "val_every", "motion_crops"):
        if getattr(args, name) < 1:
            raise CLIError(f"--{name.replace('_', '-')} must be a positive integer, got {getattr(args, name)}")
    if args.out.suffix != ".safetensors":
        raise CLIError(f"--out must end in .safetensors, got {str(args.out)!r}")
    if args.span < 2:
        raise CLIError(f"--span must be >= 2, got {args.span}")
    if not 0.0 <= args.ema < 1.0:
        raise CLIError(f"--ema must be in [0, 1) (0: off), for example 0.99; got {args.ema}")
    if not args.device.startswith(("cpu", "cuda")):
        raise CLIError(f"--device must be cpu or cuda[:N], got {args.device!r}")


def run(args: argparse.Namespace) -> int:
    import torch

    from ..train import TrainConfig, Trainer, init_net, make_batch, val_batches

    _check(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    train, val = _source(args)
    ckpt = args.out.with_name(args.out.name + ".ckpt")
    try:
        if args.resume is not None:
            if not args.resume.is_file():
                raise CLIError(f"--resume {str(args.resume)!r} does not exist")
            tr = Trainer.resume(args.resume, steps=args.steps, device=args.device)
        else:
            cfg = TrainConfig(steps=args.steps, lr=args.lr, lr_min=args.lr_min, warmup=min(args.warmup, args.steps),
                              weight_decay=args.weight_decay, batch=args.batch, crop=args.crop,
                              distill=not args.no_distill, distill_weight=args.distill_weight, loss=args.loss,
                              aux_weight=args.aux_weight, augment=args.augment, ema=args.ema,
                              crop_tries=args.motion_crops,
                              freeze=tuple(n.strip() for n in args.freeze.split(",") if n.strip()),
                              val_every=args.val_every, seed=args.seed)
            torch.manual_seed(args.seed)
            net, caltime = init_net(args.init, args.arch, teacher=cfg.distill)
            m = net.arch.pad_multiple(1.0)
            if args.crop % m:
                raise CLIError(f"--crop must be a multiple of {m} for {net.arch.name} ({m}, {2 * m}, {3 * m}, ...), "
                               f"got {args.crop}")
            tr = Trainer(net, cfg, caltime, args.device)
    except ValueError as e:
        raise CLIError(str(e)) from None
    c = tr.config
    m = tr.net.arch.pad_multiple(1.0)
    vb = val_batches(val, args.val_crop or None, c.batch, seed=c.seed + 1, multiple=m)
    print(f"training {tr.net.arch.name}{' with distillation' if c.distill else ''}: {len(train)} samples, "
          f"{len(val)} held out, steps {tr.step}->{c.steps}, batch {c.batch}, crop {c.crop}")

    def sample(rng: random.Random):
        return make_batch(train, [rng.randrange(len(train)) for _ in range(c.batch)], c.crop, rng, c.augment,
                          c.crop_tries)

    try:
        tr.fit(sample, vb, checkpoint=ckpt, checkpoint_every=args.checkpoint_every)
    except ValueError as e:
        raise CLIError(str(e)) from None
    out = tr.export(args.out)
    hist = tr.history
    if hist:
        print(f"validation PSNR {hist[0]['val_psnr']:.3f} -> {hist[-1]['val_psnr']:.3f} dB")
    print(f"wrote {out} (checkpoint {ckpt})")
    return 0
