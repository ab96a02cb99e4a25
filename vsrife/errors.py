"""The one exception taxonomy of vsrife.

Every error that vsrife raises on purpose derives from :class:`VsrifeError`.  Each subclass also
derives from the built-in exception that describes it (``ValueError``, ``MemoryError``, ...), so
code that catches those keeps working.  An error may carry the name of the user-facing function
it belongs to (``func``); it is then shown as ``"RIFE: message"``.  At the VapourSynth boundary
(:mod:`vsrife.vs.api`) a ``VsrifeError`` is converted into ``vs.Error`` exactly once.
"""

from __future__ import annotations

__all__ = [
    "AssetError",
    "CLIError",
    "DependencyError",
    "InputError",
    "InstallError",
    "JobError",
    "KernelError",
    "MediaError",
    "ModelLoadError",
    "OutOfMemoryError",
    "SettingsError",
    "VsrifeError",
]


class VsrifeError(Exception):
    """Base of every error vsrife raises on purpose; ``func`` names the function that raised it."""

    def __init__(self, message: str, func: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.func = func

    def __str__(self) -> str:
        return f"{self.func}: {self.message}" if self.func else self.message


class InputError(VsrifeError, ValueError):
    """A parameter has a value that is not allowed; the message names it and what is allowed."""


class SettingsError(InputError):
    """An environment variable (``VSRIFE_*``) or a settings override holds a value that is not allowed."""


class ModelLoadError(VsrifeError, ValueError):
    """The weights file is missing, unreadable, unsafe or of an unknown layout."""


class AssetError(VsrifeError, RuntimeError):
    """A model or footage file is missing, corrupt or cannot be fetched."""


class OutOfMemoryError(VsrifeError, MemoryError):
    """The job needs more memory than the machine has (a frame size or scale too large for it)."""


class MediaError(VsrifeError, RuntimeError):
    """An external media tool (ffmpeg, ffprobe, mkvmerge) is missing or failed; the message says which and why."""


class JobError(VsrifeError, RuntimeError):
    """A chunked render cannot go on (settings mismatch, disk full, a chunk that keeps failing, ...)."""
class InstallError(VsrifeError, ImportError):
    """The installation is broken: another project's ``vsrife`` package shares the import name (vsrife.install)."""


class CLIError(VsrifeError):
    """A command-line error: printed as one line, exit status ``code`` (2 by default)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


class DependencyError(VsrifeError, RuntimeError):
    """An optional dependency (Pillow, bestsource, ...) that this feature needs is not installed."""


class KernelError(VsrifeError, RuntimeError):
    """The fused C kernels refused their input (a bug: the torch path is the fallback)."""
