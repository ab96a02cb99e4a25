"""vsrife: RIFE frame interpolation for VapourSynth (``core.rife.RIFE`` / ``vsrife.RIFE``)."""

from __future__ import annotations

__version__ = "3.0.0"
__all__ = ["RIFE", "__version__"]


def __getattr__(name: str):
    if name == "RIFE":
        from .filter import RIFE

        return RIFE
    raise AttributeError(name)
