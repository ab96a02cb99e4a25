"""Benchmark of chunked renders (docs/render.md): throughput of 1 and 2 local workers and of Ray, and the
fixed costs per chunk and per worker.  Not a test: a few minutes on a 2-core machine.

    python tools/bench_jobs.py --out bench_jobs.json            # local parts, then Ray in a namespace
    python tools/bench_jobs.py --out b.json --no-ray             # local parts only
    python tools/bench_jobs.py --ray-nodes 8 --out b.json        # also 8 one-CPU Ray nodes on this machine

Parts (each prints one line; --out collects them as JSON):

* ``frame``: seconds per interpolated frame at 1920x1080 and at the job's size (in this process).
* ``index``: bestsource's index of a 720p file (per frame): what every node pays once per input.
* ``single`` / ``local1`` / ``local2``: the same job (bikes.mp4, 640x272, 36 frames, --multi 2) in one
  process, on 1 worker and on 2 workers (1 thread each); ``local1-small``: 1 worker with chunks a third
  as long, so that the per-chunk cost comes out of the difference.
* ``ray`` (inside ``unshare -n``, tools/ray_cluster.py): the job on a 2-CPU one-node cluster, the task
  round trip and the object-store transfer of a segment-sized result; ``ray-small`` and ``ray-N``: a
  smaller job (``--small``, 320x136, chunks of 4 frames) on that cluster and on N one-CPU nodes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

JOB_FRAMES = 36
CHUNK = 9  # 4 chunks of the job


def _footage() -> Path:
    from vsrife import weights

    return Path(weights.fetch("footage", log=lambda s: None))


def make_source(d: Path, size: str = "") -> Path:
    out = d / f"bench_src{size}.mkv"
    vf = f"trim=end_frame={JOB_FRAMES}" + (f",scale={size.replace('x', ':')}" if size else "")
    if not out.exists():
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(_footage() / "bikes.mp4"), "-f", "lavfi", "-i",
                        "sine=frequency=440:sample_rate=48000", "-vf", vf, "-map", "0:v",
                        "-map", "1:a", "-t", f"{JOB_FRAMES / 25}", "-c:v", "ffv1", "-c:a", "flac", str(out)],
                       check=True)
    return out


def frame_cost(src: Path) -> dict:
    """Seconds per interpolated frame (after one warm-up frame) when a render pipelines its requests (all of
    VapourSynth's threads busy, as in a real render): 1920x1080 and the job's 640x272."""
    import vapoursynth as vs

    from vsrife.vs.api import RIFE

    core = vs.core
    out: dict = {}
    bbb = core.bs.VideoSource(str(_footage() / "bigbuckbunny.mp4"), showprogress=0)
    for name, clip, count in (("1080p", bbb.resize.Bicubic(1920, 1080), 4),
                              ("job", core.bs.VideoSource(str(src), showprogress=0), 6)):
        r = RIFE(clip, multi=2)
        r.get_frame(1)
        t0 = time.monotonic()
        for _f in r[2: 2 + 2 * count].frames(close=True):  # count interpolated frames, count passed through
            pass
        out[name] = (time.monotonic() - t0) / count
        out[f"{name}_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def index_cost() -> dict:
    """bestsource indexing a 720p file without its cache (cachemode 0), per frame."""
    import vapoursynth as vs

    path = _footage() / "bigbuckbunny.mp4"
    t0 = time.monotonic()
    clip = vs.core.bs.VideoSource(str(path), showprogress=0, cachemode=0)
    return {"720p_per_frame": (time.monotonic() - t0) / clip.num_frames, "frames": clip.num_frames}


def _request(src: Path, out: Path, **kw):
    from vsrife.jobs import RenderRequest
    from vsrife.media import EncodeOptions

    return RenderRequest(src, out, {"multi": 2}, EncodeOptions(ffmpeg=shutil.which("ffmpeg") or "ffmpeg"),
                         chunk_frames=kw.pop("chunk", CHUNK), threads=1, quiet=True, restart=True, **kw)


def _report(rep) -> dict:
    chunk = list(rep.chunk_seconds.values())
    return {"seconds": rep.seconds, "fps": rep.frames / rep.seconds, "chunks": rep.chunks, "frames": rep.frames,
            "chunk_seconds": chunk, "mean_chunk": sum(chunk) / max(1, len(chunk)), "start": rep.start_seconds,
            "load": rep.load_seconds, "timings": rep.timings, "retried": rep.retried,
            "workers": sorted({w for _t, kind, _i, w in rep.log if kind == "start"}),
            "per_worker": _per_worker(rep.log)}


def _per_worker(log) -> dict:
    out: dict[str, int] = {}
    for _t, kind, _i, w in log:
        if kind == "start":
            key = w.split(":")[0] if ":" in w else w
            out[key] = out.get(key, 0) + 1
    return out


def single(src: Path, d: Path) -> dict:
    """The job in one process (the CLI's own path), threads as a single render uses them."""
    t0 = time.monotonic()
    res = subprocess.run([sys.executable, "-m", "vsrife", "interpolate", str(src), str(d / "single.mkv"), "-y",
                          "--multi", "2", "--chunk-frames", "0", "-q"], env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert res.returncode == 0
    return {"seconds": time.monotonic() - t0, "fps": 2 * JOB_FRAMES / (time.monotonic() - t0)}


def local(src: Path, d: Path, workers: int, chunk: int = CHUNK) -> dict:
    from vsrife.jobs import render

    return _report(render(_request(src, d / f"local{workers}.mkv", workers=workers, chunk=chunk)))


def ray_step(src: Path, out: Path, address: str) -> dict:
    """Inside the namespace: the job on Ray, plus the round trip of an empty task and a 2 MB transfer."""
    import ray

    from vsrife.jobs import render
    from vsrife.jobs.cluster import connect

    connect(address, {})
    noop = ray.remote(num_cpus=0)(lambda: None)
    blob = ray.remote(num_cpus=0)(lambda n: b"x" * n)
    ray.get(noop.remote())
    t0 = time.monotonic()
    for _ in range(20):
        ray.get(noop.remote())
    rtt = (time.monotonic() - t0) / 20
    ray.get(blob.remote(1 << 21))
    t0 = time.monotonic()
    for _ in range(5):
        ray.get(blob.remote(1 << 21))
    transfer = (time.monotonic() - t0) / 5
    nodes = sum(1 for n in ray.nodes() if n["Alive"])
    rep = _report(render(_request(src, out, ray=address, chunk=int(os.environ.get("BENCH_CHUNK", CHUNK)))))
    return {**rep, "task_round_trip": rtt, "transfer_2mb": transfer, "nodes": nodes}


def run_ray(src: Path, d: Path, nodes: int, cpus: int, head_cpus: int, chunk: int, size: str = "") -> dict:
    """``ray_step`` in a loopback-only namespace on a fresh cluster (tools/ray_cluster.py)."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return {"skipped": "needs root and unshare(1)"}
    name = f"ray{nodes}{size}"
    step = [{"name": name, "fault": "", "timeout": 900,
             "cmd": [sys.executable, __file__, "--ray-step", "{address}", "--src", str(src),
                     "--out", str(d / f"{name}.json")]}]
    (d / f"{name}.steps.json").write_text(json.dumps(step))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BENCH_CHUNK": str(chunk)}
    if size:  # a smaller job (memory: each node and each worker is a few hundred MB)
        src = make_source(d, size)
    res = subprocess.run(["unshare", "-n", sys.executable, str(ROOT / "tools" / "ray_cluster.py"),
                          str(d / f"{name}.steps.json"), "--out", str(d / f"{name}.cluster.json"), "--nodes",
                          str(nodes), "--cpus", str(cpus), "--head-cpus", str(head_cpus)], env=env, timeout=1500)
    cluster = json.loads((d / f"{name}.cluster.json").read_text())
    if res.returncode != 0 or cluster["steps"][name]["rc"] != 0:
        return {"failed": cluster.get("steps", {}).get(name, {}).get("stderr", "")[-800:]}
    out = json.loads((d / f"{name}.json").read_text())
    out.update(startup=cluster["startup_seconds"], stop=cluster["stop_seconds"], peak_rss_mb=cluster["steps"][name]
               .get("peak_rss_mb"), left=cluster["left"])
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", help="write the results as JSON")
    ap.add_argument("--no-ray", action="store_true")
    ap.add_argument("--ray-nodes", type=int, default=8, help="one-CPU nodes of the many-node run (0: skip)")
    ap.add_argument("--only", help="comma-separated parts to run (frame,index,single,local1,local1-small,local2,ray,"
                                   "ray-N)")
    ap.add_argument("--small", default="320x136", help="frame size of the many-node run's job (memory)")
    ap.add_argument("--ray-step", metavar="ADDRESS", help=argparse.SUPPRESS)
    ap.add_argument("--src", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.ray_step:
        Path(args.out).write_text(json.dumps(ray_step(Path(args.src), Path(args.out).with_suffix(".mkv"),
                                                      args.ray_step)))
        return 0
    res: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as tmp:
        d = Path(tmp)
        src = make_source(d)
        parts = [("frame", lambda: frame_cost(src)), ("index", index_cost), ("single", lambda: single(src, d)),
                 ("local1", lambda: local(src, d, 1)), ("local1-small", lambda: local(src, d, 1, CHUNK // 3)),
                 ("local2", lambda: local(src, d, 2))]
        if not args.no_ray:
            parts.append(("ray", lambda: run_ray(src, d, 0, 1, 2, CHUNK)))
            parts.append(("ray-small", lambda: run_ray(src, d, 0, 1, 2, CHUNK // 2, args.small)))
            if args.ray_nodes:
                parts.append((f"ray-{args.ray_nodes}", lambda: run_ray(src, d, args.ray_nodes, 1, 0, CHUNK // 2,
                                                                        args.small)))
        if args.only:
            parts = [(n, f) for n, f in parts if n in args.only.split(",")]
        for name, fn in parts:
            res[name] = fn()
            print(name, json.dumps(_brief(res[name])), flush=True)
    if "local1" in res and "local1-small" in res:
        res["derived"] = derive(res)
    print("derived", json.dumps(res.get("derived", {})))
    if args.out:
        Path(args.out).write_text(json.dumps(res, indent=1))
    return 0


def _brief(r: dict) -> dict:
    return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()
            if k not in ("chunk_seconds", "workers")}


def derive(res: dict) -> dict:
    """Per-chunk cost from the two chunk lengths; per-frame cost in a worker; join cost per chunk."""
    out: dict = {}
    a, b = res.get("local1", {}), res.get("local1-small", {})
    if a.get("chunks") and b.get("chunks"):
        fa, fb = a["frames"] / a["chunks"], b["frames"] / b["chunks"]
        per_frame = (a["mean_chunk"] - b["mean_chunk"]) / (fa - fb)
        out["worker_seconds_per_frame"] = per_frame
        out["chunk_fixed_seconds"] = a["mean_chunk"] - per_frame * fa
        out["join_mux_per_chunk"] = b["timings"]["join_mux"] / b["chunks"]
        out["single_vs_local1"] = res["single"]["fps"] / a["fps"] if "single" in res else None
    return out


if __name__ == "__main__":
    sys.exit(main())
