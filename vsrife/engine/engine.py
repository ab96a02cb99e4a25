"""Inference engine: devices, padding, batching of timesteps and per-frame caching.

No VapourSynth here.  :class:`Engine` wraps one loaded :class:`~vsrife.nn.ifnet.IFNet`
and interpolates RGB frames of any size: it pads them to the model's multiple,
runs all requested timesteps of a pair in one batched call, crops back, and keeps
each source frame's padded tensor and encoder features in a small LRU cache so
that neighbouring pairs share them.

Concurrency: on the CPU an engine runs up to ``streams`` model calls at once (default: one per
core up to 4, ``$VSRIFE_STREAMS``), each on ``threads // streams`` of torch's threads: two pairs
at once with one thread each are ~1.3-1.45x faster than one pair at a time with two threads on a
2-core machine (docs/performance.md), because much of a RIFE pass is memory-bound and scales
badly across threads.  The threads per call are fixed by the configuration, not by how many calls
happen to run, because float results depend (by rounding) on the thread count: output is
bit-identical from run to run and for any ``core.num_threads``.  On CUDA, calls on one network
are serialised.
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections import OrderedDict
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import InputError, OutOfMemoryError
from ..nn.arch import SCALES, Arch
from ..nn.ifnet import IFNet
from ..settings import MAX_STREAMS
from ..weights.catalog import Weights, resolve
from .device import (
    BYTES_PER_PIXEL,
    CONTEXT_BYTES_PER_PIXEL,
    available_memory,
    default_streams,
    precision,
    resolve_device,
    total_threads,
)
from .models import fast_path, shared_net

__all__ = ["BISECT_DEPTH", "PAD_MODES", "Engine", "Prepared", "Shared", "interpolate", "precision"]

BISECT_DEPTH = 4  # timestep resolution 1/16 for models trained only at t = 0.5
PAD_MODES = ("replicate", "reflect", "constant")


@dataclass
class Prepared:
    """One source frame on the device: padded image and cached encoder features."""

    img: Tensor  # [1, 3, Hp, Wp]
    feat: Tensor | None
    src: Tensor | None = None  # CPU fast path: img and feat packed in NHWC memory (img and feat are views of it)
    ctx: list[Tensor] | None = None  # CPU fast path, 4.0: its refine nets' per-frame context features


@dataclass(frozen=True)
class Shared:
    """A frame on the device, clamped and padded by :meth:`Engine.to_device`, shared by a fusion's members."""

    img: Tensor  # [1, 3, Hp, Wp]


class Engine:
    """Interpolates frames with one RIFE model on one device."""

    def __init__(
        self,
        model: str | Weights | None = None,
        model_path: str | Path | None = None,
        device: str | None = None,
        fp16: bool = False,
        scale: float = 1.0,
        ensemble: bool | None = None,
        pad_mode: str = "replicate",
        cache_frames: int = 6,
        streams: int | None = None,
    ) -> None:
        if scale not in SCALES:
            raise InputError(f"scale must be one of {', '.join(map(str, SCALES))}, not {scale!r}")
        weights = None if model_path is not None else resolve(model)
        if pad_mode not in PAD_MODES:
            raise InputError(f"pad_mode must be 'replicate', 'reflect' or 'constant', not {pad_mode!r}")
        if streams is not None and (isinstance(streams, bool) or not isinstance(streams, int)
                                    or not 1 <= streams <= MAX_STREAMS):
            raise InputError(f"streams must be an integer in 1..{MAX_STREAMS}, got {streams!r}")
        self.device = resolve_device(device)
        self.dtype, conv_dtype = precision(self.device, bool(fp16))
        cpu_half = conv_dtype == torch.bfloat16
        self.scale, self.pad_mode = float(scale), pad_mode
        self.weights: Weights | None = weights  # the catalog entry (None: model_path)
        net, net_lock = shared_net(weights, model_path, self.device, self.dtype)
        self.net: IFNet = net
        self.arch: Arch = net.arch
        self.ensemble = self.arch.default_ensemble if ensemble is None else bool(ensemble)
        if self.ensemble and not self.arch.ensemble_supported:
            raise InputError(f"ensemble=True is not supported by model {self.arch.name}; allowed with the 4.x models "
                             "and hd")
        self.multiple = self.arch.pad_multiple(self.scale)
        self.fast = fast_path(net, self.device, self.dtype, self.ensemble, conv_dtype)
        if cpu_half and self.fast is None:
            raise InputError(f"fp16=True on the CPU needs the CPU fast path: a 4.x model (got {self.arch.name}) "
                             "and $VSRIFE_FAST not 0")
        self.streams = 1 if self.device.type != "cpu" else (streams or default_streams(self.device))
        self.threads = max(1, total_threads() // self.streams)  # torch threads per CPU call, fixed (determinism)
        # CPU: up to `streams` calls at once; CUDA: one call at a time per network (shared by its engines)
        self._net_lock = net_lock
        self._active = 0  # model calls running now (CPU thread sharing)
        self._lock = threading.Lock()  # cache, in-flight table, stats, slots
        self._slot_free = threading.Condition(self._lock)
        self._inflight: dict[Hashable, threading.Event] = {}
        self._cache: OrderedDict[Hashable, Prepared] = OrderedDict()
        self._cache_size = cache_frames
        self.stats = {"model_calls": 0, "frames_prepared": 0, "cache_hits": 0, "max_concurrent": 0}

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the engine's run slots; on the CPU, run on the engine's threads per call."""
        if self.device.type != "cpu":
            with self._net_lock:
                yield
            return
        with self._slot_free:
            while self._active >= self.streams:
                self._slot_free.wait()
            self._active += 1
            self.stats["max_concurrent"] = max(self.stats["max_concurrent"], self._active)
            share = self.threads
        prev = torch.get_num_threads()
        if prev != share:
            torch.set_num_threads(share)
        try:
            yield
        finally:
            with self._slot_free:
                self._active -= 1
                self._slot_free.notify()
            if prev != share:
                torch.set_num_threads(prev)

    # -- frames ------------------------------------------------------------------------------
    def padded_size(self, h: int, w: int) -> tuple[int, int]:
        m = self.multiple
        return (h + m - 1) // m * m, (w + m - 1) // m * m

    def _to_tensor(self, img: Tensor | np.ndarray) -> Tensor:
        t = torch.from_numpy(np.ascontiguousarray(img)) if isinstance(img, np.ndarray) else img
        if t.dim() == 3:
            t = t.unsqueeze(0)
        if t.dim() != 4 or t.shape[1] != 3:
            raise InputError(f"frames must be [3,H,W] or [1,3,H,W] RGB, got shape {tuple(t.shape)}")
        return t

    def _pad(self, t: Tensor) -> Tensor:
        h, w = t.shape[-2:]
        hp, wp = self.padded_size(h, w)
        if (hp, wp) == (h, w):
            return t
        mode = self.pad_mode
        if mode == "reflect" and (hp - h >= h or wp - w >= w):
            mode = "replicate"  # reflect needs the pad to be smaller than the frame
        if mode == "constant":
            return F.pad(t, (0, wp - w, 0, hp - h))
        return F.pad(t, (0, wp - w, 0, hp - h), mode=mode)

    def _from_planes(self, planes: Sequence[np.ndarray]) -> Tensor:
        """Copy 1 (gray) or 3 plane views straight into the padded device tensor: the only copy of the frame."""
        h, w = planes[0].shape
        self.check_memory(h, w)
        hp, wp = self.padded_size(h, w)
        t = torch.empty((1, 3, hp, wp), device=self.device, dtype=self.dtype)
        with warnings.catch_warnings():  # read-only frame memory: torch only reads it here
            warnings.simplefilter("ignore", UserWarning)
            for c in range(3):
                t[0, c, :h, :w].copy_(torch.from_numpy(planes[c if len(planes) == 3 else 0]), non_blocking=True)
        inner = t[:, :, :h, :w]
        torch.nan_to_num_(inner.clamp_(0, 1), nan=0.0)
        if (hp, wp) != (h, w):
            if self.pad_mode == "replicate":
                t[:, :, :h, w:] = t[:, :, :h, w - 1:w]
                t[:, :, h:, :] = t[:, :, h - 1:h, :]
            else:
                t = self._pad(inner.clone()).contiguous()
        return t

    def prepare(self, img: Tensor | np.ndarray | Sequence[np.ndarray] | Shared, key: Hashable | None = None
                ) -> Prepared:
        """Move one RGB frame to the device, pad it and run the per-frame encoder (cached by key).

        ``img`` is a [3,H,W]/[1,3,H,W] tensor or array, or a list of 1 or 3 [H,W] planes (views of
        VapourSynth frame memory), which are copied once, directly into the padded device tensor, or a
        :class:`Shared` frame that another engine already put on the device.
        """
        if key is None:
            return self._prepare(img)
        while True:  # one thread prepares a frame; others asking for the same key wait for it
            with self._lock:
                if (hit := self._hit(key)) is not None:
                    return hit
                ev = self._inflight.get(key)
                if ev is None:
                    ev = self._inflight[key] = threading.Event()
                    break
            ev.wait()
        try:
            p = self._prepare(img)
            with self._lock:
                self._cache[key] = p
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
            return p
        finally:
            with self._lock:
                self._inflight.pop(key, None)
            ev.set()

    def cached(self, key: Hashable) -> Prepared | None:
        """The cached frame of ``key``, or None (no work done)."""
        with self._lock:
            return self._hit(key)

    def _hit(self, key: Hashable) -> Prepared | None:  # the caller holds self._lock; counts and refreshes a hit
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            self.stats["cache_hits"] += 1
        return hit

    def to_device(self, img: Tensor | np.ndarray | Sequence[np.ndarray]) -> Tensor:
        """One RGB frame on the device, clamped, NaN-free and padded (the per-frame work before the model)."""
        if isinstance(img, (list, tuple)):
            return self._from_planes(img)
        t = self._to_tensor(cast("Tensor | np.ndarray", img))
        self.check_memory(*t.shape[-2:])
        t = t.to(self.device, self.dtype, non_blocking=True)
        return self._pad(torch.nan_to_num(t.clamp(0, 1), nan=0.0))

    def _prepare(self, img: Tensor | np.ndarray | Sequence[np.ndarray] | Shared) -> Prepared:
        with self.slot():
            if isinstance(img, Shared):
                t = img.img
                if t.shape[-2] % self.multiple or t.shape[-1] % self.multiple:
                    raise InputError(f"shared frame {tuple(t.shape)} is not padded to a multiple of {self.multiple}")
                self.check_memory(*t.shape[-2:])
            else:
                t = self.to_device(img)
            with torch.inference_mode():
                if self.fast is not None:
                    src = self.fast.source(t)
                    p = Prepared(src[:, :3], src[:, 3:] if self.arch.encoder else None, src, self.fast.context(src))
                else:
                    p = Prepared(t, self.net.encode_frame(t))
        with self._lock:
            self.stats["frames_prepared"] += 1
        return p

    def check_memory(self, h: int, w: int) -> None:
        """Refuse a frame size whose estimated working set exceeds the memory available (instead of an OOM kill)."""
        hp, wp = self.padded_size(h, w)
        need = hp * wp * BYTES_PER_PIXEL[self.scale]  # measured with the default ensemble (the larger case)
        # the cached frames' context levels (4.0 on the fast path), held once, not per concurrent call
        refines = self.fast is not None and self.fast.refiner is not None
        kept = self._cache_size * hp * wp * CONTEXT_BYTES_PER_PIXEL if refines else 0
        need += kept
        avail = available_memory(self.device)
        if avail is not None and need > avail:
            smaller = [s for s in SCALES if s < self.scale]
            hint = f"use scale={smaller[-1]}, " if smaller else ""
            raise OutOfMemoryError(f"a {w}x{h} frame at scale={self.scale} needs about {need / 2**30:.1f} GiB of "
                              f"{self.device.type} memory, {avail / 2**30:.1f} GiB is available; {hint}a smaller "
                              "frame, or raise $VSRIFE_MEMORY_LIMIT_MB")
        if avail is not None and need + (need - kept) * (self.streams - 1) > avail:  # fewer concurrent calls fit
            with self._lock:
                self.streams = max(1, min(self.streams, (avail - kept) // (need - kept)))

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    # -- interpolation -------------------------------------------------------------------------
    def quantize_timestep(self, t: float) -> float:
        """The timestep actually produced: exact for 4.x, nearest 1/16 for t = 0.5-only models."""
        if self.arch.timestep_input:
            return float(t)
        steps = 2**BISECT_DEPTH
        return round(float(t) * steps) / steps

    def _count_call(self) -> None:
        with self._lock:
            self.stats["model_calls"] += 1

    def _run(self, p0: Tensor, p1: Tensor, t: float | Tensor, f0: Tensor | None, f1: Tensor | None) -> Tensor:
        self._count_call()
        if self.fast is not None:
            tt = t if torch.is_tensor(t) else torch.tensor([float(t)], device=self.device, dtype=self.dtype)
            return self.fast(p0, p1, tt, f0, f1, scale=self.scale, ensemble=self.ensemble)
        out = self.net(p0, p1, t, scale=self.scale, ensemble=self.ensemble, refine=self.arch.refines, f0=f0, f1=f1)
        return out.image

    def _bisect(self, a: Tensor, b: Tensor, ts: list[float], depth: int) -> dict[float, Tensor]:
        """Frames at dyadic ``ts`` from a t = 0.5-only model by recursive midpoints."""
        mid = self._run(a, b, 0.5, None, None)
        res: dict[float, Tensor] = {}
        left = [t * 2 for t in ts if t < 0.5]
        right = [t * 2 - 1 for t in ts if t > 0.5]
        if 0.5 in ts:
            res[0.5] = mid
        if left and depth > 1:
            for t, v in self._bisect(a, mid, left, depth - 1).items():
                res[t / 2] = v
        if right and depth > 1:
            for t, v in self._bisect(mid, b, right, depth - 1).items():
                res[(t + 1) / 2] = v
        return res

    def interpolate(
        self,
        img0: Tensor | np.ndarray | Prepared,
        img1: Tensor | np.ndarray | Prepared,
        timesteps: float | Sequence[float] | Tensor,
        size: tuple[int, int] | None = None,
        to_cpu: bool = True,
    ) -> Tensor:
        """Frames between ``img0`` and ``img1`` (RGB in [0,1]) at each timestep, [T,3,H,W] fp32 CPU.

        ``to_cpu=False`` returns the cropped result where the model left it (device, dtype) so that the
        caller can copy it once into its destination.

        ``timesteps`` is a float, a sequence of floats in (0, 1), or a per-pixel map [H,W].
        """
        if size is None:
            if isinstance(img0, Prepared):
                raise InputError("size=(H, W) is needed when passing Prepared frames")
            src = self._to_tensor(img0)
            size = (int(src.shape[-2]), int(src.shape[-1]))
        h, w = size
        p0 = img0 if isinstance(img0, Prepared) else self.prepare(img0)
        p1 = img1 if isinstance(img1, Prepared) else self.prepare(img1)
        with self.slot(), torch.inference_mode():
            if torch.is_tensor(timesteps) and timesteps.dim() >= 2:
                out = self._interpolate_map(p0, p1, timesteps, h, w)
            else:
                ts = [float(timesteps)] if isinstance(timesteps, (int, float)) else [float(t) for t in timesteps]
                out = self._interpolate_steps(p0, p1, ts)
            out = out[:, :, :h, :w]
            return out.float().cpu().contiguous() if to_cpu else out

    def _interpolate_map(self, p0: Prepared, p1: Prepared, timesteps: Tensor, h: int, w: int) -> Tensor:
        """One frame whose timestep varies per pixel ([H,W] map; 4.x models)."""
        if not self.arch.timestep_input:
            raise InputError(f"per-pixel timestep maps need a 4.x model, not {self.arch.name}")
        tmap = timesteps.reshape(1, 1, *timesteps.shape[-2:]).to(self.device, self.dtype)
        if tuple(tmap.shape[-2:]) != (h, w):
            raise InputError(f"timestep map must be {h}x{w}, got {tuple(tmap.shape[-2:])}")
        tmap = self._pad(tmap)
        if self.fast is not None and p0.src is not None and p1.src is not None:
            self._count_call()
            return self.fast.interpolate(p0.src, p1.src, tmap, self.scale, self.ensemble, p0.ctx, p1.ctx)
        return self._run(p0.img, p1.img, tmap, p0.feat, p1.feat)

    def _interpolate_steps(self, p0: Prepared, p1: Prepared, ts: list[float]) -> Tensor:
        """Frames at the timesteps ``ts`` (each in (0, 1)), [T,3,Hp,Wp]."""
        for t in ts:
            if not 0.0 < t < 1.0:
                raise InputError(f"timestep must be in (0, 1), got {t}")
        if not self.arch.timestep_input:
            q = [self.quantize_timestep(t) for t in ts]
            got = self._bisect(p0.img, p1.img, sorted({x for x in q if 0 < x < 1}), BISECT_DEPTH)
            return torch.cat([got.get(x, p0.img if x <= 0 else p1.img) for x in q], 0)
        n = len(ts)
        tt = torch.tensor(ts, device=self.device, dtype=self.dtype)
        if self.fast is not None and p0.src is not None and p1.src is not None:
            # on the CPU one timestep per call is ~15% faster than a batch (docs/performance.md)
            # (counted as one model call: the pair's timesteps are still handled together)
            self._count_call()
            outs = [self.fast.interpolate(p0.src, p1.src, tt[k:k + 1], self.scale, self.ensemble, p0.ctx, p1.ctx)
                    for k in range(n)]
            return outs[0] if n == 1 else torch.cat(outs)
        a, b = p0.img.expand(n, -1, -1, -1), p1.img.expand(n, -1, -1, -1)
        return self._run(a, b, tt, p0.feat, p1.feat)

def interpolate(img0: Tensor | np.ndarray, img1: Tensor | np.ndarray, timestep: float | Sequence[float] | Tensor = 0.5,
                model: str | None = None, **kwargs) -> Tensor:
    """One-shot helper: the frame(s) between ``img0`` and ``img1`` at ``timestep``."""
    return Engine(model=model, **kwargs).interpolate(img0, img1, timestep)
