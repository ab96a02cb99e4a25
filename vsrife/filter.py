"""The VapourSynth filter: frame mapping, scene cuts, formats and frame props.

``RIFE(clip, multi=2)`` returns a clip whose frame ``n`` is either a source frame passed
through bit-exact (timestep 0, scene cuts, the end of the clip) or a frame interpolated
by the model from the source pair that surrounds it.  Frames are requested through the
VapourSynth frame API (``std.FrameEval``/``std.ModifyFrame``), so random access,
``vspipe -p`` and ``core.num_threads > 1`` all work; on the CPU up to ``core.num_threads``
pairs (at most the engine's streams) are interpolated at once.
"""

from __future__ import annotations

import threading
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Callable
from fractions import Fraction

import numpy as np
import torch
import vapoursynth as vs

from . import formats
from .engine import SCALES, Engine
from .loading import ModelLoadError
from .model import ARCHS
from .registry import AssetError
from .timing import CFRMapping, Mapping, MultiVFRMapping, TimelineMapping

__all__ = ["RIFE"]

SC_THRESHOLD = 0.12  # mean absolute luma difference (0..1) of a 64-pixel-wide proxy; see README


def _err(msg: str) -> vs.Error:
    return vs.Error(f"RIFE: {msg}")


def _opt_int(name: str, v: object, lo: int | None = None) -> int | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise _err(f"{name} must be an integer, not {v!r}")
    if lo is not None and v < lo:
        raise _err(f"{name} must be >= {lo}, got {v}")
    return int(v)


def _opt_bool(name: str, v: object, default: bool) -> bool:
    if v is None:
        return default
    if isinstance(v, (bool, int, np.integer)) and int(v) in (0, 1):
        return bool(v)
    raise _err(f"{name} must be a bool (True/False or 1/0), not {v!r}")


def _opt_str(name: str, v: object) -> str | None:
    if v is None:
        return None
    if isinstance(v, (bytes, bytearray)):
        v = v.decode("utf-8", "replace")
    if isinstance(v, (int, float)) and not isinstance(v, bool) and name == "model":
        v = {4.25: "4.25", 4.0: "4.0", 3.1: "3.1"}.get(v, str(v))
    if not isinstance(v, str):
        raise _err(f"{name} must be a string, not {v!r}")
    return v


def _opt_float(name: str, v: object) -> float | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)):
        raise _err(f"{name} must be a number, not {v!r}")
    f = float(v)
    if not np.isfinite(f):
        raise _err(f"{name} must be finite, got {v!r}")
    return f


def _rate(clip: vs.VideoNode, multi, factor_num, factor_den, fps_num, fps_den, dedup: bool) -> tuple[str, Fraction]:
    """Which rate argument was given, as ("multi" | "factor" | "fps", value)."""
    multi = _opt_int("multi", multi)
    fn, fd = _opt_int("factor_num", factor_num), _opt_int("factor_den", factor_den)
    pn, pd = _opt_int("fps_num", fps_num), _opt_int("fps_den", fps_den)
    given = [k for k, v in (("multi", multi), ("factor_num/factor_den", fn if fn is not None else fd),
                            ("fps_num/fps_den", pn if pn is not None else pd)) if v is not None]
    if len(given) > 1:
        raise _err(f"give only one of multi, factor_num/factor_den, fps_num/fps_den (got {', '.join(given)})")
    if fn is not None or fd is not None:
        if fn is None:
            raise _err("factor_den needs factor_num")
        fd = 1 if fd is None else fd
        if fn <= 0 or fd <= 0:
            raise _err(f"factor_num and factor_den must be positive, got {fn}/{fd}")
        f = Fraction(fn, fd)
        if f <= 1 and not (dedup and f == 1):
            raise _err(f"factor_num/factor_den must be > 1, got {fn}/{fd}")
        return "factor", f
    if pn is not None or pd is not None:
        if pn is None:
            raise _err("fps_den needs fps_num")
        pd = 1 if pd is None else pd
        if pn <= 0 or pd <= 0:
            raise _err(f"fps_num and fps_den must be positive, got {pn}/{pd}")
        target = Fraction(pn, pd)
        if clip.fps.numerator > 0:
            src = Fraction(clip.fps.numerator, clip.fps.denominator)
            if target < src or (target == src and not dedup):
                raise _err(f"fps_num/fps_den ({pn}/{pd}) must be higher than the clip's frame rate "
                           f"({src.numerator}/{src.denominator})")
        return "fps", target
    m = 2 if multi is None else multi
    lo = 1 if dedup else 2
    if m < lo:
        raise _err(f"multi must be >= {lo}{' (1 only with dedup=True)' if not dedup else ''}, got {m}")
    if m > 1024:
        raise _err(f"multi must be <= 1024, got {m}")
    return "multi", Fraction(m)


def _timeline(clip: vs.VideoNode) -> list[Fraction]:
    """Start times of every frame of a variable-frame-rate clip, from _DurationNum/_DurationDen."""
    starts = [Fraction(0)]
    for k in range(clip.num_frames):
        p = clip.get_frame(k).props
        dn, dd = p.get("_DurationNum"), p.get("_DurationDen")
        if not dn or not dd or dn <= 0 or dd <= 0:
            raise _err(f"frame {k} of a variable-frame-rate clip (fps 0/1) has no valid _DurationNum/_DurationDen; "
                       "set the durations or use std.AssumeFPS")
        starts.append(starts[-1] + Fraction(dn, dd))
    return starts


def _mapping(clip: vs.VideoNode, kind: str, value: Fraction) -> Mapping:
    n = clip.num_frames
    if clip.fps.numerator > 0:
        src = Fraction(clip.fps.numerator, clip.fps.denominator)
        factor = value / src if kind == "fps" else value
        return CFRMapping(n, factor, src)
    if kind == "multi":
        return MultiVFRMapping(n, int(value))
    if kind == "factor":
        raise _err("factor_num/factor_den needs a constant frame rate; for fps 0/1 clips use multi or fps_num/fps_den")
    return TimelineMapping(_timeline(clip), value)


def remap(clip: vs.VideoNode, length: int, index: Callable[[int], int]) -> vs.VideoNode:
    """A clip of ``length`` frames whose frame n is ``clip[index(n)]`` (props included)."""
    base = clip.std.BlankClip(length=length, keep=True)
    return base.std.FrameEval(lambda n: clip[index(n)], clip_src=[clip])


MAX_STATIC_CYCLE = 240


def pair_clips(clip: vs.VideoNode, mapping: Mapping) -> tuple[vs.VideoNode, vs.VideoNode]:
    """Clips whose frame n is source frame i and i + 1 (clamped) of output frame n.

    For constant rates with a short cycle (factor p/q, p <= 240) this is a static graph of
    ``SelectEvery`` + ``Interleave`` (no Python per frame, no nodes created while rendering);
    otherwise frames are picked by ``remap``.  Where t = 0 both clips show frame i, so a source
    frame passed through never depends on its successor.
    """
    n_out = mapping.num_out
    if type(mapping) is CFRMapping:
        p, q = mapping.factor.numerator, mapping.factor.denominator
        if p <= MAX_STATIC_CYCLE and clip.num_frames >= q:
            nxt = clip[1:] + clip[-1]

            def pick(second: bool) -> vs.VideoNode:
                phases = []
                for k in range(p):  # output frame m*p + k shows source m*q + k*q//p at t = (k*q % p) / p
                    c = nxt if second and (k * q) % p else clip
                    phases.append(c if q == 1 else c.std.SelectEvery(cycle=q, offsets=[k * q // p]))
                return vs.core.std.Interleave(uncached(*phases))[:n_out]

            return uncached(pick(False), pick(True))
    return uncached(remap(clip, n_out, lambda n: mapping.pair(n)[0]),
                    remap(clip, n_out, lambda n: mapping.pair(n)[1]))


def uncached(*nodes: vs.VideoNode) -> tuple[vs.VideoNode, ...]:
    """Turn VapourSynth's frame cache off for output-rate nodes: each of their frames is used once.

    With the default cache policy these caches otherwise keep growing towards ``core.max_cache_size``
    over a long run (measured in docs/reliability.md); the source-rate nodes keep their caches.
    """
    for node in nodes:
        node.std.SetVideoCache(mode=0)
    return nodes


class _Interpolator:
    """Runs the engine for one filter instance; caches batched results per source pair."""

    def __init__(self, engine: Engine, mapping: Mapping, multi: int | None, gray: bool, uid: int) -> None:
        self.engine, self.mapping, self.gray, self.uid = engine, mapping, gray, uid
        self.multi = multi  # batch all timesteps of a pair when the pattern is regular
        self.lock = threading.Lock()
        self.results: OrderedDict[tuple[int, Fraction], torch.Tensor] = OrderedDict()
        self.pending: dict[tuple[int, tuple[Fraction, ...]], threading.Event] = {}

    def _timesteps(self, n: int, i: int) -> list[tuple[int, Fraction]]:
        if not self.multi or self.multi <= 2:
            return [(n, self.mapping.position(n)[1])]
        start = n - n % self.multi
        return [(k, Fraction(k - start, self.multi)) for k in range(start + 1, start + self.multi)]

    def __call__(self, n: int, f: list[vs.VideoFrame]) -> vs.VideoFrame:
        i, j, t = self.mapping.pair(n)
        key = (i, t)
        todo = self._timesteps(n, i)
        job = (i, tuple(tk for _, tk in todo))
        while True:  # pairs run concurrently (engine streams); a pair's timesteps are computed once
            with self.lock:
                hit = self.results.pop(key, None)
                if hit is not None:
                    break
                ev = self.pending.get(job)
                if ev is None:
                    ev = self.pending[job] = threading.Event()
                    break
            ev.wait()  # another thread is computing this pair: take its result (or compute it if gone)
        if hit is None:
            try:
                planes = [[np.asarray(fr[p]) for p in range(fr.format.num_planes)] for fr in f[:2]]
                h, w = planes[0][0].shape
                eng = self.engine
                pa = eng.prepare(planes[0], key=(self.uid, i))  # views of frame memory, copied once
                pb = eng.prepare(planes[1], key=(self.uid, j))
                out = eng.interpolate(pa, pb, [float(x) for x in job[1]], size=(h, w), to_cpu=False)
                with self.lock:
                    for (_k, tk), img in zip(todo, out, strict=True):
                        self.results[(i, tk)] = img
                    hit = self.results.pop(key)
                    while len(self.results) > 4 * max(self.multi or 2, 2):
                        self.results.popitem(last=False)
            finally:
                with self.lock:
                    self.pending.pop(job, None)
                ev.set()
        fout = f[0].copy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            if self.gray:  # the result goes straight from the device into the frame's memory
                torch.from_numpy(np.asarray(fout[0])).copy_(hit.mean(0))
            else:
                for p in range(3):
                    torch.from_numpy(np.asarray(fout[p])).copy_(hit[p])
        return fout


def _set_props(mapping: Mapping, kind: str, cut: bool) -> Callable:
    cfr = mapping.fps > 0
    dur = (1 / mapping.fps) if cfr else None

    def setter(n: int, f: list[vs.VideoFrame] | vs.VideoFrame) -> vs.VideoFrame:
        frames = f if isinstance(f, list) else [f]
        fout = frames[0].copy()
        props = fout.props
        if len(frames) > 1:  # interpolated: restore the source frame's props (matrix, range, ...)
            for k, v in frames[1].props.items():
                if k != "_Alpha":
                    props[k] = v
        i, t = mapping.position(n)
        props["RifeSourceFrame"] = i
        props["RifeTimestep"] = float(t)
        props["RifeInterpolated"] = int(kind == "interp")
        props["RifeSceneChange"] = int(cut)
        if kind == "interp":
            for k in ("_PictType", "_SceneChangeNext", "_SceneChangePrev"):
                props.pop(k, None)
        if cfr:
            props["_DurationNum"], props["_DurationDen"] = dur.numerator, dur.denominator
            if "_AbsoluteTime" in props:
                props["_AbsoluteTime"] = float(n * dur)
        else:
            dn, dd = props.get("_DurationNum"), props.get("_DurationDen")
            if dn and dd and isinstance(mapping, MultiVFRMapping):
                d = Fraction(dn, dd) / mapping.multi
                props["_DurationNum"], props["_DurationDen"] = d.numerator, d.denominator
                if "_AbsoluteTime" in props:
                    props["_AbsoluteTime"] = float(props["_AbsoluteTime"]) + float(d) * (n % mapping.multi)
        return fout

    return setter


_UID = iter(range(1, 1 << 62))
last_instance: Callable[[], _Interpolator | None] = lambda: None  # noqa: E731 - weakref to the newest, for stats


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
) -> vs.VideoNode:
    """Frame interpolation with RIFE.  See the README's parameter table for every argument.

    Rate (give at most one; default ``multi=2``): ``multi`` (int >= 2), ``factor_num``/``factor_den``
    (rational > 1) or ``fps_num``/``fps_den`` (target rate).  ``model`` (default "4.25"; also "4.0",
    "hd", "3.1") or ``model_path`` (own weights), ``scale`` (0.25/0.5/1/2/4; 0.5 for 4K), ``ensemble``,
    ``device`` ("cpu", "cuda", "cuda:N"; default auto), ``fp16`` (half precision: float16 on CUDA,
    bfloat16 convolutions on CPUs with AVX512-BF16/AMX).  ``sc``/``sc_threshold``:
    scene cuts repeat the nearest source frame instead of morphing.  ``dedup``/``dedup_threshold``: re-time
    held drawings (anime on twos/threes) between unique frames.  ``matrix_in``/``range_in`` override
    the _Matrix/_ColorRange props.  Output frames carry RifeSourceFrame, RifeTimestep, RifeInterpolated and
    RifeSceneChange props.
    """
    clip = formats.check_clip(clip)
    dedup_on = _opt_bool("dedup", dedup, False)
    if dedup_threshold is not None and not dedup_on:
        raise _err("dedup_threshold needs dedup=True")
    kind, value = _rate(clip, multi, factor_num, factor_den, fps_num, fps_den, dedup=dedup_on)
    model = _opt_str("model", model)
    model_path = _opt_str("model_path", model_path)
    if model is not None and model_path is not None:
        raise _err("give model or model_path, not both")
    if model is not None and model not in ARCHS:
        raise _err(f"model {model!r} is unknown; allowed: {', '.join(ARCHS)}")
    scale_f = _opt_float("scale", scale)
    scale_f = 1.0 if scale_f is None else scale_f
    if scale_f not in SCALES:
        raise _err(f"scale must be one of {', '.join(map(str, SCALES))}, got {scale_f}")
    ens = None if ensemble is None else _opt_bool("ensemble", ensemble, False)
    use_sc = _opt_bool("sc", sc, True)
    thr = _opt_float("sc_threshold", sc_threshold)
    thr = SC_THRESHOLD if thr is None else thr
    if not 0 < thr <= 1:
        raise _err(f"sc_threshold must be in (0, 1], got {thr}")
    m_in, r_in = _opt_int("matrix_in", matrix_in), _opt_int("range_in", range_in)
    try:
        engine = Engine(model=model or "4.25", model_path=model_path, device=_opt_str("device", device),
                        fp16=_opt_bool("fp16", fp16, False), scale=scale_f, ensemble=ens)
        engine.streams = min(engine.streams, max(1, vs.core.num_threads))  # no more than VapourSynth's threads
    except (ValueError, ModelLoadError, AssetError, OSError) as e:
        raise _err(str(e)) from None
    if dedup_on:
        from .dedup import dedup_mapping

        mapping = dedup_mapping(clip, kind, value, _opt_float("dedup_threshold", dedup_threshold),
                                cut_threshold=thr if use_sc else None)
    else:
        mapping = _mapping(clip, kind, value)
    props0 = dict(clip.get_frame(0).props)
    regular = kind == "multi" and not dedup_on  # dedup timesteps differ per pair: no per-pair batching
    multi_i = int(value) if regular else None
    if "_Alpha" in props0:  # the alpha plane is interpolated as a GRAY clip with the same mapping
        color = clip.std.RemoveFrameProps("_Alpha")
        alpha = clip.std.PropToClip("_Alpha")
        gray = formats.color_setup(alpha, dict(alpha.get_frame(0).props), None, None)
        out = _build(color, mapping, engine, formats.color_setup(color, props0, m_in, r_in), use_sc, thr, multi_i)
        return out.std.ClipToProp(_build(alpha, mapping, engine, gray, use_sc, thr, multi_i, color), "_Alpha")
    cs = formats.color_setup(clip, props0, m_in, r_in)
    return _build(clip, mapping, engine, cs, use_sc, thr, multi_i)


def _build(clip: vs.VideoNode, mapping: Mapping, engine: Engine, cs: formats.ColorSetup, use_sc: bool,
           thr: float, multi: int | None, sc_clip: vs.VideoNode | None = None) -> vs.VideoNode:
    """The output graph; ``sc_clip`` is the clip whose content decides scene cuts (the colour clip for alpha)."""
    n_out = mapping.num_out
    last = mapping.num_src - 1
    fps = mapping.fps
    out_kw = {"fpsnum": fps.numerator, "fpsden": fps.denominator} if fps > 0 else {"fpsnum": 0, "fpsden": 1}
    src_a, src_b = pair_clips(clip, mapping)

    rgb = formats.to_model(clip, cs)
    rgb_a, rgb_b = pair_clips(rgb, mapping)
    gray = cs.family == vs.GRAY
    work = _Interpolator(engine, mapping, multi, gray, next(_UID))
    global last_instance
    last_instance = weakref.ref(work)
    def wrap(node: vs.VideoNode, kind: str, cut: bool) -> vs.VideoNode:
        setter = _set_props(mapping, kind, cut)
        clips = [node, src_a] if kind == "interp" else [node]
        return uncached(node.std.ModifyFrame(clips=clips, selector=setter))[0]

    # VapourSynth runs one ModifyFrame callback at a time per node: one node per engine stream, pair i
    # on node i % streams, lets `streams` pairs run at once (all timesteps of a pair stay on one node)
    out_interps = []
    for _ in range(engine.streams):
        interp_rgb = rgb_a.std.ModifyFrame(clips=[rgb_a, rgb_b], selector=work)
        interp = formats.from_model(interp_rgb, clip, cs)
        uncached(interp_rgb, interp)
        out_interps.append(wrap(interp, "interp", False))
    k = len(out_interps)
    out_src = wrap(src_a, "source", False)
    out_cut_a, out_cut_b = wrap(src_a, "source", True), wrap(src_b, "source", True)
    base = clip.std.BlankClip(length=n_out, keep=True, **out_kw)
    if not use_sc:
        def choose(n: int) -> vs.VideoNode:
            i, t = mapping.position(n)
            return out_src if t == 0 or i >= last else out_interps[i % k]

        return uncached(base.std.FrameEval(choose, clip_src=[out_src, *out_interps]))[0]

    small = formats.scene_luma(clip if sc_clip is None else sc_clip)
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
