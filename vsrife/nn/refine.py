"""Refinement networks: the context pyramid and the U-Nets of RIFE 3.1 (FusionNet) and 4.0."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from .arch import Refine
from .layers import conv, deconv
from .warp import Warp, resize

__all__ = ["Cat", "ContextNet", "Conv2", "UNet", "cat_channels"]

Cat = Callable[[Sequence[Tensor]], Tensor]  # concatenation along the channels (the fast path writes NHWC memory)


def cat_channels(parts: Sequence[Tensor]) -> Tensor:
    return torch.cat(tuple(parts), 1)


class Conv2(nn.Module):
    """Two PReLU convs, the first strided: the refine nets' building block."""

    def __init__(self, cin: int, cout: int, stride: int = 2) -> None:
        super().__init__()
        self.conv1 = conv(cin, cout, True, stride)
        self.conv2 = conv(cout, cout, True)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv2(self.conv1(x))


class ContextNet(nn.Module):
    """Pyramid of context features, each warped by the (downscaled) flow."""

    def __init__(self, c: int, stem: bool) -> None:
        super().__init__()
        self.stem = stem  # 3.1 has an extra stride-2 stage before the first warp
        if stem:
            self.conv0, self.conv1 = Conv2(3, c), Conv2(c, c)
        else:
            self.conv1 = Conv2(3, c)
        chans = [(c, 2 * c), (2 * c, 4 * c), (4 * c, 8 * c)]
        names = ["conv2", "conv3", "conv4"]
        for n, (i, o) in zip(names, chans, strict=True):
            self.add_module(n, Conv2(i, o))

    def forward(self, x: Tensor, flow: Tensor, warp: Warp) -> list[Tensor]:
        return self.warped(self.pyramid(x), flow, warp)

    def pyramid(self, x: Tensor) -> list[Tensor]:
        """The frame's 4 feature levels before warping (1/2 to 1/16 size; 1/4 to 1/32 with the stem).

        They depend on the frame only, not on the flow: the CPU fast path computes them once per source frame.
        """
        x = self.conv1(self.conv0(x)) if self.stem else self.conv1(x)
        levels = [x]
        for i in range(2, 5):
            x = getattr(self, f"conv{i}")(x)
            levels.append(x)
        return levels

    @staticmethod
    def warped(levels: Sequence[Tensor], flow: Tensor, warp: Warp) -> list[Tensor]:
        """Each level warped by the flow, halved in size and value for each level."""
        feats = []
        for x in levels:
            flow = resize(flow, 0.5) * 0.5
            feats.append(warp(x, flow))
        return feats


class UNet(nn.Module):
    """Refinement U-Net; ``v31`` is RIFE 3.1's FusionNet, ``v4`` the 4.0 residual U-Net."""

    def __init__(self, c: int, kind: Refine) -> None:
        super().__init__()
        self.kind = kind
        if kind is Refine.V31:
            self.conv0 = Conv2(10, c)
            self.down0 = Conv2(c, 2 * c)
        else:
            self.down0 = Conv2(17, 2 * c)
        self.down1 = Conv2(4 * c, 4 * c)
        self.down2 = Conv2(8 * c, 8 * c)
        self.down3 = Conv2(16 * c, 16 * c)
        self.up0 = deconv(32 * c, 8 * c)
        self.up1 = deconv(16 * c, 4 * c)
        self.up2 = deconv(8 * c, 2 * c)
        self.up3 = deconv(4 * c, c)
        self.conv: nn.Module
        if kind is Refine.V31:
            self.conv = nn.ConvTranspose2d(c, 4, 4, 2, 1)
        else:
            self.conv = nn.Conv2d(c, 3, 3, 1, 1)

    def forward(self, x: Tensor, c0: list[Tensor], c1: list[Tensor], cat: Cat = cat_channels) -> Tensor:
        s0 = self.down0(self.conv0(x)) if self.kind is Refine.V31 else self.down0(x)
        s1 = self.down1(cat((s0, c0[0], c1[0])))
        s2 = self.down2(cat((s1, c0[1], c1[1])))
        s3 = self.down3(cat((s2, c0[2], c1[2])))
        y = self.up0(cat((s3, c0[3], c1[3])))
        y = self.up1(cat((y, s2)))
        y = self.up2(cat((y, s1)))
        y = self.up3(cat((y, s0)))
        return self.conv(y)
