"""Training losses: L_total = L_rec + L_rec_teacher + λ·L_dis (Huang et al., RIFE, ECCV 2022)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import InputError
from ..nn import Output
from .teacher import TeacherOutput

__all__ = ["Losses", "compute_losses", "distill_loss", "laplacian_loss", "psnr"]

_BINOMIAL = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16


def _blur(x: Tensor) -> Tensor:
    """Separable 5-tap binomial blur with reflect padding, per channel."""
    c = x.shape[1]
    k = _BINOMIAL.to(x)
    x = F.pad(x, (2, 2, 2, 2), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, 5).expand(c, 1, 1, 5), groups=c)
    return F.conv2d(x, k.view(1, 1, 5, 1).expand(c, 1, 5, 1), groups=c)


def _pyramid(x: Tensor, levels: int) -> list[Tensor]:
    bands = []
    for _ in range(levels - 1):
        if min(x.shape[-2:]) < 6:
            break
        low = _blur(x)[..., ::2, ::2]
        up = F.interpolate(low, size=x.shape[-2:], mode="bilinear", align_corners=False)
        bands.append(x - _blur(up))
        x = low
    bands.append(x)
    return bands


def laplacian_loss(pred: Tensor, target: Tensor, levels: int = 5) -> Tensor:
    """Sum over pyramid levels of the mean L1 distance between the Laplacian bands (plus the low-pass)."""
    terms = [F.l1_loss(a, b) for a, b in zip(_pyramid(pred, levels), _pyramid(target, levels), strict=True)]
    return sum(terms, pred.new_zeros(()))


def reconstruction_loss(pred: Tensor, target: Tensor, kind: str = "lap") -> Tensor:
    """``kind`` "lap" (Laplacian pyramid L1), "l1" or "l2" (mean squared error: what PSNR measures)."""
    if kind == "lap":
        return laplacian_loss(pred, target)
    if kind == "l1":
        return F.l1_loss(pred, target)
    if kind == "l2":
        return F.mse_loss(pred, target)
    raise InputError(f"loss must be 'lap', 'l1' or 'l2', got {kind!r}")


def distill_loss(flows: list[Tensor], merged: list[Tensor], teacher: TeacherOutput, gt: Tensor,
                 margin: float = 0.01) -> Tensor:
    """Per block: endpoint distance to the (detached) teacher flow where the teacher's frame is better.

    A pixel counts where the block's per-pixel L1 error exceeds the teacher's by more than ``margin``.
    The teacher flow and the mask are detached, so no gradient reaches the teacher from this term.
    """
    t_flow = teacher.flow.detach()
    t_err = (teacher.merged.detach() - gt).abs().mean(1, keepdim=True)
    total = gt.new_zeros(())
    for flow, img in zip(flows, merged, strict=True):
        better = ((img.detach() - gt).abs().mean(1, keepdim=True) > t_err + margin).to(gt.dtype)
        epe = ((t_flow - flow) ** 2).mean(1, keepdim=True).add(1e-12).sqrt()
        total = total + (epe * better).mean()
    return total


@dataclass
class Losses:
    """The loss terms of one step (``dis`` is zero when distillation is off)."""

    total: Tensor
    rec: Tensor
    rec_teacher: Tensor
    dis: Tensor
    psnr: float = 0.0  # student PSNR of the batch (dB), filled by the trainer


def compute_losses(out: Output, teacher: TeacherOutput | None, gt: Tensor, distill_weight: float = 0.01,
                   kind: str = "lap", aux_weight: float | None = 0.1) -> Losses:
    """L_rec over the blocks' fused frames, L_rec_teacher, and λ·L_dis.

    L_rec = L(last block) + ``aux_weight`` · Σ L(earlier blocks); ``aux_weight=None``: the mean over all blocks.
    """
    recs = [reconstruction_loss(m, gt, kind) for m in out.merged]
    zero = gt.new_zeros(())
    rec = sum(recs, zero) / len(recs) if aux_weight is None else recs[-1] + aux_weight * sum(recs[:-1], zero)
    rec_t = reconstruction_loss(teacher.merged, gt, kind) if teacher is not None else zero
    dis = distill_loss(out.flows, out.merged, teacher, gt) if teacher is not None and distill_weight > 0 else zero
    return Losses(rec + rec_t + distill_weight * dis, rec, rec_t, dis)


def psnr(pred: Tensor, target: Tensor) -> float:
    """Mean PSNR in dB over the batch for images in [0, 1]."""
    mse = ((pred.detach().clamp(0, 1) - target) ** 2).flatten(1).mean(1).clamp_min(1e-10)
    return float((-10 * torch.log10(mse)).mean())
