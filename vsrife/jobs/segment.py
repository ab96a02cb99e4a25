"""Rendering one chunk into a segment file, and checking a segment.

A segment holds output frames ``[out_start, out_stop)`` of the job's output clip, encoded video-only
with the user's encoder settings and the job's one y4m header, into ``NNNNN.nut`` (NUT keeps the
exact rational time base, so the joined file's timestamps are those of a single render; see
docs/render.md).  It is written as ``NNNNN.partial-PID.nut`` and renamed only after ffmpeg succeeded
and a probe counted its frames, so a file under the final name is complete.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import vapoursynth as vs

from ..errors import MediaError
from ..media.encode import EncodeOptions, FFmpegPipe, encode_command
from ..media.tools import ffprobe_for
from ..media.y4m import write_frame
from ..weights.cache import sha256_file as sha256_of
from .spec import JobSpec, output_clip

__all__ = ["SUFFIXES", "SegmentInfo", "count_frames", "pick_container", "render_segment", "segment_name", "sha256_of"]

SUFFIXES = (".nut", ".mkv")  # segment containers, preferred first


@dataclass(frozen=True)
class SegmentInfo:
    """A finished segment: its frame count, size and checksum, and how long it took."""

    index: int
    frames: int
    size: int
    sha256: str
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def segment_name(index: int, suffix: str) -> str:
    return f"{index:05d}{suffix}"



def count_frames(path: Path, ffmpeg: str, decode: bool = True) -> int | None:
    """Video frames in ``path`` by ffprobe (decoded with ``decode``, else packets); None if unreadable."""
    ffprobe = ffprobe_for(ffmpeg)
    if ffprobe is None:
        raise MediaError("ffprobe not found; install ffmpeg, which includes ffprobe")
    what = "frames" if decode else "packets"
    res = subprocess.run([ffprobe, "-v", "error", "-select_streams", "v:0", f"-count_{what}", "-show_entries",
                          f"stream=nb_read_{what}", "-of", "csv=p=0", str(path)], capture_output=True, text=True)
    text = res.stdout.strip().split(",")[0].strip()
    if res.returncode != 0 or not text.isdigit() or (decode and res.stderr.strip()):
        return None
    return int(text)


def _check_space(folder: Path, tmp: Path) -> None:
    """Raise ENOSPC when the folder has less room left than the failed segment took (ffmpeg may exit 0
    on a full disk, leaving a truncated file)."""
    try:
        used = tmp.stat().st_size if tmp.exists() else 0
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if free < max(used, 1 << 20):
        raise OSError(errno.ENOSPC, "No space left on device", str(folder))


def pick_container(opts: EncodeOptions, head: bytes, props: dict, frame: vs.VideoFrame) -> str:
    """The first of :data:`SUFFIXES` that ffmpeg writes with the user's settings (a one-frame test encode).

    This also checks the encoder settings before any worker starts: a bad codec or option fails here.
    """
    last = "no message"
    with tempfile.TemporaryDirectory(prefix="vsrife-check-") as tmp:
        for suffix in SUFFIXES:
            pipe = FFmpegPipe(encode_command(opts, Path(tmp) / f"check{suffix}", props))
            try:
                pipe.write(head)
                write_frame(pipe, frame)
            except BrokenPipeError:
                pass
            if pipe.close() == 0:
                return suffix
            last = pipe.last_error()
    raise MediaError(f"ffmpeg cannot encode with these settings: {last}")


def render_segment(spec: JobSpec, index: int, start: int, stop: int, folder: Path,
                   report: Callable[[int], None] = lambda done: None) -> SegmentInfo:
    """Render output frames ``[start, stop)`` into ``folder/NNNNN.nut``; ``report(frames_done)`` as it goes."""
    t0 = time.monotonic()
    clip = output_clip(spec)
    final = folder / segment_name(index, spec.suffix)
    tmp = final.with_name(f"{final.stem}.partial-{os.getpid()}{spec.suffix}")  # one per attempt: a killed
    # attempt's ffmpeg may still be closing its file when the chunk runs again
    pipe = FFmpegPipe(encode_command(spec.encode, tmp, spec.props))
    done = 0
    try:
        try:
            pipe.write(spec.header)
            for frame in clip[start:stop].frames(close=True):
                write_frame(pipe, frame)
                done += 1
                report(done)
        except BrokenPipeError:
            pass  # ffmpeg quit early: its status and message say why
        rc = pipe.close()
        if rc != 0 or done != stop - start:
            _check_space(folder, tmp)
            raise MediaError(f"ffmpeg failed on segment {final.name} (exit {rc}): {pipe.last_error()}")
        got = count_frames(tmp, spec.encode.ffmpeg)
        if got != stop - start:
            _check_space(folder, tmp)
            raise MediaError(f"segment {final.name} holds {got or 'no readable'} frames instead of {stop - start}")
        info = SegmentInfo(index, got, tmp.stat().st_size, sha256_of(tmp), time.monotonic() - t0)
        os.replace(tmp, final)
        return info
    except BaseException:
        pipe.stop()
        tmp.unlink(missing_ok=True)
        raise
