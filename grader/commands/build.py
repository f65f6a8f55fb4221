"""``grader build [--check]``: generate ``assignments/`` from ``solutions/``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "build",
        help="generate the student notebooks (assignments/) from solutions/",
        description="Write assignments/<id>.ipynb for every solutions/<id>.ipynb: solution "
        "regions become `raise NotImplementedError()`, outputs are cleared.",
    )
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 if out of date")
    p.add_argument("--solutions", type=Path, default=Path("solutions"), help="source folder")
    p.add_argument("--assignments", type=Path, default=Path("assignments"), help="target folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from grader.notebooks.build import build_all
    from grader.notebooks.markers import MarkerError
    from grader.notebooks.metadata import NotebookValidationError

    try:
        result = build_all(args.solutions, args.assignments, check=args.check)
    except (NotebookValidationError, MarkerError, FileNotFoundError) as exc:
        print(f"grader build: {exc}", file=sys.stderr)
        return 2
    stale = _selfchecks(check=args.check)
    if stale is None:
        return 2
    for path in result.orphans:
        print(f"warning: {path} has no source in {args.solutions}", file=sys.stderr)
    if args.check:
        for path in result.written + stale:
            print(f"out of date: {path}", file=sys.stderr)
        if not result.clean or stale:
            print("run `grader build` and commit what it writes", file=sys.stderr)
            return 1
        print(f"assignments up to date ({len(result.unchanged)} notebooks)")
        return 0
    for path in result.written + stale:
        print(f"wrote {path}")
    print(f"{len(result.written)} written, {len(result.unchanged)} unchanged")
    return 0


def _selfchecks(*, check: bool) -> list[Path] | None:
    """The declared items' self-check data (``grader/specs/_selfcheck_data.py``): the files
    written (or out of date, with ``check``); None after printing why a spec cannot load."""
    import grader.student.checks.declared as folder
    from grader.specs import SpecLoadError, all_assignments
    from grader.specs._selfcheck_data import declared_items, write_selfchecks

    try:
        items = declared_items(all_assignments())
    except SpecLoadError as exc:
        print(f"grader build: {exc}", file=sys.stderr)
        return None
    return write_selfchecks(Path(folder.__file__).parent, items, check=check)
