"""Instructor adjustments of a submission, each recorded with who and when (the audit trail,
table ``adjustments``, append-only): a score override with a reason, which replaces the
computed final score of the submission's current result (a regrade makes a new result without
it; the trail keeps the old one), and comments the student sees with the result."""

from __future__ import annotations

import math
import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.service.errors import ApiError
from grader.service.models import Adjustment, Result, Submission
from grader.service.states import Outcome

MAX_TEXT = 5000


def _text(value: str, what: str) -> str:
    text = (value or "").strip()
    if not text or len(text) > MAX_TEXT:
        raise ApiError("bad_adjustment", detail=f"{what} must be 1-{MAX_TEXT} characters")
    return text


def override(s: Session, sub: Submission, score: float | None, reason: str, by: str) -> Result:
    """Set (or with ``score`` None clear) the override of the submission's current result."""
    res = s.get(Result, sub.current_result_id) if sub.current_result_id else None
    if res is None or res.outcome != Outcome.GRADED:
        raise ApiError("not_ready")
    reason = _text(reason, "reason")
    if score is not None and not (math.isfinite(score) and 0 <= score <= res.max_score):
        raise ApiError("bad_adjustment", detail=f"score must be between 0 and {res.max_score:g}")
    res.override_score = None if score is None else float(score)
    s.add(
        Adjustment(
            submission_id=sub.id,
            result_id=res.id,
            kind="override",
            score=res.override_score,
            text=reason,
            created_at=time.time(),
            created_by=by,
        )
    )
    return res


def comment(s: Session, sub: Submission, text: str, by: str) -> Adjustment:
    adj = Adjustment(
        submission_id=sub.id,
        kind="comment",
        text=_text(text, "comment"),
        created_at=time.time(),
        created_by=by,
    )
    s.add(adj)
    return adj


def view(adj: Adjustment) -> dict[str, Any]:
    from grader.service.submissions import iso

    return {
        "id": adj.id,
        "submission_id": adj.submission_id,
        "kind": adj.kind,
        "score": adj.score,
        "text": adj.text,
        "at": iso(adj.created_at),
        "by": adj.created_by,
    }


def trail(s: Session, submission_id: str | None = None) -> list[Adjustment]:
    q = select(Adjustment).order_by(Adjustment.id)
    if submission_id:
        q = q.where(Adjustment.submission_id == submission_id)
    return list(s.scalars(q))


def comments(s: Session, submission_id: str) -> list[dict[str, Any]]:
    """The comments a student sees on their submission, oldest first."""
    return [view(a) for a in trail(s, submission_id) if a.kind == "comment"]
