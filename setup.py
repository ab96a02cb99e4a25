"""Build and install vsrife: the Python package plus the native shim that provides ``core.rife.RIFE``.

The shim (``plugin/rife_shim.c``) is compiled with the system C compiler and installed as
``<site-packages>/vapoursynth/plugins/librife_vsrife.so``, the folder VapourSynth (PyPI wheel) autoloads,
next to e.g. vapoursynth-mvtools.  It is shipped as ``data_files`` so that it lands there for both
``pip install .`` and ``pip install -e .``.  The argument string comes from ``vsrife/plugin/signature.py``.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sysconfig
from pathlib import Path
from typing import ClassVar

from setuptools import Command, find_packages, setup
from setuptools.command.build import build
from setuptools.dist import Distribution

HERE = Path(__file__).resolve().parent
SHIM_SRC = Path("plugin") / "rife_shim.c"
SHIM_OUT = Path("build") / "plugin" / "librife_vsrife.so"
FUSED_SRC = Path("vsrife") / "nn" / "csrc" / "fused.c"
FUSED_OUT = Path("vsrife") / "nn" / "_fused.so"  # in the package folder, so that editable installs find it too


def _version() -> str:
    text = (HERE / "vsrife" / "__init__.py").read_text(encoding="utf-8")
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
    raise SystemExit("vsrife: VapourSynth4.h not found; install the vapoursynth wheel in the build environment "
                     "or set VSRIFE_VS_INCLUDE to the folder that holds it")


def _c_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


class build_shim(Command):  # noqa: N801 - setuptools command naming
    """Compile plugin/rife_shim.c (build/plugin/librife_vsrife.so) and vsrife/nn/csrc/fused.c (vsrife/nn/_fused.so)."""

    description = "compile the VapourSynth shim plugin"
    user_options: ClassVar[list] = []

    def initialize_options(self) -> None:
        pass

    def finalize_options(self) -> None:
        pass

    def run(self) -> None:
        sig = _signature()
        out = HERE / SHIM_OUT
        out.parent.mkdir(parents=True, exist_ok=True)
        major, minor = (int(x) for x in _version().split(".")[:2])
        cc = shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")[:1] or ["cc"]
        cmd = [*cc, "-shared", "-fPIC", "-O2", "-Wall", "-fvisibility=hidden", f"-I{_vs_include()}",
               f"-DRIFE_ARGS={_c_string(sig['args'])}", f"-DRIFE_RETURN={_c_string(sig['ret'])}",
               f"-DRIFE_BIND_ARGS={_c_string(sig['bind'])}",
               f"-DRIFE_PLUGIN_VERSION=(({major} << 16) | {minor})",
               str(HERE / SHIM_SRC), "-o", str(out), "-ldl", "-lpthread"]
        self.announce(" ".join(shlex.quote(c) for c in cmd), level=2)
        subprocess.run(cmd, check=True)
        # the fused CPU kernels (vsrife/fused.py loads them with ctypes; the torch path is used without them)
        fused = [*cc, "-shared", "-fPIC", "-O3", "-fno-math-errno", "-Wall", "-Wno-psabi", "-fvisibility=hidden",
                 str(HERE / FUSED_SRC), "-o", str(HERE / FUSED_OUT), "-lm"]
        self.announce(" ".join(shlex.quote(c) for c in fused), level=2)
        subprocess.run(fused, check=True)


class build_with_shim(build):  # noqa: N801
    """``build`` (also run by editable installs, before ``install_data``) compiles the shim first."""

    sub_commands: ClassVar[list] = [("build_shim", None), *build.sub_commands]


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
    name="vsrife",
    version=_version(),
    description="RIFE frame interpolation for VapourSynth (PyTorch), as vsrife.RIFE and core.rife.RIFE",
    long_description=(HERE / "README.md").read_text(encoding="utf-8") if (HERE / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.12",
    packages=find_packages(include=["vsrife", "vsrife.*"]),
    package_data={"vsrife": ["LICENSE-RIFE-weights.txt", "*.pyi", "py.typed"], "vsrife.nn": ["_fused.so", "csrc/*.c"]},
    include_package_data=True,
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
                 "vapoursynth-mlrt-ov==17.1", "onnx==1.23.2", "onnxscript==0.7.2"],
        "plots": ["matplotlib==3.11.2"],
        "bench": ["matplotlib==3.11.2", "vapoursynth-mvtools==29", "vapoursynth-mlrt-ov==17.1",
                  "vapoursynth-mlrt-ort==17.1.1", "onnx==1.23.2", "onnxscript==0.7.2"],
        "cuda": ["cupy-cuda12x"],
        "cluster": ["ray==2.60.0"],  # vsrife interpolate --ray (docs/render.md)
    },
    entry_points={"console_scripts": ["vsrife = vsrife.cli:main"]},
    data_files=[(_plugin_dir(), [str(SHIM_OUT)])],
    cmdclass={"build_shim": build_shim, "build": build_with_shim},
    distclass=BinaryDistribution,
    zip_safe=False,
)
