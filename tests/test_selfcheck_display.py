"""A failing ``check(...)`` in Jupyter reads like a report: the printed report, then one line
``CheckFailed: ...``, no traceback into ``grader/student``; and the cell still fails, as an
nbgrader test cell must."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from student_env import cells_until, outputs, run_cells

ROOT = Path(__file__).resolve().parents[1]


def test_failing_check_shows_the_report_and_one_line(tmp_path):
    blank = nbformat.read(ROOT / "assignments" / "3-1-2_softmax_with_loss.ipynb", as_version=4)
    nb = run_cells(cells_until(blank, "softmax"), tmp_path, allow_errors=True)
    cell = nb.cells[-1]
    assert cell.source.startswith('check("softmax")')
    errors = [o for o in cell.outputs if o.output_type == "error"]
    assert len(errors) == 1 and errors[0].ename == "CheckFailed"  # nbgrader: the cell failed
    assert errors[0].traceback == ["CheckFailed: セルフチェック softmax 不合格"]
    shown = outputs(cell)
    assert "[不合格] softmax" in shown and "まだ実装されていません" in shown, shown
    assert "selfcheck.py" not in json.dumps(cell.outputs) and "Traceback" not in shown
