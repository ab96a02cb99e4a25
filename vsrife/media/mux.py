"""Variable-frame-rate timestamps and the final mux of the video with the source's other streams.

y4m carries one frame rate, so a variable-rate output is encoded video-only at its nominal rate,
then :func:`restamp` gives every frame its real time with mkvmerge (``--timestamps 0:FILE``, a
timecodes v2 file, applied in presentation order, B-frames included; Matroska stores 1 ms ticks), and
:func:`mux` copies that video into the final container (mkv, mp4, mov, ...) with the source's audio
(copied or encoded), its subtitles (Matroska only), metadata and chapters.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

from ..vs.timeline import write_timecodes
from .encode import EncodeOptions
from .tools import run_tool

__all__ = ["finish", "mux", "mux_command", "restamp"]

_MATROSKA = (".mkv", ".mka", ".mk3d")


def restamp(mkvmerge: str, video: Path, times: Sequence[Fraction], out: Path) -> Path:
    """``video`` (one video stream, any container mkvmerge reads) with frame k at ``times[k]`` seconds."""
    tc = out.with_name(out.name + ".timecodes.txt")
    t0 = times[0]
    write_timecodes(tc, [t - t0 for t in times])
    try:
        run_tool([mkvmerge, "--quiet", "-o", str(out), "--timestamps", f"0:{tc}", str(video)],
                 f"mkvmerge --timestamps ({out.name})")
    finally:
        tc.unlink(missing_ok=True)
    return out


def mux_command(opts: EncodeOptions, video: Path, out: Path, source: Path | None,
                offset: Fraction = Fraction(0)) -> list[str]:
    """ffmpeg copying ``video`` (starting ``offset`` s after ``source``'s first timestamp) with ``source``'s
    audio, subtitles (into Matroska), metadata and chapters; ``source`` None: the video alone."""
    shift = ["-itsoffset", f"{float(offset):.6f}"] if offset else []
    cmd = [opts.ffmpeg, "-hide_banner", "-nostats", "-loglevel", "error", "-y", *shift, "-i", str(video)]
    if source is None:
        return [*cmd, "-map", "0:v:0", "-c", "copy", str(out)]
    cmd += ["-i", str(source), "-map", "0:v:0", "-map", "1:a?"]
    if out.suffix.lower() in _MATROSKA:
        cmd += ["-map", "1:s?", "-c:s", "copy"]
    return [*cmd, "-c:v", "copy", "-c:a", opts.audio_codec, "-map_metadata", "1", "-map_chapters", "1", str(out)]


def mux(opts: EncodeOptions, video: Path, out: Path, source: Path | None, offset: Fraction = Fraction(0)) -> Path:
    run_tool(mux_command(opts, video, out, source, offset), f"ffmpeg mux ({out.name})")
    return out


def finish(opts: EncodeOptions, mkvmerge: str, video: Path, times: Sequence[Fraction], out: Path,
           source: Path | None, offset: Fraction = Fraction(0)) -> Path:
    """Re-stamp the encoded ``video`` to ``times`` and mux it into ``out``; intermediate files removed."""
    stamped = out.with_name(out.stem + ".stamped.mkv")
    try:
        restamp(mkvmerge, video, times, stamped)
        return mux(opts, stamped, out, source, offset)
    finally:
        stamped.unlink(missing_ok=True)
