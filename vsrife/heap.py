"""glibc heap settings for the CPU path: reuse freed tensor memory instead of page-faulting it back.

A 720p RIFE pass allocates and frees about 250 MB of large tensors (full-resolution warps,
resizes, block inputs).  With glibc's defaults every block of 32 MB or more is a fresh ``mmap``
and every thread has its own arena, whose heaps cannot hold blocks over 64 MB, so each pass
touches those pages anew: about 70,000 page faults per frame, 15-20% of a frame's CPU time
(docs/performance.md, step 17).  :func:`keep_freed_memory` puts all threads that start
afterwards on the main heap, serves blocks up to 1 GiB from it and never trims it, so the same
memory is reused from frame to frame.  The cost: the process keeps its peak heap until it
exits (the peak RSS itself does not grow; measured in the benchmark).

It changes malloc for the whole process, so it runs once, when ``vsrife`` is imported: that must
happen before other threads have made their own arenas (torch's import does), or the threads that
later run the model may still be handed one of those.  Under vspipe the script imports vsrife (or
``core.rife.RIFE`` does) before VapourSynth starts the worker threads that run the model.
``$VSRIFE_MALLOC=0`` leaves malloc alone.  No-op off glibc.
"""

from __future__ import annotations

import ctypes
import platform
from functools import cache

from . import settings
from .errors import SettingsError

__all__ = ["keep_freed_memory"]

# mallopt(3) parameters (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8

@cache
def keep_freed_memory() -> bool:
    """Apply the settings once per process; True if they are in effect (glibc, not disabled)."""
    return _apply()


def _apply() -> bool:
    try:
        if not settings.get().malloc:
            return False
    except SettingsError:
        pass  # another variable is bad: the first engine reports it; malloc keeps its default (on)
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    ok = mallopt(M_ARENA_MAX, 1) == 1
    # glibc refuses thresholds above its limit (32 MiB on some versions): take the largest accepted
    ok = ok and any(mallopt(M_MMAP_THRESHOLD, v) == 1 for v in (1 << 30, 1 << 28, 32 << 20))
    return ok and mallopt(M_TRIM_THRESHOLD, (1 << 31) - 1) == 1
