"""The building blocks of IFNet: convolutions, residual bodies, IFBlock and the per-frame feature encoders.

Module names follow the published checkpoints (``conv0``, ``convblock``, ``lastconv``, ``encode.cnn0``),
so state dicts load without remapping.  What a block does with them is decided by the
architecture's :class:`~vsrife.nn.arch.Body` and :class:`~vsrife.nn.arch.Head`, once, when it is built.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import InputError
from .arch import Arch, Body, Encoder, Head
from .warp import resize

__all__ = ["FeatureHead", "IFBlock", "ResConv", "act", "conv", "deconv", "make_encoder", "merge_reversed",
           "swap_flows"]


def act(prelu: bool, c: int) -> nn.Module:
    return nn.PReLU(c) if prelu else nn.LeakyReLU(0.2, True)


def conv(cin: int, cout: int, prelu: bool, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), act(prelu, cout))


def deconv(cin: int, cout: int, prelu: bool = True) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, 2, 1), act(prelu, cout))


def swap_flows(flow: Tensor) -> Tensor:
    """F_t->0, F_t->1 of the reversed pair: the two flows exchanged."""
    return torch.cat((flow[:, 2:4], flow[:, :2]), 1)


def merge_reversed(flow: Tensor, logit: Tensor, rflow: Tensor, rlogit: Tensor) -> tuple[Tensor, Tensor]:
    """The ensemble: a pass and the reversed pass (frames swapped, t -> 1 - t) averaged.

    The reversed pass's flows are swapped and its mask logits negated before averaging.  Used by
    every ensemble in the package: per block (4.0, hd), per pass (4.25) and in the CPU fast path.
    """
    return (flow + swap_flows(rflow)) / 2, (logit - rlogit) / 2


def merge_block(out: Tensor, rev: Tensor) -> Tensor:
    """:func:`merge_reversed` on two block outputs (flow 4 + mask logit 1 channels)."""
    flow, logit = merge_reversed(out[:, :4], out[:, 4:5], rev[:, :4], rev[:, 4:5])
    return torch.cat((flow, logit), 1)


class ResConv(nn.Module):
    """3x3 conv with a learnt per-channel gain and an identity skip (v4.5+)."""

    def __init__(self, c: int, groups: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, 1, 1, groups=groups)
        self.beta = nn.Parameter(torch.ones(1, c, 1, 1))
        self.relu = nn.LeakyReLU(0.2, True)

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.conv(x) * self.beta + x)


class IFBlock(nn.Module):
    """One coarse-to-fine stage: downsample by ``scale``, estimate a flow/mask update."""

    def __init__(self, arch: Arch, cin: int, c: int) -> None:
        super().__init__()
        p, self.arch = arch.prelu, arch
        mid, out = (c // 2, c) if arch.widen == 1 else (c, 2 * c)
        self.conv0 = nn.Sequential(conv(cin, mid, p, 2), conv(mid, out, p, 2))
        self._add_body(arch, out)
        self._add_head(arch.head, out, arch.head_out)

    def _add_body(self, arch: Arch, c: int) -> None:
        if arch.body is Body.BETA:
            self.convblock = nn.Sequential(*[ResConv(c, arch.groups) for _ in range(arch.body_len)])
        elif arch.body in (Body.SEQ, Body.PLAIN):
            self.convblock = nn.Sequential(*[conv(c, c, arch.prelu) for _ in range(arch.body_len)])
        else:
            for i in range(arch.body_len):
                self.add_module(f"convblock{i}", nn.Sequential(conv(c, c, arch.prelu), conv(c, c, arch.prelu)))

    def _add_head(self, head: Head, c: int, k: int) -> None:
        self.lastconv: nn.Module
        if head is Head.SHUFFLE:
            self.lastconv = nn.Sequential(nn.ConvTranspose2d(c, 4 * k, 4, 2, 1), nn.PixelShuffle(2))
        elif head is Head.DECONV:
            self.lastconv = nn.ConvTranspose2d(c, k, 4, 2, 1)
        elif head is Head.HALF:
            self.conv1: nn.Module = nn.ConvTranspose2d(c, k, 4, 2, 1)
        else:  # split: a flow head and a mask head, each two transposed convs
            self.conv1 = self._split_stage(c, 4)
            self.conv2 = self._split_stage(c, 1)

    @staticmethod
    def _split_stage(c: int, k_out: int) -> nn.Sequential:
        return nn.Sequential(nn.ConvTranspose2d(c, c // 2, 4, 2, 1), nn.PReLU(c // 2),
                             nn.ConvTranspose2d(c // 2, k_out, 4, 2, 1))

    def body(self, feat: Tensor) -> Tensor:
        a = self.arch
        if a.body in (Body.BETA, Body.PLAIN):
            return self.convblock(feat)
        if a.body is Body.SEQ:
            return self.convblock(feat) + feat
        for i in range(a.body_len):
            feat = getattr(self, f"convblock{i}")(feat) + feat
        return feat

    def head(self, feat: Tensor) -> Tensor:
        h = self.arch.head
        if h is Head.SPLIT:
            return torch.cat((self.conv1(feat), self.conv2(feat)), 1)
        return self.conv1(feat) if h is Head.HALF else self.lastconv(feat)

    def forward(self, x: Tensor, flow: Tensor | None, scale: float) -> Tensor:
        """Return the head output resized to the block's reference resolution, flow in its pixels."""
        x = resize(x, 1.0 / scale)
        if flow is not None:
            x = torch.cat((x, resize(flow, 1.0 / scale) / scale), 1)
        out = self.head(self.body(self.conv0(x)))
        up = self.arch.head.upsample(scale)
        out = resize(out, up)
        return torch.cat((out[:, :4] * up, out[:, 4:]), 1)


class FeatureHead(nn.Module):
    """4.13+ per-frame feature encoder (``encode.cnn0..cnn3``): 3 -> w -> w -> w -> out channels, same resolution."""

    def __init__(self, width: int = 16, out: int = 4) -> None:
        super().__init__()
        self.cnn0 = nn.Conv2d(3, width, 3, 2, 1)
        self.cnn1 = nn.Conv2d(width, width, 3, 1, 1)
        self.cnn2 = nn.Conv2d(width, width, 3, 1, 1)
        self.cnn3 = nn.ConvTranspose2d(width, out, 4, 2, 1)
        self.relu = nn.LeakyReLU(0.2, True)

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu(self.cnn0(x))
        x = self.relu(self.cnn1(x))
        x = self.relu(self.cnn2(x))
        return self.cnn3(x)


def make_encoder(arch: Arch) -> nn.Module:
    """The layout's encoder, with the module names of its checkpoints (``encode.0/1``, ``encode.0/2/4/6``, ``cnn*``).

    4.7-4.9 have no activation between their two layers; 4.10-4.12 are :class:`FeatureHead` as a Sequential.
    """
    w, out = arch.enc_width, arch.enc_out
    if arch.encoder is Encoder.PAIR:
        return nn.Sequential(nn.Conv2d(3, w, 3, 2, 1), nn.ConvTranspose2d(w, out, 4, 2, 1))
    if arch.encoder is Encoder.SEQ:
        relu = lambda: nn.LeakyReLU(0.2, True)  # noqa: E731
        return nn.Sequential(nn.Conv2d(3, w, 3, 2, 1), relu(), nn.Conv2d(w, w, 3, 1, 1), relu(),
                             nn.Conv2d(w, w, 3, 1, 1), relu(), nn.ConvTranspose2d(w, out, 4, 2, 1))
    if arch.encoder is Encoder.HEAD:
        return FeatureHead(w, out)
    raise InputError(f"the {arch.name} layout has no encoder")
