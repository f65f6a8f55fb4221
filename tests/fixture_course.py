"""A small course of the tests' own, for the service tests whose point is the service (exports,
gradebook, adjustments), not the course: two assignments with fixed points, their notebooks,
and the catalog source to give ``create_app``. The structural grade function
(``structural_grader.py``) scores it, so an instructor's edit to a course assignment breaks
none of these tests.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

FIXTURE = "t-1_layer"  # 2 + 4 = 6 points
OTHER = "t-2_other"  # 1 point; a second column in the gradebook


def _item(item_id: str, points: float) -> SimpleNamespace:
    return SimpleNamespace(id=item_id, title={"ja": item_id, "en": item_id}, points=points)


# Shaped like grader.specs' Assignment as far as the service's Catalog reads it.
COURSE = (
    SimpleNamespace(
        id=FIXTURE,
        title={"ja": "テスト用レイヤ", "en": "Test layer"},
        items=(_item("forward", 2.0), _item("backward", 4.0)),
    ),
    SimpleNamespace(
        id=OTHER,
        title={"ja": "テスト用の別課題", "en": "Another test assignment"},
        items=(_item("done", 1.0),),
    ),
)
BY_ID = {a.id: a for a in COURSE}


def course() -> tuple[SimpleNamespace, ...]:
    """The catalog source: ``create_app(config, catalog_source=fixture_course.course)``."""
    return COURSE


def notebook(assignment_id: str = FIXTURE, *, finished: bool = True) -> bytes:
    """A notebook with a check cell per item; unfinished, its solution cell still raises
    ``NotImplementedError`` (no item passes)."""
    body = "def layer(x):\n    return x\n" if finished else "raise NotImplementedError()\n"
    cells = [_code(body, {"grade_id": "layer_impl", "solution": True, "grade": False})]
    for it in BY_ID[assignment_id].items:
        meta = {"grade_id": it.id, "solution": False, "grade": True, "points": it.points}
        cells.append(_code(f'check("{it.id}")\n', meta))
    for n, cell in enumerate(cells):
        cell["id"] = f"cell-{n}"  # nbformat 4.5 wants cell ids
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}
    return json.dumps(nb).encode()


def _code(source: str, nbgrader: dict) -> dict:
    meta = {"nbgrader": {"locked": not nbgrader["solution"], "schema_version": 3, **nbgrader}}
    return {
        "cell_type": "code",
        "metadata": meta,
        "source": source,
        "outputs": [],
        "execution_count": None,
    }
