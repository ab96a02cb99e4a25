"""What every worker of a render needs, decided once by the coordinator: :class:`JobSpec`.

The coordinator plans the filter once (:func:`vsrife.vs.plan.make_plan`): the mapping, the dedup
scan, the real timeline, the scene-cut settings.  :func:`timing_of` takes those decisions out of the
plan; a worker builds its own plan for the same source cheaply (no dedup scan, no timeline pass) and
puts them back (:func:`output_clip`), so each worker's graph is the coordinator's graph and renders any
range of output frames exactly as a single render would.  Each worker process builds that graph, and
loads its model, once (a per-process cache), and renders chunk after chunk from it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import json
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import vapoursynth as vs

from ..errors import InputError
from ..media.encode import EncodeOptions
from ..media.y4m import for_y4m, header
from ..vs.graph import build
from ..vs.plan import Plan, make_plan

__all__ = ["JobSpec", "built", "open_source", "output_clip", "plan_with", "settings_key", "stream_header", "timing_of"]

_NOT_TIMING = frozenset({"clip", "engine", "interpolators", "props0"})  # rebuilt by each worker
_RATE_ARGS = ("multi", "factor_num", "factor_den", "fps_num", "fps_den", "dedup", "dedup_threshold", "timeline",
              "timecodes")


@dataclass(frozen=True)
class JobSpec:
    """One render, as every worker sees it."""

    input: str  # absolute path of the source (the same path on every node)
    filter_kw: dict[str, Any]  # the RIFE arguments
    timing: dict[str, Any]  # the coordinator's plan decisions (:func:`timing_of`)
    playback_fps: Fraction | None  # the output re-stamped to this rate (slow motion)
    encode: EncodeOptions  # the user's encoder settings (video only for segments)
    header: bytes  # the y4m stream header: the same for every segment
    props: dict[str, Any]  # output frame 0's props (ffmpeg's colour tags)
    suffix: str  # segment container, ".nut" (exact time base) or ".mkv"
    threads: int  # VapourSynth and torch threads of each worker
    key: str  # the settings hash (:func:`settings_key`)
    env: dict[str, str] = dataclasses.field(default_factory=dict)  # VSRIFE_* settings of remote workers


def timing_of(plan: Plan) -> dict[str, Any]:
    """The plan's decisions (rate, mapping, dedup scan, timeline, scene cuts): what a worker reuses."""
    return {f.name: getattr(plan, f.name) for f in dataclasses.fields(plan) if f.name not in _NOT_TIMING}


def open_source(path: str) -> vs.VideoNode:
    """The source as the single render opens it (bestsource, default options)."""
    if not hasattr(vs.core, "bs"):
        raise InputError("no source filter: install vapoursynth-bestsource (pip install vapoursynth-bestsource)")
    return vs.core.bs.VideoSource(str(path), showprogress=0)


def plan_with(src: vs.VideoNode, filter_kw: dict[str, Any], timing: dict[str, Any]) -> Plan:
    """The plan of ``RIFE(src, **filter_kw)`` with the decisions ``timing`` of an earlier plan: built without
    the passes over the clip that those decisions needed (the dedup scan, the timeline)."""
    kw = {k: v for k, v in filter_kw.items() if k not in _RATE_ARGS}
    return dataclasses.replace(make_plan(src, multi=2, **kw), **timing)


def _graph(src: vs.VideoNode, spec: JobSpec) -> vs.VideoNode:
    clip = build(plan_with(src, spec.filter_kw, spec.timing))
    if spec.playback_fps is not None:
        clip = clip.std.AssumeFPS(fpsnum=spec.playback_fps.numerator, fpsden=spec.playback_fps.denominator)
    return for_y4m(clip)


_CLIPS: dict[str, vs.VideoNode] = {}  # per process: the graph (and so the loaded model) of the current job


def output_clip(spec: JobSpec) -> vs.VideoNode:
    """The job's output clip in this process, in y4m's format; built (and the model loaded) once."""
    clip = _CLIPS.get(spec.key)
    if clip is None:
        _CLIPS.clear()
        clip = _CLIPS[spec.key] = _graph(open_source(spec.input), spec)
    return clip


def built(key: str) -> bool:
    """True when this process holds the graph of job ``key`` already (its model is loaded)."""
    return key in _CLIPS


def stream_header(clip: vs.VideoNode) -> tuple[bytes, dict[str, Any]]:
    """The y4m header and frame-0 props of an output clip (already in y4m's format)."""
    props = dict(clip.get_frame(0).props)
    return header(clip, props), {k: v for k, v in props.items() if isinstance(v, (int, float, str))}


def _jsonable(v: Any) -> Any:
    if isinstance(v, Fraction):
        return f"{v.numerator}/{v.denominator}"
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in sorted(v.items())}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, Path):
        return str(v)
    return v


def _version() -> str:
    try:
        return importlib.metadata.version("vsrife")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _file_id(path: str | Path) -> dict[str, Any]:
    p = Path(path).expanduser().resolve()
    st = p.stat()
    return {"path": str(p), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def settings_key(input_path: str, filter_kw: dict[str, Any], playback_fps: Fraction | None,
                 encode: EncodeOptions) -> tuple[str, dict[str, Any]]:
    """(hash, readable settings) of everything that decides the output's bits.

    The worker count, the threads and the chunk length are not in it: a render may resume with
    other workers.  The ffmpeg path is left out too (nodes may have it elsewhere).
    """
    enc = {f.name: getattr(encode, f.name) for f in dataclasses.fields(encode) if f.name != "ffmpeg"}
    settings: dict[str, Any] = {"input": _file_id(input_path), "filter": filter_kw, "playback_fps": playback_fps,
                                "encode": enc, "vsrife": _version()}
    if filter_kw.get("model_path"):
        settings["model_file"] = _file_id(filter_kw["model_path"])
    readable = _jsonable(settings)
    digest = hashlib.sha256(json.dumps(readable, sort_keys=True).encode()).hexdigest()[:16]
    return digest, readable
