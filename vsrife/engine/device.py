"""Devices, CPU threads and memory: what the engine may use on this machine."""

from __future__ import annotations

import sys
from functools import cache

import torch

from .. import settings
from ..errors import InputError
from ..nn.fast import bf16_supported

__all__ = ["BYTES_PER_PIXEL", "CONTEXT_BYTES_PER_PIXEL", "available_memory", "default_streams", "precision",
           "resolve_device", "system_available_memory", "total_threads"]

@cache
def total_threads() -> int:
    """The CPU threads all streams share: torch's intra-op thread count as first seen (main thread)."""
    return max(1, torch.get_num_threads())


def default_streams(device: torch.device) -> int:
    """Concurrent model calls: ``$VSRIFE_STREAMS``, else one per CPU thread up to 4; 1 on CUDA."""
    if device.type != "cpu":
        return 1
    configured = settings.get().streams
    return configured if configured is not None else min(4, total_threads())


def resolve_device(device: str | None) -> torch.device:
    """``None``/"auto" picks CUDA when present; "cpu", "cuda" and "cuda:N" are checked."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(device, str):
        raise InputError(f"device must be a string such as 'cpu', 'cuda' or 'cuda:0', not {device!r}")
    try:
        dev = torch.device(device)
    except RuntimeError as e:
        raise InputError(f"device {device!r} is not valid; allowed: 'cpu', 'cuda', 'cuda:N' or 'auto'") from e
    if dev.type == "cpu":
        return dev
    if dev.type != "cuda":
        raise InputError(f"device {device!r} is not supported; allowed: 'cpu', 'cuda', 'cuda:N' or 'auto'")
    if not torch.cuda.is_available():
        raise InputError(f"device {device!r} is not available: this machine has no usable CUDA device; use 'cpu'")
    if dev.index is not None and dev.index >= torch.cuda.device_count():
        raise InputError(f"device {device!r} does not exist: {torch.cuda.device_count()} CUDA device(s) present")
    return dev


# peak working set per padded pixel of one interpolation (4.25, ensemble), measured on the CPU
# (docs/reliability.md), with margin
BYTES_PER_PIXEL = {0.25: 450, 0.5: 550, 1.0: 900, 2.0: 1200, 4.0: 1500}
# what each cached frame of 4.0 on the CPU fast path keeps besides the frame: its refine nets' context levels
# (16, 32, 64, 128 channels at 1/2 to 1/16 size: 7.5 float32 values per padded pixel)
CONTEXT_BYTES_PER_PIXEL = 30


def available_memory(device: torch.device) -> int | None:
    """Bytes the next allocation may use: $VSRIFE_MEMORY_LIMIT_MB, else free CUDA memory or MemAvailable."""
    limit = settings.get().memory_limit_mb
    if limit is not None:
        return int(limit * 2**20)
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    return system_available_memory()


def system_available_memory() -> int | None:
    """MemAvailable from /proc/meminfo on Linux; elsewhere (or unreadable) None: no check is made."""
    if sys.platform != "linux":
        return None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def precision(device: torch.device, fp16: bool) -> tuple[torch.dtype, torch.dtype]:
    """(dtype of the frames and the network, dtype of the CPU fast path's convolutions) for ``fp16``.

    CUDA: float16 network and frames (warps and the output blend computed in float32 by ``nn.warp``).  CPU:
    float32, with bfloat16 convolutions in the fast path for ``fp16=True`` on CPUs with native bf16.  Tests run
    the CUDA branch on the CPU by replacing this function (torch runs float16 convolutions on the CPU, slowly).
    """
    if not fp16:
        return torch.float32, torch.float32
    if device.type != "cpu":
        return torch.float16, torch.float32
    if not bf16_supported():
        raise InputError("fp16=True on the CPU runs the convolutions in bfloat16 and needs a CPU with native "
                         "bf16 instructions (AVX512-BF16 or AMX); this CPU has none: use fp16=False")
    return torch.float32, torch.bfloat16
