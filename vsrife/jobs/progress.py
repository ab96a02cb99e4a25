"""One progress line over a whole chunked render: frames, fps, ETA, and chunks done, running, queued."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["JobProgress", "fmt_time"]


def fmt_time(seconds: float) -> str:
    """H:MM:SS (or M:SS); ``--:--`` when unknown."""
    if seconds != seconds or seconds == float("inf"):
        return "--:--"
    s = round(seconds)
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class JobProgress:
    """Frames of finished chunks plus the frames written so far of running ones.

    The rate counts only frames rendered by this run (not segments kept from an earlier one), so the
    ETA of a resumed render is right from the start.
    """

    def __init__(self, total: int, chunks: int, reused_frames: int = 0, reused_chunks: int = 0,
                 stream: TextIO | None = None, enabled: bool = True) -> None:
        self.total, self.chunks = total, chunks
        self.stream, self.enabled = stream or sys.stderr, enabled
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = 0.25 if self.tty else 5.0
        self.base = reused_frames  # frames of segments kept from an earlier run
        self.finished_frames = 0  # frames of chunks finished by this run
        self.done_chunks = reused_chunks
        self.running: dict[int, int] = {}  # chunk -> frames written so far
        self.start = self.last = time.monotonic()
        self.shown = 0

    def started(self, index: int) -> None:
        self.running[index] = 0

    def progress(self, index: int, done: int) -> None:
        self.running[index] = done

    def finished(self, index: int, frames: int) -> None:
        self.running.pop(index, None)
        self.finished_frames += frames
        self.done_chunks += 1

    def failed(self, index: int) -> None:
        self.running.pop(index, None)

    @property
    def rendered(self) -> int:
        return self.finished_frames + sum(self.running.values())

    def line(self) -> str:
        el = time.monotonic() - self.start
        fps = self.rendered / el if el > 0 else 0.0
        done = self.base + self.rendered
        eta = (self.total - done) / fps if fps > 0 else float("nan")
        frac = done / self.total if self.total else 1.0
        queued = self.chunks - self.done_chunks - len(self.running)
        return (f"[{'#' * int(frac * 24):<24}] {frac * 100:5.1f}% frame {done}/{self.total}  {fps:6.2f} fps  "
                f"ETA {fmt_time(eta)}  chunks {self.done_chunks} done, {len(self.running)} running, {queued} queued")

    def update(self, force: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not force and self.shown and now - self.last < self.interval):
            return
        self.last = now
        self.shown += 1
        self.stream.write(("\r" + self.line() + "\x1b[K") if self.tty else self.line() + "\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled:
            self.update(force=True)
            if self.tty:
                self.stream.write("\n")
            self.stream.flush()
