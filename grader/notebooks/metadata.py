"""nbgrader cell metadata (schema 3) and the rules every course notebook obeys.

Cell kinds (``docs/ARCHITECTURE.md``):

* solution cell: ``solution: true, grade: false, locked: false``, ``grade_id`` ends in ``_impl``;
* graded check cell: ``grade: true, locked: true, solution: false, points > 0``, ``grade_id`` is
  the item id and the source is exactly ``check("<item id>")`` (optionally with keyword
  arguments that name objects, e.g. ``check("x", network=network)``);
* locked set-up cell: ``locked: true, grade: false, solution: false``, ``grade_id`` ends in
  ``_setup``;
* anything else carries no ``nbgrader`` metadata. Ordinary code cells and locked set-up cells
  may carry the tag ``grader_ignore`` (not run when grading, see ``grader.notebooks.ignore``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from grader.notebooks.ignore import ignore_problems
from grader.notebooks.markers import BEGIN_HIDDEN, MarkerError, find_regions

SCHEMA_VERSION = 3
_KEYS = {"grade", "grade_id", "locked", "points", "schema_version", "solution", "task"}
_GRADE_ID = re.compile(r"^[A-Za-z0-9_\-]+$")
_KWARG = r"\s*[A-Za-z_]\w*\s*=\s*[A-Za-z_][\w.]*\s*"


class NotebookValidationError(ValueError):
    """One or more problems in a notebook's markers or metadata (all listed in the message)."""

    def __init__(self, where: str, problems: list[str]):
        self.where = where
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{where}: {len(problems)} problem(s)\n{lines}")


def _meta(solution: bool, grade: bool, locked: bool, grade_id: str, points: float) -> dict:
    return {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "points": float(points),
        "schema_version": SCHEMA_VERSION,
        "solution": solution,
        "task": False,
    }


def solution_meta(grade_id: str) -> dict:
    """Metadata of a solution cell (``grade_id`` must end in ``_impl``)."""
    return _meta(True, False, False, grade_id, 0)


def check_meta(item_id: str, points: float) -> dict:
    """Metadata of a graded, locked ``check("<item_id>")`` cell."""
    return _meta(False, True, True, item_id, points)


def setup_meta(grade_id: str) -> dict:
    """Metadata of a locked set-up cell (``grade_id`` must end in ``_setup``)."""
    return _meta(False, False, True, grade_id, 0)


def nbgrader(cell: Any) -> dict | None:
    """The cell's ``nbgrader`` metadata dict, or ``None`` for an ordinary cell (the one reader
    of ``cell.metadata.nbgrader``; a value that is not a dict counts as none)."""
    meta = (cell.get("metadata") or {}).get("nbgrader")
    return meta if isinstance(meta, dict) else None


def cell_kind(cell: Any) -> str:
    """``"solution"``, ``"check"``, ``"setup"`` or ``"plain"`` (metadata assumed valid)."""
    meta = nbgrader(cell)
    if not meta:
        return "plain"
    if meta.get("solution"):
        return "solution"
    if meta.get("grade"):
        return "check"
    if meta.get("locked"):
        return "setup"
    return "plain"


def check_source_pattern(item_id: str) -> re.Pattern[str]:
    """The only source a check cell for ``item_id`` may have."""
    return re.compile(rf'^check\(\s*"{re.escape(item_id)}"\s*(,{_KWARG})*,?\s*\)\s*$')


def graded_items(nb: Any) -> list[tuple[str, float]]:
    """``[(item id, points), ...]`` of the notebook's check cells, in order."""
    out = []
    for cell in nb.cells:
        meta = nbgrader(cell)
        if meta and meta.get("grade"):
            out.append((meta["grade_id"], float(meta["points"])))
    return out


def _cell_problems(index: int, cell: Any) -> Iterable[str]:
    where = f"cell {index}"
    source = cell.get("source", "")
    try:
        regions = find_regions(source, where)
    except MarkerError as exc:
        yield str(exc)
        regions = []
    meta = nbgrader(cell)
    has_solution_region = any(r.kind == "solution" for r in regions)
    has_hidden_region = any(r.kind == "hidden" for r in regions)
    if meta is None:
        if has_solution_region:
            yield f"{where}: solution region in a cell without nbgrader metadata (solution: true)"
        if has_hidden_region:
            yield f"{where}: {BEGIN_HIDDEN!r} region in a cell that is not a graded cell"
        return

    missing = _KEYS - set(meta)
    extra = set(meta) - _KEYS
    if missing:
        yield f"{where}: nbgrader metadata lacks {sorted(missing)}"
    if extra:
        yield f"{where}: unknown nbgrader metadata keys {sorted(extra)}"
    if missing:
        return
    if meta["schema_version"] != SCHEMA_VERSION:
        yield f"{where}: schema_version is {meta['schema_version']!r}, expected {SCHEMA_VERSION}"
    for key in ("grade", "locked", "solution", "task"):
        if not isinstance(meta[key], bool):
            yield f"{where}: nbgrader.{key} must be true or false, not {meta[key]!r}"
    if meta["task"]:
        yield f"{where}: task cells are not used in this course"
    grade_id = meta["grade_id"]
    if not isinstance(grade_id, str) or not _GRADE_ID.match(grade_id):
        yield f"{where}: grade_id {grade_id!r} must be letters, digits, '_' or '-'"
        return
    where = f"{where} ({grade_id})"
    points = meta["points"]
    if not isinstance(points, int | float) or isinstance(points, bool) or points < 0:
        yield f"{where}: points must be a non-negative number, not {points!r}"
        points = 0

    if meta["solution"]:
        if meta["locked"]:
            yield f"{where}: a solution cell cannot be locked"
        if meta["grade"]:
            yield f"{where}: a solution cell cannot also be graded (use a separate check cell)"
        if not grade_id.endswith("_impl"):
            yield f"{where}: a solution cell's grade_id must end in '_impl'"
        if has_hidden_region:
            yield f"{where}: hidden tests belong in a graded check cell, not a solution cell"
        return

    if has_solution_region:
        kind = "locked" if meta["locked"] else "non-solution"
        yield f"{where}: solution region in a {kind} cell (set solution: true or remove markers)"
    if meta["grade"]:
        if cell.get("cell_type") != "code":
            yield f"{where}: a graded cell must be a code cell"
        if not meta["locked"]:
            yield f"{where}: a graded check cell must be locked"
        if not points > 0:
            yield f"{where}: a graded cell needs points > 0"
        visible = "\n".join(
            line
            for number, line in enumerate(source.splitlines())
            if not any(r.begin <= number <= r.end for r in regions)
        ).strip()
        if not check_source_pattern(grade_id).match(visible):
            yield (
                f'{where}: a check cell\'s source must be check("{grade_id}") '
                f"(optionally with name=name keywords), found {visible[:80]!r}"
            )
    elif meta["locked"]:
        if not grade_id.endswith("_setup"):
            yield f"{where}: a locked set-up cell's grade_id must end in '_setup'"
        if points:
            yield f"{where}: a set-up cell carries no points"
    else:
        yield f"{where}: nbgrader metadata that is neither solution, graded nor locked"


def notebook_problems(nb: Any) -> list[str]:
    """Every problem of the notebook's markers and metadata (empty when it is well formed)."""
    problems: list[str] = []
    seen: dict[str, int] = {}
    for index, cell in enumerate(nb.cells):
        problems.extend(_cell_problems(index, cell))
        meta = nbgrader(cell)
        grade_id = meta.get("grade_id") if meta else None
        if isinstance(grade_id, str):
            if grade_id in seen:
                problems.append(
                    f"cell {index}: duplicate grade_id {grade_id!r} (also cell {seen[grade_id]})"
                )
            else:
                seen[grade_id] = index
    if not any((nbgrader(c) or {}).get("grade") is True for c in nb.cells):
        problems.append("the notebook has no graded check cell")
    problems.extend(ignore_problems(nb))
    return problems


def validate_notebook(nb: Any, where: str = "notebook") -> None:
    """Raise ``NotebookValidationError`` listing every problem, or return silently."""
    problems = notebook_problems(nb)
    if problems:
        raise NotebookValidationError(where, problems)
