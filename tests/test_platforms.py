"""Code paths that only make sense on Linux take their other branch elsewhere (issue 18: Windows wheels).

Each test makes this Linux machine look like Windows or macOS (``platform.system``, ``sys.platform``) and
checks that the Linux-only step is skipped, not attempted: glibc heap tuning, /proc/meminfo, the ``resource``
module, the kernels' file name, ffmpeg's process group.
"""

from __future__ import annotations

import ast
import builtins
import ctypes
import io
import subprocess
from pathlib import Path

import pytest

from vsrife import heap
from vsrife.dev import bench
from vsrife.engine import device
from vsrife.media import encode
from vsrife.nn import fused


def _forbid_libc(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_cdll(*args, **kw):
        raise AssertionError(f"ctypes.CDLL{args} called off glibc")

    monkeypatch.setattr(ctypes, "CDLL", no_cdll)


@pytest.mark.parametrize("system", ["Windows", "Darwin"])
def test_heap_tuning_is_skipped_off_linux(monkeypatch: pytest.MonkeyPatch, system: str) -> None:
    monkeypatch.setattr(heap.platform, "system", lambda: system)
    _forbid_libc(monkeypatch)
    assert heap._apply() is False


def test_heap_tuning_is_skipped_on_musl(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(heap.platform, "libc_ver", lambda *a, **k: ("", ""))
    _forbid_libc(monkeypatch)
    assert heap._apply() is False


def test_heap_tuning_applies_on_this_glibc_linux() -> None:
    """The branch the others skip really runs here (so the guards above are not vacuous)."""
    assert heap.platform.system() == "Linux" and heap.platform.libc_ver()[0] == "glibc"
    assert heap._apply() is True


@pytest.mark.parametrize("plat", ["win32", "darwin"])
def test_meminfo_is_not_read_off_linux(monkeypatch: pytest.MonkeyPatch, plat: str) -> None:
    real_open = builtins.open

    def guarded(path, *a, **k):
        assert str(path) != "/proc/meminfo", "/proc/meminfo read off Linux"
        return real_open(path, *a, **k)

    assert device.system_available_memory() > 0  # Linux: MemAvailable
    monkeypatch.setattr(device.sys, "platform", plat)
    monkeypatch.setattr(builtins, "open", guarded)
    assert device.system_available_memory() is None  # no check is made: the allocation itself may fail


def test_kernels_file_name_per_platform(monkeypatch: pytest.MonkeyPatch) -> None:
    assert fused.library_pattern("win32") == "_fused*.dll"
    assert fused.library_pattern("linux") == fused.library_pattern("darwin") == "_fused*.so"
    here = fused.library_path()
    assert here is not None and here.suffix == ".so"
    monkeypatch.setattr(fused.sys, "platform", "win32")
    found = fused.library_path()
    assert found is None or found.suffix == ".dll"  # never the Linux library


def test_peak_memory_without_the_resource_module(monkeypatch: pytest.MonkeyPatch) -> None:
    linux = bench.peak_rss_mb()
    assert linux is not None and 10 < linux < 1e6
    real_import = builtins.__import__

    def no_resource(name, *a, **k):
        if name == "resource":
            raise ImportError("No module named 'resource'")  # as on Windows
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_resource)
    assert bench.peak_rss_mb() is None
    assert "import resource" not in bench.SCRIPT.split("def peak_rss_mb", 1)[0]  # not imported at the top


def test_ffmpeg_process_group_on_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict = {}

    class FakePopen:
        def __init__(self, cmd, **kw):
            seen.update(kw, cmd=cmd)
            self.stdin, self.stderr = io.BytesIO(), io.BytesIO(b"")

    monkeypatch.setattr(encode.subprocess, "Popen", FakePopen)
    encode.FFmpegPipe(["ffmpeg"]).drain.join(5)
    assert seen["process_group"] == 0 and "creationflags" not in seen  # Linux: a process group of its own
    seen.clear()
    monkeypatch.setattr(encode.sys, "platform", "win32")
    monkeypatch.setattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0x200, raising=False)
    encode.FFmpegPipe(["ffmpeg"]).drain.join(5)
    assert seen["creationflags"] == 0x200 and "process_group" not in seen


def test_no_unix_only_module_is_imported_at_the_top() -> None:
    """A module-level import of resource, fcntl, termios, pwd or grp would break 'import vsrife' on Windows."""
    unix_only = {"resource", "fcntl", "termios", "pwd", "grp", "posix"}
    root = Path(bench.__file__).resolve().parents[1]
    bad = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:  # top level only: not inside functions
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            bad += [f"{path.relative_to(root)}:{node.lineno}: {n}" for n in names if n.split(".")[0] in unix_only]
    assert not bad, bad
