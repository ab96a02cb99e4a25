"""Shared helpers for tests: synthetic clips from numpy arrays and real footage loading."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import vapoursynth as vs

core = vs.core


def clip_from_arrays(frames: list[np.ndarray], fmt: int = vs.RGBS, fps: tuple[int, int] = (24, 1)) -> vs.VideoNode:
    """A clip whose frame k shows ``frames[k]`` ([C,H,W] per-plane arrays, values in the format's range).

    For subsampled formats pass a list of planes per frame instead of one array.
    """
    first = frames[0]
    h, w = (first[0].shape if isinstance(first, list) else first.shape[-2:])
    base = core.std.BlankClip(width=w, height=h, format=fmt, length=len(frames), fpsnum=fps[0], fpsden=fps[1])

    def fill(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        out = f.copy()
        for p in range(out.format.num_planes):
            np.asarray(out[p])[...] = frames[n][p]
        return out

    return base.std.ModifyFrame(base, fill)


def textured(h: int, w: int, seed: int = 0, cell: int = 8) -> np.ndarray:
    """A smooth random RGB texture in [0, 1]: noise on a ``cell``-pixel grid, bicubic-upsampled."""
    import torch

    rng = np.random.default_rng(seed)
    img = torch.from_numpy(rng.random((1, 3, h // cell + 2, w // cell + 2)).astype(np.float32))
    up = torch.nn.functional.interpolate(img, scale_factor=cell, mode="bicubic", align_corners=False)
    return up[0, :, :h, :w].clamp(0, 1).numpy()


def read_video(path: Path, width: int, height: int, count: int, start: int = 0) -> np.ndarray:
    """``count`` RGB24 frames [N,H,W,3] from ``path`` via ffmpeg (used only to make ground truth)."""
    vf = f"select=gte(n\\,{start})"
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-vf", vf, "-vsync", "0", "-frames:v", str(count),
                          "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(peak**2 / mse)


# Script prefix: a core without autoloaded plugins, so a test can choose which plugins load and in what order.
POLICY = """
import vapoursynth as vs
class NoAutoload(vs.EnvironmentPolicy):  # a core without autoloaded plugins, to choose the load order
    def on_policy_registered(self, api):
        self.env = api.create_environment(vs.DISABLE_AUTO_LOADING)
    def get_current_environment(self):
        return self.env
    def set_environment(self, env):
        old, self.env = self.env, env
        return old
vs.register_policy(NoAutoload())
"""


def frames_of(path: Path) -> tuple[list[str], list[str]]:
    """(video, audio) framemd5 lines of a file: timestamp, duration, size and checksum of every decoded frame."""
    def md5(stream: str) -> list[str]:
        res = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", f"0:{stream}?", "-f", "framemd5", "-"],
                             capture_output=True, text=True, check=True)
        return [ln for ln in res.stdout.splitlines() if not ln.startswith("#")]
    return md5("v"), md5("a")


def jobs_summary(stderr: str) -> dict[str, int]:
    """{"rendered": R, "reused": K, "retried": X} from the last line of a chunked ``vsrife interpolate``."""
    line = [ln for ln in stderr.splitlines() if "chunks:" in ln][-1]
    words = line.split("chunks:")[1].replace(",", " ").split()
    return {words[k + 1]: int(words[k]) for k in range(0, 6, 2)}
