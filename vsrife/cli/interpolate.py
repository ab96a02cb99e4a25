"""``vsrife interpolate INPUT OUTPUT``: read a video, run RIFE, encode with ffmpeg, keep the audio.

The encoding, timestamps and muxing are :mod:`vsrife.media`; this module is the command line around it
(options, progress, Ctrl-C, partial files)."""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import TextIO

import vapoursynth as vs

from .. import settings
from ..errors import MediaError
from ..jobs.progress import fmt_time
from ..media import EncodeOptions, FFmpegPipe, TimedSource, encode_command, find_tool, finish, start_offset
from ..media.tools import ffprobe_for
from ..media.y4m import for_y4m, header, write_frame
from ..vs.timing import Mapping, output_times
from . import CLIError
from .chunked import add_job_args, run_chunked, wants_chunks
from .common import (
    add_filter_args,
    build_filter,
    describe_rate,
    filter_kwargs,
    open_timed_source,
    parse_rate,
    plan_filter,
    timeline_kwargs,
)

__all__ = ["Progress", "describe_job", "encode_options", "register", "run"]

EXAMPLES = """examples:
  vsrife interpolate in.mkv out.mkv                       # 2x frame rate, x264 CRF 18, audio copied
  vsrife interpolate in.mp4 out.mp4 --fps 60000/1001      # convert to 59.94 fps
  vsrife interpolate anime.mkv out.mkv --multi 2 --dedup  # 23.976 -> 47.952 with held drawings re-timed
  vsrife interpolate clip.mkv slow.mkv --multi 8 --playback-fps 24000/1001   # 8x slow motion
  vsrife interpolate 4k.mkv out.mkv --scale 0.5 -c libx265 --crf 20 --preset slow
  vsrife interpolate in.mkv out.mkv --preview sheet.png   # also writes a contact sheet of frames 0 -> 1
  vsrife interpolate phone.mp4 out.mp4 --multi 2          # VFR source: each real interval split (needs mkvmerge)

A variable-frame-rate source keeps its real timeline (--timeline): with --fps each source frame is shown at
its real time on the constant-rate grid; with --multi/--factor the output file carries the real timestamps.

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
    g.add_argument("--threads", type=int, metavar="N",
                   help="VapourSynth threads (default: all cores; in a chunked render, per worker: half the cores, "
                        "1 to 4)")
    g.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_job_args(p)
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


def partial_path(output: Path, tag: str = "") -> Path:
    """Where the file is written while encoding: NAME.partial.EXT (same container as OUTPUT); ``tag``:
    an intermediate file, NAME.partial.TAG.mkv (the video of a variable-rate output before its timestamps)."""
    if tag:
        return output.with_name(f"{output.stem}.partial.{tag}.mkv")
    return output.with_name(f"{output.stem}.partial{output.suffix}")


def encode_options(args: argparse.Namespace, ffmpeg: str) -> EncodeOptions:
    try:
        extra = tuple(shlex.split(args.ffmpeg_args))
    except ValueError as e:
        raise CLIError(f"--ffmpeg-args cannot be parsed: {e}") from None
    return EncodeOptions(ffmpeg=ffmpeg, codec=args.codec, crf=args.crf, preset=args.preset, pix_fmt=args.pix_fmt,
                         extra=extra, audio_codec=args.audio_codec)


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


def _discard(keep: bool, *paths: Path) -> str:
    """Delete (or keep) the partial files; a message naming the output file (the first path)."""
    tmp = paths[0]
    for extra in paths[1:]:
        if extra.exists() and not keep:
            extra.unlink()
    if not tmp.exists():
        return "no output was written" if not any(p.exists() for p in paths[1:]) else f"partial files kept: {paths[1]}"
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


def encode(clip: vs.VideoNode, args: argparse.Namespace, cmd_for: Callable[[dict], list[str]],
           partials: tuple[Path, ...]) -> int:
    """Pipe ``clip`` as y4m into the ffmpeg of ``cmd_for(props)``; returns the number of frames written.
    On failure or Ctrl-C ffmpeg is stopped and ``partials`` are deleted (or kept with --keep-partial)."""
    clip = for_y4m(clip)
    props = dict(clip.get_frame(0).props)
    total = clip.num_frames
    progress = Progress(total, enabled=not args.quiet)
    try:
        pipe = FFmpegPipe(cmd_for(props))
    except MediaError as e:
        raise CLIError(e.message) from None
    stop = _Stop()
    main = threading.current_thread() is threading.main_thread()
    old = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)} if main else {}
    done = 0
    try:
        try:
            pipe.write(header(clip, props))
            for frame in clip.frames():
                stop.check()
                write_frame(pipe, frame)
                done += 1
                progress.update(done)
            stop.check()
        except BrokenPipeError:
            pass  # ffmpeg quit early: its exit status and message say why
        rc = pipe.close()
        stop.check()
        if rc != 0 or done != total:
            raise CLIError(f"ffmpeg failed (exit {rc}): {pipe.last_error()} ({_discard(args.keep_partial, *partials)})",
                           code=1)
    except KeyboardInterrupt:
        pipe.stop()
        if progress.shown and progress.tty:
            sys.stderr.write("\n")
        raise CLIError(f"interrupted after {done} of {total} frames; {_discard(args.keep_partial, *partials)}",
                       code=130) from None
    except vs.Error as e:
        pipe.stop()
        raise CLIError(f"frame {done} failed: {str(e).strip().splitlines()[0]} "
                       f"({_discard(args.keep_partial, *partials)})", code=1) from None
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    progress.finish(done)
    return done


def _render(args: argparse.Namespace, src: TimedSource, clip: vs.VideoNode, vfr_out: bool, mapping: Mapping,
            out: Path, opts: EncodeOptions) -> int:
    """Encode ``clip`` to ``out``: in one ffmpeg run (constant rate), or video-only, re-stamped, muxed (VFR)."""
    source = None if args.no_audio else Path(args.input)
    first = src.timeline.starts[0] if src.timeline is not None else Fraction(0)
    try:
        offset = start_offset(ffprobe_for(opts.ffmpeg), args.input, first) if source is not None else Fraction(0)
        mkvmerge = find_tool(settings.get().mkvmerge, "mkvmerge") if vfr_out else ""
    except MediaError as e:
        raise CLIError(e.message) from None
    tmp = partial_path(out)
    if not vfr_out:
        n = encode(clip, args, lambda props: encode_command(opts, tmp, props, source, offset), (tmp,))
        os.replace(tmp, out)
        return n
    video = partial_path(out, "video")
    n = encode(clip, args, lambda props: encode_command(opts, video, props), (tmp, video))
    assert src.timeline is not None  # a variable-rate output comes from a source with a timeline
    times = output_times(mapping, src.timeline)
    try:
        finish(opts, mkvmerge, video, times, tmp, source, offset)
    except MediaError as e:
        raise CLIError(f"{e.message} ({_discard(args.keep_partial, tmp, video)})", code=1) from None
    video.unlink(missing_ok=True)
    os.replace(tmp, out)
    return n


def run(args: argparse.Namespace) -> int:
    ffmpeg = _find_ffmpeg(args.ffmpeg)
    out = _check_output(args)
    opts = encode_options(args, ffmpeg)
    if args.threads is not None:
        if args.threads < 1:
            raise CLIError(f"--threads must be >= 1, got {args.threads}")
        vs.core.num_threads = args.threads
    src = open_timed_source(args.input)
    kw = filter_kwargs(args)
    if wants_chunks(args, src.clip.num_frames):
        if args.preview:
            _preview(args, src.clip)
        return run_chunked(args, src, kw, out, opts)
    with tempfile.TemporaryDirectory(prefix="vsrife-") as tmp:
        how = timeline_kwargs(args, src, kw, Path(tmp) / "timecodes.txt")
        plan = plan_filter(src.clip, kw)
    clip = build_filter(src.clip, kw, plan)
    vfr_out = how == "vfr" and "fps_num" not in kw
    if args.playback_fps is not None:
        pf = args.playback_fps
        clip = clip.std.AssumeFPS(fpsnum=pf.numerator, fpsden=pf.denominator)
        vfr_out = False
        if not args.no_audio:
            args.no_audio = True
            if not args.quiet:
                print("note: --playback-fps changes the duration; audio is left out", file=sys.stderr)
    if args.preview:
        _preview(args, src.clip)
    if not args.quiet:
        print(describe_job(args.input, src, clip, vfr_out), file=sys.stderr)
    start = time.monotonic()
    n = _render(args, src, clip, vfr_out, plan.mapping, out, opts)
    el = time.monotonic() - start
    if not args.quiet:
        print(f"wrote {out}: {n} frames in {fmt_time(el)} ({n / max(el, 1e-9):.2f} fps)", file=sys.stderr)
    return 0


def _find_ffmpeg(name: str) -> str:
    try:
        return find_tool(name, "ffmpeg")
    except MediaError as e:
        raise CLIError(e.message) from None


def _preview(args: argparse.Namespace, src: vs.VideoNode) -> None:
    from .show import check_png_path, engine_kwargs, write_sheet

    check_png_path(args.preview)
    write_sheet(src, args.preview, frame=args.preview_frame, multi=args.multi or 2, engine_kw=engine_kwargs(args),
                title=f"{Path(args.input).name}: frames {args.preview_frame} -> {args.preview_frame + 1}")
    if not args.quiet:
        print(f"preview: {args.preview}", file=sys.stderr)


def describe_job(name: str, src: TimedSource, clip: vs.VideoNode, vfr_out: bool) -> str:
    """'in.mkv: 250 frames at 25/1 (25.000 fps) -> 500 frames at 50/1 (50.000 fps)' (VFR said so)."""
    c = src.clip
    src_fps = describe_rate(Fraction(c.fps.numerator, c.fps.denominator)) if c.fps.numerator else "variable"
    if src.vfr:
        src_fps = f"variable rate (average {src_fps})"
    out_fps = describe_rate(Fraction(clip.fps.numerator, clip.fps.denominator)) if clip.fps.numerator else "variable"
    if vfr_out:
        out_fps = f"variable rate on the source's timeline (average {out_fps})"
    return f"{name}: {c.num_frames} frames at {src_fps} -> {clip.num_frames} frames at {out_fps}"
