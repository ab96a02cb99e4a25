"""Exact mapping from output frames to (source pair, timestep) with rational arithmetic.

Output frame ``n`` shows the moment ``s(n)`` (in source-frame units) and is built from
source frames ``i = floor(s)`` and ``i + 1`` at timestep ``t = s - i``.  The output
covers the same duration as the input, so audio stays in sync:

* ``multi = M``: ``N = M * num_frames`` frames, ``s(n) = n / M``.
* ``factor = p/q`` (or a target frame rate, ``factor = fps_out / fps_in``):
  ``N = ceil(num_frames * p / q)``, ``s(n) = n * q / p``.
* Variable frame rate with ``multi`` or a factor: the same ``s(n)``; each real source interval is
  split into the same parts, so the output frames' durations follow the source frames' durations.
* Variable frame rate with a target fps: source frame ``k`` is shown at output frame
  ``round(start_k * fps)`` and the frames in between are interpolated (:class:`TimelineMapping`).

:func:`parse_rate` checks the filter's rate arguments, :func:`resolve_timeline` decides whether the
clip's real timeline is followed (``timeline=``, ``timecodes=``) and :func:`make_mapping` builds the
mapping for a clip: the one place where the output timing is decided.

The source frame at ``t = 0`` is passed through bit-exact; frames after the last source
frame (``i = num_frames - 1``, ``t > 0``) repeat it, since there is nothing to interpolate to.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from fractions import Fraction

import vapoursynth as vs

from .options import err, opt_int, opt_str
from .timeline import Timeline, from_props, read_timecodes, sample_durations, tolerance

__all__ = ["MODES", "CFRMapping", "Mapping", "TimelineMapping", "make_mapping", "output_times", "parse_rate",
           "resolve_timeline"]


class Mapping:
    """Maps output frame numbers to source positions."""

    num_src: int
    num_out: int
    fps: Fraction  # output frame rate; 0 when variable

    def position(self, n: int) -> tuple[int, Fraction]:
        """(source index i, timestep t in [0, 1)) of output frame ``n``; ``t = 0`` is source frame i."""
        raise NotImplementedError

    def is_cut(self, n: int) -> bool:
        """True when the mapping itself knows the pair of frame ``n`` straddles a scene cut."""
        return False

    def pair(self, n: int) -> tuple[int, int, Fraction]:
        """Source frames (i, j) and timestep of output frame ``n``; j == i when t == 0 or past the end."""
        i, t = self.position(n)
        if t == 0 or i >= self.num_src - 1:
            return i, i, t
        return i, i + 1, t


@dataclass
class CFRMapping(Mapping):
    """A regular step: ``s(n) = n * q / p`` for a reduced factor ``p / q`` (source-frame units).

    ``follow``: the output frames' durations split the source frames' own durations (each real
    interval is cut into the same parts), so a variable-rate clip keeps its timeline; otherwise every
    output frame lasts ``1 / fps``.  ``src_fps`` 0 (a fps 0/1 clip) gives a variable-rate output.
    """

    num_src: int
    factor: Fraction
    src_fps: Fraction
    follow: bool = False

    def __post_init__(self) -> None:
        p, q = self.factor.numerator, self.factor.denominator
        self.num_out = -(-self.num_src * p // q)
        self.fps = self.src_fps * self.factor
        self.follow = self.follow or self.src_fps == 0

    def position(self, n: int) -> tuple[int, Fraction]:
        s = Fraction(n * self.factor.denominator, self.factor.numerator)
        i = s.numerator // s.denominator
        return i, s - i


@dataclass
class TimelineMapping(Mapping):
    """A real timeline to a constant output rate ``fps``: source frame k is shown at output frame
    ``g_k = round((start_k - start_0) * fps)`` (its nearest grid point, so it is passed through), and the
    frames between ``g_k`` and ``g_(k+1)`` are interpolated evenly.  Every frame is within half an output
    frame of its real time; a source frame whose grid point a later one takes is dropped."""

    starts: list[Fraction]  # len num_src + 1; last entry is the end of the clip
    fps: Fraction

    def __post_init__(self) -> None:
        self.num_src = len(self.starts) - 1
        s0 = self.starts[0]
        self.grid = [math.floor((s - s0) * self.fps + Fraction(1, 2)) for s in self.starts]
        total = (self.starts[-1] - s0) * self.fps
        self.num_out = max(1, -(-total.numerator // total.denominator))

    def time(self, n: int) -> Fraction:
        return self.starts[0] + Fraction(n) / self.fps

    def position(self, n: int) -> tuple[int, Fraction]:
        g = self.grid
        i = max(0, min(bisect.bisect_right(g, n) - 1, self.num_src - 1))
        span = g[i + 1] - g[i]
        t = Fraction(n - g[i], span) if span > 0 else Fraction(0)
        if i == self.num_src - 1 and t >= 1:
            t = Fraction(0)
        return i, t


def output_times(mapping: Mapping, timeline: Timeline, start: int = 0, stop: int | None = None) -> list[Fraction]:
    """The real time (seconds, on ``timeline``) of output frames ``start`` to ``stop`` of ``mapping``.

    A :class:`TimelineMapping` is constant-rate (``start_0 + n / fps``); the regular mappings place frame
    ``n`` at its source position ``i + t`` on the timeline.  A dedup mapping times frames like its base.
    """
    base = getattr(mapping, "base", mapping)
    stop = base.num_out if stop is None else stop
    if isinstance(base, TimelineMapping):
        return [base.time(n) for n in range(start, stop)]
    return [timeline.at(*base.position(n)) for n in range(start, stop)]


def _ratio(kind: str, num: int | None, den: int | None) -> Fraction:
    """``{kind}_num/{kind}_den`` as a positive Fraction (den defaults to 1)."""
    if num is None:
        raise err(f"{kind}_den needs {kind}_num")
    den = 1 if den is None else den
    if num <= 0 or den <= 0:
        raise err(f"{kind}_num and {kind}_den must be positive, got {num}/{den}")
    return Fraction(num, den)


def parse_rate(clip: vs.VideoNode, multi: object, factor_num: object, factor_den: object, fps_num: object,
               fps_den: object, dedup: bool) -> tuple[str, Fraction]:
    """Which rate argument was given, as ("multi" | "factor" | "fps", value)."""
    multi = opt_int("multi", multi)
    fn, fd = opt_int("factor_num", factor_num), opt_int("factor_den", factor_den)
    pn, pd = opt_int("fps_num", fps_num), opt_int("fps_den", fps_den)
    given = [k for k, v in (("multi", multi), ("factor_num/factor_den", fn if fn is not None else fd),
                            ("fps_num/fps_den", pn if pn is not None else pd)) if v is not None]
    if len(given) > 1:
        raise err(f"give only one of multi, factor_num/factor_den, fps_num/fps_den (got {', '.join(given)})")
    if fn is not None or fd is not None:
        f = _ratio("factor", fn, fd)
        if f <= 1 and not (dedup and f == 1):
            raise err(f"factor_num/factor_den must be > 1, got {fn}/{1 if fd is None else fd}")
        return "factor", f
    if pn is not None or pd is not None:
        target = _ratio("fps", pn, pd)
        if clip.fps.numerator > 0:
            src = Fraction(clip.fps.numerator, clip.fps.denominator)
            if target < src or (target == src and not dedup):
                raise err(f"fps_num/fps_den ({pn}/{1 if pd is None else pd}) must be higher than the clip's frame rate "
                          f"({src.numerator}/{src.denominator})")
        return "fps", target
    m = 2 if multi is None else multi
    lo = 1 if dedup else 2
    if m < lo:
        raise err(f"multi must be >= {lo}{' (1 only with dedup=True)' if not dedup else ''}, got {m}")
    if m > 1024:
        raise err(f"multi must be <= 1024, got {m}")
    return "multi", Fraction(m)


MODES = ("auto", "cfr", "vfr")


def _looks_constant(clip: vs.VideoNode, props0: object) -> bool:
    """The cheap probe: frame 0 and a few frames spread over the clip last 1/fps (or carry no durations)."""
    fps = Fraction(clip.fps.numerator, clip.fps.denominator)
    tol = tolerance(fps)
    return all(d is None or abs(d - 1 / fps) <= tol for d in sample_durations(clip, props0))


def resolve_timeline(clip: vs.VideoNode, kind: str, mode: object, timecodes: object,
                     props0: object) -> tuple[str, Timeline | None]:
    """Decide how ``clip``'s time is read: ("cfr" | "vfr", the timeline when the mapping needs it).

    * ``cfr``: the clip is constant-rate at its fps; durations props are ignored.
    * ``vfr``: output frames follow the real timeline.  ``multi``/``factor`` only need each frame's
      duration, read from its props as it is rendered (``None`` timeline); a target ``fps`` needs every
      start time before the first frame: from ``timecodes`` or from the props (one decoding pass).
    * ``auto`` (default): fps 0/1 clips are ``vfr``; so are ``multi``/``factor`` (a constant-rate clip's
      durations are all 1/fps, so nothing changes).  With a target ``fps`` the timecodes, if given, decide;
      else a probe of up to 9 frames' durations, and only when one differs from 1/fps all of them are read.
    """
    m = opt_str("timeline", mode) or "auto"
    if m not in MODES:
        raise err(f"timeline must be one of {', '.join(repr(x) for x in MODES)}, got {m!r}")
    path = opt_str("timecodes", timecodes)
    cfr_clip = clip.fps.numerator > 0
    if m == "cfr":
        if not cfr_clip:
            raise err("timeline='cfr' needs a clip with a frame rate; this clip is fps 0/1 (use std.AssumeFPS)")
        if path is not None:
            raise err("timecodes needs timeline='auto' or 'vfr', not 'cfr'")
        return "cfr", None
    tl = read_timecodes(path, clip) if path is not None else None
    if kind != "fps" or not cfr_clip:
        if kind == "fps" and tl is None:
            tl = from_props(clip)
        return "vfr", tl
    fps = Fraction(clip.fps.numerator, clip.fps.denominator)
    if tl is None and (m == "vfr" or not _looks_constant(clip, props0)):
        tl = from_props(clip)
    if tl is None or (m == "auto" and tl.is_constant(fps)):
        return "cfr", None
    return "vfr", tl


def make_mapping(clip: vs.VideoNode, kind: str, value: Fraction, mode: str = "cfr",
                 timeline: Timeline | None = None) -> Mapping:
    """The mapping for ``clip``; ``mode``/``timeline`` from :func:`resolve_timeline`."""
    n = clip.num_frames
    src = Fraction(clip.fps.numerator, clip.fps.denominator) if clip.fps.numerator > 0 else Fraction(0)
    if kind == "fps" and (mode == "vfr" or src == 0):
        if timeline is None:
            raise err("a target fps on a variable-frame-rate clip needs its timeline")
        return TimelineMapping(list(timeline.starts), value)
    factor = value / src if kind == "fps" else value
    return CFRMapping(n, factor, src, follow=mode == "vfr")
