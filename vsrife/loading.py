"""Safe weight loading and architecture detection from state-dict key names and shapes.

Weights are read only with ``torch.load(weights_only=True)`` or safetensors: a pickle
that would run code is refused.  The architecture is recognised from the keys, so a
user's own ``.pkl``/``.pth``/``.safetensors`` (for example one written by
``vsrife train``) loads without naming its version.
"""

from __future__ import annotations

import json
import pickle
import zipfile
from dataclasses import asdict, replace
from pathlib import Path

import torch
from torch import Tensor

from .model import ARCHS, Arch, IFNet
from .registry import locate

__all__ = ["ModelLoadError", "build", "detect_arch", "load_file", "load_model"]

REFINE_FILES = {"contextnet.pkl": "contextnet.", "unet.pkl": "unet."}
ARCH_META_KEY = "vsrife_arch"


class ModelLoadError(ValueError):
    """The weights file is missing, unreadable, unsafe or of an unknown layout."""


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


def _shapes(arch: Arch, teacher: bool) -> dict[str, tuple[int, ...]]:
    with torch.device("meta"):
        net = IFNet(arch, teacher=teacher)
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


def _derive(sd: dict[str, Tensor], base: Arch) -> Arch | None:
    """The base version with block widths/count read off the weights (custom-trained nets)."""
    n = 0
    while f"block{n}.conv0.0.0.weight" in sd:
        n += 1
    if n < 2 or base.family != "v4":
        return None
    chans, ins = [], []
    for i in range(n):
        w = sd[f"block{i}.conv0.1.0.weight"]
        chans.append(int(w.shape[0]))
        ins.append(int(sd[f"block{i}.conv0.0.0.weight"].shape[1]))
    scales = tuple(float(2 ** (n - 1 - i)) for i in range(n))
    tea = sd.get("teacher.conv0.0.0.weight" if base.encoder else "block_tea.conv0.0.0.weight")
    return replace(base, name=f"{base.name}-custom", channels=tuple(chans), in_planes=tuple(ins), scales=scales,
                   teacher_c=int(tea.shape[0]) * 2 if tea is not None else base.teacher_c)


def _matches(sd: dict[str, Tensor], arch: Arch) -> bool:
    need = _shapes(arch, teacher=False)
    if any(k not in sd or tuple(sd[k].shape) != s for k, s in need.items()):
        return False
    full = _shapes(arch, teacher=arch.teacher_in > 0)
    extra = [k for k in sd if k not in full and not k.startswith(arch.extra)]
    return not extra and all(tuple(sd[k].shape) == s for k, s in full.items() if k in sd)


def detect_arch(sd: dict[str, Tensor], meta: dict[str, str] | None = None) -> Arch:
    """Recognise the version from the keys; raise with the expected layouts if none fits."""
    if meta and ARCH_META_KEY in meta:
        try:
            fields = json.loads(meta[ARCH_META_KEY])
            fields = {k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()}
            arch = Arch(**fields)
        except (TypeError, ValueError) as e:
            raise ModelLoadError(f"weights metadata {ARCH_META_KEY!r} is invalid: {e}") from e
        if _matches(sd, arch):
            return arch
    for arch in ARCHS.values():
        if _matches(sd, arch):
            return arch
    for arch in ARCHS.values():
        derived = _derive(sd, arch)
        if derived is not None and arch.encoder == ("encode.cnn0.weight" in sd):
            try:
                if _matches(sd, derived):
                    return derived
            except (RuntimeError, ValueError):
                continue
    sample = ", ".join(sorted(sd)[:6]) or "no keys"
    expected = "; ".join(
        f"{a.name}: {len(a.channels)} IFBlocks block0..block{len(a.channels) - 1} (c = "
        f"{'/'.join(map(str, a.channels))}), block0 input {a.in_planes[0]} channels"
        + (", encode.cnn0..3" if a.encoder else "")
        + (", contextnet.* + unet.*" if a.refine == "v31" else "")
        for a in ARCHS.values()
    )
    raise ModelLoadError(f"unknown weights layout ({len(sd)} tensors, e.g. {sample}). Expected one of: {expected}")


def build(arch: Arch, sd: dict[str, Tensor], teacher: bool = False) -> IFNet:
    """Instantiate ``arch`` and load ``sd`` strictly (training-only tensors may be left out)."""
    use_teacher = teacher and arch.teacher_in > 0 and any(k.startswith(("teacher.", "block_tea.")) for k in sd)
    net = IFNet(arch, teacher=use_teacher)
    keys = set(net.state_dict())
    unused = [k for k in sd if k not in keys and not k.startswith(("teacher.", "block_tea.", *arch.extra))]
    if unused:
        raise ModelLoadError(f"weights hold tensors the {arch.name} model does not use: {unused[:5]}")
    try:
        net.load_state_dict({k: v for k, v in sd.items() if k in keys}, strict=True)
    except RuntimeError as e:
        raise ModelLoadError(f"weights do not fit the {arch.name} architecture: {e}") from e
    return net


def load_model(model: str | None = None, model_path: str | Path | None = None,
               teacher: bool = False) -> tuple[IFNet, dict[str, Tensor]]:
    """Load a named cached model or a user's file; returns the net and the raw state dict."""
    if model_path is not None:
        sd, meta = load_file(model_path)
    else:
        name = model or "4.25"
        if name not in ARCHS:
            raise ModelLoadError(f"unknown model {name!r}; allowed: {', '.join(ARCHS)}")
        d = locate(name)
        sd, meta = load_file(d if ARCHS[name].refine == "v31" else d / "flownet.pkl")
    arch = detect_arch(sd, meta)
    if model_path is None and model and arch.name != model:
        raise ModelLoadError(f"cached weights for {model!r} look like {arch.name}; run python -m vsrife models verify")
    return build(arch, sd, teacher=teacher).eval(), sd


def arch_metadata(arch: Arch) -> dict[str, str]:
    """safetensors metadata that lets :func:`detect_arch` rebuild ``arch`` exactly."""
    return {ARCH_META_KEY: json.dumps(asdict(arch))}
