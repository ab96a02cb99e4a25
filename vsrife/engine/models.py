"""Loaded networks, shared by every engine of the process, and their CPU fast paths."""

from __future__ import annotations

import gc
import threading
import weakref
from pathlib import Path

import torch

from .. import settings
from ..nn.fast import FastV4, supports
from ..nn.ifnet import IFNet
from ..weights.catalog import Weights
from ..weights.loading import load_model

__all__ = ["MAX_LOADED", "fast_path", "loaded", "release", "shared_net"]

MAX_LOADED = 4  # networks kept loaded (least recently loaded dropped first)
_MODELS: dict[tuple, tuple[IFNet, threading.RLock]] = {}  # one lock per loaded net: it runs one call at a time
_MODELS_LOCK = threading.Lock()
_FAST: weakref.WeakKeyDictionary[IFNet, dict[torch.dtype, FastV4]] = weakref.WeakKeyDictionary()  # CPU fast paths


def loaded() -> int:
    """How many networks are loaded now."""
    return len(_MODELS)


def release() -> None:
    """Drop every loaded network (engines still in use keep theirs) and return cached CUDA memory to the driver."""
    with _MODELS_LOCK:
        _MODELS.clear()
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def shared_net(weights: Weights | None, model_path: str | Path | None, device: torch.device,
               dtype: torch.dtype) -> tuple[IFNet, threading.RLock]:
    """The network for a catalog entry or a user's file on ``device``/``dtype``, loaded once, and its lock."""
    if model_path is None:  # the cache folder is part of the key: another $VSRIFE_MODEL_DIR holds other files
        assert weights is not None
        key: tuple = (weights.name, str(settings.get().model_dir), device, dtype)
    else:
        key = (str(Path(model_path).expanduser().resolve()), device, dtype)
    with _MODELS_LOCK:
        entry = _MODELS.get(key)
        if entry is None:
            net, _ = load_model(weights, model_path)
            entry = (net.to(device, dtype).eval(), threading.RLock())
            if len(_MODELS) >= MAX_LOADED:
                _MODELS.pop(next(iter(_MODELS)))
            _MODELS[key] = entry
        return entry


def fast_path(net: IFNet, device: torch.device, dtype: torch.dtype, ensemble: bool,
               conv_dtype: torch.dtype = torch.float32) -> FastV4 | None:
    """The CPU fast path (NHWC, folded gains) for fp32 4.x models, ensemble or not; $VSRIFE_FAST=0: off.

    ``conv_dtype`` bfloat16: the blocks' convolutions in bf16 (``fp16=True`` on the CPU).
    """
    if device.type != "cpu" or dtype != torch.float32 or not supports(net):
        return None
    if not settings.get().fast:
        return None
    with _MODELS_LOCK:
        per_dtype = _FAST.setdefault(net, {})
        fast = per_dtype.get(conv_dtype)
        if fast is None:
            fast = per_dtype[conv_dtype] = FastV4(net, conv_dtype)
        return fast
