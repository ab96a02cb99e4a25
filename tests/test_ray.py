"""Chunked renders on a Ray cluster (``--ray``): a real cluster of several nodes on loopback.

Every Ray process runs inside a loopback-only network namespace (``unshare -n``; outside one Ray
advertises the machine's outside address): the module's fixture re-executes tools/ray_cluster.py
there, which starts a head and two worker nodes with token authentication on, runs the renders with
their faults, and stops every Ray process it started by process id.  Needs root, unshare(1) and the
``cluster`` extra (``pip install 'vapoursynth-rife[cluster]'``, which ``make setup`` installs).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import frames_of, jobs_summary

ROOT = Path(__file__).resolve().parents[1]
HARNESS = ROOT / "tools" / "ray_cluster.py"
ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _skip_reason() -> str | None:
    try:
        import ray  # noqa: F401
    except ImportError:
        return "Ray is not installed (pip install 'vapoursynth-rife[cluster]')"
    if os.geteuid() != 0:
        return "Ray tests run in a loopback-only network namespace (unshare -n), which needs root"
    if not shutil.which("unshare") or not shutil.which("ip"):
        return "Ray tests need unshare(1) and ip(8) for a loopback-only network namespace"
    return None


def run_harness(steps: Path, out: Path, *args: str, timeout: float = 600) -> tuple[int, str]:
    """tools/ray_cluster.py in a new network namespace; on a timeout SIGTERM first, so that it stops Ray."""
    proc = subprocess.Popen(["unshare", "-n", sys.executable, str(HARNESS), str(steps), "--out", str(out), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.terminate()  # unshare passes it on; the harness stops its nodes
        _, err = proc.communicate(timeout=60)
        err += "\nray harness timed out"
    return proc.returncode, err


def _render(out: Path, src: Path) -> list[str]:
    return [sys.executable, "-m", "vsrife", "interpolate", str(src), str(out), "--multi", "2", "-c", "ffv1",
            "--threads", "1", "--chunk-frames", "16", "--ray", "{address}"]


@pytest.fixture(scope="module")
def cluster(jobs_src, tmp_path_factory) -> dict:
    """One cluster (a head without CPUs and two 1-CPU nodes) and three renders: plain, a worker killed
    while it renders a chunk, a whole node killed while one of its workers renders a chunk."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    d = tmp_path_factory.mktemp("ray")
    steps = [{"name": name, "fault": fault, "cmd": _render(d / f"{name}.mkv", jobs_src), "delay": 0.5}
             for name, fault in (("plain", ""), ("kill-worker", "kill-worker"), ("kill-node", "kill-node"))]
    (d / "steps.json").write_text(json.dumps(steps))
    rc, err = run_harness(d / "steps.json", d / "result.json", "--nodes", "2", "--cpus", "1", "--head-cpus", "0")
    assert rc == 0, err[-3000:]
    result = json.loads((d / "result.json").read_text())
    result["dir"] = d
    return result


def _step(cluster: dict, name: str) -> dict:
    step = cluster["steps"][name]
    assert step["rc"] == 0, step["stderr"]
    return step


def test_ray_render_equals_single_render(cluster, jobs_reference):
    step = _step(cluster, "plain")
    assert jobs_summary(step["stderr"]) == {"rendered": 4, "reused": 0, "retried": 0}
    assert "(ray)" in step["stderr"]
    assert frames_of(cluster["dir"] / "plain.mkv") == frames_of(jobs_reference("multi"))


def test_ray_worker_killed_mid_chunk_is_retried(cluster, jobs_reference):
    step = _step(cluster, "kill-worker")
    assert step["killed"].startswith("worker ")
    counts = jobs_summary(step["stderr"])
    assert counts["retried"] >= 1 and counts["rendered"] == 4
    assert frames_of(cluster["dir"] / "kill-worker.mkv") == frames_of(jobs_reference("multi"))


def test_ray_node_lost_its_chunks_run_elsewhere(cluster, jobs_reference):
    step = _step(cluster, "kill-node")
    assert step["killed"].startswith("node ")
    counts = jobs_summary(step["stderr"])
    assert counts["retried"] >= 1 and counts["rendered"] == 4
    assert frames_of(cluster["dir"] / "kill-node.mkv") == frames_of(jobs_reference("multi"))


def test_every_ray_process_was_stopped(cluster):
    assert cluster["left"] == []


def test_unreachable_ray_address_is_a_one_line_error(jobs_src, tmp_path):
    """Nothing listens on the port: one line, no traceback, quickly (no Ray process is started)."""
    reason = _skip_reason()
    if reason and "not installed" in reason:
        pytest.skip(reason)
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: connection refused
    res = subprocess.run([sys.executable, "-m", "vsrife", "interpolate", str(jobs_src), str(tmp_path / "o.mkv"),
                          "--ray", f"127.0.0.1:{port}"], capture_output=True, text=True, env=ENV, timeout=120)
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert lines == [f"vsrife interpolate: error: cannot reach the Ray cluster at 127.0.0.1:{port}: connection refused"]
