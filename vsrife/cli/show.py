"""``vsrife show INPUT SHEET.png``: a contact sheet of what the model does on one source pair."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import vapoursynth as vs

from ..vs import formats
from . import CLIError
from .common import add_filter_args, open_source

__all__ = ["register", "run", "write_sheet"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "show", help="PNG contact sheet: input pair, interpolated frames, optical flow, fusion mask",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run the model on source frames N and N+1 and draw a PNG contact sheet.\n"
                    "Row 1: frame N, the interpolated frames, frame N+1.  Row 2: the flow from each interpolated\n"
                    "frame back to frame N in the Middlebury colour wheel (hue = direction, saturation = length;\n"
                    "the key is under frame N).  Row 3: the fusion mask (white = pixel taken from frame N).",
        epilog="examples:\n  vsrife show in.mkv sheet.png\n  vsrife show in.mkv sheet.png --frame 120 --multi 4\n"
               "  vsrife show anime.mkv sheet.png --frame 40 --model 4.0 --scale 0.5 --tile-width 480",
    )
    p.add_argument("input", help="video file (read with bestsource)")
    p.add_argument("output", help="PNG file to write")
    p.add_argument("--frame", "-f", type=int, default=0, metavar="N", help="first source frame of the pair (default 0)")
    p.add_argument("--multi", "-m", type=int, default=2, metavar="N",
                   help="show the N-1 frames at t = 1/N ... (N-1)/N (default 2: t = 0.5)")
    p.add_argument("--tile-width", type=int, default=320, metavar="PX", help="width of each picture (default 320)")
    add_filter_args(p, rate=False, scenes=False)
    p.set_defaults(func=run)


def _rgb_pair(clip: vs.VideoNode, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Source frames n and n+1 as [3, H, W] float RGB in [0, 1], converted as the filter converts them."""
    cs = formats.color_setup(clip, dict(clip.get_frame(n).props), None, None)
    rgb = formats.to_model(clip, cs)
    a, b = (formats.frame_to_array(rgb.get_frame(k)) for k in (n, n + 1))
    if a.shape[0] == 1:
        a, b = np.repeat(a, 3, 0), np.repeat(b, 3, 0)
    return a, b


def write_sheet(clip: vs.VideoNode, path: str | Path, frame: int = 0, multi: int = 2, tile_width: int = 320,
                engine_kw: dict | None = None, title: str = "") -> np.ndarray:
    """Interpolate between source frames ``frame`` and ``frame + 1`` and save the contact sheet as PNG."""
    import torch

    from ..dev.visualize import Sheet, contact_sheet
    from ..engine import Engine
    from ..errors import AssetError, ModelLoadError
    from ..weights.catalog import MODELS, PRESETS

    if not 0 <= frame < clip.num_frames - 1:
        raise CLIError(f"--frame must be in 0..{clip.num_frames - 2} for this clip, got {frame}")
    if not 2 <= multi <= 16:
        raise CLIError(f"--multi must be in 2..16 for a contact sheet, got {multi}")
    if not 32 <= tile_width <= 4096:
        raise CLIError(f"--tile-width must be in 32..4096, got {tile_width}")
    kw = dict(engine_kw or {})
    if "+" in str(kw.get("model") or "") or kw.get("model") in PRESETS:
        raise CLIError(f"--model {kw['model']!r}: a contact sheet shows one model's flow and mask; give one of "
                       f"{', '.join(MODELS)}")
    try:
        eng = Engine(model=kw.pop("model", None), **kw)
    except (ValueError, ModelLoadError, AssetError, OSError) as e:
        raise CLIError(str(e)) from None
    a, b = _rgb_pair(clip, frame)
    h, w = a.shape[-2:]
    ts = [k / multi for k in range(1, multi)]
    note = ""
    with torch.inference_mode():
        pa, pb = eng.prepare(torch.from_numpy(a)), eng.prepare(torch.from_numpy(b))
        if eng.arch.timestep_input:
            n = len(ts)
            out = eng.net(pa.img.expand(n, -1, -1, -1), pb.img.expand(n, -1, -1, -1),
                          torch.tensor(ts, device=eng.device, dtype=eng.dtype), scale=eng.scale,
                          ensemble=eng.ensemble, f0=pa.feat, f1=pb.feat)
            images = out.image[:, :, :h, :w].float().cpu().numpy()
            flows = out.flow[:, :, :h, :w].float().cpu().numpy()
            masks = out.mask[:, 0, :h, :w].float().cpu().numpy()
        else:  # t = 0.5-only model: frames by bisection, flow and mask of the midpoint pass
            images = eng.interpolate(pa, pb, ts, size=(h, w)).numpy()
            out = eng.net(pa.img, pb.img, 0.5, scale=eng.scale, ensemble=eng.ensemble)
            flows = np.repeat(out.flow[:, :, :h, :w].float().cpu().numpy(), len(ts), 0)
            masks = np.repeat(out.mask[:, 0, :h, :w].float().cpu().numpy(), len(ts), 0)
            if multi > 2:
                note = f"  (model {eng.arch.name} has no timestep input: flow and mask are from the t=0.5 pass)"
    head = title or f"frames {frame} -> {frame + 1}"
    sheet = Sheet(a, b, ts, list(images), list(flows), list(masks),
                  title=f"{head}  |  model {eng.arch.name}, scale {eng.scale:g}, {w}x{h}{note}",
                  label_a=f"source {frame}", label_b=f"source {frame + 1}")
    try:
        return contact_sheet(sheet, path, tile_width=tile_width)
    except OSError as e:
        raise CLIError(f"cannot write {str(path)!r}: {e.strerror or e}") from None


def engine_kwargs(args: argparse.Namespace) -> dict:
    """Engine arguments from the model options."""
    kw = {k: getattr(args, k, None) for k in ("model", "model_path", "scale", "ensemble", "device", "fp16")}
    if kw["scale"] is None:
        kw["scale"] = 1.0
    if kw["fp16"] is None:
        kw["fp16"] = False
    return {k: v for k, v in kw.items() if v is not None}


def check_png_path(path: str) -> None:
    """One-line errors for an output PNG that cannot be written."""
    p = Path(path)
    if p.suffix.lower() != ".png":
        raise CLIError(f"contact sheet {path!r} must be a .png file")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise CLIError(f"cannot write {path!r}: directory {str(parent)!r} does not exist")


def run(args: argparse.Namespace) -> int:
    check_png_path(args.output)
    clip = open_source(args.input)
    title = f"{Path(args.input).name}: frames {args.frame} -> {args.frame + 1}"
    write_sheet(clip, args.output, frame=args.frame, multi=args.multi, tile_width=args.tile_width,
                engine_kw=engine_kwargs(args), title=title)
    print(f"wrote {args.output}")
    return 0
