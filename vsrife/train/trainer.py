"""The training loop: AdamW, warm-up + cosine learning rate, safetensors checkpoints, validation, export."""

from __future__ import annotations

import json
import math
import random
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TextIO

import torch
from torch import Tensor

from ..errors import InputError
from ..nn import ARCHS, Arch, IFNet, arch_for
from ..weights import DEFAULT, DEFAULT_MODEL, MODELS, arch_metadata, detect_arch, load_file, load_model
from .data import Batch
from .losses import Losses, compute_losses, psnr
from .teacher import CalTime, teacher_forward

__all__ = ["SMALL", "TrainConfig", "Trainer", "export_student", "init_net"]

# A small 4.25-style IFNet (4 blocks) for training from scratch on a CPU.
SMALL = replace(DEFAULT.arch, name="4.25-small", versions=(), channels=(64, 48, 32, 24), in_planes=(15, 28, 28, 28),
                scales=(8.0, 4.0, 2.0, 1.0), teacher_c=32)


@dataclass
class TrainConfig:
    """Optimisation settings (all stored in checkpoints)."""

    steps: int = 1000
    lr: float = 1e-4
    lr_min: float = 1e-5
    warmup: int = 100
    weight_decay: float = 1e-3
    batch: int = 4
    crop: int = 128
    distill: bool = True
    distill_weight: float = 0.01
    loss: str = "lap"
    aux_weight: float | None = 0.1  # weight of the earlier blocks' L_rec (None: mean over all blocks)
    val_every: int = 100
    seed: int = 0
    augment: str = "all"  # "all", "flip" (no 90° rotations) or "none"; see data.make_batch
    ema: float = 0.0  # decay of an exponential moving average of the student weights (0: off)
    crop_tries: int = 1  # each crop: the most-moving of this many random places (1: uniform)
    freeze: tuple[str, ...] = ()  # student modules kept fixed, e.g. ("block0", "block1", "encode")

    def lr_at(self, step: int) -> float:
        """Linear warm-up over ``warmup`` steps, then cosine from ``lr`` down to ``lr_min`` at ``steps``."""
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        span = max(self.steps - self.warmup, 1)
        p = min((step - self.warmup) / span, 1.0)
        return self.lr_min + (self.lr - self.lr_min) * 0.5 * (1 + math.cos(math.pi * p))


def init_net(init: str | None, arch: str = DEFAULT_MODEL, teacher: bool = True) -> tuple[IFNet, CalTime | None]:
    """Student (+ teacher) from a model name or weights path, or randomly initialised ``arch`` when ``init`` is None.

    Pretrained teacher (``teacher.*``/``block_tea.*``) and ``caltime.*`` tensors are loaded when present.
    """
    if init is None:
        a = SMALL if arch == "small" else arch_for(arch)
        if a is None:
            raise InputError(f"arch must be small, a version or one of {', '.join(ARCHS)}; got {arch!r}")
        sd: dict[str, Tensor] = {}
    elif init in MODELS:
        net, sd = load_model(init)
        a = net.arch
    else:
        sd, meta = load_file(init)
        a = detect_arch(sd, meta)
    if teacher and a.teacher_in == 0:
        raise InputError(f"the {a.name} architecture has no teacher block; "
                         "train it without distillation (--no-distill)")
    net = IFNet(a, teacher=teacher)
    if sd:
        own = net.state_dict()
        missing, _ = net.load_state_dict({k: v for k, v in sd.items() if k in own}, strict=False)
        bad = [k for k in missing if not k.startswith(("teacher.", "block_tea."))]
        if bad:
            raise InputError(f"init weights lack tensors of the {a.name} student: {bad[:5]}")
    caltime = None
    if any(k.startswith("caltime.") for k in sd):
        caltime = CalTime(int(sd["caltime.0.weight"].shape[1]))
        caltime.load_state_dict({k[8:]: v for k, v in sd.items() if k.startswith("caltime.")})
    return net, caltime


_TEACHER = ("teacher.", "block_tea.")


def student_state(net: IFNet) -> dict[str, Tensor]:
    """The inference weights only: no teacher block."""
    return {k: v.detach().cpu().contiguous().clone() for k, v in net.state_dict().items()
            if not k.startswith(_TEACHER)}


def export_student(net: IFNet, path: str | Path, state: dict[str, Tensor] | None = None) -> Path:
    """Write the student (or ``state``, e.g. EMA weights of it) as safetensors with the architecture in the
    metadata (loads via ``model_path``)."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(student_state(net) if state is None else state, str(path), metadata=arch_metadata(net.arch))
    return path


def freezable(net: IFNet) -> list[str]:
    """Names of the student modules that ``TrainConfig.freeze`` may name (coarse to fine, then the rest)."""
    names = [f"block{i}" for i in range(len(net.blocks))]
    return names + [n for n in ("encode", "contextnet", "unet") if hasattr(net, n)]


def freeze_modules(net: IFNet, names: tuple[str, ...]) -> None:
    """Keep the named student modules fixed (no gradient, not in the optimiser); the rest trains."""
    allowed = freezable(net)
    bad = [n for n in names if n not in allowed]
    if bad:
        raise InputError(f"freeze: unknown module {', '.join(map(repr, bad))} for {net.arch.name}; "
                         f"allowed: {', '.join(allowed)}")
    for n, p in net.named_parameters():
        p.requires_grad_(n.split(".", 1)[0] not in names)


class Trainer:
    """Privileged-distillation training of ``net`` (its teacher block is used when ``config.distill``)."""

    def __init__(self, net: IFNet, config: TrainConfig, caltime: CalTime | None = None,
                 device: str | torch.device = "cpu") -> None:
        if config.distill and not net.has_teacher:
            raise InputError("distillation needs a net built with teacher=True")
        if config.crop % net.arch.pad_multiple(1.0):
            raise InputError(f"crop must be a multiple of {net.arch.pad_multiple(1.0)} for {net.arch.name}, "
                             f"got {config.crop}")
        self.device = torch.device(device)
        self.net, self.config, self.caltime = net.to(self.device), config, caltime
        self.step = 0
        self.rng = random.Random(config.seed)
        if not 0.0 <= config.ema < 1.0:
            raise InputError(f"ema must be in [0, 1) (0: off), got {config.ema}")
        config.freeze = tuple(config.freeze)
        freeze_modules(net, config.freeze)
        self.opt = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=config.lr,
                                     weight_decay=config.weight_decay)
        self.history: list[dict[str, float]] = []
        # EMA of the student (validated and exported instead of the raw weights when config.ema > 0)
        self.ema: dict[str, Tensor] | None = (
            {k: v.detach().clone() for k, v in net.state_dict().items() if not k.startswith(_TEACHER)}
            if config.ema else None)

    def forward(self, b: Batch) -> Losses:
        """Student (and teacher) forward and the loss terms; no optimiser step."""
        b = b.to(self.device)
        out = self.net(b.img0, b.img1, b.t)
        tea = teacher_forward(self.net, b.img0, b.img1, b.gt, out, b.t) if self.config.distill else None
        c = self.config
        losses = compute_losses(out, tea, b.gt, c.distill_weight if c.distill else 0.0, c.loss, c.aux_weight)
        losses.psnr = psnr(out.image, b.gt)
        return losses

    def train_step(self, b: Batch) -> Losses:
        """One AdamW step at the scheduled learning rate."""
        self.net.train()
        lr = self.config.lr_at(self.step)
        for g in self.opt.param_groups:
            g["lr"] = lr
        self.opt.zero_grad(set_to_none=True)
        losses = self.forward(b)
        losses.total.backward()
        self.opt.step()
        self.step += 1
        self._update_ema()
        return losses

    def ema_decay(self, step: int) -> float:
        """EMA decay after ``step`` updates: ``config.ema``, lower early on ((1 + step) / (10 + step))."""
        return min(self.config.ema, (1 + step) / (10 + step))

    @torch.no_grad()
    def _update_ema(self) -> None:
        if self.ema is None:
            return
        d = self.ema_decay(self.step)
        for k, v in self.net.state_dict().items():
            e = self.ema.get(k)
            if e is None:
                continue
            if e.is_floating_point():
                e.lerp_(v.detach(), 1.0 - d)  # e = d * e + (1 - d) * v
            else:
                e.copy_(v)

    def student_weights(self) -> dict[str, Tensor]:
        """The weights to use and export: the EMA when enabled, else the current student."""
        if self.ema is not None:
            return {k: v.detach().cpu().contiguous().clone() for k, v in self.ema.items()}
        return student_state(self.net)

    def export(self, path: str | Path) -> Path:
        """Write :meth:`student_weights` like :func:`export_student` (loads via ``model_path``)."""
        return export_student(self.net, path, self.student_weights())

    @torch.no_grad()
    def validate(self, batches: list[Batch]) -> float:
        """Mean student PSNR (dB) over the validation batches (t from each sample); of the EMA weights if on."""
        self.net.eval()
        saved = None
        if self.ema is not None:
            saved = {k: v.detach().clone() for k, v in self.net.state_dict().items() if k in self.ema}
            self.net.load_state_dict(self.ema, strict=False)
        try:
            vals, n = 0.0, 0
            for b in batches:
                b = b.to(self.device)
                out = self.net(b.img0, b.img1, b.t)
                vals += psnr(out.image, b.gt) * b.gt.shape[0]
                n += b.gt.shape[0]
        finally:
            if saved is not None:
                self.net.load_state_dict(saved, strict=False)
        return vals / max(n, 1)

    def fit(self, sample: Callable[[random.Random], Batch], val: list[Batch] | None = None,
            checkpoint: str | Path | None = None, checkpoint_every: int = 0,
            log: TextIO | str | None = "stderr") -> list[dict[str, float]]:
        """Train until ``config.steps``; validate every ``val_every`` steps (and at the start and end).

        Progress and validation lines go to ``log``: the current ``sys.stderr`` by default, None for none.
        """
        log = sys.stderr if log == "stderr" else log
        c = self.config
        if val and self.step == 0:
            self._record(self.validate(val), log)
        t0, done0 = time.monotonic(), self.step
        while self.step < c.steps:
            losses = self.train_step(sample(self.rng))
            _progress(self.step, c.steps, losses, c.lr_at(self.step - 1), (time.monotonic() - t0) /
                      max(self.step - done0, 1), log)
            if val and (self.step % c.val_every == 0 or self.step == c.steps):
                self._record(self.validate(val), log)
            if checkpoint and checkpoint_every and self.step % checkpoint_every == 0:
                self.save(checkpoint)
        if checkpoint:
            self.save(checkpoint)
        return self.history

    def _record(self, value: float, log) -> None:
        self.history.append({"step": self.step, "val_psnr": value})
        if log:
            print(f"\nstep {self.step}: validation PSNR {value:.3f} dB", file=log, flush=True)

    def save(self, path: str | Path) -> Path:
        """Checkpoint (safetensors): weights, AdamW state, step, config, sampler RNG and history."""
        from safetensors.torch import save_file

        tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in self.net.state_dict().items()}
        if self.caltime is not None:
            tensors.update({f"caltime.{k}": v.contiguous() for k, v in self.caltime.state_dict().items()})
        if self.ema is not None:
            tensors.update({f"ema.{k}": v.detach().cpu().contiguous() for k, v in self.ema.items()})
        opt = self.opt.state_dict()
        for pid, st in opt["state"].items():
            for name, v in st.items():
                v = v if torch.is_tensor(v) else torch.tensor(v)
                tensors[f"optim.{pid}.{name}"] = v.detach().cpu().contiguous()
        meta = {"step": str(self.step), "config": json.dumps(asdict(self.config)),
                "rng": json.dumps(self.rng.getstate()),
                "history": json.dumps(self.history), "arch": json.dumps(asdict(self.net.arch)),
                "teacher": json.dumps(self.net.has_teacher)}
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        save_file(tensors, str(tmp), metadata=meta)
        tmp.replace(path)
        return path

    @classmethod
    def resume(cls, path: str | Path, steps: int | None = None, device: str | torch.device = "cpu") -> Trainer:
        """Rebuild a trainer from a checkpoint written by :meth:`save`; ``steps`` may extend the run."""
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
        if "step" not in meta or "arch" not in meta:
            raise InputError(f"resume {str(path)!r} is not a vsrife training checkpoint")
        fields = {k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(meta["arch"]).items()}
        config = TrainConfig(**json.loads(meta["config"]))
        if steps is not None:
            config.steps = steps
        net = IFNet(Arch(**fields), teacher=json.loads(meta["teacher"]))
        net.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        caltime = None
        if any(k.startswith("caltime.") for k in tensors):
            caltime = CalTime(int(tensors["caltime.0.weight"].shape[1]))
            caltime.load_state_dict({k[8:]: v for k, v in tensors.items() if k.startswith("caltime.")})
        tr = cls(net, config, caltime, device)
        if tr.ema is not None:
            for k in tr.ema:
                tr.ema[k].copy_(tensors[f"ema.{k}"])
        opt = tr.opt.state_dict()
        state: dict[int, dict[str, Tensor]] = {}
        for k, v in tensors.items():
            if k.startswith("optim."):
                _, pid, name = k.split(".", 2)
                state.setdefault(int(pid), {})[name] = v
        opt["state"] = state
        tr.opt.load_state_dict(opt)
        tr.step = int(meta["step"])
        st = json.loads(meta["rng"])
        tr.rng.setstate((st[0], tuple(st[1]), st[2]))
        tr.history = json.loads(meta.get("history", "[]"))
        return tr


def _progress(step: int, total: int, losses: Losses, lr: float, sec_per_it: float, log) -> None:
    if not log:
        return
    tty = hasattr(log, "isatty") and log.isatty()
    if not tty and step % 10 and step != total:
        return
    width = 24
    fill = round(width * step / total)
    eta = sec_per_it * (total - step)
    v = {k: float(getattr(losses, k).detach()) for k in ("total", "rec", "rec_teacher", "dis")}
    line = (f"step {step}/{total} [{'#' * fill}{'.' * (width - fill)}] loss {v['total']:.4f} "
            f"(rec {v['rec']:.4f} tea {v['rec_teacher']:.4f} dis {v['dis']:.3f}) "
            f"psnr {losses.psnr:.2f} dB lr {lr:.2e} {sec_per_it:.2f} s/it eta {eta / 60:.1f} min")
    print(("\r" + line) if tty else line, end="" if tty else "\n", file=log, flush=True)
