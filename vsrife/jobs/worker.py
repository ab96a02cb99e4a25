"""A local worker process: ``python -m vsrife.jobs.worker SPEC FOLDER``.

It loads the job (a :class:`~.spec.JobSpec` in :mod:`.codec`'s JSON), builds the output graph and loads the model
once, says ``ready``, then renders the chunks it is sent on stdin (``chunk INDEX START STOP``) into
FOLDER, one line per event on its protocol pipe (the original stdout; stray prints go to stderr):

``ready SECONDS`` | ``start INDEX PID`` | ``progress INDEX FRAMES`` | ``done JSON`` | ``fail INDEX DISK JSON``

On Linux it dies with its parent (``PR_SET_PDEATHSIG``): a coordinator killed with kill -9 leaves no
worker behind; the segment being written stays a ``.partial`` file, which a resume deletes.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import vapoursynth as vs

from ..errors import VsrifeError
from . import codec
from .segment import render_segment
from .spec import JobSpec, output_clip

__all__ = ["is_disk_error", "main", "one_line", "prepare", "worker_name"]


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def prepare(spec: JobSpec) -> float:
    """Set this process's threads, build the job's graph (loading the model); returns the seconds it took."""
    import torch

    t0 = time.monotonic()
    torch.set_num_threads(spec.threads)
    vs.core.num_threads = spec.threads
    output_clip(spec)
    return time.monotonic() - t0


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def is_disk_error(e: BaseException) -> bool:
    text = str(e)
    return (isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EACCES, errno.EROFS, errno.EDQUOT)) \
        or "No space left on device" in text or "Disk quota exceeded" in text or "Read-only file system" in text


def one_line(e: BaseException) -> str:
    """An error as one line: an OSError's reason, else the first line of its message."""
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _reporter(send: Callable[[str], None], index: int) -> Callable[[int], None]:
    return lambda done: send(f"progress {index} {done}")


def _serve(spec: JobSpec, folder: Path, proto: TextIO) -> None:
    def send(line: str) -> None:
        proto.write(line + "\n")
        proto.flush()

    send(f"ready {prepare(spec):.3f}")
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == "quit":
            return
        index, start, stop = (int(x) for x in cmd[1:4])
        send(f"start {index} {os.getpid()}")
        try:
            info = render_segment(spec, index, start, stop, folder, report=_reporter(send, index))
        except (VsrifeError, vs.Error, OSError) as e:
            send(f"fail {index} {int(is_disk_error(e))} {json.dumps(one_line(e))}")
            continue
        send("done " + json.dumps(info.as_dict()))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    _die_with_parent()
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # library prints must not mix with the protocol
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the coordinator decides when to stop
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop now: the partial segment is removed
    spec: JobSpec = codec.loads(Path(argv[0]).read_text())
    _serve(spec, Path(argv[1]), proto)
    return 0


if __name__ == "__main__":
    sys.exit(main())
