"""``solutions/<id>.ipynb`` -> ``assignments/<id>.ipynb`` (what ``grader build`` does).

The student version keeps every cell and its metadata; solution regions (or whole solution
cells without markers) become ``# YOUR CODE HERE`` + ``raise NotImplementedError()``, hidden
tests disappear, outputs and execution counts are cleared. The JSON is written in one fixed
format so that building twice gives the same bytes.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from grader.notebooks.course_cells import ensure_course_cells
from grader.notebooks.markers import has_markers, student_source, whole_cell_stub
from grader.notebooks.metadata import nbgrader, validate_notebook

# Notebook-level metadata that belongs to one person's Jupyter session, not to the course.
_SESSION_METADATA = ("widgets", "toc", "varInspector", "execution")


def build_assignment(
    solution_nb: Any, where: str = "notebook", assignment_id: str | None = None
) -> nbformat.NotebookNode:
    """The student notebook built from a validated solution notebook (input left unchanged);
    with ``assignment_id`` it also gets (or refreshes) its install and submit cells."""
    validate_notebook(solution_nb, where)
    nb = nbformat.from_dict(copy.deepcopy(dict(solution_nb)))
    if assignment_id:
        ensure_course_cells(nb, assignment_id)
    for key in _SESSION_METADATA:
        nb.metadata.pop(key, None)
    for index, cell in enumerate(nb.cells):
        meta = nbgrader(cell)
        cell_where = f"{where}, cell {index}"
        if meta and meta.get("solution") and not has_markers(cell.source):
            cell.source = whole_cell_stub(cell.cell_type)
        else:
            cell.source = student_source(cell.source, cell_where)
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def dumps(nb: Any) -> str:
    """Deterministic JSON: sorted keys, one-space indent, final newline (as Jupyter writes)."""
    text = nbformat.writes(nb, version=4)
    return text if text.endswith("\n") else text + "\n"


@dataclass
class BuildResult:
    written: list[Path] = field(default_factory=list)  # (re)written or, with check, out of date
    unchanged: list[Path] = field(default_factory=list)
    orphans: list[Path] = field(default_factory=list)  # assignments without a solution source

    @property
    def clean(self) -> bool:
        return not self.written and not self.orphans


def build_all(solutions: Path, assignments: Path, *, check: bool = False) -> BuildResult:
    """Build every ``solutions/*.ipynb`` into ``assignments/``; with ``check`` write nothing.

    Raises ``NotebookValidationError`` (or ``nbformat`` errors) for a broken source notebook.
    """
    solutions, assignments = Path(solutions), Path(assignments)
    if not solutions.is_dir():
        raise FileNotFoundError(f"no solutions folder at {solutions}")
    result = BuildResult()
    sources = sorted(solutions.glob("*.ipynb"))
    for source in sources:
        nb = nbformat.read(source, as_version=4)
        text = dumps(build_assignment(nb, where=str(source), assignment_id=source.stem))
        target = assignments / source.name
        old = target.read_text(encoding="utf-8") if target.exists() else None
        if old == text:
            result.unchanged.append(target)
            continue
        result.written.append(target)
        if not check:
            assignments.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    names = {s.name for s in sources}
    if assignments.is_dir():
        result.orphans = sorted(p for p in assignments.glob("*.ipynb") if p.name not in names)
    return result
