"""The per-frame work of the filter: running the engine for a pair, and setting the output props."""

from __future__ import annotations

import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable
from fractions import Fraction

import numpy as np
import torch
import vapoursynth as vs

from ..engine import FrameEngine
from .timeline import duration_of
from .timing import CFRMapping, Mapping

__all__ = ["Interpolator", "follow_span", "prop_setter", "timing_setter"]


class Interpolator:
    """Runs the engine for one filter instance; caches batched results per source pair."""

    def __init__(self, engine: FrameEngine, mapping: Mapping, multi: int | None, gray: bool, uid: int) -> None:
        self.engine, self.mapping, self.gray, self.uid = engine, mapping, gray, uid
        self.multi = multi  # batch all timesteps of a pair when the pattern is regular
        self.lock = threading.Lock()
        self.results: OrderedDict[tuple[int, Fraction], torch.Tensor] = OrderedDict()
        self.pending: dict[tuple[int, tuple[Fraction, ...]], threading.Event] = {}

    def _timesteps(self, n: int, i: int) -> list[tuple[int, Fraction]]:
        if not self.multi or self.multi <= 2:
            return [(n, self.mapping.position(n)[1])]
        start = n - n % self.multi
        return [(k, Fraction(k - start, self.multi)) for k in range(start + 1, start + self.multi)]

    def __call__(self, n: int, f: list[vs.VideoFrame]) -> vs.VideoFrame:
        i, j, t = self.mapping.pair(n)
        key = (i, t)
        todo = self._timesteps(n, i)
        job = (i, tuple(tk for _, tk in todo))
        while True:  # pairs run concurrently (engine streams); a pair's timesteps are computed once
            with self.lock:
                hit = self.results.pop(key, None)
                if hit is not None:
                    break
                ev = self.pending.get(job)
                if ev is None:
                    ev = self.pending[job] = threading.Event()
                    break
            ev.wait()  # another thread is computing this pair: take its result (or compute it if gone)
        if hit is None:
            assert ev is not None  # this thread registered the job
            try:
                planes = [[np.asarray(fr[p]) for p in range(fr.format.num_planes)] for fr in f[:2]]
                h, w = planes[0][0].shape
                eng = self.engine
                pa = eng.prepare(planes[0], key=(self.uid, i))  # views of frame memory, copied once
                pb = eng.prepare(planes[1], key=(self.uid, j))
                out = eng.interpolate(pa, pb, [float(x) for x in job[1]], size=(h, w), to_cpu=False)
                with self.lock:
                    for (_k, tk), img in zip(todo, out, strict=True):
                        self.results[(i, tk)] = img
                    hit = self.results.pop(key)
                    while len(self.results) > 4 * max(self.multi or 2, 2):
                        self.results.popitem(last=False)
            finally:
                with self.lock:
                    self.pending.pop(job, None)
                ev.set()
        fout = f[0].copy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            if self.gray:  # the result goes straight from the device into the frame's memory
                torch.from_numpy(np.asarray(fout[0])).copy_(hit.mean(0))
            else:
                for p in range(3):
                    torch.from_numpy(np.asarray(fout[p])).copy_(hit[p])
        return fout


def prop_setter(mapping: Mapping, kind: str, cut: bool) -> Callable[..., vs.VideoFrame]:
    """Sets the Rife* props (and, on interpolated frames, restores the source frame's props)."""

    def setter(n: int, f: list[vs.VideoFrame] | vs.VideoFrame) -> vs.VideoFrame:
        frames = f if isinstance(f, list) else [f]
        fout = frames[0].copy()
        props = fout.props
        if len(frames) > 1:  # interpolated: restore the source frame's props (matrix, range, ...)
            for k, v in frames[1].props.items():
                if k != "_Alpha":
                    props[k] = v
        i, t = mapping.position(n)
        props["RifeSourceFrame"] = i
        props["RifeTimestep"] = float(t)
        props["RifeInterpolated"] = int(kind == "interp")
        props["RifeSceneChange"] = int(cut)
        if kind == "interp":
            for k in ("_PictType", "_SceneChangeNext", "_SceneChangePrev"):
                props.pop(k, None)
        return fout

    return setter


def follow_span(mapping: CFRMapping, n: int, d_i: Fraction, d_next: Fraction) -> tuple[Fraction, Fraction]:
    """(offset of output frame ``n`` after the start of its source frame i, its duration), in seconds,
    from the durations of source frames i and i + 1: each real interval is split like the index."""
    i, t = mapping.position(n)
    i2, t2 = mapping.position(n + 1)
    offset = t * d_i
    end = t2 * d_i if i2 == i else d_i + t2 * d_next
    return offset, end - offset


def timing_setter(mapping: Mapping, fallback: Fraction | None) -> Callable[..., vs.VideoFrame]:
    """Sets ``_DurationNum``/``_DurationDen`` (and ``_AbsoluteTime`` where present) on output frame n.

    ``f`` is [output frame, source frame i, source frame i + 1] of the timing mapping (a dedup mapping
    times frames like its base); ``fallback`` is the duration of a source frame without one (1/fps).
    """
    base = getattr(mapping, "base", mapping)
    follow = isinstance(base, CFRMapping) and base.follow
    dur = None if follow or base.fps <= 0 else 1 / base.fps

    def setter(n: int, f: list[vs.VideoFrame] | vs.VideoFrame) -> vs.VideoFrame:
        f = f if isinstance(f, list) else [f]
        fout = f[0].copy()
        props = fout.props
        if dur is not None:
            props["_DurationNum"], props["_DurationDen"] = dur.numerator, dur.denominator
            if "_AbsoluteTime" in props:
                props["_AbsoluteTime"] = float(n * dur)
            return fout
        d_i = duration_of(f[1].props) or fallback
        if d_i is None:
            return fout  # a fps 0/1 clip's last frame without a duration: nothing to split
        assert isinstance(base, CFRMapping)
        offset, d = follow_span(base, n, d_i, duration_of(f[2].props) or fallback or d_i)
        props["_DurationNum"], props["_DurationDen"] = d.numerator, d.denominator
        if "_AbsoluteTime" in f[1].props:
            props["_AbsoluteTime"] = float(f[1].props["_AbsoluteTime"]) + float(offset)
        return fout

    return setter
