"""`ego360` entry point.

Subcommands live in `tools/commands/<name>.py`, each exposing `register(subparsers)` which adds
its parser and sets `func(args) -> int`. Discovery keeps this file free of per-command edits and
keeps `ego360 --help` light: heavy imports happen inside each command's `func`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

import ego360.tools.commands
from ego360 import __version__
from ego360.core.errors import UserError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ego360",
        description="Real-time 360° anomaly alerts for a visually impaired wearer (VIEW360+ runtime).",
    )
    parser.add_argument("--version", action="version", version=f"ego360 {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(ego360.tools.commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"ego360.tools.commands.{info.name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"ego360: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("ego360: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
