"""Chunks in N local worker processes (``--workers N``): no dependency beyond vsrife itself.

Each worker is ``python -m vsrife.jobs.worker`` (see :mod:`.worker`): it loads the model once and
renders chunk after chunk straight into the work folder.  A worker that dies (kill -9, a crash, out
of memory) is replaced, and its chunk is reported :class:`~.events.Failed` with ``lost=True`` so that
the coordinator queues it again.  Each worker's messages go to ``worker-K.log`` in the work folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ..errors import JobError
from . import codec
from .chunks import Chunk
from .events import Event, Failed, Finished, Progress, Started
from .segment import SegmentInfo
from .spec import JobSpec

__all__ = ["LocalBackend", "default_workers"]

SPEC_NAME = "job.json"  # the JobSpec, for the workers (vsrife.jobs.codec)
MAX_EARLY_DEATHS = 3  # workers that die before they are ready: then the job stops (a broken setup)


def default_workers(threads: int, cores: int | None = None) -> int:
    """One worker per ``threads`` cores (at least one)."""
    cores = cores or os.cpu_count() or 1
    return max(1, cores // max(1, threads))


@dataclass
class _Worker:
    wid: int
    proc: subprocess.Popen
    log: IO[bytes]
    ready: bool = False
    chunk: int | None = None
    load_seconds: float = 0.0
    spawned: float = field(default_factory=time.monotonic)
    reader: threading.Thread = field(init=False)


class LocalBackend:
    """N worker processes on this machine."""

    name = "local"

    def __init__(self, spec: JobSpec, folder: Path, workers: int) -> None:
        self.folder, self.count = folder, workers
        self.spec_path = folder / SPEC_NAME
        self.spec_path.write_text(codec.dumps(spec))
        self.events: queue.Queue[tuple[int, str]] = queue.Queue()
        self.workers: dict[int, _Worker] = {}
        self.next_id = 0
        self.early_deaths = 0
        self.closing = False
        self.load_times: list[float] = []  # each worker: graph built and model loaded (seconds)
        self.start_times: list[float] = []  # each worker: from its start to ready (Python, torch, the model)
        for _ in range(workers):
            self._spawn()

    def _spawn(self) -> None:
        wid = self.next_id
        self.next_id += 1
        log = open(self.folder / f"worker-{wid}.log", "ab")  # noqa: SIM115 - closed when the worker exits
        cmd = [sys.executable, "-m", "vsrife.jobs.worker", str(self.spec_path), str(self.folder)]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True,
                                bufsize=1)
        w = _Worker(wid, proc, log)
        w.reader = threading.Thread(target=self._read, args=(w,), daemon=True)
        w.reader.start()
        self.workers[wid] = w

    def _read(self, w: _Worker) -> None:
        assert w.proc.stdout is not None
        for line in w.proc.stdout:
            self.events.put((w.wid, line.rstrip("\n")))
        w.proc.wait()
        self.events.put((w.wid, "exit"))

    def free(self) -> int:
        return sum(1 for w in self.workers.values() if w.ready and w.chunk is None)

    def submit(self, chunk: Chunk) -> None:
        w = next(w for w in self.workers.values() if w.ready and w.chunk is None)
        w.chunk = chunk.index
        assert w.proc.stdin is not None
        try:
            w.proc.stdin.write(f"chunk {chunk.index} {chunk.out_start} {chunk.out_stop}\n")
            w.proc.stdin.flush()
        except OSError:
            pass  # it died: its "exit" event reports the chunk

    def poll(self, timeout: float) -> list[Event]:
        out: list[Event] = []
        try:
            item = self.events.get(timeout=timeout)
            while True:
                ev = self._handle(*item)
                if ev is not None:
                    out.append(ev)
                item = self.events.get_nowait()
        except queue.Empty:
            pass
        return out

    def _handle(self, wid: int, line: str) -> Event | None:
        w = self.workers.get(wid)
        if w is None:
            return None
        kind, _, rest = line.partition(" ")
        if kind == "ready":
            w.ready, w.load_seconds = True, float(rest)
            self.load_times.append(w.load_seconds)
            self.start_times.append(time.monotonic() - w.spawned)
        elif kind == "start":
            return Started(int(rest.split()[0]), f"local:{rest.split()[1]}")
        elif kind == "progress":
            i, d = rest.split()
            return Progress(int(i), int(d))
        elif kind == "done":
            info = SegmentInfo(**json.loads(rest))
            w.chunk = None
            return Finished(info.index, info)
        elif kind == "fail":
            i, disk, msg = rest.split(" ", 2)
            w.chunk = None
            return Failed(int(i), json.loads(msg), lost=False, disk=disk == "1")
        elif kind == "exit":
            return self._exited(w)
        return None

    def _exited(self, w: _Worker) -> Event | None:
        del self.workers[w.wid]
        w.log.close()
        if self.closing:
            return None
        rc = w.proc.returncode
        how = f"killed by signal {-rc}" if rc < 0 else f"exit status {rc}"
        if rc == -9:
            how += " (out of memory, or kill -9)"
        if not w.ready:
            self.early_deaths += 1
            if self.early_deaths >= MAX_EARLY_DEATHS:
                raise JobError(f"local workers exit before they are ready ({how}): {self._last_log(w.wid)}")
        self._spawn()
        return Failed(w.chunk, f"worker {w.proc.pid} {how}", lost=True) if w.chunk is not None else None

    def _last_log(self, wid: int) -> str:
        try:
            lines = (self.folder / f"worker-{wid}.log").read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no message"
        return lines[-1] if lines else "no message"

    def pids(self) -> list[int]:
        return [w.proc.pid for w in self.workers.values()]

    def close(self) -> None:
        self.closing = True
        for w in list(self.workers.values()):
            with contextlib.suppress(OSError):
                if w.chunk is not None:
                    w.proc.send_signal(signal.SIGTERM)
                elif w.proc.stdin:
                    w.proc.stdin.write("quit\n")
                    w.proc.stdin.close()
        for w in list(self.workers.values()):
            try:
                w.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                w.proc.kill()
                w.proc.wait()
            with contextlib.suppress(OSError):
                w.log.close()
        self.workers.clear()
        with contextlib.suppress(OSError):
            self.spec_path.unlink()
