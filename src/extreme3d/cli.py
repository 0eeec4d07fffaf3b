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
from collections.abc import Callable, Sequence

from extreme3d import Extreme3DError

#: Modules that contribute subcommands (each has `register(subparsers)`).
SUBCOMMAND_MODULES: list[str] = [
    "extreme3d.prepare_images",
    "extreme3d.prepare.cli",
    "extreme3d.testBatchModel",
    "extreme3d.testPaperResults",
    "extreme3d.demo",
    "extreme3d.bump_photo_cli",
    "extreme3d.occlusion.cli",
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


def output_keys_type(
    all_keys: Sequence[str], default_keys: Sequence[str]
) -> Callable[[str], tuple[str, ...]]:
    """An argparse `type` for --outputs: comma-separated keys of all_keys, 'default' or 'all'."""

    def parse(text: str) -> tuple[str, ...]:
        """The chosen keys, or ArgumentTypeError naming the first unknown one."""
        if text.strip() == "all":
            return tuple(all_keys)
        if text.strip() == "default":
            return tuple(default_keys)
        keys = tuple(k.strip() for k in text.split(",") if k.strip())
        bad = [k for k in keys if k not in all_keys]
        if bad or not keys:
            raise argparse.ArgumentTypeError(
                f"unknown output {bad[0] if bad else text!r}; choose from {', '.join(all_keys)}, "
                f"'default' or 'all'"
            )
        return keys

    return parse


def run_guarded(
    func: Callable[[argparse.Namespace], int | None], args: argparse.Namespace, debug: bool
) -> int:
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


def run_module(
    prog: str,
    description: str | None,
    add_arguments: Callable[[argparse.ArgumentParser], None],
    func: Callable[[argparse.Namespace], int | None],
    argv: list[str] | None = None,
    usage: str | None = None,
) -> int:
    """`python -m extreme3d.<module>`: parses argv (with --debug) and runs func guarded."""
    parser = argparse.ArgumentParser(prog=prog, usage=usage, description=description)
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run_guarded(func, args, args.debug)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `extreme3d` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    return run_guarded(args.func, args, args.debug)
