"""The outcome of the students' self-check cells (``check("item")``) in a graded run that kept
them (``grade_notebook(..., run_self_checks=True)``, what ``grader validate`` asks for).

Read from the executed notebook the jail's readers returned: a check cell passed when it ran
(it has an execution count) and left no error output (``check`` raises ``CheckFailed`` when it
does not pass). Advisory data for the instructor's tools, never part of a score.
"""

from __future__ import annotations

import json

from grader.engine.restore import is_check_cell
from grader.engine.upload import nbgrader_meta


def self_check_outcomes(executed_notebook: str | None) -> dict[str, bool]:
    """item id -> passed, for every check cell of the executed notebook (none: it is absent)."""
    if not executed_notebook:
        return {}
    cells = json.loads(executed_notebook).get("cells", [])
    outcomes = {}
    for cell in cells:
        meta = nbgrader_meta(cell)
        if cell.get("cell_type") == "code" and is_check_cell(meta):
            ran = cell.get("execution_count") is not None
            failed = any(o.get("output_type") == "error" for o in cell.get("outputs", []))
            outcomes[meta["grade_id"]] = ran and not failed
    return outcomes
