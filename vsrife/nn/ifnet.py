"""IFNet: any RIFE version's flow network, built from the architecture table.

IFNet (Huang et al., ECCV 2022) estimates the intermediate flows F_t->0, F_t->1 and a fusion mask
coarse-to-fine with a stack of IFBlocks (:mod:`vsrife.nn.layers`), then warps and blends the two
frames; 4.0 and 3.1 add refinement nets (:mod:`vsrife.nn.refine`).  The version is an
:class:`~vsrife.nn.arch.Arch`; the warp is injected (``IFNet(arch, warp=...)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .arch import ARCHS, Arch, Family, Refine
from .layers import IFBlock, make_encoder, merge_block, merge_reversed, swap_flows
from .refine import Cat, ContextNet, UNet, cat_channels
from .warp import Warp, resize
from .warp import warp as warp_gridsample

__all__ = ["IFNet", "Output", "refine_v4"]


@dataclass
class Output:
    """Result of one IFNet pass (all at the padded input resolution)."""

    image: Tensor
    flow: Tensor  # [N, 4, H, W]: F_t->0 (x, y), F_t->1 (x, y)
    mask: Tensor  # [N, 1, H, W] sigmoid fusion weight of the warped frame 0
    flows: list[Tensor]  # per block, for training
    masks: list[Tensor]  # per block (logits)
    merged: list[Tensor]  # per block fused image, for training
    warped: tuple[Tensor, Tensor]
    feat: Tensor | None = None  # 4.25: features passed between blocks (last block's)
    mask_logit: Tensor | None = None


class IFNet(nn.Module):
    """Any RIFE version's flow network (plus refinement nets where the version has them)."""

    def __init__(self, arch: Arch | str, teacher: bool = False, warp: Warp = warp_gridsample) -> None:
        super().__init__()
        self.arch = a = ARCHS[arch] if isinstance(arch, str) else arch
        self.warp: Warp = warp  # injected: the ONNX export swaps in a Gather-only warp
        for i, (cin, c) in enumerate(zip(a.in_planes, a.channels, strict=True)):
            self.add_module(f"block{i}", IFBlock(a, cin, c))
        if a.encoder:
            self.encode = make_encoder(a)
        if a.refine is not Refine.NONE:
            c = 16 if a.refine is Refine.V4 else 32
            self.contextnet = ContextNet(c, stem=a.refine is Refine.V31)
            self.unet = UNet(c, a.refine)
        self.has_teacher = teacher and a.teacher_in > 0
        if self.has_teacher:
            self.add_module(a.teacher_name, IFBlock(a, a.teacher_in, a.teacher_c))

    @property
    def blocks(self) -> list[IFBlock]:
        return [getattr(self, f"block{i}") for i in range(len(self.arch.channels))]

    @property
    def teacher_block(self) -> IFBlock:
        return getattr(self, self.arch.teacher_name)

    def encode_frame(self, img: Tensor) -> Tensor | None:
        """Per-frame encoder features (4.7+), None without an encoder; cacheable across neighbouring pairs."""
        return self.encode(img[:, :3]) if self.arch.encoder else None

    def forward(
        self,
        img0: Tensor,
        img1: Tensor,
        timestep: float | Tensor = 0.5,
        scale: float = 1.0,
        ensemble: bool = False,
        refine: bool = False,
        f0: Tensor | None = None,
        f1: Tensor | None = None,
    ) -> Output:
        """Interpolate between ``img0`` and ``img1`` ([N,3,H,W] in [0,1]) at ``timestep``.

        ``timestep`` is a float, an [N] tensor or an [N,1,H,W] per-pixel map (v4 family only).
        """
        family = self.arch.family
        if family is Family.V4:
            return self._forward_v4(img0, img1, timestep, scale, ensemble, refine, f0, f1)
        if family is Family.HD:
            return self._forward_hd(img0, img1, scale, ensemble)
        return self._forward_v31(img0, img1, scale)

    def timestep_map(self, img: Tensor, timestep: float | Tensor) -> Tensor:
        n, _, h, w = img.shape
        if not torch.is_tensor(timestep):
            return img.new_full((n, 1, h, w), float(timestep))
        t = timestep.to(img.dtype)
        if t.dim() <= 1:
            return t.reshape(-1, 1, 1, 1).expand(n, 1, h, w)
        return t.expand(n, 1, h, w)

    def _forward_v4(self, img0, img1, timestep, scale, ensemble, refine, f0, f1) -> Output:
        a = self.arch
        t = self.timestep_map(img0, timestep)
        if a.encoder:
            f0 = self.encode(img0) if f0 is None else f0.expand(img0.shape[0], -1, -1, -1)
            f1 = self.encode(img1) if f1 is None else f1.expand(img1.shape[0], -1, -1, -1)
        passwise = ensemble and a.passwise_ensemble
        out = self._run_v4(img0, img1, t, f0, f1, a.scale_list(scale), blockwise_ensemble=ensemble and not passwise)
        if passwise:
            # 4.21+ pass features between blocks, so the ensemble is over whole passes:
            # run (img1, img0, 1 - t), swap its flows and negate its mask logits.
            rev = self._run_v4(img1, img0, 1 - t, f1, f0, a.scale_list(scale), blockwise_ensemble=False)
            assert out.mask_logit is not None and rev.mask_logit is not None
            flow, logit = merge_reversed(out.flow, out.mask_logit, rev.flow, rev.mask_logit)
            out = self._fuse(img0, img1, flow, logit, out)
        if refine and a.refine is Refine.V4:
            out = self._refine_v4(img0, img1, out)
        return out

    def _refine_v4(self, img0: Tensor, img1: Tensor, out: Output) -> Output:
        """4.0's context U-Net: adds a residual in [-1, 1] to the fused frame."""
        assert out.mask_logit is not None
        img = refine_v4(self.contextnet, self.unet, self.warp, img0, img1, out.image, out.flow, out.mask_logit,
                        *out.warped)
        return Output(img, out.flow, out.mask, out.flows, out.masks, [*out.merged[:-1], img], out.warped,
                      out.feat, out.mask_logit)

    def _fuse(self, img0: Tensor, img1: Tensor, flow: Tensor, logit: Tensor, out: Output) -> Output:
        w0, w1 = self.warp(img0, flow[:, :2]), self.warp(img1, flow[:, 2:4])
        m = torch.sigmoid(logit)
        img = w0 * m + w1 * (1 - m)
        return Output(img, flow, m, [*out.flows[:-1], flow], [*out.masks[:-1], logit],
                      [*out.merged[:-1], img], (w0, w1), out.feat, logit)

    def _block_v4(self, i: int, img0: Tensor, img1: Tensor, t: Tensor, f0: Tensor | None, f1: Tensor | None,
                  state: tuple[Tensor, Tensor, Tensor, Tensor, Tensor | None] | None, s: float,
                  ensemble: bool) -> Tensor:
        """Block ``i``'s output (flow update, mask logit, features) given the previous blocks' ``state``.

        Block 0 reads img0, img1 (, f0, f1), t; later blocks the warped frames (, the warped encoder features),
        t, the mask logit (, the previous block's features) and the flow.  ``ensemble`` averages with the block
        run on the reversed pair (frames swapped, 1 - t, -mask, flows swapped), the 4.0-4.20 ensemble.
        """
        a, block = self.arch, self.blocks[i]
        enc: list[Tensor] = []
        if a.encoder:
            assert f0 is not None and f1 is not None
            enc = [f0, f1]
        if state is None:
            out = block(torch.cat([img0, img1, *enc, t], 1), None, s)
            if ensemble:
                out = merge_block(out, block(torch.cat([img1, img0, *enc[::-1], 1 - t], 1), None, s))
            return out
        flow, mask, w0, w1, feat = state
        wf = [self.warp(enc[0], flow[:, :2]), self.warp(enc[1], flow[:, 2:4])] if enc else []
        fe = [feat] if a.features and feat is not None else []
        out = block(torch.cat([w0, w1, *wf, t, mask, *fe], 1), flow, s)
        if ensemble:
            rev = block(torch.cat([w1, w0, *wf[::-1], 1 - t, -mask], 1), swap_flows(flow), s)
            out = merge_block(out, rev)
        return out

    def _run_v4(self, img0, img1, t, f0, f1, scales, blockwise_ensemble: bool) -> Output:
        a = self.arch
        state = None
        flows, masks, merged = [], [], []
        for i, s in enumerate(scales):
            out = self._block_v4(i, img0, img1, t, f0, f1, state, s, blockwise_ensemble)
            if state is None:
                flow, mask = out[:, :4], out[:, 4:5]
            else:
                flow = state[0] + out[:, :4]
                mask = state[1] + out[:, 4:5] if a.mask_accumulate else out[:, 4:5]
            feat = out[:, 5:5 + a.features] if a.features else None
            w0, w1 = self.warp(img0, flow[:, :2]), self.warp(img1, flow[:, 2:4])
            state = (flow, mask, w0, w1, feat)
            flows.append(flow)
            masks.append(mask)
            m = torch.sigmoid(mask)
            merged.append(w0 * m + w1 * (1 - m))
        assert state is not None
        flow, mask, w0, w1, feat = state
        return Output(merged[-1], flow, torch.sigmoid(mask), flows, masks, merged, (w0, w1), feat, mask)

    def _forward_hd(self, img0: Tensor, img1: Tensor, scale: float, ensemble: bool) -> Output:
        a = self.arch
        n, _, h, w = img0.shape
        flow = img0.new_zeros(n, 4, h, w)
        mask = img0.new_zeros(n, 1, h, w)
        w0, w1 = img0, img1
        flows, masks, merged = [], [], []
        for block, s in zip(self.blocks, a.scale_list(scale), strict=True):
            out = block(torch.cat((w0, w1, mask), 1), flow, s)
            if ensemble:
                out = merge_block(out, block(torch.cat((w1, w0, -mask), 1), swap_flows(flow), s))
            flow = flow + out[:, :4]
            mask = mask + out[:, 4:5]
            w0, w1 = self.warp(img0, flow[:, :2]), self.warp(img1, flow[:, 2:4])
            m = torch.sigmoid(mask)
            flows.append(flow)
            masks.append(mask)
            merged.append(w0 * m + w1 * (1 - m))
        return Output(merged[-1], flow, torch.sigmoid(mask), flows, masks, merged, (w0, w1), None, mask)

    def _forward_v31(self, img0: Tensor, img1: Tensor, scale: float) -> Output:
        a = self.arch
        x0, x1 = resize(img0, scale), resize(img1, scale)
        flow = None
        flows = []
        for block, s in zip(self.blocks, a.scales, strict=True):  # flows at half resolution
            if flow is None:
                flow = block(torch.cat((x0, x1), 1), None, s)
            else:
                big = resize(flow, 2.0) * 2.0
                flow = flow + block(torch.cat((self.warp(x0, big[:, :2]), self.warp(x1, big[:, 2:4])), 1), big, s)
            flows.append(flow)
        assert flow is not None
        if scale != 1:
            flow = resize(flow, 1.0 / scale) / scale
        c0 = self.contextnet(img0, flow[:, :2], self.warp)
        c1 = self.contextnet(img1, flow[:, 2:4], self.warp)
        full = resize(flow, 2.0) * 2.0
        w0, w1 = self.warp(img0, full[:, :2]), self.warp(img1, full[:, 2:4])
        ref = self.unet(torch.cat((w0, w1, full), 1), c0, c1)
        res = torch.sigmoid(ref[:, :3]) * 2 - 1
        m = torch.sigmoid(ref[:, 3:4])
        blend = w0 * m + w1 * (1 - m)
        img = torch.clamp(blend + res, 0, 1)
        return Output(img, full, m, [resize(f, 2.0) * 2.0 for f in flows], [ref[:, 3:4]], [blend, img], (w0, w1),
                      None, ref[:, 3:4])


def refine_v4(ctx: ContextNet, unet: UNet, warp_fn: Warp, img0: Tensor, img1: Tensor, img: Tensor, flow: Tensor,
              logit: Tensor, w0: Tensor, w1: Tensor, levels: tuple[Sequence[Tensor], Sequence[Tensor]] | None = None,
              cat: Cat = cat_channels) -> Tensor:
    """4.0's refinement of the fused frame ``img``: the context features of both frames warped by the flow and a
    U-Net over the frames, warps, mask logit and flow add a residual in [-1, 1].  One source for the eager
    model and the CPU fast path, which passes each frame's :meth:`ContextNet.pyramid` (``levels``, computed once
    per source frame) and a ``cat`` that writes NHWC memory."""
    p0, p1 = (ctx.pyramid(img0), ctx.pyramid(img1)) if levels is None else levels
    c0, c1 = ctx.warped(p0, flow[:, :2], warp_fn), ctx.warped(p1, flow[:, 2:4], warp_fn)
    x = cat((img0, img1, w0, w1, logit, flow))
    return torch.clamp(img + torch.sigmoid(unet(x, c0, c1, cat)) * 2 - 1, 0, 1)
