"""``grader author check <id> --seeds N``: does each declared item's tolerance let correct code
pass and every declared mistake fail, over N seeds? (``grader/specs/_authorcheck.py``)"""

from __future__ import annotations

import argparse
import sys

from grader.commands import argtypes


def register(subparsers) -> None:
    p = subparsers.add_parser("author", help="tools for writing exercises")
    sub = p.add_subparsers(dest="author_command", metavar="ACTION", required=True)
    c = sub.add_parser(
        "check",
        help="measure declared items' tolerances and mistakes over many seeds",
        description="Run the declared solution and every declared mistake of each item of "
        "assignment ID over N seeds; report the worst and 99.99th-percentile error of correct "
        "code against the tolerance, each mistake's smallest distance from correct and the "
        "seeds where it is not detectable, and a verdict per item (too tight / mistake not "
        "separable / fine). Exit 0 only when every declared item is fine.",
    )
    c.add_argument("assignment_id", metavar="ID")
    c.add_argument("--seeds", type=argtypes.positive_int, default=1000, help="seeds 0..N-1 (1000)")
    c.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from grader.specs import SpecLoadError, get_assignment
    from grader.specs._authorcheck import FINE, check_item, render
    from grader.specs._declare import DeclaredItem

    try:
        assignment = get_assignment(args.assignment_id)
    except KeyError as exc:
        print(f"grader author check: 課題 {args.assignment_id!r} がありません。", file=sys.stderr)
        print(f"grader author check: {exc.args[0]}", file=sys.stderr)
        return 2
    except SpecLoadError as exc:
        print(f"grader author check: spec を読み込めません / {exc}", file=sys.stderr)
        return 2
    if not any(isinstance(it, DeclaredItem) for it in assignment.items):
        print(
            f"grader author check: {assignment.id} に宣言された項目がありません。\n"
            f"grader author check: {assignment.id} has no declared item to check.",
            file=sys.stderr,
        )
        return 2
    verdicts = []
    for item in assignment.items:
        if not isinstance(item, DeclaredItem):
            print(f"{item.id}: custom item (not declared), not checked")
            continue

        def progress(k: int, item_id: str = item.id) -> None:
            if k % max(1, args.seeds // 20) == 0 or k == args.seeds:  # about 20 updates
                print(f"\r{item_id}: {k}/{args.seeds} seeds", end="", file=sys.stderr, flush=True)

        report = check_item(item, args.seeds, progress)
        print(file=sys.stderr)
        print(render(report, args.seeds))
        verdicts.append(report.verdict)
    return 0 if all(v == FINE for v in verdicts) else 1
