"""The `extreme3d` command line: subcommands registered by the modules that implement them.

Each subcommand module exposes `register(subparsers)` that adds its parser and sets
`func=callable(args) -> int`. User errors (Extreme3DError, FileNotFoundError, ValueError) print
one line and exit 1; `--debug` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback

from extreme3d import Extreme3DError

#: Modules that contribute subcommands (each has `register(subparsers)`).
SUBCOMMAND_MODULES: list[str] = [
    "extreme3d.prepare_images",
    "extreme3d.prepare.cli",
    "extreme3d.testBatchModel",
    "extreme3d.testPaperResults",
    "extreme3d.demo",
    "extreme3d.bump_photo",
]


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="extreme3d", description="Extreme 3D face reconstruction from a single photo."
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def run_guarded(func, args: argparse.Namespace, debug: bool) -> int:
    """Runs a subcommand, turning user errors into one stderr line and exit code 1."""
    try:
        return int(func(args) or 0)
    except (Extreme3DError, FileNotFoundError, ValueError, OSError) as exc:
        if debug:
            traceback.print_exc()
        print(f"extreme3d: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("extreme3d: interrupted", file=sys.stderr)
        return 130


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `extreme3d` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    return run_guarded(args.func, args, args.debug)
