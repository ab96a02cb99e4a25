"""The plugin layer: the Python side of the native ``core.rife`` shim (``plugin/rife_shim.c``).

:mod:`.signature` declares the function's VapourSynth signature (read by setup.py at build time);
:mod:`.bind` hands the Python filter to the shim and tells who owns the ``rife`` namespace.
"""
