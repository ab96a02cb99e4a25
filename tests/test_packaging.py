"""Packaging: installed metadata, the console script, and a wheel built from the source tree."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from importlib import metadata
from pathlib import Path

import vapoursynth as vs
from helpers import POLICY

import vsrife
from vsrife.plugin import signature as _signature

ROOT = Path(__file__).resolve().parent.parent
VS_DIR = Path(vs.__file__).parent
SHIM = "librife_vsrife.so"


def test_installed_metadata_and_shim_location() -> None:
    # the pip-installed distribution (a stray vsrife.egg-info from an in-tree build has no RECORD)
    (dist,) = [d for d in metadata.distributions(name="vsrife") if d.read_text("RECORD")]
    assert dist.version == vsrife.__version__
    reqs = set(dist.requires or [])
    assert {"vapoursynth==81", "vsutil==0.8.0", "torch<=2.14.1,>=2.4", "numpy>=1.26", "safetensors>=0.4"} <= reqs
    assert any(r.startswith("pytest") and 'extra == "test"' in r for r in reqs)
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


def _copy_sources(dst: Path) -> None:
    for name in ("setup.py", "pyproject.toml", "README.md"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, dst / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.so")
    for d in ("plugin", "vsrife"):
        shutil.copytree(ROOT / d, dst / d, ignore=ignore)


def test_wheel_from_source_tree(tmp_path: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "dist"
    src.mkdir()
    _copy_sources(src)
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                        str(src)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    (whl,) = out.glob("vsrife-*.whl")
    assert whl.name == f"vsrife-{vsrife.__version__}-cp312-cp312-linux_x86_64.whl"
    rel = os.path.relpath(sysconfig.get_path("platlib"), sysconfig.get_path("data"))
    so_member = f"vsrife-{vsrife.__version__}.data/data/{rel}/vapoursynth/plugins/{SHIM}"
    with zipfile.ZipFile(whl) as z:
        names = set(z.namelist())
        assert {so_member, "vsrife/LICENSE-RIFE-weights.txt", "vsrife/__init__.pyi", "vsrife/py.typed",
                "vsrife/plugin/signature.py", "vsrife/plugin/bind.py", "vsrife/cli/__init__.py"} <= names
        z.extract(so_member, tmp_path)
    # the wheel's library loads into a core of its own and declares the current signature
    script = POLICY + f"""core = vs.core
core.std.LoadPlugin({str(tmp_path / so_member)!r})
p = next(p for p in core.plugins() if p.namespace == "rife")
print(__import__("json").dumps([p.identifier, p.name, core.rife.RIFE.signature, core.rife.Bind.signature]))
"""
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == ["com.vsrife.rife", "vsrife (RIFE frame interpolation, PyTorch)",
                                    _signature.args_string(), _signature.BIND_ARGS]
