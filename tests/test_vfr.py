"""Variable-frame-rate sources keep their real timeline: the filter, `vsrife interpolate` and `vsrife info`.

The sources are made with ffmpeg from the public footage at 160x90: an AVI on a 15 fps grid with
frames dropped at irregular places (empty chunks), and a Matroska file with irregular millisecond
timestamps whose video starts 0.3 s after its audio.  Both carry an audio track with clicks at the
real times of known source frames.  Checked: where each source frame lands (props and decoded
frames), the output's timestamps (ffprobe) and that each click stays with its frame.
"""

from __future__ import annotations

import itertools
import math
import subprocess
import wave
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import vapoursynth as vs

import vsrife
from vsrife.cli import main
from vsrife.media.probe import frame_times, streams
from vsrife.media.source import open_timed
from vsrife.vs import plan
from vsrife.vs.timeline import Timeline, write_timecodes
from vsrife.vs.timing import CFRMapping, TimelineMapping

core = vs.core
W, H = 160, 90
RATE = 48000  # audio sample rate
CLICKS = (3, 8, 14, 20)  # source frames that have a click at their real time
FAST = ["--model", "4.0", "--no-ensemble", "-q"]

AVI_N = 24  # frames kept on the 15 fps grid: slot of frame k
AVI_SLOTS = [math.floor(k * 2.5 + 1.5 * math.sin(k * 0.9)) for k in range(AVI_N)]
MKV_N = 26  # irregular millisecond times, a 0.2 s gap after frame 12, video starting at 0.3 s
MKV_MS = [round(300 + 40 * k + 12 * math.sin(k * 1.7) + (200 if k > 12 else 0)) for k in range(MKV_N)]


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


def _clicks_wav(path: Path, times: list[float], seconds: float) -> None:
    """A quiet 440 Hz sine with 4 ms full-scale clicks at ``times``."""
    t = np.arange(int(seconds * RATE)) / RATE
    x = 0.1 * np.sin(2 * np.pi * 440 * t)
    for c in times:
        i = round(c * RATE)
        x[i:i + RATE // 250] = 0.9
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((x * 32767).astype("<i2").tobytes())


@pytest.fixture(scope="module")
def sources(footage: Path, tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("vfr")
    avi_pts = [Fraction(s, 15) for s in AVI_SLOTS]
    _ffmpeg("-i", str(footage / "bikes.mp4"), "-vf",
            f"scale={W}:{H},select='lt(n,{AVI_N})',setpts='floor(N*2.5+1.5*sin(N*0.9))/15/TB'",
            "-r", "15", "-fps_mode", "vfr", "-c:v", "mpeg4", "-q:v", "2", str(d / "v.avi"))
    _clicks_wav(d / "a.wav", [float(avi_pts[k]) for k in CLICKS], float(avi_pts[-1]) + 0.5)
    _ffmpeg("-i", str(d / "v.avi"), "-i", str(d / "a.wav"), "-c:v", "copy", "-c:a", "pcm_s16le", str(d / "drop.avi"))
    mkv_pts = [Fraction(ms, 1000) for ms in MKV_MS]
    expr = "(300+40*N+12*sin(N*1.7)+if(gt(N,12),200,0))/1000/TB"
    _ffmpeg("-i", str(footage / "bikes.mp4"), "-vf", f"scale={W}:{H},select='between(n,140,{139 + MKV_N})',"
            f"setpts='{expr}'",
            "-r", "1000", "-fps_mode", "vfr", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "0",
            str(d / "v.mkv"))
    _clicks_wav(d / "b.wav", [float(mkv_pts[k]) for k in CLICKS], float(mkv_pts[-1]) + 0.5)
    _ffmpeg("-copyts", "-i", str(d / "v.mkv"), "-i", str(d / "b.wav"), "-map", "0:v", "-map", "1:a", "-c:v", "copy",
            "-c:a", "pcm_s16le", str(d / "irr.mkv"))
    return {"dir": d, "avi": d / "drop.avi", "avi_pts": avi_pts, "mkv": d / "irr.mkv", "mkv_pts": mkv_pts,
            "bikes": footage / "bikes.mp4"}


def gray_frames(path: Path) -> np.ndarray:
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v:0", "-fps_mode", "passthrough",
                          "-f", "rawvideo", "-pix_fmt", "gray", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, H, W).astype(np.float32)


def click_times(path: Path) -> list[float]:
    """Onsets (seconds, on the file's timeline) of the clicks in the first audio stream."""
    start = next(float(s["start_time"]) for s in streams("ffprobe", path) if s["codec_type"] == "audio")
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:a:0", "-ac", "1", "-ar", str(RATE),
                          "-f", "s16le", "-"], capture_output=True, check=True).stdout
    x = np.abs(np.frombuffer(raw, "<i2").astype(np.float32)) / 32767
    loud = np.flatnonzero(x > 0.5)
    onsets = [i for j, i in enumerate(loud) if j == 0 or i - loud[j - 1] > RATE // 20]
    return [start + i / RATE for i in onsets]


def test_source_timeline_and_info(sources, capsys) -> None:
    avi = open_timed(sources["avi"])
    assert avi.clip.num_frames == AVI_N and avi.vfr
    assert list(avi.timeline.starts[:-1]) == sources["avi_pts"]  # exact, from bestsource's index
    mkv = open_timed(sources["mkv"])
    assert mkv.vfr and list(mkv.timeline.starts[:-1]) == sources["mkv_pts"]
    bikes = open_timed(sources["bikes"])
    assert not bikes.vfr and bikes.timeline.spread().distinct == 1
    assert main(["info", str(sources["avi"]), "--fps", "30", "--no-measure"]) == 0
    out = capsys.readouterr().out
    gaps = sorted({b - a for a, b in itertools.pairwise(AVI_SLOTS)})
    assert "variable frame rate: 24 frames" in out
    assert f"min {gaps[0] / 15 * 1000:.1f} ms" in out and f"max {gaps[-1] / 15 * 1000:.1f} ms" in out
    assert main(["info", str(sources["bikes"]), "--no-measure"]) == 0
    assert "constant frame rate: 250 frames" in capsys.readouterr().out


def test_filter_fps_follows_the_real_timeline(sources, tmp_path) -> None:
    clip = core.bs.VideoSource(str(sources["avi"]), showprogress=0)
    pts = sources["avi_pts"]
    assert Fraction(clip.fps.numerator, clip.fps.denominator) != 15  # bestsource: the average rate
    p = plan(clip, fps_num=30)  # default timeline="auto": the probe sees varying durations
    assert p.timeline_mode == "vfr" and isinstance(p.mapping, TimelineMapping)
    for k, t in enumerate(pts):  # source frame k at output frame round(pts_k * 30), passed through
        assert p.mapping.position(round(t * 30)) == (k, 0)
    tc = tmp_path / "tc.txt"
    write_timecodes(tc, [*pts, pts[-1] + Fraction(1, 15)])
    p2 = plan(clip, fps_num=30, timecodes=str(tc))  # the same from a timecodes file, nothing decoded
    assert p2.mapping.grid[:-1] == p.mapping.grid[:-1]
    old = plan(clip, fps_num=30, timeline="cfr")  # the old behaviour: the average rate as constant
    assert isinstance(old.mapping, CFRMapping) and not old.mapping.follow
    err = max(abs(Fraction(k) / old.mapping.factor - t * 30) for k, t in enumerate(pts))
    assert err > 3  # source frames several output frames away from their real time
    out = vsrife.RIFE(clip, fps_num=30, model="4.0", ensemble=False)
    f = out.get_frame(round(pts[5] * 30))
    assert (f.props["RifeSourceFrame"], f.props["RifeTimestep"], f.props["RifeInterpolated"]) == (5, 0.0, 0)
    assert (f.props["_DurationNum"], f.props["_DurationDen"]) == (1, 30)
    with pytest.raises(vs.Error, match="timeline must be one of 'auto', 'cfr', 'vfr'"):
        vsrife.RIFE(clip, timeline="variable")
    with pytest.raises(vs.Error, match=r"timecodes: .* has 3 times; the clip has 24 frames"):
        write_timecodes(tc, pts[:3])
        vsrife.RIFE(clip, fps_num=30, timecodes=str(tc))


def test_filter_multi_splits_each_real_interval(sources) -> None:
    clip = core.bs.VideoSource(str(sources["mkv"]), showprogress=0)
    pts = sources["mkv_pts"]
    out = vsrife.RIFE(clip, multi=2, model="4.0", ensemble=False, sc=False)
    assert out.num_frames == 2 * MKV_N and out.fps == clip.fps * 2  # the average, like the source's
    durs = [Fraction(f.props["_DurationNum"], f.props["_DurationDen"]) for f in out.frames()]
    starts = [pts[0] + sum(durs[:n], Fraction(0)) for n in range(2 * MKV_N)]
    assert starts[0::2] == pts  # summed durations (what vspipe --timecodes writes) give the real times
    assert all(starts[2 * k + 1] == (pts[k] + pts[k + 1]) / 2 for k in range(MKV_N - 1))
    cfr = core.std.BlankClip(clip, length=4).std.SetFrameProps(_DurationNum=1, _DurationDen=25)
    assert {(f.props["_DurationNum"], f.props["_DurationDen"]) for f in vsrife.RIFE(cfr, multi=2).frames()} \
        == {(1, 50)}  # constant-rate clips are unchanged


def _check_clicks(path: Path, times: list[float], shown: dict[int, int]) -> None:
    """Each click (at source frame k's real time) is within one output frame of the frame showing k."""
    clicks = click_times(path)
    assert len(clicks) == len(CLICKS)
    for c, k in zip(clicks, CLICKS, strict=True):
        n = shown[k]
        frame = times[n + 1] - times[n]
        assert abs(c - times[n]) <= frame, (k, c, times[n])


def _shown(path: Path, src: np.ndarray) -> tuple[np.ndarray, dict[int, int]]:
    out = gray_frames(path)
    err = ((out[:, None] - src[None]) ** 2).mean(axis=(2, 3))
    return out, {int(k): int(np.argmin(err[:, k])) for k in range(len(src)) if err[:, k].min() < 0.5}


def test_interpolate_fps_gives_cfr_on_the_real_timeline(sources, tmp_path) -> None:
    out = tmp_path / "fps.mkv"
    assert main(["interpolate", str(sources["avi"]), str(out), "--fps", "30", "-c", "ffv1", *FAST]) == 0
    pts = sources["avi_pts"]
    times = frame_times("ffprobe", out)
    total = pts[-1] + (pts[-1] - pts[0]) / (AVI_N - 1)
    assert len(times) == math.ceil((total - pts[0]) * 30)
    assert max(abs(t - n / 30) for n, t in enumerate(times)) <= 0.0005  # constant 30 fps (1 ms ticks)
    _, shown = _shown(out, gray_frames(sources["avi"]))
    assert len(shown) == AVI_N
    assert all(shown[k] == round(pts[k] * 30) for k in range(AVI_N))  # frame k at round(pts_k * 30)
    _check_clicks(out, [*times, times[-1] + 1 / 30], shown)


@pytest.mark.parametrize("ext", ["mkv", "mp4"])
def test_interpolate_multi_writes_the_vfr_timeline(sources, tmp_path, ext) -> None:
    out = tmp_path / f"multi.{ext}"
    codec = ["-c", "ffv1"] if ext == "mkv" else ["-c", "libx264", "--crf", "0", "--preset", "ultrafast",
                                                 "--audio-codec", "aac"]
    assert main(["interpolate", str(sources["mkv"]), str(out), "--multi", "2", "--no-sc", *codec, *FAST]) == 0
    pts = sources["mkv_pts"]
    times = frame_times("ffprobe", out)
    end = pts[-1] + (pts[-1] - pts[0]) / (MKV_N - 1)
    want = [float(t) for k in range(MKV_N) for t in (pts[k], (pts[k] + (pts[k + 1] if k + 1 < MKV_N else end)) / 2)]
    assert len(times) == 2 * MKV_N
    assert max(abs(a - b) for a, b in zip(times, want, strict=True)) <= 0.0011  # video still starts at 0.3 s
    _, shown = _shown(out, gray_frames(sources["mkv"]))
    assert all(shown[k] == 2 * k for k in range(MKV_N)), shown
    _check_clicks(out, [*times, float(end)], shown)


def test_timeline_classification() -> None:
    mkv_23976 = Timeline(tuple(Fraction(round(k * 1001 / 24), 1000) for k in range(50)))
    assert mkv_23976.is_constant(Fraction(24000, 1001))  # 1 ms rounding is not VFR
    dropped = Timeline(tuple(Fraction(k + (k > 20), 25) for k in range(50)))
    assert not dropped.is_constant(Fraction(25)) and dropped.spread().distinct == 2
    with pytest.raises(ValueError, match="frame times must increase"):
        Timeline((Fraction(0), Fraction(1), Fraction(1)))
