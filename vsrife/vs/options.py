"""Checking the filter's keyword arguments: types and ranges, with errors that name the parameter.

VapourSynth hands ``core.rife.RIFE`` ints for bools and bytes for strings; these helpers accept
those and Python's own types, and raise :class:`~vsrife.errors.InputError` for anything else.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..weights.catalog import MODELS

__all__ = ["FUNC", "err", "opt_bool", "opt_float", "opt_int", "opt_str"]

FUNC = "RIFE"  # the user-facing function every error of this layer names


def err(msg: str) -> InputError:
    """An input error of the ``RIFE`` function (shown as ``RIFE: msg``)."""
    return InputError(msg, func=FUNC)


def opt_int(name: str, v: object, lo: int | None = None) -> int | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise err(f"{name} must be an integer, not {v!r}")
    if lo is not None and v < lo:
        raise err(f"{name} must be >= {lo}, got {v}")
    return int(v)


def opt_bool(name: str, v: object, default: bool) -> bool:
    if v is None:
        return default
    if isinstance(v, (bool, int, np.integer)) and int(v) in (0, 1):
        return bool(v)
    raise err(f"{name} must be a bool (True/False or 1/0), not {v!r}")


def opt_str(name: str, v: object) -> str | None:
    if v is None:
        return None
    if isinstance(v, (bytes, bytearray)):
        v = v.decode("utf-8", "replace")
    if isinstance(v, (int, float)) and not isinstance(v, bool) and name == "model":
        v = f"{v:g}" if isinstance(v, float) and f"{v:g}" in MODELS else str(v)
    if not isinstance(v, str):
        raise err(f"{name} must be a string, not {v!r}")
    return v


def opt_float(name: str, v: object) -> float | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)):
        raise err(f"{name} must be a number, not {v!r}")
    f = float(v)
    if not np.isfinite(f):
        raise err(f"{name} must be finite, got {v!r}")
    return f
