"""Packaging: installed metadata and the console script (the wheels themselves: tests/test_wheel.py)."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import vapoursynth as vs

import vsrife

ROOT = Path(__file__).resolve().parent.parent
VS_DIR = Path(vs.__file__).parent
SHIM = "librife_vsrife.so"


def test_installed_metadata_and_shim_location() -> None:
    # the pip-installed distribution (a stray vsrife.egg-info from an in-tree build has no RECORD)
    (dist,) = [d for d in metadata.distributions(name="vapoursynth-rife") if d.read_text("RECORD")]
    assert dist.version == vsrife.__version__
    assert not list(metadata.distributions(name="vsrife"))  # neither HolyWu's vs-rife nor our former name
    reqs = set(dist.requires or [])
    assert {"vapoursynth==81", "vsutil==0.8.0", "torch<=2.14.1,>=2.4", "numpy>=1.26", "safetensors>=0.4"} <= reqs
    assert any(r.startswith("pytest") and 'extra == "test"' in r for r in reqs)
    assert 'ray==2.60.0; extra == "cluster"' in reqs and any(r.startswith("cupy") and "cuda" in r for r in reqs)
    scripts = {e.name: e.value for e in dist.entry_points if e.group == "console_scripts"}
    assert scripts == {"vsrife": "vsrife.cli:main"}
    # the shim is recorded by pip (so uninstall removes it) and sits in VapourSynth's autoload folder
    recorded = [f for f in dist.files or [] if f.name == SHIM]
    assert [str(f) for f in recorded] == [f"vapoursynth/plugins/{SHIM}"]
    assert Path(dist.locate_file(recorded[0])).resolve() == (VS_DIR / "plugins" / SHIM).resolve()


def test_console_script() -> None:
    exe = Path(sys.executable).with_name("vsrife")
    r = subprocess.run([str(exe), "models", "--help"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "usage: vsrife models" in r.stdout
