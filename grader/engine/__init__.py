"""The judge: validate, restore locked cells, hand the job to the jail, trusted scoring.

``from grader.engine import grade_notebook, GradeResult`` (see docs/ARCHITECTURE.md, "Engine
API"). Names are resolved lazily so that importing ``grader.engine.spec`` (what
``grader/specs/`` needs) stays cheap.
"""

from __future__ import annotations

__all__ = ["GradeResult", "grade_notebook"]


def __getattr__(name: str):
    if name in ("grade_notebook", "GradeResult"):
        from grader.engine import pipeline

        return getattr(pipeline, name)
    raise AttributeError(name)
