"""Chunks as Ray tasks on a cluster (``--ray ADDRESS`` or ``--ray auto``); Ray is the ``cluster`` extra.

Each chunk is one task needing ``threads`` CPUs.  A Ray worker process keeps the job's graph, and so
its loaded model, between tasks (:func:`vsrife.jobs.spec.output_clip`): the model is loaded once per
worker process.  The task renders into a temporary folder on its node and returns the segment's bytes
through Ray's object store, so the nodes need no shared work folder; they need the input at the same
path and vsrife with the weights (the same environment, or a shared ``VSRIFE_MODEL_DIR``).

Ray's own task retries are off: a task whose worker dies (kill -9, out of memory) or whose node is
lost comes back as :class:`~.events.Failed` with ``lost=True``, the coordinator submits it again, and
Ray runs it where there is room.  Progress reaches the coordinator through a small actor on the
coordinator's node.  Ray 2.60 clusters use token authentication: the coordinator needs
``RAY_AUTH_MODE=token`` and the cluster's token (``RAY_AUTH_TOKEN`` or ``~/.ray/auth_token``).
"""

from __future__ import annotations

import contextlib
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

from ..errors import JobError
from ..install import DIST
from .chunks import Chunk
from .events import Event, Failed, Finished, Progress, Started
from .segment import SegmentInfo, render_segment, segment_name
from .spec import JobSpec, built

__all__ = ["RayBackend", "connect", "render_task", "slots"]

CONNECT_TIMEOUT = 5.0  # seconds to reach the head before the address is called unreachable


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise JobError(f"--ray needs Ray: pip install '{DIST}[cluster]'") from None
    return ray


def _reach(address: str) -> str:
    """Check that ``host:port`` accepts connections; returns this machine's address towards it."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise JobError(f"--ray {address!r}: give host:port (for example 10.0.0.5:6379) or 'auto'")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT) as s:
            return s.getsockname()[0]
    except OSError as e:
        why = "timed out" if isinstance(e, TimeoutError) else (e.strerror or str(e))
        raise JobError(f"cannot reach the Ray cluster at {address}: {why.lower()}") from None


def connect(address: str, env: dict[str, str]) -> None:
    """Connect this process to the cluster at ``address`` ("auto": a local Ray); one-line errors."""
    ray = _ray()
    if ray.is_initialized():
        return
    kw: dict[str, Any] = {"logging_level": "ERROR", "log_to_driver": False, "include_dashboard": False,
                          "runtime_env": {"env_vars": env} if env else None}
    if address == "auto":
        kw["_node_ip_address"] = "127.0.0.1"  # a Ray started here listens on this machine only
    elif not address.startswith("ray://"):
        kw["_node_ip_address"] = _reach(address)
        kw.pop("include_dashboard")
    try:
        ray.init(address=None if address == "auto" else address, **kw)
    except ray.exceptions.AuthenticationError:
        raise JobError(f"the Ray cluster at {address} refused the connection: it uses token authentication; set "
                       "RAY_AUTH_MODE=token and RAY_AUTH_TOKEN (or ~/.ray/auth_token) to the cluster's token") from None
    except (ConnectionError, RuntimeError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise JobError(f"cannot connect to the Ray cluster at {address}: {first}") from None


def slots(threads: int) -> int:
    """Tasks of ``threads`` CPUs the cluster can run at once (its nodes now)."""
    ray = _ray()
    cpus = [n.get("Resources", {}).get("CPU", 0) for n in ray.nodes() if n.get("Alive")]
    if not any(c >= threads for c in cpus):
        raise JobError(f"no node of the Ray cluster has {threads} CPUs (largest: {max(cpus, default=0):g}); "
                       "use --threads")
    return max(1, sum(int(c) // threads for c in cpus))


class _Sink:
    """Collects the tasks' start and progress messages for the coordinator."""

    def __init__(self) -> None:
        self.items: list[tuple] = []

    def put(self, item: tuple) -> None:
        self.items.append(item)

    def drain(self) -> list[tuple]:
        out, self.items = self.items, []
        return out


def ray_node_id() -> str:
    import ray

    return str(ray.get_runtime_context().get_node_id())


def render_task(spec: JobSpec, index: int, start: int, stop: int, sink: Any) -> tuple:
    """The body of one Ray task: ("ok", SegmentInfo, bytes) or ("fail", message, disk)."""
    from ..errors import VsrifeError
    from .worker import is_disk_error, one_line, prepare, worker_name

    try:
        load = 0.0 if built(spec.key) else prepare(spec)
        node = ray_node_id()
        sink.put.remote(("start", index, f"{node[:8]}:{worker_name().rsplit(':', 1)[1]}", load))
        last = [time.monotonic()]

        def report(done: int) -> None:
            now = time.monotonic()
            if now - last[0] >= 0.5:
                last[0] = now
                sink.put.remote(("progress", index, done))

        with tempfile.TemporaryDirectory(prefix="vsrife-seg-") as tmp:
            info = render_segment(spec, index, start, stop, Path(tmp), report)
            return "ok", info, (Path(tmp) / segment_name(index, spec.suffix)).read_bytes()
    except (VsrifeError, OSError) as e:
        return "fail", one_line(e), is_disk_error(e)
    except Exception as e:  # vs.Error and the like: a one-line message, never an unpicklable exception
        return "fail", f"{type(e).__name__}: {one_line(e)}", False


class RayBackend:
    """Chunks as Ray tasks."""

    name = "ray"

    def __init__(self, spec: JobSpec, address: str, threads: int) -> None:
        ray = self.ray = _ray()
        connect(address, spec.env)
        slots(threads)
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        here = NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=True)
        self.sink = ray.remote(num_cpus=0)(_Sink).options(scheduling_strategy=here).remote()
        self.task = ray.remote(render_task).options(num_cpus=threads, max_retries=0, retry_exceptions=False)
        self.spec_ref = ray.put(spec)
        self.pending: dict[Any, int] = {}
        self.load_times: list[float] = []

    def free(self) -> int:
        return 1 << 30  # Ray queues the tasks itself

    def submit(self, chunk: Chunk) -> None:
        ref = self.task.remote(self.spec_ref, chunk.index, chunk.out_start, chunk.out_stop, self.sink)
        self.pending[ref] = chunk.index

    def poll(self, timeout: float) -> list[Event]:
        ray = self.ray
        refs = list(self.pending)
        ready = ray.wait(refs, num_returns=1, timeout=timeout)[0] if refs else []
        if ready:
            ready = ray.wait(refs, num_returns=len(refs), timeout=0)[0]
        out: list[Event] = self._messages()
        for ref in ready:
            out.append(self._result(ref, self.pending.pop(ref)))
        return out

    def _messages(self) -> list[Event]:
        try:
            items = self.ray.get(self.sink.drain.remote(), timeout=10)
        except Exception:  # the progress actor is gone: progress is cosmetic, results still arrive
            return []
        out: list[Event] = []
        for item in items:
            if item[0] == "start":
                if item[3]:
                    self.load_times.append(float(item[3]))
                out.append(Started(item[1], item[2]))
            else:
                out.append(Progress(item[1], item[2]))
        return out

    def _result(self, ref: Any, index: int) -> Event:
        try:
            res = self.ray.get(ref)
        except self.ray.exceptions.RayError as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            return Failed(index, f"{type(e).__name__}: {first}", lost=True)
        if res[0] == "ok":
            info: SegmentInfo = res[1]
            return Finished(index, info, res[2])
        return Failed(index, res[1], lost=False, disk=bool(res[2]))

    def close(self) -> None:
        for ref in list(self.pending):
            with contextlib.suppress(Exception):  # already finished or its worker gone
                self.ray.cancel(ref, force=True)
        self.pending.clear()
        self.ray.shutdown()
