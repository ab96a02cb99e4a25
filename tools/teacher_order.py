"""Find the teacher block's input channel order empirically: the right order lets the pretrained teacher
(which sees the ground truth) beat the student.  Usage: python tools/teacher_order.py [N_TRIPLETS]"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import torch

from vsrife.train.teacher import TEACHER_ORDERS, order_key, teacher_forward
from vsrife.weights import fetch, load_model


def frames(n: int) -> torch.Tensor:
    path = fetch("footage", log=lambda s: None) / "bigbuckbunny.mp4"
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-vf", "scale=640:360,crop=384:256:128:52",
                          "-frames:v", str(n), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True).stdout
    a = np.frombuffer(raw, np.uint8).reshape(-1, 256, 384, 3)
    return torch.from_numpy(a.copy()).permute(0, 3, 1, 2).float() / 255


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((-10 * torch.log10(((a.clamp(0, 1) - b) ** 2).mean(dim=(1, 2, 3)))).mean())


# Plausible orders of the student's own parts; the ground truth is inserted at every position of each.
BASES = {"encoder": [("w0", "w1", "wf0", "wf1", "t", "mask", "feat"), ("w0", "w1", "t", "mask", "feat", "wf0", "wf1")],
         "v4": [("img0", "img1", "t", "w0", "w1", "mask"), ("img0", "img1", "w0", "w1", "t", "mask"),
                ("w0", "w1", "t", "mask", "img0", "img1")],
         "hd": [("w0", "w1", "mask"), ("w0", "mask", "w1"), ("mask", "w0", "w1")]}


def candidates(key: str) -> list[tuple[str, ...]]:
    out = []
    for base in BASES[key]:
        for i in range(len(base) + 1):
            out.append((*base[:i], "gt", *base[i:]))
    return out


def main() -> None:
    torch.set_num_threads(1)
    v = frames(60)
    idx = list(range(10, 58, 12))
    img0, gt, img1 = v[[i for i in idx]], v[[i + 1 for i in idx]], v[[i + 2 for i in idx]]
    for name in ("4.25", "4.0", "hd"):
        net, _ = load_model(name, teacher=True)
        with torch.no_grad():
            out = net(img0, img1, 0.5)
            print(f"{name}: student {psnr(out.image, gt):.2f} dB, {len(idx)} triplets 384x256")
            key = order_key(net)
            res = []
            for order in candidates(key):
                for acc in (False, True):
                    t = teacher_forward(net, img0, img1, gt, out, 0.5, order=order, accumulate=acc)
                    res.append((psnr(t.merged, gt), order, acc))
            res.sort(reverse=True)
            for p, order, acc in res[:4]:
                print(f"  teacher {p:.2f} dB  order={','.join(order)} mask={'add' if acc else 'replace'}")
            print(f"  (worst {res[-1][0]:.2f} dB; configured {TEACHER_ORDERS[key]})")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
