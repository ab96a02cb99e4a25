"""vsrife: RIFE frame interpolation for VapourSynth (``core.rife.RIFE`` / ``vsrife.RIFE``)."""

from __future__ import annotations

from .heap import keep_freed_memory

# Before torch is imported (and starts threads): reuse freed tensor memory instead of page-faulting it
# back on every frame; see vsrife.heap.  $VSRIFE_MALLOC=0 leaves malloc alone.
keep_freed_memory()

__version__ = "3.0.0"
__all__ = ["RIFE", "__version__"]


def __getattr__(name: str):
    if name == "RIFE":
        from .vs.api import RIFE

        return RIFE
    raise AttributeError(name)
