"""``grader build [--check]``: generate ``assignments/`` from ``solutions/``.

Points have one home, the spec's ``Item.points``: ``grader build`` writes them into the check
cells' ``nbgrader.points`` of the solution notebooks (and so of the assignments built from
them); ``--check`` writes nothing and names every disagreement (notebook, cell, both values),
exit 1.
"""

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
    from grader.specs import SpecLoadError

    try:  # the spec is the points' one home: the notebooks get a copy (nbgrader reads it)
        stamped = [] if args.check else stamp_points(args.solutions)
    except SpecLoadError as exc:
        print(f"grader build: {exc}", file=sys.stderr)
        return 4
    for path in stamped:
        print(f"wrote {path} (points from the spec)")
    try:
        result = build_all(args.solutions, args.assignments, check=args.check)
    except (NotebookValidationError, MarkerError, FileNotFoundError) as exc:
        print(f"grader build: {exc}", file=sys.stderr)
        return 2
    try:
        disagreements = points_disagreements([args.solutions, args.assignments])
        stale = _selfchecks(check=args.check)
    except SpecLoadError as exc:
        print(f"grader build: {exc}", file=sys.stderr)
        return 4
    for line in disagreements:
        print(f"grader build: {line}", file=sys.stderr)
    if disagreements:
        return 1
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


def _wrong_points(folders: list[Path]):
    """``(path, notebook, cell number, cell, item id, the spec's points)`` for every check cell
    whose ``nbgrader.points`` is not its spec item's points (the one rule both uses share)."""
    import nbformat

    from grader.notebooks.metadata import nbgrader
    from grader.specs import all_assignments

    for spec in all_assignments():
        points = {item.id: float(item.points) for item in spec.items}
        for path in (folder / f"{spec.id}.ipynb" for folder in folders):
            if not path.is_file():
                continue
            nb = nbformat.read(path, as_version=4)
            for n, cell in enumerate(nb.cells, 1):
                meta = nbgrader(cell) or {}
                item = meta.get("grade_id")
                if meta.get("grade") and item in points and meta.get("points") != points[item]:
                    yield path, nb, n, cell, item, points[item]


def stamp_points(solutions: Path) -> list[Path]:
    """Write each spec item's points into its check cell's ``nbgrader.points`` in the solution
    notebook; the notebooks changed."""
    import nbformat

    changed = {}
    for path, nb, _, cell, _, points in _wrong_points([solutions]):
        cell.metadata["nbgrader"]["points"] = int(points) if points.is_integer() else points
        changed[path] = nb
    for path, nb in changed.items():
        nbformat.write(nb, path)
    return list(changed)


def points_disagreements(folders: list[Path]) -> list[str]:
    """One line per check cell whose ``nbgrader.points`` is not its spec item's points."""
    return [
        f"{path}: cell {n} ({item}): nbgrader.points is {cell.metadata['nbgrader'].get('points')}, "
        f"the spec's Item.points is {points:g}"
        for path, _, n, cell, item, points in _wrong_points(folders)
    ]


def _selfchecks(*, check: bool) -> list[Path]:
    """The declared items' self-check data (``grader/specs/_selfcheck_data.py``): the files
    written (or out of date, with ``check``). A spec that cannot load raises SpecLoadError."""
    import grader.student.checks.declared as folder
    from grader.specs import all_assignments
    from grader.specs._selfcheck_data import declared_items, write_selfchecks

    items = declared_items(all_assignments())
    return write_selfchecks(Path(folder.__file__).parent, items, check=check)
