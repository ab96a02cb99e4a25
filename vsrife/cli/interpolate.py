"""``vsrife interpolate INPUT OUTPUT``: read a video, run RIFE, encode with ffmpeg, keep the audio."""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TextIO

import vapoursynth as vs

from .. import settings
from . import CLIError
from .common import (
    add_filter_args,
    build_filter,
    describe_rate,
    filter_kwargs,
    fmt_time,
    open_source,
    parse_rate,
)
from .y4m import for_y4m, header, write_frame

__all__ = ["Progress", "ffmpeg_command", "register", "run"]

_X26X = ("libx264", "libx265")
_MATRIX = {1: "bt709", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 9: "bt2020nc", 10: "bt2020c"}
_PRIMARIES = {1: "bt709", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 9: "bt2020"}
_TRANSFER = {1: "bt709", 6: "smpte170m", 7: "smpte240m", 13: "iec61966-2-1", 14: "bt2020-10", 15: "bt2020-12",
             16: "smpte2084", 18: "arib-std-b67"}

EXAMPLES = """examples:
  vsrife interpolate in.mkv out.mkv                       # 2x frame rate, x264 CRF 18, audio copied
  vsrife interpolate in.mp4 out.mp4 --fps 60000/1001      # convert to 59.94 fps
  vsrife interpolate anime.mkv out.mkv --multi 2 --dedup  # 23.976 -> 47.952 with held drawings re-timed
  vsrife interpolate clip.mkv slow.mkv --multi 8 --playback-fps 24000/1001   # 8x slow motion
  vsrife interpolate 4k.mkv out.mkv --scale 0.5 -c libx265 --crf 20 --preset slow
  vsrife interpolate in.mkv out.mkv --preview sheet.png   # also writes a contact sheet of frames 0 -> 1

Ctrl-C stops cleanly: ffmpeg is stopped and the partial file is deleted (kept as NAME.partial.EXT with
--keep-partial).  While encoding, the output is written to NAME.partial.EXT and renamed when complete."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "interpolate", help="interpolate a video file and encode it with ffmpeg",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Read INPUT with bestsource, run the RIFE filter (the same as core.rife.RIFE) and encode\n"
                    "OUTPUT by piping YUV4MPEG2 into ffmpeg, copying INPUT's audio streams.",
        epilog=EXAMPLES,
    )
    p.add_argument("input", help="video file to read (anything ffmpeg/bestsource decodes)")
    p.add_argument("output", help="file to write; the container follows the extension (.mkv, .mp4, ...)")
    add_filter_args(p)
    g = p.add_argument_group("encoding")
    g.add_argument("-c", "--codec", default="libx264", help="ffmpeg video encoder (default libx264)")
    g.add_argument("--crf", type=float, help="quality for x264/x265/vpx/aom (default 18 for x264/x265)")
    g.add_argument("--preset", help="encoder preset (default 'medium' for x264/x265)")
    g.add_argument("--pix-fmt", help="output pixel format, e.g. yuv420p10le (default: ffmpeg's choice)")
    g.add_argument("--playback-fps", type=parse_rate, metavar="RATE",
                   help="re-stamp the output to this rate (slow motion: --multi 8 --playback-fps <source rate>); "
                        "audio is then left out")
    g.add_argument("--audio-codec", default="copy", help="audio encoder (default: copy the streams unchanged)")
    g.add_argument("--no-audio", action="store_true", help="do not copy audio from INPUT")
    g.add_argument("--ffmpeg-args", default="", metavar="ARGS",
                   help='extra ffmpeg output options, one string, e.g. "-tune animation -x264-params ref=6"')
    g.add_argument("--ffmpeg", default=settings.get().ffmpeg, metavar="PATH",
                   help="ffmpeg executable (default: $VSRIFE_FFMPEG or ffmpeg on PATH)")
    g = p.add_argument_group("run")
    g.add_argument("-y", "--overwrite", action="store_true", help="replace OUTPUT if it exists")
    g.add_argument("--keep-partial", action="store_true", help="on Ctrl-C or error keep NAME.partial.EXT")
    g.add_argument("--preview", metavar="PNG", help="also write a contact sheet (see 'vsrife show') before encoding")
    g.add_argument("--preview-frame", type=int, default=0, metavar="N", help="source frame for --preview (default 0)")
    g.add_argument("--threads", type=int, metavar="N", help="VapourSynth threads (default: all cores)")
    g.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


class Progress:
    """A one-line progress bar with fps and ETA on stderr (a line every few seconds when not a terminal)."""

    def __init__(self, total: int, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.total, self.stream, self.enabled = total, stream or sys.stderr, enabled
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.start = self.last = time.monotonic()
        self.interval = 0.25 if self.tty else 5.0
        self.shown = 0

    def line(self, done: int) -> str:
        el = time.monotonic() - self.start
        fps = done / el if el > 0 else 0.0
        eta = (self.total - done) / fps if fps > 0 else float("nan")
        frac = done / self.total if self.total else 1.0
        bar = "#" * int(frac * 24)
        return (f"[{bar:<24}] {frac * 100:5.1f}% frame {done}/{self.total}  {fps:6.2f} fps  "
                f"elapsed {fmt_time(el)}  ETA {fmt_time(eta)}")

    def update(self, done: int, force: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not force and self.shown and now - self.last < self.interval):
            return
        self.last = now
        self.shown += 1
        if self.tty:
            self.stream.write("\r" + self.line(done) + "\x1b[K")
        else:
            self.stream.write(self.line(done) + "\n")
        self.stream.flush()

    def finish(self, done: int) -> None:
        if self.enabled:
            self.update(done, force=True)
            if self.tty:
                self.stream.write("\n")
            self.stream.flush()


def partial_path(output: Path) -> Path:
    """Where the file is written while encoding: NAME.partial.EXT (same container as OUTPUT)."""
    return output.with_name(f"{output.stem}.partial{output.suffix}")


def _color_args(props: dict) -> list[str]:
    out: list[str] = []
    for key, table, opt in (("_Matrix", _MATRIX, "-colorspace"), ("_Primaries", _PRIMARIES, "-color_primaries"),
                            ("_Transfer", _TRANSFER, "-color_trc")):
        v = props.get(key)
        if v in table:
            out += [opt, table[v]]
    if props.get("_ColorRange") in (0, 1):
        out += ["-color_range", "pc" if props["_ColorRange"] == 0 else "tv"]
    return out


def ffmpeg_command(args: argparse.Namespace, ffmpeg: str, target: Path, props: dict) -> list[str]:
    """The ffmpeg argument list: y4m video from stdin (input 0), audio from INPUT (input 1)."""
    cmd = [ffmpeg, "-hide_banner", "-nostats", "-loglevel", "error", "-y", "-f", "yuv4mpegpipe", "-i", "pipe:0"]
    if not args.no_audio:
        cmd += ["-i", str(args.input), "-map", "0:v:0", "-map", "1:a?", "-c:a", args.audio_codec]
    else:
        cmd += ["-map", "0:v:0"]
    cmd += ["-c:v", args.codec]
    crf, preset = args.crf, args.preset
    if args.codec in _X26X:
        crf = 18 if crf is None else crf
        preset = preset or "medium"
    if crf is not None:
        cmd += ["-crf", f"{crf:g}"]
    if preset:
        cmd += ["-preset", preset]
    if args.pix_fmt:
        cmd += ["-pix_fmt", args.pix_fmt]
    cmd += _color_args(props)
    try:
        cmd += shlex.split(args.ffmpeg_args)
    except ValueError as e:
        raise CLIError(f"--ffmpeg-args cannot be parsed: {e}") from None
    return [*cmd, str(target)]


def _check_output(args: argparse.Namespace) -> Path:
    out = Path(args.output)
    parent = out.parent if str(out.parent) else Path(".")
    if out.is_dir():
        raise CLIError(f"output {args.output!r} is a directory; give a file name such as out.mkv")
    if not out.suffix:
        raise CLIError(f"output {args.output!r} needs an extension (.mkv, .mp4, .mov, ...) to pick the container")
    if not parent.is_dir():
        raise CLIError(f"cannot write output {args.output!r}: directory {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise CLIError(f"cannot write output {args.output!r}: directory {str(parent)!r} is not writable")
    if out.exists() and not args.overwrite:
        raise CLIError(f"output {args.output!r} exists; pass --overwrite (-y) to replace it")
    if out.resolve() == Path(args.input).resolve():
        raise CLIError("output must not be the input file")
    return out


def _find_ffmpeg(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise CLIError(f"ffmpeg not found ({name!r}); install ffmpeg or pass --ffmpeg /path/to/ffmpeg")
    return found


class _Drain(threading.Thread):
    """Collects ffmpeg's stderr so that its pipe never fills up."""

    def __init__(self, stream) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.lines: list[str] = []

    def run(self) -> None:
        for raw in self.stream:
            self.lines.append(raw.decode("utf-8", "replace").rstrip())

    def last(self) -> str:
        lines = [ln for ln in self.lines if ln.strip()]
        return lines[-1] if lines else "no message"


def _stop(proc: subprocess.Popen) -> None:
    """Stop ffmpeg: close its input, terminate, kill if it does not exit."""
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


def _discard(tmp: Path, keep: bool) -> str:
    if not tmp.exists():
        return "no output was written"
    if keep:
        return f"partial output kept as {tmp}"
    tmp.unlink()
    return f"partial output {tmp} deleted"


class _Stop:
    """SIGINT/SIGTERM handler while encoding: raises KeyboardInterrupt and remembers the request, so an
    interrupt that a library call swallowed still stops the encode at the next frame."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, _sig, _frame) -> None:
        self.requested = True
        raise KeyboardInterrupt

    def check(self) -> None:
        if self.requested:
            raise KeyboardInterrupt


def _start_ffmpeg(cmd: list[str], ffmpeg: str) -> subprocess.Popen[bytes]:
    """ffmpeg in its own process group: a terminal Ctrl-C reaches only us, and we stop ffmpeg ourselves."""
    try:
        if sys.platform == "win32":
            return subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    creationflags=subprocess.CREATE_NEW_PROCESS_GROUP)
        return subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                process_group=0)
    except OSError as e:
        raise CLIError(f"cannot start ffmpeg {ffmpeg!r}: {e.strerror or e}") from None


def encode(clip: vs.VideoNode, args: argparse.Namespace, out: Path, ffmpeg: str) -> int:
    """Pipe ``clip`` into ffmpeg; returns the number of frames written."""
    clip = for_y4m(clip)
    props = dict(clip.get_frame(0).props)
    tmp = partial_path(out)
    cmd = ffmpeg_command(args, ffmpeg, tmp, props)
    total = clip.num_frames
    progress = Progress(total, enabled=not args.quiet)
    proc = _start_ffmpeg(cmd, ffmpeg)
    stdin = proc.stdin
    assert stdin is not None
    drain = _Drain(proc.stderr)
    drain.start()
    stop = _Stop()
    main = threading.current_thread() is threading.main_thread()
    old = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)} if main else {}
    done = 0
    try:
        try:
            stdin.write(header(clip, props))
            for frame in clip.frames():
                stop.check()
                write_frame(stdin, frame)
                done += 1
                progress.update(done)
            stop.check()
            stdin.close()
        except BrokenPipeError:
            pass  # ffmpeg quit early: its exit status and message say why
        rc = proc.wait()
        stop.check()
        drain.join(timeout=5)
        if rc != 0 or done != total:
            msg = _discard(tmp, args.keep_partial)
            raise CLIError(f"ffmpeg failed (exit {rc}): {drain.last()} ({msg})", code=1)
    except KeyboardInterrupt:
        _stop(proc)
        if progress.shown and progress.tty:
            sys.stderr.write("\n")
        raise CLIError(f"interrupted after {done} of {total} frames; {_discard(tmp, args.keep_partial)}",
                       code=130) from None
    except vs.Error as e:
        _stop(proc)
        raise CLIError(f"frame {done} failed: {str(e).strip().splitlines()[0]} "
                       f"({_discard(tmp, args.keep_partial)})", code=1) from None
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    progress.finish(done)
    os.replace(tmp, out)
    return done


def run(args: argparse.Namespace) -> int:
    ffmpeg = _find_ffmpeg(args.ffmpeg)
    out = _check_output(args)
    if args.threads is not None:
        if args.threads < 1:
            raise CLIError(f"--threads must be >= 1, got {args.threads}")
        vs.core.num_threads = args.threads
    src = open_source(args.input)
    kw = filter_kwargs(args)
    clip = build_filter(src, kw)
    if args.playback_fps is not None:
        pf = args.playback_fps
        clip = clip.std.AssumeFPS(fpsnum=pf.numerator, fpsden=pf.denominator)
        if not args.no_audio:
            args.no_audio = True
            if not args.quiet:
                print("note: --playback-fps changes the duration; audio is left out", file=sys.stderr)
    if args.preview:
        from .show import check_png_path, engine_kwargs, write_sheet

        check_png_path(args.preview)
        write_sheet(src, args.preview, frame=args.preview_frame, multi=args.multi or 2, engine_kw=engine_kwargs(args),
                    title=f"{Path(args.input).name}: frames {args.preview_frame} -> {args.preview_frame + 1}")
        if not args.quiet:
            print(f"preview: {args.preview}", file=sys.stderr)
    if not args.quiet:
        src_fps = describe_rate(src.fps) if src.fps.numerator else "variable"
        print(f"{args.input}: {src.num_frames} frames at {src_fps} -> {clip.num_frames} frames at "
              f"{describe_rate(clip.fps) if clip.fps.numerator else 'variable'}", file=sys.stderr)
    start = time.monotonic()
    n = encode(clip, args, out, ffmpeg)
    el = time.monotonic() - start
    if not args.quiet:
        print(f"wrote {out}: {n} frames in {fmt_time(el)} ({n / max(el, 1e-9):.2f} fps)", file=sys.stderr)
    return 0
