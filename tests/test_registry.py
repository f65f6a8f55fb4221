"""The spec registry's hint check, the undeclared-hint rule of scoring, and the one rule for
"which assignment is this notebook" (``grader.engine.identify``)."""

from __future__ import annotations

import numpy as np
import pytest

import grader.specs as registry
from grader.engine.hints import HINTS, get_hint
from grader.engine.identify import identify
from grader.engine.scoring import score_item
from grader.engine.spec import Assignment, Item, TrustedData, Verdict
from grader.jail.outputs import ItemOutputs
from grader.specs import SpecLoadError, all_assignments

SPEC_WITH_A_MISSPELT_HINT = '''"""A spec whose item declares a hint id that does not exist."""

from grader.engine.spec import Assignment, Item, Verdict

ASSIGNMENT = Assignment(
    id="9-1_misspelt",
    title={"ja": "t", "en": "t"},
    items=(
        Item(
            id="misspelt_item",
            title={"ja": "t", "en": "t"},
            points=1,
            probe="",
            make_inputs=lambda rng, data: {},
            score=lambda ctx: Verdict.ok(),
            hints=("sign_flip",
                   "sing_flip"),
        ),
    ),
)
'''


@pytest.fixture
def spec_folder(tmp_path, monkeypatch):
    """The registry reading a folder of the test's own (with the course's helpers importable
    as before), forgotten again afterwards."""
    monkeypatch.setattr(registry, "FOLDER", tmp_path)
    monkeypatch.setattr(registry, "__path__", [str(tmp_path), *registry.__path__])
    registry.reload_registry()
    yield tmp_path
    registry.reload_registry()


def test_a_misspelt_hint_id_fails_when_the_spec_loads_naming_its_line(spec_folder):
    (spec_folder / "misspelt.py").write_text(SPEC_WITH_A_MISSPELT_HINT)
    with pytest.raises(SpecLoadError) as caught:
        all_assignments()
    assert caught.value.where == f"{spec_folder / 'misspelt.py'}:17"
    assert "'misspelt_item'" in caught.value.reason and "'sing_flip'" in caught.value.reason
    assert str(caught.value).startswith(f"{spec_folder / 'misspelt.py'}:17: cannot load spec")


def test_every_item_of_the_course_declares_hints_that_exist():
    items = [it for spec in all_assignments() for it in spec.items]
    assert len(items) >= 40
    assert all(it.hints for it in items), [it.id for it in items if not it.hints]
    assert {h for it in items for h in it.hints} <= set(HINTS)


def _item(score, hints=(), item_id="x") -> Item:
    return Item(
        id=item_id,
        title={"ja": "x", "en": "x"},
        points=2,
        probe="",
        make_inputs=lambda rng, data: {},
        score=score,
        hints=hints,
    )


def _score(item: Item):
    outs = ItemOutputs(arrays={"y": np.zeros(3)}, done=True)
    return score_item(item, {}, outs, TrustedData(), {"ja": "", "en": ""})


def _fails_with_sign_flip(ctx) -> Verdict:
    return Verdict.fail("違います", "wrong", hint=get_hint("sign_flip"))


def test_a_verdict_with_an_undeclared_hint_is_an_internal_scoring_error():
    undeclared = _score(_item(_fails_with_sign_flip))
    assert undeclared.hint is None and undeclared.points == 0
    assert "hint 'sign_flip' is not declared in Item.hints of 'x'" in undeclared.scoring_error
    assert undeclared.scoring_error.startswith(f"{__file__}:")  # where the scorer is
    assert "not a problem of your code" in undeclared.message["en"]
    declared = _score(_item(_fails_with_sign_flip, hints=("sign_flip",)))
    assert declared.scoring_error is None and declared.hint["id"] == "sign_flip"


def test_a_scorer_that_raises_is_an_internal_error_at_its_line():
    def broken(ctx) -> Verdict:
        return ctx.inputs["missing"]

    line = broken.__code__.co_firstlineno + 1
    res = _score(_item(broken))
    assert res.scoring_error == f"{__file__}:{line}: KeyError: 'missing'"
    assert res.to_dict()["scoring_error"] == res.scoring_error


def _spec(aid: str, *item_ids: str) -> Assignment:
    items = tuple(_item(lambda ctx: Verdict.ok(), item_id=i) for i in item_ids)
    return Assignment(id=aid, title={}, items=items)


def _notebook(*checked: str, meta: dict | None = None) -> dict:
    cells = [
        {"cell_type": "code", "metadata": {"nbgrader": {"grade": True, "grade_id": i}}}
        for i in checked
    ]
    cells.append({"cell_type": "code", "metadata": {"nbgrader": {"grade_id": "a_impl"}}})
    return {"metadata": meta or {}, "cells": cells}


COURSE = [_spec("1-1_a", "a1", "a2"), _spec("1-2_b", "b1", "shared"), _spec("1-3_c", "shared")]


@pytest.mark.parametrize(
    "nb, stem, expected",
    [
        (_notebook("b1", meta={"dl_course": {"assignment": "1-3_c"}}), "1-2_b", "1-3_c"),
        (_notebook("a1", meta={"dl_course": {"assignment": "9-9_gone"}}), "", "1-1_a"),
        (_notebook(), "copy of 1-2_b (2)", "1-2_b"),
        (_notebook("a1", "a2"), "homework", "1-1_a"),
        (_notebook("b1", "shared"), "", "1-2_b"),  # most check cells in common
        (_notebook("shared"), "", None),  # a tie: no guess
        (_notebook("z9"), "", None),  # no course item
        ("not a notebook", "", None),
    ],
)
def test_identify_reads_metadata_then_the_file_name_then_the_check_cells(nb, stem, expected):
    assert identify(nb, COURSE, file_stem=stem) == expected
