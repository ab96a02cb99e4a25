"""The real timeline of a clip: frame start times, whether they are constant-rate, timecodes files.

A :class:`Timeline` holds ``num_frames + 1`` start times in seconds (exact fractions); the last entry
is the end of the last frame.  It comes from the frames' ``_DurationNum``/``_DurationDen`` props
(:func:`from_props`, one decoding pass) or from a timecodes v2 file (:func:`read_timecodes`), which
bestsource writes from its index without decoding (``core.bs.VideoSource(..., timecodes=PATH)``).

A clip is *constant-rate* when every frame starts within :func:`tolerance` of ``k / fps`` after the
first: this absorbs the 1 ms rounding of Matroska timestamps (23.976 fps stored as 41/42 ms) while a
dropped frame, an irregular capture or a rate change makes the clip variable-rate.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import vapoursynth as vs

from .options import err

__all__ = ["Spread", "Timeline", "duration_of", "from_props", "read_timecodes", "tolerance", "write_timecodes"]

HEADER = "# timestamp format v2"
SAMPLES = 9  # frames whose durations the cheap probe reads (frame 0 included)


def duration_of(props: object) -> Fraction | None:
    """A frame's ``_DurationNum/_DurationDen`` as a Fraction, or None when missing or invalid."""
    get = getattr(props, "get", None)
    dn, dd = (get("_DurationNum"), get("_DurationDen")) if get else (None, None)
    if not isinstance(dn, int) or not isinstance(dd, int) or dn <= 0 or dd <= 0:
        return None
    return Fraction(dn, dd)


def tolerance(fps: Fraction) -> Fraction:
    """How far a frame may start from ``k / fps`` in a constant-rate clip: 1/8 frame, at least 0.6 ms."""
    return max(Fraction(1, 8) / fps, Fraction(6, 10000))


@dataclass(frozen=True)
class Spread:
    """Frame durations of a timeline, in seconds."""

    min: Fraction
    median: Fraction
    max: Fraction
    distinct: int

    def describe(self) -> str:
        ms = [f"{float(x) * 1000:.1f}" for x in (self.min, self.median, self.max)]
        return f"frame durations min {ms[0]} ms, median {ms[1]} ms, max {ms[2]} ms, {self.distinct} distinct"


@dataclass(frozen=True)
class Timeline:
    """Start times (seconds) of every frame, plus the end of the last one."""

    starts: tuple[Fraction, ...]

    def __post_init__(self) -> None:
        if len(self.starts) < 2:
            raise err("a timeline needs at least one frame")
        bad = next((k for k in range(len(self.starts) - 1) if self.starts[k + 1] <= self.starts[k]), None)
        if bad is not None:
            raise err(f"frame times must increase: frame {bad + 1} starts at {float(self.starts[bad + 1]):.6f} s, "
                       f"not after frame {bad} at {float(self.starts[bad]):.6f} s")

    @property
    def num_frames(self) -> int:
        return len(self.starts) - 1

    @property
    def duration(self) -> Fraction:
        return self.starts[-1] - self.starts[0]

    def durations(self) -> list[Fraction]:
        return [b - a for a, b in zip(self.starts, self.starts[1:], strict=False)]

    def at(self, i: int, t: Fraction) -> Fraction:
        """The time of source position ``i + t`` (``t`` in [0, 1); past the last frame it extrapolates)."""
        i = min(i, self.num_frames - 1)
        return self.starts[i] + t * (self.starts[i + 1] - self.starts[i])

    def is_constant(self, fps: Fraction) -> bool:
        """True when every frame starts within :func:`tolerance` of ``k / fps`` after the first."""
        if fps <= 0:
            return False
        tol, s0 = tolerance(fps), self.starts[0]
        return all(abs(s - s0 - k / fps) <= tol for k, s in enumerate(self.starts[:-1]))

    def spread(self) -> Spread:
        d = sorted(self.durations())
        return Spread(d[0], d[len(d) // 2], d[-1], len(set(d)))


def end_duration(clip: vs.VideoNode, last_start: Fraction | None = None, prev: Fraction | None = None) -> Fraction:
    """Duration of the clip's last frame: its prop, else 1/fps, else the previous frame's duration."""
    d = duration_of(clip.get_frame(clip.num_frames - 1).props)
    if d is not None:
        return d
    if clip.fps.numerator > 0:
        return Fraction(clip.fps.denominator, clip.fps.numerator)
    if prev is not None:
        return prev
    raise err("the last frame of a variable-frame-rate clip has no _DurationNum/_DurationDen")


def from_props(clip: vs.VideoNode) -> Timeline:
    """The timeline from every frame's durations (decodes each frame once; the last may have none)."""
    starts = [Fraction(0)]
    last = clip.num_frames - 1
    prev: Fraction | None = None
    for k, f in enumerate(clip.frames()):
        d = duration_of(f.props)
        if d is None:
            if k < last:
                kind = "" if clip.fps.numerator > 0 else " (fps 0/1)"
                raise err(f"frame {k} of a variable-frame-rate clip{kind} has no valid _DurationNum/_DurationDen; "
                           "set the durations, give timecodes=, or use std.AssumeFPS")
            d = end_duration(clip, prev=prev) if clip.fps.numerator > 0 or prev is None else prev
        starts.append(starts[-1] + d)
        prev = d
    return Timeline(tuple(starts))


def sample_durations(clip: vs.VideoNode, props0: object) -> list[Fraction | None]:
    """Durations of up to :data:`SAMPLES` frames spread over the clip (frame 0 from ``props0``)."""
    n = clip.num_frames
    idx = sorted({round(k * (n - 2) / (SAMPLES - 1)) for k in range(1, SAMPLES)} - {0}) if n > 2 else []
    return [duration_of(props0)] + [duration_of(clip.get_frame(k).props) for k in idx]


def read_timecodes(path: str | Path, clip: vs.VideoNode) -> Timeline:
    """A timecodes v2 file for ``clip``: one start time in ms per frame, optionally one more for the end."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise err(f"timecodes: cannot read {str(path)!r}: {e.strerror or e}") from None
    values: list[Fraction] = []
    for no, line in enumerate(lines, 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        try:
            values.append(Fraction(s) / 1000)
        except (ValueError, ZeroDivisionError):
            raise err(f"timecodes: line {no} of {str(path)!r} is not a time in ms: {s!r}") from None
    n = clip.num_frames
    if len(values) not in (n, n + 1):
        raise err(f"timecodes: {str(path)!r} has {len(values)} times; the clip has {n} frames "
                   f"(give {n}, or {n + 1} with the end)")
    if len(values) == n:
        prev = values[-1] - values[-2] if n > 1 else None
        values.append(values[-1] + end_duration(clip, prev=prev))
    return Timeline(tuple(values))


def write_timecodes(path: str | Path, times: Iterable[Fraction]) -> None:
    """Write a timecodes v2 file (ms, 6 decimals) that mkvmerge ``--timestamps`` and :func:`read_timecodes` read."""
    body = "".join(f"{_ms(t)}\n" for t in times)
    Path(path).write_text(f"{HEADER}\n{body}", encoding="utf-8")


def _ms(t: Fraction) -> str:
    us = math.floor(t * 1_000_000_000 + Fraction(1, 2))  # nanoseconds, rounded
    sign = "-" if us < 0 else ""
    q, r = divmod(abs(us), 1_000_000)
    return f"{sign}{q}.{r:06d}"
