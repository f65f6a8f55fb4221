"""Faults of the course's own definitions are loud (issue 11, "Loud failures").

Each fault is made on purpose in a temporary copy of the course (``grader/``, ``reference/``,
the notebooks), which the commands run from as subprocesses (``PYTHONPATH`` puts the copy
first): a spec module that raises at import, a misspelt hint id, an item that raises while
scoring, a notebook without a spec and a spec without a notebook, points that disagree. Each
ends with a non-zero exit and one line naming the file and line, never a traceback.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from grader import jail

REPO = Path(__file__).resolve().parents[1]
AFFINE = "3-1-1_affine_layer"
SOFTMAX = "3-1-2_softmax_with_loss"
needs_bwrap = pytest.mark.skipif(not jail.bwrap_usable()[0], reason="bubblewrap cannot run here")


@pytest.fixture
def course(tmp_path) -> Path:
    """A copy of the course reduced to two assignments (3-1-1 and 3-1-2), so that every
    command here runs in seconds."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("grader", "reference", "solutions", "assignments"):
        shutil.copytree(REPO / folder, tmp_path / folder, ignore=ignore)
    keep = {"affine_layer.py", "softmax_with_loss.py"}
    for spec in (tmp_path / "grader" / "specs").glob("[!_]*.py"):
        if spec.name not in keep:
            spec.unlink()
    for folder in ("solutions", "assignments"):
        for nb in (tmp_path / folder).glob("*.ipynb"):
            if nb.stem not in (AFFINE, SOFTMAX):
                nb.unlink()
    return tmp_path


def grader(course: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(course)}
    env.pop("GRADER_ASSIGNMENTS_DIR", None)  # the copy's own assignments/
    return subprocess.run(
        [sys.executable, "-m", "grader.cli", *args],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def line_of(path: Path, text: str) -> int:
    """The 1-based number of the first line of ``path`` containing ``text``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, 1) if text in line)


def edit(path: Path, old: str, new: str) -> None:
    source = path.read_text(encoding="utf-8")
    assert source.count(old) == 1, old
    path.write_text(source.replace(old, new), encoding="utf-8")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


COMMANDS = {
    "serve": lambda home: ["serve", "--home", str(home), "--port", str(free_port())],
    "grade": lambda home: ["grade", f"solutions/{AFFINE}.ipynb", "--out", str(home)],
    "validate": lambda home: ["validate", AFFINE],
}


def assert_one_line_naming(proc: subprocess.CompletedProcess, where: str, *words: str) -> None:
    assert proc.returncode == 4, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    named = [line for line in proc.stderr.splitlines() if where in line]
    assert len(named) == 1, proc.stderr
    for word in words:
        assert word in named[0], named[0]


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_spec_that_raises_at_import_stops_the_command_with_its_file_and_line(
    course, tmp_path, command
):
    broken = course / "grader" / "specs" / "broken_layer.py"
    broken.write_text('"""A spec under construction."""\n\nraise RuntimeError("half written")\n')
    proc = grader(course, *COMMANDS[command](tmp_path / "home"))
    assert_one_line_naming(proc, f"{broken}:3", "broken_layer", "RuntimeError: half written")
    assert not (tmp_path / "home").exists()  # stopped before any state or output


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_misspelt_hint_id_stops_the_command_at_the_line_that_declares_it(
    course, tmp_path, command
):
    spec = course / "grader" / "specs" / "affine_layer.py"
    edit(spec, 'mistake("bias_grad_not_summed"', 'mistake("bias_grad_not_sumed"')
    proc = grader(course, *COMMANDS[command](tmp_path / "home"))
    where = f"{spec}:{line_of(spec, 'bias_grad_not_sumed')}"
    assert_one_line_naming(proc, where, "'bias_grad_not_sumed'", "affine_backward")


def raise_in_score_forward(course: Path) -> str:
    """Make affine_forward's expected value raise while scoring; ``file:line`` of the raise."""
    spec = course / "grader" / "specs" / "affine_layer.py"
    edit(spec, 'expect={"y": forward},', 'expect={"y": broken_forward},')
    edit(
        spec,
        "ASSIGNMENT = Assignment(\n",
        "def broken_forward(x, W, b):\n"
        '    raise KeyError("no_such_input")\n\n\nASSIGNMENT = Assignment(\n',
    )
    return f"{spec}:{line_of(spec, 'no_such_input')}"


@pytest.mark.sandbox
@needs_bwrap
def test_an_item_that_raises_while_scoring_fails_grade_and_tells_the_student_it_is_not_theirs(
    course, tmp_path
):
    where = raise_in_score_forward(course)
    out = tmp_path / "out"
    proc = grader(course, "grade", f"solutions/{AFFINE}.ipynb", "--out", str(out))
    assert_one_line_naming(proc, where, "affine_forward", "KeyError")
    result = json.loads((out / f"{AFFINE}.result.json").read_text())
    items = {item["id"]: item for item in result["items"]}
    assert items["affine_forward"]["scoring_error"].startswith(where)
    assert items["affine_forward"]["points"] == 0
    assert "not a problem of your code" in items["affine_forward"]["message"]["en"]
    assert items["affine_backward"]["passed"] and items["affine_backward"]["scoring_error"] is None
    html = (out / f"{AFFINE}.feedback.html").read_text()
    assert "The grader itself failed on these items" in html and "affine_forward" in html


@pytest.mark.sandbox
@needs_bwrap
def test_an_item_that_raises_while_scoring_fails_validate_with_the_spec_line(course):
    where = raise_in_score_forward(course)
    proc = grader(course, "validate", AFFINE)
    assert proc.returncode == 4, (proc.stdout, proc.stderr)
    faults = [line for line in proc.stderr.splitlines() if "internal scoring error" in line]
    # the solution's run only: in the blank one the probe stops at NotImplementedError
    assert len(faults) == 1, proc.stderr
    assert (
        f"solutions/{AFFINE}.ipynb: affine_forward: {where}: KeyError: 'no_such_input'"
        in (faults[0])
    )


@pytest.mark.sandbox
@needs_bwrap
def test_validate_fails_on_a_notebook_without_a_spec_and_a_spec_without_a_notebook(course):
    shutil.copy(course / "solutions" / f"{AFFINE}.ipynb", course / "solutions" / "9-9_new.ipynb")
    (course / "solutions" / f"{SOFTMAX}.ipynb").unlink()
    proc = grader(course, "validate")
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "FAIL solutions/9-9_new.ipynb: no spec in grader/specs/ has the id '9-9_new'" in (
        proc.stdout
    )
    assert f"FAIL spec '{SOFTMAX}' (grader/specs/): no notebook solutions/{SOFTMAX}.ipynb" in (
        proc.stdout
    )
    assert f"ok   solutions/{AFFINE}.ipynb" in proc.stdout  # the rest is still checked
    assert "2/4 notebooks as expected" in proc.stdout


@pytest.mark.sandbox
@needs_bwrap
def test_validate_runs_the_self_checks_and_fails_a_solution_whose_self_check_fails(course):
    """The 3-1-1 solution with a self-check that cannot pass (its layer is swapped for one
    that doubles the output after the graded cells): graded full marks, self-check failed."""
    path = course / "solutions" / f"{AFFINE}.ipynb"
    nb = json.loads(path.read_text())
    check = next(
        i for i, c in enumerate(nb["cells"]) if "".join(c["source"]) == 'check("affine_forward")'
    )
    sabotage = (
        "_Affine = Affine\n"
        "class Affine(_Affine):\n"
        "    def forward(self, x):\n"
        "        return 2 * super().forward(x)\n"
    )
    cell = {
        "cell_type": "code",
        "metadata": {},
        "source": sabotage,
        "outputs": [],
        "execution_count": None,
    }
    restore = dict(cell, source="Affine = _Affine\n")
    nb["cells"][check : check + 1] = [cell, nb["cells"][check], restore]
    path.write_text(json.dumps(nb))
    proc = grader(course, "validate", AFFINE)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    lines = proc.stdout.splitlines()
    row = next(i for i, line in enumerate(lines) if f"solutions/{AFFINE}.ipynb" in line)
    assert lines[row].startswith("FAIL") and "3/3, self-checks 1/2 passed" in lines[row]
    assert "self-check affine_forward failed" in lines[row + 1]
    assert any(line.startswith("ok   assignments/") and "self-checks 0/2" in line for line in lines)


def test_build_check_fails_when_the_points_of_a_notebook_and_its_spec_disagree(course):
    path = course / "solutions" / f"{AFFINE}.ipynb"
    nb = json.loads(path.read_text())
    cell = next(
        n
        for n, c in enumerate(nb["cells"], 1)
        if c["metadata"].get("nbgrader", {}).get("grade_id") == "affine_backward"
    )
    nb["cells"][cell - 1]["metadata"]["nbgrader"]["points"] = 5
    path.write_text(json.dumps(nb))
    proc = grader(course, "build", "--check")
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    expected = (
        f"solutions/{AFFINE}.ipynb: cell {cell} (affine_backward): nbgrader.points is 5, "
        "the spec's Item.points is 2"
    )
    assert expected in proc.stderr, proc.stderr
    assert re.search(rf"assignments/{AFFINE}\.ipynb", proc.stderr) is None  # that one agrees


def test_build_writes_the_specs_points_into_the_notebooks(course):
    """Points have one home: changed in the spec only, `grader build` puts them into the check
    cells of the solution and of the assignment built from it, and `--check` is then clean."""
    spec = course / "grader" / "specs" / "affine_layer.py"
    source = spec.read_text(encoding="utf-8")
    assert source.count("points=2,") == 1  # affine_backward's
    spec.write_text(source.replace("points=2,", "points=4,"), encoding="utf-8")
    assert grader(course, "build", "--check").returncode == 1  # the notebooks still say 2
    built = grader(course, "build")
    assert built.returncode == 0, (built.stdout, built.stderr)
    assert f"solutions/{AFFINE}.ipynb (points from the spec)" in built.stdout
    for folder in ("solutions", "assignments"):
        nb = json.loads((course / folder / f"{AFFINE}.ipynb").read_text())
        points = {
            m["grade_id"]: m["points"]
            for c in nb["cells"]
            if (m := c["metadata"].get("nbgrader", {})).get("grade")
        }
        assert points == {"affine_forward": 1, "affine_backward": 4}, (folder, points)
    again = grader(course, "build", "--check")
    assert again.returncode == 0, (again.stdout, again.stderr)
