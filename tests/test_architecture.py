"""The package's design rules: layers, no import cycles, sizes, one settings reader, one error base, types."""

from __future__ import annotations

import ast
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("check_layers", ROOT / "tools" / "check_layers.py")
assert spec and spec.loader
check_layers = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_layers)


def test_layers_cycles_and_sizes() -> None:
    assert check_layers.problems() == []


def test_checker_finds_an_upward_import_and_a_cycle() -> None:
    graph = {"vsrife.nn.arch": {"vsrife.vs.api"}, "vsrife.vs.api": {"vsrife.nn.arch"}}
    assert check_layers.layer_violations(graph) == [
        "vsrife.nn.arch (layer nn=1) imports vsrife.vs.api (layer vs=4)"]
    assert check_layers.cycles(graph) == [["vsrife.nn.arch", "vsrife.vs.api"]]
    assert check_layers.layer_violations({"vsrife.dev.bench": {"vsrife.train.data"}})  # siblings on one layer


def _sources() -> dict[Path, ast.Module]:
    return {p: ast.parse(p.read_text(encoding="utf-8")) for p in (ROOT / "vsrife").rglob("*.py")}


def test_environment_is_read_in_settings_only() -> None:
    readers = set()
    for path, tree in _sources().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv") \
                    and isinstance(node.value, ast.Name) and node.value.id == "os":
                readers.add(path.relative_to(ROOT).as_posix())
    # dev/bench.py copies the environment for the vspipe processes it starts (it reads no setting)
    assert readers <= {"vsrife/settings.py", "vsrife/dev/bench.py"}, readers


def test_every_exception_class_derives_from_vsrife_error() -> None:
    import vsrife.errors as errors

    own = []
    for path, tree in _sources().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and any(
                    isinstance(b, ast.Name) and (b.id.endswith(("Error", "Exception"))) for b in node.bases):
                own.append((path.relative_to(ROOT).as_posix(), node.name))
    assert own, "no exception classes found"
    for where, name in own:
        assert where == "vsrife/errors.py", f"{where} defines {name}: define errors in vsrife/errors.py"
        assert issubclass(getattr(errors, name), errors.VsrifeError), name


@pytest.mark.skipif(shutil.which("mypy", path=str(Path(sys.executable).parent)) is None, reason="mypy not installed")
def test_type_hints_check() -> None:
    mypy = shutil.which("mypy", path=str(Path(sys.executable).parent))
    r = subprocess.run([str(mypy)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
