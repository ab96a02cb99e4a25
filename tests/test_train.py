"""Privileged-distillation training on real weights and real footage (tiny crops)."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import numpy as np
import pytest
import torch
import vapoursynth as vs
from helpers import clip_from_arrays, read_video
from helpers import psnr as np_psnr

import vsrife
from vsrife.cli import main as cli_main
from vsrife.train import (
    SMALL,
    Batch,
    TeacherOutput,
    TrainConfig,
    Trainer,
    compute_losses,
    distill_loss,
    export_student,
    folder_source,
    freezable,
    init_net,
    laplacian_loss,
    make_batch,
    psnr,
    split,
    teacher_forward,
    video_source,
)
from vsrife.train.data import read_video as bs_read_video
from vsrife.weights import detect_arch, load_file

core = vs.core


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Training steps on tiny crops are fastest single-threaded (and the test machine is shared)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def bbb(footage: Path) -> np.ndarray:
    """Big Buck Bunny frames 40..49 at 384x216 (uint8 [N,H,W,3]); frames 40-49 hold a moving bunny."""
    raw = read_video(footage / "bigbuckbunny.mp4", 1280, 720, 10, start=40)
    t = torch.from_numpy(raw.copy()).permute(0, 3, 1, 2).float()
    small = torch.nn.functional.interpolate(t, size=(216, 384), mode="area")
    return small.round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a)).permute(0, 3, 1, 2).float() / 255


@pytest.fixture(scope="module")
def triplets(bbb: np.ndarray) -> Batch:
    """Two real triplets, 384x192 (a multiple of 64 for 4.25)."""
    f = bbb[:, 12:204]
    return Batch(_t(f[[0, 4]]), _t(f[[2, 6]]), _t(f[[1, 5]]), torch.full((2,), 0.5))


@pytest.fixture(scope="module")
def net425() -> torch.nn.Module:
    torch.manual_seed(0)
    return init_net("4.25", teacher=True)[0]


def test_pretrained_teacher_beats_student(net425, triplets: Batch) -> None:
    """With the channel order in TEACHER_ORDERS the real 4.25 teacher (which sees gt) wins clearly."""
    b = triplets
    with torch.no_grad():
        out = net425(b.img0, b.img1, b.t)
        tea = teacher_forward(net425, b.img0, b.img1, b.gt, out, b.t)
    assert psnr(tea.merged, b.gt) > psnr(out.image, b.gt) + 2.0


def test_loss_terms_as_specified(net425, triplets: Batch) -> None:
    b = triplets
    with torch.no_grad():
        out = net425(b.img0, b.img1, b.t)
        tea = teacher_forward(net425, b.img0, b.img1, b.gt, out, b.t)
        loss = compute_losses(out, tea, b.gt, distill_weight=0.01)
        per_block = [laplacian_loss(m, b.gt) for m in out.merged]
        assert torch.allclose(loss.rec, per_block[-1] + 0.1 * sum(per_block[:-1]))
        mean = compute_losses(out, tea, b.gt, aux_weight=None)
        assert torch.allclose(mean.rec, sum(per_block) / len(per_block))
        assert torch.allclose(loss.rec_teacher, laplacian_loss(tea.merged, b.gt))
        assert torch.allclose(loss.total, loss.rec + loss.rec_teacher + 0.01 * loss.dis)
        assert loss.dis > 0
        # Laplacian pyramid: identical images cost 0, a constant offset appears only in the low-pass band
        assert float(laplacian_loss(b.gt, b.gt)) == 0.0
        assert float(laplacian_loss(b.gt * 0 + 0.25, b.gt * 0 + 0.5)) == pytest.approx(0.25, abs=1e-6)
        # L_dis counts only pixels where the teacher is better (by > 0.01): a perfect teacher whose flow is off
        # by 1 px in every component gives an endpoint term of exactly 1 on the pixels the student gets wrong
        flow, img = out.flows[-1], out.merged[-1]
        perfect = TeacherOutput(flow + 1, out.mask_logit, b.gt.clone())
        wrong = ((img - b.gt).abs().mean(1, keepdim=True) > 0.01).float().mean()
        assert float(distill_loss([flow], [img], perfect, b.gt)) == pytest.approx(float(wrong), rel=1e-4)
        useless = TeacherOutput(flow + 1, out.mask_logit, (b.gt + 0.5).clamp(0, 1) * 0 + 2)
        assert float(distill_loss([flow], [img], useless, b.gt)) == 0.0
        # the other reconstruction losses: plain L1 and mean squared error, same block weights
        for kind, fn in (("l1", torch.nn.functional.l1_loss), ("l2", torch.nn.functional.mse_loss)):
            other = compute_losses(out, tea, b.gt, kind=kind)
            blocks = [fn(m, b.gt) for m in out.merged]
            assert torch.allclose(other.rec, blocks[-1] + 0.1 * sum(blocks[:-1]))
        with pytest.raises(ValueError, match="loss must be 'lap', 'l1' or 'l2'"):
            compute_losses(out, tea, b.gt, kind="l3")
        # no distillation: the teacher terms are zero
        off = compute_losses(out, None, b.gt)
        assert float(off.rec_teacher) == 0.0 and float(off.dis) == 0.0 and torch.allclose(off.total, off.rec)


def test_distill_gives_no_gradient_to_teacher(net425, triplets: Batch) -> None:
    b = triplets
    out = net425(b.img0, b.img1, b.t)
    tea = teacher_forward(net425, b.img0, b.img1, b.gt, out, b.t)
    loss = compute_losses(out, tea, b.gt)
    t_params = list(net425.teacher_block.parameters())
    s_params = list(net425.block4.parameters())
    g_dis = torch.autograd.grad(0.01 * loss.dis, t_params + s_params, allow_unused=True, retain_graph=True)
    assert all(g is None or not g.abs().any() for g in g_dis[:len(t_params)])
    assert any(g is not None and g.abs().sum() > 0 for g in g_dis[len(t_params):])  # it does train the student
    g_tea = torch.autograd.grad(loss.rec_teacher, t_params, allow_unused=True)
    assert any(g is not None and g.abs().sum() > 0 for g in g_tea)  # the teacher learns from its own L_rec


def test_one_step_updates_student_and_teacher(triplets: Batch) -> None:
    torch.manual_seed(0)
    net, caltime = init_net("4.25", teacher=True)
    assert caltime is not None and caltime[0].weight.shape == (32, 17, 3, 3)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    tr = Trainer(net, TrainConfig(steps=10, warmup=1, batch=2, crop=64), caltime)
    b = triplets
    crop = Batch(b.img0[..., :64, 96:160], b.img1[..., :64, 96:160], b.gt[..., :64, 96:160], b.t)
    loss = tr.train_step(crop)
    assert tr.step == 1 and torch.isfinite(loss.total)
    after = net.state_dict()
    changed = {k.split(".")[0] for k in after if not torch.equal(after[k], before[k])}
    assert {"block0", "block4", "encode", "teacher"} <= changed


def _bbb_source(bbb: np.ndarray):
    return video_source(list(bbb[:, :, :256]), span=3)


def test_video_windows_skip_cuts_and_static(footage: Path) -> None:
    frames = bs_read_video(footage / "bikes.mp4", max_frames=80, width=160)
    assert frames[0].shape == (68, 160, 3)
    src = video_source(frames, span=3)
    cuts = (30, 76)
    for w in src.windows:
        assert not any(w.i0 < c <= w.i1 for c in cuts), w
    assert {w.t for w in src.windows} == {0.5, 1 / 3, 2 / 3}
    still = [frames[0]] * 6
    assert len(video_source(still)) == 0


@pytest.mark.parametrize("interleave", [False, True])
def test_validation_split_shares_no_frames(footage: Path, interleave: bool) -> None:
    frames = bs_read_video(footage / "bikes.mp4", max_frames=60, width=96)
    train, val = split(video_source(frames, span=3), 0.1, gap=0 if interleave else 2, interleave=interleave)
    held = {f for w in val.windows for f in range(w.i0, w.i1 + 1)}
    used = {f for w in train.windows for f in range(w.i0, w.i1 + 1)}
    assert len(val) >= 3 and len(train) >= 3 and not held & used
    assert (min(held) < max(used)) == interleave  # interleaved: held-out windows lie between training ones


def test_validation_split_guarding_only_targets(footage: Path) -> None:
    """guard="targets": training windows may use held-out inputs, never a held-out ground-truth frame."""
    frames = bs_read_video(footage / "bikes.mp4", max_frames=60, width=96)
    src = video_source(frames, span=2)
    strict, val = split(src, 0.1, gap=0, interleave=True)
    loose, val2 = split(src, 0.1, gap=0, interleave=True, guard="targets")
    assert [w.i0 for w in val.windows] == [w.i0 for w in val2.windows]
    targets = {f for w in val.windows for f in range(w.i0 + 1, w.i1)}
    used = {f for w in loose.windows for f in range(w.i0, w.i1 + 1)}
    assert not targets & used
    assert len(loose) > len(strict)
    with pytest.raises(ValueError, match="guard must be 'frames' or 'targets'"):
        split(src, 0.1, guard="inputs")


def test_augmentation_keeps_triplets_consistent(bbb: np.ndarray) -> None:
    src = _bbb_source(bbb)
    rng = random.Random(5)
    b = make_batch(src, list(range(len(src))), 64, rng, augment=True)
    assert b.img0.shape == (len(src), 3, 64, 64)
    ts = sorted({round(float(t), 4) for t in b.t})
    assert {0.3333, 0.5, 0.6667} <= set(ts)
    # each augmented ground truth is still closer to its own pair's blend than a mismatched pair's
    blend = (b.img0 + b.img1) / 2
    own = (blend - b.gt).abs().flatten(1).mean(1)
    other = (blend.roll(1, 0) - b.gt).abs().flatten(1).mean(1)
    assert (own < other).float().mean() > 0.8


def test_septuplet_and_triplet_folders(tmp_path: Path, bbb: np.ndarray) -> None:
    from PIL import Image

    for k in range(7):
        (tmp_path / "s/0001").mkdir(parents=True, exist_ok=True)
        Image.fromarray(bbb[k]).save(tmp_path / f"s/0001/im{k + 1}.png")
    for k in range(3):
        (tmp_path / "t/0002").mkdir(parents=True, exist_ok=True)
        Image.fromarray(bbb[k + 7]).save(tmp_path / f"t/0002/im{k + 1}.png")
    src = folder_source(tmp_path)
    assert len(src.seqs) == 2 and len(src) == 35 + 1  # all (i0 < k < i1) windows of a septuplet, one triplet
    assert {w.t for w in src.windows} >= {1 / 6, 0.5, 5 / 6}
    f0, _f1, g = src.frames(src.windows[-1])
    assert f0.shape == (216, 384, 3) and np.array_equal(g, bbb[8])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no triplet folders"):
        folder_source(tmp_path / "empty")


def test_resume_continues_from_same_step(tmp_path: Path, bbb: np.ndarray) -> None:
    src = _bbb_source(bbb)
    cfg = TrainConfig(steps=4, warmup=2, batch=2, crop=64, lr=1e-3, ema=0.9, augment="flip")

    def sample(rng: random.Random) -> Batch:
        return make_batch(src, [rng.randrange(len(src)) for _ in range(cfg.batch)], cfg.crop, rng, cfg.augment)

    torch.manual_seed(1)
    straight = Trainer(IFNetSmall(), cfg)
    straight.fit(sample, None, log=None)
    torch.manual_seed(1)
    first = Trainer(IFNetSmall(), TrainConfig(**{**cfg.__dict__, "steps": 2}))
    first.fit(sample, None, checkpoint=tmp_path / "c.safetensors", log=None)
    resumed = Trainer.resume(tmp_path / "c.safetensors", steps=4)
    assert resumed.step == 2 and resumed.config.lr == cfg.lr
    resumed.fit(sample, None, log=None)
    assert resumed.step == 4
    a, r = straight.net.state_dict(), resumed.net.state_dict()
    assert all(torch.allclose(a[k], r[k], atol=1e-6) for k in a)
    assert resumed.config.ema == 0.9 and resumed.config.augment == "flip"
    assert all(torch.allclose(straight.ema[k], resumed.ema[k], atol=1e-6) for k in straight.ema)


def test_ema_weights_are_averaged_validated_and_exported(tmp_path: Path, bbb: np.ndarray) -> None:
    """With ema > 0 each step blends the new weights in (decay min(ema, (1+k)/(10+k))); the export holds the EMA."""
    src = _bbb_source(bbb)
    cfg = TrainConfig(steps=2, warmup=1, batch=2, crop=64, lr=1e-3, ema=0.5)
    torch.manual_seed(3)
    tr = Trainer(IFNetSmall(), cfg)
    rng = random.Random(0)
    before = {k: v.clone() for k, v in tr.ema.items()}
    assert not any(k.startswith("teacher.") for k in before)
    tr.train_step(make_batch(src, [0, 1], 64, rng))
    d = tr.ema_decay(1)
    assert d == pytest.approx(2 / 11)
    now = tr.net.state_dict()
    moved = [k for k in before if before[k].is_floating_point() and not torch.equal(before[k], now[k])]
    assert moved  # the step changed the student
    for k in moved:
        assert torch.allclose(tr.ema[k], d * before[k] + (1 - d) * now[k], atol=1e-6)
        assert not torch.allclose(tr.ema[k], now[k])
    val = [make_batch(src, [0], 64, random.Random(1), augment=False)]
    v_ema = tr.validate(val)
    assert all(torch.equal(tr.net.state_dict()[k], now[k]) for k in now)  # validation restored the raw weights
    tr.ema = None
    assert tr.validate(val) != v_ema  # the EMA weights, not the raw ones, were validated
    tr.ema = {k: v.clone() for k, v in tr.student_weights().items()}
    path = tr.export(tmp_path / "ema.safetensors")
    from safetensors.torch import load_file

    saved = load_file(str(path))
    assert set(saved) == set(tr.ema) and all(torch.equal(saved[k], tr.ema[k]) for k in saved)
    with pytest.raises(ValueError, match=r"ema must be in \[0, 1\)"):
        Trainer(IFNetSmall(), TrainConfig(ema=1.0))


def test_augment_modes() -> None:
    """"none" keeps the crop, "flip" only flips and reverses time, "all" also rotates by 90°."""
    from vsrife.train.data import _crop_aug

    g = np.random.default_rng(0)
    frames = tuple(g.integers(0, 255, (32, 32, 3), dtype=np.uint8) for _ in range(3))
    flips = [lambda a: a, lambda a: a[::-1], lambda a: a[:, ::-1], lambda a: a[::-1, ::-1]]

    def kinds(mode: str) -> set[str]:
        rng, seen = random.Random(5), set()
        for _ in range(60):
            imgs, t = _crop_aug(frames, 0.25, 32, rng, mode)
            order = (0, 1, 2) if t == 0.25 else (1, 0, 2)
            assert t in (0.25, 0.75)
            hit = [i for i, f in enumerate(flips)
                   if all(np.array_equal(imgs[j], f(frames[order[j]])) for j in range(3))]
            seen.add(("flip" if hit and hit[0] else "same" if hit else "rotated") + ("-rev" if t == 0.75 else ""))
        return seen

    assert kinds("none") == {"same"}
    assert kinds("flip") >= {"same", "flip", "flip-rev"} and not any("rotated" in k for k in kinds("flip"))
    assert any("rotated" in k for k in kinds("all"))
    with pytest.raises(ValueError, match="augment must be one of all, flip, none"):
        _crop_aug(frames, 0.5, 32, random.Random(0), "spin")


def IFNetSmall():  # noqa: N802
    return init_net(None, "small", teacher=True)[0]


def test_export_round_trips_through_filter(tmp_path: Path, bbb: np.ndarray) -> None:
    torch.manual_seed(2)
    net = IFNetSmall().eval()
    control = IFNetSmall().eval()
    control.load_state_dict(net.state_dict())
    with torch.no_grad():  # a distinctive net: the last block adds ±6 px of horizontal flow (PixelShuffle groups of 4)
        net.block3.lastconv[0].bias[0:4] += 6.0
        net.block3.lastconv[0].bias[8:12] -= 6.0
    path = export_student(net, tmp_path / "small.safetensors")
    sd, meta = load_file(path)
    assert not any(k.startswith("teacher.") for k in sd)
    arch = detect_arch(sd, meta)
    assert arch.channels == SMALL.channels and arch.name == SMALL.name
    frames = [np.ascontiguousarray(bbb[k, :192, :256].transpose(2, 0, 1)) for k in (0, 2)]
    clip = clip_from_arrays([f.astype(np.float32) / 255 for f in frames], vs.RGBS)
    x0, x1 = (torch.from_numpy(f[None] / 255).float() for f in frames)

    def middle(node: vs.VideoNode) -> np.ndarray:
        f = node.get_frame(1)
        return np.stack([np.asarray(f[p]) for p in range(3)])

    with torch.no_grad():
        ref = net(x0, x1, 0.5).image[0].numpy()
        ref_ens = net(x0, x1, 0.5, ensemble=True).image[0].numpy()
        plain = control(x0, x1, 0.5).image[0].numpy()
    got = middle(vsrife.RIFE(clip, model_path=str(path), ensemble=False))
    # the filter's CPU path differs by float noise only; the net without the exported change is far off
    assert np_psnr(got, ref, 1.0) > 40 and np_psnr(plain, ref, 1.0) < np_psnr(got, ref, 1.0) - 15
    assert np_psnr(middle(vsrife.RIFE(clip, model_path=str(path))), ref_ens, 1.0) > 40  # default: ensemble
    if hasattr(core, "rife"):
        assert np_psnr(middle(core.rife.RIFE(clip, model_path=str(path), ensemble=False)), ref, 1.0) > 40


def test_cli_trains_resumes_and_exports(tmp_path: Path, footage: Path, capsys) -> None:
    out = tmp_path / "m.safetensors"
    args = ["train", "--video", str(footage / "bikes.mp4"), "--video-width", "160", "--max-frames", "24",
            "--arch", "small", "--steps", "2", "--batch", "1", "--crop", "32", "--val-every", "2", "--val-crop", "32",
            "--out", str(out)]
    assert cli_main(args) == 0
    assert out.is_file() and (tmp_path / "m.safetensors.ckpt").is_file()
    assert "validation PSNR" in capsys.readouterr().out
    assert cli_main([*args[:-2], "--steps", "3", "--resume", str(tmp_path / "m.safetensors.ckpt"),
                     "--out", str(out)]) == 0
    assert "steps 2->3" in capsys.readouterr().out
    assert detect_arch(*load_file(out)).name == "4.25-small"
    assert cli_main(["train", "--steps", "1", "--out", str(out)]) == 2
    assert "exactly one of --data DIR or --video FILE" in capsys.readouterr().err
    assert cli_main([*args[:-2], "--out", str(tmp_path / "m.pt")]) == 2
    assert "--out must end in .safetensors" in capsys.readouterr().err
    assert cli_main([*args[:args.index("--crop")], "--crop", "20", "--out", str(out)]) == 2
    assert "--crop must be a multiple of 32 for 4.25-small" in capsys.readouterr().err


def test_motion_weighted_crops_pick_the_moving_part() -> None:
    """``tries`` > 1 takes, of that many random places, the crop where the input frames differ most."""
    from vsrife.train.data import _crop_aug, _motion

    g = np.random.default_rng(1)
    still = g.integers(0, 255, (128, 256, 3), dtype=np.uint8)
    moved = still.copy()
    moved[:, 192:] = np.roll(still[:, 192:], 5, axis=1)  # only the right quarter moves
    frames = (still, moved, still)

    def mean_motion(tries: int) -> float:
        rng, vals = random.Random(0), []
        for _ in range(40):
            imgs, _t = _crop_aug(frames, 0.5, 64, rng, "none", tries)
            vals.append(_motion(imgs[0], imgs[1], 0, 0, 64))
        return float(np.mean(vals))

    uniform, picked = mean_motion(1), mean_motion(8)
    assert picked > 2 * uniform > 0
    with pytest.raises(ValueError, match="crop tries must be >= 1"):
        _crop_aug(frames, 0.5, 64, random.Random(0), "none", 0)


def test_frozen_modules_stay_fixed_and_resume(tmp_path: Path, bbb: np.ndarray) -> None:
    src = _bbb_source(bbb)
    cfg = TrainConfig(steps=2, warmup=1, batch=1, crop=64, lr=1e-3, freeze=("block0", "block1", "encode"))

    def sample(rng: random.Random) -> Batch:
        return make_batch(src, [rng.randrange(len(src)) for _ in range(cfg.batch)], cfg.crop, rng, cfg.augment)

    torch.manual_seed(3)
    tr = Trainer(IFNetSmall(), cfg)
    before = {k: v.clone() for k, v in tr.net.state_dict().items()}
    tr.fit(sample, None, checkpoint=tmp_path / "c.safetensors", log=None)
    after = tr.net.state_dict()
    changed = {k.split(".")[0] for k in after if not torch.equal(after[k], before[k])}
    assert changed == {"block2", "block3", "teacher"}
    trained = {id(p) for g in tr.opt.param_groups for p in g["params"]}
    assert not any(id(p) in trained for n, p in tr.net.named_parameters() if n.startswith("block0."))
    resumed = Trainer.resume(tmp_path / "c.safetensors", steps=3)  # the config (a JSON list) comes back
    assert resumed.config.freeze == ("block0", "block1", "encode")
    assert not any(p.requires_grad for p in resumed.net.block1.parameters())
    with pytest.raises(ValueError, match=r"freeze: unknown module .teacher. for 4\.25-small; allowed: block0, "
                                         "block1, block2, block3, encode"):
        Trainer(IFNetSmall(), TrainConfig(freeze=("teacher",), crop=64))
    assert freezable(IFNetSmall()) == ["block0", "block1", "block2", "block3", "encode"]


def test_cli_freeze_option(tmp_path: Path, footage: Path, capsys) -> None:
    out = tmp_path / "m.safetensors"
    args = ["train", "--video", str(footage / "bikes.mp4"), "--video-width", "160", "--max-frames", "12",
            "--arch", "small", "--steps", "1", "--batch", "1", "--crop", "32", "--val-every", "1", "--val-crop", "32",
            "--out", str(out)]
    assert cli_main([*args, "--freeze", "block0, encode"]) == 0
    assert cli_main([*args, "--freeze", "block9"]) == 2
    assert "freeze: unknown module 'block9'" in capsys.readouterr().err


def test_lr_warms_up_then_cosine_anneals() -> None:
    c = TrainConfig(steps=110, lr=1e-4, lr_min=1e-5, warmup=10)
    assert c.lr_at(0) == pytest.approx(1e-5) and c.lr_at(4) == pytest.approx(5e-5)  # linear warm-up
    assert c.lr_at(9) == pytest.approx(1e-4) and c.lr_at(10) == pytest.approx(1e-4)  # peak, cosine starts
    assert c.lr_at(60) == pytest.approx(5.5e-5)  # half-way: the mean of lr and lr_min
    assert c.lr_at(110) == pytest.approx(1e-5) and c.lr_at(500) == pytest.approx(1e-5)  # floor at lr_min
    lrs = [c.lr_at(s) for s in range(10, 111)]
    assert all(a > b for a, b in itertools.pairwise(lrs))


def test_cli_data_folders_pretrained_init_no_distill(tmp_path: Path, bbb: np.ndarray, capsys) -> None:
    """--data triplet folders, --init 4.25 without the teacher (--no-distill): the student trains, the progress
    line shows loss and PSNR, and the export is a 4.25 student that differs from the pretrained weights."""
    from PIL import Image

    for j, base in enumerate((0, 3, 6)):
        d = tmp_path / "data" / f"{j:04d}"
        d.mkdir(parents=True)
        for k in range(3):
            Image.fromarray(bbb[base + k][12:204]).save(d / f"im{k + 1}.png")
    out = tmp_path / "ft.safetensors"
    args = ["train", "--data", str(tmp_path / "data"), "--val-data", str(tmp_path / "data" / "0002"),
            "--init", "4.25", "--no-distill", "--steps", "2", "--batch", "1", "--crop", "64", "--lr", "1e-3",
            "--warmup", "1", "--val-every", "2", "--val-crop", "64", "--out", str(out)]
    assert cli_main(args) == 0
    cap = capsys.readouterr()
    assert "training 4.25/4.26:" in cap.out and "with distillation" not in cap.out
    assert "validation PSNR" in cap.out
    progress = [ln for ln in cap.err.splitlines() if ln.startswith("step 2/2")]
    assert progress and " loss " in progress[0] and " psnr " in progress[0] and " dB " in progress[0], cap.err
    sd, meta = load_file(out)
    assert detect_arch(sd, meta).name == "4.25/4.26"
    assert not any(k.startswith(("teacher.", "caltime.")) for k in sd)
    pre = init_net("4.25", teacher=False)[0].state_dict()
    assert any(not torch.equal(pre[k], sd[k]) for k in pre)
