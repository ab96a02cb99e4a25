"""Joining the segments without re-encoding, then muxing the input's other streams once.

The segments are concatenated by ffmpeg's concat demuxer with ``-c copy``.  Each list entry carries
the segment's exact ``duration`` (frames / fps): the demuxer then offsets every segment by the exact
sum of the earlier ones, instead of by a duration it reads back from the container, and the joined
timestamps are those of a single render (checked frame by frame in tests/test_jobs.py).  The joined
video is then muxed once with the input's audio, subtitles (Matroska), metadata and chapters
(:func:`vsrife.media.mux`), after re-stamping for a variable-rate output (:func:`vsrife.media.finish`).
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

from ..media import EncodeOptions
from ..media.tools import run_tool

__all__ = ["concat_list", "join"]

def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "'\\''") + "'"


def concat_list(segments: Sequence[tuple[Path, Fraction]]) -> str:
    """The concat demuxer's list: ``file`` and exact ``duration`` (seconds) per segment."""
    lines = ["ffconcat version 1.0"]
    for path, seconds in segments:
        lines += [f"file {_quote(path.resolve())}", f"duration {float(seconds):.9f}"]
    return "\n".join(lines) + "\n"


def join(opts: EncodeOptions, segments: Sequence[tuple[Path, Fraction]], folder: Path, suffix: str) -> Path:
    """Concatenate ``segments`` (path, duration) into ``folder/joined.SUFFIX`` with ``-c copy``."""
    listing = folder / "segments.ffconcat"
    listing.write_text(concat_list(segments))
    joined = folder / f"joined{suffix}"
    run_tool([opts.ffmpeg, "-hide_banner", "-nostats", "-loglevel", "error", "-y", "-f", "concat", "-safe", "0",
              "-i", str(listing), "-map", "0:v:0", "-c", "copy", str(joined)], "ffmpeg concat (joining the segments)")
    return joined
