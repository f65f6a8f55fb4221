"""Which assignment is this notebook: the one rule (the CLI's guess when ``--assignment`` is
not given, and the engine's "it belongs to X" when a notebook is submitted to the wrong one).

In order: the notebook's own metadata (``dl_course.assignment``), then the file name, then its
graded cells: the one candidate whose items include the most of the notebook's check cells
(none on a tie or when no check cell is an item of any candidate).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from grader.engine.spec import Assignment
from grader.notebooks.metadata import nbgrader

METADATA_KEYS = ("dl_course", "grader")  # notebook metadata that may name the assignment


def identify(nb: Any, candidates: Sequence[Assignment], file_stem: str = "") -> str | None:
    """The id among ``candidates`` that ``nb`` (a parsed notebook, any dict) belongs to."""
    ids = [spec.id for spec in candidates]
    named = _named_in_metadata(nb, ids)
    if named:
        return named
    by_name = [i for i in ids if file_stem and i in file_stem]
    if by_name:
        return max(by_name, key=len)
    return _by_check_cells(nb, candidates)


def _named_in_metadata(nb: Any, ids: list[str]) -> str | None:
    meta = nb.get("metadata") if isinstance(nb, dict) else None
    for key in METADATA_KEYS:
        sub = meta.get(key) if isinstance(meta, dict) else None
        if isinstance(sub, dict) and sub.get("assignment") in ids:
            return sub["assignment"]
    return None


def _by_check_cells(nb: Any, candidates: Sequence[Assignment]) -> str | None:
    cells = nb.get("cells") if isinstance(nb, dict) else None
    checked = {
        meta.get("grade_id")
        for cell in cells or []
        if isinstance(cell, dict) and (meta := nbgrader(cell)) and meta.get("grade")
    }
    overlap = {spec.id: len(checked & {it.id for it in spec.items}) for spec in candidates}
    best = max(overlap.values(), default=0)
    winners = [aid for aid, n in overlap.items() if n == best]
    return winners[0] if best > 0 and len(winners) == 1 else None
