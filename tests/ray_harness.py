"""A throw-away Ray cluster on loopback for tests and benchmarks: run it inside ``unshare -n``.

    unshare -n python tests/ray_harness.py --nodes 2 --cpus 1 --head-cpus 0 --out result.json SCENARIO.json

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
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
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


def _wait_nodes(address: str, count: int, timeout: float = 120) -> None:
    """Wait until ``count`` nodes are alive (one driver that polls; it connects with the token)."""
    code = ("import ray, sys, time; ray.init(address=%r, logging_level='ERROR', log_to_driver=False, "
            "_node_ip_address='127.0.0.1'); end = time.time() + %f\n"
            "while sum(1 for n in ray.nodes() if n['Alive']) < %d:\n"
            "    time.sleep(0.3)\n    if time.time() > end: sys.exit(1)\n" % (address, timeout, count))
    for _ in range(int(timeout)):  # the head may not accept connections yet
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout + 30)
        if res.returncode == 0:
            return
        time.sleep(1)
    raise RuntimeError(f"the Ray cluster did not reach {count} nodes: {res.stderr.strip()[-300:]}")


def _sessions_procs(sids: set[int]) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if os.getsid(int(d)) in sids:
                    out.append(int(d))
            except OSError:
                pass
    return out


def stop(nodes: list[subprocess.Popen], grace: float = 5.0) -> None:
    """SIGTERM each node's process group, SIGKILL what is left after ``grace`` seconds (by pid)."""
    sids = {p.pid for p in nodes}
    for p in nodes:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except OSError:
            pass
    end = time.monotonic() + grace
    while time.monotonic() < end and _sessions_procs(sids):
        time.sleep(0.2)
    for pid in _sessions_procs(sids):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    for p in nodes:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


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


def _inject(fault: str, proc: subprocess.Popen, workers: list[subprocess.Popen], delay: float) -> str:
    """Wait for a chunk to be running, then kill its worker (or its whole node)."""
    while proc.poll() is None:
        for node in workers if fault == "kill-node" else [None]:
            pids = _task_procs(node.pid if node is not None else None)
            if pids:
                time.sleep(delay)
                if fault == "kill-worker":
                    os.kill(pids[0], signal.SIGKILL)
                    return f"worker {pids[0]}"
                stop([node], grace=0)
                return f"node {node.pid}"
        time.sleep(0.1)
    return ""


def run_steps(steps: list[dict], address: str, workers: list[subprocess.Popen]) -> dict:
    results = {}
    for step in steps:
        cmd = [c.replace("{address}", address) for c in step["cmd"]]
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        killed = _inject(step["fault"], proc, workers, step.get("delay", 1.0)) if step.get("fault") else ""
        out, err = proc.communicate(timeout=step.get("timeout", 300))
        results[step["name"]] = {"rc": proc.returncode, "stdout": out[-4000:], "stderr": err[-4000:],
                                 "seconds": time.monotonic() - t0, "killed": killed}
    return results


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
        print(f"ray_harness: refusing to start Ray with network interfaces {_interfaces()}; run under unshare -n",
              file=sys.stderr)
        return 3
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    os.environ.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(16))
    logs = Path(args.logs or Path(args.out).with_suffix(".logs"))
    logs.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    address = f"127.0.0.1:{port}"
    nodes = [_start_node(["--head", "--port", str(port), "--num-cpus", str(args.head_cpus),
                          "--include-dashboard", "false"], logs / "head.log")]
    t0 = time.monotonic()
    result: dict = {}
    try:
        for k in range(args.nodes):
            nodes.append(_start_node(["--address", address, "--num-cpus", str(args.cpus)], logs / f"node{k}.log"))
        _wait_nodes(address, 1 + args.nodes)
        result["startup_seconds"] = time.monotonic() - t0
        result["steps"] = run_steps(json.loads(Path(args.scenario).read_text()), address, nodes[1:])
    finally:
        t1 = time.monotonic()
        stop(nodes)
        result["stop_seconds"] = time.monotonic() - t1
        result["left"] = _sessions_procs({p.pid for p in nodes})
        Path(args.out).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
