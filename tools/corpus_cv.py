"""Choose the defaults and the "best" fusion on the public corpus by leave-one-clip-out cross-validation.

Steps (each reuses what the previous runs left in the cache, so reruns are cheap):

  python tools/corpus_cv.py sweep     # every single setting and baseline on every corpus clip (slow, once)
  python tools/corpus_cv.py fusions   # the fusions through the filter (model="a+b")
  python tools/corpus_cv.py speed     # time per 720p frame of every setting, interleaved, best of 3
  python tools/corpus_cv.py report    # the tables (docs/img/corpus_*.md/json), the plot and the strips

The cache of rebuilt frames is ``--cache`` (default ``$VSRIFE_MODEL_DIR/quality`` or ``~/.cache/vsrife/quality``).
Needs the corpus: ``vsrife models fetch corpus``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vsrife.dev import corpus_eval as ce
from vsrife.dev import evaluate as ev
from vsrife.weights.cache import cache_dir

ROOT = Path(__file__).resolve().parents[1]
IMG = ROOT / "docs" / "img"

# label -> filter keyword arguments (the label is the cache key)
SINGLE: dict[str, dict] = {
    "4.25": {"model": "4.25", "ensemble": False},
    "4.25 ens": {"model": "4.25", "ensemble": True},
    "4.0": {"model": "4.0", "ensemble": False},
    "4.25 ens scale0.5": {"model": "4.25", "ensemble": True, "scale": 0.5},
    "hd ens": {"model": "hd", "ensemble": True},
    "4.0 ens": {"model": "4.0", "ensemble": True},
    "hd": {"model": "hd", "ensemble": False},
    "3.1": {"model": "3.1"},
    "4.25 ens scale2": {"model": "4.25", "ensemble": True, "scale": 2.0},
}
BASELINES = ("blend", "mvtools", "minterpolate")


def methods(labels: dict[str, dict]) -> list[ev.Method]:
    return [ev.RifeMethod(kw, label) for label, kw in labels.items()]


def sweep(args: argparse.Namespace) -> None:
    samples = ce.load_samples(log=print)
    print(f"{len(samples)} samples", flush=True)
    todo: list[ev.Method] = [ev.BASELINES[b]() for b in BASELINES] + methods(SINGLE)
    ce.evaluate_corpus(samples, todo, cache=args.cache, log=lambda s: print(s, flush=True))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("step", choices=("sweep",))
    p.add_argument("--cache", type=Path, default=cache_dir() / "quality")
    args = p.parse_args()
    {"sweep": sweep}[args.step](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
