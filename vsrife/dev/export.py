"""ONNX export of a RIFE v4 model for runtimes that feed concatenated planes (vs-mlrt's ``ov``/``ort``).

vs-mlrt's ``core.ov.Model``/``core.ort.Model`` take a list of clips and pass the network one
float tensor [1, C, H, W] holding all planes of all clips in order.  :class:`PlanarIFNet`
accepts exactly that: img0 (3 planes), img1 (3 planes) and a timestep plane, 7 channels,
and returns the interpolated RGB frame [1, 3, H, W].  The graph has a fixed frame size
(a multiple of the model's padding for ``scale``).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from ..errors import InputError
from ..nn import IFNet
from ..nn.warp import Warp, warp
from ..weights import load_model

__all__ = ["PlanarIFNet", "export_onnx", "gather_warp"]


def gather_warp(img: Tensor, flow: Tensor) -> Tensor:
    """Backward warp like :func:`vsrife.nn.warp.warp` (bilinear, border, align_corners) from Gather ops only.

    For runtimes without a GridSample kernel (vs-mlrt's ONNX Runtime build lacks one).
    """
    n, c, h, w = img.shape
    ys = torch.arange(h, dtype=torch.float32).view(1, h, 1)
    xs = torch.arange(w, dtype=torch.float32).view(1, 1, w)
    x = (xs + flow[:, 0].float()).clamp(0, w - 1)
    y = (ys + flow[:, 1].float()).clamp(0, h - 1)
    x0, y0 = x.floor(), y.floor()
    wx, wy = (x - x0).unsqueeze(1), (y - y0).unsqueeze(1)
    x0i, y0i = x0.long(), y0.long()
    x1i, y1i = (x0i + 1).clamp(max=w - 1), (y0i + 1).clamp(max=h - 1)
    flat = img.float().reshape(n, c, h * w)

    def tap(yi: Tensor, xi: Tensor) -> Tensor:
        idx = (yi * w + xi).reshape(n, 1, h * w).expand(n, c, h * w)
        return torch.gather(flat, 2, idx).reshape(n, c, h, w)

    top = tap(y0i, x0i) * (1 - wx) + tap(y0i, x1i) * wx
    bot = tap(y1i, x0i) * (1 - wx) + tap(y1i, x1i) * wx
    return (top * (1 - wy) + bot * wy).to(img.dtype)


WARPS: dict[str, Warp] = {"gridsample": warp, "gather": gather_warp}


class PlanarIFNet(nn.Module):
    """IFNet behind a single 7-channel input: RGB of frame 0, RGB of frame 1, timestep plane."""

    def __init__(self, net: IFNet, scale: float = 1.0) -> None:
        super().__init__()
        if not net.arch.timestep_input:
            raise InputError(f"ONNX export needs a 4.x model with a timestep input, not {net.arch.name}")
        self.net, self.scale = net, float(scale)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x[:, 0:3], x[:, 3:6], x[:, 6:7], scale=self.scale).image.clamp(0, 1)


def export_onnx(path: str | Path, height: int, width: int, model: str | None = None, scale: float = 1.0,
                opset: int = 17, warp: str = "gridsample") -> Path:
    """Write ``model`` as ONNX for [1, 7, height, width] input; returns the path.

    ``warp="gather"`` replaces GridSample by Gather-based bilinear sampling (same result).
    """
    if warp not in WARPS:
        raise InputError(f"warp must be 'gridsample' or 'gather', not {warp!r}")
    net, _ = load_model(model)
    net = net.float().eval()
    net.warp = WARPS[warp]  # injected: no module-level patching
    mult = net.arch.pad_multiple(scale)
    if height % mult or width % mult:
        raise InputError(f"height and width must be multiples of {mult} for model {net.arch.name} at scale={scale}, "
                         f"got {width}x{height}")
    wrapper = PlanarIFNet(net, scale).eval()
    x = torch.rand(1, 7, height, width)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.inference_mode():
        torch.onnx.export(wrapper, (x,), str(path), input_names=["input"], output_names=["output"],
                          opset_version=opset, dynamo=False)
    return path
