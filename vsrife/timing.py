"""Exact mapping from output frames to (source pair, timestep) with rational arithmetic.

Output frame ``n`` shows the moment ``s(n)`` (in source-frame units) and is built from
source frames ``i = floor(s)`` and ``i + 1`` at timestep ``t = s - i``.  The output
covers the same duration as the input, so audio stays in sync:

* ``multi = M``: ``N = M * num_frames`` frames, ``s(n) = n / M``.
* ``factor = p/q`` (or a target frame rate, ``factor = fps_out / fps_in``):
  ``N = ceil(num_frames * p / q)``, ``s(n) = n * q / p``.
* Variable frame rate with ``multi``: every source interval is split into ``M`` equal parts.
* Variable frame rate with a target fps: ``s(n)`` follows the per-frame durations.

The source frame at ``t = 0`` is passed through bit-exact; frames after the last source
frame (``i = num_frames - 1``, ``t > 0``) repeat it, since there is nothing to interpolate to.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from fractions import Fraction

__all__ = ["CFRMapping", "Mapping", "TimelineMapping"]


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
