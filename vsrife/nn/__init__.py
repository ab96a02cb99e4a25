"""The network layer: the architecture table, IFNet and its parts, and the CPU fast path.

Nothing here knows where weights come from or what VapourSynth is.  Names are imported lazily,
so that ``vsrife.nn.arch`` (plain data) can be read without importing torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ARCHS": "arch", "SCALES": "arch", "VERSIONS": "arch", "Arch": "arch", "Body": "arch", "Encoder": "arch",
    "Family": "arch", "Head": "arch", "Refine": "arch", "arch_for": "arch", "IFNet": "ifnet", "Output": "ifnet",
    "IFBlock": "layers", "ResConv": "layers", "merge_reversed": "layers", "swap_flows": "layers",
    "resize": "warp",  # warp: import vsrife.nn.warp.warp
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
