"""Binary wheels (issue 18): ``make wheel``'s manylinux wheel works where no C compiler exists, the Windows
wheel's DLLs export what VapourSynth and ctypes look up, and a source build without a compiler or headers
says what is missing and how to get a wheel instead.

The wheels are built once per session, the way ``make wheel`` / ``make wheel-windows`` build them
(tools/wheel.py: sdist, then ``pip wheel`` from the unpacked sdist, then auditwheel), both at once.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import vapoursynth as vs
from helpers import POLICY

import vsrife
from vsrife.plugin import signature as _signature

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("wheel_tools", ROOT / "tools" / "wheel.py")
assert spec and spec.loader
wt = importlib.util.module_from_spec(spec)
spec.loader.exec_module(wt)
VERSION = vsrife.__version__
HAVE_MINGW = shutil.which(wt.MINGW_CC) is not None and shutil.which(wt.MINGW_OBJDUMP) is not None
COMPILERS = ("cc", "gcc", "clang", "c99", "tcc", "x86_64-linux-gnu-gcc", "x86_64-w64-mingw32-gcc")


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """{"sdist", "linux", "windows" (with mingw-w64)}: built by tools/wheel.py in parallel processes."""
    out = tmp_path_factory.mktemp("dist")
    targets = ["linux", "windows"] if HAVE_MINGW else ["linux"]
    procs = {t: subprocess.Popen([sys.executable, str(ROOT / "tools" / "wheel.py"), t, "--out", str(out / t)],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for t in targets}
    logs = {t: p.communicate(timeout=900)[0] for t, p in procs.items()}
    for t, p in procs.items():
        assert p.returncode == 0, f"tools/wheel.py {t} failed:\n{logs[t][-6000:]}"
    found = {t: next((out / t).glob("*.whl")) for t in targets}
    return {**found, "sdist": next((out / "linux").glob("*.tar.gz"))}


def test_linux_wheel_is_manylinux_with_plugin_kernels_and_package(built: dict[str, Path], tmp_path: Path) -> None:
    whl = built["linux"]
    prefix = f"vapoursynth_rife-{VERSION}-py3-none-"
    assert whl.name.startswith(prefix) and whl.name.endswith(".whl"), whl.name
    tags = whl.name[len(prefix):-4].split(".")  # e.g. manylinux2014_x86_64.manylinux_2_17_x86_64
    (tag,) = [t for t in tags if re.fullmatch(r"manylinux_2_\d+_x86_64", t)]
    assert wt.auditwheel_show(whl) == tag  # auditwheel itself agrees with the tag
    # no newer glibc than the vapoursynth R81 and torch wheels need (2.28): the shim binds dlsym@GLIBC_2.2.5
    assert int(tag.split("_")[2]) <= 28, tag
    info = wt.check_wheel(whl, "linux")  # members, exports, needed libraries, the three ISA builds
    assert info["kernels"]["needed"] <= {"libc.so.6", "libm.so.6"}, info["kernels"]["needed"]
    assert {"vsrife/LICENSE-RIFE-weights.txt", "vsrife/__init__.pyi", "vsrife/py.typed", "vsrife/cli/__init__.py",
            "vsrife/install.py"} <= info["names"]
    meta = info["metadata"]
    assert "Requires-Python: >=3.12" in meta and "Requires-Dist: vapoursynth==81" in meta
    assert 'Provides-Extra: cluster' in meta and 'Requires-Dist: ray==2.60.0; extra == "cluster"' in meta
    with zipfile.ZipFile(whl) as z:
        record = z.read(f"vapoursynth_rife-{VERSION}.dist-info/RECORD").decode()
        so = z.extract("vapoursynth/plugins/librife_vsrife.so", tmp_path)
    assert re.search(r"^vapoursynth/plugins/librife_vsrife\.so,sha256=", record, re.M)  # pip uninstall removes it
    # the wheel's plugin loads into a core of its own and declares the current signature
    script = POLICY + f"""core = vs.core
core.std.LoadPlugin({so!r})
p = next(p for p in core.plugins() if p.namespace == "rife")
print(__import__("json").dumps([p.identifier, p.name, core.rife.RIFE.signature, core.rife.Bind.signature]))
"""
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == ["com.vsrife.rife", "vsrife (RIFE frame interpolation, PyTorch)",
                                    _signature.args_string(), _signature.BIND_ARGS]


def test_sdist_holds_the_sources_and_no_binaries(built: dict[str, Path]) -> None:
    sdist = built["sdist"]
    assert sdist.name == f"vapoursynth_rife-{VERSION}.tar.gz"
    with tarfile.open(sdist) as t:
        names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
    assert {"setup.py", "pyproject.toml", "README.md", "MANIFEST.in", "plugin/rife_shim.c", "vsrife/nn/csrc/fused.c",
            "vsrife/plugin/signature.py", "PKG-INFO"} <= names
    assert not [n for n in names if n.endswith((".so", ".dll", ".pyc"))]


# -- the wheel in a fresh venv without a compiler ---------------------------------------------------------
CLIP = """
import numpy as np
import vapoursynth as vs
core = vs.core
H, W = 64, 96
y, x = np.mgrid[0:H, 0:W].astype(np.float32)
def picture(k):  # a soft texture with a bright square moving 12 px per frame
    img = 90 + 30 * np.sin(x / 6 + y / 9) * np.cos(y / 5)
    img[24:40, 24 + 12 * k:40 + 12 * k] = 230
    return img.astype(np.uint8)
base = core.std.BlankClip(width=W, height=H, format=vs.GRAY8, length=2, fpsnum=25, fpsden=1)
def fill(n, f):
    out = f.copy()
    np.asarray(out[0])[...] = picture(n)
    return out
src = base.std.ModifyFrame(base, fill)
"""

VPY = CLIP + """
import json, sys
out = core.rife.RIFE(src, multi=2)   # no 'import vsrife' before: the autoloaded plugin binds it
import torch, vsrife
from vsrife.nn import fused
p = next(p for p in core.plugins() if p.namespace == "rife")
sys.stderr.write("INFO " + json.dumps({
    "vsrife": vsrife.__file__, "vapoursynth": vs.__file__, "torch": torch.__file__, "plugin": p.plugin_path,
    "identifier": p.identifier, "kernels": str(fused.library_path()), "available": fused.available(),
    "isa": fused.isa(), "frames": out.num_frames}) + "\\n")
out.set_output()
"""


def _python312() -> str:
    """The Python 3.12 that `make setup` uses (the Makefile's own search)."""
    r = subprocess.run(["make", "-s", "--no-print-directory", "print-python"], cwd=ROOT, capture_output=True,
                       text=True, timeout=60)
    path = r.stdout.strip()
    assert r.returncode == 0 and path, f"make print-python found no Python 3.12: {r.stderr}"
    return os.path.realpath(path)


def _compilerless_env(tmp_path: Path, venv: Path) -> dict[str, str]:
    """PATH = the venv's bin and an empty folder; no CC/CXX; VapourSynth's config in a folder of its own."""
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("CC", "CXX", "CPP", "LDSHARED", "PYTHONPATH",
                                                              "VIRTUAL_ENV", "PYTHONHOME")}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{empty}", XDG_CONFIG_HOME=str(tmp_path / "config"))
    for cc in COMPILERS:
        assert shutil.which(cc, path=env["PATH"]) is None, f"{cc} is reachable"
    return env


def _vapoursynth_wheel(tmp_path: Path) -> Path:
    """The vapoursynth==81 wheel (pip's cache or the index; binary only)."""
    d = tmp_path / "vs-wheel"
    r = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary", ":all:",
                        "-d", str(d), f"vapoursynth=={vs.__version__.release_major}"], capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return next(d.glob("vapoursynth-*.whl"))


def _reference_frames() -> np.ndarray:
    """The same clip through this environment's (editable) vsrife, for comparison."""
    scope: dict = {}
    exec(CLIP, scope)
    out = vs.core.rife.RIFE(scope["src"], multi=2)
    return np.stack([np.asarray(out.get_frame(k)[0]).copy() for k in range(out.num_frames)])


def test_wheel_works_in_a_fresh_venv_without_a_compiler(built: dict[str, Path], tmp_path: Path) -> None:
    """pip installs the wheel into a new Python 3.12 venv (no cc/gcc on PATH, no CC); vspipe runs core.rife.RIFE.

    The heavy dependencies (torch, numpy, ...) come from this test's environment through a .pth line, so nothing
    but vapoursynth and our wheel is installed; vsrife itself, its plugin and its kernels come only from the wheel.
    """
    venv = tmp_path / "venv"
    subprocess.run([_python312(), "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    env = _compilerless_env(tmp_path, venv)
    py = venv / "bin" / "python"
    r = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps", "--no-index",
                        "--only-binary", ":all:", str(_vapoursynth_wheel(tmp_path)), str(built["linux"])],
                       env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], env=env,
                               capture_output=True, text=True, check=True).stdout.strip())
    deps = Path(next(p for p in sys.path if p.endswith("site-packages") and (Path(p) / "torch").is_dir()))
    (site / "zz_test_deps.pth").write_text(f"{deps}\n")  # after the venv's own site-packages
    subprocess.run([str(venv / "bin" / "vapoursynth"), "config"], env=env, check=True, capture_output=True,
                   timeout=120)
    (tmp_path / "t.vpy").write_text(VPY)
    r = subprocess.run([str(venv / "bin" / "vspipe"), str(tmp_path / "t.vpy"), str(tmp_path / "out.raw")],
                       env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-4000:]
    info = json.loads(next(ln for ln in r.stderr.splitlines() if ln.startswith("INFO "))[5:])
    assert Path(info["vsrife"]).resolve() == (site / "vsrife" / "__init__.py").resolve()
    assert Path(info["vapoursynth"]).resolve().is_relative_to(site.resolve())
    assert Path(info["plugin"]).resolve() == (site / "vapoursynth" / "plugins" / "librife_vsrife.so").resolve()
    assert Path(info["kernels"]).resolve() == (site / "vsrife" / "nn" / "_fused.so").resolve()
    assert info["identifier"] == "com.vsrife.rife" and info["available"] and info["isa"] in (0, 3, 4)
    assert Path(info["torch"]).resolve().is_relative_to(deps.resolve())  # borrowed, not installed
    frames = np.frombuffer((tmp_path / "out.raw").read_bytes(), np.uint8).reshape(-1, 64, 96)
    assert info["frames"] == len(frames) == 4
    ref = _reference_frames()
    assert np.abs(frames.astype(int) - ref).max() <= 1  # the same frames as the development install
    # and they are an interpolation: the square's middle row crosses at the halfway point (x 30..46)
    row = frames[1][32].astype(int)
    bright = np.flatnonzero(row > 180)
    assert len(bright) >= 10 and abs(bright.mean() - 37.5) <= 2.5, bright
    assert not np.array_equal(frames[1], frames[0]) and not np.array_equal(frames[1], frames[2])


# -- Windows ---------------------------------------------------------------------------------------------
@pytest.mark.skipif(not HAVE_MINGW, reason="mingw-w64 is not installed (apt-get install gcc-mingw-w64-x86-64)")
def test_windows_wheel_dlls_export_plugin_and_kernels(built: dict[str, Path]) -> None:
    """Cross-compiled, linked and exporting the right symbols; whether it runs on Windows is not tested here."""
    whl = built["windows"]
    assert whl.name == f"vapoursynth_rife-{VERSION}-py3-none-win_amd64.whl"
    info = wt.check_wheel(whl, "windows")  # also: only KERNEL32.dll and msvcrt.dll imported
    for lib in ("shim", "kernels"):
        assert info[lib]["format"] == "pei-x86-64", info[lib]
    assert info["shim"]["exports"] == {"VapourSynthPluginInit2"}
    assert info["kernels"]["exports"] == set(wt.KERNELS)
    assert "python" not in " ".join(info["shim"]["needed"])  # libpython is found at run time, not linked
    assert "Tag: py3-none-win_amd64" in info["wheel"]
    linux_meta = wt.check_wheel(built["linux"], "linux")["metadata"] if "linux" in built else None
    assert linux_meta is None or sorted(re.findall(r"^Requires-Dist: .*$", info["metadata"], re.M)) == sorted(
        re.findall(r"^Requires-Dist: .*$", linux_meta, re.M))
    _check_record(whl)


def _check_record(whl: Path) -> None:
    """Every member is in RECORD with its sha256 and size, as pip verifies on install."""
    with zipfile.ZipFile(whl) as z:
        rec_name = next(n for n in z.namelist() if n.endswith(".dist-info/RECORD"))
        rows = {r.split(",")[0]: r.split(",")[1:] for r in z.read(rec_name).decode().splitlines() if r}
        for name in z.namelist():
            if name == rec_name:
                continue
            data = z.read(name)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert rows.get(name) == [f"sha256={digest}", str(len(data))], name


# -- source builds without a compiler or headers ----------------------------------------------------------
def _build_shim(tmp_path: Path, env: dict[str, str], hide_vapoursynth: bool = False) -> subprocess.CompletedProcess:
    """``setup.py build_shim`` in a copy of the sources (the sdist's files)."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    for d in ("plugin", "vsrife"):
        shutil.copytree(ROOT / d, src / d, ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.dll"))
    hide = ("import importlib.util as u; f = u.find_spec; "
            "u.find_spec = lambda n, *a: None if n == 'vapoursynth' else f(n, *a); ") if hide_vapoursynth else ""
    code = hide + ("import runpy, sys; sys.argv = ['setup.py', 'build_shim']; "
                   "runpy.run_path('setup.py', run_name='__main__')")
    return subprocess.run([sys.executable, "-c", code], cwd=src, env=env, capture_output=True, text=True, timeout=300)


def test_source_build_without_a_compiler_says_so(tmp_path: Path) -> None:
    env = {**os.environ, "CC": "/nonexistent/cc"}
    r = _build_shim(tmp_path, env)
    assert r.returncode != 0
    msg = r.stderr.strip().splitlines()[-1]
    assert msg.startswith("vapoursynth-rife: no C compiler: '/nonexistent/cc' was not found; building from source "
                          "needs a C compiler"), msg
    assert "pip install --only-binary vapoursynth-rife vapoursynth-rife" in msg
    assert not (tmp_path / "src" / "vsrife" / "nn" / "_fused.so").exists()


def test_source_build_without_vapoursynth_headers_says_so(tmp_path: Path) -> None:
    # a compiler, but no headers: not in $VSRIFE_VS_INCLUDE, no vapoursynth package, pkg-config does not know them
    env = {**os.environ, "VSRIFE_VS_INCLUDE": str(tmp_path / "no-headers"), "PKG_CONFIG_PATH": str(tmp_path)}
    env.pop("CC", None)
    r = _build_shim(tmp_path, env, hide_vapoursynth=True)
    assert r.returncode != 0
    msg = r.stderr.strip().splitlines()[-1]
    assert msg.startswith("vapoursynth-rife: VapourSynth's header VapourSynth4.h was not found"), msg
    assert "pip install vapoursynth" in msg and "VSRIFE_VS_INCLUDE" in msg
    assert "pip install --only-binary vapoursynth-rife vapoursynth-rife" in msg


def test_unknown_target_is_refused(tmp_path: Path) -> None:
    r = _build_shim(tmp_path, {**os.environ, "VSRIFE_TARGET": "macosx_arm64"})
    assert r.returncode != 0
    assert r.stderr.strip().splitlines()[-1] == ("vapoursynth-rife: VSRIFE_TARGET must be empty (this machine) or "
                                                  "win_amd64, not 'macosx_arm64'")

