"""The fused C kernels (vsrife/nn/csrc/fused.c) and bf16 convolutions of the CPU fast path (issue 5)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import vapoursynth as vs
from helpers import psnr, read_video

import vsrife
import vsrife.engine
from vsrife import settings
from vsrife.engine import Engine
from vsrife.nn import fused, resize
from vsrife.nn.fast import FastV4, bf16_supported, warp_nchw
from vsrife.weights import load_model

CL = torch.channels_last


@pytest.fixture(scope="module")
def pair(footage: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Big Buck Bunny frames 40 and 41 at 512x256 (a multiple of 256: every scale's padding), [1,3,H,W]."""
    raw = read_video(footage / "bigbuckbunny.mp4", 1280, 720, 2, start=40)
    t = torch.from_numpy(raw.copy()).permute(0, 3, 1, 2).float() / 255
    t = F.interpolate(t, size=(256, 512), mode="area")
    return t[:1], t[1:]


@pytest.fixture
def toggle(monkeypatch: pytest.MonkeyPatch) -> Iterator[callable]:
    """Switch the kernels on/off ($VSRIFE_FUSED) for the code under test; restored afterwards."""

    saved = settings.get()

    def set_on(on: bool) -> None:
        settings.set_settings(dataclasses.replace(saved, fused=on))

    yield set_on
    settings.set_settings(saved)


def test_library_is_built() -> None:
    assert fused.available(), "vsrife/nn/_fused.so is missing: `pip install -e .` (setup.py) compiles it"


@pytest.mark.parametrize(("model", "scale", "t", "ensemble"), [
    ("4.25", 1.0, 0.5, False), ("4.25", 0.5, 0.3, False), ("4.25", 0.25, 0.5, False), ("4.25", 2.0, 0.5, False),
    ("4.0", 1.0, 0.7, False), ("4.0", 0.5, 0.5, False), ("4.25", 1.0, 0.3, True), ("4.25", 0.5, 0.5, True),
    ("4.0", 1.0, 0.5, True), ("4.6", 1.0, 0.5, False), ("4.6", 0.5, 0.3, False), ("4.6", 1.0, 0.7, True)])
def test_kernels_match_the_torch_path(pair, toggle, monkeypatch: pytest.MonkeyPatch, model: str, scale: float,
                                      t: float, ensemble: bool) -> None:
    """Same frame as FastV4's torch ops (float rounding only), and the kernels really ran."""
    net, _ = load_model(model)
    fast = FastV4(net.float().eval())
    a, b = pair
    tt = torch.full((1,), t)
    calls = {"block_input": 0, "final": 0}
    for name in calls:
        orig = getattr(fused, name)

        def counted(*args, _orig=orig, _name=name, **kw):
            calls[_name] += 1
            return _orig(*args, **kw)

        monkeypatch.setattr(fused, name, counted)
    with torch.inference_mode():
        x0, x1 = fast.source(a), fast.source(b)
        toggle(True)
        got = fast.interpolate(x0, x1, tt, scale, ensemble)
        toggle(False)
        ref = fast.interpolate(x0, x1, tt, scale, ensemble)
    integer_blocks = sum(1 for s in net.arch.scale_list(scale)[1:] if float(s).is_integer())
    # at scale 2 the last block works at twice the frame size: its output is downscaled, which the kernel skips
    # 4.25's ensemble has a reversed pass (its outputs flipped by the output kernel); 4.0's and 4.6's run each
    # block twice on one kernel-made input
    passes = 2 if ensemble and net.arch.passwise_ensemble else 1
    # 4.0's refine nets finish its frame from the full-resolution flow, so the output kernel is not used for it
    assert calls == {"block_input": passes * integer_blocks, "final": int(scale <= 1 and not net.arch.refines)}
    assert integer_blocks >= 3
    assert psnr(got.numpy(), ref.numpy(), peak=1.0) >= 100.0


def test_final_kernel_equals_resize_warp_blend_with_large_flows() -> None:
    """Random block outputs with flows of many pixels (samples clamp at the border), 4 levels, 7-channel sources."""
    g = torch.Generator().manual_seed(3)
    h, w = 64, 96
    x0 = torch.rand(1, 7, h, w, generator=g).contiguous(memory_format=CL)
    x1 = torch.rand(1, 7, h, w, generator=g).contiguous(memory_format=CL)
    shapes = ((13, 8), (13, 4), (13, 2), (5, 1))
    outs = [(torch.randn(1, c, h // u, w // u, generator=g) * 6, float(u)) for c, u in shapes]
    flow = sum(resize(d[:, :4], up) for d, up in outs)
    mask = sum(resize(d[:, 4:5], up) for d, up in outs)
    ref = torch.lerp(warp_nchw(x1[:, :3], flow[:, 2:4]), warp_nchw(x0[:, :3], flow[:, :2]), torch.sigmoid(mask))
    got = fused.final(x0, x1, outs, acc=True)
    assert got.shape == (1, 3, h, w)
    assert torch.allclose(got, ref, atol=2e-5)


def test_block_input_kernel_equals_resize_warp_pool() -> None:
    """The s = 2 block input (2x2 means of full-resolution points) against resize + warp + bilinear 1/2."""
    g = torch.Generator().manual_seed(4)
    h, w, s = 64, 96, 2
    x0 = torch.rand(1, 7, h, w, generator=g).contiguous(memory_format=CL)
    x1 = torch.rand(1, 7, h, w, generator=g).contiguous(memory_format=CL)
    outs = [(torch.randn(1, 13, h // u, w // u, generator=g) * 4, float(u)) for u in (8, 4)]
    flow = sum(resize(d[:, :4], up) for d, up in outs)
    mask = sum(resize(d[:, 4:5], up) for d, up in outs)
    feat = resize(outs[-1][0][:, 5:], outs[-1][1])
    w0, w1 = warp_nchw(x0, flow[:, :2]), warp_nchw(x1, flow[:, 2:4])
    low = lambda x: resize(x, 1 / s)  # noqa: E731
    tplane = torch.full((1, 1, h // s, w // s), 0.3)
    ref = torch.cat([low(w0), low(w1), low(flow) / s, low(mask), low(feat), tplane], 1)  # FastV4's input order
    got = fused.block_input(x0, x1, outs, acc=True, nfeat=8, s=s, t=0.3)
    assert got.shape == ref.shape == (1, 28, h // s, w // s)
    assert got.is_contiguous(memory_format=CL)
    assert torch.allclose(got, ref, atol=2e-5)


def test_pre_shuffle_and_bf16_block_outputs_read_in_place() -> None:
    """Head outputs handed over before PixelShuffle(2) and/or in bfloat16 give the same bits as shuffled float32."""
    g = torch.Generator().manual_seed(6)
    h, w = 64, 96
    x0 = torch.rand(1, 7, h, w, generator=g).contiguous(memory_format=CL)
    x1 = torch.rand(1, 7, h, w, generator=g).contiguous(memory_format=CL)
    pre = [((torch.randn(1, 4 * c, h // u // 2, w // u // 2, generator=g) * 3).to(torch.bfloat16).float(), float(u))
           for c, u in ((13, 8), (13, 4), (5, 1))]  # values bfloat16 can hold exactly
    pre = [(d.contiguous(memory_format=CL), up) for d, up in pre]
    shuffled = [(F.pixel_shuffle(d, 2), up) for d, up in pre]
    for outs in ([(d, up, True) for d, up in pre], [(d.to(torch.bfloat16), up) for d, up in shuffled],
                 [(d.to(torch.bfloat16), up, True) for d, up in pre]):
        assert torch.equal(fused.final(x0, x1, outs, True), fused.final(x0, x1, shuffled, True))
        assert torch.equal(fused.block_input(x0, x1, outs[:2], True, 8, 2, 0.5),
                           fused.block_input(x0, x1, shuffled[:2], True, 8, 2, 0.5))
    ref = fused.block_input(x0, x1, shuffled[:2], True, 8, 2, 0.5)
    half = fused.block_input(x0, x1, shuffled[:2], True, 8, 2, 0.5, dtype=torch.bfloat16)
    assert half.dtype == torch.bfloat16 and torch.equal(half, ref.to(torch.bfloat16))  # round to nearest even
    assert fused.isa() in (0, 3, 4) and fused.reads_pre_shuffle() == (fused.isa() == 4)


def _random_case(seed: int, h: int = 64, w: int = 96):
    g = torch.Generator().manual_seed(seed)
    x0 = torch.rand(1, 7, h, w, generator=g).contiguous(memory_format=CL)
    x1 = torch.rand(1, 7, h, w, generator=g).contiguous(memory_format=CL)
    outs = [(torch.randn(1, 13, h // u, w // u, generator=g) * 4, float(u)) for u in (8, 4, 2)]
    return x0, x1, outs


def test_every_isa_build_gives_the_same_frame() -> None:
    """The baseline, AVX2 and AVX-512 builds in the one library (those this CPU runs) agree to float rounding.

    The wheel ships one library for all x86-64 CPUs: this runs the lower builds that a CPU with the higher ones
    would never pick on its own, and checks that asking for a build the CPU lacks is refused.
    """
    x0, x1, outs = _random_case(8)
    best = fused.isa()
    levels = [lv for lv in (0, 3, 4) if lv <= best]
    results = {}
    try:
        for lv in levels:
            assert fused.set_isa(lv) == lv and fused.isa() == lv
            results[lv] = (fused.final(x0, x1, outs, True), fused.block_input(x0, x1, outs[:2], True, 8, 2, 0.5))
    finally:
        assert fused.set_isa(-1) == best
    assert best in (3, 4), f"this machine's CPU has AVX2 at least (facts.md), yet isa() is {best}"
    for lv in levels[1:]:
        for got, ref in zip(results[lv], results[0], strict=True):
            assert torch.allclose(got, ref, atol=2e-5), f"build {lv} differs from the baseline build"
    with pytest.raises(ValueError, match="level must be"):
        fused.set_isa(1)
    if best < 4:
        with pytest.raises(ValueError, match="level must be"):
            fused.set_isa(4)
    assert fused.isa() == best


def test_non_finite_block_outputs_do_not_crash() -> None:
    """NaN/inf flows (a broken model file) give a frame, not a read outside the sources."""
    g = torch.Generator().manual_seed(7)
    h, w = 32, 64
    x0 = torch.rand(1, 7, h, w, generator=g).contiguous(memory_format=CL)
    x1 = torch.rand(1, 7, h, w, generator=g).contiguous(memory_format=CL)
    bad = torch.randn(1, 13, h // 4, w // 4, generator=g)
    bad[:, 0, ::2] = float("nan")
    bad[:, 1, 1::2] = float("inf")
    bad[:, 2, :, ::3] = -float("inf")
    for outs in ([(bad, 4.0)], [(bad, 4.0), (bad[:, :5].repeat(1, 1, 4, 4), 1.0)]):
        assert fused.final(x0, x1, outs, True).shape == (1, 3, h, w)
        assert fused.block_input(x0, x1, outs[:1], True, 8, 2, 0.5).shape == (1, 28, h // 2, w // 2)


def test_row_bands_on_two_threads_give_the_same_bits() -> None:
    g = torch.Generator().manual_seed(5)
    h, w = 96, 128
    x0 = torch.rand(1, 7, h, w, generator=g).contiguous(memory_format=CL)
    x1 = torch.rand(1, 7, h, w, generator=g).contiguous(memory_format=CL)
    outs = [(torch.randn(1, 13, h // u, w // u, generator=g) * 3, float(u)) for u in (16, 8, 4)]
    prev = torch.get_num_threads()
    try:
        res = []
        for n in (1, 2):
            torch.set_num_threads(n)
            res.append((fused.final(x0, x1, outs, True), fused.block_input(x0, x1, outs, True, 8, 2, 0.5)))
    finally:
        torch.set_num_threads(prev)
    assert torch.equal(res[0][0], res[1][0]) and torch.equal(res[0][1], res[1][1])


def test_bf16_convolutions_stay_within_50db(pair) -> None:
    """fp16=True on the CPU: the blocks' convolutions in bfloat16, >= 50 dB from the fp32 eager model."""
    if not bf16_supported():
        pytest.skip("this CPU has no native bf16 instructions (fp16=True is refused here; tested below)")
    a, b = pair
    eng = Engine("4.25", device="cpu", fp16=True, ensemble=False)
    assert eng.fast is not None and eng.fast.dtype == torch.bfloat16
    assert eng.dtype == torch.float32  # frames, warps and output stay fp32
    got = eng.interpolate(a[0], b[0], 0.5).numpy()
    net, _ = load_model("4.25")
    with torch.inference_mode():
        ref = net.float().eval()(a, b, 0.5).image.numpy()
    assert 50.0 <= psnr(got[0], ref[0], peak=1.0) < 200.0  # close, and really computed differently
    clip = vs.core.std.BlankClip(width=512, height=256, format=vs.RGBS, length=2)
    frames = [x[0].numpy() for x in pair]

    def fill(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        out = f.copy()
        for p in range(3):
            np.asarray(out[p])[...] = frames[n][p]
        return out

    clip = clip.std.ModifyFrame(clip, fill)
    mid = vsrife.RIFE(clip, fp16=True, device="cpu", ensemble=False, sc=False).get_frame(1)
    assert psnr(np.stack([np.asarray(mid[p]) for p in range(3)]), ref[0], peak=1.0) >= 50.0


def test_fp16_on_a_cpu_without_bf16_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vsrife.engine.device, "bf16_supported", lambda: False)
    with pytest.raises(ValueError, match=r"fp16=True on the CPU runs the convolutions in bfloat16 and needs a CPU "
                                         r"with native bf16 instructions"):
        Engine("4.25", device="cpu", fp16=True)
