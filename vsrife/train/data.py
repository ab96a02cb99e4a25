"""Training samples: Vimeo90K-style triplet/septuplet folders or frame windows cut from a video.

A sample is (img0, img1, gt, t): the two outer frames, the real frame between them and its timestep.
Triplets give t = 0.5; septuplets and videos (with ``span`` > 2) give arbitrary t = k / n.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..errors import DependencyError, InputError
from ..scenes import CUT_THRESHOLD

__all__ = ["Batch", "FrameSource", "folder_source", "make_batch", "split", "video_source"]

SEPT = [f"im{i}.png" for i in range(1, 8)]
TRIP = SEPT[:3]


@dataclass
class Batch:
    """A batch of training samples, images [B,3,H,W] in [0, 1] and timesteps [B]."""

    img0: Tensor
    img1: Tensor
    gt: Tensor
    t: Tensor

    def to(self, device: torch.device | str) -> Batch:
        return Batch(self.img0.to(device), self.img1.to(device), self.gt.to(device), self.t.to(device))


@dataclass
class Window:
    """One sample: indices of the outer frames and of the ground truth in a frame sequence."""

    seq: int
    i0: int
    i1: int
    k: int

    @property
    def t(self) -> float:
        return (self.k - self.i0) / (self.i1 - self.i0)


class FrameSource:
    """Frame sequences (uint8 [H,W,3] arrays, loaded on demand) and the sample windows cut from them."""

    def __init__(self, seqs: list[list], windows: list[Window], loader=None) -> None:
        self.seqs, self.windows, self._load = seqs, windows, loader or (lambda x: x)

    def __len__(self) -> int:
        return len(self.windows)

    def frames(self, w: Window) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        s = self.seqs[w.seq]
        return self._load(s[w.i0]), self._load(s[w.i1]), self._load(s[w.k])

    def subset(self, idx: list[int]) -> FrameSource:
        return FrameSource(self.seqs, [self.windows[i] for i in idx], self._load)


def _read_png(path: Path) -> np.ndarray:
    try:
        from PIL import Image
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise DependencyError("reading PNG triplets needs Pillow: pip install pillow") from e
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def folder_source(root: str | Path, arbitrary_t: bool = True) -> FrameSource:
    """All folders under ``root`` holding ``im1..im3.png`` (triplet) or ``im1..im7.png`` (septuplet).

    Septuplets give every (i0 < k < i1) window when ``arbitrary_t``, else the middle-frame triplets.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"data {str(root)!r} is not a directory")
    dirs = sorted({p.parent for p in root.rglob("im1.png")})
    seqs: list[list[Path]] = []
    windows: list[Window] = []
    for d in dirs:
        if all((d / n).is_file() for n in SEPT):
            seqs.append([d / n for n in SEPT])
            if arbitrary_t:
                windows += [Window(len(seqs) - 1, a, b, k) for a in range(7) for b in range(a + 2, 7)
                            for k in range(a + 1, b)]
            else:
                windows += [Window(len(seqs) - 1, a, a + 2, a + 1) for a in range(5)]
        elif all((d / n).is_file() for n in TRIP):
            seqs.append([d / n for n in TRIP])
            windows.append(Window(len(seqs) - 1, 0, 2, 1))
    if not windows:
        raise InputError(f"data {str(root)!r} holds no triplet folders (im1.png im2.png im3.png) "
                         "or septuplet folders (im1.png .. im7.png)")
    return FrameSource(seqs, windows, _read_png)


def read_video(path: str | Path, max_frames: int | None = None, width: int | None = None) -> list[np.ndarray]:
    """Decode ``path`` with BestSource into RGB24 arrays [H,W,3] (optionally resized to ``width``)."""
    import vapoursynth as vs

    core = vs.core
    if not hasattr(core, "bs"):
        raise DependencyError("--video needs the BestSource plugin: pip install vapoursynth-bestsource")
    clip = core.bs.VideoSource(str(path))
    kw: dict = {"format": vs.RGB24, "matrix_in_s": "709"} if clip.format.color_family == vs.YUV else \
        {"format": vs.RGB24}
    if width:
        h = round(clip.height * width / clip.width / 2) * 2
        clip = core.resize.Bicubic(clip, width=width, height=h, **kw)
    else:
        clip = core.resize.Bicubic(clip, **kw)
    n = clip.num_frames if max_frames is None else min(max_frames, clip.num_frames)
    out = []
    for i in range(n):
        f = clip.get_frame(i)
        out.append(np.stack([np.asarray(f[p]) for p in range(3)], -1).copy())
    return out


def _mad(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two uint8 frames, in [0, 1]."""
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean()) / 255


def video_source(frames: list[np.ndarray], span: int = 2, cut: float = CUT_THRESHOLD,
                 static: float = 0.004) -> FrameSource:
    """Windows (i, i + span') for span' in 2..``span`` over ``frames``, skipping cuts and static stretches.

    A window is dropped when any neighbouring pair in it differs by more than ``cut`` (mean abs diff in
    [0, 1], a scene cut) or its outer frames differ by less than ``static`` (nothing moves).
    """
    if span < 2:
        raise InputError(f"span must be >= 2, got {span}")
    diffs = [_mad(a, b) for a, b in itertools.pairwise(frames)]
    windows = []
    for i0 in range(len(frames)):
        for n in range(2, span + 1):
            i1 = i0 + n
            if i1 >= len(frames) or max(diffs[i0:i1]) > cut:
                continue
            if _mad(frames[i0], frames[i1]) < static:
                continue
            windows += [Window(0, i0, i1, k) for k in range(i0 + 1, i1)]
    return FrameSource([frames], windows)


def split(src: FrameSource, val_fraction: float = 0.1, gap: int = 2,
          interleave: bool = False, guard: str = "frames") -> tuple[FrameSource, FrameSource]:
    """Hold out windows for validation; no training window shares a frame with (or comes within ``gap`` of) them.

    By default the last ``val_fraction`` of the windows (by position) is held out; with ``interleave`` the
    every ``round(1 / val_fraction)``-th of the shortest windows (in order) is.  ``guard="targets"`` keeps out
    of training only the windows that contain a held-out window's ground-truth (inner) frames, as input or
    target; the held-out windows' outer (input) frames may then appear in training, and ``gap`` is not used.
    """
    if guard not in ("frames", "targets"):
        raise InputError(f"guard must be 'frames' or 'targets', got {guard!r}")
    n = len(src)
    if n < 2:
        raise InputError("need at least 2 samples to hold some out for validation")
    order = sorted(range(n), key=lambda i: (src.windows[i].seq, src.windows[i].i0, src.windows[i].i1))
    if interleave:
        step = max(2, round(1 / val_fraction))
        shortest = min(w.i1 - w.i0 for w in src.windows)
        val = [i for i in order if src.windows[i].i1 - src.windows[i].i0 == shortest][step // 2::step]
    else:
        val = order[-max(1, round(n * val_fraction)):]
    lo, hi = (1, 0) if guard == "targets" else (-gap, gap + 1)
    taken = {(src.windows[i].seq, f) for i in val
             for f in range(src.windows[i].i0 + lo, src.windows[i].i1 + hi)}
    held = set(val)
    train = [i for i in order if i not in held and not any(
        (src.windows[i].seq, f) in taken for f in range(src.windows[i].i0, src.windows[i].i1 + 1))]
    if not train:
        raise InputError("no training samples are left after holding out validation windows")
    return src.subset(train), src.subset(val)


AUGMENT = ("all", "flip", "none")  # flips + time reversal + 90° rotations; without rotations; nothing


def _motion(f0: np.ndarray, f1: np.ndarray, y: int, x: int, crop: int) -> float:
    """Mean absolute difference of two frames inside a crop (every 4th pixel): how much moves there."""
    a = f0[y:y + crop:4, x:x + crop:4].astype(np.int16)
    b = f1[y:y + crop:4, x:x + crop:4].astype(np.int16)
    return float(np.abs(a - b).mean())


def _crop_aug(frames: tuple[np.ndarray, ...], t: float, crop: int, rng: random.Random,
              augment: bool | str, tries: int = 1) -> tuple[list[np.ndarray], float]:
    h, w = frames[0].shape[:2]
    if h < crop or w < crop:
        raise InputError(f"crop {crop} is larger than the frames ({w}x{h})")
    if tries < 1:
        raise InputError(f"crop tries must be >= 1, got {tries}")
    spots = [(rng.randrange(h - crop + 1), rng.randrange(w - crop + 1)) for _ in range(tries)]
    # of `tries` random places, the one where the input frames differ most (motion-weighted sampling)
    y, x = max(spots, key=lambda p: _motion(frames[0], frames[1], p[0], p[1], crop)) if tries > 1 else spots[0]
    imgs = [f[y:y + crop, x:x + crop] for f in frames]
    mode = {True: "all", False: "none"}.get(augment, augment) if isinstance(augment, bool) else augment
    if mode not in AUGMENT:
        raise InputError(f"augment must be one of {', '.join(AUGMENT)}, got {augment!r}")
    if mode != "none":
        if rng.random() < 0.5:
            imgs = [a[::-1] for a in imgs]
        if rng.random() < 0.5:
            imgs = [a[:, ::-1] for a in imgs]
        if rng.random() < 0.5:  # temporal reversal
            imgs = [imgs[1], imgs[0], imgs[2]]
            t = 1.0 - t
        k = rng.randrange(4) if mode == "all" else 0
        if k:
            imgs = [np.rot90(a, k) for a in imgs]
    return imgs, t


def _to_tensor(arrs: list[np.ndarray]) -> Tensor:
    return torch.from_numpy(np.stack([np.ascontiguousarray(a) for a in arrs])).permute(0, 3, 1, 2).float() / 255


def make_batch(src: FrameSource, idx: list[int], crop: int, rng: random.Random, augment: bool | str = True,
               tries: int = 1) -> Batch:
    """Crop (square, ``crop`` pixels) and augment the windows ``idx`` into a :class:`Batch`.

    ``augment``: "all" (or True): random vertical/horizontal flips, time reversal and 90° rotations;
    "flip": the same without rotations (keeps the footage's landscape motion statistics); "none" (or False).
    ``tries`` > 1: each crop is the one of ``tries`` random places where the two input frames differ most.
    """
    a0, a1, ag, ts = [], [], [], []
    for i in idx:
        w = src.windows[i]
        (f0, f1, g), t = _crop_aug(src.frames(w), w.t, crop, rng, augment, tries)
        a0.append(f0)
        a1.append(f1)
        ag.append(g)
        ts.append(t)
    return Batch(_to_tensor(a0), _to_tensor(a1), _to_tensor(ag), torch.tensor(ts, dtype=torch.float32))


def val_batches(src: FrameSource, crop: int | None, batch: int, seed: int = 0, multiple: int = 64) -> list[Batch]:
    """Fixed validation batches, no augmentation: one seeded square crop per held-out window, or with
    ``crop=None`` the whole frame centre-cropped to a multiple of ``multiple``."""
    rng = random.Random(seed)
    idx = list(range(len(src)))
    if crop is not None:
        return [make_batch(src, idx[i:i + batch], crop, rng, augment=False) for i in range(0, len(idx), batch)]
    out = []
    for i in range(0, len(idx), batch):
        trip = [src.frames(src.windows[j]) for j in idx[i:i + batch]]
        h, w = trip[0][0].shape[:2]
        ch, cw = h // multiple * multiple, w // multiple * multiple
        y, x = (h - ch) // 2, (w - cw) // 2
        arr = [[f[y:y + ch, x:x + cw] for f in t] for t in trip]
        out.append(Batch(_to_tensor([a[0] for a in arr]), _to_tensor([a[1] for a in arr]),
                         _to_tensor([a[2] for a in arr]),
                         torch.tensor([src.windows[j].t for j in idx[i:i + batch]], dtype=torch.float32)))
    return out
