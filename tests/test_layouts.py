"""Every published RIFE v4 layout (4.0 to 4.26, .lite and .heavy) from ``model_path`` (issue 17).

``tests/data/v4_shapes.json`` is the key -> shape table of each published version, taken from the public
model definitions (one file per version in HolyWu/vs-rife) independently of vsrife's table, with versions
whose tables are identical grouped.  Each layout is rebuilt here from that table with random values, saved the
way release assets are (``module.`` prefix), and run through ``vsrife.RIFE(clip, model_path=...)``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import vapoursynth as vs
from helpers import clip_from_arrays, psnr, read_video, textured

import vsrife
from vsrife import weights as registry
from vsrife.engine import Engine
from vsrife.nn import ARCHS, VERSIONS, Encoder, IFNet, arch_for
from vsrife.nn.arch import Refine
from vsrife.nn.fast import FastV4
from vsrife.weights import ModelLoadError, detect_arch, load_file, load_model
from vsrife.weights.detect import layout

DATA = json.loads((Path(__file__).parent / "data" / "v4_shapes.json").read_text())["layouts"]
GROUPS = {" ".join(g["versions"]): g for g in DATA}


def random_state_dict(shapes: dict[str, list[int]], seed: int = 0) -> dict[str, torch.Tensor]:
    """Random values of the given shapes, small enough that eight residual convs stay finite."""
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for k, s in shapes.items():
        t = torch.randn(s, generator=g)
        fan_in = int(np.prod(s[1:])) if len(s) > 1 else 1
        sd[k] = t * (0.5 / fan_in**0.5) if len(s) > 1 else t * 0.05
    return sd


def save_release_style(sd: dict[str, torch.Tensor], path: Path) -> Path:
    """As the upstream release assets store them: every key prefixed with ``module.`` (a DDP save)."""
    torch.save({"module." + k: v for k, v in sd.items()}, path)
    return path


def test_fixture_covers_every_published_version() -> None:
    published = [v for g in DATA for v in g["versions"]]
    assert len(published) == len(set(published)) == 36
    assert set(published) == set(registry.UPSTREAM_VERSIONS) == {v for v in VERSIONS if v.startswith("4.")}


@pytest.mark.parametrize("versions", list(GROUPS))
def test_table_matches_the_published_shapes(versions: str) -> None:
    """Same keys, shapes and order as the public definition; indistinguishable versions share one layout."""
    g = GROUPS[versions]
    arch = VERSIONS[g["versions"][0]]
    assert all(VERSIONS[v] is arch for v in g["versions"])
    assert list(arch.versions) == g["versions"]
    core = layout(arch).core
    assert list(core) == list(g["shapes"])
    assert all(list(core[k]) == s for k, s in g["shapes"].items())


def test_layout_facts() -> None:
    """Padding multiple, encoder, features, mask rule and block count of the layouts that differ in them."""
    pad = {v: arch_for(v).pad_multiple(1.0) for v in registry.UPSTREAM_VERSIONS}
    assert pad["4.25.lite"] == 128 and pad["4.25"] == pad["4.26"] == pad["4.25.heavy"] == pad["4.26.heavy"] == 64
    assert {v for v, m in pad.items() if m == 32} == set(pad) - {"4.25", "4.26", "4.25.lite", "4.25.heavy",
                                                                 "4.26.heavy"}
    assert arch_for("4.25.lite").scales == (32, 16, 8, 4, 1)
    assert [arch_for(v).encoder for v in ("4.6", "4.8", "4.11", "4.13", "4.25")] == [
        Encoder.NONE, Encoder.PAIR, Encoder.SEQ, Encoder.HEAD, Encoder.HEAD]
    assert [arch_for(v).source_channels for v in ("4.6", "4.7", "4.10", "4.22.lite", "4.26.heavy")] == [3, 7, 11, 7, 19]
    assert [arch_for(v).features for v in ("4.6", "4.20", "4.21", "4.25")] == [0, 0, 8, 8]
    assert [arch_for(v).mask_accumulate for v in ("4.0", "4.6", "4.7", "4.25")] == [True, True, False, False]
    assert arch_for("4.14.lite").groups == 2 and arch_for("4.0").prelu and not arch_for("4.2").prelu
    assert arch_for("4.18").name == "4.13-4.19/4.24" and arch_for("4.16.lite").name == "4.15.lite-4.17.lite"


def _clip(h: int = 64, w: int = 96) -> vs.VideoNode:
    tex = textured(h, w + 8, seed=5)
    return clip_from_arrays([np.ascontiguousarray(tex[:, :, k * 4:k * 4 + w]) for k in range(2)], vs.RGBS)


@pytest.mark.parametrize("versions", list(GROUPS))
def test_each_layout_loads_strictly_and_interpolates(tmp_path: Path, versions: str) -> None:
    """Random weights of the layout through the filter; the frame equals the eager network's (fast path vs eager)."""
    g = GROUPS[versions]
    sd = random_state_dict(g["shapes"], seed=len(versions))
    path = save_release_style(sd, tmp_path / f"flownet_v{g['versions'][-1]}.pkl")
    arch = detect_arch(*load_file(path))
    assert arch.name == VERSIONS[g["versions"][0]].name and arch.refine is Refine.NONE
    clip = _clip()
    out = vsrife.RIFE(clip, model_path=str(path), sc=False)
    mid = out.get_frame(1)
    got = np.stack([np.asarray(mid[p]) for p in range(3)])
    assert mid.props["RifeInterpolated"] == 1 and np.isfinite(got).all()
    net = IFNet(arch)
    net.load_state_dict(sd, strict=True)
    a, b = (torch.from_numpy(np.stack([np.asarray(clip.get_frame(n)[p]) for p in range(3)]))[None] for n in (0, 1))
    m = arch.pad_multiple(1.0)
    pad = (0, -96 % m, 0, -64 % m)
    with torch.inference_mode():
        ref = net(torch.nn.functional.pad(a, pad, mode="replicate"), torch.nn.functional.pad(b, pad, mode="replicate"),
                  0.5, ensemble=True).image[0, :, :64, :96].clamp(0, 1).numpy()
    assert psnr(got, ref, peak=1.0) >= 80.0


# PSNR (dB) of the real files on two triplets (Big Buck Bunny 60 at 640x360, bikes 160 at 640x272), measured
# with the engine as the filter runs it (4.0 with its refine nets: 38.687 / 31.549 and 36.619 / 31.030 without);
# the full evaluation is in docs/quality.md.
MEASURED = {("4.0", True): (39.350, 31.838), ("4.0", False): (39.324, 31.566),
            ("4.6", True): (39.197, 31.363), ("4.6", False): (37.129, 31.330),
            ("4.25", True): (38.437, 31.852), ("4.25", False): (35.988, 31.656)}


@pytest.mark.parametrize(("name", "ensemble"), list(MEASURED))
def test_real_files_reproduce_their_quality(all_models: list[str], footage: Path, name: str, ensemble: bool) -> None:
    bbb = read_video(footage / "bigbuckbunny.mp4", 1280, 720, 3, start=59)[:, ::2, ::2]
    bikes = read_video(footage / "bikes.mp4", 640, 272, 3, start=159)
    eng = Engine(name, device="cpu", ensemble=ensemble)
    assert eng.fast is not None  # every 4.x model has the CPU fast path, ensemble or not
    scores, blends = [], []
    for c in (bbb, bikes):
        a, b = (torch.from_numpy(c[k].copy()).permute(2, 0, 1).float() / 255 for k in (0, 2))
        out = eng.interpolate(a, b, 0.5)[0]
        scores.append(psnr((out.clamp(0, 1) * 255).round().permute(1, 2, 0).numpy(), c[1]))
        blends.append(psnr((c[0].astype(np.float32) + c[2]) / 2, c[1]))
    assert np.mean(scores) > np.mean(blends) + 1.0
    assert np.allclose(scores, MEASURED[(name, ensemble)], atol=0.02), scores


def test_real_46_file_is_the_46_layout(all_models: list[str]) -> None:
    sd, meta = load_file(registry.model_file(registry.MODELS["4.6"]))
    assert len(sd) == 120 and detect_arch(sd, meta) is ARCHS["4.6"]
    net, _ = load_model("4.6")
    assert sum(p.numel() for p in net.parameters()) == 5_306_256


def _near_miss(sd: dict[str, torch.Tensor], match: str) -> None:
    with pytest.raises(ModelLoadError, match=match):
        detect_arch(sd)


def test_near_miss_names_the_key_and_the_closest_layout() -> None:
    sd = random_state_dict(GROUPS["4.13 4.14 4.15 4.17 4.18 4.19 4.24"]["shapes"])
    missing = dict(sd)
    del missing["block2.convblock.3.beta"]
    _near_miss(missing, r"almost match the 4\.13-4\.19/4\.24 \(4\.13/4\.14/4\.15/4\.17/4\.18/4\.19/4\.24\) layout; "
                        r"1 difference: block2\.convblock\.3\.beta is missing$")
    off = dict(sd, **{"block1.conv0.0.0.weight": torch.zeros(64, 29, 3, 3)})
    _near_miss(off, r"4\.13-4\.19/4\.24 \(.*\) layout; 1 difference: block1\.conv0\.0\.0\.weight has shape "
                    r"\[64, 29, 3, 3\], the layout has \[64, 28, 3, 3\]$")
    extra = dict(sd, **{"block9.conv.weight": torch.zeros(1)})
    _near_miss(extra, r"4\.13-4\.19/4\.24 \(.*\) layout; .*block9\.conv\.weight is not in the layout")
    sd6 = random_state_dict(GROUPS["4.6"]["shapes"])
    _near_miss({k: v for k, v in sd6.items() if k != "block3.lastconv.0.bias"},
               r"almost match the 4\.6 layout; 1 difference: block3\.lastconv\.0\.bias is missing")


def test_near_miss_through_the_filter(tmp_path: Path) -> None:
    sd = random_state_dict(GROUPS["4.6"]["shapes"])
    sd["block0.lastconv.0.weight"] = torch.zeros(192, 28, 4, 4)
    path = save_release_style(sd, tmp_path / "bad.pkl")
    with pytest.raises(vs.Error, match=r"4\.6 layout; 1 difference: block0\.lastconv\.0\.weight has shape "
                                       r"\[192, 28, 4, 4\], the layout has \[192, 24, 4, 4\]"):
        vsrife.RIFE(_clip(), model_path=str(path))


def test_training_keys_and_optional_refine_nets(all_models: list[str], tmp_path: Path) -> None:
    """Release files may carry training-only tensors; 4.0's refine nets may be present or absent (not in part)."""
    sd = random_state_dict(GROUPS["4.22.lite"]["shapes"])
    sd.update({"teacher.conv0.0.0.weight": torch.zeros(8, 31, 3, 3), "caltime.0.weight": torch.zeros(32, 17, 3, 3)})
    assert detect_arch(sd).name == "4.22.lite"
    full, _ = load_file(registry.model_file(registry.MODELS["4.0"]))  # vsrife 2.0.0: with contextnet, unet, block_tea
    assert detect_arch(full).refine is Refine.V4
    plain = {k: v for k, v in full.items() if not k.startswith(("contextnet.", "unet.", "block_tea."))}
    arch = detect_arch(plain)
    assert arch.name == "4.0/4.1" and arch.refine is Refine.NONE
    img = torch.rand(1, 3, 64, 64)
    with torch.inference_mode():
        a = load_model(model_path=save_release_style(plain, tmp_path / "p.pkl"))[0](img, img.roll(2, -1)).image
        b = load_model("4.0")[0](img, img.roll(2, -1)).image
    assert torch.equal(a, b)
    part = {k: v for k, v in full.items() if not k.startswith("unet.")}
    with pytest.raises(ModelLoadError, match=r"4\.0/4\.1 layout; .*unet\..* is missing \(refine present in part\)"):
        detect_arch(part)


def test_detection_is_fast_once_tables_are_built(all_models: list[str]) -> None:
    sd, meta = load_file(registry.model_file(registry.DEFAULT))
    detect_arch(sd, meta)
    t0 = time.perf_counter()
    for _ in range(20):
        assert detect_arch(sd, meta) is registry.DEFAULT.arch
    assert (time.perf_counter() - t0) / 20 < 0.02
    builds = layout.cache_info().misses
    detect_arch(sd, meta)
    assert layout.cache_info().misses == builds  # tables are cached


def test_fast_path_matches_eager_for_the_46_file(all_models: list[str], footage: Path) -> None:
    """K = 6 head (sixth channel unused), accumulating mask, no encoder; with and without the block ensemble."""
    raw = read_video(footage / "bigbuckbunny.mp4", 1280, 720, 2, start=40)[:, ::4, ::4].copy()
    a, b = (torch.from_numpy(raw[k]).permute(2, 0, 1)[None].float() / 255 for k in (0, 1))
    a, b = a[..., :160, :320], b[..., :160, :320]
    net, _ = load_model("4.6")
    fast = FastV4(net)
    for ensemble in (False, True):
        with torch.inference_mode():
            ref = net(a, b, 0.3, ensemble=ensemble).image
            got = fast(a, b, torch.tensor([0.3]), ensemble=ensemble)
        assert psnr(got.numpy(), ref.numpy(), peak=1.0) >= 100.0
