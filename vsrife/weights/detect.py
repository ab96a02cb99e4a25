"""Architecture detection from state-dict key names and shapes, and strict building.

A state dict is matched against every layout of :data:`~vsrife.nn.arch.ARCHS` by the key names
and shapes of a network built on the meta device (built once per layout and kept); optional parts
(the privileged teacher block, 4.0's refine nets) must be wholly present or wholly absent, and
training-only tensors (``teacher.*``, ``block_tea.*``, ``caltime.*``) are ignored where the layout has
no table for them.  A custom-trained v4 net (other widths or block count) is recognised by deriving
its widths from the weights.  When nothing fits, the error names the closest layout and the keys or
shapes that differ.  safetensors files written by vsrife carry their exact architecture as metadata
(:func:`arch_metadata`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from functools import lru_cache

import torch
from torch import Tensor

from ..errors import ModelLoadError
from ..nn.arch import ARCHS, Arch, Family, Refine
from ..nn.ifnet import IFNet

__all__ = ["ARCH_META_KEY", "arch_metadata", "build", "closest", "detect_arch", "differences"]

ARCH_META_KEY = "vsrife_arch"
TEACHER_PREFIXES = ("teacher.", "block_tea.")  # privileged teacher blocks (4.25, 4.0/hd) in checkpoints
TRAINING_PREFIXES = (*TEACHER_PREFIXES, "caltime.")  # ignored for v4 layouts without a table for them
REFINE_PREFIXES = ("contextnet.", "unet.")
Shapes = dict[str, tuple[int, ...]]


@dataclass(frozen=True)
class Layout:
    """Key -> shape tables of one architecture: the core net and its optional parts."""

    core: Shapes
    optional: dict[str, Shapes]  # "teacher", "refine" (4.0's optional refine nets)


@lru_cache(maxsize=64)
def layout(arch: Arch) -> Layout:
    """The shape tables of ``arch`` (meta device: no memory, built once per architecture)."""
    with torch.device("meta"):
        full = IFNet(arch, teacher=arch.teacher_in > 0)
    shapes = {k: tuple(v.shape) for k, v in full.state_dict().items()}
    teacher = f"{arch.teacher_name}." if arch.teacher_in > 0 else "\0"
    refine = REFINE_PREFIXES if arch.refine is Refine.V4 else ("\0",)  # 3.1's refine nets are not optional
    optional = {"teacher": {k: s for k, s in shapes.items() if k.startswith(teacher)},
                "refine": {k: s for k, s in shapes.items() if k.startswith(refine)}}
    core = {k: s for k, s in shapes.items() if not k.startswith((teacher, *refine))}
    return Layout(core, {g: t for g, t in optional.items() if t})


def _signature(arch: Arch) -> tuple[int, tuple[int, ...]]:
    """Block count and block 0's first conv shape, known without building the net (a cheap first test)."""
    c = arch.channels[0]
    return len(arch.channels), (c // 2 if arch.widen == 1 else c, arch.in_planes[0], 3, 3)


def _file_signature(shapes: Shapes) -> tuple[int, tuple[int, ...]]:
    n = 0
    while f"block{n}.conv0.0.0.weight" in shapes:
        n += 1
    return n, shapes.get("block0.conv0.0.0.weight", ())


def _shape(s: tuple[int, ...]) -> str:
    return "[" + ", ".join(map(str, s)) + "]"


def differences(shapes: Shapes, arch: Arch) -> list[str]:
    """What keeps a state dict (``{key: shape}``) from loading into ``arch``, as phrases; [] when it fits."""
    lay = layout(arch)
    out = [f"{k} is missing" for k in lay.core if k not in shapes]
    out += [f"{k} has shape {_shape(shapes[k])}, the layout has {_shape(s)}"
            for k, s in lay.core.items() if k in shapes and shapes[k] != s]
    known = set(lay.core)
    for group, table in lay.optional.items():
        known |= set(table)
        if any(k in shapes for k in table):
            out += [f"{k} is missing ({group} present in part)" for k in table if k not in shapes]
            out += [f"{k} has shape {_shape(shapes[k])}, the layout has {_shape(s)}"
                    for k, s in table.items() if k in shapes and shapes[k] != s]
    ignored = (*arch.extra, *(TRAINING_PREFIXES if arch.family is Family.V4 and "teacher" not in lay.optional
                              else ()))
    out += [f"{k} is not in the layout" for k in shapes if k not in known and not k.startswith(ignored)]
    return out


def _fitted(shapes: Shapes, arch: Arch) -> Arch:
    """``arch`` as the weights use it: 4.0's refine nets dropped when the file has none."""
    if arch.refine is Refine.V4 and not any(k.startswith(REFINE_PREFIXES) for k in shapes):
        return replace(arch, refine=Refine.NONE)
    return arch


def _derive(shapes: Shapes, base: Arch) -> Arch | None:
    """``base`` with block widths/count read off the weights (custom-trained nets); inputs must be the base's."""
    n = 0
    while f"block{n}.conv0.0.0.weight" in shapes:
        n += 1
    if n < 2 or base.family is not Family.V4 or f"block{n - 1}.conv0.1.0.weight" not in shapes:
        return None
    ins = tuple(shapes[f"block{i}.conv0.0.0.weight"][1] for i in range(n))
    if ins != (base.in_planes[0],) + (base.in_planes[1],) * (n - 1):
        return None
    chans = tuple(shapes[f"block{i}.conv0.1.0.weight"][0] for i in range(n))
    if chans == base.channels:
        return None
    tea = shapes.get(f"{base.teacher_name}.conv0.0.0.weight")
    return replace(base, name=f"{base.name}-custom", channels=chans, in_planes=ins,
                   scales=tuple(float(2 ** (n - 1 - i)) for i in range(n)),
                   teacher_c=tea[0] * 2 if tea is not None else base.teacher_c, versions=())


def closest(shapes: Shapes) -> tuple[Arch, list[str]]:
    """The layout of the table with the fewest differences from ``shapes``, and those differences."""
    scored = [(differences(shapes, a), a) for a in ARCHS.values()]
    diff, arch = min(scored, key=lambda x: len(x[0]))
    return arch, diff


def _from_meta(shapes: Shapes, meta: dict[str, str]) -> Arch | None:
    try:
        fields = json.loads(meta[ARCH_META_KEY])
        fields = {k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()}
        arch = Arch(**fields)
    except (TypeError, ValueError) as e:
        raise ModelLoadError(f"weights metadata {ARCH_META_KEY!r} is invalid: {e}") from e
    return arch if not differences(shapes, arch) else None


def detect_arch(sd: dict[str, Tensor], meta: dict[str, str] | None = None) -> Arch:
    """Recognise the layout from the keys and shapes; raise naming the closest layout if none fits."""
    shapes = {k: tuple(v.shape) for k, v in sd.items()}
    if meta and ARCH_META_KEY in meta:
        arch = _from_meta(shapes, meta)
        if arch is not None:
            return arch
    sig = _file_signature(shapes)
    for arch in ARCHS.values():
        if _signature(arch) == sig and not differences(shapes, arch):
            return _fitted(shapes, arch)
    for base in ARCHS.values():
        derived = _derive(shapes, base)
        if derived is not None and not differences(shapes, derived):
            return _fitted(shapes, derived)
    raise ModelLoadError(_no_match(shapes))


def _no_match(shapes: Shapes) -> str:
    """A near miss names the closest layout and what differs; anything else lists the known layouts."""
    arch, diff = closest(shapes)
    sample = ", ".join(sorted(shapes)[:4]) or "no keys"
    core = layout(arch).core
    fitting = sum(1 for k, s in core.items() if shapes.get(k) == s)
    if len(diff) <= 3 or fitting >= len(core) // 2:  # most of the layout is there
        shown = "; ".join(diff[:3]) + (f"; and {len(diff) - 3} more" if len(diff) > 3 else "")
        return (f"weights ({len(shapes)} tensors) almost match the {arch.label} layout; {len(diff)} "
                f"difference{'s' * (len(diff) != 1)}: {shown}")
    known = ", ".join(a.name for a in ARCHS.values())
    return f"unknown weights layout ({len(shapes)} tensors, e.g. {sample}). Known layouts: {known}"


def build(arch: Arch, sd: dict[str, Tensor], teacher: bool = False) -> IFNet:
    """Instantiate ``arch`` and load ``sd`` strictly (training-only tensors may be left out)."""
    use_teacher = teacher and arch.teacher_in > 0 and any(k.startswith(TEACHER_PREFIXES) for k in sd)
    net = IFNet(arch, teacher=use_teacher)
    keys = set(net.state_dict())
    skip = (*TRAINING_PREFIXES, *arch.extra) if arch.family is Family.V4 else (*TEACHER_PREFIXES, *arch.extra)
    unused = [k for k in sd if k not in keys and not k.startswith(skip)]
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
