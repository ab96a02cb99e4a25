"""The scheduling loop of a chunked render: chunks to a backend, events back, segments into the manifest.

A chunk whose worker dies, or whose render fails, is queued again at the front, up to
:data:`MAX_ATTEMPTS` tries; a full or unwritable work folder stops the render at once.
"""

from __future__ import annotations

import os
import time
from collections import Counter, deque

from ..errors import JobError
from .events import Backend, Failed, Finished, Progress, Started
from .manifest import Manifest, disk_error
from .progress import JobProgress
from .segment import sha256_of
from .spec import JobSpec

__all__ = ["MAX_ATTEMPTS", "Scheduler"]

MAX_ATTEMPTS = 3  # tries of one chunk before the render gives up


class Scheduler:
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
