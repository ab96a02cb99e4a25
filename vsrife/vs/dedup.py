"""Held drawings (anime "on twos"/"on threes"): find unique drawings and re-time between them.

At filter creation the clip is scanned once through a small luma proxy
(:func:`vsrife.vs.scenecut.scene_luma`, :data:`PROXY_WIDTH` pixels wide).  Frame ``k`` repeats
the current drawing when its *block difference* to the last unique frame (the keyframe)
is below the threshold.  The block difference is the largest mean absolute difference over
:data:`BLOCK` x :data:`BLOCK` proxy-pixel blocks, so a small moving part (a mouth on a static
background) still counts as motion, while encoder noise, averaged over each block, does not.
Comparing with the keyframe rather than the previous frame stops slow fades from drifting.

Each unique drawing is a keyframe at the time it first appears.  Output frame ``n`` (timing
from the ordinary mapping, so the frame count and rate do not change) shows the moment ``s``
and is interpolated between the keyframes ``a <= s < b`` at ``t = (s - a) / (b - a)``.
No in-between is made across a scene cut or after the last drawing: the keyframe is held.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import vapoursynth as vs

from ..scenes import CUT_THRESHOLD
from .options import err
from .scenecut import scene_luma
from .timeline import Timeline, duration_of
from .timing import CFRMapping, Mapping, TimelineMapping, make_mapping

__all__ = ["BLOCK", "DEFAULT_THRESHOLD", "PROXY_WIDTH", "DedupMapping", "Scan", "block_diff", "dedup_mapping",
           "scan"]

PROXY_WIDTH = 128  # proxy pixels across; 15 source pixels each at 1920 wide
BLOCK = 4  # block side in proxy pixels (60x60 source pixels at 1920 wide)
DEFAULT_THRESHOLD = 0.01  # block mean absolute luma difference, 0..1; see docs/quality.md


def block_diff(a: np.ndarray, b: np.ndarray, block: int = BLOCK) -> tuple[float, float]:
    """(mean, largest block mean) absolute difference of two equally sized 2-D luma arrays."""
    d = np.abs(a.astype(np.float32) - b.astype(np.float32))
    h, w = d.shape
    bh, bw = -(-h // block), -(-w // block)
    pad = np.pad(d, ((0, bh * block - h), (0, bw * block - w)), mode="edge")
    blocks = pad.reshape(bh, block, bw, block).mean(axis=(1, 3))
    return float(d.mean()), float(blocks.max())


@dataclass
class Scan:
    """Result of scanning a clip: per-frame metrics and the unique drawings."""

    keys: list[int]  # first frame of every unique drawing, ascending, starts with 0
    cuts: set[int] = field(default_factory=set)  # frames that start a new scene
    key_diff: list[float] = field(default_factory=list)  # block difference of frame k to its keyframe candidate
    prev_mean: list[float] = field(default_factory=list)  # mean abs difference of frame k to frame k - 1
    starts: list[Fraction] | None = None  # frame start times (seconds) of a variable-frame-rate clip

    def is_duplicate(self, k: int) -> bool:
        """True when frame ``k`` repeats the drawing of an earlier frame."""
        i = bisect.bisect_right(self.keys, k) - 1
        return self.keys[i] != k


def scan(clip: vs.VideoNode, threshold: float = DEFAULT_THRESHOLD,
         cut_threshold: float | None = CUT_THRESHOLD) -> Scan:
    """Find unique drawings and scene cuts of ``clip`` (reads every frame once, through a small proxy).

    ``cut_threshold=None`` disables cut detection (``sc=False``), including the _SceneChange props.
    """
    use_cuts = cut_threshold is not None
    cut_threshold = float("inf") if cut_threshold is None else cut_threshold
    proxy = scene_luma(clip, width=PROXY_WIDTH)
    res = Scan(keys=[0], starts=[Fraction(0)])
    nominal = Fraction(clip.fps.denominator, clip.fps.numerator) if clip.fps.numerator > 0 else Fraction(1)
    key: np.ndarray | None = None
    prev: np.ndarray | None = None
    cut_next = False
    for k, f in enumerate(proxy.frames()):
        cur = np.array(f[0], dtype=np.float32, copy=True)
        if res.starts is not None:
            res.starts.append(res.starts[-1] + (duration_of(f.props) or nominal))
        if key is None:
            key = prev = cur
            cut_next = bool(f.props.get("_SceneChangeNext", 0))
            res.key_diff.append(0.0)
            res.prev_mean.append(0.0)
            continue
        assert prev is not None
        mean_prev = block_diff(cur, prev)[0]
        props = f.props
        cut = mean_prev > cut_threshold or (use_cuts and (cut_next or bool(props.get("_SceneChangePrev", 0))))
        kd = block_diff(cur, key)[1]
        res.key_diff.append(kd)
        res.prev_mean.append(mean_prev)
        if cut:
            res.cuts.add(k)
        if cut or kd >= threshold:
            res.keys.append(k)
            key = cur
        prev = cur
        cut_next = bool(props.get("_SceneChangeNext", 0))
    return res


class DedupMapping(Mapping):
    """Output timing of ``base``; content re-timed between the unique drawings of ``scan``."""

    def __init__(self, base: Mapping, scan: Scan) -> None:
        self.base, self.scan = base, scan
        self.num_src, self.num_out, self.fps = base.num_src, base.num_out, base.fps
        self.keys = scan.keys
        starts: list[Fraction] | None = None
        if isinstance(base, TimelineMapping):
            starts = base.starts
        else:  # content is re-timed on the real timeline when the output follows it
            starts = scan.starts if isinstance(base, CFRMapping) and base.follow and _varies(scan, base) else None
        self._starts = [Fraction(x) for x in starts] if starts is not None else None

    def _time(self, i: int) -> Fraction:
        """Start of source frame ``i``: in frames, or in seconds for a variable-frame-rate clip."""
        return Fraction(i) if self._starts is None else self._starts[i]

    def _moment(self, n: int) -> tuple[int, Fraction]:
        i, t = self.base.position(n)
        if t == 0:
            return i, self._time(i)
        return i, self._time(i) + t * (self._time(i + 1) - self._time(i))

    def _segment(self, n: int) -> tuple[int, int | None, Fraction]:
        i, s = self._moment(n)
        k = bisect.bisect_right(self.keys, i) - 1
        a = self.keys[k]
        b = self.keys[k + 1] if k + 1 < len(self.keys) else None
        if b is None or b in self.scan.cuts:
            return a, None, Fraction(0)
        t = (s - self._time(a)) / (self._time(b) - self._time(a))
        return a, b, t

    def position(self, n: int) -> tuple[int, Fraction]:
        a, _b, t = self._segment(n)
        return a, t

    def pair(self, n: int) -> tuple[int, int, Fraction]:
        a, b, t = self._segment(n)
        return (a, a, t) if b is None or t == 0 else (a, b, t)

    def is_cut(self, n: int) -> bool:
        a, b, _t = self._segment(n)
        nxt = bisect.bisect_right(self.keys, a)
        return b is None and nxt < len(self.keys) and self.keys[nxt] in self.scan.cuts


def _varies(scan: Scan, base: CFRMapping) -> bool:
    """True when the scanned durations are not constant-rate (a CFR clip keeps re-timing in frame units)."""
    return scan.starts is not None and (base.src_fps == 0 or not Timeline(tuple(scan.starts)).is_constant(base.src_fps))


def dedup_mapping(clip: vs.VideoNode, kind: str, value: Fraction, threshold: float | None = None,
                  cut_threshold: float | None = CUT_THRESHOLD, mode: str = "cfr",
                  timeline: Timeline | None = None) -> DedupMapping:
    """The filter's mapping for ``dedup=True``: same output frames as without dedup, re-timed content."""
    thr = DEFAULT_THRESHOLD if threshold is None else float(threshold)
    if not 0 < thr <= 1:
        raise err(f"dedup_threshold must be in (0, 1], got {threshold}")
    return DedupMapping(make_mapping(clip, kind, value, mode, timeline), scan(clip, thr, cut_threshold))
