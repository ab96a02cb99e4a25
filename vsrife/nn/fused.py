"""ctypes binding of ``csrc/fused.c``: fused full-resolution stages of the v4 forward pass on the CPU.

The library (``_fused*.so`` next to this file, ``_fused*.dll`` on Windows) is compiled by ``setup.py`` together
with the plugin shim; one library holds the baseline x86-64, AVX2 and AVX-512 builds of each kernel and picks one
for the CPU at run time (:func:`isa`, :func:`set_isa`).
Without it, or with ``$VSRIFE_FUSED=0``, :class:`~vsrife.nn.fast.FastV4` uses its torch path; both give the
same frames up to float rounding (tested).  Row bands run on ``torch.get_num_threads()`` threads
(ctypes releases the GIL during the call).
"""

from __future__ import annotations

import ctypes
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path

import torch
from torch import Tensor

from .. import settings
from ..errors import InputError, KernelError, OutOfMemoryError

__all__ = ["available", "block_input", "channels", "final", "isa", "library_path", "reads_pre_shuffle", "set_isa",
           "usable"]

CL = torch.channels_last


class _Level(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("h", ctypes.c_int), ("w", ctypes.c_int), ("c", ctypes.c_int),
                ("up", ctypes.c_int), ("bf16", ctypes.c_int), ("shuf", ctypes.c_int), ("flip", ctypes.c_int),
                ("mask", ctypes.c_int)]


def library_pattern(platform: str | None = None) -> str:
    """File name pattern of the compiled library on ``platform`` (a ``sys.platform`` value; default: this one)."""
    return "_fused*.dll" if (platform or sys.platform) == "win32" else "_fused*.so"


def library_path() -> Path | None:
    """The compiled library, if it was built."""
    return next(iter(sorted(Path(__file__).resolve().parent.glob(library_pattern()))), None)


def _lib() -> ctypes.CDLL | None:
    """The kernels, or None when they are not built or ``Settings.fused`` is off ($VSRIFE_FUSED=0)."""
    return _load() if settings.get().fused else None


@cache
def _load() -> ctypes.CDLL | None:
    path = library_path()
    if path is None:
        return None
    try:
        lib = ctypes.CDLL(str(path))
    except OSError:
        return None
    try:
        _declare(lib)
    except AttributeError:  # a library built from an older fused.c (stale build): use the torch path
        return None
    return lib


def _declare(lib: ctypes.CDLL) -> None:
    i, f, p = ctypes.c_int, ctypes.c_float, ctypes.c_void_p
    lib.vsrife_block_input.argtypes = [p, p, i, i, i, i, ctypes.POINTER(_Level), i, i, i, f, p, i, i, i]
    lib.vsrife_block_input.restype = i
    lib.vsrife_final.argtypes = [p, p, i, i, i, i, ctypes.POINTER(_Level), i, f, p, i, i]
    lib.vsrife_final.restype = i
    lib.vsrife_isa.argtypes = []
    lib.vsrife_isa.restype = i
    lib.vsrife_set_isa.argtypes = [i]
    lib.vsrife_set_isa.restype = i


def available() -> bool:
    """True when the fused kernels are built and enabled."""
    return _lib() is not None


def isa() -> int:
    """The kernel build this CPU runs: 4 (AVX-512), 3 (AVX2/FMA), 0 (baseline); -1 without the library."""
    lib = _lib()
    return -1 if lib is None else int(lib.vsrife_isa())


def set_isa(level: int) -> int:
    """Make the kernels run the build for ``level`` (0, 3 or 4; -1: the CPU's best) in this process.

    For tests and benchmarks of the lower builds on a CPU that has the higher ones.  Returns the level in
    effect; raises InputError (a ValueError) when this CPU cannot run ``level``, KernelError without the library.
    """
    lib = _lib()
    if lib is None:
        raise KernelError("the fused kernels are not built or are switched off", "vsrife.nn.fused.set_isa")
    got = int(lib.vsrife_set_isa(int(level)))
    if got < 0:
        raise InputError(f"level must be -1 (the CPU's best), 0, 3 or 4, and one this CPU runs (4 needs AVX-512, "
                         f"3 AVX2 and FMA), not {level}", "vsrife.nn.fused.set_isa")
    return got


def reads_pre_shuffle() -> bool:
    """Whether block outputs should be handed over before their PixelShuffle(2) (read in place).

    With AVX-512 this saves the shuffle (7 ms per 720p frame); with AVX2 the in-place read is slower than
    torch's pixel_shuffle, so the kernels get shuffled outputs there (docs/performance.md, step 21).
    """
    return isa() >= 4


_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def _pool(k: int) -> ThreadPoolExecutor:
    with _POOLS_LOCK:
        pool = _POOLS.get(k)
        if pool is None:
            pool = _POOLS[k] = ThreadPoolExecutor(max_workers=k, thread_name_prefix="vsrife-fused")
        return pool


def _bands(fn, rows: int) -> None:
    """Run ``fn(y0, y1)`` over row bands on torch's thread count."""
    k = max(1, min(torch.get_num_threads(), rows))
    if k == 1:
        codes = [fn(0, rows)]
    else:
        edges = [rows * j // k for j in range(k + 1)]
        codes = list(_pool(k).map(lambda j: fn(edges[j], edges[j + 1]), range(k)))
    if -1 in codes:
        raise OutOfMemoryError("vsrife.nn.fused: out of memory")
    if any(codes):
        raise KernelError(f"vsrife.nn.fused: unsupported input (code {max(codes, key=abs)})")


def _geometry(o: tuple) -> tuple[int, int, int, bool]:
    """Channels, height and width of a block output as the model sees it, and whether it is pre-shuffle.

    ``o`` is (tensor, factor), (tensor, factor, pre) or (tensor, factor, pre, flip): ``pre`` marks a head output
    before PixelShuffle(2) ([1, 4c, h/2, w/2]), which the kernels read in place; ``flip`` an output of the
    reversed pass of an ensemble (:func:`final` swaps its flow pairs and negates its mask).
    """
    d, pre = o[0], len(o) > 2 and bool(o[2])
    return (d.shape[1] // 4, 2 * d.shape[2], 2 * d.shape[3], True) if pre else (*d.shape[1:4], False)


def channels(out: tuple) -> int:
    """Channels of a block output (tensor, factor[, pre]) after the head's PixelShuffle."""
    return _geometry(out)[0]


def _levels(outs: list[tuple]) -> tuple[ctypes.Array, list[Tensor]]:
    keep = [o[0].contiguous(memory_format=CL) for o in outs]
    arr = (_Level * len(outs))()
    for k, (o, d) in enumerate(zip(outs, keep, strict=True)):
        c, h, w, pre = _geometry(o)
        flip = len(o) > 3 and bool(o[3])
        last_of_pass = k == len(outs) - 1 or (len(outs[k + 1]) > 3 and bool(outs[k + 1][3]) and not flip)
        arr[k] = _Level(d.data_ptr(), h, w, c, int(o[1]), int(d.dtype == torch.bfloat16), int(pre), int(flip),
                        int(last_of_pass))
    return arr, keep


def usable(x0: Tensor, outs: list[tuple], s: float) -> bool:
    """Whether the kernels handle this call: fp32 CPU, batch 1, NHWC sources of at most 8 channels (RGB and up to
    4 encoder features per frame), at most 10 features between blocks, integer factors, s 1 or even."""
    if _lib() is None or x0.device.type != "cpu" or x0.dtype != torch.float32 or x0.shape[0] != 1:
        return False
    if x0.shape[1] > 8 or (outs and channels(outs[-1]) > 16):
        return False
    if not x0.is_contiguous(memory_format=CL) or not float(s).is_integer() or (s != 1 and int(s) % 2):
        return False
    hh, ww = x0.shape[-2:]
    for o in outs:
        d, up = o[0], o[1]
        c, h, w, _ = _geometry(o)
        if d.shape[0] != 1 or d.dtype not in (torch.float32, torch.bfloat16) or not float(up).is_integer() or c < 5:
            return False
        if h * int(up) != hh or w * int(up) != ww:
            return False
    return hh % int(s) == 0 and ww % int(s) == 0


def block_input(x0: Tensor, x1: Tensor, outs: list[tuple], acc: bool, nfeat: int, s: int,
                t: float, dtype: torch.dtype = torch.float32) -> Tensor:
    """The next block's input [1, cin, H/s, W/s] (NHWC memory, float32 or bfloat16), as ``FastV4`` orders it.

    Block outputs (``outs``: tensor, its integer factor to full size and optionally whether it is the head's
    output before PixelShuffle(2)) may be float32 or bfloat16.
    """
    lib = _lib()
    assert lib is not None
    _, c, hh, ww = x0.shape
    h, w = hh // s, ww // s
    cin = 2 * c + 2 + nfeat + 4
    if dtype not in (torch.float32, torch.bfloat16):
        raise InputError(f"dtype must be torch.float32 or torch.bfloat16, not {dtype}")
    out = torch.empty((1, h, w, cin), dtype=dtype)
    lev, keep = _levels(outs)
    p0, p1, po, bf = x0.data_ptr(), x1.data_ptr(), out.data_ptr(), int(dtype == torch.bfloat16)
    _bands(lambda y0, y1: lib.vsrife_block_input(p0, p1, hh, ww, c, len(keep), lev, int(acc), nfeat, s,
                                                 float(t), po, bf, y0, y1), h)
    return out.permute(0, 3, 1, 2)


def final(x0: Tensor, x1: Tensor, outs: list[tuple], acc: bool, gain: float = 1.0) -> Tensor:
    """The interpolated frame [1, 3, H, W]: both sources warped by the summed flow, blended by the mask.

    Flow and mask logit are the sum over ``outs`` times ``gain``: 0.5 with the forward and the (flipped)
    reversed pass's outputs gives 4.25's ensemble.
    """
    lib = _lib()
    assert lib is not None
    _, c, hh, ww = x0.shape
    out = torch.empty((1, 3, hh, ww), dtype=torch.float32)
    lev, keep = _levels(outs)
    p0, p1, po = x0.data_ptr(), x1.data_ptr(), out.data_ptr()
    _bands(lambda y0, y1: lib.vsrife_final(p0, p1, hh, ww, c, len(keep), lev, int(acc), float(gain), po, y0, y1),
           hh)
    return out
