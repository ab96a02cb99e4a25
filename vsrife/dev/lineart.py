"""A synthetic 2D line-art animation with known motion (the corpus clip ``lineart``).

No package we could find ships real 2D line-art animation, so this one is rendered: flat-coloured
shapes with black outlines over an outlined background that pans, like cel animation.  Motion is
analytic (a function of time), so every frame is exact; the clip is rendered at 48 fps and the tasks
decimate it (drop 1 of 2: 24 fps input; drop 2 of 3: 16 fps input).  Shapes translate, turn, squash
and stretch, and one polygon deforms; they overlap, so there are occlusions.  Each frame is drawn at
4x the size and box-filtered down (anti-aliased lines, as a real renderer would give).

Deterministic: the same frames on every machine (Pillow's rasteriser only; no randomness).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["FPS", "FRAMES", "frame", "frames"]

FPS = 48
FRAMES = 96
SS = 4  # supersampling
INK = (20, 20, 24)


def _poly(cx: float, cy: float, radii: list[float], turn: float) -> list[tuple[float, float]]:
    n = len(radii)
    return [(cx + r * math.cos(turn + 2 * math.pi * k / n), cy + r * math.sin(turn + 2 * math.pi * k / n))
            for k, r in enumerate(radii)]


def _scene(draw, s: float, w: int, h: int, t: float) -> None:
    """Everything at time ``t`` seconds, coordinates scaled by ``s`` (the supersampling)."""
    lw = round(3 * s)
    pan = 60 * t  # background pans left at 60 px/s
    draw.rectangle((0, 0, w * s, h * s), fill=(196, 226, 244))
    for k in range(-1, 5):  # hills: outlined arcs that pan
        x0 = (k * 300 - pan) % 1500 - 300
        draw.ellipse(((x0) * s, 330 * s, (x0 + 420) * s, 620 * s), fill=(132, 190, 110), outline=INK, width=lw)
    draw.rectangle((0, 450 * s, w * s, h * s), fill=(118, 170, 96))
    draw.line((0, 450 * s, w * s, 450 * s), fill=INK, width=lw)
    for k in range(6):  # fence posts on the ground, panning faster (parallax)
        x = (k * 190 - 2.2 * pan) % 1140 - 90
        draw.rectangle((x * s, 410 * s, (x + 22) * s, 500 * s), fill=(222, 190, 140), outline=INK, width=lw)
    # a ball bouncing left to right with squash and stretch
    bx = 80 + 420 * t
    phase = (t * 1.5) % 1.0
    by = 420 - 300 * 4 * phase * (1 - phase)
    squash = 1 - 0.35 * math.exp(-((phase if phase < 0.5 else 1 - phase) * 12) ** 2)
    rx, ry = 50 / math.sqrt(squash), 50 * squash
    draw.ellipse(((bx - rx) * s, (by - 2 * ry + 50 * (1 - squash)) * s, (bx + rx) * s, (by + 50 * (1 - squash)) * s),
                 fill=(232, 84, 72), outline=INK, width=lw)
    # a star turning and drifting
    star = _poly(700 - 90 * t, 160 + 40 * math.sin(2 * t), [80 if k % 2 == 0 else 34 for k in range(10)], 1.7 * t)
    draw.polygon([(x * s, y * s) for x, y in star], fill=(250, 210, 60), outline=INK, width=lw)
    # a blob whose outline deforms (each vertex on its own sine)
    radii = [70 + 18 * math.sin(3 * t + 1.3 * k) for k in range(14)]
    blob = _poly(520 + 120 * math.sin(1.2 * t), 300 - 30 * t, radii, -0.6 * t)
    draw.polygon([(x * s, y * s) for x, y in blob], fill=(120, 96, 200), outline=INK, width=lw)
    # a card sliding in fast from the right, turning (occludes the others)
    card = _poly(1010 - 330 * t, 250 + 60 * math.cos(3 * t), [95, 60, 95, 60], 0.9 * t + 0.4)
    draw.polygon([(x * s, y * s) for x, y in card], fill=(250, 250, 246), outline=INK, width=lw)
    ex, ey = 1010 - 330 * t, 250 + 60 * math.cos(3 * t)  # an eye on the card: small detail, moving
    draw.ellipse(((ex - 14) * s, (ey - 14) * s, (ex + 14) * s, (ey + 14) * s), fill=INK)


def frame(k: int, width: int = 960, height: int = 540) -> np.ndarray:
    """Frame ``k`` (time ``k / FPS``) as [H, W, 3] uint8 RGB."""
    from PIL import Image, ImageDraw

    s = SS * width / 960
    img = Image.new("RGB", (width * SS, height * SS))
    _scene(ImageDraw.Draw(img), s, 960, 540, k / FPS)
    return np.asarray(img.resize((width, height), Image.Resampling.BOX))


def frames(ks: list[int] | range | None = None, width: int = 960, height: int = 540) -> list[np.ndarray]:
    return [frame(k, width, height) for k in (range(FRAMES) if ks is None else ks)]
