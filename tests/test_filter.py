"""The VapourSynth filter on real clips: frame mapping, formats, props, scene cuts, threads, vspipe."""

from __future__ import annotations

import hashlib
import random
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import vapoursynth as vs
from helpers import clip_from_arrays, psnr, textured

import vsrife
from vsrife.vs import build, plan
from vsrife.vs.timing import CFRMapping

core = vs.core
VSPIPE = str(Path(sys.executable).parent / "vspipe")


def moving_rgb(n: int = 3, h: int = 96, w: int = 128, step: int = 4, seed: int = 3) -> tuple[vs.VideoNode, np.ndarray]:
    """An RGBS clip of a texture moving left by ``step`` px per frame, and the texture itself."""
    tex = textured(h, w + step * 2 * n + 8, seed)
    frames = [np.ascontiguousarray(tex[:, :, k * step:k * step + w]) for k in range(n)]
    return clip_from_arrays(frames, vs.RGBS, fps=(24000, 1001)), tex


def digest(frame: vs.VideoFrame) -> str:
    h = hashlib.sha1()
    for p in range(frame.format.num_planes):
        h.update(np.asarray(frame[p]).tobytes())
    return h.hexdigest()


def test_rate_arithmetic_is_exact() -> None:
    m = CFRMapping(10, Fraction(5, 2), Fraction(24000, 1001))
    assert m.num_out == 25 and m.fps == Fraction(60000, 1001)
    assert [m.position(n)[1] for n in range(6)] == [0, Fraction(2, 5), Fraction(4, 5), Fraction(1, 5),
                                                    Fraction(3, 5), 0]
    assert m.position(5) == (2, 0) and m.position(24) == (9, Fraction(3, 5))
    m3 = CFRMapping(7, Fraction(3), Fraction(25))
    assert m3.num_out == 21 and m3.pair(20) == (6, 6, Fraction(2, 3)) and m3.pair(4) == (1, 2, Fraction(1, 3))


FORMATS = [vs.YUV420P8, vs.YUV420P10, vs.YUV444PS, vs.RGB24, vs.RGBS, vs.GRAY8, vs.YUV422P16, vs.YUV410P8,
           vs.YUV411P8, vs.YUV440P8, vs.RGBH, vs.GRAYS, vs.YUV444P12]


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: core.get_video_format(f).name)
def test_format_size_and_source_frames_preserved(all_models: list[str], fmt: int) -> None:
    rgb, tex = moving_rgb()
    fam = core.get_video_format(fmt).color_family
    kw = {"matrix_s": "709"} if fam != vs.RGB else {}
    src = rgb.resize.Bicubic(format=fmt, **kw)
    out = vsrife.RIFE(src, multi=2)
    assert (out.format.id, out.width, out.height, out.num_frames) == (src.format.id, 128, 96, 6)
    assert out.fps == Fraction(48000, 1001)
    for n in range(6):
        f = out.get_frame(n)
        assert f.props["RifeSourceFrame"] == n // 2 and f.props["RifeTimestep"] == (n % 2) / 2
        assert f.props["RifeInterpolated"] == int(n in (1, 3))
        assert (f.props["_DurationNum"], f.props["_DurationDen"]) == (1001, 48000)
        if n % 2 == 0:
            assert digest(f) == digest(src.get_frame(n // 2))  # bit-exact source frames
    if fmt in (vs.RGBS, vs.YUV444PS):
        truth = tex[:, :, 2:130]  # the texture half-way between frame 0 (offset 0) and frame 1 (offset 4)
        got = np.stack([np.asarray(out.resize.Bicubic(format=vs.RGBS, matrix_in_s="709").get_frame(1)[p])
                        for p in range(3)])
        a = np.stack([np.asarray(rgb.get_frame(0)[p]) for p in range(3)])
        b = np.stack([np.asarray(rgb.get_frame(1)[p]) for p in range(3)])
        inner = (slice(None), slice(8, -8), slice(8, -8))
        assert psnr(got[inner], truth[inner], 1.0) > psnr(((a + b) / 2)[inner], truth[inner], 1.0) + 8


@pytest.mark.parametrize(("fmt", "size"), [(vs.RGB24, (97, 55)), (vs.YUV444P8, (73, 41)), (vs.YUV420P8, (720, 406))])
def test_odd_sizes(all_models: list[str], fmt: int, size: tuple[int, int]) -> None:
    rgb, _ = moving_rgb(n=2, h=size[1], w=size[0])
    src = rgb.resize.Bicubic(format=fmt, matrix_s="709" if fmt != vs.RGB24 else None)
    out = vsrife.RIFE(src, multi=2, scale=0.5 if size[0] > 500 else 1.0)
    f = out.get_frame(1)
    assert (f.width, f.height, f.format.id) == (*size, fmt) and f.props["RifeInterpolated"] == 1


def test_fps_conversion_23976_to_5994(all_models: list[str]) -> None:
    rgb, _ = moving_rgb(n=4)
    out = vsrife.RIFE(rgb.resize.Bicubic(format=vs.YUV420P8, matrix_s="709"), fps_num=60000, fps_den=1001)
    assert out.fps == Fraction(60000, 1001) and out.num_frames == 10
    ts = [out.get_frame(n).props["RifeTimestep"] for n in range(10)]
    assert np.allclose(ts, [0, 0.4, 0.8, 0.2, 0.6, 0, 0.4, 0.8, 0.2, 0.6])
    assert [out.get_frame(n).props["RifeSourceFrame"] for n in range(10)] == [0, 0, 0, 1, 1, 2, 2, 2, 3, 3]
    f = out.get_frame(7)
    assert (f.props["_DurationNum"], f.props["_DurationDen"]) == (1001, 60000)


def test_factor_and_multi3(all_models: list[str]) -> None:
    rgb, _ = moving_rgb(n=3)
    out = vsrife.RIFE(rgb, factor_num=3, factor_den=2)
    assert out.num_frames == 5 and out.fps == Fraction(36000, 1001)
    p3 = plan(rgb, multi=3)
    out3 = build(p3)
    assert out3.num_frames == 9
    assert p3.engine.stats["model_calls"] == 0
    assert [round(out3.get_frame(n).props["RifeTimestep"], 4) for n in range(3)] == [0, 0.3333, 0.6667]
    assert p3.engine.stats["model_calls"] == 1  # both timesteps of the pair in one call


def test_each_source_frame_prepared_once(all_models: list[str]) -> None:
    rgb, _ = moving_rgb(n=5)
    p = plan(rgb, multi=2)
    out = build(p)
    for n in range(out.num_frames):
        out.get_frame(n)
    stats = p.engine.stats
    assert stats["frames_prepared"] == 5 and stats["model_calls"] == 4


def test_vfr_clip_uses_durations(all_models: list[str]) -> None:
    rgb, _ = moving_rgb(n=3)
    durs = [(1, 24), (1, 12), (1, 24)]

    def set_dur(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        fo = f.copy()
        fo.props["_DurationNum"], fo.props["_DurationDen"] = durs[n]
        fo.props["_AbsoluteTime"] = [0.0, 1 / 24, 1 / 8][n]
        return fo

    vfr = core.std.BlankClip(rgb, fpsnum=0, fpsden=1).std.ModifyFrame(rgb, set_dur)
    assert vfr.fps == 0
    out = vsrife.RIFE(vfr, multi=2)
    assert out.fps == 0 and out.num_frames == 6
    got = [(out.get_frame(n).props["_DurationNum"], out.get_frame(n).props["_DurationDen"]) for n in range(6)]
    assert got == [(1, 48), (1, 48), (1, 24), (1, 24), (1, 48), (1, 48)]
    assert out.get_frame(3).props["_AbsoluteTime"] == pytest.approx(1 / 24 + 1 / 24)
    conv = vsrife.RIFE(vfr, fps_num=48, fps_den=1)  # total 1/6 s -> 8 frames at 48 fps
    assert conv.num_frames == 8 and conv.fps == 48
    pos = [(conv.get_frame(n).props["RifeSourceFrame"], conv.get_frame(n).props["RifeTimestep"]) for n in range(8)]
    assert pos == [(0, 0), (0, 0.5), (1, 0), (1, 0.25), (1, 0.5), (1, 0.75), (2, 0), (2, 0.5)]


def test_absolute_time_on_cfr(all_models: list[str]) -> None:
    rgb, _ = moving_rgb(n=2)
    src = core.std.Splice([rgb[k].std.SetFrameProps(_AbsoluteTime=k * 1001 / 24000) for k in range(2)])
    out = vsrife.RIFE(src, multi=2)  # each source frame's time plus the split of its duration
    assert [out.get_frame(n).props["_AbsoluteTime"] for n in range(4)] == pytest.approx(
        [k * 1001 / 48000 for k in range(4)])


def test_existing_scene_change_props_are_honoured(all_models: list[str]) -> None:
    rgb, _ = moving_rgb(n=3)
    src = rgb.std.SetFrameProps(_SceneChangeNext=0)
    src = core.std.Splice([src[0].std.SetFrameProps(_SceneChangeNext=1), src[1:]])
    out = vsrife.RIFE(src, multi=4)
    for n in range(1, 4):
        f = out.get_frame(n)
        assert f.props["RifeSceneChange"] == 1 and f.props["RifeInterpolated"] == 0
        assert digest(f) == digest(src.get_frame(0 if n <= 2 else 1))  # nearest source frame
    assert out.get_frame(5).props["RifeInterpolated"] == 1
    assert vsrife.RIFE(src, multi=4, sc=False).get_frame(1).props["RifeInterpolated"] == 1


def test_scene_cuts_on_bikes(all_models: list[str], footage: Path) -> None:
    """Every hard cut of bikes.mp4 (frames 30, 76, 137, 187, 242) is detected; fast pans are not cuts."""
    src = core.bs.VideoSource(str(footage / "bikes.mp4")).resize.Bicubic(160, 68)
    out = vsrife.RIFE(src, multi=2)
    cuts = []
    for n in range(1, out.num_frames - 2, 2):
        f = out.get_frame(n)
        if f.props["RifeSceneChange"]:
            cuts.append(n // 2 + 1)
            assert f.props["RifeInterpolated"] == 0
            assert digest(f) == digest(src.get_frame(n // 2))  # t = 0.5 repeats a source frame, no morph
    assert cuts == [30, 76, 137, 187, 242]


def test_threads_and_request_order_do_not_change_output(all_models: list[str]) -> None:
    rgb, _ = moving_rgb(n=6)
    src = rgb.resize.Bicubic(format=vs.YUV420P8, matrix_s="709")
    seq = vsrife.RIFE(src, multi=3)
    ref = [digest(seq.get_frame(n)) for n in range(seq.num_frames)]
    old = core.num_threads
    try:
        core.num_threads = 2
        par = vsrife.RIFE(src, multi=3)
        order = list(range(par.num_frames)) * 2
        random.Random(7).shuffle(order)
        futures = [(n, par.get_frame_async(n)) for n in order]
        assert all(digest(fut.result()) == ref[n] for n, fut in futures)
    finally:
        core.num_threads = old


def write_vpy(path: Path, body: str) -> Path:
    path.write_text("import vapoursynth as vs\nfrom vapoursynth import core\n" + body)
    return path


SYNTH = """
src = core.std.BlankClip(width=128, height=96, format=vs.RGBS, length=5, fpsnum=24000, fpsden=1001)
import numpy as np
def fill(n, f):
    fo = f.copy()
    y, x = np.mgrid[0:96, 0:128]
    for p in range(3):
        np.asarray(fo[p])[...] = 0.5 + 0.4 * np.sin((x + 3 * n) / (5 + p)) * np.cos(y / (7 + p))
    return fo
src = src.std.ModifyFrame(src, fill)
fmt = {fmt}
kw = dict(matrix_s="709") if core.get_video_format(fmt).color_family != vs.RGB else dict()
src = src.resize.Bicubic(format=fmt, **kw)
"""


def test_vspipe_y4m_into_ffmpeg(all_models: list[str], tmp_path: Path) -> None:
    vpy = write_vpy(tmp_path / "s.vpy", SYNTH.format(fmt="vs.YUV420P8") + "core.rife.RIFE(src, multi=2).set_output()\n")
    info = subprocess.run([VSPIPE, "--info", str(vpy)], capture_output=True, text=True, check=True).stdout
    assert "Frames: 10" in info and "FPS: 48000/1001" in info and "YUV420P8" in info
    pipe = subprocess.Popen([VSPIPE, "-c", "y4m", str(vpy), "-"], stdout=subprocess.PIPE)
    probe = subprocess.run(["ffmpeg", "-v", "error", "-f", "yuv4mpegpipe", "-i", "-", "-f", "framemd5", "-"],
                           stdin=pipe.stdout, capture_output=True, text=True, check=True)
    assert pipe.wait() == 0
    lines = [ln for ln in probe.stdout.splitlines() if ln and not ln.startswith("#")]
    assert len(lines) == 10


@pytest.mark.parametrize("fmt", ["vs.YUV420P8", "vs.YUV420P10", "vs.YUV444PS", "vs.RGB24", "vs.RGBS", "vs.GRAY8"])
def test_vspipe_core_rife_formats(all_models: list[str], tmp_path: Path, fmt: str) -> None:
    body = SYNTH.format(fmt=fmt) + (
        "out = core.rife.RIFE(src, fps_num=60000, fps_den=1001)\n"
        "assert out.format.id == src.format.id and out.num_frames == 13, (out, src)\n"
        "import hashlib\n"
        "h = lambda f: hashlib.sha1(b''.join(bytes(f[p]) for p in range(f.format.num_planes))).hexdigest()\n"
        "assert h(out.get_frame(5)) == h(src.get_frame(2))\n"
        "out.set_output()\n")
    vpy = write_vpy(tmp_path / "f.vpy", body)
    res = subprocess.run([VSPIPE, "-p", str(vpy), "."], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    info = subprocess.run([VSPIPE, "--info", str(vpy)], capture_output=True, text=True, check=True).stdout
    assert "Frames: 13" in info and "FPS: 60000/1001" in info


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"multi": 1}, "multi must be >= 2"),
    ({"multi": 2, "fps_num": 60}, "give only one of multi"),
    ({"model": "5.0"}, "model '5.0' is unknown; allowed: 4.25, 4.0, 4.6, hd, 3.1, or a published version"),
    ({"scale": 3.0}, "scale must be one of 0.25, 0.5, 1.0, 2.0, 4.0"),
    ({"factor_num": 1, "factor_den": 2}, "factor_num/factor_den must be > 1"),
    ({"fps_num": 20, "fps_den": 1}, "must be higher than the clip's frame rate"),
    ({"sc_threshold": 0.0}, "sc_threshold must be in"),
    ({"device": "tpu"}, "device 'tpu'"),
])
def test_bad_arguments_raise_vs_error(all_models: list[str], kwargs: dict, match: str) -> None:
    rgb, _ = moving_rgb(n=2)
    with pytest.raises(vs.Error, match=match):
        vsrife.RIFE(rgb, **kwargs)


def test_bad_clips_raise_vs_error() -> None:
    with pytest.raises(vs.Error, match="at least 2"):
        vsrife.RIFE(core.std.BlankClip(length=1))
    var = core.std.Splice([core.std.BlankClip(format=vs.RGB24, length=2),
                           core.std.BlankClip(format=vs.YUV420P8, length=2)], mismatch=True)
    with pytest.raises(vs.Error, match="constant format and size"):
        vsrife.RIFE(var)


def test_missing_model_error_names_the_command(tmp_path: Path) -> None:
    code = ("import vapoursynth as vs, vsrife\n"
            "try:\n    vsrife.RIFE(vs.core.std.BlankClip(length=3), model='hd')\n"
            "except vs.Error as e:\n    print(e)\n")
    env = {**__import__("os").environ, "VSRIFE_MODEL_DIR": str(tmp_path / "empty")}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert "RIFE: model 'hd' is not in the cache" in res.stdout
    assert "run: python -m vsrife models fetch hd" in res.stdout


def vspipe_frames(vpy: Path, index: int, frame_bytes: int, *args: str) -> list[bytes]:
    raw = subprocess.run([VSPIPE, "-o", str(index), *args, str(vpy), "-"], capture_output=True, check=True).stdout
    assert len(raw) % frame_bytes == 0
    return [raw[k:k + frame_bytes] for k in range(0, len(raw), frame_bytes)]


def test_vspipe_scene_cuts_on_bikes(all_models: list[str], footage: Path, tmp_path: Path) -> None:
    """Under vspipe: at each cut of bikes.mp4 the in-between frame is a source frame, elsewhere it is new."""
    vpy = write_vpy(tmp_path / "bikes.vpy", (
        f"src = core.bs.VideoSource({str(footage / 'bikes.mp4')!r}).resize.Bicubic(160, 68)[20:80]\n"
        "src.set_output(1)\n"
        "core.rife.RIFE(src, multi=2).set_output(0)\n"))
    size = 160 * 68 * 3 // 2
    out = vspipe_frames(vpy, 0, size)
    src = vspipe_frames(vpy, 1, size)
    assert len(out) == 120 and out[::2] == src
    repeats = [k + 20 + 1 for k in range(59) if out[2 * k + 1] in (src[k], src[k + 1])]
    assert repeats == [30, 76]  # the cuts at frames 30 and 76 (clip starts at 20)


def test_vspipe_concurrent_requests_match_sequential(all_models: list[str], tmp_path: Path) -> None:
    vpy = write_vpy(tmp_path / "t.vpy", SYNTH.format(fmt="vs.YUV420P8") + (
        "core.num_threads = 2\ncore.rife.RIFE(src, multi=3).set_output()\n"))
    size = 128 * 96 * 3 // 2
    assert vspipe_frames(vpy, 0, size, "-r", "1") == vspipe_frames(vpy, 0, size, "-r", "4")
