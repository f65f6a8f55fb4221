"""Mutation tests of the hidden checks: every graded item loses its points for known mistakes
(with the matching hint) and keeps full marks for correct code written differently.

Probes run in-process against namespaces from ``tests/mutations/variants.py`` (the trusted side
testing its own checks); the sandboxed end-to-end path is covered by a few ``sandbox`` cases.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
import pytest
from mutations.harness import run_item
from mutations.variants import BUGGY, CORRECT, WARNED

from grader.jail import sandbox_policy
from grader.specs import all_assignments, get_assignment

ITEMS = {it.id: it for a in all_assignments() for it in a.items}
SEEDS = (11, 12, 13)
# Items graded on trained networks are covered by tests/test_specs.py (accuracy scoring).
TRAINED = {i for i in ITEMS if "accuracy" in i or i.endswith("_fit")}


def test_every_checked_item_has_two_buggy_and_two_correct_variants():
    for item_id in set(ITEMS) - TRAINED:
        assert len(BUGGY.get(item_id, [])) >= 2, item_id
        assert len(CORRECT.get(item_id, [])) >= 1, item_id
    assert not (set(BUGGY) | set(CORRECT) | set(WARNED)) - set(ITEMS), "variants for unknown items"


CASES_OK = [(i, name, ns) for i, vs in CORRECT.items() for name, ns in vs]
CASES_BAD = [(i, name, ns, hint) for i, vs in BUGGY.items() for name, ns, hint in vs]


@pytest.mark.parametrize(
    ("item_id", "name", "ns"), CASES_OK, ids=[f"{c[0]}:{c[1]}" for c in CASES_OK]
)
def test_correct_variant_keeps_full_marks(item_id, name, ns):
    for seed in SEEDS:
        np.random.seed(seed)
        v = run_item(ITEMS[item_id], ns, seed)
        assert v.fraction == 1.0, (seed, v.message["en"], v.error, v.tolerance)
        assert v.hint is None


@pytest.mark.parametrize(
    ("item_id", "name", "ns", "hint"), CASES_BAD, ids=[f"{c[0]}:{c[1]}" for c in CASES_BAD]
)
def test_buggy_variant_loses_points_with_hint(item_id, name, ns, hint):
    for seed in SEEDS:
        np.random.seed(seed)
        v = run_item(ITEMS[item_id], ns, seed)
        assert v.fraction == 0.0, (seed, v.message["en"])
        if hint is not None:
            assert v.hint is not None and v.hint.id == hint, (seed, v.hint, v.message["en"])


CASES_WARN = [(i, name, ns, hint) for i, vs in WARNED.items() for name, ns, hint in vs]


@pytest.mark.parametrize(
    ("item_id", "name", "ns", "hint"), CASES_WARN, ids=[f"{c[0]}:{c[1]}" for c in CASES_WARN]
)
def test_warned_variant_keeps_full_marks_with_hint_in_message(item_id, name, ns, hint):
    for seed in SEEDS:
        np.random.seed(seed)
        v = run_item(ITEMS[item_id], ns, seed)
        assert v.fraction == 1.0, (seed, v.message["en"])
        assert v.hint is not None and v.hint.id == hint, (seed, v.hint, v.message["en"])
        # The engine drops hints of passed items, so the message must carry the text.
        assert v.hint.en in v.message["en"] and v.hint.ja in v.message["ja"], v.message


# --- end to end through the sandboxed engine (few cases: each runs a kernel) -------------------

ROOT = Path(__file__).resolve().parents[1]


def _mutated(assignment_id: str, old: str, new: str) -> bytes:
    nb = nbformat.read(ROOT / "solutions" / f"{assignment_id}.ipynb", as_version=4)
    hits = [c for c in nb.cells if old in c.source]
    assert len(hits) == 1, f"{old!r} must occur in exactly one cell"
    hits[0].source = hits[0].source.replace(old, new)
    return nbformat.writes(nb).encode()


E2E = [
    (
        "3-1-2_softmax_with_loss",
        "dx = (self.y - self.t) / batch_size",
        "dx = self.y - self.t",
        "softmax_with_loss_backward",
        "batch_size_division",
    ),
    (
        "3-1-1_affine_layer",
        "self.db = np.sum(dout, axis=0)",
        "self.db = dout",
        "affine_backward",
        "bias_grad_not_summed",
    ),
    (
        "3-1-2_softmax_with_loss",
        "x = x - np.max(x, axis=-1, keepdims=True)",
        "x = x + 0.0",
        "softmax",
        "softmax_overflow",
    ),
    (  # the backward raises for one-hot t: explained from the exception and the inputs
        "3-1-2_softmax_with_loss",
        "if self.t.size == self.y.size:  # ワンホット",
        "if False:",
        "softmax_with_loss_backward",
        "target_one_hot",
    ),
]


@pytest.mark.sandbox
@pytest.mark.parametrize(("aid", "old", "new", "item", "hint"), E2E, ids=[c[3] for c in E2E])
def test_end_to_end_mutation_loses_only_its_item(aid, old, new, item, hint):
    from grader.engine import grade_notebook

    result = grade_notebook(
        get_assignment(aid), _mutated(aid, old, new), policy=sandbox_policy(False)
    ).to_dict()
    assert result["status"] == "graded", result
    items = {it["id"]: it for it in result["items"]}
    assert items[item]["points"] == 0 and items[item]["hint"]["id"] == hint, items[item]
    others = [it for it in items.values() if it["id"] != item]
    assert all(it["passed"] for it in others), others


@pytest.mark.sandbox
def test_end_to_end_relu_reusing_its_output_in_backward_keeps_full_marks():
    """Another course's ReLU (forward zeroes its input in place and returns it, backward turns
    that array into the 0/1 derivative) through the real engine: outputs are copied when
    produced, so the forward output is judged as returned."""
    from grader.engine import grade_notebook

    aid = "3-1-3_other_layers"
    nb = nbformat.reads(_mutated(aid, "return x * self.mask", "return x"), as_version=4)
    cell = next(c for c in nb.cells if "class Relu" in c.source)
    cell.source = cell.source.replace(
        "self.mask = x > 0", "np.maximum(x, 0, out=x)\n        self.out = x"
    ).replace(
        "return dout * self.mask",
        "d = self.out\n        d[d > 0] = 1.0\n        d *= dout\n        return d",
    )
    assert "self.mask" not in cell.source.split("def forward")[1]
    result = grade_notebook(
        get_assignment(aid), nbformat.writes(nb).encode(), policy=sandbox_policy(False)
    ).to_dict()
    items = {it["id"]: it for it in result["items"]}
    assert result["status"] == "graded" and items["relu_layer"]["passed"], items["relu_layer"]
