"""Fusion: several models interpolate the same pair and their frames are averaged into one.

:class:`Fusion` has the interface of :class:`~vsrife.engine.engine.Engine` that the filter uses
(``prepare``, ``interpolate``, ``streams``, ``padded_size``, ...), so one filter graph and one
``Interpolator`` drive it exactly as they drive a single engine: the RGB conversion, the scene-cut
and dedup decisions and the source frames passed through are the graph's, shared by all members.
A frame is copied from VapourSynth's memory and padded once (to the largest multiple that a
member needs) and handed to every member, which crops it to its own multiple (so that it sees the
frame as it would alone), adds its own per-frame work (the CPU fast path's packed layout, the 4.25
encoder) and keeps it in its own cache.  Each member runs as it would
alone: its fast path, its ensemble, its bisection for t = 0.5-only models.

The fused frame is the plain mean of the members' RGB frames (float32), or their weighted mean with the
``shares`` of a preset ("best" weights 4.0 0.7 and 4.25 0.3); a plain fusion of identical members is therefore
bit-identical to the single model.  The rules tried beyond it (flows and masks averaged before
one warp, per-pixel weights from the warp residuals or from the members' agreement, mirrored or reversed
members, per-pixel weights learned by a small CNN) did not beat it on the corpus (docs/quality.md, "Fusion rules
beyond the mean", "4.0's refine nets" and "`best` weighted 0.7 : 0.3"); one share per member did, for "best".
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
import torch
from torch import Tensor

from ..errors import InputError
from ..weights.catalog import Weights, resolve_members
from .engine import Engine, Prepared, Shared

__all__ = ["FrameEngine", "FusedPrepared", "Fusion", "make_engine"]


class FrameEngine(Protocol):
    """What the filter needs of an engine: :class:`Engine` and :class:`Fusion` both have it."""

    streams: int

    def prepare(self, img: Any, key: Hashable | None = None) -> Any: ...

    def interpolate(self, img0: Any, img1: Any, timesteps: float | Sequence[float] | Tensor,
                    size: tuple[int, int] | None = None, to_cpu: bool = True) -> Tensor: ...


@dataclass
class FusedPrepared:
    """One source frame prepared by every member."""

    parts: list[Prepared]


class Fusion:
    """Interpolates with several engines on one device and averages their frames (weighted by ``shares``)."""

    def __init__(self, members: Sequence[Engine], shares: Sequence[float] | None = None) -> None:
        if len(members) < 2:
            raise InputError("a fusion needs at least two models")
        if shares is not None:
            ok = all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0
                     for x in shares)
            if len(shares) != len(members) or not ok:
                raise InputError(f"shares must be one positive weight per model ({len(members)}), got {list(shares)}")
            total = math.fsum(shares)
            shares = [x / total for x in shares]
        self.shares: list[float] | None = None if shares is None else list(shares)
        devices = {str(m.device) for m in members}
        if len(devices) > 1:
            raise InputError(f"the models of a fusion must share one device, got {', '.join(sorted(devices))}")
        self.members = list(members)
        self.lead = max(self.members, key=lambda m: m.multiple)  # pads the shared frame
        self.multiple = math.lcm(*(m.multiple for m in self.members))
        if self.multiple != self.lead.multiple:
            raise InputError("the models of a fusion need padding multiples that divide one another")
        self.device, self.dtype, self.scale = self.lead.device, self.lead.dtype, self.lead.scale
        self.streams = min(m.streams for m in self.members)

    # -- what callers read -------------------------------------------------------------------
    @property
    def name(self) -> str:
        return "+".join(m.weights.name if m.weights else m.arch.name for m in self.members)

    @property
    def streams(self) -> int:
        return self._streams

    @streams.setter
    def streams(self, n: int) -> None:  # the filter caps the streams: every member runs that many calls at once
        self._streams = n
        for m in self.members:
            m.streams = n

    @property
    def stats(self) -> dict[str, int]:
        """The members' counters summed (``max_concurrent``: the largest)."""
        out: dict[str, int] = {}
        for m in self.members:
            for k, v in m.stats.items():
                out[k] = max(out.get(k, 0), v) if k == "max_concurrent" else out.get(k, 0) + v
        return out

    def padded_size(self, h: int, w: int) -> tuple[int, int]:
        return self.lead.padded_size(h, w)

    def clear_cache(self) -> None:
        for m in self.members:
            m.clear_cache()

    # -- frames ------------------------------------------------------------------------------
    def prepare(self, img: Tensor | np.ndarray | Sequence[np.ndarray], key: Hashable | None = None) -> FusedPrepared:
        """Every member's prepared frame; the copy to the device and the padding are done once."""
        if key is not None:
            hits = [m.cached(key) for m in self.members]
            if all(h is not None for h in hits):
                return FusedPrepared([h for h in hits if h is not None])
        first = img[0] if isinstance(img, (list, tuple)) else cast("Tensor | np.ndarray", img)
        h, w = first.shape[-2:]
        with self.lead.slot():
            full = self.lead.to_device(img)
        return FusedPrepared([m.prepare(Shared(_crop(full, int(h), int(w), m.multiple)), key) for m in self.members])

    def interpolate(self, img0: Tensor | np.ndarray | FusedPrepared, img1: Tensor | np.ndarray | FusedPrepared,
                    timesteps: float | Sequence[float] | Tensor, size: tuple[int, int] | None = None,
                    to_cpu: bool = True) -> Tensor:
        """As :meth:`Engine.interpolate`: [T,3,H,W], the (weighted) mean of the members' frames."""
        if size is None:
            if isinstance(img0, FusedPrepared):
                raise InputError("size=(H, W) is needed when passing prepared frames")
            size = (int(img0.shape[-2]), int(img0.shape[-1]))
        p0 = img0 if isinstance(img0, FusedPrepared) else self.prepare(img0)
        p1 = img1 if isinstance(img1, FusedPrepared) else self.prepare(img1)
        with torch.inference_mode():
            total: Tensor | None = None
            for i, (m, a, b) in enumerate(zip(self.members, p0.parts, p1.parts, strict=True)):
                out = m.interpolate(a, b, timesteps, size=size, to_cpu=False).float()
                if self.shares is not None:
                    out = out * self.shares[i]
                total = out if total is None else total + out
            assert total is not None
            fused = total / len(self.members) if self.shares is None else total.clamp_(0, 1)
            return fused.cpu().contiguous() if to_cpu else fused


def _crop(t: Tensor, h: int, w: int, multiple: int) -> Tensor:
    """The frame ``t`` (padded to a larger multiple) padded to ``multiple`` only: replicate, reflect and zero
    padding to a larger multiple start with the smaller one's rows and columns (reflect falls back to replicate
    where the pad would exceed the frame, so on tiny frames the two can differ)."""
    hp, wp = (h + multiple - 1) // multiple * multiple, (w + multiple - 1) // multiple * multiple
    return t if (hp, wp) == tuple(t.shape[-2:]) else t[..., :hp, :wp].contiguous()


def make_engine(model: str | Weights | None = None, model_path: str | Path | None = None,
                ensemble: bool | None = None, **kwargs: object) -> Engine | Fusion:
    """An :class:`Engine` for one model, a :class:`Fusion` for ``"a+b"`` or a preset ("best").

    ``ensemble`` given: for every member; else each member's own (a preset's, or the model's default).  A preset's
    shares (``"best"``: 0.7 : 0.3) apply with any ``ensemble``; they were chosen for its own members' settings.
    """
    if model_path is not None:
        return Engine(model_path=model_path, ensemble=ensemble, **kwargs)  # type: ignore[arg-type]
    members = resolve_members(model)
    engines = [Engine(model=m.weights, ensemble=m.ensemble if ensemble is None else ensemble,
                      **kwargs) for m in members]  # type: ignore[arg-type]
    if len(engines) == 1:
        return engines[0]
    shares = [m.share for m in members if m.share is not None]
    return Fusion(engines, shares if len(shares) == len(members) else None)
