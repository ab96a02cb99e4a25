"""The plan of one ``RIFE`` call: every argument checked and resolved, the timing and the engine.

``RIFE()`` is parse → plan → build: :func:`make_plan` checks the arguments and decides everything
(rate, mapping, model, scene cuts, dedup, colour handling) without building a node;
:func:`vsrife.vs.graph.build` turns a plan into the output clip.  ``vsrife info`` reads the plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import vapoursynth as vs

from ..engine import SCALES, Engine, Fusion, make_engine
from ..errors import VsrifeError
from ..weights.catalog import resolve_members
from . import formats
from .frames import Interpolator
from .options import err, opt_bool, opt_float, opt_int, opt_str
from .scenecut import SC_THRESHOLD
from .timeline import Timeline
from .timing import Mapping, make_mapping, parse_rate, resolve_timeline

__all__ = ["Plan", "make_plan"]


@dataclass
class Plan:
    """What one ``RIFE`` call will do."""

    clip: vs.VideoNode
    kind: str  # "multi", "factor" or "fps"
    value: Fraction  # the multiplier, factor or target rate
    mapping: Mapping
    engine: Engine | Fusion  # one model, or the fusion of several ("4.25+hd", "best")
    sc: bool
    sc_threshold: float
    dedup: bool
    matrix_in: int | None
    range_in: int | None
    props0: dict[str, Any]
    timeline_mode: str = "cfr"  # "cfr": constant-rate at the clip's fps; "vfr": the real timeline is followed
    timeline: Timeline | None = None  # the start times, when the mapping needed them (a target fps)
    interpolators: list[Interpolator] = field(default_factory=list)  # filled by build(): stats

    @property
    def batch_multi(self) -> int | None:
        """``multi`` when every pair has the same timesteps (all of a pair's frames in one call)."""
        return int(self.value) if self.kind == "multi" and not self.dedup else None

    @property
    def has_alpha(self) -> bool:
        return "_Alpha" in self.props0


def _engine(name: str | None, path: str | None, device: object, fp16: object, scale: float,
            ensemble: bool | None) -> Engine | Fusion:
    try:
        engine = make_engine(model=name, model_path=path, device=opt_str("device", device),
                             fp16=opt_bool("fp16", fp16, False), scale=scale, ensemble=ensemble)
    except VsrifeError as e:
        raise err(e.message) from None
    except OSError as e:
        raise err(str(e)) from None
    engine.streams = min(engine.streams, max(1, vs.core.num_threads))  # no more than VapourSynth's threads
    return engine


def _scene_args(sc: object, sc_threshold: object) -> tuple[bool, float]:
    use_sc = opt_bool("sc", sc, True)
    thr = opt_float("sc_threshold", sc_threshold)
    thr = SC_THRESHOLD if thr is None else thr
    if not 0 < thr <= 1:
        raise err(f"sc_threshold must be in (0, 1], got {thr}")
    return use_sc, thr


def make_plan(clip: object, multi: object = None, factor_num: object = None, factor_den: object = None,
              fps_num: object = None, fps_den: object = None, model: object = None, model_path: object = None,
              scale: object = None, ensemble: object = None, device: object = None, fp16: object = None,
              sc: object = None, sc_threshold: object = None, dedup: object = None, dedup_threshold: object = None,
              matrix_in: object = None, range_in: object = None, timeline: object = None,
              timecodes: object = None) -> Plan:
    """Check every argument of ``RIFE`` and decide what it will do (raises InputError)."""
    node = formats.check_clip(clip)
    dedup_on = opt_bool("dedup", dedup, False)
    if dedup_threshold is not None and not dedup_on:
        raise err("dedup_threshold needs dedup=True")
    kind, value = parse_rate(node, multi, factor_num, factor_den, fps_num, fps_den, dedup=dedup_on)
    name, path = opt_str("model", model), opt_str("model_path", model_path)
    if name is not None and path is not None:
        raise err("give model or model_path, not both")
    if path is None:
        try:
            resolve_members(name)  # a clear error for unknown models before anything is loaded
        except VsrifeError as e:
            raise err(e.message) from None
    scale_f = opt_float("scale", scale)
    scale_f = 1.0 if scale_f is None else scale_f
    if scale_f not in SCALES:
        raise err(f"scale must be one of {', '.join(map(str, SCALES))}, got {scale_f}")
    ens = None if ensemble is None else opt_bool("ensemble", ensemble, False)
    use_sc, thr = _scene_args(sc, sc_threshold)
    m_in, r_in = opt_int("matrix_in", matrix_in), opt_int("range_in", range_in)
    props0 = dict(node.get_frame(0).props)
    mode, tl = resolve_timeline(node, kind, timeline, timecodes, props0)
    engine = _engine(name, path, device, fp16, scale_f, ens)
    if dedup_on:
        from .dedup import dedup_mapping

        mapping: Mapping = dedup_mapping(node, kind, value, opt_float("dedup_threshold", dedup_threshold),
                                         cut_threshold=thr if use_sc else None, mode=mode, timeline=tl)
    else:
        mapping = make_mapping(node, kind, value, mode, tl)
    return Plan(node, kind, value, mapping, engine, use_sc, thr, dedup_on, m_in, r_in, props0, mode, tl)
