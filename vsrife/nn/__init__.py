"""The network layer: the architecture table, IFNet and its parts, and the CPU fast path.

Nothing here knows where weights come from or what VapourSynth is.  ``vsrife.nn.fast`` (the
CPU fast path) and ``vsrife.nn.fused`` (its C kernels) are imported where they are used.
"""

from .arch import ARCHS, Arch, Body, Family, Head, Refine
from .ifnet import IFNet, Output
from .layers import IFBlock, ResConv, merge_reversed, swap_flows
from .warp import resize, warp

__all__ = ["ARCHS", "Arch", "Body", "Family", "Head", "IFBlock", "IFNet", "Output", "Refine", "ResConv",
           "merge_reversed", "resize", "swap_flows", "warp"]
