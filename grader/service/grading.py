"""What a worker calls to grade one notebook.

``GradeFn(assignment_id, notebook_bytes, slot) -> GradeOutput``. The default,
:func:`engine_grade`, runs the real engine (``grader.engine.grade_notebook``); the queue's own
tests pass a small real function instead (``tests/structural_grader.py``; any importable
``module:function``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from grader.engine.result import Outcome

if TYPE_CHECKING:
    from grader.jail.warm import WarmPool


@dataclass
class GradeOutput:
    outcome: str  # graded | rejected | error (the engine's status)
    score: float
    max_score: float
    payload: dict[str, Any]  # GradeResult.to_dict()
    executed_notebook: str | None = None
    feedback_html: str | None = None


GradeFn = Callable[[str, bytes, int], GradeOutput]


def engine_grade(
    assignment_id: str, notebook: bytes, slot: int, warm_pool: WarmPool | None = None
) -> GradeOutput:
    """Grade with the real engine (sandboxed execution, trusted scoring); ``warm_pool``: the
    worker's pre-started sandbox (``grader.jail.warm``)."""
    from grader.engine import grade_notebook

    result = grade_notebook(assignment_id, notebook, slot=slot, warm_pool=warm_pool)
    payload = result.to_dict()
    # No feedback HTML here: it is rendered on first download (grader.service.feedback), so
    # the score reaches the student without waiting for nbconvert.
    return GradeOutput(
        outcome=str(payload.get("status", Outcome.ERROR)),
        score=float(payload.get("score") or 0.0),
        max_score=float(payload.get("max_score") or 0.0),
        payload=payload,
        executed_notebook=result.executed_notebook,
    )


def load_grade_fn(spec: str | None) -> GradeFn:
    """``None`` → the engine; ``"package.module:function"`` → that function."""
    if not spec:
        return engine_grade
    module, _, name = spec.partition(":")
    if not name:
        raise ValueError(f"grade function must be 'module:function', got {spec!r}")
    return getattr(importlib.import_module(module), name)
