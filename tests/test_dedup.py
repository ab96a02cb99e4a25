"""dedup=True: held drawings found in real encoded footage and re-timed; cuts, partial holds, fades."""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import vapoursynth as vs
from helpers import clip_from_arrays, psnr, textured

from vsrife.vs import dedup
from vsrife.vs.api import RIFE
from vsrife.vs.timing import CFRMapping

core = vs.core
W, H = 320, 180


def rgb(clip: vs.VideoNode) -> np.ndarray:
    """[N, H, W, 3] uint8 frames of a YUV (BT.709) or RGB24 clip."""
    if clip.format.id != vs.RGB24:
        clip = clip.resize.Bicubic(format=vs.RGB24, matrix_in_s="709")
    return np.stack([np.stack([np.asarray(f[p]) for p in range(3)], -1) for f in clip.frames()])


def encode(frames: np.ndarray, path: Path, fps: int, crf: int = 18) -> vs.VideoNode:
    """x264-encode [N, H, W, 3] frames (real encoder noise on held frames) and open them with bestsource."""
    _n, h, w, _ = frames.shape
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r",
                    str(fps), "-i", "-", "-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf), "-pix_fmt",
                    "yuv420p", "-vf", "scale=out_color_matrix=bt709", "-colorspace", "bt709", str(path)],
                   input=frames.tobytes(), check=True)
    return core.bs.VideoSource(str(path))


@pytest.fixture(scope="module")
def bbb(footage: Path) -> np.ndarray:
    """All 132 Big Buck Bunny frames at 320x180, RGB24."""
    src = core.bs.VideoSource(str(footage / "bigbuckbunny.mp4"))
    return rgb(src.resize.Bicubic(W, H, format=vs.RGB24, matrix_in_s="709"))


@pytest.mark.parametrize("hold", [2, 3], ids=["twos", "threes"])
def test_retimed_drawings_rebuild_true_frames(bbb: np.ndarray, tmp_path: Path, hold: int) -> None:
    """On twos/threes at half the footage rate: multi=2 output n is the moment of real frame n.

    Real frames 12..72 (the busier first half, to keep the test short; whole-clip numbers at 640 px are
    in docs/quality.md).  The held clip is x264-encoded, so held frames carry real encoder noise.
    """
    real = bbb[12:73]
    length = hold * ((len(real) - 1) // (2 * hold)) + 1
    clip = encode(real[[2 * hold * (k // hold) for k in range(length)]], tmp_path / "held.mp4", fps=12)
    found = dedup.scan(clip)
    assert found.keys == list(range(0, length, hold))  # every held frame found, no new drawing missed
    n_out = 2 * (length - 1) + 1
    truth = real[:n_out]
    out = RIFE(clip, multi=2, dedup=True)
    assert out.num_frames == RIFE(clip, multi=2).num_frames == 2 * length and out.fps == Fraction(24)
    ours = psnr(rgb(out)[:n_out], truth)
    plain = psnr(rgb(RIFE(clip, multi=2))[:n_out], truth)
    held = psnr(rgb(clip)[[n // 2 for n in range(n_out)]], truth)
    print(f"on {hold}s: dedup {ours:.2f} dB, plain {plain:.2f} dB, hold {held:.2f} dB")
    assert ours >= plain + 3.0
    assert plain > held


def test_no_false_duplicates_on_fast_real_footage(footage: Path) -> None:
    found = dedup.scan(core.bs.VideoSource(str(footage / "bikes.mp4")))
    assert found.keys == list(range(250))
    assert sorted(found.cuts) == [30, 76, 137, 187, 242]


def test_retiming_timesteps_and_props_multi3() -> None:
    """Drawings at 0, 2, 5 (held 2 and 3 frames): each output frame sits between them at its true time."""
    a = textured(64, 96, 1, cell=16)
    b, c = np.ascontiguousarray(np.roll(a, 3, axis=2)), np.ascontiguousarray(np.roll(a, 6, axis=2))
    clip = clip_from_arrays([a, a, b, b, b, c, c], vs.RGBS)
    m = dedup.dedup_mapping(clip, "multi", Fraction(3))
    base = CFRMapping(7, Fraction(3), Fraction(24))
    assert (m.num_out, m.fps) == (base.num_out, base.fps)
    assert m.pair(0) == (0, 0, 0)
    assert m.pair(4) == (0, 2, Fraction(2, 3))  # s = 4/3 between drawings at 0 and 2
    assert m.pair(6) == (2, 2, 0)  # s = 2: the drawing itself
    assert m.pair(10) == (2, 5, Fraction(4, 9))  # s = 10/3 -> (10/3 - 2) / 3
    assert m.pair(15) == (5, 5, 0) and m.pair(20) == (5, 5, 0)  # last drawing held to the end
    out = RIFE(clip, multi=3, dedup=True)
    props = [out.get_frame(n).props for n in (4, 10, 15)]
    assert [p["RifeSourceFrame"] for p in props] == [0, 2, 5]
    assert [p["RifeTimestep"] for p in props] == pytest.approx([2 / 3, 4 / 9, 0])
    assert [p["RifeInterpolated"] for p in props] == [1, 1, 0]
    f10 = np.stack([np.asarray(out.get_frame(10)[p]) for p in range(3)])
    assert np.abs(f10 - b).mean() > 0.01 and np.abs(f10 - c).mean() > 0.01  # a real in-between
    f6 = np.stack([np.asarray(out.get_frame(6)[p]) for p in range(3)])
    np.testing.assert_array_equal(f6, b)


def test_no_inbetween_across_cut() -> None:
    """Held drawings of scene A, then scene B: A is held up to the cut, B appears exactly at its time."""
    a0, a1 = textured(64, 96, 4), textured(64, 96, 5)
    scene_b = 1 - textured(64, 96, 6)
    clip = clip_from_arrays([a0, a0, a1, a1, scene_b, scene_b, scene_b * 0.8], vs.RGBS)
    m = dedup.dedup_mapping(clip, "multi", Fraction(2))
    assert m.scan.keys == [0, 2, 4, 6] and 4 in m.scan.cuts
    out = RIFE(clip, multi=2, dedup=True)
    for n, want in ((5, a1), (6, a1), (7, a1), (8, scene_b)):
        got = np.stack([np.asarray(out.get_frame(n)[p]) for p in range(3)])
        np.testing.assert_array_equal(got, want)
    assert out.get_frame(7).props["RifeTimestep"] == 0 and m.is_cut(7)


def moving_mouth(n: int, size: int = 8) -> list[np.ndarray]:
    """A static textured frame with a small (size x size px, 4% of the width) patch that changes every frame."""
    bg = textured(108, 192, 7)
    out = []
    for k in range(n):
        f = bg.copy()
        f[:, 50:50 + size, 90:90 + size] = textured(size, size, 100 + k, cell=2)
        out.append(f)
    return out


def test_partial_hold_mouth_is_motion() -> None:
    clip = clip_from_arrays(moving_mouth(8), vs.RGBS)
    assert dedup.scan(clip).keys == list(range(8))


def test_partial_hold_real_patch_no_worse(bbb: np.ndarray, tmp_path: Path) -> None:
    """A held frame with a live 16x16 patch of real footage: dedup output stays as close to the truth as plain.

    Frames whose patch barely moves may count as held; the in-betweens must then still match the truth.
    """
    live = bbb[40:56]
    frames = np.repeat(bbb[40:41], len(live), 0)
    frames[:, 24:40, 56:72] = live[:, 24:40, 56:72]
    clip = encode(frames, tmp_path / "patch.mp4", fps=25)
    ours = psnr(rgb(RIFE(clip, multi=1, dedup=True)), frames)
    plain = psnr(rgb(clip), frames)  # without dedup multi=1 has nothing to change: the decoded clip itself
    assert ours >= plain - 0.5


@pytest.mark.parametrize("steps", [12, 150], ids=["fade", "slow-fade"])
def test_held_frame_with_fade_no_worse(steps: int) -> None:
    """A held drawing fading to black: every frame stays within 40 dB of the truth (fast: all frames unique)."""
    base = textured(72, 128, 8)
    frames = [np.ascontiguousarray(base * (1 - k / steps)) for k in range(13)]
    clip = clip_from_arrays(frames, vs.RGBS)
    found = dedup.scan(clip)
    if steps == 12:
        assert found.keys == list(range(13))
    out = RIFE(clip, multi=1, dedup=True)
    for k in range(13):
        got = np.stack([np.asarray(out.get_frame(k)[p]) for p in range(3)])
        assert psnr(got, frames[k], peak=1.0) > 40


def test_threshold_errors() -> None:
    clip = clip_from_arrays([textured(32, 32, 1)] * 3, vs.RGBS)
    with pytest.raises(vs.Error, match=r"dedup_threshold must be in \(0, 1\]"):
        RIFE(clip, dedup=True, dedup_threshold=0)
    with pytest.raises(vs.Error, match="dedup_threshold needs dedup=True"):
        RIFE(clip, dedup_threshold=0.02)
    same = RIFE(clip, multi=1, dedup=True)  # one drawing held: nothing to interpolate, the frames pass through
    assert same.num_frames == 3 and all(same.get_frame(k).props["RifeInterpolated"] == 0 for k in range(3))


def test_variable_frame_rate_retimes_in_seconds() -> None:
    """fps 0/1 clip, drawing 0 held 1/24 + 1/12 s, drawing 2 at 1/8 s: timesteps follow real time."""
    a = textured(32, 48, 1, cell=16)
    b = np.ascontiguousarray(np.roll(a, 2, axis=2))
    durs = [(1, 24), (1, 12), (1, 24), (1, 24)]
    base = clip_from_arrays([a, a, b, b], vs.RGBS, fps=(0, 1))

    def set_dur(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        g = f.copy()
        g.props["_DurationNum"], g.props["_DurationDen"] = durs[n]
        return g

    clip = base.std.ModifyFrame(base, set_dur)
    out = RIFE(clip, fps_num=48, dedup=True)  # outputs every 1/48 s; drawing 2 starts at 6/48
    steps = [(out.get_frame(n).props["RifeSourceFrame"], out.get_frame(n).props["RifeTimestep"]) for n in range(8)]
    assert steps[:7] == [(0, pytest.approx(k / 6)) for k in range(6)] + [(2, 0)]
    out2 = RIFE(clip, multi=2, dedup=True)  # frame 1 halves: 1/48 s, 1/24 s into the 1/8 s gap
    assert [out2.get_frame(n).props["RifeTimestep"] for n in range(4)] == pytest.approx([0, 1 / 6, 1 / 3, 2 / 3])
