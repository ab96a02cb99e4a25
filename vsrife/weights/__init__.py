"""The weights layer: the catalog of pretrained models, the cache and fetching, safe loading, detection.

Names are imported lazily: the catalog and the cache need no torch (``vsrife models list`` stays fast).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AssetError": "..errors", "ModelLoadError": "..errors",
    **dict.fromkeys(("asset_dir", "cache_dir", "fetch", "fetch_command", "locate", "sha256_file", "verify"), ".cache"),
    **dict.fromkeys(("ASSETS", "DEFAULT", "DEFAULT_MODEL", "FOOTAGE", "MODELS", "TRAINABLE", "UPSTREAM",
                     "UPSTREAM_VERSIONS", "Asset", "Weights", "resolve"), ".catalog"),
    **dict.fromkeys(("arch_metadata", "build", "closest", "detect_arch", "differences"), ".detect"),
    **dict.fromkeys(("fetch_upstream", "load_file", "load_model", "model_file"), ".loading"),
    **dict.fromkeys(("locate_upstream", "upstream_url"), ".upstream"),
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
