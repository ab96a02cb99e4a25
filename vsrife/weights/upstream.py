"""Weights from the upstream release assets, for users with full internet access.

``vsrife models fetch 4.18`` downloads ``<base>/flownet_v4.18.pkl`` (base: ``Settings.upstream_url``,
``$VSRIFE_UPSTREAM_URL``, default HolyWu/vs-rife's GitHub release assets) into ``<cache>/upstream/``.
(:func:`vsrife.weights.loading.fetch_upstream` is the entry point.)  No digests of those files are
published, so the first download is trusted: its sha256 is written
next to the file (``flownet_v4.18.pkl.sha256``) and every later load and download is checked
against it.  A file is kept only if it loads with ``torch.load(weights_only=True)`` and has the
layout of the version asked for.  Errors are one line each (:class:`~vsrife.errors.AssetError`).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from .. import settings
from ..errors import AssetError
from .cache import cache_dir, sha256_file
from .catalog import UPSTREAM_VERSIONS, upstream_file

__all__ = ["TIMEOUT_S", "download", "download_version", "locate_upstream", "recorded_sha256", "upstream_dir",
           "upstream_url"]

TIMEOUT_S = 30.0  # connect and per-read timeout
CHUNK = 1 << 20


def upstream_dir(root: Path | None = None) -> Path:
    return (root or cache_dir()) / "upstream"


def upstream_url(version: str) -> str:
    return f"{settings.get().upstream_url.rstrip('/')}/{upstream_file(version)}"


def _check_version(version: str) -> None:
    if version not in UPSTREAM_VERSIONS:
        raise AssetError(f"unknown upstream version {version!r}; allowed: {', '.join(UPSTREAM_VERSIONS)}")


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def recorded_sha256(path: Path) -> str | None:
    """The sha256 recorded at the first download of ``path`` (None if never downloaded)."""
    side = _sidecar(path)
    text = side.read_text().strip() if side.is_file() else ""
    return text.split()[0].lower() if text else None


def download(url: str, dest: Path, log: Callable[[str], None] = print) -> str:
    """Stream ``url`` into ``dest`` (via a temporary file beside it); returns its sha256.

    A short read (fewer bytes than Content-Length, or the connection closed early) is an error.
    """
    h = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    got = 0
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=TIMEOUT_S) as resp:
            size = resp.headers.get("Content-Length")
            expected = int(size) if size and size.isdigit() else None
            log(f"downloading {url}" + (f" ({expected / 2**20:.1f} MiB)" if expected else ""))
            while chunk := resp.read(CHUNK):
                h.update(chunk)
                out.write(chunk)
                got += len(chunk)
        if expected is not None and got != expected:
            raise AssetError(f"download of {url} is truncated: {got} of {expected} bytes")
        if got == 0:
            raise AssetError(f"download of {url} is empty")
        os.replace(tmp, dest)
    except http.client.IncompleteRead as e:
        raise AssetError(f"download of {url} is truncated: {got + len(e.partial)} bytes, then the connection "
                         "closed") from None
    except urllib.error.HTTPError as e:
        raise AssetError(f"could not download {url}: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
        why = getattr(e, "reason", None) or e
        raise AssetError(f"could not download {url}: {why}; check the network or set $VSRIFE_UPSTREAM_URL") from None
    finally:
        Path(tmp).unlink(missing_ok=True)
    return h.hexdigest()


def download_version(version: str, check: Callable[[Path, str], str], root: Path | None = None,
                     log: Callable[[str], None] = print, force: bool = False, sha256: str | None = None) -> Path:
    """Download ``version``'s release asset (unless cached and verified), check and record its sha256.

    ``check(path, version)`` returns the layout name of the downloaded file or raises (the safe loading of
    :func:`vsrife.weights.loading.fetch_upstream`).  ``sha256``: the digest it must have (else the one recorded
    at the first download, if any).
    """
    _check_version(version)
    d = upstream_dir(root)
    path = d / upstream_file(version)
    recorded = recorded_sha256(path)
    want = (sha256 or recorded or "").lower() or None
    if not force and path.is_file() and want is not None and sha256_file(path) == want:
        log(f"{version}: already cached and verified in {path}")
        return path
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise AssetError(f"cache directory {d} is not writable ({e.strerror}); set VSRIFE_MODEL_DIR") from None
    tmp = d / (path.name + ".download")
    try:
        digest = download(upstream_url(version), tmp, log)
        if want is not None and digest != want:
            source = "given" if sha256 else f"recorded at the first download ({_sidecar(path).name})"
            raise AssetError(f"{upstream_url(version)} has sha256 {digest}, expected {want} ({source}); "
                             "the file was not kept")
        name = check(tmp, version)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _sidecar(path).write_text(f"{digest}  {path.name}\n")
    log(f"{version}: {path.name} ({name} layout) saved, sha256 {digest[:12]}... "
        + ("verified" if want else "recorded (trusted on first download)"))
    return path


def locate_upstream(version: str, root: Path | None = None) -> Path:
    """The cached file of ``version``, its sha256 checked against the recorded one."""
    _check_version(version)
    path = upstream_dir(root) / upstream_file(version)
    recorded = recorded_sha256(path)
    if not path.is_file() or recorded is None:
        raise AssetError(f"model {version!r} is not in the cache ({path}); run: python -m vsrife models fetch "
                         f"{version}  (downloads {upstream_url(version)})")
    digest = sha256_file(path)
    if digest != recorded:
        raise AssetError(f"{path} has sha256 {digest}, but {recorded} was recorded when it was downloaded; "
                         f"fetch it again: python -m vsrife models fetch {version} --force")
    return path
