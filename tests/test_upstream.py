"""``vsrife models fetch 4.18``: the upstream release download, against a local HTTP server (issue 17).

The real download code runs against ``http.server`` on 127.0.0.1 (``$VSRIFE_UPSTREAM_URL`` / the
``upstream_url`` setting points there), serving files made in the test: a success, a wrong checksum, a
truncated download, a missing file, a pickle that would run code, a file of the wrong layout and an
unreachable host.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import io
import pickle
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
import vapoursynth as vs
from helpers import clip_from_arrays, textured

import vsrife
from vsrife import settings
from vsrife import weights as registry
from vsrife.cli import main
from vsrife.engine import Engine
from vsrife.engine.models import release
from vsrife.errors import AssetError, SettingsError
from vsrife.nn import IFNet, arch_for

VERSION = "4.18"


class Served:
    """What the local server answers: path -> bytes, optionally cut short after ``truncate`` bytes."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.truncate: int | None = None
        self.requests: list[str] = []


def _handler(served: Served) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.requests.append(self.path)
            body = served.files.get(self.path)
            if body is None:
                self.send_error(404, "Not Found")
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body if served.truncate is None else body[:served.truncate])
            self.close_connection = True

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Served, str]]:
    """A local server and the settings that point vsrife's cache and upstream URL at tmp_path / it."""
    served = Served()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(served))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}/model"
    try:
        with settings.override(model_dir=tmp_path / "cache", upstream_url=base):
            yield served, base
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def weights_418() -> bytes:
    """A 4.18-layout release asset made here: a random-init IFNet saved with the ``module.`` prefix."""
    torch.manual_seed(18)
    net = IFNet(arch_for(VERSION))
    buf = io.BytesIO()
    torch.save({"module." + k: v for k, v in net.state_dict().items()}, buf)
    return buf.getvalue()


def _path(base: str, version: str = VERSION) -> str:
    """The request path of ``version``'s asset under ``base`` (http://127.0.0.1:PORT/model)."""
    return "/" + base.split("/", 3)[3] + f"/flownet_v{version}.pkl"


def test_download_records_sha256_and_loads(server, weights_418: bytes, tmp_path: Path) -> None:
    served, base = server
    served.files[_path(base)] = weights_418
    log: list[str] = []
    path = registry.fetch_upstream(VERSION, log=log.append)
    digest = hashlib.sha256(weights_418).hexdigest()
    assert path == tmp_path / "cache" / "upstream" / "flownet_v4.18.pkl" and path.read_bytes() == weights_418
    assert (path.parent / "flownet_v4.18.pkl.sha256").read_text() == f"{digest}  flownet_v4.18.pkl\n"
    assert any("trusted on first download" in s and "4.13-4.19/4.24 layout" in s for s in log)
    assert served.requests == [_path(base)]
    assert not list(path.parent.glob("*.part")) and not list(path.parent.glob("*.download"))
    registry.fetch_upstream(VERSION, log=log.append)  # cached and verified: no second request
    assert served.requests == [_path(base)] and "already cached and verified" in log[-1]
    eng = Engine(model=VERSION, device="cpu", ensemble=False)
    assert eng.arch.name == "4.13-4.19/4.24" and eng.fast is not None
    tex = textured(64, 72, seed=2)
    clip = clip_from_arrays([np.ascontiguousarray(tex[:, :, k * 4:k * 4 + 64]) for k in range(2)], vs.RGBS)
    mid = vsrife.RIFE(clip, model=VERSION, sc=False).get_frame(1)
    assert mid.props["RifeInterpolated"] == 1 and np.isfinite(np.asarray(mid[0])).all()


def test_changed_file_is_refused_on_load_and_on_download(server, weights_418: bytes) -> None:
    served, base = server
    served.files[_path(base)] = weights_418
    path = registry.fetch_upstream(VERSION, log=lambda s: None)
    data = bytearray(path.read_bytes())
    data[-100] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(AssetError, match=r"flownet_v4\.18\.pkl has sha256 [0-9a-f]{64}, but [0-9a-f]{64} was "
                                         r"recorded when it was downloaded; fetch it again: .*--force"):
        registry.locate_upstream(VERSION)
    release()  # networks loaded earlier in this process are kept; a new load checks the file
    with pytest.raises(AssetError, match="was recorded when it was downloaded"):
        Engine(model=VERSION, device="cpu")
    served.files[_path(base)] = bytes(data)  # the release asset changed since the first download
    with pytest.raises(AssetError, match=r"expected [0-9a-f]{64} \(recorded at the first download "
                                         r"\(flownet_v4\.18\.pkl\.sha256\)\); the file was not kept"):
        registry.fetch_upstream(VERSION, force=True, log=lambda s: None)
    served.files[_path(base)] = weights_418
    registry.fetch_upstream(VERSION, force=True, log=lambda s: None)  # the right file again
    assert registry.locate_upstream(VERSION).read_bytes() == weights_418


def test_wrong_checksum(server, weights_418: bytes) -> None:
    served, base = server
    served.files[_path(base)] = weights_418
    with pytest.raises(AssetError, match=r"has sha256 [0-9a-f]{64}, expected 0{64} \(given\); the file was not kept"):
        registry.fetch_upstream(VERSION, sha256="0" * 64, log=lambda s: None)
    assert not (settings.get().model_dir / "upstream" / "flownet_v4.18.pkl").exists()
    good = hashlib.sha256(weights_418).hexdigest()
    assert registry.fetch_upstream(VERSION, sha256=good.upper(), log=lambda s: None).is_file()


def test_truncated_download(server, weights_418: bytes) -> None:
    served, base = server
    served.files[_path(base)] = weights_418
    served.truncate = len(weights_418) // 2
    with pytest.raises(AssetError, match=r"download of http://127\.0\.0\.1:\d+/model/flownet_v4\.18\.pkl is "
                                         r"truncated: \d+ (of \d+ )?bytes"):
        registry.fetch_upstream(VERSION, log=lambda s: None)
    d = settings.get().model_dir / "upstream"
    assert not d.exists() or not list(d.iterdir())  # nothing left behind


def _closed_port() -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_host_and_missing_file(server, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(AssetError, match=r"could not download .*flownet_v4\.18\.pkl: HTTP 404"):
        registry.fetch_upstream(VERSION, log=lambda s: None)
    with settings.override(upstream_url=f"http://127.0.0.1:{_closed_port()}/model"):
        with pytest.raises(AssetError, match=r"could not download http://127\.0\.0\.1:\d+/model/flownet_v4\.18\.pkl: "
                                             r".*[Rr]efused.*; check the network or set \$VSRIFE_UPSTREAM_URL$"):
            registry.fetch_upstream(VERSION, log=lambda s: None)
        assert main(["models", "fetch", VERSION]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("vsrife models: error: could not download")


def test_unsafe_or_wrong_files_are_not_kept(server, tmp_path: Path) -> None:
    served, base = server
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    buf = io.BytesIO()
    torch.save({"module.block0.conv0.0.0.weight": torch.zeros(1), "x": Payload()}, buf)
    served.files[_path(base)] = buf.getvalue()
    with pytest.raises(AssetError, match=r"flownet_v4\.18\.pkl is not usable: .*refused"):
        registry.fetch_upstream(VERSION, log=lambda s: None)
    assert not marker.exists()
    served.files[_path(base)] = pickle.dumps([1, 2])
    with pytest.raises(AssetError, match="is not usable"):
        registry.fetch_upstream(VERSION, log=lambda s: None)
    buf = io.BytesIO()
    torch.save(IFNet(arch_for("4.6")).state_dict(), buf)  # a 4.6 file under the 4.18 name
    served.files[_path(base)] = buf.getvalue()
    with pytest.raises(AssetError, match=r"has the 4\.6 layout, version 4\.18 has 4\.13-4\.19/4\.24"):
        registry.fetch_upstream(VERSION, log=lambda s: None)
    assert not (settings.get().model_dir / "upstream" / "flownet_v4.18.pkl").exists()


def test_routes_and_names() -> None:
    """The PyPI catalog stays the route for its models; every other published version is upstream."""
    assert not any(registry.resolve(n).upstream_only for n in registry.MODELS)
    assert registry.resolve("4.26").upstream_only and registry.resolve("4.26").arch.name == "4.25/4.26"
    assert set(registry.UPSTREAM) | set(registry.MODELS) >= set(registry.UPSTREAM_VERSIONS)
    assert registry.upstream_url("4.25.lite").endswith("/flownet_v4.25.lite.pkl")
    assert settings.from_env({}).upstream_url == "https://github.com/HolyWu/vs-rife/releases/download/model"
    with pytest.raises(SettingsError, match=r"upstream_url \(\$VSRIFE_UPSTREAM_URL\) must be an http"):
        settings.from_env({"VSRIFE_UPSTREAM_URL": "ftp://x"})
    with pytest.raises(AssetError, match=r"unknown upstream version '4\.99'"):
        registry.fetch_upstream("4.99")
    with pytest.raises(ValueError, match=r"model '4\.99' is unknown; allowed: 4\.25, 4\.0, 4\.6, hd, 3\.1, or a "
                                         r"published version fetched with 'vsrife models fetch VERSION' \(4\.1, "):
        Engine(model="4.99")
