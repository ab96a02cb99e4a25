"""ffprobe queries: stream start times, stream kinds and frame timestamps."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

from .tools import run_tool

__all__ = ["frame_times", "start_offset", "streams"]


def _json(ffprobe: str, path: str | Path, *args: str) -> dict:
    out = run_tool([ffprobe, "-v", "error", "-of", "json", *args, str(path)], f"ffprobe {Path(path).name}")
    return json.loads(out or "{}")


def streams(ffprobe: str, path: str | Path) -> list[dict]:
    """index, codec_type, codec_name and start_time of every stream."""
    data = _json(ffprobe, path, "-show_entries", "stream=index,codec_type,codec_name,start_time")
    return data.get("streams", [])


def _time(v: object) -> Fraction | None:
    try:
        return Fraction(str(v))
    except (ValueError, ZeroDivisionError, TypeError):
        return None


def start_offset(ffprobe: str | None, path: str | Path, first_video: Fraction) -> Fraction:
    """How long after the file's first timestamp (of any stream) its first video frame starts.

    ``first_video`` is that frame's time (bestsource's timestamps are the stream's own).  ffmpeg
    shifts every input so that it starts at 0; the output video must then start this much later for
    the copied audio to stay in sync.  0 when ffprobe is missing or the file has no other stream.
    """
    if ffprobe is None:
        return Fraction(0)
    starts = [t for s in streams(ffprobe, path) if s.get("codec_type") in ("video", "audio", "subtitle")
              if (t := _time(s.get("start_time"))) is not None]
    if not starts:
        return Fraction(0)
    return max(Fraction(0), first_video - min(starts))


def frame_times(ffprobe: str, path: str | Path) -> list[float]:
    """Presentation time (seconds) of every video frame, in order (``-show_entries frame=pts_time``)."""
    out = run_tool([ffprobe, "-v", "error", "-select_streams", "v:0", "-show_entries", "frame=pts_time",
                    "-of", "csv=p=0", str(path)], f"ffprobe {Path(path).name}")
    return [float(x.split(",")[0]) for x in out.split() if x.strip(",")]
