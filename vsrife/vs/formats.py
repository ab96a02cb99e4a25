"""Clip format handling: to planar float RGB for the model and back with ``core.resize``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import vapoursynth as vs

from .options import err

__all__ = ["ColorSetup", "check_clip", "color_setup", "frame_to_array", "from_model", "to_model"]

_MATRIX_NAMES = {1: "709", 4: "fcc", 5: "470bg", 6: "170m", 7: "240m", 8: "ycgco", 9: "2020ncl", 10: "2020cl",
                 12: "chromancl", 13: "chromacl", 14: "ictcp"}
_RANGE_NAMES = {0: "full", 1: "limited"}  # _ColorRange convention


def check_clip(clip: object, name: str = "clip") -> vs.VideoNode:
    """Reject what the filter cannot take, with a message naming the problem."""
    if not isinstance(clip, vs.VideoNode):
        raise err(f"{name} must be a video clip (vs.VideoNode), not {type(clip).__name__}")
    fmt = clip.format
    if fmt is None or fmt.id == vs.NONE or clip.width == 0 or clip.height == 0:
        raise err(f"{name} must have a constant format and size (variable format/size clips are not "
                       "supported; resize to one format first)")
    if fmt.color_family not in (vs.GRAY, vs.YUV, vs.RGB):
        raise err(f"{name} has an unsupported colour family; allowed: GRAY, YUV, RGB")
    if fmt.sample_type == vs.INTEGER and not 8 <= fmt.bits_per_sample <= 16:
        raise err(f"{name} has {fmt.bits_per_sample}-bit samples; allowed: 8-16 bit integer, half, float")
    if clip.num_frames < 2:
        raise err(f"{name} has {clip.num_frames} frame(s); interpolation needs at least 2")
    return clip


@dataclass(frozen=True)
class ColorSetup:
    """How a clip is converted to the model's RGB and back."""

    family: int
    matrix: int | None  # H.273 code, YUV only
    range: int  # _ColorRange convention: 0 full, 1 limited

    def resize_in(self) -> dict:
        kw: dict = {"range_in_s": _RANGE_NAMES[self.range]}
        if self.matrix is not None:
            kw["matrix_in_s"] = _MATRIX_NAMES[self.matrix]
        return kw

    def resize_out(self) -> dict:
        kw: dict = {"range_s": _RANGE_NAMES[self.range]}
        if self.matrix is not None:
            kw["matrix_s"] = _MATRIX_NAMES[self.matrix]
        return kw


def color_setup(clip: vs.VideoNode, props: dict, matrix_in: int | None, range_in: int | None) -> ColorSetup:
    """Matrix and range from the override, else the frame props, else HD/SD defaults."""
    fam = clip.format.color_family
    if matrix_in is not None and matrix_in not in _MATRIX_NAMES:
        raise err(f"matrix_in={matrix_in} is not supported; allowed: "
                       + ", ".join(f"{k} ({v})" for k, v in _MATRIX_NAMES.items()))
    if range_in is not None and range_in not in (0, 1):
        raise err(f"range_in={range_in} is not allowed; 0 = full, 1 = limited (as _ColorRange)")
    matrix = None
    if fam == vs.YUV:
        matrix = matrix_in if matrix_in is not None else props.get("_Matrix")
        if matrix not in _MATRIX_NAMES:
            matrix = 1 if clip.width >= 1280 or clip.height >= 720 else 6
    rng = range_in if range_in is not None else props.get("_ColorRange")
    if rng not in (0, 1):
        rng = 1 if fam == vs.YUV else 0
    if clip.format.sample_type == vs.FLOAT and range_in is None:
        rng = 0
    return ColorSetup(fam, matrix, int(rng))


def to_model(clip: vs.VideoNode, cs: ColorSetup) -> vs.VideoNode:
    """Planar float RGB (GRAYS for gray clips), values nominally in [0, 1]."""
    target = vs.GRAYS if cs.family == vs.GRAY else vs.RGBS
    if clip.format.id == target:
        return clip
    return clip.resize.Bicubic(format=target, **cs.resize_in())


def from_model(rgb: vs.VideoNode, like: vs.VideoNode, cs: ColorSetup) -> vs.VideoNode:
    """Back to ``like``'s format (same matrix and range as on the way in)."""
    if rgb.format.id == like.format.id:
        return rgb
    return rgb.resize.Bicubic(format=like.format.id, **cs.resize_out())


def frame_to_array(frame: vs.VideoFrame) -> np.ndarray:
    """[C, H, W] float32 array of a GRAYS/RGBS frame (a view per plane, stacked once)."""
    return np.stack([np.asarray(frame[p]) for p in range(frame.format.num_planes)])
