"""Parts of the CPU fast path (:mod:`vsrife.nn.fast`): one folded IFBlock, NHWC helpers and the block ensemble.

Kept apart from :class:`~vsrife.nn.fast.FastV4`, which strings the blocks together.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .arch import Body, Head
from .layers import IFBlock, ResConv
from .warp import base_grid, cached, flow_norm

__all__ = ["CL", "FastBlock", "bf16_supported", "cat_nhwc", "input_order", "merge_block_outputs", "post",
           "resize_at", "reversed_input", "sample_rows", "sparse_grid", "warp_nchw"]

CL = torch.channels_last
BlockOut = tuple[Tensor, float, bool]  # raw output, its integer factor to full size, before PixelShuffle(2)


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


def warp_nchw(src: Tensor, flow: Tensor) -> Tensor:
    """``nn.warp.warp`` without copies: ``src`` [N,C,H,W] (NHWC memory is fastest), ``flow`` in any layout."""
    h, w = flow.shape[-2:]
    base = base_grid(h, w, flow.device)  # [1,H,W,2] (x, y)
    grid = torch.addcmul(base, flow.permute(0, 2, 3, 1), flow_norm(h, w, flow.device))  # contiguous [N,H,W,2]
    return F.grid_sample(src, grid, mode="bilinear", padding_mode="border", align_corners=True)


def cat_nhwc(parts: Sequence[Tensor]) -> Tensor:
    """``torch.cat(parts, 1)`` written straight into a channels_last tensor (one copy per part, any layouts)."""
    n, _, h, w = parts[0].shape
    c = sum(p.shape[1] for p in parts)
    out = torch.empty((n, h, w, c), dtype=parts[0].dtype, device=parts[0].device)
    k = 0
    for p in parts:
        out[..., k:k + p.shape[1]].copy_(p.permute(0, 2, 3, 1))
        k += p.shape[1]
    return out.permute(0, 3, 1, 2)


class FastBlock(nn.Module):
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
                with torch.no_grad():  # per output channel: also right for grouped convs (4.14.lite)
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

    def _body(self, feat: Tensor) -> Tensor:
        if self.body is Body.BETA:
            for conv in self.convs:
                y = conv(feat)
                y.add_(feat)
                feat = F.leaky_relu_(y, 0.2)
            return feat
        if self.body is Body.PLAIN:
            return self.convblock(feat)
        return self.convblock(feat) + feat

    def forward(self, x: Tensor, scale: float, channels: int | None = None, pre: bool = False) -> BlockOut:
        """Flow (4), mask (1) and features at the block's output resolution, and the factor to full size.

        The flow is already multiplied by that factor (resizing is linear, so scaling before equals after).
        Only the first ``channels`` are returned if given.  With ``pre`` a shuffle head returns its output before
        PixelShuffle(2) (third value True), which :mod:`vsrife.nn.fused` reads in place.  The block computes and
        returns its ``dtype`` (bfloat16 for ``FastV4(..., dtype=torch.bfloat16)``; the kernels read it as it is).
        """
        feat = self._body(self.conv0(x.to(self.dtype)))
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


def post(out: BlockOut) -> Tensor:
    """A block output as float32 after the head's PixelShuffle (which ``pre`` outputs skipped)."""
    d = out[0].float()
    return F.pixel_shuffle(d, 2) if out[2] else d


def input_order(c: int, nf: int) -> list[int]:
    """The eager IFBlock input channel of each channel in FastV4's order, for the blocks after the first.

    Eager order: w0[:3], w1[:3], w0[3:], w1[3:], t, mask, features (nf), flow / s (4), with c channels per warped
    source (3, or 3 + the encoder's features).  FastV4 (and ``vsrife.nn.fused``) order: w0 (c), w1 (c),
    flow / s, mask, features, t: each warped source stays whole and the kernel stores whole vectors.
    """
    x = c - 3
    return [0, 1, 2, *range(6, 6 + x), 3, 4, 5, *range(6 + x, 6 + 2 * x),  # w0, w1
            *range(2 * c + 2 + nf, 2 * c + 6 + nf), 2 * c + 1, *range(2 * c + 2, 2 * c + 2 + nf), 2 * c]


def _reversal(cin: int, c: int, first: bool) -> tuple[list[int], Tensor, Tensor]:
    """Channel order, sign and offset that turn a block input into the reversed pair's input (no features)."""
    sign = torch.ones(cin)
    offset = torch.zeros(cin)
    if first:  # eager order: img0 (3), img1 (3), f0 (e), f1 (e), t
        e = (cin - 7) // 2
        order = [3, 4, 5, 0, 1, 2, *range(6 + e, 6 + 2 * e), *range(6, 6 + e), cin - 1]
    else:  # FastV4 order: w0 (c), w1 (c), flow / s (4), mask, t
        order = [*range(c, 2 * c), *range(c), 2 * c + 2, 2 * c + 3, 2 * c, 2 * c + 1, 2 * c + 4, 2 * c + 5]
        sign[2 * c + 4] = -1.0  # -mask
    sign[cin - 1], offset[cin - 1] = -1.0, 1.0  # 1 - t
    return order, sign.view(1, -1, 1, 1), offset.view(1, -1, 1, 1)


def reversed_input(x: Tensor, c: int, first: bool) -> Tensor:
    """The block input of the reversed pair (frames swapped, t -> 1 - t, -mask, flows swapped), NHWC memory."""
    order, sign, offset = cached(("reversal", x.shape[1], c, first), lambda: _reversal(x.shape[1], c, first))
    idx = torch.tensor(order, device=x.device)
    sel = x.index_select(1, idx)
    return torch.addcmul(offset.to(x.device, x.dtype), sel, sign.to(x.device, x.dtype)).contiguous(memory_format=CL)


def merge_block_outputs(out: BlockOut, rev: BlockOut) -> BlockOut:
    """The 4.0-4.20 block ensemble on raw outputs: mean of the flows (the reversed pair's swapped) and of the mask
    logits (the reversed pair's negated), in float32; other channels averaged as they are (not read)."""
    a, b, up, pre = out[0].float(), rev[0].float(), out[1], out[2]
    g = 4 if pre else 1  # channels per output channel before PixelShuffle(2)
    flipped = torch.cat((b[:, 2 * g:4 * g], b[:, :2 * g], -b[:, 4 * g:5 * g], b[:, 5 * g:]), 1)
    return (a + flipped).mul_(0.5).contiguous(memory_format=CL), up, pre


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


def sparse_grid(h: int, w: int, s: int, device: torch.device) -> tuple[Tensor, Tensor]:
    """Grids [1,R,C,2] of a 1/s sample set: for resizing (align_corners=False) and for warping (True)."""

    def make() -> tuple[Tensor, Tensor]:
        rows, cols = sample_rows(h, s).double(), sample_rows(w, s).double()

        def grid(ys: Tensor, xs: Tensor) -> Tensor:
            return torch.stack(torch.meshgrid(xs, ys, indexing="xy"), -1).unsqueeze(0).float().to(device)

        at = grid((2 * rows + 1) / h - 1, (2 * cols + 1) / w - 1)
        base = grid(rows * (2.0 / max(h - 1, 1)) - 1, cols * (2.0 / max(w - 1, 1)) - 1)
        return at, base

    return cached(("sparse", h, w, s, device), make)
