"""The chunked-render options of ``vsrife interpolate``: ``--workers``, ``--ray``, ``--chunk-frames``, ``--restart``."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import vapoursynth as vs

from ..errors import CLIError, VsrifeError
from ..install import DIST
from ..jobs.progress import fmt_time
from ..media import EncodeOptions, TimedSource

__all__ = ["AUTO_CHUNKED_FRAMES", "add_job_args", "run_chunked", "wants_chunks"]

AUTO_CHUNKED_FRAMES = 3000  # longer sources are rendered in chunks (resumable) even without a job option


def _count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 0")
    return n


def add_job_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("chunked render (resumable; see docs/render.md)")
    g.add_argument("--chunk-frames", type=_count, metavar="N",
                   help="source frames per chunk (default: about 4 chunks per worker, 96..2400; chunks end at "
                        "scene cuts); 0: one process, no chunks")
    g.add_argument("--workers", type=_count, metavar="N",
                   help="local worker processes (default: cores / threads per worker)")
    g.add_argument("--ray", metavar="ADDRESS",
                   help="run the chunks as Ray tasks on the cluster at ADDRESS (host:port), or 'auto' for a "
                        f"local Ray; needs pip install '{DIST}[cluster]'")
    g.add_argument("--restart", action="store_true",
                   help="discard the work folder of an earlier render with other settings and start over")


def wants_chunks(args: argparse.Namespace, num_src: int) -> bool:
    """Chunked when a job option is given or the source is long; ``--chunk-frames 0`` never."""
    if args.chunk_frames == 0:
        if args.workers or args.ray:
            raise CLIError("--chunk-frames 0 renders in one process; it cannot be combined with --workers/--ray")
        return False
    if args.workers == 0:
        raise CLIError("--workers must be >= 1 (use --chunk-frames 0 for a render in one process)")
    if args.workers and args.ray:
        raise CLIError("give --workers or --ray, not both (Ray decides where its workers run)")
    given = args.chunk_frames is not None or args.workers is not None or args.ray is not None or args.restart
    return given or num_src > AUTO_CHUNKED_FRAMES


def run_chunked(args: argparse.Namespace, src: TimedSource, kw: dict, out: Path, opts: EncodeOptions) -> int:
    """Render in chunks (local workers or Ray) and report like a single render, plus the chunk counts."""
    from ..jobs import RenderRequest, render
    from .common import timeline_kwargs

    if args.playback_fps is not None and not args.no_audio:
        args.no_audio = True
        if not args.quiet:
            print("note: --playback-fps changes the duration; audio is left out", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="vsrife-") as tmp:  # the timecodes of a VFR source for --fps
        how = timeline_kwargs(args, src, kw, Path(tmp) / "timecodes.txt")
        req = RenderRequest(Path(args.input), out, kw, opts, audio=not args.no_audio, playback_fps=args.playback_fps,
                            chunk_frames=args.chunk_frames, workers=args.workers, threads=args.threads, ray=args.ray,
                            restart=args.restart, quiet=args.quiet, source=src,
                            vfr_out=how == "vfr" and "fps_num" not in kw and args.playback_fps is None)
        try:
            rep = render(req)
        except (VsrifeError, vs.Error) as e:
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise CLIError(msg, code=130 if msg.startswith("interrupted") else 1) from None
    if not args.quiet:
        print(f"wrote {out}: {rep.frames} frames in {fmt_time(rep.seconds)} ({rep.frames / max(rep.seconds, 1e-9):.2f}"
              f" fps); chunks: {rep.rendered} rendered, {rep.reused} reused, {rep.retried} retried ({rep.backend})",
              file=sys.stderr)
    return 0
