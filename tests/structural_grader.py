"""A test double of the grade function: it executes nothing. An item passes when the notebook
has its check cell (``grade_id`` == item id) and no solution cell still raises
``NotImplementedError``. The queue's own tests use it, and it can smoke-test a deployment
without the sandbox (``grader worker --grade-fn structural_grader:grade`` with ``tests/`` on
the path); the engine remains the only real grader.

A notebook may ask it to take time (``metadata.structural_grader_seconds``), which the
queue tests use to hold a job while a worker is killed.
"""

from __future__ import annotations

import json
import time

import fixture_course

from grader.engine.result import GradeResult, ItemResult
from grader.service.grading import GradeOutput


def _items(assignment_id: str) -> list[tuple[str, float]]:
    """The items and points of the tests' own course (``fixture_course.py``), else of the
    course's spec, else one item."""
    if assignment_id in fixture_course.BY_ID:
        return [(it.id, it.points) for it in fixture_course.BY_ID[assignment_id].items]
    try:
        from grader import specs

        return [(it.id, float(it.points)) for it in specs.get_assignment(assignment_id).items]
    except (ImportError, KeyError):
        return [("notebook_complete", 1.0)]


def grade(assignment_id: str, notebook: bytes, slot: int) -> GradeOutput:
    nb = json.loads(notebook)
    delay = float(nb.get("metadata", {}).get("structural_grader_seconds", 0))
    if delay:
        time.sleep(min(delay, 600))
    cells = nb.get("cells", [])
    unfinished = any(
        "NotImplementedError" in "".join(c.get("source", ""))
        for c in cells
        if c.get("metadata", {}).get("nbgrader", {}).get("solution")
    )
    present = {c.get("metadata", {}).get("nbgrader", {}).get("grade_id") for c in cells}
    result = GradeResult(assignment=assignment_id, status="graded", sandbox_mode="none")
    for item_id, pts in _items(assignment_id):
        ok = (item_id in present or item_id == "notebook_complete") and not unfinished
        result.items.append(
            ItemResult(
                id=item_id,
                title={"ja": item_id, "en": item_id},
                points=pts if ok else 0.0,
                max_points=pts,
                passed=ok,
                message={
                    "ja": "構造のみ確認" if ok else "未完成",
                    "en": "structure only" if ok else "incomplete",
                },
            )
        )
    result.max_score = sum(i.max_points for i in result.items)
    result.timings = {"total": delay}
    result.log.append(f"graded in slot {slot}")  # the queue tests check which slot ran it
    payload = result.to_dict()  # the one result contract, as the engine writes it
    return GradeOutput("graded", result.score, result.max_score, payload, json.dumps(nb), None)
