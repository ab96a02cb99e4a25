"""Chunked renders (vsrife.jobs): the chunk plan, local workers, resume, faults.

The end-to-end tests render real footage (bikes.mp4, scaled to 96x64, with an audio track) with a
lossless codec (FFV1 in Matroska) and compare every decoded frame, its timestamp and the audio with a
single-process render of the same command (``--chunk-frames 0``).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import pytest
from helpers import frames_of, jobs_summary

from vsrife.jobs.chunks import CUT_WINDOW, Chunk, first_output, plan_chunks, source_span
from vsrife.vs.dedup import DedupMapping, Scan
from vsrife.vs.timing import CFRMapping, TimelineMapping

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
CODEC = ["-c", "ffv1", "--threads", "1", "-q"]


# ----------------------------------------------------------------------------------------------- the plan
def _mappings(rng: random.Random, n: int) -> dict:
    fps = Fraction(24000, 1001)
    starts = [Fraction(0)]
    for _ in range(n):
        starts.append(starts[-1] + Fraction(rng.choice([1001, 1001, 2002, 3003, 500]), 24000))
    keys = sorted({0, *rng.sample(range(1, n), k=max(1, n // 3))})
    cuts = {k for k in keys[1:] if rng.random() < 0.2}
    return {
        "multi": CFRMapping(n, Fraction(rng.choice([2, 3, 4, 8])), fps),
        "factor": CFRMapping(n, Fraction(60000, 1001) / fps, fps),  # 24000/1001 -> 60000/1001
        "fps": CFRMapping(n, Fraction(rng.choice([30, 50, 60])) / Fraction(25), Fraction(25)),
        "vfr": TimelineMapping(starts, Fraction(60)),
        "dedup": DedupMapping(CFRMapping(n, Fraction(2), fps), Scan(keys=keys, cuts=cuts)),
        "dedup-factor": DedupMapping(CFRMapping(n, Fraction(5, 2), fps), Scan(keys=keys, cuts=cuts)),
    }


def _check_plan(m, chunks: list[Chunk], limit: int, cuts: list[int], kind: str) -> None:
    assert chunks[0].src_start == 0 and chunks[0].out_start == 0
    assert chunks[-1].src_stop == m.num_src and chunks[-1].out_stop == m.num_out
    for a, b in itertools.pairwise(chunks):
        assert a.src_stop == b.src_start and a.out_stop == b.out_start  # exact tiling: no gap, no overlap
    keys = getattr(m, "keys", None)
    for c in chunks:
        assert c.frames >= 1
        if kind != "vfr":  # a target rate may drop source frames: an empty chunk then joins its neighbour
            assert c.src_stop - c.src_start <= limit
        if not c.at_cut:  # no cut within the window around its end that a cut may move the end within
            slack = max(1, int(limit * CUT_WINDOW / 2))
            lo, hi = max(c.src_start + 1, c.src_stop - slack), min(c.src_start + limit, c.src_stop + slack)
            assert not [x for x in cuts if lo <= x <= hi]
        timing = getattr(m, "base", m)  # dedup re-times content, not frames
        prev = c.src_start if keys is None else max(k for k in keys if k <= c.src_start)
        nxt = c.src_stop if keys is None else next((k for k in keys if k >= c.src_stop), m.num_src)
        for n in range(c.out_start, c.out_stop):  # the frames it owns: exactly those from its own source frames
            i, j, _t = m.pair(n)
            assert c.src_start <= timing.position(n)[0] < c.src_stop
            assert prev <= i and j <= min(nxt, m.num_src - 1)  # at most the next chunk's first frame is shared
        assert source_span(m, c)[0] >= prev
    owned = [n for c in chunks for n in range(c.out_start, c.out_stop)]
    assert owned == list(range(m.num_out))


@pytest.mark.parametrize("kind", ["multi", "factor", "fps", "vfr", "dedup", "dedup-factor"])
def test_chunks_tile_exactly(kind):
    """Many random lengths, limits and cuts: output ranges tile [0, num_out) and match the single mapping."""
    rng = random.Random(14)
    for trial in range(30):
        n = rng.randint(2, 300)
        m = _mappings(rng, n)[kind]
        limit = rng.randint(1, 120)
        cuts = sorted(rng.sample(range(1, n), k=min(n - 1, rng.randint(0, 12)))) if n > 2 else []
        chunks = plan_chunks(m, limit, lambda lo, hi, cuts=cuts: [c for c in cuts if lo <= c <= hi])
        _check_plan(m, chunks, limit, cuts, kind)
        for s in rng.sample(range(n + 1), k=min(n + 1, 10)):  # first_output against a linear scan
            t = getattr(m, "base", m)
            assert first_output(m, s) == next((k for k in range(m.num_out) if t.position(k)[0] >= s), m.num_out)
        assert trial is not None


def test_job_files_are_json_of_known_types_only():
    """The job a local worker reads and the plan a resume reads back: JSON, exact, and no other types."""
    from vsrife.jobs import codec
    from vsrife.media import EncodeOptions
    from vsrife.vs.timeline import Timeline

    m = _mappings(random.Random(3), 120)
    value = {"mappings": list(m.values()), "timeline": Timeline((Fraction(0), Fraction(1, 25), Fraction(3, 25))),
             "enc": EncodeOptions(extra=("-tune", "film")), "head": b"YUV4MPEG2 W96", "cuts": {3, 1}, "t": (1, 2.5)}
    back = codec.loads(codec.dumps(value))
    for a, b in zip(value["mappings"], back["mappings"], strict=True):
        assert type(a) is type(b) and [a.pair(n) for n in range(a.num_out)] == [b.pair(n) for n in range(b.num_out)]
    assert {k: v for k, v in back.items() if k != "mappings"} == {k: v for k, v in value.items() if k != "mappings"}
    for bad in ('{"$": "o", "t": "Popen", "v": {"args": "sh"}}', '{"$": "x", "v": 1}'):
        with pytest.raises(ValueError):
            codec.loads(bad)
    with pytest.raises(TypeError):
        codec.dumps(object())


def test_chunks_end_at_cuts_near_their_target():
    m = CFRMapping(1000, Fraction(2), Fraction(24))
    cuts = [95, 280, 999]
    chunks = plan_chunks(m, 100, lambda lo, hi: [c for c in cuts if lo <= c <= hi])
    assert [c.src_start for c in chunks[:3]] == [0, 95, 186]  # 95: a cut near 100; then 905 frames in 10 chunks
    assert chunks[0].at_cut and not chunks[1].at_cut
    assert chunks[3].src_start == 280 and chunks[2].at_cut  # 280 is within the window of the third end (277)


# ---------------------------------------------------------------------------------------- real renders
def test_cut_finder_is_the_filters_own_decision(src):
    """The planner's cuts are exactly the pairs the filter does not interpolate across (RifeSceneChange)."""
    import vapoursynth as vs

    from vsrife.jobs.cuts import CutFinder
    from vsrife.scenes import CUT_THRESHOLD
    from vsrife.vs.api import RIFE

    clip = vs.core.bs.VideoSource(str(src), showprogress=0)
    finder = CutFinder(clip, CUT_THRESHOLD)
    found = finder(1, clip.num_frames - 1)
    out = RIFE(clip, multi=2)
    filt = [i + 1 for i in range(clip.num_frames - 1) if out.get_frame(2 * i + 1).props["RifeSceneChange"]]
    assert found == filt and 30 in found
    assert finder(20, 25) == [] and finder(28, 33) == [30] and finder.read == clip.num_frames + 7 + 7


def cli(capsys, *args: str) -> tuple[int, str]:
    """``vsrife interpolate ARGS`` in this process (the coordinator; its workers are processes): (rc, stderr)."""
    from vsrife.cli import main

    capsys.readouterr()
    rc = main(["interpolate", *args])
    return rc, capsys.readouterr().err


def chunk_counts(stderr: str) -> dict[str, int]:
    """{"rendered": R, "reused": K, "retried": X} from the summary line of a chunked render."""
    return jobs_summary(stderr)


@pytest.mark.parametrize(("workers", "rate", "chunks"), [(1, "multi", 4), (2, "fps", 4), (1, "dedup", 4),
                                                     (2, "vfr", 4)])
def test_chunked_render_equals_single_render(jobs_src, jobs_vfr_src, reference, tmp_path, capsys, workers, rate,
                                             chunks):
    """Same frame count, same bits, same timestamps, same audio as one process; no work folder left.

    multi 2; 24000/1001 -> 60000/1001 (a rational factor, boundaries inside its cycle); dedup (its scan made
    once, by the coordinator); a variable-frame-rate source whose output keeps its real timestamps."""
    from conftest import JOBS_RATES

    out = tmp_path / "out.mkv"
    src = jobs_vfr_src if rate == "vfr" else jobs_src
    rc, err = cli(capsys, str(src), str(out), *JOBS_RATES[rate], *CODEC[:-1], "--workers", str(workers),
                  "--chunk-frames", "16")
    assert rc == 0, err
    counts = chunk_counts(err)
    assert counts["rendered"] == chunks and counts["reused"] == 0  # 60 frames: 4 chunks of 15 (the cut at 30 ends one)
    assert f"chunks {chunks} done, 0 running, 0 queued" in err
    video, audio = frames_of(out)
    ref_video, ref_audio = frames_of(reference(rate))
    assert len(video) == len(ref_video) == {"multi": 120, "fps": 150, "dedup": 120, "vfr": 112}[rate]
    assert video == ref_video and audio == ref_audio
    if rate == "vfr":  # the real timeline: the dropped frames' gaps are in the output
        pts = sorted(float(ln.split(",")[2]) for ln in video)
        steps = {round(b - a) for a, b in itertools.pairwise(pts)}
        assert len(steps) > 1
    assert not (tmp_path / "out.mkv.vsrife").exists()


def _wait_for(pred, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def _children(pid: int) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = Path(f"/proc/{d}/stat").read_text()
                cmd = Path(f"/proc/{d}/cmdline").read_bytes()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid and b"vsrife.jobs.worker" in cmd:
                out.append(int(d))
    return out


def test_killed_worker_is_retried(src, reference, tmp_path, capsys):
    """kill -9 a worker while it writes a segment: its chunk runs again; the output is unchanged."""
    import threading

    out = tmp_path / "out.mkv"
    work = tmp_path / "out.mkv.vsrife"
    result: list = []
    run = threading.Thread(target=lambda: result.append(cli(capsys, str(src), str(out), "--multi", "2", *CODEC[:-1],
                                                            "--workers", "2", "--chunk-frames", "16")))
    run.start()
    _wait_for(lambda: work.is_dir() and any(".partial-" in p.name and p.stat().st_size > 0 for p in work.iterdir()))
    victim = int(next(p for p in work.iterdir() if ".partial-" in p.name).name.split("-")[1].split(".")[0])
    assert victim in _children(os.getpid())  # the segment's writer: one of our worker processes
    os.kill(victim, signal.SIGKILL)
    run.join(timeout=300)
    rc, err = result[0]
    assert rc == 0, err
    counts = chunk_counts(err)
    assert counts["retried"] >= 1 and counts["rendered"] == 4
    assert frames_of(out) == frames_of(reference("multi"))


@pytest.fixture
def src(jobs_src) -> Path:
    return jobs_src


@pytest.fixture
def reference(jobs_reference):
    return jobs_reference


@pytest.fixture(scope="module")
def interrupted(jobs_src, tmp_path_factory) -> Path:
    """The work folder of a render killed (kill -9, the whole process group) after 2 of its 4 chunks."""
    src = jobs_src
    d = tmp_path_factory.mktemp("killed")
    out = d / "out.mkv"
    work = d / "out.mkv.vsrife"
    proc = subprocess.Popen([PY, "-m", "vsrife", "interpolate", str(src), str(out), "--multi", "2", *CODEC,
                             "--workers", "1", "--chunk-frames", "16"], env=ENV, start_new_session=True)

    def recorded() -> int:
        try:
            return len(json.loads((work / "manifest.json").read_text())["segments"])
        except (OSError, ValueError, KeyError):
            return 0

    _wait_for(lambda: recorded() >= 2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not out.exists() and 2 <= recorded() < 4
    return work


def _resume_copy(interrupted: Path, tmp_path: Path) -> tuple[Path, Path]:
    out = tmp_path / "out.mkv"
    shutil.copytree(interrupted, tmp_path / "out.mkv.vsrife")
    return out, tmp_path / "out.mkv.vsrife"


def test_resume_after_kill_finishes_only_missing_chunks(src, reference, interrupted, tmp_path, capsys):
    out, work = _resume_copy(interrupted, tmp_path)
    done = len(json.loads((work / "manifest.json").read_text())["segments"])
    rc, err = cli(capsys, str(src), str(out), "--multi", "2", *CODEC[:-1], "--workers", "1", "--chunk-frames", "16")
    assert rc == 0, err
    assert chunk_counts(err) == {"rendered": 4 - done, "reused": done, "retried": 0}
    assert frames_of(out) == frames_of(reference("multi"))
    assert not work.exists()


def test_corrupt_and_truncated_segments_are_redone(src, reference, interrupted, tmp_path, capsys):
    out, work = _resume_copy(interrupted, tmp_path)
    segs = sorted(work.glob("0000[0-9].nut"))
    assert len(segs) >= 2
    data = bytearray(segs[0].read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte: same size, other checksum
    segs[0].write_bytes(bytes(data))
    with open(segs[1], "r+b") as f:  # truncated
        f.truncate(segs[1].stat().st_size // 2)
    rc, err = cli(capsys, str(src), str(out), "--multi", "2", *CODEC[:-1], "--workers", "1")  # the manifest's plan
    assert rc == 0, err
    counts = chunk_counts(err)
    assert counts["reused"] == len(segs) - 2 and counts["rendered"] == 4 - counts["reused"]
    assert frames_of(out) == frames_of(reference("multi"))


def test_other_settings_never_mix_with_a_manifest(src, interrupted, tmp_path, capsys):
    out, work = _resume_copy(interrupted, tmp_path)
    rc, err = cli(capsys, str(src), str(out), "--multi", "3", *CODEC, "--workers", "1")
    assert rc == 1
    msg = err.strip().splitlines()[-1]
    assert "holds a render with other settings" in msg and "--restart" in msg and "multi: 2 -> 3" in msg
    assert len(json.loads((work / "manifest.json").read_text())["segments"]) >= 2  # untouched
    rc, err = cli(capsys, str(src), str(out), "--multi", "3", *CODEC[:-1], "--workers", "1", "--restart",
                  "--chunk-frames", "30")
    assert rc == 0, err
    assert chunk_counts(err)["reused"] == 0
    assert len(frames_of(out)[0]) == 180


def _in_mount_namespace(script: str) -> subprocess.CompletedProcess:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare(1) for a private tmpfs mount")
    return subprocess.run(["unshare", "-m", "bash", "-c", script], capture_output=True, text=True, env=ENV,
                          timeout=300)


def test_full_disk_stops_with_a_clear_error_and_keeps_segments(src, tmp_path):
    d = tmp_path / "small"
    d.mkdir()
    keep = tmp_path / "kept"
    cmd = " ".join([PY, "-m", "vsrife", "interpolate", str(src), f"{d}/out.mkv", "--multi", "2", *CODEC,
                    "--workers", "1", "--chunk-frames", "16"])
    res = _in_mount_namespace(f"mount -t tmpfs -o size=250k tmpfs {d} && {cmd}; rc=$?; "
                              f"cp -r {d}/out.mkv.vsrife {keep}; exit $rc")
    assert res.returncode == 1, res.stderr
    msg = res.stderr.strip().splitlines()[-1]
    assert "no space left on device" in msg.lower() and "finished segments are kept" in msg, msg
    manifest = json.loads((keep / "manifest.json").read_text())
    assert 1 <= len(manifest["segments"]) < 4
    for info in manifest["segments"].values():
        assert (keep / f"{info['index']:05d}.nut").stat().st_size == info["size"]


def test_unwritable_work_folder_is_a_clear_error(src, tmp_path):
    work = tmp_path / "out.mkv.vsrife"
    work.mkdir()
    cmd = " ".join([PY, "-m", "vsrife", "interpolate", str(src), f"{tmp_path}/out.mkv", *CODEC, "--workers", "1"])
    res = _in_mount_namespace(f"mount -t tmpfs -o ro tmpfs {work} && {cmd}")
    assert res.returncode == 1
    msg = res.stderr.strip().splitlines()[-1]
    assert f"work folder '{work}': on a read-only file system" in msg, msg


@pytest.mark.parametrize(("cores", "threads", "workers"), [(1, 1, 1), (2, 1, 2), (4, 2, 2), (8, 4, 2), (16, 4, 4)])
def test_default_workers_and_threads_follow_the_cores(monkeypatch, tmp_path, cores, threads, workers):
    """Locally half the cores per worker (1 to 4), so 2 cores or more run at least 2 workers; Ray tasks take 2."""
    from vsrife.jobs.local import default_workers
    from vsrife.jobs.render import RenderRequest, default_threads
    from vsrife.media import EncodeOptions

    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    req = RenderRequest(tmp_path / "in.mkv", tmp_path / "out.mkv", {"multi": 2}, EncodeOptions())
    assert default_threads(req) == threads
    assert default_workers(default_threads(req)) == workers
    assert default_threads(RenderRequest(tmp_path / "a", tmp_path / "b", {}, EncodeOptions(), ray="auto")) == 2
    assert default_threads(RenderRequest(tmp_path / "a", tmp_path / "b", {}, EncodeOptions(), threads=3)) == 3
