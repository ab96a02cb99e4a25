"""Threads and request order: parallel, random-order and repeated requests give bit-identical output;
a slow or failing source frame neither deadlocks the filter nor loses its error."""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import vapoursynth as vs

from vsrife.vs.api import RIFE

core = vs.core
TIMEOUT = 120  # seconds for any one frame; a deadlock fails the test instead of hanging it


def _moving(n: int, fmt: int = vs.RGBS, hook=None, w: int = 64, h: int = 48) -> vs.VideoNode:
    """``n`` w x h frames of a pattern moving 2 px per frame; ``hook(n)`` runs in the source callback."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = core.std.BlankClip(width=w, height=h, format=vs.RGBS, length=n, fpsnum=24, fpsden=1)

    def fill(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        if hook is not None:
            hook(n)
        out = f.copy()
        for p in range(3):
            np.asarray(out[p])[...] = 0.5 + 0.4 * np.sin((x - 2 * n) / 5 + p) * np.cos((y + n) / 7)
        return out

    clip = base.std.ModifyFrame(base, fill)
    return clip if fmt == vs.RGBS else clip.resize.Bicubic(format=fmt, matrix_s="709")


def _key(f: vs.VideoFrame) -> tuple:
    planes = tuple(np.asarray(f[p]).tobytes() for p in range(f.format.num_planes))
    return planes, f.props["RifeSourceFrame"], f.props["RifeTimestep"], f.props["RifeInterpolated"]


@pytest.fixture()
def threads():
    old = core.num_threads
    yield
    core.num_threads = old


CONFIGS = [({"multi": 3}, vs.RGBS), ({"factor_num": 5, "factor_den": 2}, vs.YUV420P10)]


@pytest.mark.parametrize(("kwargs", "fmt"), CONFIGS, ids=["multi3-RGBS", "factor5/2-YUV420P10"])
def test_parallel_random_repeated_requests_are_bit_identical(all_models: list[str], threads, kwargs: dict,
                                                             fmt: int) -> None:
    core.num_threads = 1
    ref_out = RIFE(_moving(6, fmt), **kwargs)
    ref = [_key(ref_out.get_frame(n)) for n in range(ref_out.num_frames)]
    assert sum(k[3] for k in ref) >= 6  # interpolated frames are part of the comparison
    rng = random.Random(7)
    for nt in (1, 2, 4):
        core.num_threads = nt
        out = RIFE(_moving(6, fmt), **kwargs)  # a fresh instance: nothing cached from the reference
        order = list(range(out.num_frames)) * 2
        rng.shuffle(order)
        futures = [(n, out.get_frame_async(n)) for n in order]  # all in flight at once
        for n, fut in futures:
            assert _key(fut.result(timeout=TIMEOUT)) == ref[n], f"num_threads={nt}, frame {n}"
        with ThreadPoolExecutor(4) as pool:  # several Python threads, repeated, reversed
            got = list(pool.map(lambda n, o=out: (n, _key(o.get_frame(n))), reversed(order), timeout=TIMEOUT))
        assert all(k == ref[n] for n, k in got), f"num_threads={nt}, threaded get_frame"


def test_slow_source_frame_does_not_deadlock(all_models: list[str], threads) -> None:
    core.num_threads = 4
    ref = [_key(f) for f in RIFE(_moving(5), multi=2).frames()]
    slow = RIFE(_moving(5, hook=lambda n: time.sleep(1.0) if n == 2 else None), multi=2)
    t0 = time.monotonic()
    futures = [(n, slow.get_frame_async(n)) for n in random.Random(3).sample(range(slow.num_frames), slow.num_frames)]
    for n, fut in futures:
        assert _key(fut.result(timeout=TIMEOUT)) == ref[n]
    assert time.monotonic() - t0 < TIMEOUT


def test_failing_source_frame_error_reaches_the_user(all_models: list[str], threads) -> None:
    """Source frame 3 raises: every output frame built from it fails with that error (and its frame number),
    the others still render, and the filter keeps working afterwards (no lock left held)."""
    core.num_threads = 4
    calls = {"n": 0}
    lock = threading.Lock()

    def hook(n: int) -> None:
        if n == 3:
            with lock:
                calls["n"] += 1
            raise RuntimeError(f"decoder failed at frame {n}")

    src_ok = _moving(6)
    out = RIFE(_moving(6, hook=hook), multi=2)
    ref = RIFE(src_ok, multi=2)
    needs_3 = {5, 6, 7}  # (2,3) at t=1/2, source 3, (3,4) at t=1/2
    futures = [(n, out.get_frame_async(n)) for n in range(out.num_frames)]
    for n, fut in futures:
        if n in needs_3:
            with pytest.raises(vs.Error, match="decoder failed at frame 3"):
                fut.result(timeout=TIMEOUT)
        else:
            assert _key(fut.result(timeout=TIMEOUT)) == _key(ref.get_frame(n)), n
    assert calls["n"] >= 1
    with pytest.raises(vs.Error, match="decoder failed at frame 3"):  # again, synchronously: same error, no hang
        out.get_frame(6)
    assert _key(out.get_frame(9)) == _key(ref.get_frame(9))


def test_two_pairs_run_at_once_on_two_streams(all_models: list[str], threads, monkeypatch: pytest.MonkeyPatch) -> None:
    """With 2 VapourSynth threads two pairs are interpolated at the same time (engine streams, one
    ModifyFrame node per stream); with VSRIFE_STREAMS=1 or one VapourSynth thread, one at a time.
    Threads per call follow the configured streams, so the output does not depend on core.num_threads."""
    from vsrife import settings
    from vsrife.vs import build, plan

    got = {}
    for nthreads, streams in ((2, "2"), (1, "2"), (2, "1")):
        core.num_threads = nthreads
        with settings.override(streams=int(streams)):
            p = plan(_moving(9, w=256, h=192), multi=2, sc=False)
        out = build(p)
        eng = p.engine
        futures = [out.get_frame_async(n) for n in range(out.num_frames)]
        keys = [_key(f.result(timeout=TIMEOUT)) for f in futures]
        got[(nthreads, streams)] = (eng.streams, eng.stats["max_concurrent"], keys)
    assert got[(2, "2")][:2] == (2, 2)
    assert got[(1, "2")][:2] == (1, 1)  # no more streams than VapourSynth threads
    assert got[(2, "1")][:2] == (1, 1)
    assert got[(2, "2")][2] == got[(1, "2")][2]  # bit-identical, run concurrently or not
