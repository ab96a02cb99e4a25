"""``vsrife`` command line: one module per subcommand, each with ``register(subparsers)``.

A subcommand module defines ``register(sub: argparse._SubParsersAction) -> None`` which adds its
parser and sets ``func=run`` (``run(args) -> int``).  Errors meant for the user are raised as
:class:`CLIError` and printed as one line.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ..errors import CLIError

__all__ = ["CLIError", "main"]

SUBCOMMANDS = ("interpolate", "info", "show", "models", "eval", "bench", "train")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vsrife",
        description="RIFE frame interpolation for VapourSynth, from the command line.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  vsrife models fetch 4.25\n  vsrife interpolate in.mkv out.mkv --multi 2\n"
               "  vsrife info in.mkv --fps 60000/1001\n\nRun 'vsrife COMMAND --help' for each command.",
    )
    from ..install import DIST, __version__

    parser.add_argument("--version", action="version", version=f"vsrife {__version__} (distribution {DIST})")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            mod = importlib.import_module(f"vsrife.cli.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"vsrife.cli.{name}":
                raise
            continue
        mod.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except CLIError as e:
        print(f"vsrife {args.command}: error: {e}", file=sys.stderr)
        return e.code
    except KeyboardInterrupt:
        print(f"vsrife {args.command}: interrupted", file=sys.stderr)
        return 130
