"""The privileged teacher: one extra IFBlock that also sees the ground-truth middle frame.

The teacher refines the student's final flow and mask.  Its input is the student's last-block input
with the ground truth inserted; the channel order per family was determined on real frames (see
docs/training.md): with the right order the pretrained teacher beats the student clearly.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..errors import InputError
from ..nn import IFNet, Output
from ..nn.warp import warp

__all__ = ["TEACHER_ORDERS", "CalTime", "TeacherOutput", "teacher_forward"]

# Input parts of the teacher block per family, in channel order (the flow is appended by IFBlock).
#   img0/img1: source frames; w0/w1: frames warped by the student flow; wf0/wf1: warped 4.25 features;
#   t: timestep map; mask: student mask logit; feat: 4.25 last-block features; gt: ground truth.
TEACHER_ORDERS: dict[str, tuple[str, ...]] = {
    "encoder": ("w0", "w1", "gt", "wf0", "wf1", "t", "mask", "feat"),
    "v4": ("img0", "img1", "t", "w0", "w1", "mask", "gt"),
    "hd": ("w0", "w1", "mask", "gt"),
}
WIDTHS = {"img0": 3, "img1": 3, "w0": 3, "w1": 3, "wf0": 4, "wf1": 4, "t": 1, "mask": 1, "feat": 8, "gt": 3}


@dataclass
class TeacherOutput:
    """The teacher's refined flow, mask logit and fused frame."""

    flow: Tensor
    mask_logit: Tensor
    merged: Tensor


def order_key(net: IFNet) -> str:
    """Which entry of :data:`TEACHER_ORDERS` applies to ``net``."""
    a = net.arch
    return "encoder" if a.encoder else a.family


def teacher_forward(net: IFNet, img0: Tensor, img1: Tensor, gt: Tensor, out: Output,
                    timestep: float | Tensor = 0.5, order: tuple[str, ...] | None = None,
                    accumulate: bool | None = None) -> TeacherOutput:
    """Run ``net``'s teacher block on the student's result ``out`` with the ground truth ``gt``."""
    if not net.has_teacher:
        raise InputError(f"the {net.arch.name} net was built without a teacher block (use IFNet(arch, teacher=True))")
    a = net.arch
    order = order or TEACHER_ORDERS[order_key(net)]
    flow, mask = out.flow, out.mask_logit
    parts: dict[str, Tensor] = {"img0": img0, "img1": img1, "gt": gt, "mask": mask,
                                "w0": out.warped[0], "w1": out.warped[1], "t": net.timestep_map(img0, timestep)}
    if a.encoder:
        parts["wf0"] = warp(net.encode(img0), flow[:, :2])
        parts["wf1"] = warp(net.encode(img1), flow[:, 2:4])
        parts["feat"] = out.feat
    d = net.teacher_block(torch.cat([parts[p] for p in order], 1), flow, 1.0)
    flow_t = flow + d[:, :4]
    acc = a.mask_accumulate if accumulate is None else accumulate
    logit = mask + d[:, 4:5] if acc else d[:, 4:5]
    m = torch.sigmoid(logit)
    merged = warp(img0, flow_t[:, :2]) * m + warp(img1, flow_t[:, 2:4]) * (1 - m)
    return TeacherOutput(flow_t, logit, merged)


class CalTime(nn.Sequential):
    """The 4.25 checkpoint's ``caltime`` net (convs 17 -> 32 -> 64 -> 64 -> 64 -> 1); kept, not used in losses.

    Its keys match the checkpoint's ``caltime.<i>.*`` after stripping the prefix.
    """

    def __init__(self, cin: int = 17) -> None:
        widths = [cin, 32, 64, 64, 64, 1]
        layers: list[nn.Module] = []
        for i in range(5):
            layers.append(nn.Conv2d(widths[i], widths[i + 1], 3, 1, 1))
            if i < 4:
                layers.append(nn.LeakyReLU(0.2, True))
        super().__init__(*layers)
