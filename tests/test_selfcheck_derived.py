"""The derived self-checks (``grader/student/checks/declared/*.json``, written by ``grader
build`` from the declared items) pass every correct variant of the mutation suite and fail
every buggy one, naming the variant's mistake when the check knows it.

The self-check runs one call on public inputs in the student's kernel; these tests run it on
the same namespaces as the trusted mutation tests (``tests/mutations/variants.py``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from mutations.variants import BUGGY, CORRECT

import grader.student.checks.declared
from grader.specs import all_assignments
from grader.specs._selfcheck_data import declared_items, selfcheck_data
from grader.student import CheckFailed, check
from grader.student.selfcheck import available_checks

DECLARED = declared_items(all_assignments())
DERIVED = {it.id: it for it in DECLARED if not it.declaration.own_selfcheck}
CASES_OK = [(i, name, ns) for i, vs in CORRECT.items() if i in DERIVED for name, ns in vs]
CASES_BAD = [(i, n, ns, h) for i, vs in BUGGY.items() if i in DERIVED for n, ns, h in vs]


def _report(item_id: str, ns: dict, capsys) -> tuple[bool, str]:
    try:
        check(item_id, lang="en", **ns)
        passed = True
    except CheckFailed:
        passed = False
    return passed, capsys.readouterr().out


def test_every_derived_self_check_is_shipped_and_small():
    assert DERIVED, "no item has a derived self-check"
    assert set(DERIVED) <= set(available_checks())
    # the student package (a wheel that Colab installs) carries them: public inputs stay small
    folder = Path(grader.student.checks.declared.__file__).parent
    sizes = {path.name: path.stat().st_size for path in folder.glob("*.json")}
    assert sizes and max(sizes.values()) < 128 * 1024, sorted(sizes.items(), key=lambda kv: -kv[1])[
        :3
    ]


@pytest.mark.parametrize(
    ("item_id", "name", "ns"), CASES_OK, ids=[f"{c[0]}:{c[1]}" for c in CASES_OK]
)
def test_correct_variant_passes_its_self_check(item_id, name, ns, capsys):
    passed, out = _report(item_id, ns, capsys)
    assert passed, out
    assert "hint" not in out


@pytest.mark.parametrize(
    ("item_id", "name", "ns", "hint"), CASES_BAD, ids=[f"{c[0]}:{c[1]}" for c in CASES_BAD]
)
def test_buggy_variant_fails_its_self_check_with_the_hint_it_knows(item_id, name, ns, hint, capsys):
    passed, out = _report(item_id, ns, capsys)
    assert not passed, out
    data = selfcheck_data(DERIVED[item_id])
    known = {m["hint"]: m["en"] for m in data["mistakes"]}
    known["argument_modified"] = data["unchanged_hint"]["en"]
    known.update((h, text["en"]) for h, text in data["cause_hints"].items())
    known.update((text["hint"], text["en"]) for text in data["staged"].values())
    if data["nonfinite_hint"]:
        known[data["nonfinite_hint"]["hint"]] = data["nonfinite_hint"]["en"]
    if hint in known:
        assert known[hint] in out, out


def test_a_self_check_leaves_the_notebook_random_state_as_it_was(capsys):
    _, ns = CORRECT["matmul_backward"][0]
    correct = ns["matmul_backward"]

    def draws_random_numbers(X, W, dY):  # e.g. a student's code that samples noise
        np.random.rand(5)
        return correct(X, W, dY)

    np.random.seed(7)
    want = np.random.rand(3)
    np.random.seed(7)
    passed, out = _report("matmul_backward", {"matmul_backward": draws_random_numbers}, capsys)
    assert passed, out
    assert np.array_equal(np.random.rand(3), want)


def test_worked_examples_are_reported_on_their_own_line(capsys):
    import reference as R

    passed, out = _report("affine_forward", {"Affine": R.Affine}, capsys)
    assert passed and "✓ worked example 3.6 #2 (W = I)" in out, out
    no_bias = {name: ns for name, ns, _ in BUGGY["affine_forward"]}["no bias"]
    passed, out = _report("affine_forward", no_bias, capsys)
    assert not passed and "✗ worked example 3.6 #2 (W = I)" in out, out
    # a failure the self-check explains still shows what does work (the 2-D example)
    flat_only = {name: ns for name, ns, _ in BUGGY["affine_forward"]}["2-D input only"]
    passed, out = _report("affine_forward", flat_only, capsys)
    assert "✗ runs on the public inputs" in out and "✓ worked example 3.6 #2" in out, out


def test_an_example_the_solution_cannot_run_fails_the_build_where_it_is_declared():
    from grader.specs._declare import DeclarationError, declare, example, function

    item = declare(
        "f", ("f", "f"), points=1, call=function("f", "x", "W", save="y"),
        solution=lambda x, W: x @ W, tol=1e-9, expect={"y": lambda x, W: x @ W},
        inputs=lambda rng: {"x": np.ones((1, 1)), "W": np.ones((1, 1))},
        examples=[example("W なし", "no W", x=[[1.0]])],
    )  # fmt: skip
    with pytest.raises(
        DeclarationError, match=r"test_selfcheck_derived.py:\d+.*example 'no W'.*KeyError"
    ):
        selfcheck_data(item)
