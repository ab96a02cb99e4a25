"""Scene cuts in the filter: the threshold (:data:`vsrife.scenes.CUT_THRESHOLD`) and the luma proxy."""

from __future__ import annotations

import vapoursynth as vs

from ..scenes import CUT_THRESHOLD, PROXY_WIDTH

__all__ = ["SC_THRESHOLD", "scene_luma"]

SC_THRESHOLD = CUT_THRESHOLD  # mean absolute luma difference (0..1) of the proxy; see README


def scene_luma(clip: vs.VideoNode, width: int = PROXY_WIDTH) -> vs.VideoNode:
    """Small GRAYS luma proxy used for scene-change and duplicate metrics."""
    h = max(2, round(clip.height * width / clip.width / 2) * 2)
    w = min(width, clip.width)
    fam = clip.format.color_family
    if fam == vs.YUV:
        clip = clip.std.ShufflePlanes(0, vs.GRAY)
        return clip.resize.Bilinear(w, h, format=vs.GRAYS, range_in_s="limited" if clip.format.sample_type ==
                                    vs.INTEGER else "full", range_s="full")
    if fam == vs.RGB:
        return clip.resize.Bilinear(w, h, format=vs.GRAYS, matrix_s="709")
    return clip.resize.Bilinear(w, h, format=vs.GRAYS)
