"""Every script in examples/ runs through ``vspipe`` on a tiny real clip and does what it says."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import vapoursynth as vs

core = vs.core
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
VSPIPE = Path(sys.executable).parent / "vspipe"
W, H = 96, 40


@pytest.fixture(scope="module")
def clips(footage: Path, tmp_path_factory) -> dict[str, Path]:
    """small.mkv: 5 frames of bikes at 25 fps; anime.mkv: 10 frames at 23.976 fps, each drawing held twice."""
    d = tmp_path_factory.mktemp("examples")
    small, anime = d / "small.mkv", d / "anime.mkv"
    bikes = str(footage / "bikes.mp4")
    subprocess.run(["ffmpeg", "-v", "error", "-i", bikes, "-vf", f"scale={W}:{H}", "-frames:v", "5", "-c:v", "libx264",
                    "-crf", "10", str(small)], check=True)
    subprocess.run(["ffmpeg", "-v", "error", "-i", bikes, "-vf", f"scale={W}:{H},fps=12,fps=24000/1001",
                    "-frames:v", "10", "-c:v", "libx264", "-crf", "10", str(anime)], check=True)
    return {"small": small, "anime": anime}


SOURCES = {"demo.vpy": "small",
           "smooth_x264.vpy": "small", "slowmo_x8.vpy": "small", "slowmo_x4.vpy": "small", "fps_5994.vpy": "small",
           "4k_half_scale.vpy": "small", "depth_gray.vpy": "small", "anime_dedup.vpy": "anime"}


def test_every_example_is_tested():
    assert {p.name for p in EXAMPLES.glob("*.vpy")} == set(SOURCES)


def _run(script: str, src: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(EXAMPLES.parent), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([str(VSPIPE), "-c", "y4m", "-a", f"src_path={src}", str(EXAMPLES / script), "-"],
                          capture_output=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def runs(clips) -> dict[str, Future]:
    """All examples through vspipe, three at a time (each vspipe spends most of its time importing torch)."""
    pool = ThreadPoolExecutor(3)
    futures = {name: pool.submit(_run, name, clips[kind]) for name, kind in SOURCES.items()}
    yield futures
    pool.shutdown(wait=True)


def vspipe(runs: dict[str, Future], script: str) -> tuple[dict[str, str], list[np.ndarray]]:
    """The y4m header fields and the frames (luma) that examples/<script> wrote."""
    r = runs[script].result()
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    data = r.stdout
    head, rest = data.split(b"\n", 1)
    fields = {t[0]: t[1:] for t in head.decode().split()[1:]}
    w, h = int(fields["W"]), int(fields["H"])
    if fields["C"].startswith("mono"):
        dtype, shape = (np.uint16 if fields["C"] == "mono16" else np.uint8), [(h, w)]
    else:
        assert fields["C"].startswith("420")
        dtype, shape = np.uint8, [(h, w), (h // 2, w // 2), (h // 2, w // 2)]
    size = sum(a * b for a, b in shape) * np.dtype(dtype).itemsize
    frames = []
    while rest:
        assert rest.startswith(b"FRAME")
        rest = rest.split(b"\n", 1)[1]
        frames.append(np.frombuffer(rest[:size], dtype)[: h * w].reshape(h, w))  # luma only
        rest = rest[size:]
    return fields, frames


def luma(path: Path, gray16: bool = False) -> list[np.ndarray]:
    clip = core.bs.VideoSource(str(path)).std.ShufflePlanes(0, vs.GRAY)
    if gray16:
        clip = clip.resize.Point(format=vs.GRAY16)
    return [np.asarray(f[0]).copy() for f in clip.frames()]


def is_new(mid: np.ndarray, a: np.ndarray, b: np.ndarray) -> bool:
    """``mid`` is a new picture, not a copy of either neighbour."""
    return not np.array_equal(mid, a) and not np.array_equal(mid, b)


def test_smooth_x264(clips, runs):
    f, frames = vspipe(runs, "smooth_x264.vpy")
    src = luma(clips["small"])
    assert (f["W"], f["H"], f["F"], f["C"][:3]) == (str(W), str(H), "50:1", "420")
    assert len(frames) == 10
    for k in range(5):
        assert np.array_equal(frames[2 * k], src[k])  # source frames untouched by RIFE and the format step
    for k in range(4):
        assert is_new(frames[2 * k + 1], src[k], src[k + 1])


@pytest.mark.parametrize("k", [4, 8])
def test_slowmo(clips, runs, k: int):
    f, frames = vspipe(runs, f"slowmo_x{k}.vpy")
    src = luma(clips["small"])
    assert f["F"] == "25:1" and len(frames) == 5 * k  # k times the frames at the source rate: k times slower
    for m in range(5):
        assert np.array_equal(frames[k * m], src[m])
    steps = [float(np.abs(frames[n + 1].astype(int) - frames[n]).mean()) for n in range(4 * k)]
    jump = float(np.abs(src[1].astype(int) - src[0]).mean())
    assert max(steps) < jump  # the motion is spread over the k steps instead of one jump


def test_fps_5994(clips, runs):
    f, frames = vspipe(runs, "fps_5994.vpy")
    assert f["F"] == "60000:1001"
    assert len(frames) == -(-5 * 60000 // (1001 * 25))  # same duration as the source
    assert np.array_equal(frames[0], luma(clips["small"])[0])


def test_4k_half_scale(clips, runs):
    f, frames = vspipe(runs, "4k_half_scale.vpy")
    src = luma(clips["small"])
    assert f["F"] == "50:1" and len(frames) == 10
    assert np.array_equal(frames[4], src[2])
    assert is_new(frames[3], src[1], src[2])


def test_depth_gray(clips, runs):
    f, frames = vspipe(runs, "depth_gray.vpy")
    src = luma(clips["small"], gray16=True)
    assert f["C"] == "mono16" and f["F"] == "50:1" and len(frames) == 10
    for k in range(5):
        assert np.array_equal(frames[2 * k], src[k])
    for k in range(4):
        mid = frames[2 * k + 1].astype(float)
        assert is_new(frames[2 * k + 1], src[k], src[k + 1])
        assert abs(mid.mean() - (src[k].mean() + src[k + 1].mean()) / 2) < 0.02 * 65535
        assert len(np.unique(frames[2 * k + 1] & 0xFF)) > 16  # 16-bit results, not 8-bit values shifted up


def test_anime_dedup(clips, runs):
    f, frames = vspipe(runs, "anime_dedup.vpy")
    src = luma(clips["anime"])
    assert f["F"] == "48000:1001" and len(frames) == 20
    held = sum(np.abs(src[k + 1].astype(int) - src[k]).mean() < 0.5 for k in range(9))
    assert held >= 4  # the input really is on twos
    # with dedup no output frame repeats its predecessor, up to the last drawing (held to the end: nothing follows)
    diffs = [float(np.abs(frames[n + 1].astype(int) - frames[n]).mean()) for n in range(16)]
    assert min(diffs) > 0.5


def test_demo_doubles_the_rate_at_640x360(runs) -> None:
    _head, frames = vspipe(runs, "demo.vpy")
    assert len(frames) == 10 and frames[0].shape == (360, 640), (len(frames), frames[0].shape)


def test_deprecated_registry_alias_still_imports() -> None:
    from vsrife import registry, weights

    assert registry.locate("footage") == weights.locate("footage")
