"""The coordinator of a chunked render: plan, resume, schedule, join.

:func:`render` plans the filter once, opens (or resumes) the work folder, runs the missing chunks on
a backend (local worker processes or Ray), records each finished segment in the manifest, joins the
segments without re-encoding, muxes the input's other streams once, and removes the work folder.
A chunk whose worker dies is queued again (up to :data:`MAX_ATTEMPTS` times); a full or unwritable
work folder stops the render at once with the finished segments kept.  See docs/render.md.
"""

from __future__ import annotations

import os
import pickle
import signal
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from .. import settings
from ..media.encode import EncodeOptions
from ..vs.graph import build
from ..vs.plan import Plan, make_plan
from .chunks import plan_chunks
from .cuts import cut_finder
from .events import Backend, Failed, Finished, Progress, Started
from .join import join, mux_command
from .manifest import JobError, Manifest, disk_error, work_folder
from .progress import JobProgress
from .segment import pick_container, sha256_of
from .spec import JobSpec, open_source, plan_with, settings_key, stream_header, timing_of

__all__ = ["MAX_ATTEMPTS", "RenderReport", "RenderRequest", "auto_chunk_frames", "render"]

MAX_ATTEMPTS = 3  # tries of one chunk before the render gives up
MIN_CHUNK, MAX_CHUNK = 240, 2400  # bounds of the default chunk length (source frames); see docs/render.md
CHUNKS_PER_SLOT = 4  # the default length gives each worker about this many chunks
TIMING_NAME = "timing.pickle"  # the plan's decisions, kept so that a resume skips the dedup scan


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


def _plan(src, req: RenderRequest, folder: Path, resumed: bool) -> Plan:
    """The filter's plan (on the CPU: only its decisions matter here); a resume reuses the saved ones."""
    kw = {**req.filter_kw, "device": "cpu", "fp16": None}
    cached = folder / TIMING_NAME
    if resumed and cached.is_file():
        try:
            with open(cached, "rb") as f:
                timing = pickle.load(f)
            return plan_with(src, kw, timing)
        except (OSError, pickle.UnpicklingError, EOFError, TypeError):
            pass
    return make_plan(src, **kw)


def _output(plan: Plan, req: RenderRequest):
    from ..media.y4m import for_y4m

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
    """Threads per worker: ``--threads``, else all cores up to 4 (local) or 2 (Ray: nodes may be small)."""
    if req.threads is not None:
        return req.threads
    return min(2 if req.ray is not None else 4, os.cpu_count() or 1)


def _slots(req: RenderRequest, threads: int) -> int:
    if req.ray is not None:
        from .cluster import slots

        return slots(threads)
    from .local import default_workers

    return req.workers or default_workers(threads)


class _Run:
    """The scheduling loop of one render."""

    def __init__(self, backend: Backend, manifest: Manifest, spec: JobSpec, progress: JobProgress) -> None:
        self.backend, self.manifest, self.spec, self.progress = backend, manifest, spec, progress
        self.chunks = {c.index: c for c in manifest.chunks}
        self.attempts: Counter[int] = Counter()
        self.retried = self.starts = self.rendered = 0
        self.chunk_seconds: dict[int, float] = {}
        self.t0 = time.monotonic()
        self.log: list[tuple[float, str, int, str]] = []  # (seconds, "start" | "done" | "fail", chunk, worker)
        self.load_seconds: list[float] = []
        self.start_seconds: list[float] = []

    def run(self, todo: list[int]) -> None:
        queue, running = deque(todo), set[int]()
        while queue or running:
            while queue and self.backend.free() > 0:
                index = queue.popleft()
                self.backend.submit(self.chunks[index])
                running.add(index)
            for ev in self.backend.poll(0.5):
                if isinstance(ev, Started):
                    self.starts += 1
                    self.log.append((time.monotonic() - self.t0, "start", ev.index, ev.worker))
                    self.progress.started(ev.index)
                elif isinstance(ev, Progress):
                    self.progress.progress(ev.index, ev.done)
                elif isinstance(ev, Finished):
                    self._store(ev)
                    self.chunk_seconds[ev.index] = ev.info.seconds
                    self.log.append((time.monotonic() - self.t0, "done", ev.index, ""))
                    running.discard(ev.index)
                    self.rendered += 1
                    self.progress.finished(ev.index, ev.info.frames)
                elif isinstance(ev, Failed):
                    running.discard(ev.index)
                    self.log.append((time.monotonic() - self.t0, "fail", ev.index, ev.message))
                    self.progress.failed(ev.index)
                    self._failed(ev, queue)
            self.progress.update()

    def _failed(self, ev: Failed, queue: deque[int]) -> None:
        if ev.disk:
            raise JobError(f"work folder {str(self.manifest.folder)!r}: chunk {ev.index} failed: {ev.message}; "
                           "the finished segments are kept there; free space and run the same command again")
        self.attempts[ev.index] += 1
        if self.attempts[ev.index] >= MAX_ATTEMPTS:
            raise JobError(f"chunk {ev.index} failed {MAX_ATTEMPTS} times, last: {ev.message}; the finished "
                           f"segments are kept; run the same command again to retry")
        self.retried += 1
        queue.appendleft(ev.index)

    def _store(self, ev: Finished) -> None:
        path = self.manifest.path_of(ev.index, self.spec.suffix)
        if ev.data is not None:  # a remote worker sent the segment back
            tmp = path.with_name(f"{path.stem}.partial{path.suffix}")
            try:
                tmp.write_bytes(ev.data)
                if sha256_of(tmp) != ev.info.sha256:
                    tmp.unlink()
                    raise JobError(f"segment {path.name} arrived damaged (checksum mismatch)")
                os.replace(tmp, path)
            except OSError as e:
                tmp.unlink(missing_ok=True)
                raise disk_error(e, self.manifest.folder) from None
        self.manifest.record(ev.info)


def _stop_on_sigterm() -> dict:
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(_sig, _frame):
        raise KeyboardInterrupt

    return {signal.SIGTERM: signal.signal(signal.SIGTERM, handler)}


def render(req: RenderRequest) -> RenderReport:
    """Run the chunked render of ``req`` (see the module doc); raises JobError and the filter's errors."""
    t0 = time.monotonic()
    timings: dict[str, float] = {}
    folder = work_folder(req.output)
    key, readable = settings_key(str(req.input), req.filter_kw, req.playback_fps, req.encode)
    env = _remote_env()
    if req.ray is not None:  # first: an unreachable cluster is reported before any work
        from .cluster import connect

        connect(req.ray, env)
    Manifest.prepare(folder, req.restart)
    manifest = Manifest.load(folder, key, readable)
    src = open_source(str(req.input))
    plan = _plan(src, req, folder, manifest is not None)
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
    fps = req.playback_fps or plan.mapping.fps
    total = plan.mapping.num_out
    reused = [c for c in manifest.chunks if c.index not in todo]
    progress = JobProgress(total, len(manifest.chunks), sum(c.frames for c in reused), len(reused),
                           enabled=not req.quiet)
    run = _execute(req, spec, folder, threads, manifest, progress, todo)
    t1 = time.monotonic()
    _finish(req, manifest, suffix, fps)
    timings["join_mux"] = time.monotonic() - t1
    manifest.remove()
    return RenderReport(req.output, total, len(manifest.chunks), run.rendered, len(reused), run.retried,
                        run.starts, time.monotonic() - t0, timings, "ray" if req.ray is not None else "local",
                        run.chunk_seconds, run.load_seconds, run.start_seconds, run.log)


def _execute(req: RenderRequest, spec: JobSpec, folder: Path, threads: int, manifest: Manifest,
             progress: JobProgress, todo: list[int]) -> _Run:
    old = _stop_on_sigterm()
    backend = _backend(spec, folder, req, threads) if todo else None
    run = _Run(backend, manifest, spec, progress)  # type: ignore[arg-type]
    try:
        if backend is not None:
            run.run(todo)
            run.load_seconds = list(getattr(backend, "load_times", []))
            run.start_seconds = list(getattr(backend, "start_times", []))
        progress.finish()
    except KeyboardInterrupt:
        if progress.shown and progress.tty:
            progress.stream.write("\n")
        kept = len(manifest.segments)
        raise JobError(f"interrupted; {kept} of {len(manifest.chunks)} chunks are kept in {str(folder)!r}; "
                       "run the same command again to resume") from None
    finally:
        if backend is not None:
            backend.close()
        for sig, handler in old.items():
            signal.signal(sig, handler)
    return run


def _save_timing(folder: Path, plan: Plan) -> None:
    try:
        with open(folder / TIMING_NAME, "wb") as f:
            pickle.dump(timing_of(plan), f)
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


def _finish(req: RenderRequest, manifest: Manifest, suffix: str, fps: Fraction) -> None:
    from ..media.tools import run_tool

    if fps <= 0:
        raise JobError("a variable-frame-rate output cannot be joined yet; use --workers 0")  # until media/ lands
    segs = [(manifest.path_of(c.index, suffix), Fraction(c.frames) / fps) for c in manifest.chunks]
    tmp = req.output.with_name(f"{req.output.stem}.partial{req.output.suffix}")
    try:
        joined = join(req.encode, segs, manifest.folder, suffix)
        run_tool(mux_command(req.encode, joined, tmp, Path(req.input) if req.audio else None),
                 f"ffmpeg mux ({req.output.name})")
        os.replace(tmp, req.output)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise disk_error(e, manifest.folder) from None
