"""Pictures of what the model does: optical flow in the Middlebury colour wheel, contact sheets.

The flow colour coding follows Baker et al., "A Database and Evaluation Methodology for
Optical Flow" (ICCV 2007): hue is the direction of motion, saturation its length relative
to the largest motion shown; zero motion is white.  :func:`contact_sheet` lays out an input
pair, the interpolated frames and, under each, its flow (t→0) and fusion mask.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import InputError

__all__ = ["Sheet", "color_wheel", "contact_sheet", "flow_to_color", "mask_to_gray", "wheel_legend"]

# Number of hue steps between the six primary/secondary colours of the wheel (Baker et al.).
_SEGMENTS = (("RY", 15), ("YG", 6), ("GC", 4), ("CB", 11), ("BM", 13), ("MR", 6))


def color_wheel() -> np.ndarray:
    """The 55 wheel colours, [55, 3] float in [0, 1], going red → yellow → green → cyan → blue → magenta."""
    rows: list[np.ndarray] = []
    # (channel that ramps, direction) per segment; the other channels are held at 1 or 0.
    base = {"RY": (1, 0, 0), "YG": (1, 1, 0), "GC": (0, 1, 0), "CB": (0, 1, 1), "BM": (0, 0, 1), "MR": (1, 0, 1)}
    ramp = {"RY": (1, +1), "YG": (0, -1), "GC": (2, +1), "CB": (1, -1), "BM": (0, +1), "MR": (2, -1)}
    for name, n in _SEGMENTS:
        seg = np.tile(np.array(base[name], np.float64), (n, 1))
        ch, sign = ramp[name]
        steps = np.floor(255 * np.arange(n) / n) / 255
        seg[:, ch] = steps if sign > 0 else 1 - steps
        rows.append(seg)
    return np.concatenate(rows, 0)


def flow_to_color(u: np.ndarray, v: np.ndarray, max_radius: float | None = None) -> np.ndarray:
    """RGB uint8 [H, W, 3] picture of the flow field (``u`` right, ``v`` down, in pixels).

    ``max_radius`` is the motion length drawn fully saturated (default: the largest in the
    field); longer motions are drawn darker.
    """
    u = np.nan_to_num(np.asarray(u, np.float64))
    v = np.nan_to_num(np.asarray(v, np.float64))
    rad = np.hypot(u, v)
    if max_radius is None:
        max_radius = float(rad.max())
    max_radius = max(float(max_radius), 1e-6)
    rad = rad / max_radius
    wheel = color_wheel()
    ncols = len(wheel)
    angle = np.arctan2(-v, -u) / np.pi  # in [-1, 1]
    fk = (angle + 1) / 2 * (ncols - 1)
    k0 = np.floor(fk).astype(np.int64)
    k1 = (k0 + 1) % ncols
    frac = (fk - k0)[..., None]
    col = (1 - frac) * wheel[k0] + frac * wheel[k1]
    inside = (rad <= 1)[..., None]
    r = rad[..., None]
    col = np.where(inside, 1 - r * (1 - col), col * 0.75)
    return np.clip(np.round(col * 255), 0, 255).astype(np.uint8)


def mask_to_gray(mask: np.ndarray) -> np.ndarray:
    """RGB uint8 [H, W, 3] of a fusion mask in [0, 1]: white = taken from frame A, black = from frame B."""
    g = np.clip(np.round(np.nan_to_num(np.asarray(mask, np.float64)) * 255), 0, 255).astype(np.uint8)
    return np.repeat(g[..., None], 3, -1)


def wheel_legend(size: int, background: int = 255) -> np.ndarray:
    """A ``size`` x ``size`` RGB picture of the colour key: flow at each point is its offset from the centre."""
    c = (size - 1) / 2
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    u, v = xx - c, yy - c
    img = flow_to_color(u, v, max_radius=c)
    outside = np.hypot(u, v) > c
    img[outside] = background
    return img


def to_rgb8(img: np.ndarray) -> np.ndarray:
    """[3, H, W] float RGB in [0, 1] (or [1, H, W] gray) → [H, W, 3] uint8."""
    a = np.asarray(img, np.float64)
    if a.shape[0] == 1:
        a = np.repeat(a, 3, 0)
    return np.clip(np.round(np.nan_to_num(a) * 255), 0, 255).astype(np.uint8).transpose(1, 2, 0)


@dataclass
class Sheet:
    """What a contact sheet shows.

    ``frame_a``/``frame_b`` and ``frames`` are [3, H, W] RGB in [0, 1]; ``flows`` are [4, H, W]
    (t→0 x, y, t→1 x, y, pixels) and ``masks`` [H, W] in [0, 1], one per interpolated frame.
    """

    frame_a: np.ndarray
    frame_b: np.ndarray
    timesteps: Sequence[float]
    frames: Sequence[np.ndarray]
    flows: Sequence[np.ndarray]
    masks: Sequence[np.ndarray]
    title: str = ""
    label_a: str = "A"
    label_b: str = "B"


def _fit(img: np.ndarray, width: int):
    from PIL import Image

    im = Image.fromarray(img)
    if im.width != width:
        h = max(1, round(im.height * width / im.width))
        im = im.resize((width, h), Image.Resampling.LANCZOS if width < im.width else Image.Resampling.NEAREST)
    return im


def contact_sheet(sheet: Sheet, path: str | Path | None = None, tile_width: int = 320) -> np.ndarray:
    """Draw ``sheet`` as a grid and return it as [H, W, 3] uint8 (also saved as PNG when ``path`` is given).

    Row 1: frame A, the interpolated frames, frame B.  Row 2: flow t→0 of each interpolated frame in
    the colour wheel (all drawn on one scale; the key is under A).  Row 3: fusion masks (white = from A).
    """
    from PIL import Image, ImageDraw, ImageFont

    n = len(sheet.frames)
    if not (len(sheet.flows) == len(sheet.masks) == len(sheet.timesteps) == n):
        raise InputError("a sheet needs one flow, mask and timestep per interpolated frame")
    font = ImageFont.load_default()
    pad, label_h = 6, 16
    h0, w0 = sheet.frame_a.shape[-2:]
    tile_h = max(1, round(h0 * tile_width / w0))
    cols, rows = n + 2, 3
    title_h = label_h + pad if sheet.title else 0
    width = cols * tile_width + (cols + 1) * pad
    height = title_h + rows * (tile_h + label_h + pad) + pad
    canvas = Image.new("RGB", (width, height), (32, 32, 32))
    draw = ImageDraw.Draw(canvas)
    if sheet.title:
        draw.text((pad, pad), sheet.title, fill=(255, 255, 255), font=font)

    def put(col: int, row: int, img: np.ndarray, label: str) -> None:
        x = pad + col * (tile_width + pad)
        y = title_h + pad + row * (tile_h + label_h + pad)
        draw.text((x, y), label, fill=(230, 230, 230), font=font)
        tile = _fit(img, tile_width)
        if tile.height > tile_h:
            tile = tile.crop((0, 0, tile.width, tile_h))
        canvas.paste(tile, (x, y + label_h + (tile_h - tile.height) // 2))

    max_rad = max((float(np.hypot(f[0], f[1]).max()) for f in sheet.flows), default=1.0)
    put(0, 0, to_rgb8(sheet.frame_a), sheet.label_a)
    put(cols - 1, 0, to_rgb8(sheet.frame_b), sheet.label_b)
    for k, (t, img, flow, mask) in enumerate(zip(sheet.timesteps, sheet.frames, sheet.flows, sheet.masks,
                                                 strict=True)):
        put(k + 1, 0, to_rgb8(img), f"interpolated t={Fraction(float(t)).limit_denominator(1024)}")
        put(k + 1, 1, flow_to_color(flow[0], flow[1], max_rad), f"flow t->0 (max {max_rad:.1f} px)")
        put(k + 1, 2, mask_to_gray(mask), "mask (white = A)")
    side = min(tile_width, tile_h)
    key = np.full((tile_h, tile_width, 3), 32, np.uint8)
    x0, y0 = (tile_width - side) // 2, (tile_h - side) // 2
    key[y0:y0 + side, x0:x0 + side] = wheel_legend(side, background=32)
    put(0, 1, key, "flow colour key")
    ramp = np.repeat(np.linspace(1, 0, tile_width)[None, :], max(8, tile_h // 4), 0)
    put(0, 2, mask_to_gray(ramp), "mask: A <-> B")
    out = np.asarray(canvas)
    if path is not None:
        canvas.save(str(path), format="PNG")
    return out
