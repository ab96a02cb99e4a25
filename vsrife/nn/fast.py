"""Inference-only forward pass for the v4 family (4.0 to 4.26), tuned for the CPU.

:class:`FastV4` reuses a loaded :class:`~vsrife.nn.ifnet.IFNet`'s weights and computes the same
frame as ``IFNet(img0, img1, t).image`` with less memory traffic:

* channels_last (NHWC) tensors and weights, the layout oneDNN convolutions run in natively;
* the ResConv gain ``beta`` folded into the conv weights and bias; the skip-add and
  LeakyReLU run in place on the conv output;
* each block's input planes are downscaled one by one and concatenated at the block's low
  resolution (bilinear resizing is per channel, so this equals resizing the concatenation);
* only the final fused frame is computed (training needs every block's, inference does not);
* the warped sources (frame + encoder features) are packed once per frame in NHWC memory (a warp
  then reads each source pixel's channels from one cache line) and the sampling grid is built
  directly in grid_sample's [N,H,W,2] layout, so no warp copies its inputs;
* the last block upsamples only the flow and mask (not the features no later block reads);
* the ensemble of the layouts without features between blocks (4.0-4.20, 4.24) runs each block
  on the reversed pair's input (a channel permutation of the forward input) and averages the two
  low-resolution outputs, which equals averaging them at full resolution (resizing is linear).

Results differ from the eager model only by float rounding (well above 50 dB PSNR).
"""

from __future__ import annotations

import copy
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import InputError
from . import fused
from .arch import Body, Family, Head
from .fastblock import (
    CL,
    BlockOut,
    FastBlock,
    bf16_supported,
    cat_nhwc,
    input_order,
    merge_block_outputs,
    post,
    resize_at,
    reversed_input,
    sparse_grid,
    warp_nchw,
)
from .ifnet import IFNet, refine_v4
from .layers import merge_reversed
from .refine import ContextNet, UNet
from .warp import flow_norm, resize

__all__ = ["FastV4", "bf16_supported", "supports", "warp_nchw"]


def supports(net: IFNet) -> bool:
    """True for the architectures FastV4 handles: the v4 family (every published 4.x layout)."""
    a = net.arch
    return (a.family is Family.V4 and a.body in (Body.BETA, Body.SEQ, Body.PLAIN)
            and a.head in (Head.SHUFFLE, Head.DECONV))


class FastV4(nn.Module):
    """Inference-only v4 IFNet; same weights, NHWC (4.0's refine nets run as they are, in float32).

    ``dtype=torch.bfloat16`` runs the IFBlocks' convolutions in bfloat16 (for CPUs with native bf16
    instructions, see :func:`bf16_supported`); the encoder, warps, flows and the output stay float32.
    """

    def __init__(self, net: IFNet, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        if not supports(net):
            raise InputError(f"FastV4 supports the 4.x models, not {net.arch.name}")
        if dtype not in (torch.float32, torch.bfloat16):
            raise InputError(f"FastV4 dtype must be torch.float32 or torch.bfloat16, not {dtype}")
        self.arch = net.arch
        self.dtype = dtype
        self.blocks = nn.ModuleList(FastBlock(b, dtype) for b in net.blocks)
        c = net.arch.source_channels
        for blk in self.fast_blocks[1:]:  # blocks after the first read their inputs in the fused kernels' order
            conv = cast(nn.Conv2d, cast(nn.Sequential, blk.conv0[0])[0])
            with torch.no_grad():
                conv.weight.copy_(conv.weight[:, input_order(c, conv.in_channels - 2 * c - 6)])
        # the encoder stays fp32 with bf16 blocks: in bf16 it would save ~10 ms per 720p frame but cost
        # ~12 dB of the margin (worst of 24 real pairs 57 dB instead of 69 dB against fp32 eager)
        self.encoder = copy.deepcopy(net.encode) if net.arch.encoder else None
        # 4.0: its refine nets (ifnet.refine_v4), float32
        self.refiner: tuple[ContextNet, UNet] | None = None
        if net.arch.refines:
            self.contextnet, self.unet = copy.deepcopy(net.contextnet), copy.deepcopy(net.unet)
            self.refiner = (self.contextnet, self.unet)
        self.eval().to(memory_format=CL)

    @property
    def fast_blocks(self) -> list[FastBlock]:
        return [cast(FastBlock, b) for b in self.blocks]

    def encode_frame(self, img: Tensor) -> Tensor | None:
        """Per-frame encoder features (NHWC), or None for models without an encoder."""
        if self.encoder is None:
            return None
        return self.encoder(img[:, :3].contiguous(memory_format=CL))

    def source(self, img: Tensor, feat: Tensor | None = None) -> Tensor:
        """What every warp of this frame samples: RGB plus its encoder features, [1,C,H,W] in NHWC memory.

        Cache it per source frame and pass it to :meth:`interpolate`.  NHWC because ``grid_sample``
        gathers all channels of a source pixel from one cache line then: 1.7x faster warps than NCHW
        planes (docs/performance.md, step 18), same result.
        """
        img = img[:, :3]
        if self.encoder is None:
            return img.contiguous(memory_format=CL)
        feat = self.encode_frame(img) if feat is None else feat
        assert feat is not None
        return cat_nhwc([img, feat])

    def forward(self, img0: Tensor, img1: Tensor, timestep: Tensor, f0: Tensor | None = None,
                f1: Tensor | None = None, scale: float = 1.0, ensemble: bool = False) -> Tensor:
        """The interpolated frames [N,3,H,W]; ``timestep`` is [N] or a per-pixel map [N,1,H,W].

        ``ensemble`` averages with the reversed pair as ``IFNet`` does: flows swapped and averaged, mask
        logits negated and averaged (per block, or per pass for layouts that pass features between blocks).
        """
        return self.interpolate(self.source(img0, f0), self.source(img1, f1), timestep, scale, ensemble)

    def context(self, img: Tensor) -> list[Tensor] | None:
        """4.0's per-frame context features (:meth:`ContextNet.pyramid`, NHWC), or None for models without
        refine nets.  Cache them per source frame with :meth:`source` and pass both to :meth:`interpolate`."""
        if self.refiner is None:
            return None
        return self.contextnet.pyramid(img[:, :3].contiguous(memory_format=CL))

    def interpolate(self, x0: Tensor, x1: Tensor, timestep: Tensor, scale: float = 1.0,
                    ensemble: bool = False, ctx0: list[Tensor] | None = None,
                    ctx1: list[Tensor] | None = None) -> Tensor:
        """:meth:`forward` on two :meth:`source` tensors (batch 1 each; ``timestep`` [N] or [N,1,H,W]).

        ``ctx0``, ``ctx1``: the frames' :meth:`context` if cached (computed here when not given).
        """
        a = self.arch
        n = timestep.shape[0]
        if self.refiner is not None:  # per frame, not per timestep: computed on the batch-1 frames
            ctx0 = self.context(x0) if ctx0 is None else ctx0
            ctx1 = self.context(x1) if ctx1 is None else ctx1
        x0, x1 = x0.expand(n, -1, -1, -1), x1.expand(n, -1, -1, -1)
        scales = a.scale_list(scale)
        if timestep.dim() < 2:
            timestep = timestep.view(n, 1, 1, 1)
        if not ensemble or not a.passwise_ensemble:
            outs, flow, logit, done = self._blocks(x0, x1, timestep, scales, n, ensemble)
            if self.refiner is None and fused.usable(x0, outs, 1):
                return fused.final(x0, x1, outs, a.mask_accumulate)
            flow, logit, _, _ = self._full(outs, flow, logit, done)
        else:
            outs, flow, logit, done = self._blocks(x0, x1, timestep, scales, n)
            routs, rflow, rlogit, rdone = self._blocks(x1, x0, 1 - timestep, scales, n)
            both = outs + [(*o, True) for o in routs]  # the reversed pass's outputs, flipped by the kernel
            if fused.usable(x0, both, 1):
                return fused.final(x0, x1, both, a.mask_accumulate, gain=0.5)
            flow, logit, _, _ = self._full(outs, flow, logit, done)
            rflow, rlogit, _, _ = self._full(routs, rflow, rlogit, rdone)
            flow, logit = merge_reversed(flow, logit, rflow, rlogit)
        w0, w1 = warp_nchw(x0[:, :3], flow[:, :2]), warp_nchw(x1[:, :3], flow[:, 2:4])
        img = torch.addcmul(w1, w0 - w1, torch.sigmoid(logit))
        if self.refiner is not None:
            assert ctx0 is not None and ctx1 is not None
            levels = ([c.expand(n, -1, -1, -1) for c in ctx0], [c.expand(n, -1, -1, -1) for c in ctx1])
            img = refine_v4(*self.refiner, warp_nchw, x0[:, :3], x1[:, :3], img, flow, logit, w0, w1, levels, cat_nhwc)
        return img

    def _run(self, block: FastBlock, x: Tensor, s: float, last: bool, pre: bool, first: bool,
             ensemble: bool) -> BlockOut:
        """One block on its input ``x``; with ``ensemble`` averaged with the block on the reversed pair's input."""
        out = block(x, s, 5 if last else None, pre)
        if not ensemble:
            return out
        rev = block(reversed_input(x, self.arch.source_channels, first), s, 5 if last else None, pre)
        return merge_block_outputs(out, rev)

    def _blocks(self, x0: Tensor, x1: Tensor, timestep: Tensor, scales: list[float], n: int,
                ensemble: bool = False) -> tuple[list[BlockOut], Tensor | None, Tensor | None, int]:
        """Run the blocks: their raw outputs, and the full-resolution flow/mask state ``_full`` continues from.

        A block at 1/s resolution reads its full-resolution inputs (warped frames, flow, mask, features)
        through a bilinear 1/s downscale, which for an even s >= 4 reads only 2 of every s rows and
        columns.  Those blocks get their inputs computed at just those points (flow and mask resized
        there from the earlier blocks' outputs, frames warped there), a 2x2 mean giving the downscale;
        full-resolution flow is formed only for the blocks at s <= 2 and the output.  With the fused
        kernels (:mod:`vsrife.nn.fused`) every block after the first gets its input in one pass instead.
        ``ensemble``: the per-block ensemble (layouts without features between blocks).
        """
        a = self.arch
        nf = a.features
        per_pixel = timestep.shape[-1] > 1 or timestep.shape[-2] > 1
        outs: list[BlockOut] = []  # every block's raw output, its factor to full size, pre
        flow = mask = None  # full resolution, formed lazily from `outs`
        pre = fused.reads_pre_shuffle() and n == 1 and x0.dtype == torch.float32  # heads may skip PixelShuffle
        done = 0  # outputs already summed into `flow` (and `mask` when it accumulates)
        for i, (block, s) in enumerate(zip(self.fast_blocks, scales, strict=True)):
            low = lambda x, s=s: resize(x, 1.0 / s)  # noqa: E731
            h, w = low(x0[:1, :1]).shape[-2:]
            t = low(timestep.expand(n, 1, -1, -1)) if per_pixel else timestep.expand(n, 1, h, w)
            if i > 0 and not per_pixel and fused.usable(x0, outs, s):
                x = fused.block_input(x0, x1, outs, a.mask_accumulate, nf, int(s), float(timestep.reshape(-1)[0]),
                                      block.dtype)
            elif i == 0:  # block 0 takes img0, img1, (f0, f1,) t in that order
                l0, l1 = low(x0), low(x1)
                x = cat_nhwc([l0[:, :3], l1[:, :3], l0[:, 3:], l1[:, 3:], t] if a.encoder else [l0, l1, t])
            elif float(s).is_integer() and int(s) % 2 == 0 and s >= 4:
                x = cat_nhwc(self._sparse_parts(x0, x1, outs, int(s), t))
            else:
                flow, mask, feat, done = self._full(outs, flow, mask, done)
                wx0, wx1 = warp_nchw(x0, flow[:, :2]), warp_nchw(x1, flow[:, 2:4])
                feats = [low(feat)] if nf and feat is not None else []
                x = cat_nhwc([low(wx0), low(wx1), low(flow) / s, low(mask), *feats, t])
            outs.append(self._run(block, x, s, i == len(scales) - 1, pre, i == 0, ensemble))
        return outs, flow, mask, done

    def _sparse_parts(self, x0: Tensor, x1: Tensor, outs: list[BlockOut], s: int, t: Tensor) -> list[Tensor]:
        """A 1/s block's input planes from the 2x2 full-resolution points each low-resolution pixel averages."""
        a = self.arch
        hh, ww = x0.shape[-2:]
        norm = flow_norm(hh, ww, x0.device)
        gat, base = sparse_grid(hh, ww, s, x0.device)
        at = resize_at(post(outs[-1]), gat)  # the latest block's flow, mask and features at the points
        fl, mk = at[:, :4], at[:, 4:5]
        for o in outs[:-1]:
            prev = resize_at(post(o)[:, :5 if a.mask_accumulate else 4], gat)
            fl = fl + prev[:, :4]
            mk = mk + prev[:, 4:5] if a.mask_accumulate else mk
        grid = torch.addcmul(base, fl.permute(0, 2, 3, 1)[..., :2], norm)
        wx0 = F.grid_sample(x0, grid, mode="bilinear", padding_mode="border", align_corners=True)
        grid = torch.addcmul(base, fl.permute(0, 2, 3, 1)[..., 2:4], norm)
        wx1 = F.grid_sample(x1, grid, mode="bilinear", padding_mode="border", align_corners=True)
        pool = lambda x: F.avg_pool2d(x, 2)  # noqa: E731  (= the 1/s bilinear downscale)
        feats = [pool(at[:, 5:5 + a.features])] if a.features else []
        return [pool(wx0), pool(wx1), pool(fl) / s, pool(mk), *feats, t]

    def _full(self, outs: list[BlockOut], flow: Tensor | None, mask: Tensor | None,
              done: int) -> tuple[Tensor, Tensor, Tensor | None, int]:
        """Full-resolution flow, mask and features after the blocks in ``outs`` (``done`` already in flow)."""
        acc = self.arch.mask_accumulate
        for k in range(done, len(outs) - 1):  # earlier outputs: only what accumulates
            r = resize(post(outs[k])[:, :5 if acc else 4], outs[k][1])
            flow = r[:, :4] if flow is None else flow + r[:, :4]
            if acc:
                mask = r[:, 4:5] if mask is None else mask + r[:, 4:5]
        r = resize(post(outs[-1]), outs[-1][1])
        flow = r[:, :4] if flow is None else flow + r[:, :4]
        mask = r[:, 4:5] if mask is None or not acc else mask + r[:, 4:5]
        nf = self.arch.features
        feat = r[:, 5:5 + nf] if nf and r.shape[1] > 5 else None
        return flow, mask, feat, len(outs)
