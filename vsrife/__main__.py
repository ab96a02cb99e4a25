"""``python -m vsrife``: the command line."""

from .cli import main

raise SystemExit(main())
