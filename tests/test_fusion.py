"""Fusion (model="a+b", "best"): one filter graph driving several real models, frames averaged."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import vapoursynth as vs

import vsrife
from vsrife.engine import Engine, Fusion, make_engine
from vsrife.errors import InputError
from vsrife.vs import plan
from vsrife.weights.catalog import MODELS, PRESETS

core = vs.core


def digest(frame: vs.VideoFrame) -> str:
    h = hashlib.sha1()
    for p in range(frame.format.num_planes):
        h.update(np.asarray(frame[p]).tobytes())
    return h.hexdigest()


def bikes(footage: Path, start: int, count: int, fmt: int = vs.YUV420P8, size: tuple[int, int] = (160, 68)
          ) -> vs.VideoNode:
    src = core.bs.VideoSource(str(footage / "bikes.mp4"))[start:start + count].resize.Bicubic(*size)
    return src if fmt == vs.YUV420P8 else src.resize.Bicubic(format=fmt, matrix_in_s="709")


def planes(frame: vs.VideoFrame) -> np.ndarray:
    return np.stack([np.asarray(frame[p]) for p in range(frame.format.num_planes)])


@pytest.mark.parametrize("fmt", [vs.YUV420P8, vs.RGBS, vs.GRAY8], ids=["YUV420P8", "RGBS", "GRAY8"])
def test_identical_members_equal_the_single_model(all_models: list[str], footage: Path, fmt: int) -> None:
    """"4.25+4.25" is bit-identical to "4.25" at every timestep of multi=3, in every format."""
    src = bikes(footage, 40, 3, fmt)
    one = vsrife.RIFE(src, multi=3, model="4.25")
    two = vsrife.RIFE(src, multi=3, model="4.25+4.25")
    assert two.num_frames == one.num_frames == 9
    for n in range(9):
        assert digest(two.get_frame(n)) == digest(one.get_frame(n)), n


def test_fusion_is_the_mean_and_keeps_source_frames(all_models: list[str], footage: Path) -> None:
    """"4.25+hd" (hd by bisection at t = 1/3, 2/3): source frames bit-exact, in-betweens the mean of the two.

    At 192x128 neither model pads, so the fused frame is exactly the float32 mean of the two single models'."""
    src = bikes(footage, 40, 3, vs.RGBS, size=(192, 128))
    fused = vsrife.RIFE(src, multi=3, model="4.25+hd", sc=False)
    a = vsrife.RIFE(src, multi=3, model="4.25", sc=False)
    b = vsrife.RIFE(src, multi=3, model="hd", sc=False)
    for n in range(0, 7, 3):
        assert digest(fused.get_frame(n)) == digest(src.get_frame(n // 3))
        assert fused.get_frame(n).props["RifeInterpolated"] == 0
    for n in (1, 2, 4, 5):
        f, mean = planes(fused.get_frame(n)), (planes(a.get_frame(n)) + planes(b.get_frame(n))) / 2
        assert fused.get_frame(n).props["RifeInterpolated"] == 1
        assert np.array_equal(f, mean), n
        assert float(np.abs(f - planes(a.get_frame(n))).mean()) > 1e-3  # the mean is not one of the members


def test_fusion_members_keep_their_own_padding(all_models: list[str], footage: Path) -> None:
    """At 160x68, 4.25 pads to 192x128 and 4.0 to 160x96: in the fusion each member still sees its own padding,
    so the fused frame is exactly the mean of the two single models (and 4.0 gives its own frame)."""
    src = bikes(footage, 40, 3, vs.RGBS)
    fused = vsrife.RIFE(src, multi=3, model="4.0+4.25", sc=False)
    a = vsrife.RIFE(src, multi=3, model="4.0", sc=False)
    b = vsrife.RIFE(src, multi=3, model="4.25", sc=False)
    for n in (1, 2, 4, 5):
        mean = (planes(a.get_frame(n)) + planes(b.get_frame(n))) / 2
        assert np.array_equal(planes(fused.get_frame(n)), mean), n


def test_best_is_the_weighted_mean_of_its_members(all_models: list[str], footage: Path) -> None:
    """"best" weights 4.0 0.7 and 4.25 (ensemble) 0.3: its in-betweens are that weighted mean of the two single
    settings' frames (float32 rounding apart), not the plain mean; its source frames stay bit-exact."""
    assert [m.share for m in PRESETS["best"]] == [0.7, 0.3]
    src = bikes(footage, 40, 3, vs.RGBS, size=(192, 128))
    best = vsrife.RIFE(src, multi=3, model="best", sc=False)
    a = vsrife.RIFE(src, multi=3, model="4.0", ensemble=False, sc=False)
    b = vsrife.RIFE(src, multi=3, model="4.25", ensemble=True, sc=False)
    for n in (0, 3, 6):
        assert digest(best.get_frame(n)) == digest(src.get_frame(n // 3))
    for n in (1, 2, 4, 5):
        fa, fb, f = planes(a.get_frame(n)), planes(b.get_frame(n)), planes(best.get_frame(n))
        assert float(np.abs(f - (0.7 * fa + 0.3 * fb)).max()) < 1e-5, n
        assert float(np.abs(f - (fa + fb) / 2).mean()) > 1e-4, n  # the weights are applied


def test_fusion_shares_are_checked(all_models: list[str]) -> None:
    members = [Engine(model="4.25"), Engine(model="4.25")]
    with pytest.raises(InputError, match=r"shares must be one positive weight per model \(2\), got \[1.0\]"):
        Fusion(members, [1.0])
    with pytest.raises(InputError, match="shares must be one positive weight"):
        Fusion(members, [1.0, -1.0])
    f = Fusion(members, [3.0, 1.0])
    assert f.shares == [0.75, 0.25]


def test_fusion_repeats_source_frames_at_cuts(all_models: list[str], footage: Path) -> None:
    """bikes cuts at frame 30: the fusion shows the nearest source frame there, like a single model."""
    src = bikes(footage, 28, 4)
    out = vsrife.RIFE(src, multi=2, model="4.25+hd")
    f = out.get_frame(3)  # between source 1 (frame 29) and source 2 (frame 30, the new shot)
    assert f.props["RifeSceneChange"] == 1 and f.props["RifeInterpolated"] == 0
    assert digest(f) == digest(src.get_frame(1))
    assert out.get_frame(1).props["RifeInterpolated"] == 1


def test_fusion_lists_and_presets_parse(all_models: list[str], footage: Path) -> None:
    src = bikes(footage, 40, 2)
    p = plan(src, model="4.25+hd")
    assert isinstance(p.engine, Fusion) and p.engine.name == "4.25+hd"
    assert [m.ensemble for m in p.engine.members] == [MODELS["4.25"].default_ensemble, MODELS["hd"].default_ensemble]
    best = plan(src, model="best").engine
    assert isinstance(best, Fusion)
    assert [(m.weights, m.ensemble) for m in best.members] == [(w.weights, w.ensemble) for w in PRESETS["best"]]
    off = make_engine("4.25+4.0", ensemble=False)
    assert isinstance(off, Fusion) and [m.ensemble for m in off.members] == [False, False]
    assert isinstance(make_engine("4.25"), Engine)
    out = core.rife.RIFE(src, multi=2, model="4.25+hd")  # the native plugin takes the same strings
    assert out.num_frames == 4 and out.get_frame(1).props["RifeInterpolated"] == 1


@pytest.mark.parametrize(("model", "match"), [
    ("4.25+5.0", r"model '4.25\+5.0' has unknown member\(s\) '5.0'; allowed: 4.25, 4.0, 4.6, hd, 3.1, a published "
                 r"version \(4.1, .*\), a '\+'-joined fusion of them \(e.g. '4.25\+hd'\), or 'best'"),
    ("4.25+", r"has unknown member\(s\) ''"),
    ("bets", r"model 'bets' is unknown; allowed: 4.25, 4.0, 4.6, hd, 3.1, or a published version .*; a '\+'-joined "
             r"fusion of them \(e.g. '4.25\+hd'\), or 'best'"),
    ("4.25+hd+4.0+3.1+4.25", "fuses 5 models; at most 4"),
])
def test_bad_model_lists_raise_vs_error(all_models: list[str], footage: Path, model: str, match: str) -> None:
    src = bikes(footage, 40, 2)
    with pytest.raises(vs.Error, match=match):
        vsrife.RIFE(src, model=model)
    with pytest.raises(vs.Error, match=match):
        core.rife.RIFE(src, model=model)


def test_fusion_member_errors_name_the_member(all_models: list[str], footage: Path) -> None:
    with pytest.raises(vs.Error, match=r"ensemble=True is not supported by model 3\.1"):
        vsrife.RIFE(bikes(footage, 40, 2), model="4.25+3.1", ensemble=True)
