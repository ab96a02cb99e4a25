"""The model family on real weights: strict loading, flows on known shifts, real footage, safety."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import psnr, read_video, textured

from vsrife import settings
from vsrife import weights as registry
from vsrife.engine import Engine
from vsrife.nn import ARCHS, IFNet
from vsrife.weights import ModelLoadError, build, detect_arch, load_file, load_model

MODELS = list(registry.MODELS)


def shifted(d: int, t: float, h: int = 192, w: int = 256, seed: int = 1) -> tuple[torch.Tensor, ...]:
    """img0, img1 = texture moved left by d pixels, and the truth at timestep t."""
    tex = textured(h, w + 64, seed)
    crop = lambda x: torch.from_numpy(np.ascontiguousarray(tex[:, :, x:x + w]))  # noqa: E731
    return crop(0), crop(d), crop(round(d * t))


@pytest.mark.parametrize("name", MODELS)
def test_every_model_loads_strictly_and_runs(all_models: list[str], name: str) -> None:
    d = registry.locate(name)
    sd, meta = load_file(d if registry.MODELS[name].arch.refine == "v31" else d / "flownet.pkl")
    arch = detect_arch(sd, meta)
    assert arch == registry.MODELS[name].arch
    net = build(arch, sd, teacher=True)
    used = set(net.state_dict())
    training_only = {k for k in sd if k.startswith(arch.extra)} if arch.extra else set()
    assert set(sd) - training_only == used  # every key used, none missing
    img0, img1, _ = shifted(8, 0.5, 64, 64)
    out = Engine(name, device="cpu").interpolate(img0, img1, 0.5)
    assert out.shape == (1, 3, 64, 64) and torch.isfinite(out).all()


@pytest.mark.parametrize("d", [8, 16, 32])
def test_flow_recovers_known_shift(all_models: list[str], d: int) -> None:
    img0, img1, mid = shifted(d, 0.5)
    net, _ = load_model("4.25")
    with torch.inference_mode():
        out = net(img0[None], img1[None], 0.5)
    inner = (slice(None), slice(16, -16), slice(16 + d, -16 - d))
    fx0, fx1 = out.flow[0, 0][inner[1:]].mean().item(), out.flow[0, 2][inner[1:]].mean().item()
    assert abs(fx0 - d / 2) < 0.25 and abs(fx1 + d / 2) < 0.25
    assert abs(out.flow[0, 1][inner[1:]].mean().item()) < 0.25
    got = out.image[0].clamp(0, 1).numpy()[inner]
    assert psnr(got, mid.numpy()[inner], peak=1.0) > 45

    with torch.inference_mode():
        q = net(img0[None], img1[None], 0.25)
    # measured: 1.99 / 3.96 / 7.58 px for d = 8 / 16 / 32 (RIFE's arbitrary-t flows bend slightly at large motion)
    tol = 0.25 if d <= 16 else 0.5
    assert abs(q.flow[0, 0][inner[1:]].mean().item() - d / 4) < tol
    assert abs(q.flow[0, 2][inner[1:]].mean().item() + 3 * d / 4) < 2 * tol


@pytest.mark.parametrize("name", ["4.0", "hd", "3.1"])
def test_other_versions_recover_shift(all_models: list[str], name: str) -> None:
    img0, img1, mid = shifted(16, 0.5)
    out = Engine(name, device="cpu").interpolate(img0, img1, 0.5)[0]
    inner = (slice(None), slice(16, -16), slice(32, -32))
    # measured on this texture: 4.0 39.1 dB (47.8 with ensemble), hd 53.5, 3.1 57.2
    assert psnr(out.numpy()[inner], mid.numpy()[inner], peak=1.0) > 36


def test_real_footage_beats_blend_for_every_model(all_models: list[str], footage: Path) -> None:
    """Drop middle frames of bbb and bikes, interpolate them back; every model >= blend + 3 dB."""
    bbb = read_video(footage / "bigbuckbunny.mp4", 1280, 720, 100)[:, ::2, ::2]  # 640x360
    bikes = read_video(footage / "bikes.mp4", 640, 272, 230)
    triplets = [(bbb, i) for i in (20, 60, 90)] + [(bikes, i) for i in (50, 160, 220)]
    blend = np.mean([psnr((c[i - 1].astype(np.float32) + c[i + 1]) / 2, c[i]) for c, i in triplets])
    for name in MODELS:
        eng = Engine(name, device="cpu")
        scores = []
        for clip, i in triplets:
            a, b = (torch.from_numpy(clip[k].copy()).permute(2, 0, 1).float() / 255 for k in (i - 1, i + 1))
            out = eng.interpolate(a, b, 0.5)[0]
            scores.append(psnr((out.clamp(0, 1) * 255).round().permute(1, 2, 0).numpy(), clip[i]))
        assert np.mean(scores) >= blend + 3, (name, np.mean(scores), blend)


def test_memory_estimate_counts_the_cached_context_of_4_0(all_models: list[str]) -> None:
    """4.0's cached frames keep their context levels (30 bytes per padded pixel each): at 1920x1088 the 6 cached
    frames add 0.35 GiB, so a limit that holds 4.25's working set (1.75 GiB) refuses 4.0's (2.1 GiB)."""
    from vsrife.errors import OutOfMemoryError

    with settings.override(memory_limit_mb=2000):
        Engine("4.25", ensemble=False).check_memory(1088, 1920)
        with pytest.raises(OutOfMemoryError, match=r"a 1920x1088 frame at scale=1.0 needs about 2.1 GiB"):
            Engine("4.0", ensemble=False).check_memory(1088, 1920)
    with settings.override(memory_limit_mb=2300):
        Engine("4.0", ensemble=False).check_memory(1088, 1920)


@pytest.mark.parametrize("ensemble", [False, True])
def test_4_0_runs_its_refine_nets(all_models: list[str], footage: Path, ensemble: bool) -> None:
    """4.0's context U-Net runs on every frame (fast path and eager model alike) and is worth it on real footage:
    the engine equals the eager model with ``refine=True``, not the plain flow pass, and beats that pass.  The
    fast path computes each frame's context features once, with the frame (``Prepared.ctx``)."""
    frames = read_video(footage / "bikes.mp4", 640, 272, 3, start=10)[:, 56:216, 192:448]  # 256x160, moving
    a, b = (torch.from_numpy(f.transpose(2, 0, 1).copy()).float() / 255 for f in frames[::2])
    eng = Engine("4.0", ensemble=ensemble)
    assert eng.arch.refines and eng.fast is not None and eng.fast.refiner is not None
    p0, p1 = eng.prepare(a, key=0), eng.prepare(b, key=1)
    assert p0.ctx is not None and [c.shape[1] for c in p0.ctx] == [16, 32, 64, 128]
    got = eng.interpolate(p0, p1, [0.5], size=(160, 256))[0]
    tt = torch.full((1,), 0.5)
    # the context computed inside interpolate (no cached levels): the same frame up to rounding
    with torch.inference_mode():
        fresh = eng.fast.interpolate(p0.src, p1.src, tt, eng.scale, eng.ensemble)[0, :, :160, :256]
    assert float((got - fresh.to(got.dtype)).abs().max()) < 1e-5, float((got - fresh.to(got.dtype)).abs().max())
    pa, pb = eng.to_device(a), eng.to_device(b)
    with torch.inference_mode():
        ref = eng.net(pa, pb, 0.5, ensemble=ensemble, refine=True).image[0, :, :160, :256]
        plain = eng.net(pa, pb, 0.5, ensemble=ensemble).image[0, :, :160, :256]
    assert float((got - ref).abs().max()) < 1e-3
    assert float((got - plain).abs().mean()) > 1e-3
    u8 = lambda x: (x.clamp(0, 1) * 255).round().permute(1, 2, 0).numpy()  # noqa: E731
    assert psnr(u8(got), frames[1]) > psnr(u8(plain), frames[1])


def test_batched_timesteps_match_single_calls(all_models: list[str]) -> None:
    img0, img1, _ = shifted(8, 0.5, 64, 128)
    eng = Engine("4.25", device="cpu")
    batch = eng.interpolate(img0, img1, [0.25, 0.5, 0.75])
    for k, t in enumerate((0.25, 0.5, 0.75)):
        assert torch.allclose(batch[k], eng.interpolate(img0, img1, t)[0], atol=1e-4)


def test_per_pixel_timestep_map(all_models: list[str]) -> None:
    img0, img1, _ = shifted(8, 0.5)
    eng = Engine("4.25", device="cpu")
    uniform = eng.interpolate(img0, img1, torch.full((192, 256), 0.3))
    assert torch.allclose(uniform, eng.interpolate(img0, img1, 0.3), atol=1e-4)
    tmap = torch.full((192, 256), 0.1)
    tmap[:, 128:] = 0.9
    mixed = eng.interpolate(img0, img1, tmap)[0]
    lo, hi = eng.interpolate(img0, img1, [0.1, 0.9])
    left, right = (slice(None), slice(16, -16), slice(16, 96)), (slice(None), slice(16, -16), slice(160, -16))
    assert (mixed[left] - lo[left]).abs().mean() < 0.5 * (mixed[left] - hi[left]).abs().mean()
    assert (mixed[right] - hi[right]).abs().mean() < 0.5 * (mixed[right] - lo[right]).abs().mean()
    with pytest.raises(ValueError, match="per-pixel"):
        Engine("hd", device="cpu").interpolate(img0, img1, tmap)


@pytest.mark.parametrize("scale", [0.25, 0.5, 1.0, 2.0, 4.0])
def test_any_size_and_every_scale(all_models: list[str], scale: float) -> None:
    rng = np.random.default_rng(0)
    a, b = (torch.from_numpy(rng.random((3, 37, 50), dtype=np.float32)) for _ in range(2))
    eng = Engine("4.25", device="cpu", scale=scale)
    assert eng.multiple == max(int(64 / scale), 8)
    out = eng.interpolate(a, b, 0.5)
    assert out.shape == (1, 3, 37, 50) and torch.isfinite(out).all()


def test_timestep_free_models_bisect(all_models: list[str]) -> None:
    img0, img1, quarter = shifted(16, 0.25)
    eng = Engine("hd", device="cpu")
    assert eng.quantize_timestep(0.3) == 0.3125
    out = eng.interpolate(img0, img1, 0.25)[0]
    inner = (slice(None), slice(16, -16), slice(32, -32))
    assert psnr(out.numpy()[inner], quarter.numpy()[inner], peak=1.0) > 35


def test_bad_arguments_are_named(all_models: list[str]) -> None:
    with pytest.raises(ValueError, match="scale must be one of"):
        Engine("4.25", scale=3)
    with pytest.raises(ValueError, match=r"ensemble=True is not supported by model 3\.1"):
        Engine("3.1", ensemble=True)
    with pytest.raises(ValueError, match="model 'x' is unknown"):
        Engine("x")
    with pytest.raises(ValueError, match="fp16=True on the CPU"):
        Engine("3.1", device="cpu", fp16=True)
    with pytest.raises(ValueError, match="cuda:7"):
        Engine("4.25", device="cuda:7")


class _Payload:
    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_pickle_with_code_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    p = _Payload()
    p.marker = str(marker)
    evil = tmp_path / "evil.pkl"
    torch.save({"block0.conv0.0.0.weight": torch.zeros(1), "x": p}, evil)
    with pytest.raises(ModelLoadError, match="refused"):
        load_model(model_path=evil)
    assert not marker.exists()
    raw = tmp_path / "raw.pkl"
    raw.write_bytes(pickle.dumps(p))
    with pytest.raises(ModelLoadError):
        load_model(model_path=raw)
    assert not marker.exists()


def test_user_weights_in_every_container(all_models: list[str], tmp_path: Path) -> None:
    from safetensors.torch import save_file

    sd, _ = load_file(registry.locate("4.0") / "flownet.pkl")
    save_file({k: v.contiguous() for k, v in sd.items()}, tmp_path / "m.safetensors")
    torch.save({"module." + k: v for k, v in sd.items()}, tmp_path / "m.pth")
    img0, img1, _ = shifted(8, 0.5, 64, 64)
    ref = Engine("4.0", device="cpu").interpolate(img0, img1, 0.5)
    for f in ("m.safetensors", "m.pth"):
        eng = Engine(model_path=tmp_path / f, device="cpu")
        assert eng.arch.name == "4.0/4.1"
        assert torch.equal(eng.interpolate(img0, img1, 0.5), ref)


def test_unknown_layout_lists_expected(tmp_path: Path) -> None:
    torch.save({"conv.weight": torch.zeros(3, 3, 3, 3)}, tmp_path / "x.pth")
    with pytest.raises(ModelLoadError, match=r"unknown weights layout .*Known layouts: 4\.0/4\.1, 4\.2-4\.4, .*"
                                             r"4\.25/4\.26, .*hd, 3\.1$"):
        load_model(model_path=tmp_path / "x.pth")


def test_missing_model_names_the_fetch_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with settings.override(model_dir=tmp_path), \
            pytest.raises(registry.AssetError, match="python -m vsrife models fetch hd"):
        registry.locate("hd")


def test_random_init_net_matches_arch_shapes() -> None:
    for arch in ARCHS.values():
        with torch.device("meta"):
            net = IFNet(arch, teacher=True)
        assert sum(p.numel() for p in net.parameters()) > 0
