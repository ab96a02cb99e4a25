"""The VapourSynth layer: the ``RIFE`` filter, its plan and graph, formats, timing, scene cuts and dedup."""

from .api import RIFE, as_vs_error, build, plan
from .plan import Plan

__all__ = ["RIFE", "Plan", "as_vs_error", "build", "plan"]
