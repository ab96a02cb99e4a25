"""Safe weight loading: files to state dicts, and named or user models to networks.

Weights are read only with ``torch.load(weights_only=True)`` or safetensors: a pickle
that would run code is refused.  The architecture is recognised from the keys
(:mod:`vsrife.weights.detect`), so a user's own ``.pkl``/``.pth``/``.safetensors`` (for
example one written by ``vsrife train``) loads without naming its version.
"""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor

from ..errors import AssetError, ModelLoadError
from ..nn.ifnet import IFNet
from .cache import locate
from .catalog import Weights, resolve
from .detect import arch_metadata, build, detect_arch
from .upstream import download_version, locate_upstream

__all__ = ["ModelLoadError", "arch_metadata", "build", "detect_arch", "fetch_upstream", "load_file", "load_model",
           "model_file"]

REFINE_FILES = {"contextnet.pkl": "contextnet.", "unet.pkl": "unet."}


def _strip(sd: dict[str, Tensor], prefix: str = "") -> dict[str, Tensor]:
    return {prefix + (k[7:] if k.startswith("module.") else k): v for k, v in sd.items()}


def _read_one(path: Path) -> tuple[dict[str, Tensor], dict[str, str]]:
    if not path.exists():
        raise ModelLoadError(f"model_path {str(path)!r} does not exist")
    if path.is_dir():
        raise ModelLoadError(f"model_path {str(path)!r} is a directory without flownet.pkl")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError, safe_open

        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
                return {k: f.get_tensor(k) for k in f.keys()}, meta  # noqa: SIM118
        except (SafetensorError, OSError, ValueError) as e:
            raise ModelLoadError(f"model_path {str(path)!r} is not a readable safetensors file: {e}") from e
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        why = next((ln for ln in lines if "GLOBAL" in ln or "Unsupported" in ln), lines[-1] if lines else "")
        what = ("it is a pickle that references code (loading it could run code)" if "GLOBAL" in why
                else "it is not a PyTorch weights file, or a pickle that holds more than tensors")
        raise ModelLoadError(
            f"model_path {str(path)!r} was refused: {what}; nothing in it was run. Only plain state dicts "
            f"are loaded (weights_only=True) or .safetensors. Detail: {why}"
        ) from e
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError) as e:
        raise ModelLoadError(f"model_path {str(path)!r} is truncated or not a PyTorch weights file: {e}") from e
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise ModelLoadError(f"model_path {str(path)!r} does not hold a state dict of tensors")
    return obj, {}


def load_file(path: str | Path) -> tuple[dict[str, Tensor], dict[str, str]]:
    """Read a state dict (and safetensors metadata); a 3.1 directory is merged into one dict."""
    path = Path(path).expanduser()
    if path.is_dir() and (path / "flownet.pkl").is_file():
        sd, meta = _read_one(path / "flownet.pkl")
        sd = _strip(sd)
        for fname, prefix in REFINE_FILES.items():
            if (path / fname).is_file():
                sd.update(_strip(_read_one(path / fname)[0], prefix))
        return sd, meta
    sd, meta = _read_one(path)
    return _strip(sd), meta


def load_model(model: str | Weights | None = None, model_path: str | Path | None = None,
               teacher: bool = False) -> tuple[IFNet, dict[str, Tensor]]:
    """Load a named cached model or a user's file; returns the net and the raw state dict."""
    weights = None
    if model_path is not None:
        sd, meta = load_file(model_path)
    else:
        try:
            weights = resolve(model)
        except ValueError as e:
            raise ModelLoadError(str(e)) from None
        sd, meta = load_file(model_file(weights))
    arch = detect_arch(sd, meta)
    if weights is not None and arch.name != weights.arch.name:
        raise ModelLoadError(f"cached weights for {weights.name!r} look like {arch.name}, not {weights.arch.name}; "
                             f"run python -m vsrife models verify {weights.name}")
    return build(arch, sd, teacher=teacher).eval(), sd


def model_file(weights: Weights) -> Path:
    """The cached file (or 3.1 directory) of a catalog or upstream model; an error naming the fetch command."""
    if weights.upstream_only:
        return locate_upstream(weights.name)
    d = locate(weights.name)
    return d if weights.is_dir else d / "flownet.pkl"


def _check_upstream(path: Path, version: str) -> str:
    """The layout name of a downloaded release asset; an error if it is not a safe state dict of ``version``."""
    from ..nn.arch import VERSIONS
    from .catalog import upstream_file

    try:
        sd, meta = load_file(path)
        arch = detect_arch(sd, meta)
    except ModelLoadError as e:
        raise AssetError(f"{upstream_file(version)} is not usable: {e}") from None
    want = VERSIONS[version]
    if arch.name != want.name:
        raise AssetError(f"{upstream_file(version)} has the {arch.name} layout, version {version} has {want.name}")
    return arch.name


def fetch_upstream(version: str, root: Path | None = None, log: Callable[[str], None] = print,
                   force: bool = False, sha256: str | None = None) -> Path:
    """``vsrife models fetch VERSION`` for a published version outside the catalog (:mod:`.upstream`).

    The file is kept only if it loads with ``weights_only=True`` and has the layout of ``version``.
    """
    return download_version(version, _check_upstream, root, log, force, sha256)
