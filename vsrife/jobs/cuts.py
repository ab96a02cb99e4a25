"""Scene cuts for the chunk planner: the filter's own decision, read only where a chunk may end.

The filter (:mod:`vsrife.vs.graph`) treats the pair ``(c - 1, c)`` as a cut when frame ``c - 1``
carries ``_SceneChangeNext``, frame ``c`` carries ``_SceneChangePrev``, or the mean absolute
difference of their luma proxies (:func:`vsrife.vs.scenecut.scene_luma`) is above the plan's
``sc_threshold`` (:data:`vsrife.scenes.CUT_THRESHOLD` by default).  :class:`CutFinder` applies the
same rule, reading only the frames of the windows the planner asks about (about a quarter of the
clip, through the small proxy).  With ``dedup`` the filter's scan already holds the cuts; with
``sc=False`` there are none.
"""

from __future__ import annotations

import vapoursynth as vs

from ..vs.plan import Plan
from ..vs.scenecut import scene_luma

__all__ = ["CutFinder", "cut_finder"]


class CutFinder:
    """``finder(lo, hi)``: the frames ``c`` in ``[lo, hi]`` at which a new scene starts."""

    def __init__(self, clip: vs.VideoNode, threshold: float) -> None:
        small = scene_luma(clip)
        self.stats = small.std.PlaneStats(small[1:] + small[-1], prop="RifeSC")
        self.threshold = threshold
        self.read = 0  # frames read so far (the planner's cost)

    def __call__(self, lo: int, hi: int) -> list[int]:
        lo, hi = max(1, lo), min(hi, self.stats.num_frames - 1)
        if hi < lo:
            return []
        found: list[int] = []
        prev = None
        for k, f in enumerate(self.stats[lo - 1: hi + 1].frames(close=True), start=lo - 1):
            props = f.props
            self.read += 1
            if prev is not None:
                p_next, p_diff = prev
                if p_next or bool(props.get("_SceneChangePrev", 0)) or p_diff > self.threshold:
                    found.append(k)
            prev = (bool(props.get("_SceneChangeNext", 0)), float(props["RifeSCDiff"]))
        return found


def cut_finder(plan: Plan):
    """The planner's cut source for ``plan``: its dedup scan, the clip's frames, or nothing (``sc=False``)."""
    if not plan.sc:
        return lambda lo, hi: []
    scan = getattr(plan.mapping, "scan", None)
    if scan is not None:
        cuts = sorted(scan.cuts)
        return lambda lo, hi: [c for c in cuts if lo <= c <= hi]
    clip = plan.clip.std.RemoveFrameProps("_Alpha") if plan.has_alpha else plan.clip
    return CutFinder(clip, plan.sc_threshold)
