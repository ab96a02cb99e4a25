"""Inference-only forward pass for the v4 family (4.25, 4.0), tuned for the CPU.

:class:`FastV4` reuses a loaded :class:`~vsrife.nn.ifnet.IFNet`'s weights and computes the same
frame as ``IFNet(img0, img1, t).image`` with less memory traffic:

* channels_last (NHWC) tensors and weights, the layout oneDNN convolutions run in natively;
* the ResConv gain ``beta`` folded into the conv weights and bias; the skip-add and
  LeakyReLU run in place on the conv output;
* each block's input planes are downscaled one by one and concatenated at the block's low
  resolution (bilinear resizing is per channel, so this equals resizing the concatenation);
* only the final fused frame is computed (training needs every block's, inference does not);
* the warped sources (frame + 4.25 features) are packed once per frame in NHWC memory (a warp
  then reads each source pixel's channels from one cache line) and the sampling grid is built
  directly in grid_sample's [N,H,W,2] layout, so no warp copies its inputs;
* the last block upsamples only the flow and mask (not the features no later block reads).

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
from .ifnet import IFNet
from .layers import IFBlock, ResConv, merge_reversed
from .warp import base_grid, cached, flow_norm, resize

__all__ = ["FastV4", "bf16_supported", "supports"]

CL = torch.channels_last


def bf16_supported() -> bool:
    """True when oneDNN runs bfloat16 convolutions natively on this CPU (AVX512-BF16 or AMX).

    oneDNN also accepts bf16 on plain AVX-512 CPUs by emulating it (slower than fp32), so the instructions
    themselves are checked too.
    """
    try:
        onednn = torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
        native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
        return bool(onednn and native)
    except (AttributeError, RuntimeError):
        return False


def supports(net: IFNet) -> bool:
    """True for the architectures FastV4 handles (v4 family with LeakyReLU-beta or plain bodies)."""
    a = net.arch
    return a.family is Family.V4 and a.body in (Body.BETA, Body.SEQ) and a.head in (Head.SHUFFLE, Head.DECONV)


def warp_nchw(src: Tensor, flow: Tensor) -> Tensor:
    """``nn.warp.warp`` without copies: ``src`` [N,C,H,W] (NHWC memory is fastest), ``flow`` in any layout."""
    h, w = flow.shape[-2:]
    base = base_grid(h, w, flow.device)  # [1,H,W,2] (x, y)
    grid = torch.addcmul(base, flow.permute(0, 2, 3, 1), flow_norm(h, w, flow.device))  # contiguous [N,H,W,2]
    return F.grid_sample(src, grid, mode="bilinear", padding_mode="border", align_corners=True)


def cat_nhwc(parts: list[Tensor]) -> Tensor:
    """``torch.cat(parts, 1)`` written straight into a channels_last tensor (one copy per part, any layouts)."""
    n, _, h, w = parts[0].shape
    c = sum(p.shape[1] for p in parts)
    out = torch.empty((n, h, w, c), dtype=parts[0].dtype, device=parts[0].device)
    k = 0
    for p in parts:
        out[..., k:k + p.shape[1]].copy_(p.permute(0, 2, 3, 1))
        k += p.shape[1]
    return out.permute(0, 3, 1, 2)


class _FastBlock(nn.Module):
    """One IFBlock with folded ResConv gains; input is already at the block's resolution."""

    def __init__(self, block: IFBlock, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        a = block.arch
        self.dtype = dtype
        self.body, self.head = a.body, a.head
        self.conv0 = copy.deepcopy(block.conv0)
        if a.body is Body.BETA:
            convs = []
            for rc in block.convblock:
                assert isinstance(rc, ResConv)
                conv = copy.deepcopy(rc.conv)
                beta = rc.beta.detach().reshape(-1)
                with torch.no_grad():
                    conv.weight.mul_(beta.view(-1, 1, 1, 1))
                    cast(Tensor, conv.bias).mul_(beta)
                convs.append(conv)
            self.convs = nn.ModuleList(convs)
        else:
            self.convblock = copy.deepcopy(block.convblock)
        self.lastconv = cast(nn.Sequential, copy.deepcopy(block.lastconv))
        # the last block needs only flow and mask: the head cut to those 5 channels
        self.last5: nn.Sequential | None = None
        if a.head is Head.SHUFFLE:
            deconv = cast(nn.ConvTranspose2d, self.lastconv[0])
            cut = nn.ConvTranspose2d(deconv.in_channels, 4 * 5, 4, 2, 1)
            with torch.no_grad():
                cut.weight.copy_(deconv.weight[:, :4 * 5])
                cast(Tensor, cut.bias).copy_(cast(Tensor, deconv.bias)[:4 * 5])
            self.last5 = nn.Sequential(cut, nn.PixelShuffle(2))
        self.to(dtype)

    def forward(self, x: Tensor, scale: float, channels: int | None = None,
                pre: bool = False) -> tuple[Tensor, float, bool]:
        """Flow (4), mask (1) and features at the block's output resolution, and the factor to full size.

        The flow is already multiplied by that factor (resizing is linear, so scaling before equals after).
        Only the first ``channels`` are returned if given.  With ``pre`` a shuffle head returns its output before
        PixelShuffle(2) (third value True), which :mod:`vsrife.nn.fused` reads in place.  The block computes and
        returns its ``dtype`` (bfloat16 for ``FastV4(..., dtype=torch.bfloat16)``; the kernels read it as it is).
        """
        feat = self.conv0(x.to(self.dtype))
        if self.body is Body.BETA:
            for conv in self.convs:
                y = conv(feat)
                y.add_(feat)
                feat = F.leaky_relu_(y, 0.2)
        else:
            feat = self.convblock(feat) + feat
        pre = pre and self.head is Head.SHUFFLE  # skip PixelShuffle(2): the fused kernels read the layout before it
        if channels == 5 and self.last5 is not None:
            out = self.last5[0](feat) if pre else self.last5(feat)
        else:
            out = self.lastconv[0](feat) if pre else self.lastconv(feat)
            if channels is not None:
                out = out[:, :channels * (4 if pre else 1)]
        up = self.head.upsample(scale)
        if up != 1:  # exact in bfloat16 too: the factors are powers of 2
            out[:, :16 if pre else 4].mul_(up)  # before the shuffle, channel k*4 + i is channel k's sub-pixel i
        return out, up, pre


def _post(out: tuple[Tensor, float, bool]) -> Tensor:
    """A block output as float32 after the head's PixelShuffle (which ``pre`` outputs skipped)."""
    d = out[0].float()
    return F.pixel_shuffle(d, 2) if out[2] else d


def input_order(c: int, nf: int) -> list[int]:
    """The eager IFBlock input channel of each channel in FastV4's order, for the blocks after the first.

    Eager order: w0[:3], w1[:3], w0[3:], w1[3:], t, mask, features (nf), flow / s (4), with c channels per warped
    source (3, or 7 with 4.25's encoder features).  FastV4 (and ``vsrife.nn.fused``) order: w0 (c), w1 (c),
    flow / s, mask, features, t: each warped source stays whole and the kernel stores whole vectors.
    """
    x = c - 3
    return [0, 1, 2, *range(6, 6 + x), 3, 4, 5, *range(6 + x, 6 + 2 * x),  # w0, w1
            *range(2 * c + 2 + nf, 2 * c + 6 + nf), 2 * c + 1, *range(2 * c + 2, 2 * c + 2 + nf), 2 * c]


def sample_rows(n: int, s: int) -> Tensor:
    """The full-resolution rows a bilinear 1/s downscale reads (s even >= 2): s*y + s/2 - 1 and s*y + s/2."""
    y = torch.arange(n // s) * s + s // 2 - 1
    return torch.stack((y, y + 1), 1).reshape(-1)


def resize_at(x: Tensor, grid: Tensor) -> Tensor:
    """``resize(x, up)`` (bilinear, align_corners=False) evaluated at the full-size points of ``grid``.

    ``grid`` holds ((2p + 1) / size - 1) per point p, which is where a factor-``up`` upsample samples
    ``x`` (``size = up * x``'s size); border padding equals the upsample's clamping at the edges.
    """
    return F.grid_sample(x, grid.expand(x.shape[0], -1, -1, -1), mode="bilinear", padding_mode="border",
                         align_corners=False)


def _sparse_grid(h: int, w: int, s: int, device: torch.device) -> tuple[Tensor, Tensor]:
    """Grids [1,R,C,2] of a 1/s sample set: for resizing (align_corners=False) and for warping (True)."""

    def make() -> tuple[Tensor, Tensor]:
        rows, cols = sample_rows(h, s).double(), sample_rows(w, s).double()

        def grid(ys: Tensor, xs: Tensor) -> Tensor:
            return torch.stack(torch.meshgrid(xs, ys, indexing="xy"), -1).unsqueeze(0).float().to(device)

        at = grid((2 * rows + 1) / h - 1, (2 * cols + 1) / w - 1)
        base = grid(rows * (2.0 / max(h - 1, 1)) - 1, cols * (2.0 / max(w - 1, 1)) - 1)
        return at, base

    return cached(("sparse", h, w, s, device), make)


class FastV4(nn.Module):
    """Inference-only v4 IFNet (no refine net; ensemble for 4.25 only); same weights, NHWC.

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
        self.blocks = nn.ModuleList(_FastBlock(b, dtype) for b in net.blocks)
        c = 7 if net.arch.encoder else 3
        for blk in self.fast_blocks[1:]:  # blocks after the first read their inputs in the fused kernels' order
            conv = cast(nn.Conv2d, cast(nn.Sequential, blk.conv0[0])[0])
            with torch.no_grad():
                conv.weight.copy_(conv.weight[:, input_order(c, conv.in_channels - 2 * c - 6)])
        # the encoder stays fp32 with bf16 blocks: in bf16 it would save ~10 ms per 720p frame but cost
        # ~12 dB of the margin (worst of 24 real pairs 57 dB instead of 69 dB against fp32 eager)
        self.encoder = copy.deepcopy(net.encode) if net.arch.encoder else None
        self.eval().to(memory_format=CL)

    @property
    def fast_blocks(self) -> list[_FastBlock]:
        return [cast(_FastBlock, b) for b in self.blocks]

    def encode_frame(self, img: Tensor) -> Tensor | None:
        """Per-frame 4.25 features (NHWC), or None for models without an encoder."""
        if self.encoder is None:
            return None
        return self.encoder(img[:, :3].contiguous(memory_format=CL))

    def source(self, img: Tensor, feat: Tensor | None = None) -> Tensor:
        """What every warp of this frame samples: RGB plus (4.25) its features, [1,C,H,W] in NHWC memory.

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

        ``ensemble`` (4.25 only) averages with the reversed pass, as ``IFNet`` does: flows swapped
        and averaged, mask logits negated and averaged.
        """
        return self.interpolate(self.source(img0, f0), self.source(img1, f1), timestep, scale, ensemble)

    def interpolate(self, x0: Tensor, x1: Tensor, timestep: Tensor, scale: float = 1.0,
                    ensemble: bool = False) -> Tensor:
        """:meth:`forward` on two :meth:`source` tensors (batch 1 each; ``timestep`` [N] or [N,1,H,W])."""
        a = self.arch
        n = timestep.shape[0]
        if ensemble and not a.encoder:
            raise InputError("FastV4 supports ensemble only for models with an encoder (4.25)")
        x0, x1 = x0.expand(n, -1, -1, -1), x1.expand(n, -1, -1, -1)
        scales = a.scale_list(scale)
        if timestep.dim() < 2:
            timestep = timestep.view(n, 1, 1, 1)
        if not ensemble:
            outs, flow, logit, done = self._blocks(x0, x1, timestep, scales, n)
            if fused.usable(x0, outs, 1):
                return fused.final(x0, x1, outs, a.mask_accumulate)
            flow, logit, _, _ = self._full(outs, flow, logit, done)
            w0, w1 = warp_nchw(x0[:, :3], flow[:, :2]), warp_nchw(x1[:, :3], flow[:, 2:4])
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
        return torch.addcmul(w1, w0 - w1, torch.sigmoid(logit))

    def _blocks(self, x0: Tensor, x1: Tensor, timestep: Tensor, scales: list[float],
                n: int) -> tuple[list[tuple[Tensor, float, bool]], Tensor | None, Tensor | None, int]:
        """Run the blocks: their raw outputs, and the full-resolution flow/mask state ``_full`` continues from.

        A block at 1/s resolution reads its full-resolution inputs (warped frames, flow, mask, features)
        through a bilinear 1/s downscale, which for an even s >= 4 reads only 2 of every s rows and
        columns.  Those blocks get their inputs computed at just those points (flow and mask resized
        there from the earlier blocks' outputs, frames warped there), a 2x2 mean giving the downscale;
        full-resolution flow is formed only for the blocks at s <= 2 and the output.  With the fused
        kernels (:mod:`vsrife.nn.fused`) every block after the first gets its input in one pass instead.
        """
        a = self.arch
        per_pixel = timestep.shape[-1] > 1 or timestep.shape[-2] > 1
        hh, ww = x0.shape[-2:]
        norm = flow_norm(hh, ww, x0.device)
        outs: list[tuple[Tensor, float, bool]] = []  # every block's raw output, its factor to full size, pre
        flow = mask = feat = None  # full resolution, formed lazily from `outs`
        pre = fused.reads_pre_shuffle() and n == 1 and x0.dtype == torch.float32  # heads may skip PixelShuffle
        done = 0  # outputs already summed into `flow` (and `mask` when it accumulates)
        for i, (block, s) in enumerate(zip(self.fast_blocks, scales, strict=True)):
            low = lambda x, s=s: resize(x, 1.0 / s)  # noqa: E731
            h, w = low(x0[:1, :1]).shape[-2:]
            t = low(timestep.expand(n, 1, -1, -1)) if per_pixel else timestep.expand(n, 1, h, w)
            last = i == len(scales) - 1
            if i > 0 and not per_pixel and fused.usable(x0, outs, s):
                nfeat = fused.channels(outs[-1]) - 5 if a.encoder else 0
                outs.append(block(fused.block_input(x0, x1, outs, a.mask_accumulate, nfeat, int(s),
                                                    float(timestep.reshape(-1)[0]), block.dtype), s,
                                  5 if last else None, pre))
                continue
            if i == 0:  # block 0 takes img0, img1, (f0, f1,) t in that order
                l0, l1 = low(x0), low(x1)
                parts = [l0[:, :3], l1[:, :3], l0[:, 3:], l1[:, 3:], t] if a.encoder else [l0, l1, t]
            elif float(s).is_integer() and int(s) % 2 == 0 and s >= 4:
                gat, base = _sparse_grid(hh, ww, int(s), x0.device)
                at = resize_at(_post(outs[-1]), gat)  # the latest block's flow, mask and features at the points
                fl, mk = at[:, :4], at[:, 4:5]
                for o in outs[:-1]:
                    prev = resize_at(_post(o)[:, :5 if a.mask_accumulate else 4], gat)
                    fl = fl + prev[:, :4]
                    mk = mk + prev[:, 4:5] if a.mask_accumulate else mk
                grid = torch.addcmul(base, fl.permute(0, 2, 3, 1)[..., :2], norm)
                wx0 = F.grid_sample(x0, grid, mode="bilinear", padding_mode="border", align_corners=True)
                grid = torch.addcmul(base, fl.permute(0, 2, 3, 1)[..., 2:4], norm)
                wx1 = F.grid_sample(x1, grid, mode="bilinear", padding_mode="border", align_corners=True)
                pool = lambda x: F.avg_pool2d(x, 2)  # noqa: E731  (= the 1/s bilinear downscale)
                feats = [pool(at[:, 5:])] if a.encoder else []
                parts = [pool(wx0), pool(wx1), pool(fl) / s, pool(mk), *feats, t]
            else:
                flow, mask, feat, done = self._full(outs, flow, mask, done)
                wx0, wx1 = warp_nchw(x0, flow[:, :2]), warp_nchw(x1, flow[:, 2:4])
                feats = [low(feat)] if a.encoder else []
                parts = [low(wx0), low(wx1), low(flow) / s, low(mask), *feats, t]
            outs.append(block(cat_nhwc(parts), s, 5 if last else None, pre))
        return outs, flow, mask, done

    def _full(self, outs: list[tuple[Tensor, float, bool]], flow: Tensor | None, mask: Tensor | None,
              done: int) -> tuple[Tensor, Tensor, Tensor | None, int]:
        """Full-resolution flow, mask and features after the blocks in ``outs`` (``done`` already in flow)."""
        acc = self.arch.mask_accumulate
        for k in range(done, len(outs) - 1):  # earlier outputs: only what accumulates
            r = resize(_post(outs[k])[:, :5 if acc else 4], outs[k][1])
            flow = r[:, :4] if flow is None else flow + r[:, :4]
            if acc:
                mask = r[:, 4:5] if mask is None else mask + r[:, 4:5]
        r = resize(_post(outs[-1]), outs[-1][1])
        flow = r[:, :4] if flow is None else flow + r[:, :4]
        mask = r[:, 4:5] if mask is None or not acc else mask + r[:, 4:5]
        feat = r[:, 5:] if self.arch.encoder and r.shape[1] > 5 else None
        return flow, mask, feat, len(outs)
