"""Deprecated alias of :mod:`vsrife.weights` (``from vsrife import registry`` was documented before 3.1)."""

from .weights import ASSETS, MODELS, Asset, AssetError, cache_dir, fetch, locate, verify

__all__ = ["ASSETS", "MODELS", "Asset", "AssetError", "cache_dir", "fetch", "locate", "verify"]
