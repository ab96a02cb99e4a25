"""Process-wide settings, read from the environment once, in this module only.

vspipe users configure vsrife through environment variables, so those stay the interface:

===========================  ==========================================================  =========
variable                     meaning                                                     default
===========================  ==========================================================  =========
``VSRIFE_MODEL_DIR``         the weights and footage cache                               see below
``VSRIFE_STREAMS``           concurrent model calls on the CPU (1..64)                   cores, <= 4
``VSRIFE_FAST``              ``0``: no CPU fast path (eager PyTorch modules)             on
``VSRIFE_FUSED``             ``0``: no fused C kernels (the fast path's torch ops)       on
``VSRIFE_MALLOC``            ``0``: leave glibc's malloc settings alone                  on
``VSRIFE_MEMORY_LIMIT_MB``   memory a frame may use, instead of what the OS reports      none
``VSRIFE_FFMPEG``            the ffmpeg executable of ``vsrife interpolate``             ffmpeg
``VSRIFE_MKVMERGE``          mkvmerge, which writes variable-frame-rate timestamps      mkvmerge
``VSRIFE_UPSTREAM_URL``      base URL of the upstream ``flownet_v<ver>.pkl`` assets      see below
===========================  ==========================================================  =========

The upstream base URL defaults to HolyWu/vs-rife's release assets, :data:`UPSTREAM_URL`
(``vsrife models fetch 4.18`` downloads ``<base>/flownet_v4.18.pkl``); a mirror or a local server
may replace it (http or https).

The cache is ``$VSRIFE_MODEL_DIR``, else ``$XDG_CACHE_HOME/vsrife``, else ``~/.cache/vsrife``.

:func:`get` returns the frozen :class:`Settings` (read on first use and kept); :func:`override`
changes some of them for a ``with`` block (tests, benchmark variants); :func:`set_settings`
replaces them for the rest of the process.  A bad value raises :class:`~vsrife.errors.SettingsError`
naming the variable and what it allows.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import SettingsError

__all__ = ["ENV_NAMES", "UPSTREAM_URL", "Settings", "from_env", "get", "override", "reset", "set_settings", "to_env"]

MAX_STREAMS = 64
UPSTREAM_URL = "https://github.com/HolyWu/vs-rife/releases/download/model"


@dataclass(frozen=True)
class Settings:
    """Everything vsrife reads from the environment."""

    model_dir: Path
    streams: int | None = None  # None: one per CPU thread, at most 4
    fast: bool = True
    fused: bool = True
    malloc: bool = True
    memory_limit_mb: float | None = None
    ffmpeg: str = "ffmpeg"
    mkvmerge: str = "mkvmerge"
    upstream_url: str = UPSTREAM_URL

    def __post_init__(self) -> None:
        s = self.streams
        if s is not None and (isinstance(s, bool) or not isinstance(s, int) or not 1 <= s <= MAX_STREAMS):
            raise SettingsError(f"streams must be an integer in 1..{MAX_STREAMS}, got {s!r}")
        if self.memory_limit_mb is not None and not self.memory_limit_mb > 0:
            raise SettingsError(f"memory_limit_mb must be positive, got {self.memory_limit_mb!r}")
        if not self.upstream_url.startswith(("http://", "https://")):
            raise SettingsError(f"upstream_url ($VSRIFE_UPSTREAM_URL) must be an http:// or https:// URL, "
                                f"got {self.upstream_url!r}")


def _flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "1") != "0"


def _default_model_dir(env: Mapping[str, str]) -> Path:
    if env.get("VSRIFE_MODEL_DIR"):
        return Path(env["VSRIFE_MODEL_DIR"]).expanduser()
    xdg = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "vsrife"


def _streams(env: Mapping[str, str]) -> int | None:
    raw = env.get("VSRIFE_STREAMS")
    if not raw:
        return None
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if not 1 <= n <= MAX_STREAMS:
        raise SettingsError(f"$VSRIFE_STREAMS must be an integer in 1..{MAX_STREAMS}, got {raw!r}")
    return n


def _memory(env: Mapping[str, str]) -> float | None:
    raw = env.get("VSRIFE_MEMORY_LIMIT_MB")
    if not raw:
        return None
    try:
        mb = float(raw)
    except ValueError:
        mb = -1.0
    if not mb > 0:
        raise SettingsError(f"$VSRIFE_MEMORY_LIMIT_MB must be a positive number of MiB, got {raw!r}")
    return mb


def from_env(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from ``env`` (default: ``os.environ``), validated."""
    env = os.environ if env is None else env
    return Settings(
        model_dir=_default_model_dir(env),
        streams=_streams(env),
        fast=_flag(env, "VSRIFE_FAST"),
        fused=_flag(env, "VSRIFE_FUSED"),
        malloc=_flag(env, "VSRIFE_MALLOC"),
        memory_limit_mb=_memory(env),
        ffmpeg=env.get("VSRIFE_FFMPEG") or "ffmpeg",
        mkvmerge=env.get("VSRIFE_MKVMERGE") or "mkvmerge",
        upstream_url=env.get("VSRIFE_UPSTREAM_URL") or UPSTREAM_URL,
    )


ENV_NAMES = {"model_dir": "VSRIFE_MODEL_DIR", "streams": "VSRIFE_STREAMS", "fast": "VSRIFE_FAST",
             "fused": "VSRIFE_FUSED", "malloc": "VSRIFE_MALLOC", "memory_limit_mb": "VSRIFE_MEMORY_LIMIT_MB",
             "ffmpeg": "VSRIFE_FFMPEG", "mkvmerge": "VSRIFE_MKVMERGE", "upstream_url": "VSRIFE_UPSTREAM_URL"}


def to_env(**changes: Any) -> dict[str, str]:
    """The environment variables that make a child process (vspipe) start with ``changes``."""
    out = {}
    for name, value in changes.items():
        if name not in ENV_NAMES:
            raise SettingsError(f"unknown setting {name!r}; allowed: {', '.join(ENV_NAMES)}")
        out[ENV_NAMES[name]] = ("1" if value else "0") if isinstance(value, bool) else str(value)
    from_env(out)  # validated as the child will read it
    return out


_lock = threading.Lock()
_current: list[Settings] = []


def get() -> Settings:
    """The settings in force (read from the environment on first use)."""
    with _lock:
        if not _current:
            _current.append(from_env())
        return _current[-1]


def set_settings(settings: Settings) -> None:
    """Replace the settings for the rest of the process."""
    with _lock:
        _current[:] = [settings]


def reset() -> None:
    """Forget the settings: the next :func:`get` reads the environment again."""
    with _lock:
        _current.clear()


@contextlib.contextmanager
def override(**changes: Any) -> Iterator[Settings]:
    """``with override(fused=False): ...``: the settings with ``changes`` inside the block."""
    unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(Settings)})
    if unknown:
        allowed = ", ".join(f.name for f in dataclasses.fields(Settings))
        raise SettingsError(f"unknown setting(s) {', '.join(unknown)}; allowed: {allowed}")
    old = get()
    new = dataclasses.replace(old, **changes)
    set_settings(new)
    try:
        yield new
    finally:
        set_settings(old)
