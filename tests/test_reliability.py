"""Bad input never crashes the host: a table of cases, each run in a subprocess through the real filter.

Every case ends either in an exception whose message names the parameter/problem and what is
allowed, or in correct output (checked by the case's own asserts).  Cases run in a few child
processes that each run many cases, so a segfault or an abort shows up as a missing result and a
non-zero exit status instead of taking pytest down.  Security checks (pickle payloads, sha256,
no shell, no writes outside the cache dir) are at the end.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import vapoursynth as vs

from vsrife import weights as registry

ROOT = Path(__file__).resolve().parent.parent

PRELUDE = """
import json, math, os, pickle, sys, traceback
import numpy as np, torch, vapoursynth as vs
from pathlib import Path
import vsrife
from vsrife import settings
from vsrife.vs.api import RIFE
core = vs.core
core.num_threads = 2
TMP = sys.argv[1]

def moving(n=3, w=64, h=48, fmt=vs.RGBS, fps=(24, 1)):
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = core.std.BlankClip(width=w, height=h, format=vs.RGBS, length=n, fpsnum=fps[0], fpsden=fps[1])
    def fill(n, f):
        out = f.copy()
        for p in range(3):
            np.asarray(out[p])[...] = 0.5 + 0.4 * np.sin((x - 2 * n) / 5 + p) * np.cos(y / 7)
        return out
    clip = base.std.ModifyFrame(base, fill)
    if fmt != vs.RGBS:
        rgb = core.get_video_format(fmt).color_family == vs.RGB
        clip = clip.resize.Bicubic(format=fmt, **({} if rgb else {"matrix_s": "709"}))
    return clip

def planes(f):
    return [np.asarray(f[p]).copy() for p in range(f.format.num_planes)]

def same(a, b):
    return all(np.array_equal(x, y) for x, y in zip(planes(a), planes(b), strict=True))

CLIP = moving()
"""

RUNNER = """
for name, code in json.load(open(sys.argv[2])).items():
    rec = {"name": name}
    try:
        exec(code, dict(globals()))
        rec["outcome"] = "ok"
    except Exception as e:
        rec.update(outcome="error", type=type(e).__name__, message=str(e).strip()[-600:])
        if isinstance(e, AssertionError):
            rec["trace"] = traceback.format_exc()[-1500:]
    print("CASE " + json.dumps(rec), flush=True)
"""

# name -> (group, code, expected): expected "ok" or a regex the error message must match.
# "group" decides which child process runs the case; "own" cases get a process each.
OK = "ok"
CASES: dict[str, tuple[str, str, str]] = {
    # -- rate parameters: out of range, wrong type, conflicting -------------------------------------
    "multi=1": ("args", "RIFE(CLIP, multi=1)", r"multi must be >= 2"),
    "multi=0": ("args", "RIFE(CLIP, multi=0)", r"multi must be >= 2"),
    "multi=-3": ("args", "RIFE(CLIP, multi=-3)", r"multi must be >= 2"),
    "multi=5000": ("args", "RIFE(CLIP, multi=5000)", r"multi must be <= 1024"),
    "multi=2.5": ("args", "RIFE(CLIP, multi=2.5)", r"multi must be an integer"),
    "multi='2'": ("args", "RIFE(CLIP, multi='2')", r"multi must be an integer"),
    "multi=True": ("args", "RIFE(CLIP, multi=True)", r"multi must be an integer"),
    "factor_num=0": ("args", "RIFE(CLIP, factor_num=0)", r"factor_num and factor_den must be positive"),
    "factor 1/2": ("args", "RIFE(CLIP, factor_num=1, factor_den=2)", r"factor_num/factor_den must be > 1"),
    "factor_den alone": ("args", "RIFE(CLIP, factor_den=2)", r"factor_den needs factor_num"),
    "fps_num=-1": ("args", "RIFE(CLIP, fps_num=-1)", r"fps_num and fps_den must be positive"),
    "fps_den=0": ("args", "RIFE(CLIP, fps_num=60, fps_den=0)", r"fps_num and fps_den must be positive"),
    "fps below source": ("args", "RIFE(CLIP, fps_num=10)", r"must be higher than the clip's frame rate \(24/1\)"),
    "multi + fps": ("args", "RIFE(CLIP, multi=2, fps_num=60)", r"give only one of multi.*got multi, fps_num"),
    "factor + fps": ("args", "RIFE(CLIP, factor_num=3, fps_num=60)", r"give only one of .*factor_num"),
    # -- other parameters ------------------------------------------------------------------------
    "scale=3": ("args", "RIFE(CLIP, scale=3)", r"scale must be one of 0.25, 0.5, 1.0, 2.0, 4.0"),
    "scale=0": ("args", "RIFE(CLIP, scale=0)", r"scale must be one of"),
    "scale=nan": ("args", "RIFE(CLIP, scale=float('nan'))", r"scale must be finite"),
    "scale='big'": ("args", "RIFE(CLIP, scale='big')", r"scale must be a number"),
    "sc_threshold=0": ("args", "RIFE(CLIP, sc_threshold=0)", r"sc_threshold must be in \(0, 1\]"),
    "sc_threshold=2": ("args", "RIFE(CLIP, sc_threshold=2)", r"sc_threshold must be in \(0, 1\]"),
    "sc_threshold=inf": ("args", "RIFE(CLIP, sc_threshold=float('inf'))", r"sc_threshold must be finite"),
    "sc=2": ("args", "RIFE(CLIP, sc=2)", r"sc must be a bool"),
    "ensemble='yes'": ("args", "RIFE(CLIP, ensemble='yes')", r"ensemble must be a bool"),
    "ensemble with 3.1": ("args", "RIFE(CLIP, model='3.1', ensemble=True)", r"ensemble=True is not supported by"),
    "fp16 on cpu, 3.1": ("args", "RIFE(CLIP, device='cpu', fp16=True, model='3.1')",
                         r"fp16=True on the CPU (runs the convolutions in bfloat16 and needs a CPU with native bf16"
                         r"|needs the CPU fast path: a 4.x model \(got 3.1\))"),
    "device='tpu'": ("args", "RIFE(CLIP, device='tpu')", r"device 'tpu' .*allowed: 'cpu', 'cuda'"),
    "device='cuda:7'": ("args", "RIFE(CLIP, device='cuda:7')", r"device 'cuda:7' (is not available|does not exist)"),
    "device=5": ("args", "RIFE(CLIP, device=5)", r"device must be a string"),
    "model='5.0'": ("args", "RIFE(CLIP, model='5.0')",
                    r"model '5.0' is unknown; allowed: 4.25, 4.0, 4.6, hd, 3.1, or a published version"),
    "model=''": ("args", "RIFE(CLIP, model='')", r"model '' is unknown; allowed"),
    "model + model_path": ("args", "RIFE(CLIP, model='4.0', model_path=TMP)", r"give model or model_path, not both"),
    "matrix_in=3": ("args", "RIFE(CLIP.resize.Bicubic(format=vs.YUV444P8, matrix_s='709'), matrix_in=3)",
                    r"matrix_in=3 is not supported; allowed: 1 \(709\)"),
    "range_in=5": ("args", "RIFE(CLIP, range_in=5)", r"range_in=5 is not allowed; 0 = full, 1 = limited"),
    "dedup_threshold alone": ("args", "RIFE(CLIP, dedup_threshold=0.01)", r"dedup_threshold needs dedup=True"),
    # -- clips ----------------------------------------------------------------------------------
    "clip=None": ("args", "RIFE(None)", r"clip must be a video clip \(vs.VideoNode\), not NoneType"),
    "clip is audio": ("args", "RIFE(core.std.BlankAudio())", r"clip must be a video clip"),
    "variable format": ("args", "RIFE(core.std.Splice([CLIP, moving(fmt=vs.YUV420P8)], mismatch=True))",
                        r"constant format and size"),
    "variable size": ("args", "RIFE(core.std.Splice([CLIP, moving(w=32, h=32)], mismatch=True))",
                      r"constant format and size"),
    "0 frames": ("args", "core.std.BlankClip(length=0)", r"invalid length"),  # VapourSynth refuses to build one
    "1 frame": ("args", "RIFE(moving(n=1))", r"has 1 frame\(s\); interpolation needs at least 2"),
    "2 frames": ("out", """
out = RIFE(CLIP[:2], multi=2, sc=False)
assert out.num_frames == 4 and (out.width, out.height) == (64, 48)
assert same(out.get_frame(0), CLIP.get_frame(0)) and same(out.get_frame(2), CLIP.get_frame(1))
mid = np.stack(planes(out.get_frame(1)))
assert np.isfinite(mid).all() and 0.05 < mid.std() and out.get_frame(1).props['RifeInterpolated'] == 1
""", OK),
    "1x1": ("out", """
out = RIFE(moving(w=1, h=1), multi=2)
assert (out.width, out.height, out.num_frames) == (1, 1, 6)
assert np.isfinite(np.stack(planes(out.get_frame(1)))).all()
""", OK),
    "7x5 YUV444P8": ("out", """
src = moving(w=7, h=5, fmt=vs.YUV444P8)
out = RIFE(src, multi=2, sc=False)
assert (out.width, out.height, out.format.id) == (7, 5, vs.YUV444P8)
assert same(out.get_frame(2), src.get_frame(1)) and out.get_frame(3).props['RifeInterpolated'] == 1
""", OK),
    "7x5 YUV420P8 odd": ("args", "RIFE(core.std.BlankClip(width=7, height=5, format=vs.YUV420P8, length=3))",
                         r"(?i)width|height|subsampl|7x5"),
    "8K x 8K": ("big", """
src = core.std.BlankClip(width=8192, height=8192, format=vs.RGB24, length=2, color=[40, 80, 120])
out = RIFE(src, multi=2)
assert (out.width, out.height, out.num_frames) == (8192, 8192, 4)
assert same(out.get_frame(0), src.get_frame(0)) and out.get_frame(3).props['RifeSourceFrame'] == 1
""", OK),
    "8K x 8K scale=0.25": ("big", """
src = core.std.BlankClip(width=8192, height=8192, format=vs.GRAY8, length=2)
out = RIFE(src, multi=2, scale=0.25)
assert (out.width, out.height) == (8192, 8192) and same(out.get_frame(2), src.get_frame(1))
""", OK),
    "8K x 8K interpolated, too big": ("big", """
with settings.override(memory_limit_mb=16000):  # as on a 16 GB machine, whatever this one has
    src = core.std.BlankClip(width=8192, height=8192, format=vs.GRAY8, length=2)
    RIFE(src, multi=2, scale=0.25, sc=False).get_frame(1)
""", r"MemoryError: a 8192x8192 frame at scale=0.25 needs about \d+.\d GiB of cpu memory, 15.6 GiB is available"),
    "memory limit hint names scale": ("out", """
try:
    with settings.override(memory_limit_mb=1):
        RIFE(CLIP, multi=2, sc=False).get_frame(1)
    raise AssertionError('no error')
except vs.Error as e:
    assert 'a 64x48 frame at scale=1.0 needs about' in str(e) and 'use scale=0.5' in str(e), e
out = RIFE(CLIP, multi=2, sc=False)
assert np.isfinite(np.stack(planes(out.get_frame(1)))).all()  # the filter works again once memory allows
""", OK),
    "alpha": ("out", """
src = CLIP.std.ClipToProp(moving(fmt=vs.GRAYS), '_Alpha')
out = RIFE(src, multi=2, sc=False)
f = out.get_frame(1)
a = f.props['_Alpha']
assert (a.width, a.height, a.format.id) == (64, 48, vs.GRAYS) and np.isfinite(np.asarray(a[0])).all()
assert same(out.get_frame(2).props['_Alpha'], src.get_frame(1).props['_Alpha'])
""", OK),
    "GRAY32 integer": ("args", "RIFE(core.std.BlankClip(format=vs.GRAY32, length=3))",
                       r"32-bit samples; allowed: 8-16 bit integer, half, float"),
    "RGBH half": ("out", """
src = moving(fmt=vs.RGBH)
out = RIFE(src, multi=2, sc=False)
assert out.format.id == vs.RGBH and np.isfinite(np.stack(planes(out.get_frame(1))).astype(np.float32)).all()
""", OK),
    "fps 0/1 no durations, fps_num": ("args", """
src = core.std.BlankClip(length=3, fpsnum=0, fpsden=1).std.RemoveFrameProps(['_DurationNum', '_DurationDen'])
RIFE(src, fps_num=60)
""", r"frame 0 of a variable-frame-rate clip \(fps 0/1\) has no valid _DurationNum/_DurationDen"),
    "fps 0/1 factor": ("out", """
src = core.std.BlankClip(length=3, fpsnum=0, fpsden=1).std.SetFrameProps(_DurationNum=1, _DurationDen=24)
out = RIFE(src, factor_num=3, factor_den=2)  # each real interval split like the index
f = out.get_frame(1)
assert out.num_frames == 5 and out.fps == 0 and (f.props['_DurationNum'], f.props['_DurationDen']) == (1, 36)
""", OK),
    "fps 0/1 no durations, multi": ("out", """
src = moving(fps=(0, 1)).std.RemoveFrameProps(['_DurationNum', '_DurationDen'])
out = RIFE(src, multi=2)
assert out.num_frames == 6 and out.fps == 0 and same(out.get_frame(2), src.get_frame(1))
""", OK),
    "NaN in float clip": ("out", """
def poison(n, f):
    out = f.copy()
    np.asarray(out[0])[5:20, 5:30] = np.nan
    return out
src = CLIP.std.ModifyFrame(CLIP, poison)
out = RIFE(src, multi=2, sc=False)
mid = np.stack(planes(out.get_frame(1)))
assert np.isfinite(mid).all() and mid.min() >= -0.01 and mid.max() <= 1.01
""", OK),
    "Inf in float clip": ("out", """
def poison(n, f):
    out = f.copy()
    np.asarray(out[1])[:, :10] = np.inf
    np.asarray(out[2])[:10, :] = -np.inf
    return out
src = CLIP.std.ModifyFrame(CLIP, poison)
out = RIFE(src, multi=2)
mid = np.stack(planes(out.get_frame(3)))
assert np.isfinite(mid).all() and mid.min() >= -0.01 and mid.max() <= 1.01
""", OK),
    "frame past the end": ("args", "RIFE(CLIP, multi=2).get_frame(6)", r"beyond the last frame"),
    "negative frame": ("args", "RIFE(CLIP, multi=2).get_frame(-1)", r"(?i)frame|negative|range"),
    # -- model files ----------------------------------------------------------------------------
    "model_path missing": ("files", "RIFE(CLIP, model_path=TMP + '/nope.pkl')",
                           r"model_path '.*nope.pkl' does not exist"),
    "model_path directory": ("files", "RIFE(CLIP, model_path=TMP)", r"model_path '.*' is a directory without flownet"),
    "model_path truncated": ("files", """
src = open(os.environ['VSRIFE_MODEL_DIR'] + '/4.0/flownet.pkl', 'rb').read()
open(TMP + '/trunc.pkl', 'wb').write(src[:len(src) // 3])
RIFE(CLIP, model_path=TMP + '/trunc.pkl')
""", r"model_path '.*trunc.pkl' is truncated or not a PyTorch weights file"),
    "model_path corrupt bytes": ("files", """
open(TMP + '/junk.pth', 'wb').write(np.random.default_rng(1).bytes(4096))
RIFE(CLIP, model_path=TMP + '/junk.pth')
""", r"model_path '.*junk.pth' (is truncated or not a PyTorch weights file|was refused: it is not a PyTorch weights)"),
    "model_path empty file": ("files", """
open(TMP + '/empty.pkl', 'wb').close()
RIFE(CLIP, model_path=TMP + '/empty.pkl')
""", r"model_path '.*empty.pkl' (is truncated|.*empty)"),
    "model_path corrupt safetensors": ("files", """
open(TMP + '/bad.safetensors', 'wb').write(b'\\x10\\x00\\x00\\x00\\x00\\x00\\x00\\x00{"a": 1}xxxxxxx')
RIFE(CLIP, model_path=TMP + '/bad.safetensors')
""", r"model_path '.*bad.safetensors' is not a readable safetensors file"),
    "model_path wrong architecture": ("files", """
torch.save({'conv.weight': torch.zeros(8, 3, 3, 3), 'fc.bias': torch.zeros(4)}, TMP + '/other.pth')
RIFE(CLIP, model_path=TMP + '/other.pth')
""", r"unknown weights layout \(2 tensors, e.g. conv.weight, fc.bias\). Known layouts: 4.0/4.1, "),
    "model_path not a state dict": ("files", """
torch.save([torch.zeros(3)], TMP + '/list.pth')
RIFE(CLIP, model_path=TMP + '/list.pth')
""", r"does not hold a state dict of tensors"),
    "model_path pickle payload": ("files", """
class Evil:
    def __reduce__(self):
        return (os.system, ('touch ' + TMP + '/PWNED',))
with open(TMP + '/evil.pkl', 'wb') as f:
    pickle.dump({'block0.conv0.0.0.weight': Evil()}, f)
try:
    RIFE(CLIP, model_path=TMP + '/evil.pkl')
finally:
    assert not os.path.exists(TMP + '/PWNED'), 'the pickle payload ran'
""", r"model_path '.*evil.pkl' was refused: .*nothing in it was run.*weights_only=True"),
    "model_path torch.save payload": ("files", """
class Evil:
    def __reduce__(self):
        return (os.system, ('touch ' + TMP + '/PWNED2',))
torch.save({'w': torch.zeros(1), 'x': Evil()}, TMP + '/evil.pth')
try:
    RIFE(CLIP, model_path=TMP + '/evil.pth')
finally:
    assert not os.path.exists(TMP + '/PWNED2'), 'the pickle payload ran'
""", r"model_path '.*evil.pth' was refused: it is a pickle that references code.*GLOBAL posix.system"),
    # -- cache directory ------------------------------------------------------------------------
    "cache dir unwritable (fetch)": ("own", """
open(TMP + '/afile', 'w').close()
from vsrife import weights as registry
with settings.override(model_dir=Path(TMP + '/afile/cache')):
    registry.fetch('4.0', log=lambda s: None)
""", r"cache directory .*afile/cache/4.0 is not writable .*set VSRIFE_MODEL_DIR"),
    "cache dir unwritable (filter)": ("own", """
open(TMP + '/afile', 'w').close()
with settings.override(model_dir=Path(TMP + '/afile/cache')):
    RIFE(CLIP, model='4.0')
""", r"model '4.0' is not in the cache .*run: python -m vsrife models fetch 4.0"),
}

# cases that also run through the native shim core.rife.RIFE (the same code, RIFE rebound)
SHIM_CASES = ["multi=1", "multi + fps", "scale=3", "sc_threshold=2", "device='cuda:7'", "model='5.0'", "1 frame",
              "variable format", "2 frames", "model_path missing", "model_path pickle payload", "alpha"]


def _run_group(cases: dict[str, str], tmp: Path, rebind: str = "") -> tuple[dict[str, dict], str]:
    """Run ``cases`` (name -> code) in one child process; results by name plus the child's stderr tail."""
    tmp.mkdir(parents=True, exist_ok=True)
    spec = tmp / "cases.json"
    spec.write_text(json.dumps(cases))
    script = tmp / "runner.py"
    script.write_text(PRELUDE + rebind + RUNNER)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VSRIFE_MODEL_DIR": str(registry.cache_dir())}
    proc = subprocess.run([sys.executable, str(script), str(tmp), str(spec)], capture_output=True, text=True,
                          env=env, timeout=400, cwd=tmp)
    got = {}
    for line in proc.stdout.splitlines():
        if line.startswith("CASE "):
            rec = json.loads(line[5:])
            got[rec["name"]] = rec
    for name in cases:
        got.setdefault(name, {"name": name, "outcome": "crashed", "message": f"child exited with {proc.returncode}"})
    return got, proc.stderr[-2000:]


@pytest.fixture(scope="module")
def results(all_models: list[str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Every case's outcome: one child per group, one child per "own" case, one for the shim subset."""
    base = tmp_path_factory.mktemp("reliability")
    groups: dict[str, dict[str, str]] = {}
    for name, (group, code, _exp) in CASES.items():
        key = f"own-{len(groups)}" if group == "own" else group
        groups.setdefault(key, {})[name] = textwrap.dedent(code)
    out: dict[str, dict] = {}
    for i, (key, cases) in enumerate(groups.items()):
        t0 = time.monotonic()
        got, err = _run_group(cases, base / f"g{i}-{re.sub(r'\\W', '', key)}")
        for rec in got.values():
            rec["stderr"], rec["group_seconds"] = err, round(time.monotonic() - t0, 1)
        out.update(got)
    if hasattr(vs.core, "rife"):
        shim = {f"shim:{n}": textwrap.dedent(CASES[n][1]) for n in SHIM_CASES}
        got, err = _run_group(shim, base / "shim", rebind="RIFE = core.rife.RIFE\n")
        out.update(got)
    if os.environ.get("VSRIFE_RELIABILITY_DUMP"):  # used to write docs/reliability.md
        Path(os.environ["VSRIFE_RELIABILITY_DUMP"]).write_text(json.dumps(out, indent=1))
    return out


def _check(rec: dict, expected: str) -> None:
    assert rec["outcome"] != "crashed", f"process crashed: {rec['message']}\n{rec.get('stderr', '')}"
    if expected == OK:
        assert rec["outcome"] == "ok", f"{rec.get('type')}: {rec.get('message')}\n{rec.get('trace', '')}"
    else:
        assert rec["outcome"] == "error", "expected an error, the call succeeded"
        assert rec["type"] != "AssertionError", rec.get("trace")
        assert re.search(expected, rec["message"], re.S), f"{rec['type']}: {rec['message']}"


@pytest.mark.parametrize("name", list(CASES))
def test_case(results: dict[str, dict], name: str) -> None:
    _check(results[name], CASES[name][2])


@pytest.mark.parametrize("name", SHIM_CASES)
def test_case_through_core_rife(results: dict[str, dict], name: str) -> None:
    if not hasattr(vs.core, "rife"):
        pytest.skip("core.rife (the native shim) is not installed")
    _check(results[f"shim:{name}"], CASES[name][2])


def test_case_table_size() -> None:
    assert len(CASES) >= 40


# -- security ----------------------------------------------------------------------------------------
def test_verify_detects_a_tampered_cache_file(all_models: list[str], tmp_path: Path) -> None:
    """A flipped byte in a cached weights file is reported by ``verify`` and blocks loading via ``fetch``'s check."""
    from vsrife import weights as registry

    src = registry.locate("4.0")
    dst = tmp_path / "4.0"
    dst.mkdir()
    data = bytearray((src / "flownet.pkl").read_bytes())
    (dst / "flownet.pkl").write_bytes(bytes(data))
    assert registry.verify("4.0", tmp_path) == []
    data[len(data) // 2] ^= 0xFF
    (dst / "flownet.pkl").write_bytes(bytes(data))
    problems = registry.verify("4.0", tmp_path)
    assert len(problems) == 1 and "sha256 mismatch" in problems[0]
    (dst / "flownet.pkl").unlink()
    assert "missing" in registry.verify("4.0", tmp_path)[0]


def test_loader_uses_only_weights_only_or_safetensors() -> None:
    """Every torch.load call in the package passes weights_only=True; no pickle.load/loads anywhere."""
    calls = 0
    for path in (ROOT / "vsrife").rglob("*.py"):
        text = path.read_text()
        assert not re.search(r"\bpickle\.loads?\(|\bdill\.|\bjoblib\.load|\bUnpickler\(", text), path
        for node in ast.walk(ast.parse(text)):
            f = getattr(node, "func", None)
            if isinstance(f, ast.Attribute) and f.attr == "load" and getattr(f.value, "id", "") == "torch":
                calls += 1
                kw = {k.arg: k.value for k in node.keywords}
                ok = isinstance(kw.get("weights_only"), ast.Constant) and kw["weights_only"].value is True
                assert ok, f"{path.name}:{node.lineno}: torch.load without weights_only=True"
    assert calls, "no torch.load found: the check would be vacuous"


def test_no_shell_anywhere() -> None:
    """The package and CLI never hand strings to a shell."""
    bad = re.compile(r"shell\s*=\s*True|os\.system\(|os\.popen\(|subprocess\.getoutput|commands\.")
    files = list((ROOT / "vsrife").rglob("*.py"))
    assert len(files) > 10
    hits = [f"{p.relative_to(ROOT)}:{i}" for p in files for i, line in enumerate(p.read_text().splitlines(), 1)
            if bad.search(line)]
    assert hits == []


def test_fetch_and_filter_write_only_inside_the_cache_dir(tmp_path: Path) -> None:
    """``fetch`` of an already-cached asset and a filter run write nothing outside VSRIFE_MODEL_DIR."""
    cache, home, work = tmp_path / "cache", tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    src = registry.cache_dir() / "4.0"
    (cache / "4.0").mkdir(parents=True)
    os.link(src / "flownet.pkl", cache / "4.0" / "flownet.pkl") if src.stat().st_dev == tmp_path.stat().st_dev \
        else (cache / "4.0" / "flownet.pkl").write_bytes((src / "flownet.pkl").read_bytes())
    code = textwrap.dedent("""
        import vapoursynth as vs
        from vsrife import weights as registry
        from vsrife.vs.api import RIFE
        registry.fetch('4.0', log=lambda s: None)
        out = RIFE(vs.core.std.BlankClip(width=32, height=32, format=vs.RGBS, length=2), model='4.0')
        out.get_frame(1)
        print('done')
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VSRIFE_MODEL_DIR": str(cache), "HOME": str(home),
           "XDG_CACHE_HOME": str(home / ".cache"), "TMPDIR": str(tmp_path / "tmp"), "PYTHONDONTWRITEBYTECODE": "1",
           "TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "tmp")}
    (tmp_path / "tmp").mkdir()
    res = subprocess.run([sys.executable, "-c", code], cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and "done" in res.stdout, res.stderr[-2000:]
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert written == ["cache/4.0/flownet.pkl"], written
