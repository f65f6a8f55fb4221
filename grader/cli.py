"""The ``grader`` command line.

Each sub-command lives in its own module that defines ``register(subparsers)``; the module
adds its parser and sets ``func`` (called with the parsed args, returns an exit code).
Heavy imports stay inside the ``func`` bodies so that ``grader --help`` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from grader import __version__

# Order here is the order in ``grader --help``.
COMMAND_MODULES = [
    "grader.commands.data",
    "grader.commands.demo",
    "grader.commands.new",
    "grader.commands.author",
    "grader.commands.build",
    "grader.commands.release",
    "grader.commands.grade",
    "grader.commands.validate",
    "grader.commands.serve",
    "grader.commands.worker",
    "grader.commands.roster",
    "grader.commands.token",
    "grader.commands.settings",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="grader",
        description="深層学習 Part 2: course notebooks, sandboxed grading and the grader service.",
    )
    parser.add_argument("--version", action="version", version=f"grader {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # command not built yet in this checkout
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    from grader.service.cli_common import StoreError

    try:
        return int(args.func(args) or 0)
    except StoreError as exc:  # a bad --db: say so, no traceback
        print(f"grader {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
