"""What a worker calls to grade one notebook.

``GradeFn(assignment_id, notebook_bytes, slot) -> GradeOutput``. The default,
``engine_grader(policy)``, runs the real engine (``grader.engine.grade_notebook``) on the
spec the registry holds for the id, under the sandbox policy the command decided once; the
queue's own tests pass a small real function instead (``tests/structural_grader.py``; any
importable ``module:function``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from grader.engine.result import Outcome
from grader.jail.policy import SandboxPolicy

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


def engine_grader(policy: SandboxPolicy, warm_pool: WarmPool | None = None) -> GradeFn:
    """The real engine (sandboxed execution, trusted scoring) under ``policy``; ``warm_pool``:
    the worker's pre-started sandbox (``grader.jail.warm``)."""

    def engine_grade(assignment_id: str, notebook: bytes, slot: int) -> GradeOutput:
        from grader.engine import grade_notebook
        from grader.specs import all_assignments, get_assignment

        result = grade_notebook(
            get_assignment(assignment_id),
            notebook,
            policy=policy,
            slot=slot,
            candidates=all_assignments(),
            warm_pool=warm_pool,
        )
        payload = result.to_dict()
        # No feedback HTML here: it is rendered on first download (grader.service.feedback),
        # so the score reaches the student without waiting for nbconvert.
        return GradeOutput(
            outcome=str(payload.get("status", Outcome.ERROR)),
            score=float(payload.get("score") or 0.0),
            max_score=float(payload.get("max_score") or 0.0),
            payload=payload,
            executed_notebook=result.executed_notebook,
        )

    return engine_grade


def load_grade_fn(
    spec: str | None, policy: SandboxPolicy, warm_pool: WarmPool | None = None
) -> GradeFn:
    """``None`` → the engine under ``policy`` (with ``warm_pool``); ``"package.module:function"``
    → that function."""
    if not spec:
        return engine_grader(policy, warm_pool)
    module, _, name = spec.partition(":")
    if not name:
        raise ValueError(f"grade function must be 'module:function', got {spec!r}")
    return getattr(importlib.import_module(module), name)
