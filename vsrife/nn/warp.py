"""Warping and resizing, and the one cache of sampling grids they share.

``warp`` is the backward warp of the public architecture: ``grid_sample`` (bilinear, border padding,
``align_corners=True``) on a base grid plus ``flow / ((W - 1) / 2, (H - 1) / 2)``, in fp32.  The
CPU fast path's warps and sparse resizes build their grids from the same cache (:func:`cached`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["Warp", "base_grid", "cached", "flow_norm", "resize", "warp"]

_CACHE: OrderedDict[Hashable, object] = OrderedDict()
_CACHE_LOCK = threading.Lock()
CACHE_SIZE = 48  # grids of the sizes in use (frame sizes x block scales x devices)

Warp = Callable[[Tensor, Tensor], Tensor]  # (image [N,C,H,W], flow [N,2,H,W] in pixels) -> warped image


def cached[T](key: Hashable, make: Callable[[], T]) -> T:
    """``make()`` computed once per ``key`` (a small LRU shared by every grid of the package)."""
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return hit  # type: ignore[return-value]
    value = make()
    with _CACHE_LOCK:
        _CACHE[key] = value
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    return value


def base_grid(h: int, w: int, device: torch.device) -> Tensor:
    """The identity sampling grid [1,H,W,2] (x, y) in [-1, 1] for ``align_corners=True``."""

    def make() -> Tensor:
        ys = torch.linspace(-1.0, 1.0, h, device=device)
        xs = torch.linspace(-1.0, 1.0, w, device=device)
        return torch.stack(torch.meshgrid(xs, ys, indexing="xy"), -1).unsqueeze(0)

    return cached(("base", h, w, device), make)


def flow_norm(h: int, w: int, device: torch.device) -> Tensor:
    """Pixels to grid units: (2 / (W - 1), 2 / (H - 1))."""
    return torch.tensor([2.0 / max(w - 1, 1), 2.0 / max(h - 1, 1)], device=device)


def warp(img: Tensor, flow: Tensor) -> Tensor:
    """Backward-warp ``img`` by ``flow`` (pixels) with bilinear sampling; computed in fp32."""
    h, w = flow.shape[-2:]
    grid = base_grid(h, w, flow.device).permute(0, 3, 1, 2)
    norm = flow_norm(h, w, flow.device).view(1, 2, 1, 1)
    g = (grid + flow.float() * norm).permute(0, 2, 3, 1)
    out = F.grid_sample(img.float(), g, mode="bilinear", padding_mode="border", align_corners=True)
    return out.to(img.dtype)


def resize(x: Tensor, factor: float) -> Tensor:
    """Bilinear resize by ``factor`` (no-op for 1)."""
    if factor == 1:
        return x
    return F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)
