"""Opening a video file with bestsource together with its real timeline."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import vapoursynth as vs

from ..errors import InputError, MediaError
from ..vs.timeline import Timeline, end_duration

__all__ = ["TimedSource", "open_timed"]


@dataclass(frozen=True)
class TimedSource:
    """A decoded source and the start time of each of its frames (None when the file has none)."""

    clip: vs.VideoNode
    timeline: Timeline | None

    @property
    def fps(self) -> Fraction:
        c = self.clip
        return Fraction(c.fps.numerator, c.fps.denominator) if c.fps.numerator > 0 else Fraction(0)

    @property
    def vfr(self) -> bool:
        """True when the frames' real times are not constant-rate at the clip's fps (bestsource: the average)."""
        return self.timeline is not None and not self.timeline.is_constant(self.fps)


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else "unknown error"


class _NoReturnNames(logging.Filter):
    """bestsource R22's ``exporttimestamps`` returns values it did not declare; the VapourSynth module
    then logs "no return value(s) named timebaseden, timebasenum, timestamps" (the values do arrive)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "no return value(s) named" not in record.getMessage()


@contextlib.contextmanager
def _quiet_vs_log() -> Iterator[None]:
    log, flt = logging.getLogger("vapoursynth"), _NoReturnNames()
    log.addFilter(flt)
    try:
        yield
    finally:
        log.removeFilter(flt)


def _timeline(res: dict, clip: vs.VideoNode) -> Timeline | None:
    """The exact timeline from ``exporttimestamps`` (stream ticks and time base), the last frame's end
    from its duration prop, else the clip's 1/fps (bestsource: the average)."""
    try:
        ticks, num, den = list(res["timestamps"]), int(res["timebasenum"]), int(res["timebaseden"])
    except (KeyError, TypeError, ValueError):
        return None
    if len(ticks) != clip.num_frames or num <= 0 or den <= 0 or clip.num_frames < 2:
        return None
    starts = [Fraction(t * num, den) for t in ticks]
    starts.append(starts[-1] + end_duration(clip, prev=starts[-1] - starts[-2]))
    try:
        return Timeline(tuple(starts))
    except InputError:
        return None  # non-increasing times and the like: the frame order is all we trust


def open_timed(path: str | Path) -> TimedSource:
    """``core.bs.VideoSource(path)`` and the exact frame times bestsource reads from its index (no decoding).

    Raises MediaError when bestsource cannot open the file.  A file whose timestamps bestsource cannot
    give (a frame without one) is opened without a timeline and treated as constant-rate.
    """
    core = vs.core
    if not hasattr(core, "bs"):
        raise MediaError("no source filter: install vapoursynth-bestsource (pip install vapoursynth-bestsource)")
    try:
        with _quiet_vs_log():
            res = core.bs.VideoSource(str(path), showprogress=0, exporttimestamps=1)
    except vs.Error:
        res = None
    if isinstance(res, vs.VideoNode):
        return TimedSource(res, None)
    if res is not None and isinstance(res.get("clip"), vs.VideoNode):
        return TimedSource(res["clip"], _timeline(res, res["clip"]))
    try:
        clip = core.bs.VideoSource(str(path), showprogress=0)
    except vs.Error as e:
        raise MediaError(f"cannot read input {str(path)!r} as video: {_first_line(e)}") from None
    return TimedSource(clip, None)
