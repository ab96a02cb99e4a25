"""Building the output clip of a :class:`~vsrife.vs.plan.Plan`: the VapourSynth node graph."""

from __future__ import annotations

import itertools
from fractions import Fraction

import vapoursynth as vs

from . import formats
from .frames import Interpolator, prop_setter, timing_setter
from .pairs import pair_clips, remap, uncached
from .plan import Plan
from .scenecut import scene_luma
from .timing import CFRMapping, Mapping

__all__ = ["build"]

_UID = itertools.count(1)  # one per Interpolator: keys of the engine's per-frame cache


def build(plan: Plan) -> vs.VideoNode:
    """The output clip of ``plan`` (alpha, where the clip has an ``_Alpha`` prop, is interpolated alongside)."""
    clip, props0 = plan.clip, plan.props0
    if plan.has_alpha:  # the alpha plane is interpolated as a GRAY clip with the same mapping
        color = clip.std.RemoveFrameProps("_Alpha")
        alpha = clip.std.PropToClip("_Alpha")
        gray = formats.color_setup(alpha, dict(alpha.get_frame(0).props), None, None)
        out = _graph(plan, color, formats.color_setup(color, props0, plan.matrix_in, plan.range_in))
        return _timed(plan, out.std.ClipToProp(_graph(plan, alpha, gray, color), "_Alpha"))
    return _timed(plan, _graph(plan, clip, formats.color_setup(clip, props0, plan.matrix_in, plan.range_in)))


def _timed(plan: Plan, out: vs.VideoNode) -> vs.VideoNode:
    """``out`` with each frame's duration (and _AbsoluteTime): 1/fps, or split from the source frames'."""
    mapping, clip = plan.mapping, plan.clip
    base = getattr(mapping, "base", mapping)
    fps = Fraction(clip.fps.numerator, clip.fps.denominator) if clip.fps.numerator > 0 else None
    setter = timing_setter(mapping, None if fps is None else 1 / fps)
    if not (isinstance(base, CFRMapping) and base.follow):
        return uncached(out.std.ModifyFrame(clips=[out], selector=setter))[0]
    last = mapping.num_src - 1
    cur = remap(clip, mapping.num_out, lambda n: min(base.position(n)[0], last))

    def next_source(n: int) -> int:  # source i + 1 only where output frame n + 1 lies in the next interval
        i = base.position(n)[0]
        return min(i + 1 if base.position(n + 1)[0] != i else i, last)

    nxt = remap(clip, mapping.num_out, next_source)
    return uncached(out.std.ModifyFrame(clips=[out, *uncached(cur, nxt)], selector=setter))[0]


def _interp_nodes(plan: Plan, clip: vs.VideoNode, cs: formats.ColorSetup, src_a: vs.VideoNode) -> list[vs.VideoNode]:
    """One interpolating node per engine stream (VapourSynth runs one ModifyFrame callback at a time per
    node: pair i on node i % streams lets `streams` pairs run at once; a pair's timesteps stay on one node)."""
    mapping, engine = plan.mapping, plan.engine
    rgb_a, rgb_b = pair_clips(formats.to_model(clip, cs), mapping)
    work = Interpolator(engine, mapping, plan.batch_multi, cs.family == vs.GRAY, next(_UID))
    plan.interpolators.append(work)
    nodes = []
    for _ in range(engine.streams):
        interp_rgb = rgb_a.std.ModifyFrame(clips=[rgb_a, rgb_b], selector=work)
        interp = formats.from_model(interp_rgb, clip, cs)
        uncached(interp_rgb, interp)
        nodes.append(_with_props(mapping, interp, "interp", False, src_a))
    return nodes


def _with_props(mapping: Mapping, node: vs.VideoNode, kind: str, cut: bool, src_a: vs.VideoNode) -> vs.VideoNode:
    clips = [node, src_a] if kind == "interp" else [node]
    return uncached(node.std.ModifyFrame(clips=clips, selector=prop_setter(mapping, kind, cut)))[0]


def _graph(plan: Plan, clip: vs.VideoNode, cs: formats.ColorSetup, sc_clip: vs.VideoNode | None = None) -> vs.VideoNode:
    """The output graph; ``sc_clip`` is the clip whose content decides scene cuts (the colour clip for alpha)."""
    mapping = plan.mapping
    n_out = mapping.num_out
    last = mapping.num_src - 1
    fps = mapping.fps
    out_kw = {"fpsnum": fps.numerator, "fpsden": fps.denominator} if fps > 0 else {"fpsnum": 0, "fpsden": 1}
    src_a, src_b = pair_clips(clip, mapping)
    out_interps = _interp_nodes(plan, clip, cs, src_a)
    k = len(out_interps)
    out_src = _with_props(mapping, src_a, "source", False, src_a)
    out_cut_a, out_cut_b = (_with_props(mapping, s, "source", True, src_a) for s in (src_a, src_b))
    base = clip.std.BlankClip(length=n_out, keep=True, **out_kw)
    if not plan.sc:
        def choose(n: int) -> vs.VideoNode:
            i, t = mapping.position(n)
            return out_src if t == 0 or i >= last else out_interps[i % k]

        return uncached(base.std.FrameEval(choose, clip_src=[out_src, *out_interps]))[0]

    small = scene_luma(clip if sc_clip is None else sc_clip)
    thr = plan.sc_threshold
    small_a, small_b = pair_clips(small, mapping)
    stats_a = uncached(small_a.std.PlaneStats(small_b, prop="RifeSC"))[0]
    next_a = small_b

    def choose_sc(n: int, f: list[vs.VideoFrame]) -> vs.VideoNode:
        i, t = mapping.position(n)
        if t == 0 or i >= last:
            return out_cut_a if mapping.is_cut(n) else out_src
        pa, pb = f[0].props, f[1].props
        cut = bool(pa.get("_SceneChangeNext", 0)) or bool(pb.get("_SceneChangePrev", 0)) \
            or float(pa["RifeSCDiff"]) > thr or mapping.is_cut(n)
        if cut:
            return out_cut_a if t <= Fraction(1, 2) else out_cut_b  # nearest; a tie keeps the earlier frame
        return out_interps[i % k]

    return uncached(base.std.FrameEval(choose_sc, prop_src=[stats_a, next_a],
                                       clip_src=[out_src, *out_interps, out_cut_a, out_cut_b]))[0]
