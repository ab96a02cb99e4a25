"""The engine layer: runs one network on one device for frames of any size (no VapourSynth here)."""

from ..nn.arch import SCALES
from .device import available_memory, default_streams, resolve_device, total_threads
from .engine import BISECT_DEPTH, Engine, Prepared, Shared, interpolate
from .fusion import FrameEngine, FusedPrepared, Fusion, make_engine

__all__ = ["BISECT_DEPTH", "SCALES", "Engine", "FrameEngine", "FusedPrepared", "Fusion", "Prepared", "Shared",
           "available_memory", "default_streams", "interpolate", "make_engine", "resolve_device", "total_threads"]
