"""``grader build``: student notebooks from solution notebooks, deterministic and checkable."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from grader.notebooks.build import build_all, build_assignment, dumps
from grader.notebooks.metadata import NotebookValidationError, nbgrader

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solutions" / "3-1-2_softmax_with_loss.ipynb"


def _grader(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "grader.cli", *args], cwd=cwd, capture_output=True, text=True
    )


def test_build_stubs_solutions_and_clears_outputs():
    nb = nbformat.read(SOLUTION, as_version=4)
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="hello")]
    nb.cells[1].execution_count = 7
    student = build_assignment(nb)
    text = dumps(student)
    assert "dx = (self.y - self.t) / batch_size" not in text  # the solution does not leak
    assert "### BEGIN SOLUTION" not in text
    assert text.count("raise NotImplementedError()") == 3  # softmax, cross-entropy, backward
    for cell in student.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    # every cell and its nbgrader metadata survive; the source is untouched
    assert [nbgrader(c) for c in student.cells] == [nbgrader(c) for c in nb.cells]
    assert "dx = (self.y - self.t) / batch_size" in nbformat.writes(nb)
    backward = next(c for c in student.cells if "def backward" in c.source).source
    assert "    def backward(self, dout=1):\n        # YOUR CODE HERE\n" in backward


def test_whole_solution_cell_without_markers_is_replaced():
    nb = nbformat.read(SOLUTION, as_version=4)
    cell = next(c for c in nb.cells if (nbgrader(c) or {}).get("grade_id") == "softmax_impl")
    cell.source = "def softmax(x):\n    return x"
    student = build_assignment(nb)
    index = nb.cells.index(cell)
    assert student.cells[index].source == "# YOUR CODE HERE\nraise NotImplementedError()"


def test_invalid_solution_is_refused_with_every_problem_listed():
    nb = nbformat.read(SOLUTION, as_version=4)
    checks = [c for c in nb.cells if (nbgrader(c) or {}).get("grade")]
    checks[0].metadata["nbgrader"]["points"] = 0
    checks[1].metadata["nbgrader"]["grade_id"] = checks[0].metadata["nbgrader"]["grade_id"]
    with pytest.raises(NotebookValidationError) as info:
        build_assignment(nb, where="broken.ipynb")
    message = str(info.value)
    assert "broken.ipynb" in message and "points > 0" in message and "duplicate" in message


def test_build_is_idempotent_and_check_reports_stale_files(tmp_path):
    solutions, assignments = tmp_path / "solutions", tmp_path / "assignments"
    solutions.mkdir()
    shutil.copy(SOLUTION, solutions)
    first = build_all(solutions, assignments)
    assert [p.name for p in first.written] == [SOLUTION.name]
    built = (assignments / SOLUTION.name).read_bytes()
    second = build_all(solutions, assignments)
    assert second.clean and (assignments / SOLUTION.name).read_bytes() == built
    json.loads(built)  # valid JSON

    (assignments / SOLUTION.name).write_text(built.decode().replace("YOUR CODE", "my code"))
    (assignments / "old.ipynb").write_text("{}")
    result = _grader("build", "--check", cwd=tmp_path)
    assert result.returncode == 1
    assert SOLUTION.name in result.stderr and "old.ipynb" in result.stderr
    assert "my code" in (assignments / SOLUTION.name).read_text()  # --check writes nothing

    result = _grader("build", cwd=tmp_path)
    assert result.returncode == 0 and (assignments / SOLUTION.name).read_bytes() == built


def test_committed_assignments_are_up_to_date():
    result = _grader("build", "--check", cwd=ROOT)
    assert result.returncode == 0, result.stderr
