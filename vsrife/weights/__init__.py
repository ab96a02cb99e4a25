"""The weights layer: the catalog of pretrained models, the cache and fetching, safe loading, detection."""

from ..errors import AssetError, ModelLoadError
from .cache import asset_dir, cache_dir, fetch, fetch_command, locate, sha256_file, verify
from .catalog import ASSETS, DEFAULT, DEFAULT_MODEL, FOOTAGE, MODELS, Asset, Weights, resolve
from .detect import arch_metadata, build, detect_arch
from .loading import load_file, load_model

__all__ = ["ASSETS", "DEFAULT", "DEFAULT_MODEL", "FOOTAGE", "MODELS", "Asset", "AssetError", "ModelLoadError",
           "Weights", "arch_metadata", "asset_dir", "build", "cache_dir", "detect_arch", "fetch", "fetch_command",
           "load_file", "load_model", "locate", "resolve", "sha256_file", "verify"]
