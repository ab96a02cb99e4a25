"""Options and helpers shared by ``vsrife interpolate``, ``info`` and ``show``."""

from __future__ import annotations

import argparse
import os
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import vapoursynth as vs

from ..errors import CLIError, MediaError
from ..vs.timeline import write_timecodes

if TYPE_CHECKING:
    from ..media.source import TimedSource
    from ..vs.plan import Plan

__all__ = ["add_filter_args", "build_filter", "filter_kwargs", "open_source", "open_timed_source", "parse_rate",
           "timeline_kwargs"]

_NTSC = {"23.976": (24000, 1001), "29.97": (30000, 1001), "47.952": (48000, 1001), "59.94": (60000, 1001),
         "119.88": (120000, 1001), "71.928": (72000, 1001), "95.904": (96000, 1001), "143.856": (144000, 1001)}


def parse_rate(text: str) -> Fraction:
    """'60000/1001', '59.94' (NTSC rates map to N*1000/1001) or '60' → a positive Fraction."""
    s = text.strip()
    if s in _NTSC:
        return Fraction(*_NTSC[s])
    try:
        f = Fraction(s)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a rate; use e.g. 60000/1001, 59.94 or 60") from None
    if f <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    if "." in s:
        f = f.limit_denominator(1001)
    return f


def add_filter_args(p: argparse.ArgumentParser, rate: bool = True, scenes: bool = True) -> None:
    """The RIFE filter's options (rate, model, quality, scene cuts, dedup, device)."""
    if rate:
        g = p.add_argument_group("output rate (give at most one; default --multi 2)")
        x = g.add_mutually_exclusive_group()
        x.add_argument("--multi", "-m", type=int, metavar="N", help="N output frames per source frame (N >= 2)")
        x.add_argument("--fps", type=parse_rate, metavar="RATE", help="target frame rate: 60000/1001, 59.94, 60 ...")
        x.add_argument("--factor", type=parse_rate, metavar="P/Q", help="rate factor > 1, e.g. 5/2")
        g.add_argument("--timeline", choices=("auto", "cfr", "vfr"), default="auto",
                       help="auto (default): a source whose frame times vary (VFR) keeps its real timeline; "
                            "cfr: take it as constant-rate at its average fps; vfr: always use its timestamps")
    g = p.add_argument_group("model")
    g.add_argument("--model", help="pretrained model: 4.25 (default), 4.0, hd, 3.1; a fusion of several such as "
                   "4.25+hd (their frames averaged), or best (the best-measured fusion)")
    g.add_argument("--model-path", metavar="FILE", help="your own weights (.pth/.pkl/.safetensors) instead of --model")
    g.add_argument("--scale", type=float, metavar="S",
                   help="flow resolution: 0.25, 0.5, 1 (default), 2, 4; use 0.5 for 4K")
    g.add_argument("--ensemble", action=argparse.BooleanOptionalAction, default=None,
                   help="average forward and reversed passes (slower, a little better)")
    g.add_argument("--device", help="cpu, cuda, cuda:N (default: CUDA when available)")
    g.add_argument("--fp16", action="store_true", default=None,
                   help="half precision: fp16 (CUDA), bf16 convolutions (CPUs with bf16)")
    if not scenes:
        return
    g = p.add_argument_group("scene cuts and duplicates")
    g.add_argument("--sc-threshold", type=float, metavar="X",
                   help="scene-cut threshold in (0, 1] (default 0.12); a cut repeats a source frame")
    g.add_argument("--no-sc", action="store_true", help="never detect scene cuts: always interpolate")
    g.add_argument("--dedup", action="store_true", default=None,
                   help="re-time held drawings (anime on twos/threes) between unique frames")
    g.add_argument("--dedup-threshold", type=float, metavar="X", help="duplicate-frame threshold (with --dedup)")


def filter_kwargs(args: argparse.Namespace) -> dict:
    """Keyword arguments for ``RIFE`` from parsed options (only those given)."""
    kw: dict = {}
    if getattr(args, "multi", None) is not None:
        kw["multi"] = args.multi
    if getattr(args, "fps", None) is not None:
        kw["fps_num"], kw["fps_den"] = args.fps.numerator, args.fps.denominator
    if getattr(args, "factor", None) is not None:
        kw["factor_num"], kw["factor_den"] = args.factor.numerator, args.factor.denominator
    for name in ("model", "model_path", "scale", "ensemble", "device", "fp16", "sc_threshold", "dedup",
                 "dedup_threshold"):
        v = getattr(args, name, None)
        if v is not None:
            kw[name] = v
    if getattr(args, "no_sc", False):
        if "sc_threshold" in kw:
            raise CLIError("give --no-sc or --sc-threshold, not both")
        kw["sc"] = False
    return kw


def open_timed_source(path: str) -> TimedSource:
    """:func:`open_source` plus the real start time of every frame (from bestsource's index)."""
    from ..media.source import open_timed

    _check_input(path)
    try:
        src = open_timed(path)
    except MediaError as e:
        raise CLIError(e.message) from None
    _check_frames(path, src.clip)
    return src


def timeline_kwargs(args: argparse.Namespace, src: TimedSource, kw: dict, tmp: Path) -> str:
    """Add the filter's timeline options to ``kw`` for ``src`` (``--timeline``); returns "vfr" or "cfr".

    A variable-rate source keeps its timeline; with ``--fps`` the filter needs every start time at once,
    so the exact timeline is written to the timecodes file ``tmp`` (read when the filter is planned)."""
    mode = getattr(args, "timeline", "auto")
    vfr = src.timeline is not None and (mode == "vfr" or (mode == "auto" and src.vfr))
    if not vfr or src.timeline is None:
        kw["timeline"] = "cfr"
        return "cfr"
    if "fps_num" in kw:
        write_timecodes(tmp, src.timeline.starts)
        kw["timecodes"] = str(tmp)
    kw["timeline"] = "vfr"
    return "vfr"


def _check_input(path: str) -> None:
    p = Path(path)
    if not p.exists():
        raise CLIError(f"input {path!r} does not exist")
    if p.is_dir():
        raise CLIError(f"input {path!r} is a directory, not a video file")
    if not os.access(p, os.R_OK):
        raise CLIError(f"input {path!r} is not readable (permission denied)")


def _check_frames(path: str, clip: vs.VideoNode) -> None:
    if clip.num_frames < 2:
        raise CLIError(f"input {path!r} has {clip.num_frames} frame(s); interpolation needs at least 2")


def open_source(path: str) -> vs.VideoNode:
    """Open any video with bestsource (``core.bs.VideoSource``); one-line errors for unreadable input."""
    _check_input(path)
    core = vs.core
    if not hasattr(core, "bs"):
        raise CLIError("no source filter: install vapoursynth-bestsource (pip install vapoursynth-bestsource)")
    try:
        clip = core.bs.VideoSource(str(path), showprogress=0)
    except vs.Error as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else "unknown error"
        raise CLIError(f"cannot read input {path!r} as video: {first}") from None
    _check_frames(path, clip)
    return clip


def plan_filter(clip: vs.VideoNode, kw: dict) -> Plan:
    """The plan of the RIFE filter for ``clip`` with options ``kw``; errors become one-line CLI errors."""
    from ..vs.api import plan

    try:
        return plan(clip, **kw)
    except vs.Error as e:
        raise CLIError(str(e).strip().splitlines()[0]) from None


def build_filter(clip: vs.VideoNode, kw: dict, plan: Plan | None = None) -> vs.VideoNode:
    """Apply the RIFE filter (the same function as ``core.rife.RIFE``), or build ``plan``; one-line CLI errors."""
    from ..vs.api import RIFE, build

    try:
        return build(plan) if plan is not None else RIFE(clip, **kw)
    except vs.Error as e:
        raise CLIError(str(e).strip().splitlines()[0]) from None
    except ModuleNotFoundError as e:
        raise CLIError(f"this option needs a part of vsrife that is not installed ({e.name})") from None


def describe_rate(fps: Fraction) -> str:
    """'60000/1001 (59.940 fps)'."""
    if fps == 0:
        return "variable"
    return f"{fps.numerator}/{fps.denominator} ({float(fps):.3f} fps)"

