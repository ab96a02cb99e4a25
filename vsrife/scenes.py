"""Scene-cut policy shared by the filter, dedup, evaluation and training: one threshold, defined here.

A pair of frames straddles a cut when the mean absolute luma difference (0..1) of the two frames
is above :data:`CUT_THRESHOLD`.  The filter and dedup measure it on a small luma proxy of the clip
(:func:`vsrife.vs.scenecut.scene_luma`, :data:`PROXY_WIDTH` pixels wide); evaluation and training,
which hold RGB arrays, measure it on full-resolution luma.  Chosen on real footage (docs/quality.md).
"""

from __future__ import annotations

__all__ = ["CUT_THRESHOLD", "PROXY_WIDTH"]

CUT_THRESHOLD = 0.12
PROXY_WIDTH = 64  # pixels across of the filter's scene-cut proxy
