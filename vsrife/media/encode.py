"""The ffmpeg encode: its command line (:func:`encode_command`) and the running encoder (:class:`FFmpegPipe`)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import IO

from ..errors import MediaError

__all__ = ["EncodeOptions", "FFmpegPipe", "color_args", "encode_command", "input_args", "video_args"]

_X26X = ("libx264", "libx265")
_MATRIX = {1: "bt709", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 9: "bt2020nc", 10: "bt2020c"}
_PRIMARIES = {1: "bt709", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 9: "bt2020"}
_TRANSFER = {1: "bt709", 6: "smpte170m", 7: "smpte240m", 13: "iec61966-2-1", 14: "bt2020-10", 15: "bt2020-12",
             16: "smpte2084", 18: "arib-std-b67"}


@dataclass(frozen=True)
class EncodeOptions:
    """The user's encoder settings (the same for a whole file or for every segment of a chunked render)."""

    ffmpeg: str = "ffmpeg"
    codec: str = "libx264"
    crf: float | None = None  # default 18 for x264/x265
    preset: str | None = None  # default "medium" for x264/x265
    pix_fmt: str | None = None
    extra: tuple[str, ...] = field(default_factory=tuple)  # more ffmpeg output options
    audio_codec: str = "copy"


def color_args(props: dict) -> list[str]:
    """ffmpeg's colour tags from the frame props (_Matrix, _Primaries, _Transfer, _ColorRange)."""
    out: list[str] = []
    for key, table, opt in (("_Matrix", _MATRIX, "-colorspace"), ("_Primaries", _PRIMARIES, "-color_primaries"),
                            ("_Transfer", _TRANSFER, "-color_trc")):
        v = props.get(key)
        if v in table:
            out += [opt, table[v]]
    if props.get("_ColorRange") in (0, 1):
        out += ["-color_range", "pc" if props["_ColorRange"] == 0 else "tv"]
    return out


def video_args(opts: EncodeOptions, props: dict) -> list[str]:
    """The video encoder options: codec, CRF, preset, pixel format, colour tags, the user's extras."""
    cmd = ["-c:v", opts.codec]
    crf, preset = opts.crf, opts.preset
    if opts.codec in _X26X:
        crf = 18 if crf is None else crf
        preset = preset or "medium"
    if crf is not None:
        cmd += ["-crf", f"{crf:g}"]
    if preset:
        cmd += ["-preset", preset]
    if opts.pix_fmt:
        cmd += ["-pix_fmt", opts.pix_fmt]
    return cmd + color_args(props) + list(opts.extra)


def input_args(offset: Fraction = Fraction(0)) -> list[str]:
    """The y4m pipe as input 0, starting ``offset`` seconds after the source's first timestamp."""
    shift = ["-itsoffset", f"{float(offset):.6f}"] if offset else []
    return [*shift, "-f", "yuv4mpegpipe", "-i", "pipe:0"]


def encode_command(opts: EncodeOptions, target: Path, props: dict, audio_from: Path | None = None,
                   offset: Fraction = Fraction(0)) -> list[str]:
    """ffmpeg reading y4m from stdin; with ``audio_from``, that file's audio streams are muxed too."""
    cmd = [opts.ffmpeg, "-hide_banner", "-nostats", "-loglevel", "error", "-y", *input_args(offset)]
    if audio_from is not None:
        cmd += ["-i", str(audio_from), "-map", "0:v:0", "-map", "1:a?", "-c:a", opts.audio_codec]
    else:
        cmd += ["-map", "0:v:0"]
    return [*cmd, *video_args(opts, props), str(target)]


class _Drain(threading.Thread):
    """Collects a pipe's lines so that it never fills up."""

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.lines: list[str] = []

    def run(self) -> None:
        for raw in self.stream:
            self.lines.append(raw.decode("utf-8", "replace").rstrip())

    def last(self) -> str:
        lines = [ln for ln in self.lines if ln.strip()]
        return lines[-1] if lines else "no message"


class FFmpegPipe:
    """A running encoder fed on stdin, in its own process group (a terminal Ctrl-C reaches only us)."""

    def __init__(self, cmd: list[str]) -> None:
        try:
            if sys.platform == "win32":
                self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                             stderr=subprocess.PIPE, creationflags=subprocess.CREATE_NEW_PROCESS_GROUP)
            else:
                self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                             stderr=subprocess.PIPE, process_group=0)
        except OSError as e:
            raise MediaError(f"cannot start ffmpeg {cmd[0]!r}: {e.strerror or e}") from None
        stdin, stderr = self.proc.stdin, self.proc.stderr
        assert stdin is not None and stderr is not None
        self.stdin: IO[bytes] = stdin
        self.drain = _Drain(stderr)
        self.drain.start()

    def write(self, data: bytes | memoryview) -> int:
        """Raises BrokenPipeError when ffmpeg quit early (then :meth:`close` says why)."""
        return self.stdin.write(data)

    def close(self) -> int:
        """End of input; waits for ffmpeg and returns its exit status."""
        with contextlib.suppress(BrokenPipeError):
            self.stdin.close()
        rc = self.proc.wait()
        self.drain.join(timeout=5)
        return rc

    def last_error(self) -> str:
        return self.drain.last()

    def stop(self) -> None:
        """Stop ffmpeg: close its input, terminate, kill if it does not exit."""
        proc = self.proc
        for step in (proc.terminate, proc.kill):
            try:
                if proc.stdin:
                    proc.stdin.close()
            except OSError:
                pass
            if proc.poll() is None:
                step()
            try:
                proc.wait(timeout=5)
                return
            except subprocess.TimeoutExpired:
                continue
