"""The VapourSynth filter ``RIFE``: the function behind ``vsrife.RIFE`` and ``core.rife.RIFE``.

``RIFE(clip, multi=2)`` returns a clip whose frame ``n`` is either a source frame passed
through bit-exact (timestep 0, scene cuts, the end of the clip) or a frame interpolated
by the model from the source pair that surrounds it.  Frames are requested through the
VapourSynth frame API (``std.FrameEval``/``std.ModifyFrame``), so random access,
``vspipe -p`` and ``core.num_threads > 1`` all work; on the CPU up to ``core.num_threads``
pairs (at most the engine's streams) are interpolated at once.

``RIFE`` is :func:`~vsrife.vs.plan.make_plan` then :func:`~vsrife.vs.graph.build`; :func:`plan`
gives the plan alone (``vsrife info``).  This module is the VapourSynth boundary: the
:class:`~vsrife.errors.VsrifeError` raised below it become ``vs.Error`` here, once.
"""

from __future__ import annotations

from typing import Any

import vapoursynth as vs

from ..errors import VsrifeError
from .graph import build
from .options import FUNC
from .plan import Plan, make_plan

__all__ = ["RIFE", "as_vs_error", "build", "plan"]


def RIFE(  # noqa: N802 - the VapourSynth function name
    clip: vs.VideoNode,
    multi: int | None = None,
    factor_num: int | None = None,
    factor_den: int | None = None,
    fps_num: int | None = None,
    fps_den: int | None = None,
    model: str | None = None,
    model_path: str | None = None,
    scale: float | None = None,
    ensemble: bool | None = None,
    device: str | None = None,
    fp16: bool | None = None,
    sc: bool | None = None,
    sc_threshold: float | None = None,
    dedup: bool | None = None,
    dedup_threshold: float | None = None,
    matrix_in: int | None = None,
    range_in: int | None = None,
    timeline: str | None = None,
    timecodes: str | None = None,
) -> vs.VideoNode:
    """Frame interpolation with RIFE.  See the README's parameter table for every argument.

    Rate (give at most one; default ``multi=2``): ``multi`` (int >= 2), ``factor_num``/``factor_den``
    (rational > 1) or ``fps_num``/``fps_den`` (target rate).  ``model`` (default "4.25"; also "4.0",
    "hd", "3.1"; a fusion such as "4.25+hd", whose members' frames are averaged, or the preset "best")
    or ``model_path`` (own weights), ``scale`` (0.25/0.5/1/2/4; 0.5 for 4K), ``ensemble``,
    ``device`` ("cpu", "cuda", "cuda:N"; default auto), ``fp16`` (half precision: float16 on CUDA,
    bfloat16 convolutions on CPUs with AVX512-BF16/AMX).  ``sc``/``sc_threshold``:
    scene cuts repeat the nearest source frame instead of morphing.  ``dedup``/``dedup_threshold``: re-time
    held drawings (anime on twos/threes) between unique frames.  ``matrix_in``/``range_in`` override
    the _Matrix/_ColorRange props.  ``timeline`` ("auto", "cfr", "vfr") and ``timecodes`` (a timecodes v2
    file) decide whether a clip whose frames carry varying durations keeps its real timeline.
    Output frames carry RifeSourceFrame, RifeTimestep, RifeInterpolated and
    RifeSceneChange props.
    """
    kwargs = {k: v for k, v in locals().items() if k != "clip"}
    try:
        return build(make_plan(clip, **kwargs))
    except VsrifeError as e:
        raise as_vs_error(e) from None


def plan(clip: vs.VideoNode, **kwargs: Any) -> Plan:
    """The plan of ``RIFE(clip, **kwargs)`` without building the clip (errors as ``vs.Error``)."""
    try:
        return make_plan(clip, **kwargs)
    except VsrifeError as e:
        raise as_vs_error(e) from None


def as_vs_error(e: VsrifeError) -> vs.Error:
    """The VapourSynth boundary: every vsrife error reaches a script as ``vs.Error("RIFE: ...")``."""
    return vs.Error(f"{FUNC}: {e.message}")
