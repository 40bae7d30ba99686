"""The ``plmscope`` command line. Each subcommand lives in plmscope/commands/ and exposes
``register(subparsers)``; the parser sets ``func`` to the function that runs it."""
from __future__ import annotations

import argparse
import importlib
import sys

# One entry per subcommand module.
COMMAND_MODULES = (
    "plmscope.commands.transform",
    "plmscope.commands.interactions",
    "plmscope.commands.landscape",
    "plmscope.commands.plane",
    "plmscope.commands.demo",
    "plmscope.commands.plan",
    "plmscope.commands.embed",
    "plmscope.commands.isotropy",
    "plmscope.commands.align_corr",
    "plmscope.commands.score",
    "plmscope.commands.compare",
    "plmscope.commands.fit",
)


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="plmscope", description="Explain protein language models: interactions and geometry."
    )
    parser.add_argument("--version", action="version", version=f"plmscope {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ValueError as exc:  # bad input: one clear line, no traceback
        print(f"plmscope {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
