"""Markers and nbgrader metadata: parsing, stubbing and validation, on real and broken cells."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from grader.notebooks.markers import MarkerError, find_regions, strip_hidden_tests, student_source
from grader.notebooks.metadata import (
    check_meta,
    graded_items,
    notebook_problems,
    setup_meta,
    solution_meta,
)

ROOT = Path(__file__).resolve().parents[1]


def _cell(source: str, meta: dict | None = None):
    cell = new_code_cell(source)
    if meta is not None:
        cell.metadata["nbgrader"] = meta
    return cell


def _nb(*cells):
    return new_notebook(cells=list(cells))


def test_region_becomes_stub_with_its_indentation():
    src = (
        "def f(x):\n    y = 1\n    ### BEGIN SOLUTION\n    y = x * 2\n    ### END SOLUTION\n"
        "    return y"
    )
    assert student_source(src) == (
        "def f(x):\n    y = 1\n    # YOUR CODE HERE\n    raise NotImplementedError()\n    return y"
    )


def test_hidden_tests_are_removed_and_solutions_kept_by_strip():
    src = "a = 1\n### BEGIN HIDDEN TESTS\nassert a == 1\n### END HIDDEN TESTS\nb = 2"
    assert student_source(src) == "a = 1\nb = 2"
    both = "### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n" + src
    assert strip_hidden_tests(both) == "### BEGIN SOLUTION\nx = 1\n### END SOLUTION\na = 1\nb = 2"


@pytest.mark.parametrize(
    "source, message",
    [
        ("### BEGIN SOLUTION\nx = 1", "never closed"),
        ("x = 1\n### END SOLUTION", "without a BEGIN"),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "do not nest"),
        ("### BEGIN SOLUTION\nx = 1\n### END HIDDEN TESTS", "closes the solution region"),
    ],
)
def test_unbalanced_markers_are_rejected(source, message):
    with pytest.raises(MarkerError, match=message):
        find_regions(source)


def _good_notebook():
    return _nb(
        _cell("import numpy as np", setup_meta("demo_setup")),
        _cell(
            "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION",
            solution_meta("f_impl"),
        ),
        _cell('check("demo_item")', check_meta("demo_item", 2)),
        _cell('check("demo_fit", network=network)', check_meta("demo_fit", 1)),
    )


def test_well_formed_notebook_has_no_problems():
    nb = _good_notebook()
    assert notebook_problems(nb) == []
    assert graded_items(nb) == [("demo_item", 2.0), ("demo_fit", 1.0)]


def _problems_after(change) -> list[str]:
    nb = _good_notebook()
    change(nb)
    return notebook_problems(nb)


def _set(index, key, value):
    def change(nb):
        nb.cells[index].metadata["nbgrader"][key] = value

    return change


@pytest.mark.parametrize(
    "change, message",
    [
        (_set(3, "grade_id", "demo_item"), "duplicate grade_id"),
        (_set(2, "points", 0.0), "needs points > 0"),
        (_set(2, "locked", False), "must be locked"),
        (_set(1, "locked", True), "cannot be locked"),
        (_set(1, "grade_id", "f"), "end in '_impl'"),
        (_set(0, "grade_id", "imports"), "end in '_setup'"),
        (_set(0, "schema_version", 2), "schema_version"),
        (_set(2, "grade_id", "other_item"), 'must be check("other_item")'),
        (lambda nb: nb.cells[2].metadata["nbgrader"].pop("points"), "lacks ['points']"),
        (
            lambda nb: setattr(nb.cells[0], "source", "### BEGIN SOLUTION\nx\n### END SOLUTION"),
            "solution region in a locked cell",
        ),
        (
            lambda nb: nb.cells.append(_cell("### BEGIN SOLUTION\nx\n### END SOLUTION")),
            "without nbgrader metadata",
        ),
        (
            lambda nb: setattr(nb.cells[2], "source", 'check("demo_item")\nassert True'),
            "must be check",
        ),
        (lambda nb: nb.cells.__delitem__(slice(2, 4)), "no graded check cell"),
    ],
)
def test_each_broken_rule_is_reported(change, message):
    problems = _problems_after(change)
    assert any(message in p for p in problems), problems


def test_course_notebooks_are_well_formed():
    sources = sorted((ROOT / "solutions").glob("*.ipynb"))
    assert sources, "no solution notebooks"
    seen: dict[str, str] = {}
    for path in sources:
        nb = nbformat.read(path, as_version=4)
        assert notebook_problems(nb) == [], path.name
        for item, _ in graded_items(nb):
            assert item not in seen, f"{item} in both {seen.get(item)} and {path.name}"
            seen[item] = path.name


# docs/ARCHITECTURE.md, "Graded items": the engine's specs carry the same ids and points.
CONTRACT_POINTS = {
    "2-1_autodiff": {"matmul_backward": 2, "square_graph_backward": 1},
    "2-2-1_two_layer_regression": {"regression_gradient": 2, "regression_fit": 1},
    "2-2-2_two_layer_binary": {"binary_gradient": 2, "binary_fit": 1},
    "2-2-3_two_layer_multiclass": {"multiclass_gradient": 2, "multiclass_fit": 1},
    "2-2-4_year_prediction": {"standardize": 1, "year_prediction_fit": 2},
    "3-1-1_affine_layer": {"affine_forward": 1, "affine_backward": 2},
    "3-1-2_softmax_with_loss": {
        "softmax": 1,
        "cross_entropy_error": 1,
        "softmax_with_loss_forward": 1,
        "softmax_with_loss_backward": 3,
    },
    "3-1-3_other_layers": {
        "sigmoid_layer": 2,
        "relu_layer": 2,
        "squared_error_loss": 2,
        "sigmoid_with_loss": 2,
    },
}


@pytest.mark.parametrize("stem", sorted(CONTRACT_POINTS))
def test_graded_items_match_the_contract(stem):
    nb = nbformat.read(ROOT / "solutions" / f"{stem}.ipynb", as_version=4)
    assert dict(graded_items(nb)) == CONTRACT_POINTS[stem]
