"""A JSON form of a render's job (:class:`~.spec.JobSpec`) and of the filter's plan decisions.

Local workers read the job from a file in the work folder, and a resume reads the saved plan
decisions back (``timing.json``): both are JSON, never pickle, and decoding builds only the types
listed in :func:`_types` (the filter's mappings, the dedup scan, the timeline, the encoder options,
the job) from plain values, so a damaged or hostile file can fail to load but cannot run code.

Values: None, bools, ints, floats, strings and lists as themselves; ``{"$": KIND, "v": ...}`` for a
Fraction (``"p/q"``), bytes (base64), a tuple, a set, a dict (a list of key/value pairs) and an object
(``"t"``: its type's name, ``"v"``: its constructor's fields).
"""

from __future__ import annotations

import base64
import dataclasses
import json
from fractions import Fraction
from functools import cache
from typing import Any

__all__ = ["dumps", "loads"]


@cache
def _types() -> dict[str, type]:
    from ..media.encode import EncodeOptions
    from ..vs.dedup import DedupMapping, Scan
    from ..vs.timeline import Timeline
    from ..vs.timing import CFRMapping, TimelineMapping
    from .spec import JobSpec

    return {t.__name__: t for t in (CFRMapping, TimelineMapping, DedupMapping, Scan, Timeline, EncodeOptions,
                                    JobSpec)}


def _fields(obj: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(obj):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if f.init}
    return {"base": obj.base, "scan": obj.scan}  # DedupMapping(base, scan)


def _enc(v: Any) -> Any:
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, Fraction):
        return {"$": "F", "v": f"{v.numerator}/{v.denominator}"}
    if isinstance(v, bytes):
        return {"$": "b", "v": base64.b64encode(v).decode()}
    if isinstance(v, list):
        return [_enc(x) for x in v]
    if isinstance(v, tuple):
        return {"$": "t", "v": [_enc(x) for x in v]}
    if isinstance(v, (set, frozenset)):
        return {"$": "s", "v": [_enc(x) for x in sorted(v)]}
    if isinstance(v, dict):
        return {"$": "d", "v": [[_enc(k), _enc(x)] for k, x in v.items()]}
    name = type(v).__name__
    if _types().get(name) is type(v):
        return {"$": "o", "t": name, "v": {k: _enc(x) for k, x in _fields(v).items()}}
    raise TypeError(f"cannot encode a {type(v).__name__} in a job file")


def _dec(v: Any) -> Any:
    if isinstance(v, list):
        return [_dec(x) for x in v]
    if not isinstance(v, dict):
        return v
    kind, body = v.get("$"), v["v"]
    if kind == "F":
        return Fraction(body)
    if kind == "b":
        return base64.b64decode(body)
    if kind == "t":
        return tuple(_dec(x) for x in body)
    if kind == "s":
        return {_dec(x) for x in body}
    if kind == "d":
        return {_dec(k): _dec(x) for k, x in body}
    if kind == "o" and v.get("t") in _types():
        return _types()[v["t"]](**{k: _dec(x) for k, x in body.items()})
    raise ValueError(f"unknown value in a job file: {str(v)[:80]}")


def dumps(obj: Any) -> str:
    return json.dumps(_enc(obj))


def loads(text: str) -> Any:
    """The value of :func:`dumps`; ValueError (or TypeError) for anything else."""
    return _dec(json.loads(text))
