"""The architecture table: what distinguishes the published RIFE versions, as data.

IFNet (Huang et al., ECCV 2022) estimates the intermediate flows F_t->0, F_t->1 and a fusion mask
coarse-to-fine with a stack of IFBlocks.  The versions differ in block widths, activations,
residual bodies, output heads, how the mask is combined across blocks and whether the timestep is
an input.  :class:`Arch` records that; the enums carry the behaviour that follows from each field,
so no code compares them as strings.  Which pretrained weights exist for an architecture is the
weights catalog's business (:mod:`vsrife.weights.catalog`), not this table's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["ARCHS", "SCALES", "Arch", "Body", "Family", "Head", "Refine"]

SCALES = (0.25, 0.5, 1.0, 2.0, 4.0)  # the flow resolutions a net can run at (``scale``)


class Family(StrEnum):
    """How a version runs its blocks."""

    V4 = "v4"  # timestep input, any t
    HD = "hd"  # symmetric blocks, t = 0.5
    V31 = "v31"  # t = 0.5, flows at half resolution, FusionNet refinement

    @property
    def timestep_input(self) -> bool:
        return self is Family.V4

    def pad_multiple(self, deepest: float, scale: float) -> int:
        """The frame-size multiple for a net whose coarsest block downscales by ``deepest``."""
        if self is Family.V4:
            return max(math.ceil(deepest), 8)
        if self is Family.HD:
            return max(math.ceil(deepest), 32)
        return max(math.ceil(16 / scale), 32)  # IFNet on the rescaled frame + FusionNet /32


class Body(StrEnum):
    """The residual body of an IFBlock."""

    BETA = "beta"  # 8 ResConv with a per-channel gain (4.5+)
    SEQ = "seq"  # plain convs, one skip around all of them (4.0)
    PAIRS = "pairs"  # pairs of convs, a skip around each pair (hd, 3.1)


class Head(StrEnum):
    """The output head of an IFBlock."""

    SHUFFLE = "shuffle"  # ConvTranspose2d(c, 4K) + PixelShuffle(2)
    DECONV = "deconv"  # ConvTranspose2d(c, K); flows at full block resolution
    SPLIT = "split"  # two 2-stage ConvTranspose heads (flow, mask), hd
    HALF = "half"  # ConvTranspose2d(c, K) named conv1, flows at half resolution (3.1)

    def upsample(self, scale: float) -> float:
        """Factor from the head's output to the block's reference resolution."""
        return scale * 2 if self is Head.DECONV else scale


class Refine(StrEnum):
    """Refinement networks after the flow network."""

    NONE = ""
    V4 = "v4"  # 4.0's ContextNet + residual U-Net (optional)
    V31 = "v31"  # 3.1's ContextNet + FusionNet (always)


@dataclass(frozen=True)
class Arch:
    """Architecture description of one RIFE version."""

    name: str
    family: Family
    channels: tuple[int, ...]  # width c of each IFBlock
    in_planes: tuple[int, ...]  # input channels of each IFBlock (flow included)
    prelu: bool  # PReLU (True) or LeakyReLU(0.2)
    body: Body
    body_len: int  # number of ResConv / convs / pairs
    widen: int  # conv0 goes in -> c//2 -> c (1) or in -> c -> 2c (2)
    head: Head
    head_out: int  # K: channels the head emits (4 flow + 1 mask + features)
    scales: tuple[float, ...]  # per-block downscale factors at scale=1
    encoder: bool = False  # 4.25 feature head (3 -> 16 -> 4)
    mask_accumulate: bool = True  # mask_i = mask_{i-1} + m (4.0, hd) or mask_i = m (4.25)
    teacher_in: int = 0  # input planes of the privileged teacher block (0: none)
    teacher_c: int = 0
    refine: Refine = Refine.NONE
    native_ensemble: bool = False  # ensemble is part of the trained model (hd)
    extra: tuple[str, ...] = field(default_factory=tuple)  # training-only key prefixes

    def __post_init__(self) -> None:  # accept the enums' string values (JSON metadata, user code)
        for name, kind in (("family", Family), ("body", Body), ("head", Head), ("refine", Refine)):
            object.__setattr__(self, name, kind(getattr(self, name)))

    @property
    def default_ensemble(self) -> bool:
        """Ensemble unless unsupported: +0.2 dB on real footage for 1.6x time (docs/quality.md)."""
        return self.refine is not Refine.V31

    @property
    def ensemble_supported(self) -> bool:
        return self.refine is not Refine.V31

    @property
    def timestep_input(self) -> bool:
        return self.family.timestep_input

    @property
    def teacher_name(self) -> str:
        """Module name of the privileged teacher block in checkpoints."""
        return "teacher" if self.encoder else "block_tea"

    def scale_list(self, scale: float) -> list[float]:
        return [s / scale for s in self.scales]

    def pad_multiple(self, scale: float) -> int:
        """Frame sizes must be a multiple of this for the given ``scale``."""
        return self.family.pad_multiple(4 * max(self.scale_list(scale)), scale)


ARCHS: dict[str, Arch] = {
    "4.25": Arch(
        name="4.25", family=Family.V4, channels=(192, 128, 96, 64, 32), in_planes=(15, 28, 28, 28, 28),
        prelu=False, body=Body.BETA, body_len=8, widen=1, head=Head.SHUFFLE, head_out=13,
        scales=(16, 8, 4, 2, 1), encoder=True, mask_accumulate=False, teacher_in=31, teacher_c=64,
        extra=("caltime.",),
    ),
    "4.0": Arch(
        name="4.0", family=Family.V4, channels=(192, 128, 96, 64), in_planes=(7, 12, 12, 12),
        prelu=True, body=Body.SEQ, body_len=8, widen=1, head=Head.DECONV, head_out=5,
        scales=(8, 4, 2, 1), mask_accumulate=True, teacher_in=21, teacher_c=64, refine=Refine.V4,
    ),
    "hd": Arch(
        name="hd", family=Family.HD, channels=(90, 90, 90), in_planes=(11, 11, 11),
        prelu=True, body=Body.PAIRS, body_len=4, widen=1, head=Head.SPLIT, head_out=5,
        scales=(4, 2, 1), teacher_in=14, teacher_c=90, native_ensemble=True,
    ),
    "3.1": Arch(
        name="3.1", family=Family.V31, channels=(80, 80, 80), in_planes=(6, 10, 10),
        prelu=True, body=Body.PAIRS, body_len=3, widen=2, head=Head.HALF, head_out=4,
        scales=(4, 2, 1), refine=Refine.V31,
    ),
}
