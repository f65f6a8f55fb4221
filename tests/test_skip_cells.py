"""Cells tagged ``grader_ignore`` in the released notebook are not run when grading.

* the mark comes from the released notebook only, and only a cell with the released source is
  skipped (a student can neither add nor remove a skip);
* a tagged cell still runs when a cell that runs reads what it binds;
* the student's own run keeps and runs the tagged cells;
* per course notebook, with the solution, the blank and a mutant, grading with skipping gives
  the same verdicts and hints as grading without it (``slow``).
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from grader.engine.restore import NOT_RUN, skip_ignored_cells
from grader.jail import sandbox_policy
from grader.notebooks.ignore import IGNORE_TAG, cell_names, ignore_problems, needed_cells
from grader.specs import get_assignment

ROOT = Path(__file__).resolve().parents[1]
NOT_RUN_TEXT = NOT_RUN.format(tag=IGNORE_TAG)


def tagged(source: str):
    cell = new_code_cell(source)
    cell.metadata.tags = [IGNORE_TAG]
    return cell


def notebook(*cells):
    return new_notebook(cells=list(cells))


# --------------------------------------------------------------------------- names


def test_cell_names_reads_before_binding_and_binds_what_may_change():
    names = cell_names(
        "x = x + 1\n"
        "for name in items:\n    print(name, y)\n"
        "net.params['W'] = 0\n"
        "def f(a):\n    return a + Q\n"
        "squares = [k * k for k in ks]\n"
    )
    assert {"x", "items", "y", "net", "ks", "print"} <= names.reads
    assert not {"name", "a", "k", "squares", "f"} & names.reads
    assert "Q" in names.deferred and "a" not in names.deferred
    assert {"x", "name", "net", "f", "squares"} <= names.binds
    assert "net" not in names.definite  # mutated, not rebound: an earlier binder still counts
    assert {"x", "f", "squares"} <= names.definite


def test_cell_names_dynamic_lookups_and_magics_are_conservative():
    assert "history" in cell_names('if "history" in globals():\n    h = 1\n').reads
    magic = cell_names("%time network = train(net)")
    assert {"network", "train", "net"} <= magic.reads and not magic.definite


def test_code_after_raise_reads_nothing():
    # a blank's method: the stub raises before the kept ``return dx`` can read a global dx
    blank = cell_names("def backward(dout):\n    raise NotImplementedError()\n    return dx\n")
    assert "dx" not in blank.deferred
    assert "dx" in cell_names("def backward(dout):\n    return dx\n").deferred


def test_needed_cells_follow_the_latest_binder():
    sources = ["net = make()", "net = other()\nresult = 1", "print(net, result)"]
    need = needed_cells(sources, {0, 1})
    assert [(n.cell, n.reader) for n in need] == [(1, 2)]  # cell 0's net is shadowed by cell 1
    assert needed_cells(["a = 1", "b = 2", "print(b)"], {0}) == []


def test_needed_cells_count_reads_inside_functions_whenever_called():
    need = needed_cells(["def report():\n    return scores", "scores = run()", "report()"], {1})
    assert [(n.cell, n.reader, n.name) for n in need] == [(1, 0, "scores")]


# --------------------------------------------------------------------------- who decides


def _released():
    return notebook(
        new_code_cell("import numpy as np"),
        tagged("curves = {d: np.ones(d) for d in (1, 2)}\nprint(curves)"),
        new_code_cell("network = 3"),
    )


def test_a_cell_with_the_released_source_is_skipped_whatever_its_tags():
    student = copy.deepcopy(_released())
    student.cells[1].metadata.tags = []  # removing the tag changes nothing
    log = skip_ignored_cells(student, _released())
    assert student.cells[1].source == NOT_RUN_TEXT
    assert student.cells[0].source == "import numpy as np"
    assert log == [f"not run ({IGNORE_TAG}): cell 2"]


def test_an_edited_cell_runs_and_a_student_cannot_add_a_skip():
    student = copy.deepcopy(_released())
    student.cells[1].source += "\nnetwork = 4"
    student.cells[2].metadata.tags = [IGNORE_TAG]  # tagging their own cell changes nothing
    assert skip_ignored_cells(student, _released()) == []
    assert student.cells[1].source.endswith("network = 4")
    assert student.cells[2].source == "network = 3"


def test_whitespace_differences_still_match_the_released_source():
    student = copy.deepcopy(_released())
    student.cells[1].source = "\n" + student.cells[1].source.replace("\n", "  \r\n") + "\n\n"
    skip_ignored_cells(student, _released())
    assert student.cells[1].source == NOT_RUN_TEXT


def test_a_tagged_cell_that_a_running_cell_reads_runs_anyway():
    student = copy.deepcopy(_released())
    student.cells.append(new_code_cell("network = curves[2]"))  # reads the experiment's result
    log = skip_ignored_cells(student, _released())
    assert student.cells[1].source != NOT_RUN_TEXT
    assert log == [f"cell 2 ({IGNORE_TAG}) ran anyway: cell 4 reads 'curves'"]


def test_the_probe_counts_as_a_reader():
    student = copy.deepcopy(_released())
    log = skip_ignored_cells(student, _released(), ("out['y'] = curves[1]",))
    assert student.cells[1].source != NOT_RUN_TEXT
    assert log == [f"cell 2 ({IGNORE_TAG}) ran anyway: the grader's probe reads 'curves'"]


def test_build_refuses_a_tag_that_a_later_cell_needs_or_that_sits_on_a_graded_cell():
    from grader.notebooks.metadata import check_meta

    bad = _released()
    bad.cells.append(new_code_cell("check('x', network=curves)"))
    assert any("reads 'curves'" in p for p in ignore_problems(bad))
    graded = tagged("check('x')")
    graded.metadata.nbgrader = check_meta("x", 1)
    assert any("never on a graded" in p for p in ignore_problems(notebook(graded)))
    assert ignore_problems(_released()) == []


def test_the_released_notebooks_carry_the_tags_of_their_solutions():
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        solution = nbformat.read(path, as_version=4)
        released = nbformat.read(ROOT / "assignments" / path.name, as_version=4)
        tags = [IGNORE_TAG in (c.metadata.get("tags") or []) for c in solution.cells]
        assert tags == [IGNORE_TAG in (c.metadata.get("tags") or []) for c in released.cells]
        for cell, rcell in zip(solution.cells, released.cells):
            if IGNORE_TAG in (cell.metadata.get("tags") or []):
                assert cell.source == rcell.source  # experiments ship whole to the student


# --------------------------------------------------------------------------- sandboxed runs

AFFINE = "3-1-1_affine_layer"


def _tagged_indices(nb) -> list[int]:
    return [i for i, c in enumerate(nb.cells) if IGNORE_TAG in (c.metadata.get("tags") or [])]


@pytest.mark.sandbox
def test_tagged_cells_run_in_the_students_own_run_and_not_in_the_graded_one(tmp_path):
    from nbclient import NotebookClient

    from grader.engine import grade_notebook

    source = ROOT / "solutions" / f"{AFFINE}.ipynb"
    own = nbformat.read(source, as_version=4)
    tagged_cells = _tagged_indices(own)
    assert len(tagged_cells) == 3
    NotebookClient(own, timeout=120, resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert all(own.cells[i].outputs for i in tagged_cells)  # the student's run keeps them

    result = grade_notebook(
        get_assignment(AFFINE), source.read_bytes(), policy=sandbox_policy(False)
    )
    assert result.status == "graded" and result.score == result.max_score
    executed = nbformat.reads(result.executed_notebook, as_version=4)
    for i in tagged_cells:
        assert executed.cells[i].source == NOT_RUN_TEXT and executed.cells[i].outputs == []
    assert any(line.startswith(f"not run ({IGNORE_TAG})") for line in result.log)


# --------------------------------------------------------------------------- verdict-neutral

# One known mistake per tagged notebook: (text in the solution, replacement, item it breaks).
MUTANTS = {
    "2-1_autodiff": ("dW = X.T @ dY", "dW = dY.T @ X", "matmul_backward"),
    "2-2-1_two_layer_regression": ("dy = (y - t) / N", "dy = y - t", "regression_gradient"),
    "2-2-3_two_layer_multiclass": ("da2 = (y - t) / N", "da2 = y - t", "multiclass_gradient"),
    "2-4_multilayer_mnist": (
        "dout = self.last_layer.backward(1)",
        "dout = -self.last_layer.backward(1)",
        "multilayer_gradient",
    ),
    "2-5-1_optimizers": (
        "lr_t = self.lr * np.sqrt(1.0 - self.beta2 ** self.iter) / (1.0 - self.beta1 ** self.iter)",
        "lr_t = self.lr",
        "adam_update",
    ),
    "2-6_weight_init": ("np.sqrt(2.0 / n_in)", "np.sqrt(1.0 / n_in)", "he_normal"),
    "2-7_batch_norm": (
        "dx = self.gamma / self.std * (dout - c - self.xn * d)",
        "dx = self.gamma / self.std * dout",
        "batchnorm_backward",
    ),
    "2-8_deep_optimization": (
        'network = DeepNet(784, [256, 256], 10, weight_init_std="he", use_batchnorm=True)',
        'network = DeepNet(784, [2], 10, weight_init_std="he", use_batchnorm=True)',
        "mnist_accuracy_2_8",
    ),
    "2-9_dropout": (
        "return dout * self.mask",
        "return dout * (np.random.rand(*dout.shape) > self.dropout_ratio)",
        "dropout_backward",
    ),
    "2-10_regularization": ("grad = 2 * alpha * W", "grad = alpha * W", "l2_regularization"),
    AFFINE: ("self.db = np.sum(dout, axis=0)", "self.db = dout", "affine_backward"),
}


def test_every_notebook_with_tags_has_a_mutant_and_no_other_has_tags():
    with_tags = {
        p.stem
        for p in (ROOT / "assignments").glob("*.ipynb")
        if _tagged_indices(nbformat.read(p, as_version=4))
    }
    assert with_tags == set(MUTANTS)


def _variants(aid: str) -> dict[str, bytes]:
    solution = (ROOT / "solutions" / f"{aid}.ipynb").read_text(encoding="utf-8")
    old, new, _ = MUTANTS[aid]
    nb = nbformat.reads(solution, as_version=4)
    hits = [c for c in nb.cells if old in c.source]
    assert len(hits) == 1, f"{old!r} must occur in exactly one cell of {aid}"
    hits[0].source = hits[0].source.replace(old, new)
    return {
        "solution": solution.encode(),
        "blank": (ROOT / "assignments" / f"{aid}.ipynb").read_bytes(),
        "mutant": nbformat.writes(nb).encode(),
    }


def _untagged(released):
    nb = copy.deepcopy(released)
    for cell in nb.cells:
        if IGNORE_TAG in (cell.metadata.get("tags") or []):
            cell.metadata.tags = [t for t in cell.metadata.tags if t != IGNORE_TAG]
    return nb


def _verdicts(result) -> dict:
    return {
        "status": result.status,
        "items": [
            [it.id, it.points, it.passed, it.hint["id"] if it.hint else None] for it in result.items
        ],
    }


def _code_digest() -> str:
    """Digest of everything that decides a verdict besides the notebooks (engine, specs,
    reference, student helpers): a cached baseline is reused only while all of it is equal."""
    h = hashlib.sha256()
    for folder in ("grader", "reference"):
        for p in sorted((ROOT / folder).rglob("*.py")):
            h.update(p.relative_to(ROOT).as_posix().encode() + p.read_bytes())
    return h.hexdigest()


@pytest.mark.slow
@pytest.mark.sandbox
@pytest.mark.parametrize("aid", sorted(MUTANTS))
def test_skipping_changes_no_verdict_and_no_hint(aid, request):
    """Solution, blank and mutant, graded with and without skipping: the same verdicts and
    hint ids. The graded runs without skipping (the slow half) are cached in pytest's cache
    under a digest of the notebook, the released notebook and the grader's code."""
    from grader.engine import grade_notebook
    from grader.engine.pipeline import load_released

    released = load_released(aid)
    baseline = _untagged(released)
    code = _code_digest()
    for name, data in _variants(aid).items():
        skipped = grade_notebook(
            get_assignment(aid), data, policy=sandbox_policy(False), released=released
        )
        assert any(line.startswith(f"not run ({IGNORE_TAG})") for line in skipped.log), name
        key = hashlib.sha256(data + json.dumps(baseline).encode() + code.encode()).hexdigest()
        cache_key = f"skip_cells/{aid}/{name}/{key[:24]}"
        cache = getattr(request.config, "cache", None)  # absent with -p no:cacheprovider
        without = cache.get(cache_key, None) if cache else None
        if without is None:
            full = grade_notebook(
                get_assignment(aid), data, policy=sandbox_policy(False), released=baseline
            )
            assert not any(IGNORE_TAG in line for line in full.log), name
            without = _verdicts(full)
            if cache:
                cache.set(cache_key, without)
        assert _verdicts(skipped) == without, name
        items = {it.id: it for it in skipped.items}
        if name == "solution":
            assert skipped.score == skipped.max_score, skipped.to_dict()["items"]
        elif name == "blank":
            assert skipped.score == 0
        else:
            broken = items[MUTANTS[aid][2]]
            assert broken.points < broken.max_points, broken
