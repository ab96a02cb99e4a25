"""What a backend (local processes or Ray) tells the coordinator, and what the coordinator asks of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .chunks import Chunk
from .segment import SegmentInfo

__all__ = ["Backend", "Event", "Failed", "Finished", "Progress", "Started"]


@dataclass(frozen=True)
class Started:
    index: int
    worker: str  # "host:pid"


@dataclass(frozen=True)
class Progress:
    index: int
    done: int  # frames of the chunk written so far


@dataclass(frozen=True)
class Finished:
    index: int
    info: SegmentInfo
    data: bytes | None = None  # the segment itself when the worker could not write it into the work folder


@dataclass(frozen=True)
class Failed:
    index: int
    message: str
    lost: bool  # the worker died (killed, crashed, its node lost); otherwise the render raised
    disk: bool = False  # the work folder is full or not writable: retrying cannot help


Event = Started | Progress | Finished | Failed


class Backend(Protocol):
    """Runs chunks somewhere.  The coordinator submits while :meth:`free` is positive."""

    name: str

    def free(self) -> int:
        """How many more chunks may be submitted now."""
        ...

    def submit(self, chunk: Chunk) -> None: ...

    def poll(self, timeout: float) -> list[Event]:
        """The events since the last call (waits up to ``timeout`` seconds for the first one)."""
        ...

    def close(self) -> None:
        """Stop every worker this backend started."""
        ...
