"""Our PyPI name (vapoursynth-rife) and the other project that imports as ``vsrife`` (issue 18).

HolyWu's vs-rife (PyPI name ``vsrife``) is stood in for by a fake distribution: a ``vsrife-5.7.0.dist-info``
in a temporary site folder put on ``sys.path``, never the real package.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

import vsrife
from vsrife import install
from vsrife.errors import InstallError, VsrifeError

ROOT = Path(__file__).resolve().parent.parent
REMEDY = "run 'pip uninstall -y vsrife', then 'pip install --force-reinstall vapoursynth-rife'"


def _dist_info(site: Path, name: str, version: str, files: dict[str, bytes] | None = None,
               console_script: bool = False) -> Path:
    """A minimal installed distribution (METADATA, RECORD with sha256 of ``files``, which are written too)."""
    norm = name.replace("-", "_")
    info = site / f"{norm}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    rows = []
    for rel, data in (files or {}).items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_bytes(data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        rows.append(f"{rel},sha256={digest},{len(data)}")
    rows.append(f"{info.name}/METADATA,,")
    (info / "RECORD").write_text("\n".join(rows) + "\n")
    if console_script:
        (info / "entry_points.txt").write_text("[console_scripts]\nvsrife = vsrife.cli:main\n")
    return info


def _python(code: str, site: Path, first: bool = False) -> subprocess.CompletedProcess:
    """``code`` in a fresh Python that sees our vsrife and the stand-in site folder (after ours, or first)."""
    paths = [str(site), str(ROOT)] if first else [str(ROOT), str(site)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env,
                          cwd=site.parent, timeout=180)  # not the checkout: '' on sys.path would be it


def test_holywu_stand_in_is_refused_at_import(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _dist_info(site, "vsrife", "5.7.0")
    r = _python("import vsrife", site)
    assert r.returncode != 0
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("vsrife.errors.InstallError: vsrife: the distribution 'vsrife' 5.7.0 (in ")
    assert "is another project (HolyWu's vs-rife) that also imports as 'vsrife'" in last
    assert last.endswith(REMEDY)
    # without the stand-in the same Python imports vsrife (the check does not misfire on our own install)
    r = _python("import vsrife, warnings; print(vsrife.__version__)", tmp_path / "empty")
    assert r.returncode == 0 and r.stdout.strip() == vsrife.__version__, r.stderr


def test_core_rife_reports_the_stand_in(tmp_path: Path) -> None:
    """core.rife.RIFE (the shim binds without 'import vsrife') gives the same advice as its error."""
    site = tmp_path / "site"
    _dist_info(site, "vsrife", "5.7.0")
    code = """
        import vapoursynth as vs
        try:
            vs.core.rife.RIFE(vs.core.std.BlankClip())
        except vs.Error as e:
            print(e)
    """
    r = _python(code, site)
    assert r.returncode == 0, r.stderr
    out = r.stdout.strip()
    assert out.startswith("RIFE: could not load the vsrife Python implementation: cannot import the vsrife Python "
                          "package: InstallError: vsrife: the distribution 'vsrife' 5.7.0"), out
    assert REMEDY in out


def _isolated(code: str, site: Path) -> subprocess.CompletedProcess:
    """``code`` in a Python without site processing (no editable-install finder) that sees only ``site`` and the
    environment's site-packages (vapoursynth, torch): as a regular, non-editable install would be seen."""
    purelib = next(p for p in sys.path if p.endswith("site-packages") and (Path(p) / "vapoursynth").is_dir())
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), purelib])}
    return subprocess.run([sys.executable, "-S", "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=env, cwd=site.parent, timeout=180)


CALL_RIFE = """
    import vapoursynth as vs
    try:
        vs.core.rife.RIFE(vs.core.std.BlankClip())
    except vs.Error as e:
        print(e)
"""
PREFIX = "RIFE: could not load the vsrife Python implementation: "


def test_core_rife_names_the_other_package_when_it_shadows_ours(tmp_path: Path) -> None:
    """The other project's package first on sys.path: vsrife.plugin is not in it; the shim itself (its bind
    code) names the distribution and the fix."""
    site = tmp_path / "site"
    _dist_info(site, "vsrife", "5.7.0", {"vsrife/__init__.py": b"VERSION = 'stand-in for HolyWu vs-rife'\n"})
    r = _isolated(CALL_RIFE, site)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == PREFIX + (
        "cannot import the vsrife Python package: ModuleNotFoundError: No module named 'vsrife.plugin'; the "
        "distribution vsrife 5.7.0 is installed, another project (HolyWu's vs-rife) whose package has the same "
        "name: run 'pip uninstall -y vsrife', then 'pip install --force-reinstall vapoursynth-rife'")


def test_core_rife_reports_the_other_package_over_ours(tmp_path: Path) -> None:
    """The other project installed over ours in the same folder: its __init__.py replaced ours (so the import
    check never runs), our other modules are still there; vsrife.plugin.bind checks before binding."""
    site = tmp_path / "site"
    shutil.copytree(ROOT / "vsrife", site / "vsrife", ignore=shutil.ignore_patterns("__pycache__"))
    _dist_info(site, "vsrife", "5.7.0", {"vsrife/__init__.py": b"VERSION = 'stand-in for HolyWu vs-rife'\n"})
    r = _isolated(CALL_RIFE, site)
    assert r.returncode == 0, r.stderr
    out = r.stdout.strip()
    assert out.startswith(PREFIX + "the vsrife installation is broken: the distribution 'vsrife' 5.7.0 (in "), out
    assert out.endswith(REMEDY)


def test_former_name_install_only_warns(tmp_path: Path) -> None:
    """Our own project installed under its former name 'vsrife' (same files): a warning, and vsrife works."""
    site = tmp_path / "site"
    _dist_info(site, "vsrife", "3.0.0", console_script=True)
    r = _python("import warnings; warnings.simplefilter('always'); import vsrife; print('ok')", site)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"
    assert "UserWarning: vsrife: this project is also installed under its former name 'vsrife' 3.0.0" in r.stderr
    assert REMEDY in r.stderr


def test_files_not_from_our_wheel_are_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Our wheel's RECORD against the files imported: overwritten files and another copy on sys.path."""
    site = tmp_path / "site"
    good = b'"""ours"""\n'
    _dist_info(site, "vapoursynth-rife", vsrife.__version__, {"vsrife/__init__.py": good, "vsrife/__main__.py": good})
    monkeypatch.syspath_prepend(str(site))
    pkg = (site / "vsrife").resolve()
    assert install.problems(pkg) == []
    install.check(pkg)  # no error, no warning
    (site / "vsrife" / "__main__.py").write_text("# the other project's __main__\n")
    (found,) = install.problems(pkg)
    assert found.kind == "shadowed" and "__main__.py is not the file vapoursynth-rife installed" in found.message
    with pytest.raises(InstallError, match="another project's vsrife overwrote it") as e:
        install.check(pkg)
    assert isinstance(e.value, VsrifeError) and isinstance(e.value, ImportError)
    (elsewhere,) = install.problems(tmp_path / "elsewhere" / "vsrife")
    assert elsewhere.kind == "shadowed" and "is not the one vapoursynth-rife installed in" in elsewhere.message


def test_this_environment_is_clean() -> None:
    """The environment the tests run in has none of the problems (make setup removes a former-name install)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        install.check()
    assert install.DIST == "vapoursynth-rife" and install.INSTALL == "pip install vapoursynth-rife"
