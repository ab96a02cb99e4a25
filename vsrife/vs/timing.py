"""Exact mapping from output frames to (source pair, timestep) with rational arithmetic.

Output frame ``n`` shows the moment ``s(n)`` (in source-frame units) and is built from
source frames ``i = floor(s)`` and ``i + 1`` at timestep ``t = s - i``.  The output
covers the same duration as the input, so audio stays in sync:

* ``multi = M``: ``N = M * num_frames`` frames, ``s(n) = n / M``.
* ``factor = p/q`` (or a target frame rate, ``factor = fps_out / fps_in``):
  ``N = ceil(num_frames * p / q)``, ``s(n) = n * q / p``.
* Variable frame rate with ``multi``: every source interval is split into ``M`` equal parts.
* Variable frame rate with a target fps: ``s(n)`` follows the per-frame durations.

:func:`parse_rate` checks the filter's rate arguments and :func:`make_mapping` builds the mapping
for a clip: the one place where the output timing is decided.

The source frame at ``t = 0`` is passed through bit-exact; frames after the last source
frame (``i = num_frames - 1``, ``t > 0``) repeat it, since there is nothing to interpolate to.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from fractions import Fraction

import vapoursynth as vs

from .options import err, opt_int

__all__ = ["CFRMapping", "Mapping", "MultiVFRMapping", "TimelineMapping", "make_mapping", "parse_rate", "timeline"]


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
    """Constant rate: ``s(n) = n * q / p`` for a reduced factor ``p / q``."""

    num_src: int
    factor: Fraction
    src_fps: Fraction

    def __post_init__(self) -> None:
        p, q = self.factor.numerator, self.factor.denominator
        self.num_out = -(-self.num_src * p // q)
        self.fps = self.src_fps * self.factor

    def position(self, n: int) -> tuple[int, Fraction]:
        s = Fraction(n * self.factor.denominator, self.factor.numerator)
        i = s.numerator // s.denominator
        return i, s - i


@dataclass
class TimelineMapping(Mapping):
    """Variable rate: frame start times ``starts`` (seconds) and a constant output rate ``fps``."""

    starts: list[Fraction]  # len num_src + 1; last entry is the end of the clip
    fps: Fraction

    def __post_init__(self) -> None:
        self.num_src = len(self.starts) - 1
        total = self.starts[-1] - self.starts[0]
        self.num_out = max(1, -(-(total * self.fps).numerator // (total * self.fps).denominator))

    def time(self, n: int) -> Fraction:
        return self.starts[0] + Fraction(n) / self.fps

    def position(self, n: int) -> tuple[int, Fraction]:
        tm = self.time(n)
        i = min(bisect.bisect_right(self.starts, tm) - 1, self.num_src - 1)
        i = max(i, 0)
        d = self.starts[i + 1] - self.starts[i]
        t = (tm - self.starts[i]) / d if d > 0 else Fraction(0)
        return i, min(t, Fraction(0) if i == self.num_src - 1 and t >= 1 else t)


@dataclass
class MultiVFRMapping(Mapping):
    """Variable rate with ``multi``: each source interval split into ``multi`` equal parts."""

    num_src: int
    multi: int

    def __post_init__(self) -> None:
        self.num_out = self.num_src * self.multi
        self.fps = Fraction(0)

    def position(self, n: int) -> tuple[int, Fraction]:
        return n // self.multi, Fraction(n % self.multi, self.multi)


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


def timeline(clip: vs.VideoNode) -> list[Fraction]:
    """Start times of every frame of a variable-frame-rate clip, from _DurationNum/_DurationDen."""
    starts = [Fraction(0)]
    for k in range(clip.num_frames):
        p = clip.get_frame(k).props
        dn, dd = p.get("_DurationNum"), p.get("_DurationDen")
        if not dn or not dd or dn <= 0 or dd <= 0:
            raise err(f"frame {k} of a variable-frame-rate clip (fps 0/1) has no valid _DurationNum/_DurationDen; "
                       "set the durations or use std.AssumeFPS")
        starts.append(starts[-1] + Fraction(dn, dd))
    return starts


def make_mapping(clip: vs.VideoNode, kind: str, value: Fraction) -> Mapping:
    n = clip.num_frames
    if clip.fps.numerator > 0:
        src = Fraction(clip.fps.numerator, clip.fps.denominator)
        factor = value / src if kind == "fps" else value
        return CFRMapping(n, factor, src)
    if kind == "multi":
        return MultiVFRMapping(n, int(value))
    if kind == "factor":
        raise err("factor_num/factor_den needs a constant frame rate; for fps 0/1 clips use multi or fps_num/fps_den")
    return TimelineMapping(timeline(clip), value)
