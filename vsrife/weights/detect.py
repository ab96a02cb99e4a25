"""Architecture detection from state-dict key names and shapes, and strict building.

A state dict is matched against every :class:`~vsrife.nn.arch.Arch` of the table by the exact
key set and shapes of a network built on the meta device; a custom-trained v4 net (other widths
or block count) is recognised by deriving its widths from the weights.  safetensors files
written by vsrife carry their exact architecture as metadata (:func:`arch_metadata`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace

import torch
from torch import Tensor

from ..errors import ModelLoadError
from ..nn.arch import ARCHS, Arch, Family, Refine
from ..nn.ifnet import IFNet

__all__ = ["ARCH_META_KEY", "arch_metadata", "build", "detect_arch"]

ARCH_META_KEY = "vsrife_arch"
TEACHER_PREFIXES = ("teacher.", "block_tea.")  # privileged teacher blocks (4.25, 4.0/hd) in checkpoints


def _shapes(arch: Arch, teacher: bool) -> dict[str, tuple[int, ...]]:
    with torch.device("meta"):
        net = IFNet(arch, teacher=teacher)
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


def _derive(sd: dict[str, Tensor], base: Arch) -> Arch | None:
    """The base version with block widths/count read off the weights (custom-trained nets)."""
    n = 0
    while f"block{n}.conv0.0.0.weight" in sd:
        n += 1
    if n < 2 or base.family is not Family.V4:
        return None
    chans, ins = [], []
    for i in range(n):
        w = sd[f"block{i}.conv0.1.0.weight"]
        chans.append(int(w.shape[0]))
        ins.append(int(sd[f"block{i}.conv0.0.0.weight"].shape[1]))
    scales = tuple(float(2 ** (n - 1 - i)) for i in range(n))
    tea = sd.get(f"{base.teacher_name}.conv0.0.0.weight")
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
        + (", contextnet.* + unet.*" if a.refine is Refine.V31 else "")
        for a in ARCHS.values()
    )
    raise ModelLoadError(f"unknown weights layout ({len(sd)} tensors, e.g. {sample}). Expected one of: {expected}")


def build(arch: Arch, sd: dict[str, Tensor], teacher: bool = False) -> IFNet:
    """Instantiate ``arch`` and load ``sd`` strictly (training-only tensors may be left out)."""
    use_teacher = teacher and arch.teacher_in > 0 and any(k.startswith(TEACHER_PREFIXES) for k in sd)
    net = IFNet(arch, teacher=use_teacher)
    keys = set(net.state_dict())
    unused = [k for k in sd if k not in keys and not k.startswith((*TEACHER_PREFIXES, *arch.extra))]
    if unused:
        raise ModelLoadError(f"weights hold tensors the {arch.name} model does not use: {unused[:5]}")
    try:
        net.load_state_dict({k: v for k, v in sd.items() if k in keys}, strict=True)
    except RuntimeError as e:
        raise ModelLoadError(f"weights do not fit the {arch.name} architecture: {e}") from e
    return net


def arch_metadata(arch: Arch) -> dict[str, str]:
    """safetensors metadata that lets :func:`detect_arch` rebuild ``arch`` exactly."""
    return {ARCH_META_KEY: json.dumps(asdict(arch))}
