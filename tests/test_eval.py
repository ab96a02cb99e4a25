"""``vsrife eval``: metrics, video and Vimeo90K-style inputs, baselines, saved table and pictures."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from helpers import psnr as ref_psnr
from helpers import read_video

from vsrife.cli import main
from vsrife.dev import evaluate as ev


def test_metrics_on_real_frames(footage: Path) -> None:
    a, b = read_video(footage / "bikes.mp4", 640, 272, 2, start=10)
    assert ev.psnr(a, b) == pytest.approx(ref_psnr(a, b))
    assert ev.psnr(a, a) == float("inf")
    assert ev.ssim_y(a, a) == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    noisy = np.clip(a + rng.normal(0, 8, a.shape), 0, 255).astype(np.uint8)
    s_noise, s_next = ev.ssim_y(a, noisy), ev.ssim_y(a, b)
    assert 0.5 < s_noise < 0.95 and s_next < 0.99
    assert ev.ssim_y(a, b) == pytest.approx(ev.ssim_y(b, a))
    blurred = ((a[:-1].astype(np.uint16) + a[1:]) // 2).astype(np.uint8)  # a vertical blur: structure stays
    assert ev.ssim_y(a[:-1], blurred) > s_noise


def test_cli_video_with_baselines(footage: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "res"
    rc = main(["eval", str(footage / "bikes.mp4"), "--frames", "50,100,137,220", "--width", "256",
               "--baselines", "blend,mvtools,minterpolate", "--out", str(out), "--strips", "2"])
    text = capsys.readouterr().out
    assert rc == 0
    assert "skipped bikes.mp4 137" in text  # frames 136 | 138 straddle the cut at 137
    rows = json.loads((out / "summary.json").read_text())
    mean = {r["method"]: r for r in rows if r["clip"] == "mean"}
    assert set(mean) == {"rife (defaults)", "blend", "mvtools", "minterpolate"}
    assert all(r["n"] == 3 for r in mean.values())
    for base in ("blend", "mvtools", "minterpolate"):
        assert mean["rife (defaults)"]["psnr"] > mean[base]["psnr"] + 2
    assert mean["rife (defaults)"]["ssim"] > mean["blend"]["ssim"]
    assert "| mean | rife (defaults) | 3 |" in (out / "results.md").read_text()
    with open(out / "results.csv") as fh:
        per = list(csv.DictReader(fh))
    assert len(per) == 12 and {p["frame"] for p in per} == {"50", "100", "220"}
    strips = sorted(out.glob("worst_*.png"))
    assert len(strips) == 2 and (out / "psnr_per_frame.png").stat().st_size > 10_000
    from PIL import Image

    assert Image.open(strips[0]).size == (4 * 256, 108)


def test_cli_triplet_directory(footage: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from PIL import Image

    frames = read_video(footage / "bigbuckbunny.mp4", 1280, 720, 7, start=40)[:, ::6, ::6]  # 214x120
    root = tmp_path / "vimeo" / "sequences"
    for k in range(2):
        d = root / "00001" / f"000{k + 1}"
        d.mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.ascontiguousarray(frames[3 * k + i])).save(d / f"im{i + 1}.png")
    out = tmp_path / "res"
    rc = main(["eval", str(root), "--rife", "model=4.25", "--rife", "model=4.25,ensemble=1", "--baselines", "blend",
               "--out", str(out), "--no-plot", "--strips", "0"])
    assert rc == 0
    with open(out / "results.csv") as fh:
        per = list(csv.DictReader(fh))
    assert {p["frame"] for p in per} == {"00001/0001", "00001/0002"}
    assert {p["method"] for p in per} == {"rife model=4.25", "rife model=4.25 ensemble=1", "blend"}
    blend = next(p for p in per if p["method"] == "blend" and p["frame"] == "00001/0001")
    want = ((frames[0].astype(np.uint16) + frames[2] + 1) // 2).astype(np.uint8)
    assert float(blend["psnr"]) == pytest.approx(ref_psnr(want, frames[1]), abs=1e-3)
    rife = [float(p["psnr"]) for p in per if p["method"] == "rife model=4.25"]
    assert min(rife) > float(blend["psnr"])
    assert not (out / "psnr_per_frame.png").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--rife", "modle=4.25"], "expected KEY=VALUE with KEY one of model"),
    (["--rife", "scale=big"], "scale must be float"),
    (["--baselines", "dain"], "unknown 'dain'; allowed: blend, mvtools, minterpolate"),
    (["--frames", "0,5"], "frames [0] have no neighbours; allowed middle frames: 1..248"),
    (["--rife", "model=9.9"], "model '9.9' is unknown"),
])
def test_cli_errors(footage: Path, tmp_path: Path, capsys: pytest.CaptureFixture, args: list[str],
                    message: str) -> None:
    rc = main(["eval", str(footage / "bikes.mp4"), "--frames", "5", "--width", "64", "--out", str(tmp_path),
               *args])
    assert rc == 2
    assert message in capsys.readouterr().err


def test_cli_missing_input(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["eval", str(tmp_path / "nope.mp4")]) == 2
    assert "no such file or directory" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["eval", str(tmp_path / "empty")]) == 2
    assert "no triplets found" in capsys.readouterr().err
