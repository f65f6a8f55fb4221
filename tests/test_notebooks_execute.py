"""Every course notebook runs top to bottom in a fresh kernel.

* solutions/*.ipynb: no error at all, so every self-check passes;
* assignments/*.ipynb: no error before the first NotImplementedError, and no check cell
  ever reports success on the unfilled skeleton.
Each notebook runs in its own temporary folder with the venv's ``python3`` kernel.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from grader.notebooks.metadata import nbgrader

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
ASSIGNMENTS = sorted((ROOT / "assignments").glob("*.ipynb"))
TIMEOUT = 300  # per cell; the MNIST notebooks train for a while


def _execute(path: Path, workdir: Path, allow_errors: bool) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=TIMEOUT,
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(workdir)}},
    )
    client.execute(cwd=str(workdir))
    return nb


def _errors(cell) -> list:
    return [o for o in cell.get("outputs", []) if o.output_type == "error"]


def _is_check(cell) -> bool:
    return bool((nbgrader(cell) or {}).get("grade"))


@pytest.mark.slow
@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_solution_notebook_runs_and_passes_its_checks(path, tmp_path):
    nb = _execute(path, tmp_path, allow_errors=False)  # raises CellExecutionError on failure
    checks = [c for c in nb.cells if _is_check(c)]
    assert checks, "no check cells"
    for cell in checks:
        text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
        assert "[合格]" in text or "[PASS]" in text, (cell.source, text)


@pytest.mark.slow
@pytest.mark.parametrize("path", ASSIGNMENTS, ids=lambda p: p.stem)
def test_assignment_notebook_fails_only_where_code_is_missing(path, tmp_path):
    nb = _execute(path, tmp_path, allow_errors=True)
    # Missing code shows up as NotImplementedError, or as a failed check when the stub is
    # only called inside check() (which reports the NotImplementedError itself).
    expected = {"NotImplementedError", "CheckFailed"}
    first = next(
        (i for i, c in enumerate(nb.cells) for o in _errors(c) if o.ename in expected), None
    )
    assert first is not None, "the skeleton never raises NotImplementedError"
    for index, cell in enumerate(nb.cells[:first]):
        assert not _errors(cell), (index, cell.source[:80], _errors(cell)[0]["evalue"])
    for cell in nb.cells:
        if _is_check(cell):
            # CheckFailed, or NameError when the object to check could not even be built
            names = [o.ename for o in _errors(cell)]
            assert names in (["CheckFailed"], ["NameError"]), (cell.source, names)
            text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
            assert "[合格]" not in text and "[PASS]" not in text, (cell.source, text)
