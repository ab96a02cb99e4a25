"""The coordinator of a chunked render: plan, resume, schedule, join.

:func:`render` plans the filter once, opens (or resumes) the work folder, runs the missing chunks on
a backend (local worker processes or Ray), records each finished segment in the manifest, joins the
segments without re-encoding, muxes the input's other streams once, and removes the work folder.
A chunk whose worker dies is queued again (up to :data:`MAX_ATTEMPTS` times); a full or unwritable
work folder stops the render at once with the finished segments kept.  See docs/render.md.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import vapoursynth as vs

from .. import settings
from ..errors import JobError, MediaError
from ..media import EncodeOptions, TimedSource, find_tool, finish, mux, open_timed, start_offset
from ..media.tools import ffprobe_for
from ..media.y4m import for_y4m
from ..vs.graph import build
from ..vs.plan import Plan, make_plan
from ..vs.timing import output_times
from . import codec
from .chunks import plan_chunks
from .cuts import cut_finder
from .events import Backend
from .join import join
from .manifest import Manifest, disk_error, work_folder
from .progress import JobProgress
from .schedule import MAX_ATTEMPTS, Scheduler
from .segment import pick_container
from .spec import JobSpec, plan_with, settings_key, stream_header, timing_of

__all__ = ["MAX_ATTEMPTS", "RenderReport", "RenderRequest", "auto_chunk_frames", "render"]
MIN_CHUNK, MAX_CHUNK = 96, 2400  # bounds of the default chunk length (source frames); see docs/render.md
CHUNKS_PER_SLOT = 4  # the default length gives each worker about this many chunks
TIMING_NAME = "timing.json"  # the plan's decisions, kept so that a resume skips the dedup scan


@dataclass
class RenderRequest:
    """One ``vsrife interpolate`` run as a chunked render."""

    input: Path
    output: Path
    filter_kw: dict[str, Any]
    encode: EncodeOptions
    audio: bool = True
    playback_fps: Fraction | None = None
    chunk_frames: int | None = None  # None: :func:`auto_chunk_frames`
    workers: int | None = None  # local processes (None: from the cores and threads)
    threads: int | None = None  # per worker
    ray: str | None = None  # a Ray address or "auto"
    restart: bool = False
    quiet: bool = False
    source: TimedSource | None = None  # the opened input (else opened here)
    vfr_out: bool = False  # the output follows the source's real timeline (mkvmerge timestamps)


@dataclass
class RenderReport:
    output: Path
    frames: int
    chunks: int
    rendered: int  # chunks rendered by this run
    reused: int  # chunks kept from an earlier run
    retried: int  # chunk attempts that failed and were queued again
    starts: int  # chunk renders started (retries included)
    seconds: float
    timings: dict[str, float]  # plan, chunk_plan, join_mux (seconds)
    backend: str
    chunk_seconds: dict[int, float] = field(default_factory=dict)  # each rendered chunk, as its worker timed it
    load_seconds: list[float] = field(default_factory=list)  # each worker's start: graph built, model loaded
    start_seconds: list[float] = field(default_factory=list)  # each worker's start to ready (imports included)
    log: list[tuple[float, str, int, str]] = field(default_factory=list)  # chunk events: seconds, kind, chunk, worker


def auto_chunk_frames(num_src: int, slots: int) -> int:
    """The default chunk length: about :data:`CHUNKS_PER_SLOT` chunks per worker, within the bounds."""
    return max(MIN_CHUNK, min(MAX_CHUNK, -(-num_src // (CHUNKS_PER_SLOT * max(1, slots)))))


def _plan(src: vs.VideoNode, req: RenderRequest, folder: Path, resumed: bool) -> Plan:
    """The filter's plan (on the CPU: only its decisions matter here); a resume reuses the saved ones."""
    kw = {**req.filter_kw, "device": "cpu", "fp16": None}
    cached = folder / TIMING_NAME
    if resumed and cached.is_file():
        try:
            return plan_with(src, kw, codec.loads(cached.read_text()))
        except (OSError, TypeError, AttributeError, ValueError, KeyError):
            pass  # planned again
    return make_plan(src, **kw)


def _output(plan: Plan, req: RenderRequest) -> vs.VideoNode:
    clip = build(plan)
    if req.playback_fps is not None:
        clip = clip.std.AssumeFPS(fpsnum=req.playback_fps.numerator, fpsden=req.playback_fps.denominator)
    return for_y4m(clip)


def _backend(spec: JobSpec, folder: Path, req: RenderRequest, threads: int) -> Backend:
    if req.ray is not None:
        from .cluster import RayBackend

        return RayBackend(spec, req.ray, threads)
    from .local import LocalBackend, default_workers

    return LocalBackend(spec, folder, req.workers or default_workers(threads))


def default_threads(req: RenderRequest) -> int:
    """Threads per worker: ``--threads``, else 2 on Ray (nodes may be small) and locally half the cores, 1 to 4,
    so that a machine with 2 cores or more runs at least 2 workers: one worker's serial parts (decoding, encoding,
    the segment's start and flush) then overlap another's model calls.  On the 2-core machine of docs/render.md
    2 workers of 1 thread rendered the same job 8 % faster than 1 worker of 2 (medians of 4 alternating runs)."""
    if req.threads is not None:
        return req.threads
    if req.ray is not None:
        return 2
    return max(1, min(4, (os.cpu_count() or 1) // 2))


def _slots(req: RenderRequest, threads: int) -> int:
    if req.ray is not None:
        from .cluster import slots

        return slots(threads)
    from .local import default_workers

    return req.workers or default_workers(threads)


@dataclass
class _Job:
    """What :func:`render` decided before any chunk runs."""

    src: TimedSource
    plan: Plan
    manifest: Manifest
    spec: JobSpec
    todo: list[int]
    threads: int


def _prepare(req: RenderRequest, timings: dict[str, float]) -> _Job:
    t0 = time.monotonic()
    folder = work_folder(req.output)
    kw = {k: v for k, v in req.filter_kw.items() if k != "timecodes"}  # a temporary file, the source's own times
    key, readable = settings_key(str(req.input), kw, req.playback_fps, req.encode)
    env = _remote_env()
    if req.ray is not None:  # first: an unreachable cluster is reported before any work
        from .cluster import connect

        connect(req.ray, env)
    Manifest.prepare(folder, req.restart)
    manifest = Manifest.load(folder, key, readable)
    src = req.source or _open(req.input)
    plan = _plan(src.clip, req, folder, manifest is not None)
    clip = _output(plan, req)
    head, props = stream_header(clip)
    suffix = pick_container(req.encode, head, props, clip.get_frame(0))
    threads = default_threads(req)
    timings["plan"] = time.monotonic() - t0
    if manifest is None:
        limit = req.chunk_frames or auto_chunk_frames(plan.mapping.num_src, _slots(req, threads))
        manifest = Manifest.create(folder, key, readable, plan_chunks(plan.mapping, limit, cut_finder(plan)), limit)
        timings["chunk_plan"] = time.monotonic() - t0 - timings["plan"]
    _save_timing(folder, plan)
    todo = manifest.verify(suffix, req.encode.ffmpeg, keep=(TIMING_NAME,))
    spec = JobSpec(str(Path(req.input).resolve()), req.filter_kw, timing_of(plan), req.playback_fps, req.encode,
                   head, props, suffix, threads, key, env)
    return _Job(src, plan, manifest, spec, todo, threads)


def _open(path: Path) -> TimedSource:
    try:
        return open_timed(path)
    except MediaError as e:
        raise JobError(e.message) from None


def render(req: RenderRequest) -> RenderReport:
    """Run the chunked render of ``req`` (see the module doc); raises JobError and the filter's errors."""
    t0 = time.monotonic()
    timings: dict[str, float] = {}
    job = _prepare(req, timings)
    manifest = job.manifest
    total = job.plan.mapping.num_out
    reused = [c for c in manifest.chunks if c.index not in job.todo]
    if not req.quiet:
        print(_describe(req, job, len(reused)), file=sys.stderr)
    progress = JobProgress(total, len(manifest.chunks), sum(c.frames for c in reused), len(reused),
                           enabled=not req.quiet)
    run = _execute(req, job, progress)
    t1 = time.monotonic()
    _finish(req, job)
    timings["join_mux"] = time.monotonic() - t1
    manifest.remove()
    return RenderReport(req.output, total, len(manifest.chunks), run.rendered, len(reused), run.retried,
                        run.starts, time.monotonic() - t0, timings, "ray" if req.ray is not None else "local",
                        run.chunk_seconds, run.load_seconds, run.start_seconds, run.log)


def _describe(req: RenderRequest, job: _Job, reused: int) -> str:
    m, chunks = job.plan.mapping, job.manifest.chunks
    where = f"Ray at {req.ray}" if req.ray is not None else f"{req.workers or _slots(req, job.threads)} local workers"
    again = f", {reused} finished earlier (resumed from {str(job.manifest.folder)!r})" if reused else ""
    return (f"{req.input}: {m.num_src} frames -> {m.num_out} frames in {len(chunks)} chunks of up to "
            f"{job.manifest.chunk_frames} source frames{again}; {where}, {job.threads} threads each")


def _stop_on_sigterm() -> dict:
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(_sig, _frame):
        raise KeyboardInterrupt

    return {signal.SIGTERM: signal.signal(signal.SIGTERM, handler)}


def _execute(req: RenderRequest, job: _Job, progress: JobProgress) -> Scheduler:
    old = _stop_on_sigterm()
    folder = job.manifest.folder
    backend = _backend(job.spec, folder, req, job.threads) if job.todo else None
    run = Scheduler(backend, job.manifest, job.spec, progress)  # type: ignore[arg-type]
    try:
        if backend is not None:
            run.run(job.todo)
            run.load_seconds = list(getattr(backend, "load_times", []))
            run.start_seconds = list(getattr(backend, "start_times", []))
        progress.finish()
    except KeyboardInterrupt:
        if progress.shown and progress.tty:
            progress.stream.write("\n")
        kept = len(job.manifest.segments)
        raise JobError(f"interrupted; {kept} of {len(job.manifest.chunks)} chunks are kept in {str(folder)!r}; "
                       "run the same command again to resume") from None
    finally:
        if backend is not None:
            backend.close()
        for sig, handler in old.items():
            signal.signal(sig, handler)
    return run


def _save_timing(folder: Path, plan: Plan) -> None:
    try:
        (folder / TIMING_NAME).write_text(codec.dumps(timing_of(plan)))
    except OSError as e:
        raise disk_error(e, folder) from None


def _remote_env() -> dict[str, str]:
    """The settings remote workers start with: this process's, but the cache only where it was chosen."""
    s = settings.get()
    changes: dict[str, Any] = {"fast": s.fast, "fused": s.fused, "malloc": s.malloc}
    if s.streams is not None:
        changes["streams"] = s.streams
    if s.memory_limit_mb is not None:
        changes["memory_limit_mb"] = s.memory_limit_mb
    if s.model_dir != settings.from_env({}).model_dir:
        changes["model_dir"] = s.model_dir
    return settings.to_env(**changes)


def _finish(req: RenderRequest, job: _Job) -> None:
    """Join the segments, then mux the input's other streams once (a variable-rate output: re-stamped first)."""
    opts, folder, suffix = req.encode, job.manifest.folder, job.spec.suffix
    clip_fps = job.plan.mapping.fps if req.playback_fps is None else req.playback_fps
    nominal = clip_fps if clip_fps > 0 else _y4m_rate(job.spec.header)
    segs = [(job.manifest.path_of(c.index, suffix), Fraction(c.frames) / nominal) for c in job.manifest.chunks]
    source = Path(req.input) if req.audio else None
    tl = job.src.timeline
    tmp = req.output.with_name(f"{req.output.stem}.partial{req.output.suffix}")
    try:
        offset = start_offset(ffprobe_for(opts.ffmpeg), req.input, tl.starts[0] if tl else Fraction(0)) \
            if source is not None else Fraction(0)
        joined = join(opts, segs, folder, ".mkv" if req.vfr_out else suffix)
        if req.vfr_out:
            assert tl is not None  # a variable-rate output comes from a source with a timeline
            mkvmerge = find_tool(settings.get().mkvmerge, "mkvmerge")
            finish(opts, mkvmerge, joined, output_times(job.plan.mapping, tl), tmp, source, offset)
        else:
            mux(opts, joined, tmp, source, offset)
        os.replace(tmp, req.output)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise disk_error(e, folder) from None
    except MediaError as e:
        tmp.unlink(missing_ok=True)
        raise JobError(f"{e.message}; the segments are kept in {str(folder)!r}") from None


def _y4m_rate(head: bytes) -> Fraction:
    """The frame rate of a y4m stream header (``F30000:1001``)."""
    for word in head.split():
        if word.startswith(b"F"):
            num, _, den = word[1:].partition(b":")
            return Fraction(int(num), int(den))
    raise JobError("the y4m header has no frame rate")
