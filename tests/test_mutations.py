"""Mutation tests of the hidden checks: every graded item loses its points for known mistakes
(with the matching hint) and keeps full marks for correct code written differently.

Probes run in-process against namespaces from ``tests/mutations/variants.py`` (the trusted side
testing its own checks); the sandboxed end-to-end path is covered by a few ``sandbox`` cases.
"""

from __future__ import annotations

import numpy as np
import pytest
from mutations.harness import run_item
from mutations.variants import BUGGY, CORRECT

from grader.specs import all_assignments

ITEMS = {it.id: it for a in all_assignments() for it in a.items}
SEEDS = (11, 12, 13)
# Items graded on trained networks are covered by tests/test_specs.py (accuracy scoring).
TRAINED = {i for i in ITEMS if "accuracy" in i or i.endswith("_fit")}


def test_every_checked_item_has_two_buggy_and_two_correct_variants():
    for item_id in set(ITEMS) - TRAINED:
        assert len(BUGGY.get(item_id, [])) >= 2, item_id
        assert len(CORRECT.get(item_id, [])) >= 1, item_id
    assert not (set(BUGGY) | set(CORRECT)) - set(ITEMS), "variants for unknown items"


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
