"""The parameters of ``RIFE`` as the native plugin declares them (``core.rife.RIFE``).

Single source of truth for the VapourSynth argument string: ``setup.py`` reads this file (without
importing torch or vapoursynth) to compile ``plugin/rife_shim.c``, and ``tests/test_plugin.py`` checks
that the names and their order match ``inspect.signature(vsrife.vs.api.RIFE)``.  When you add a
parameter to ``vsrife.vs.api.RIFE``, add it here too, at the same position.
"""

from __future__ import annotations

__all__ = ["BIND_ARGS", "PARAMS", "RETURN", "args_string"]

# (name, VapourSynth type) in the order of vsrife.vs.api.RIFE's signature; only ``clip`` is required.
# VapourSynth has no bool type: the bool parameters are declared ``int`` (0/1).
PARAMS: tuple[tuple[str, str], ...] = (
    ("clip", "vnode"),
    ("multi", "int"),
    ("factor_num", "int"),
    ("factor_den", "int"),
    ("fps_num", "int"),
    ("fps_den", "int"),
    ("model", "data"),
    ("model_path", "data"),
    ("scale", "float"),
    ("ensemble", "int"),
    ("device", "data"),
    ("fp16", "int"),
    ("sc", "int"),
    ("sc_threshold", "float"),
    ("dedup", "int"),
    ("dedup_threshold", "float"),
    ("matrix_in", "int"),
    ("range_in", "int"),
    ("timeline", "data"),
    ("timecodes", "data"),
)

REQUIRED = frozenset({"clip"})

RETURN = "clip:vnode;"

# The shim's internal registration function: vsrife.plugin.bind hands it the Python implementation or an error.
BIND_ARGS = "func:func:opt;error:data:opt;"


def args_string() -> str:
    """``clip:vnode;multi:int:opt;...`` for ``registerFunction``."""
    return "".join(f"{name}:{kind}{'' if name in REQUIRED else ':opt'};" for name, kind in PARAMS)


if __name__ == "__main__":
    print(args_string())
