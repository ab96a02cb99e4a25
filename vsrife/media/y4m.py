"""Writing a VapourSynth clip as YUV4MPEG2 (the format ffmpeg and x264 read from a pipe)."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import vapoursynth as vs

__all__ = ["for_y4m", "header", "write_frame"]

_SUB = {(1, 1): "420", (1, 0): "422", (0, 0): "444", (2, 0): "411"}


def for_y4m(clip: vs.VideoNode) -> vs.VideoNode:
    """``clip`` in a format y4m can carry: 8/10/12/16-bit YUV 420/422/444/411 or GRAY, else converted."""
    f = clip.format
    depth_ok = f.sample_type == vs.INTEGER and f.bits_per_sample in (8, 10, 12, 16)
    if f.color_family == vs.GRAY:
        if f.sample_type == vs.INTEGER and f.bits_per_sample in (8, 16):
            return clip
        return clip.resize.Point(format=vs.GRAY16 if f.bits_per_sample > 8 else vs.GRAY8)
    sub = (f.subsampling_w, f.subsampling_h)
    if f.color_family == vs.YUV and depth_ok and sub in _SUB and (f.bits_per_sample == 8 or sub != (2, 0)):
        return clip
    bits = 8 if f.sample_type == vs.INTEGER and f.bits_per_sample == 8 else 16
    target = vs.YUV444P8 if bits == 8 else vs.YUV444P16
    if f.color_family == vs.RGB:
        return clip.resize.Bicubic(format=target, matrix_s="709", range_s="limited")
    return clip.resize.Bicubic(format=target)


def header(clip: vs.VideoNode, props: dict) -> bytes:
    """The stream header for ``clip`` (format from :func:`for_y4m`); ``props`` are frame 0's."""
    f = clip.format
    if f.color_family == vs.GRAY:
        cs = "mono" if f.bits_per_sample == 8 else "mono16"
    else:
        cs = _SUB[(f.subsampling_w, f.subsampling_h)]
        if f.bits_per_sample > 8:
            cs += f"p{f.bits_per_sample}"
        elif cs == "420":
            cs = "420jpeg" if props.get("_ChromaLocation") == 1 else "420mpeg2"
    fn, fd = clip.fps.numerator, clip.fps.denominator
    if fn <= 0:  # variable frame rate: y4m needs one rate; use the first frame's duration
        dn, dd = props.get("_DurationNum", 1), props.get("_DurationDen", 25)
        fn, fd = dd, dn
    sn, sd = props.get("_SARNum", 0), props.get("_SARDen", 0)
    parts = [f"YUV4MPEG2 W{clip.width} H{clip.height} F{fn}:{fd} Ip A{sn}:{sd} C{cs}"]
    if props.get("_ColorRange") in (0, 1):
        parts.append("XCOLORRANGE=" + ("FULL" if props["_ColorRange"] == 0 else "LIMITED"))
    return (" ".join(parts) + "\n").encode()


class Writer(Protocol):
    def write(self, data: bytes | memoryview, /) -> object: ...


def write_frame(out: Writer, frame: vs.VideoFrame) -> None:
    """One ``FRAME`` record: the planes, row by row without padding, native (little-endian) samples."""
    out.write(b"FRAME\n")
    for p in range(frame.format.num_planes):
        out.write(np.ascontiguousarray(np.asarray(frame[p])).data)
