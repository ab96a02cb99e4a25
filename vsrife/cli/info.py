"""``vsrife info INPUT``: what the filter would do, without encoding anything."""

from __future__ import annotations

import argparse
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import vapoursynth as vs

from ..jobs.progress import fmt_time
from ..media.source import TimedSource
from .common import (
    add_filter_args,
    build_filter,
    describe_rate,
    filter_kwargs,
    open_timed_source,
    plan_filter,
    timeline_kwargs,
)

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "info", help="print what the filter would do: frames, rates, model, padding, estimated time",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Open INPUT, set up the RIFE filter with the given options and print frame counts, rates,\n"
                    "durations, the model, the padded size the model runs at and an estimated run time.  The time\n"
                    "per frame is measured on one source pair at the clip's size (after one warm-up run) unless\n"
                    "--no-measure is given.",
        epilog="examples:\n  vsrife info in.mkv\n  vsrife info in.mkv --fps 60000/1001\n"
               "  vsrife info 4k.mkv --multi 4 --scale 0.5 --no-measure",
    )
    p.add_argument("input", help="video file (read with bestsource)")
    add_filter_args(p)
    p.add_argument("--no-measure", action="store_true", help="skip the timing run")
    p.set_defaults(func=run)


def _count_interpolated(mapping) -> int:
    """Output frames that are neither a source frame (t = 0) nor past the last source frame."""
    last = mapping.num_src - 1
    n = 0
    for k in range(mapping.num_out):
        i, t = mapping.position(k)
        n += t != 0 and i < last
    return n


def _timeline_row(src: TimedSource, how: str, fps_target: bool) -> str:
    """'variable frame rate: 68 frames over 29.5 s, frame durations min ... (real timestamps kept)'."""
    tl = src.timeline
    if tl is None:
        return "no timestamps from the source; taken as constant-rate"
    kind = "variable frame rate" if src.vfr else "constant frame rate"
    text = f"{kind}: {tl.num_frames} frames over {float(tl.duration):.3f} s, {tl.spread().describe()}"
    if how == "vfr":
        return text + ("; --fps shows source frame k at output frame round(t_k * fps)" if fps_target
                       else "; each real interval is split, the output keeps the source's timestamps")
    return text + ("; taken as constant-rate (--timeline cfr)" if src.vfr else "")


def _duration(num: int, fps: Fraction) -> str:
    if fps <= 0:
        return "variable"
    secs = num / fps
    return f"{fmt_time(float(secs))} ({float(secs):.3f} s)"


def _measure(engine, clip: vs.VideoNode, timesteps: list[float]) -> float:
    """Seconds per interpolated frame: one batched call on source frames 0 and 1, after a warm-up call."""
    import torch

    from ..vs import formats

    cs = formats.color_setup(clip, dict(clip.get_frame(0).props), None, None)
    rgb = formats.to_model(clip, cs)
    a, b = (formats.frame_to_array(rgb.get_frame(k)) for k in (0, 1))
    if a.shape[0] == 1:
        a, b = np.repeat(a, 3, 0), np.repeat(b, 3, 0)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    engine.interpolate(ta, tb, timesteps)
    start = time.perf_counter()
    engine.interpolate(ta, tb, timesteps)
    if engine.device.type == "cuda":
        torch.cuda.synchronize(engine.device)
    return (time.perf_counter() - start) / len(timesteps)


def _members(engine) -> list:
    return list(getattr(engine, "members", [engine]))


def _model_row(engine, kw: dict) -> str:
    def one(m) -> str:
        name = m.weights.name if m.weights else m.arch.name
        return f"{name}, scale {m.scale:g}, ensemble {'on' if m.ensemble else 'off'}"

    members = _members(engine)
    if len(members) > 1:
        shares = getattr(engine, "shares", None)
        rule = "mean of the frames" if shares is None else "frames weighted " + " : ".join(f"{x:g}" for x in shares)
        head = f"fusion ({rule}) of " + " + ".join(f"[{one(m)}]" for m in members)
    else:
        head = one(engine) if "model_path" not in kw else f"{engine.arch.name} from {kw['model_path']}, " \
            f"scale {engine.scale:g}, ensemble {'on' if engine.ensemble else 'off'}"
    return f"{head}, device {engine.device}, {str(engine.dtype).removeprefix('torch.')}"


def _cpu_path(engine) -> str:
    """How the CPU runs this model: fast path or not, convolution precision, fused kernels, bf16 support."""
    from ..nn import fused
    from ..nn.fast import bf16_supported

    bf16 = "has" if bf16_supported() else "has no"
    if engine.fast is None:
        return f"plain model (no fast path for {engine.arch.name} with these settings); this CPU {bf16} native bf16"
    conv = str(engine.fast.dtype).removeprefix("torch.")
    build = {4: "AVX-512", 3: "AVX2", 0: "baseline x86-64"}.get(fused.isa(), "generic")
    kernels = f"fused C kernels ({build} build)" if fused.available() else "torch ops (fused kernels off or not built)"
    return f"fast path, {conv} convolutions, {kernels}; this CPU {bf16} native bf16 (fp16=True)"


def _install() -> str:
    """Which distribution this is, its version and whether core.rife is ours (how to reinstall if not)."""
    from ..install import DIST, __version__
    from ..plugin.bind import status_message

    return f"{DIST} {__version__} (pip install {DIST}); {status_message()}"


def run(args: argparse.Namespace) -> int:
    from ..vs.scenecut import SC_THRESHOLD

    timed = open_timed_source(args.input)
    src = timed.clip
    kw = filter_kwargs(args)
    with tempfile.TemporaryDirectory(prefix="vsrife-") as tmp:
        how = timeline_kwargs(args, timed, kw, Path(tmp) / "timecodes.txt")
        plan = plan_filter(src, kw)
    out = build_filter(src, kw, plan)
    mapping, engine = plan.mapping, plan.engine
    fmt = src.format
    src_fps = Fraction(src.fps.numerator, src.fps.denominator) if src.fps.numerator else Fraction(0)
    out_fps = Fraction(out.fps.numerator, out.fps.denominator) if out.fps.numerator else Fraction(0)
    interp = _count_interpolated(mapping)
    h, w = src.height, src.width
    hp, wp = engine.padded_size(h, w)
    rows = [
        ("input", f"{Path(args.input).name}: {fmt.name} {w}x{h}"),
        ("source", f"{src.num_frames} frames at {describe_rate(src_fps)}, "
                   f"duration {_duration(src.num_frames, src_fps)}"),
        ("timeline", _timeline_row(timed, how, "fps_num" in kw)),
        ("output", f"{out.num_frames} frames at {describe_rate(out_fps)}"
                   + (" (average; variable rate on the source's timeline)" if how == "vfr" and "fps_num" not in kw
                      else "") + f", duration {_duration(out.num_frames, out_fps)}"),
        ("interpolated", f"{interp} frames (at most: scene cuts repeat a source frame instead); "
                         f"{out.num_frames - interp} source frames passed through"),
        ("model", _model_row(engine, kw)),
        ("padding", f"{w}x{h} -> {wp}x{hp} (multiple of {engine.multiple})"
                    + ("" if (hp, wp) != (h, w) else ", no padding needed")),
        ("scene cuts", "off" if kw.get("sc") is False
         else f"on, threshold {kw.get('sc_threshold', SC_THRESHOLD)}"),
        ("dedup", "on" if kw.get("dedup") else "off"),
    ]
    if engine.device.type == "cpu":
        for m in _members(engine):
            rows.append(("cpu path" + (f" {m.weights.name}" if m is not engine else ""), _cpu_path(m)))
    rows.append(("installed", _install()))
    if args.no_measure:
        rows.append(("time", "not measured (--no-measure)"))
    else:
        multi = kw.get("multi")
        ts = [k / multi for k in range(1, multi)] if multi and multi > 2 else [0.5]
        per = _measure(engine, src, ts)
        rows.append(("time", f"measured {per:.3f} s per interpolated frame on {engine.device} (one pair at {w}x{h}, "
                             f"{len(ts)} timestep(s) per call, after a warm-up); estimated total "
                             f"{fmt_time(per * interp)} for {interp} frames, plus decoding and encoding"))
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k + ':':{width + 1}} {v}")
    return 0
