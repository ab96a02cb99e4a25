"""The native shim: core.rife.RIFE without ``import vsrife``, under vspipe, its error paths and signature."""

from __future__ import annotations

import ast
import inspect
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import vapoursynth as vs
from helpers import POLICY

import vsrife
from vsrife.plugin import bind as _bind
from vsrife.plugin import signature as _signature
from vsrife.vs.api import RIFE

ROOT = Path(__file__).resolve().parent.parent
VS_DIR = Path(vs.__file__).parent
VSPIPE = Path(sys.executable).with_name("vspipe")
core = vs.core


def _run(args: list[str], cwd: Path, timeout: float = 240, pythonpath: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": pythonpath}  # default: the installed vsrife, as a user's script sees it
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, timeout=timeout)


def _frames() -> list[np.ndarray]:
    """Three RGB frames of a smooth pattern moving 2 px per frame (deterministic, 64x48)."""
    y, x = np.mgrid[0:48, 0:64].astype(np.float32)
    return [np.stack([0.5 + 0.4 * np.sin((x - 2 * k) / 5 + c) * np.cos(y / 7) for c in (0, 1, 2)])
            for k in range(3)]


SYNTH = """
import numpy as np, vapoursynth as vs
core = vs.core
y, x = np.mgrid[0:48, 0:64].astype(np.float32)
FR = [np.stack([0.5 + 0.4 * np.sin((x - 2 * k) / 5 + c) * np.cos(y / 7) for c in (0, 1, 2)]) for k in range(3)]
base = core.std.BlankClip(width=64, height=48, format=vs.RGBS, length=3, fpsnum=24, fpsden=1)
def fill(n, f):
    out = f.copy()
    for p in range(3):
        np.asarray(out[p])[...] = FR[n][p]
    return out
clip = base.std.ModifyFrame(base, fill)
"""


def _synthetic() -> vs.VideoNode:
    frames = _frames()
    base = core.std.BlankClip(width=64, height=48, format=vs.RGBS, length=3, fpsnum=24, fpsden=1)

    def fill(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        out = f.copy()
        for p in range(3):
            np.asarray(out[p])[...] = frames[n][p]
        return out

    return base.std.ModifyFrame(base, fill)


def test_signature_matches_filter() -> None:
    names = [n for n, _ in _signature.PARAMS]
    assert names == list(inspect.signature(RIFE).parameters), "plugin/signature.py drifted from RIFE"
    expected = "".join(f"{n}:{t}{'' if n == 'clip' else ':opt'};" for n, t in _signature.PARAMS)
    assert _signature.args_string() == expected
    assert _signature.args_string().startswith("clip:vnode;multi:int:opt;")
    # the stub shipped for type checkers lists the same parameters
    stub = ast.parse((ROOT / "vsrife" / "__init__.pyi").read_text())
    fn = next(n for n in stub.body if isinstance(n, ast.FunctionDef) and n.name == "RIFE")
    assert [a.arg for a in fn.args.args] == names
    # and the installed shim was built from this signature (stale .so => re-run `make setup`)
    assert core.rife.RIFE.signature == _signature.args_string()
    assert core.rife.RIFE.return_signature == _signature.RETURN == "clip:vnode;"


def test_fresh_python_core_rife_matches_vsrife(tmp_path: Path) -> None:
    script = SYNTH + textwrap.dedent("""
        import sys
        before = sorted(m for m in sys.modules if m.split(".")[0] == "vsrife")
        out = core.rife.RIFE(clip, multi=2, model="4.25")
        np.save("out.npy", np.stack([np.stack([np.asarray(f[p]) for p in range(3)]) for f in out.frames()]))
        ident = next(p.identifier for p in core.plugins() if p.namespace == "rife")
        print(__import__("json").dumps({"before": before, "n": out.num_frames, "fps": str(out.fps), "id": ident}))
    """)
    (tmp_path / "s.py").write_text(script)
    r = _run([sys.executable, "s.py"], tmp_path)
    assert r.returncode == 0, r.stderr.decode()
    info = json.loads(r.stdout.decode().strip().splitlines()[-1])
    assert info == {"before": [], "n": 6, "fps": "48", "id": "com.vsrife.rife"}
    got = np.load(tmp_path / "out.npy")
    ref = vsrife.RIFE(_synthetic(), multi=2, model="4.25")
    want = np.stack([np.stack([np.asarray(f[p]) for p in range(3)]) for f in ref.frames()])
    assert got.shape == want.shape == (6, 3, 48, 64)
    np.testing.assert_array_equal(got, want)
    # the interpolated frame really is new content (not a copy of a source frame)
    assert np.abs(got[1] - got[0]).mean() > 1e-3 and np.abs(got[1] - got[2]).mean() > 1e-3


def test_vspipe_y4m(tmp_path: Path) -> None:
    (tmp_path / "t.vpy").write_text(textwrap.dedent("""
        import vapoursynth as vs
        core = vs.core
        c = core.std.Splice([core.std.BlankClip(width=64, height=48, format=vs.YUV420P8, length=1, fpsnum=25,
                                                color=[60 + 30 * k, 120, 140]) for k in range(5)])
        core.rife.RIFE(c, multi=3, sc=False).set_output()
    """))
    r = _run([str(VSPIPE), "-c", "y4m", "t.vpy", "-"], tmp_path)
    assert r.returncode == 0, r.stderr.decode()
    data = r.stdout
    header, _, body = data.partition(b"\n")
    fields = header.split()
    assert fields[0] == b"YUV4MPEG2"
    assert {b"W64", b"H48", b"F75:1", b"C420"} <= set(fields) or {b"W64", b"H48", b"F75:1", b"C420jpeg"} <= set(fields)
    frame = len(b"FRAME\n") + 64 * 48 * 3 // 2
    assert len(body) == 15 * frame and body.count(b"FRAME\n") >= 15
    y = [np.frombuffer(body[k * frame + 6:k * frame + 6 + 64 * 48], np.uint8).reshape(48, 64) for k in range(15)]
    # source frames pass through (60, 90, ...); frames 1 and 2 lie between sources 0 and 1
    assert y[0].mean() == 60 and y[3].mean() == 90 and y[12].mean() == 180
    assert 60 < y[1].mean() < y[2].mean() < 90


def test_errors_come_through_the_shim() -> None:
    clip = _synthetic()
    for kw in ({"multi": 1}, {"model": "nope"}, {"multi": 2, "fps_num": 50}):
        with pytest.raises(vs.Error) as direct:
            vsrife.RIFE(clip, **kw)
        with pytest.raises(vs.Error) as shim:
            core.rife.RIFE(clip, **kw)
        assert str(shim.value) == str(direct.value) and str(shim.value).startswith("RIFE: ")
    # data arguments arrive as str or bytes
    assert core.rife.RIFE(clip, model=b"4.25").num_frames == 6


def test_vsrife_not_importable(tmp_path: Path) -> None:
    """The shim is installed but this Python cannot import vsrife: the import error is the RIFE error."""
    (tmp_path / "shadow" / "vsrife").mkdir(parents=True)
    (tmp_path / "shadow" / "vsrife" / "__init__.py").write_text('raise ImportError("simulated broken install")')
    (tmp_path / "s.py").write_text(textwrap.dedent("""
        import vapoursynth as vs
        for _ in range(2):  # binding is retried on the next call
            try:
                vs.core.rife.RIFE(vs.core.std.BlankClip())
            except vs.Error as e:
                print(e)
    """))
    r = _run([sys.executable, "s.py"], tmp_path, pythonpath=str(tmp_path / "shadow"))
    assert r.returncode == 0, r.stderr.decode()
    msg = ("RIFE: could not load the vsrife Python implementation: cannot import the vsrife Python package: "
           "ImportError: simulated broken install")
    assert r.stdout.decode().splitlines() == [msg, msg]


def test_plugin_status_is_vsrife() -> None:
    assert _bind.plugin_status(core) == ("vsrife", "com.vsrife.rife")


FOREIGN_C = r"""
#include "VapourSynth4.h"
static void VS_CC create(const VSMap *in, VSMap *out, void *ud, VSCore *core, const VSAPI *vsapi) {
    vsapi->mapSetError(out, "foreign RIFE");
}
VS_EXTERNAL_API(void) VapourSynthPluginInit2(VSPlugin *plugin, const VSPLUGINAPI *vspapi) {
    vspapi->configPlugin("com.holywu.rife", "rife", "stand-in for the ncnn-Vulkan RIFE plugin", 1,
                         VAPOURSYNTH_API_VERSION, 0, plugin);
    vspapi->registerFunction("RIFE", "clip:vnode;", "clip:vnode;", create, 0, plugin);
}
"""

def test_foreign_rife_namespace(tmp_path: Path) -> None:
    """Another plugin owns namespace rife: ours cannot load, vsrife.RIFE still works, the status explains."""
    so = tmp_path / "libforeign.so"
    (tmp_path / "f.c").write_text(FOREIGN_C)
    subprocess.run(["cc", "-shared", "-fPIC", f"-I{VS_DIR / 'include'}", "f.c", "-o", str(so)], cwd=tmp_path,
                   check=True)
    ours = VS_DIR / "plugins" / "librife_vsrife.so"
    script = POLICY + SYNTH.replace("import numpy as np, vapoursynth as vs\n", "import numpy as np\n") + f"""
core.std.LoadPlugin({str(so)!r})
try:
    core.std.LoadPlugin({str(ours)!r})
    clash = ""
except vs.Error as e:
    clash = str(e)
import vsrife, vsrife.plugin.bind as b
print(__import__("json").dumps({{"clash": clash, "status": b.plugin_status(core), "msg": b.status_message(core),
                                 "n": vsrife.RIFE(clip, multi=2, model="4.25").num_frames}}))
"""
    (tmp_path / "s.py").write_text(script)
    r = _run([sys.executable, "s.py"], tmp_path)
    assert r.returncode == 0, r.stderr.decode()
    info = json.loads(r.stdout.decode().strip().splitlines()[-1])
    assert "rife" in info["clash"]
    assert info["status"] == ["other", "com.holywu.rife"]
    assert "vsrife.RIFE(clip" in info["msg"] and "docs/namespace.md" in info["msg"]
    assert info["n"] == 6


def test_no_python_host(tmp_path: Path) -> None:
    """A C program (no Python in the process) calling rife.RIFE gets the shim's explanation."""
    (tmp_path / "host.c").write_text(r"""
#include <stdio.h>
#include "VapourSynth4.h"
const VSAPI *getVapourSynthAPI(int version);
int main(void) {
    const VSAPI *api = getVapourSynthAPI(VAPOURSYNTH_API_VERSION);
    VSCore *core = api->createCore(0);
    VSPlugin *rife = api->getPluginByID("com.vsrife.rife", core);
    if (!rife) { puts("not loaded"); return 1; }
    VSMap *args = api->createMap();
    VSMap *bc = api->invoke(api->getPluginByNamespace("std", core), "BlankClip", args);
    VSMap *in = api->createMap();
    api->mapConsumeNode(in, "clip", api->mapGetNode(bc, "clip", 0, NULL), maReplace);
    VSMap *out = api->invoke(rife, "RIFE", in);
    puts(api->mapGetError(out) ? api->mapGetError(out) : "no error");
    api->freeMap(out); api->freeMap(in); api->freeMap(bc); api->freeMap(args);
    api->freeCore(core);
    return 0;
}
""")
    subprocess.run(["cc", f"-I{VS_DIR / 'include'}", "host.c", "-o", "host", str(VS_DIR / "libvapoursynth.so.4"),
                    f"-Wl,-rpath,{VS_DIR}"], cwd=tmp_path, check=True)
    r = _run([str(tmp_path / "host")], tmp_path, timeout=60)
    assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()
    assert r.stdout.decode().strip() == ("RIFE: no Python runtime in this process; core.rife.RIFE needs "
                                         "VapourSynth's Python environment (vspipe or python)")
