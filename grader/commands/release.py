"""``grader release DIR``: write what students receive (notebooks, helper package, README)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "release",
        help="write the student release (assignments + installable helper package) to DIR",
        description="Write what students receive into DIR: assignments/*.ipynb, the installable"
        " helper package dl-course-student/ and a README.md (Japanese and English) on installing,"
        " self-checks and submitting. Refuses when assignments/ is out of date (grader build).",
    )
    p.add_argument("dir", type=Path, help="target folder (must be empty or absent)")
    p.add_argument("--force", action="store_true", help="replace DIR if it is not empty")
    p.add_argument(
        "--service-url",
        help="the grading service's URL, written into every notebook (install and submit())",
    )
    p.add_argument(
        "--repo",
        type=Path,
        default=Path("."),
        help="the course checkout (default: the current folder)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from grader.notebooks.build import build_all
    from grader.notebooks.release import STUDENT_DIST, ReleaseError, make_release

    if not (args.repo / "solutions").is_dir():
        print(
            f"grader release: {args.repo.resolve()} is not a course checkout (no solutions/); "
            "run it there or pass --repo",
            file=sys.stderr,
        )
        return 2
    stale = build_all(args.repo / "solutions", args.repo / "assignments", check=True)
    if not stale.clean:
        names = ", ".join(p.name for p in stale.written + stale.orphans)
        print(
            f"grader release: assignments/ is out of date ({names}); run `grader build`",
            file=sys.stderr,
        )
        return 1
    try:
        files = make_release(args.repo, args.dir, force=args.force, service_url=args.service_url)
    except ReleaseError as exc:
        print(f"grader release: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {len(files)} files to {args.dir}")
    print(f"students install the helpers with: pip install {args.dir / STUDENT_DIST}")
    return 0
