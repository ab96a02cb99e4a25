"""A throw-away Ray cluster on loopback (tests/test_ray.py, tools/bench_jobs.py): run it inside ``unshare -n``.

    unshare -n python tools/ray_cluster.py --nodes 2 --cpus 1 --head-cpus 0 --out result.json SCENARIO.json

Outside a network namespace Ray binds every interface and advertises the machine's outside address,
so this script refuses to run unless the only network interface is loopback.  It brings ``lo`` up,
makes a random token (``RAY_AUTH_MODE=token``, ``RAY_AUTH_TOKEN``: authentication stays on), starts a
head and ``--nodes`` worker nodes with ``ray start --block``, each in its own session, runs the
scenario's steps, and stops every Ray process it started by process id: SIGTERM to each node's
process group, SIGKILL after a grace period, then any process left in those sessions.

A scenario is a JSON list of steps ``{"name", "cmd", "fault"}``: ``cmd`` is run with ``{address}``
replaced; ``fault`` is "" or "kill-worker" (SIGKILL a Ray worker while it renders a chunk) or
"kill-node" (SIGKILL a whole worker node while one of its workers renders).  The result JSON maps each
name to its exit status, stderr tail, seconds and what was killed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

RAY = shutil.which("ray", path=str(Path(sys.executable).parent)) or "ray"


def _interfaces() -> list[str]:
    """The network interfaces of this process's network namespace."""
    return sorted(name for _, name in socket.if_nameindex())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_node(args: list[str], log: Path) -> subprocess.Popen:
    cmd = [RAY, "start", "--block", "--node-ip-address", "127.0.0.1", "--disable-usage-stats", *args]
    with open(log, "ab") as f:
        return subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)


_WAIT = """
import sys, time
import ray
address, count, end = sys.argv[1], int(sys.argv[2]), time.time() + float(sys.argv[3])
while True:
    try:
        ray.init(address=address, logging_level="ERROR", log_to_driver=False, _node_ip_address="127.0.0.1")
        break
    except Exception:
        if time.time() > end:
            raise
        time.sleep(1)
while sum(1 for n in ray.nodes() if n["Alive"]) < count:
    if time.time() > end:
        sys.exit(1)
    time.sleep(0.3)
"""


def _wait_nodes(address: str, count: int, timeout: float = 90) -> bool:
    """True once ``count`` nodes are alive (one driver that polls; it connects with the token)."""
    try:
        res = subprocess.run([sys.executable, "-c", _WAIT, address, str(count), str(timeout)],
                             capture_output=True, text=True, timeout=timeout + 30)
    except subprocess.TimeoutExpired:
        return False
    return res.returncode == 0


def start_cluster(nodes: list[subprocess.Popen], port: int, args: argparse.Namespace, logs: Path) -> str:
    """A head, then the worker nodes one at a time (all at once overload a small machine); ``nodes`` gets
    every ``ray start`` process as it is started, so that the caller can stop them whatever happens."""
    address = f"127.0.0.1:{port}"
    nodes.append(_start_node(["--head", "--port", str(port), "--num-cpus", str(args.head_cpus),
                              "--include-dashboard", "false"], logs / "head.log"))
    if not _wait_nodes(address, 1):
        raise RuntimeError("the Ray head did not come up")
    for k in range(args.nodes):
        for attempt in range(2):
            nodes.append(_start_node(["--address", address, "--num-cpus", str(args.cpus)], logs / f"node{k}.log"))
            if _wait_nodes(address, 2 + k):
                break
            stop([nodes.pop()], grace=1)
            if attempt:
                raise RuntimeError(f"Ray node {k} did not come up (see {logs})")
    return address


def _sessions_procs(sids: set[int]) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            with contextlib.suppress(OSError):
                if os.getsid(int(d)) in sids:
                    out.append(int(d))
    return out


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def stop(nodes: list[subprocess.Popen], grace: float = 5.0) -> None:
    """SIGTERM each node's process group, SIGKILL what is left after ``grace`` seconds (by pid)."""
    sids = {p.pid for p in nodes}
    for p in nodes:
        with contextlib.suppress(OSError):
            os.killpg(p.pid, signal.SIGTERM)
    end = time.monotonic() + grace
    while time.monotonic() < end and [p for p in _sessions_procs(sids) if not _zombie(p)]:
        time.sleep(0.2)
    for pid in _sessions_procs(sids):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    for p in nodes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(timeout=10)


def _task_procs(sid: int | None = None) -> list[int]:
    """Ray workers running a chunk now (their process title is ``ray::render_task``)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{d}/cmdline").read_bytes()
            if cmd.startswith(b"ray::render_task") and (sid is None or os.getsid(int(d)) == sid):
                out.append(int(d))
        except OSError:
            pass
    return out


def _rss_mb(sids: set[int]) -> float:
    """Resident memory of every process in the nodes' sessions (MiB)."""
    total = 0
    for pid in _sessions_procs(sids):
        with contextlib.suppress(OSError, ValueError, IndexError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


class _Fault:
    """Kills a Ray worker (or its whole node) once one of them has rendered for ``delay`` seconds."""

    def __init__(self, kind: str, workers: list[subprocess.Popen], delay: float) -> None:
        self.kind, self.workers, self.delay = kind, workers, delay
        self.seen: float | None = None
        self.done = ""

    def poll(self) -> None:
        if not self.kind or self.done:
            return
        for node in self.workers if self.kind == "kill-node" else [None]:
            pids = _task_procs(node.pid if node is not None else None)
            if not pids:
                continue
            self.seen = self.seen or time.monotonic()
            if time.monotonic() - self.seen < self.delay:
                return
            if self.kind == "kill-worker":
                os.kill(pids[0], signal.SIGKILL)
                self.done = f"worker {pids[0]}"
            else:
                stop([node], grace=0)
                self.done = f"node {node.pid}"
            return


def run_steps(steps: list[dict], address: str, nodes: list[subprocess.Popen]) -> dict:
    """Each step's command, with its fault, watching the cluster's memory (``peak_rss_mb``)."""
    results = {}
    sids = {p.pid for p in nodes}
    for step in steps:
        cmd = [c.replace("{address}", address) for c in step["cmd"]]
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        fault = _Fault(step.get("fault", ""), nodes[1:], step.get("delay", 1.0))
        peak = 0.0
        reader = _Reader(proc)
        while proc.poll() is None and time.monotonic() - t0 < step.get("timeout", 300):
            fault.poll()
            peak = max(peak, _rss_mb(sids))
            time.sleep(0.2)
        if proc.poll() is None:
            proc.kill()
            reader.err.append("\nray_cluster: step timed out")
        proc.wait()
        reader.join()
        results[step["name"]] = {"rc": proc.returncode, "stdout": "".join(reader.out)[-4000:],
                                 "stderr": "".join(reader.err)[-4000:], "seconds": time.monotonic() - t0,
                                 "killed": fault.done, "peak_rss_mb": peak}
    return results


class _Reader:
    """Drains a process's stdout and stderr in threads (so that its pipes never fill up)."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.out: list[str] = []
        self.err: list[str] = []
        self.threads = [threading.Thread(target=lambda s=s, b=b: b.extend(s), daemon=True)
                        for s, b in ((proc.stdout, self.out), (proc.stderr, self.err))]
        for t in self.threads:
            t.start()

    def join(self) -> None:
        for t in self.threads:
            t.join(timeout=10)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("scenario")
    ap.add_argument("--out", required=True)
    ap.add_argument("--nodes", type=int, default=0, help="worker nodes besides the head")
    ap.add_argument("--cpus", type=int, default=1, help="CPUs of each worker node")
    ap.add_argument("--head-cpus", type=int, default=1)
    ap.add_argument("--logs", default=None)
    args = ap.parse_args()
    if _interfaces() not in (["lo"], []):
        print(f"ray_cluster: refusing to start Ray with network interfaces {_interfaces()}; run under unshare -n",
              file=sys.stderr)
        return 3
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    os.environ.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(16))
    logs = Path(args.logs or Path(args.out).with_suffix(".logs"))
    logs.mkdir(parents=True, exist_ok=True)
    nodes: list[subprocess.Popen] = []
    t0 = time.monotonic()
    result: dict = {}
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a timed-out test still stops the cluster
    try:
        address = start_cluster(nodes, _free_port(), args, logs)
        result["startup_seconds"] = time.monotonic() - t0
        result["steps"] = run_steps(json.loads(Path(args.scenario).read_text()), address, nodes)
    finally:
        t1 = time.monotonic()
        stop(nodes)
        result["stop_seconds"] = time.monotonic() - t1
        result["left"] = [p for p in _sessions_procs({p.pid for p in nodes}) if not _zombie(p)]
        Path(args.out).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
