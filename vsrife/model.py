"""The RIFE model family in pure PyTorch: one IFNet driven by a version table.

IFNet (Huang et al., ECCV 2022) estimates the intermediate flows F_t->0, F_t->1 and
a fusion mask coarse-to-fine with a stack of IFBlocks.  The published versions
differ in block widths, activations, residual bodies, output heads, how the
mask is combined across blocks and whether the timestep is an input.  All of
that is described by :class:`Arch`; :class:`IFNet` builds any of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["ARCHS", "Arch", "IFNet", "warp"]


@dataclass(frozen=True)
class Arch:
    """Architecture description of one RIFE version."""

    name: str
    family: str  # "v4" (timestep input), "hd" (t=0.5, symmetric), "v31" (t=0.5 + refine net)
    channels: tuple[int, ...]  # width c of each IFBlock
    in_planes: tuple[int, ...]  # input channels of each IFBlock (flow included)
    prelu: bool  # PReLU (True) or LeakyReLU(0.2)
    body: str  # "beta": 8 ResConv with per-channel beta; "seq": 8 convs + one skip; "pairs": pairs with skips
    body_len: int  # number of ResConv / convs / pairs
    widen: int  # conv0 goes in -> c//2 -> c (1) or in -> c -> 2c (2)
    head: str  # "shuffle": ConvT(c, 4K)+PixelShuffle; "deconv": ConvT(c, K); "split": two 2-stage ConvT heads
    head_out: int  # K: channels the head emits (4 flow + 1 mask + features)
    scales: tuple[float, ...]  # per-block downscale factors at scale=1
    encoder: bool = False  # 4.25 feature head (3 -> 16 -> 4)
    mask_accumulate: bool = True  # mask_i = mask_{i-1} + m (4.0, hd) or mask_i = m (4.25)
    teacher_in: int = 0  # input planes of the privileged teacher block (0: none)
    teacher_c: int = 0
    refine: str = ""  # "", "v4" (Contextnet+Unet, optional), "v31" (ContextNet+FusionNet)
    native_ensemble: bool = False  # ensemble is part of the trained model (hd)
    extra: tuple[str, ...] = field(default_factory=tuple)  # training-only key prefixes

    @property
    def default_ensemble(self) -> bool:
        """Ensemble unless unsupported: +0.2 dB on real footage for 1.6x time (docs/quality.md)."""
        return self.refine != "v31"

    @property
    def timestep_input(self) -> bool:
        return self.family == "v4"

    def scale_list(self, scale: float) -> list[float]:
        return [s / scale for s in self.scales]

    def pad_multiple(self, scale: float) -> int:
        """Frame sizes must be a multiple of this for the given ``scale``."""
        deepest = 4 * max(self.scale_list(scale))
        if self.family == "v4":
            return max(math.ceil(deepest), 8)
        if self.family == "hd":
            return max(math.ceil(deepest), 32)
        return max(math.ceil(16 / scale), 32)  # v31: IFNet on the rescaled frame + FusionNet /32


ARCHS: dict[str, Arch] = {
    "4.25": Arch(
        name="4.25", family="v4", channels=(192, 128, 96, 64, 32), in_planes=(15, 28, 28, 28, 28),
        prelu=False, body="beta", body_len=8, widen=1, head="shuffle", head_out=13,
        scales=(16, 8, 4, 2, 1), encoder=True, mask_accumulate=False, teacher_in=31, teacher_c=64,
        extra=("caltime.",),
    ),
    "4.0": Arch(
        name="4.0", family="v4", channels=(192, 128, 96, 64), in_planes=(7, 12, 12, 12),
        prelu=True, body="seq", body_len=8, widen=1, head="deconv", head_out=5,
        scales=(8, 4, 2, 1), mask_accumulate=True, teacher_in=21, teacher_c=64, refine="v4",
    ),
    "hd": Arch(
        name="hd", family="hd", channels=(90, 90, 90), in_planes=(11, 11, 11),
        prelu=True, body="pairs", body_len=4, widen=1, head="split", head_out=5,
        scales=(4, 2, 1), teacher_in=14, teacher_c=90, native_ensemble=True,
    ),
    "3.1": Arch(
        name="3.1", family="v31", channels=(80, 80, 80), in_planes=(6, 10, 10),
        prelu=True, body="pairs", body_len=3, widen=2, head="deconv", head_out=4,
        scales=(4, 2, 1), refine="v31",
    ),
}


def _act(prelu: bool, c: int) -> nn.Module:
    return nn.PReLU(c) if prelu else nn.LeakyReLU(0.2, True)


def _conv(cin: int, cout: int, prelu: bool, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), _act(prelu, cout))


def _deconv(cin: int, cout: int, prelu: bool = True) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, 2, 1), _act(prelu, cout))


def resize(x: Tensor, factor: float) -> Tensor:
    """Bilinear resize by ``factor`` (no-op for 1)."""
    if factor == 1:
        return x
    return F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)


_GRIDS: dict[tuple, Tensor] = {}


def warp(img: Tensor, flow: Tensor) -> Tensor:
    """Backward-warp ``img`` by ``flow`` (pixels) with bilinear sampling; computed in fp32."""
    _n, _, h, w = flow.shape
    key = (flow.device, h, w)
    grid = _GRIDS.get(key)
    if grid is None:
        ys = torch.linspace(-1.0, 1.0, h, device=flow.device)
        xs = torch.linspace(-1.0, 1.0, w, device=flow.device)
        grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), 0).unsqueeze(0)
        if len(_GRIDS) > 16:
            _GRIDS.clear()
        _GRIDS[key] = grid
    norm = torch.tensor([2.0 / max(w - 1, 1), 2.0 / max(h - 1, 1)], device=flow.device).view(1, 2, 1, 1)
    g = (grid + flow.float() * norm).permute(0, 2, 3, 1)
    out = F.grid_sample(img.float(), g, mode="bilinear", padding_mode="border", align_corners=True)
    return out.to(img.dtype)


class ResConv(nn.Module):
    """3x3 conv with a learnt per-channel gain and an identity skip (v4.5+)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, 1, 1)
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
        self.conv0 = nn.Sequential(_conv(cin, mid, p, 2), _conv(mid, out, p, 2))
        if arch.body == "beta":
            self.convblock = nn.Sequential(*[ResConv(out) for _ in range(arch.body_len)])
        elif arch.body == "seq":
            self.convblock = nn.Sequential(*[_conv(out, out, p) for _ in range(arch.body_len)])
        else:
            for i in range(arch.body_len):
                self.add_module(f"convblock{i}", nn.Sequential(_conv(out, out, p), _conv(out, out, p)))
        k = arch.head_out
        if arch.head == "shuffle":
            self.lastconv = nn.Sequential(nn.ConvTranspose2d(out, 4 * k, 4, 2, 1), nn.PixelShuffle(2))
        elif arch.head == "deconv":
            if arch.family == "v31":
                self.conv1 = nn.ConvTranspose2d(out, k, 4, 2, 1)
            else:
                self.lastconv = nn.ConvTranspose2d(out, k, 4, 2, 1)
        else:
            for name, k_out in (("conv1", 4), ("conv2", 1)):
                head = nn.Sequential(nn.ConvTranspose2d(out, out // 2, 4, 2, 1), nn.PReLU(out // 2),
                                     nn.ConvTranspose2d(out // 2, k_out, 4, 2, 1))
                self.add_module(name, head)

    def forward(self, x: Tensor, flow: Tensor | None, scale: float) -> Tensor:
        """Return the head output resized to the block's reference resolution, flow in its pixels."""
        x = resize(x, 1.0 / scale)
        if flow is not None:
            x = torch.cat((x, resize(flow, 1.0 / scale) / scale), 1)
        feat = self.conv0(x)
        a = self.arch
        if a.body == "beta":
            feat = self.convblock(feat)
        elif a.body == "seq":
            feat = self.convblock(feat) + feat
        else:
            for i in range(a.body_len):
                feat = getattr(self, f"convblock{i}")(feat) + feat
        if a.head == "shuffle":
            out, up = self.lastconv(feat), scale
        elif a.head == "split":
            out, up = torch.cat((self.conv1(feat), self.conv2(feat)), 1), scale
        elif a.family == "v31":
            out, up = self.conv1(feat), scale  # flows live at half resolution in 3.1
        else:
            out, up = self.lastconv(feat), scale * 2
        out = resize(out, up)
        return torch.cat((out[:, :4] * up, out[:, 4:]), 1)


class Head(nn.Module):
    """4.25 per-frame feature encoder: 3 -> 16 -> 16 -> 16 -> 4 channels, same resolution."""

    def __init__(self) -> None:
        super().__init__()
        self.cnn0 = nn.Conv2d(3, 16, 3, 2, 1)
        self.cnn1 = nn.Conv2d(16, 16, 3, 1, 1)
        self.cnn2 = nn.Conv2d(16, 16, 3, 1, 1)
        self.cnn3 = nn.ConvTranspose2d(16, 4, 4, 2, 1)
        self.relu = nn.LeakyReLU(0.2, True)

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu(self.cnn0(x))
        x = self.relu(self.cnn1(x))
        x = self.relu(self.cnn2(x))
        return self.cnn3(x)


class Conv2(nn.Module):
    """Two PReLU convs, the first strided: the refine nets' building block."""

    def __init__(self, cin: int, cout: int, stride: int = 2) -> None:
        super().__init__()
        self.conv1 = _conv(cin, cout, True, stride)
        self.conv2 = _conv(cout, cout, True)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv2(self.conv1(x))


class ContextNet(nn.Module):
    """Pyramid of context features, each warped by the (downscaled) flow."""

    def __init__(self, c: int, stem: bool) -> None:
        super().__init__()
        self.stem = stem  # 3.1 has an extra stride-2 stage before the first warp
        if stem:
            self.conv0, self.conv1 = Conv2(3, c), Conv2(c, c)
            chans = [(c, 2 * c), (2 * c, 4 * c), (4 * c, 8 * c)]
            names = ["conv2", "conv3", "conv4"]
        else:
            self.conv1 = Conv2(3, c)
            chans = [(c, 2 * c), (2 * c, 4 * c), (4 * c, 8 * c)]
            names = ["conv2", "conv3", "conv4"]
        for n, (i, o) in zip(names, chans, strict=True):
            self.add_module(n, Conv2(i, o))

    def forward(self, x: Tensor, flow: Tensor) -> list[Tensor]:
        x = self.conv1(self.conv0(x)) if self.stem else self.conv1(x)
        feats = []
        for i in range(4):
            if i:
                x = getattr(self, f"conv{i + 1}")(x)
            flow = resize(flow, 0.5) * 0.5
            feats.append(warp(x, flow))
        return feats


class UNet(nn.Module):
    """Refinement U-Net; ``v31`` is RIFE 3.1's FusionNet, ``v4`` the 4.0 residual U-Net."""

    def __init__(self, c: int, kind: str) -> None:
        super().__init__()
        self.kind = kind
        if kind == "v31":
            self.conv0 = Conv2(10, c)
            self.down0 = Conv2(c, 2 * c)
        else:
            self.down0 = Conv2(17, 2 * c)
        self.down1 = Conv2(4 * c, 4 * c)
        self.down2 = Conv2(8 * c, 8 * c)
        self.down3 = Conv2(16 * c, 16 * c)
        self.up0 = _deconv(32 * c, 8 * c)
        self.up1 = _deconv(16 * c, 4 * c)
        self.up2 = _deconv(8 * c, 2 * c)
        self.up3 = _deconv(4 * c, c)
        if kind == "v31":
            self.conv = nn.ConvTranspose2d(c, 4, 4, 2, 1)
        else:
            self.conv = nn.Conv2d(c, 3, 3, 1, 1)

    def forward(self, x: Tensor, c0: list[Tensor], c1: list[Tensor]) -> Tensor:
        s0 = self.down0(self.conv0(x)) if self.kind == "v31" else self.down0(x)
        s1 = self.down1(torch.cat((s0, c0[0], c1[0]), 1))
        s2 = self.down2(torch.cat((s1, c0[1], c1[1]), 1))
        s3 = self.down3(torch.cat((s2, c0[2], c1[2]), 1))
        y = self.up0(torch.cat((s3, c0[3], c1[3]), 1))
        y = self.up1(torch.cat((y, s2), 1))
        y = self.up2(torch.cat((y, s1), 1))
        y = self.up3(torch.cat((y, s0), 1))
        return self.conv(y)


def _swap(flow: Tensor) -> Tensor:
    return torch.cat((flow[:, 2:4], flow[:, :2]), 1)


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

    def __init__(self, arch: Arch | str, teacher: bool = False) -> None:
        super().__init__()
        self.arch = a = ARCHS[arch] if isinstance(arch, str) else arch
        for i, (cin, c) in enumerate(zip(a.in_planes, a.channels, strict=True)):
            self.add_module(f"block{i}", IFBlock(a, cin, c))
        if a.encoder:
            self.encode = Head()
        if a.refine == "v4":
            self.contextnet = ContextNet(16, stem=False)
            self.unet = UNet(16, "v4")
        elif a.refine == "v31":
            self.contextnet = ContextNet(32, stem=True)
            self.unet = UNet(32, "v31")
        self.has_teacher = teacher and a.teacher_in > 0
        if self.has_teacher:
            name = "teacher" if a.encoder else "block_tea"
            self.add_module(name, IFBlock(a, a.teacher_in, a.teacher_c))

    @property
    def blocks(self) -> list[IFBlock]:
        return [getattr(self, f"block{i}") for i in range(len(self.arch.channels))]

    @property
    def teacher_block(self) -> IFBlock:
        return getattr(self, "teacher" if self.arch.encoder else "block_tea")

    def encode_frame(self, img: Tensor) -> Tensor | None:
        """Per-frame features (4.25 only); cacheable across neighbouring pairs."""
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
        a = self.arch
        if a.family == "v4":
            return self._forward_v4(img0, img1, timestep, scale, ensemble, refine, f0, f1)
        if a.family == "hd":
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
        out = self._run_v4(img0, img1, t, f0, f1, a.scale_list(scale), blockwise_ensemble=ensemble and not a.encoder)
        if ensemble and a.encoder:
            # 4.25 passes features between blocks, so the ensemble is over whole passes:
            # run (img1, img0, 1 - t), swap its flows and negate its mask logits.
            rev = self._run_v4(img1, img0, 1 - t, f1, f0, a.scale_list(scale), blockwise_ensemble=False)
            flow = (out.flow + _swap(rev.flow)) / 2
            logit = (out.mask_logit - rev.mask_logit) / 2
            out = self._fuse(img0, img1, flow, logit, out)
        if refine and a.refine == "v4":
            out = self._refine_v4(img0, img1, out)
        return out

    def _refine_v4(self, img0: Tensor, img1: Tensor, out: Output) -> Output:
        """4.0's context U-Net: adds a residual in [-1, 1] to the fused frame."""
        c0 = self.contextnet(img0, out.flow[:, :2])
        c1 = self.contextnet(img1, out.flow[:, 2:4])
        x = torch.cat((img0, img1, out.warped[0], out.warped[1], out.mask_logit, out.flow), 1)
        res = torch.sigmoid(self.unet(x, c0, c1)) * 2 - 1
        img = torch.clamp(out.image + res, 0, 1)
        return Output(img, out.flow, out.mask, out.flows, out.masks, [*out.merged[:-1], img], out.warped,
                      out.feat, out.mask_logit)

    def _fuse(self, img0: Tensor, img1: Tensor, flow: Tensor, logit: Tensor, out: Output) -> Output:
        w0, w1 = warp(img0, flow[:, :2]), warp(img1, flow[:, 2:4])
        m = torch.sigmoid(logit)
        img = w0 * m + w1 * (1 - m)
        return Output(img, flow, m, [*out.flows[:-1], flow], [*out.masks[:-1], logit],
                      [*out.merged[:-1], img], (w0, w1), out.feat, logit)

    def _run_v4(self, img0, img1, t, f0, f1, scales, blockwise_ensemble: bool) -> Output:
        a = self.arch
        flow = mask = feat = None
        w0, w1 = img0, img1
        flows, masks, merged = [], [], []
        for i, block in enumerate(self.blocks):
            if flow is None:
                parts = [img0, img1] + ([f0, f1] if a.encoder else []) + [t]
                out = block(torch.cat(parts, 1), None, scales[i])
                if blockwise_ensemble:
                    rparts = [img1, img0, 1 - t]
                    r = block(torch.cat(rparts, 1), None, scales[i])
                    out = torch.cat(((out[:, :4] + _swap(r[:, :4])) / 2, (out[:, 4:5] - r[:, 4:5]) / 2), 1)
                flow, mask = out[:, :4], out[:, 4:5]
                feat = out[:, 5:] if a.encoder else None
            else:
                if a.encoder:
                    parts = [w0, w1, warp(f0, flow[:, :2]), warp(f1, flow[:, 2:4]), t, mask, feat]
                else:
                    parts = [w0, w1, t, mask]
                out = block(torch.cat(parts, 1), flow, scales[i])
                if blockwise_ensemble:
                    r = block(torch.cat([w1, w0, 1 - t, -mask], 1), _swap(flow), scales[i])
                    out = torch.cat(((out[:, :4] + _swap(r[:, :4])) / 2, (out[:, 4:5] - r[:, 4:5]) / 2), 1)
                flow = flow + out[:, :4]
                mask = mask + out[:, 4:5] if a.mask_accumulate else out[:, 4:5]
                feat = out[:, 5:] if a.encoder else None
            w0, w1 = warp(img0, flow[:, :2]), warp(img1, flow[:, 2:4])
            flows.append(flow)
            masks.append(mask)
            m = torch.sigmoid(mask)
            merged.append(w0 * m + w1 * (1 - m))
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
                r = block(torch.cat((w1, w0, -mask), 1), _swap(flow), s)
                out = torch.cat(((out[:, :4] + _swap(r[:, :4])) / 2, (out[:, 4:5] - r[:, 4:5]) / 2), 1)
            flow = flow + out[:, :4]
            mask = mask + out[:, 4:5]
            w0, w1 = warp(img0, flow[:, :2]), warp(img1, flow[:, 2:4])
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
                flow = flow + block(torch.cat((warp(x0, big[:, :2]), warp(x1, big[:, 2:4])), 1), big, s)
            flows.append(flow)
        if scale != 1:
            flow = resize(flow, 1.0 / scale) / scale
        c0 = self.contextnet(img0, flow[:, :2])
        c1 = self.contextnet(img1, flow[:, 2:4])
        full = resize(flow, 2.0) * 2.0
        w0, w1 = warp(img0, full[:, :2]), warp(img1, full[:, 2:4])
        ref = self.unet(torch.cat((w0, w1, full), 1), c0, c1)
        res = torch.sigmoid(ref[:, :3]) * 2 - 1
        m = torch.sigmoid(ref[:, 3:4])
        blend = w0 * m + w1 * (1 - m)
        img = torch.clamp(blend + res, 0, 1)
        return Output(img, full, m, [resize(f, 2.0) * 2.0 for f in flows], [ref[:, 3:4]], [blend, img], (w0, w1),
                      None, ref[:, 3:4])
