"""Instructor actions (issue 9): bulk regrade of an assignment; score overrides and comments
on a submission, with their audit trail (also as CSV)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from grader.service import adjustments, exports
from grader.service.api import ERRORS, Instructor, app_state
from grader.service.db import reader
from grader.service.errors import ApiError
from grader.service.models import Result, Submission
from grader.service.states import SubmissionStatus
from grader.service.submissions import final_score, regrade_assignment

router = APIRouter(prefix="/api/v1/instructor", responses=ERRORS, tags=["instructor"])


@router.post("/assignments/{assignment_id}/regrade", status_code=202)
def bulk_regrade(
    request: Request,
    who: Instructor,
    assignment_id: str,
    only: Literal["all", "failed"] = "all",
) -> dict:
    """Queue a new grading run of every graded or failed submission of the assignment
    (``only=failed``: those short of full marks or whose grading failed)."""
    st = app_state(request)
    if st.catalog.get(assignment_id) is None:
        raise ApiError("unknown_assignment", assignment_id=assignment_id[:100])
    queued = regrade_assignment(st, assignment_id, only_failed=only == "failed")
    return {"assignment_id": assignment_id, "only": only, "queued": queued}


class OverrideIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    score: float | None = Field(description="the score that counts; null clears the override")
    reason: str = Field(description="why (kept in the audit trail)")


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(description="shown to the student with the result")


def _submission(s, submission_id: str) -> Submission:  # noqa: ANN001
    sub = s.get(Submission, submission_id) if len(submission_id) <= 64 else None
    if sub is None:
        raise ApiError("submission_not_found")
    return sub


@router.post("/submissions/{submission_id}/override")
def override_score(request: Request, who: Instructor, submission_id: str, body: OverrideIn):
    """Replace the submission's final score (its current result) with a reason."""
    with app_state(request).sessions.begin() as s:
        sub = _submission(s, submission_id)
        res = adjustments.override(s, sub, body.score, body.reason, who.user_id)
        return {"submission_id": sub.id, "final_score": final_score(res), "override": body.score}


@router.post("/submissions/{submission_id}/comments", status_code=201)
def add_comment(request: Request, who: Instructor, submission_id: str, body: CommentIn):
    """A comment the student sees on the submission's page and in its API view."""
    with app_state(request).sessions.begin() as s:
        adj = adjustments.comment(s, _submission(s, submission_id), body.text, who.user_id)
        s.flush()
        return adjustments.view(adj)


@router.get("/submissions/{submission_id}/adjustments")
def submission_adjustments(request: Request, who: Instructor, submission_id: str) -> list:
    """Every override and comment of the submission, who and when, oldest first."""
    with app_state(request).sessions() as s:
        _submission(s, submission_id)
        return [adjustments.view(a) for a in adjustments.trail(s, submission_id)]


ADJUSTMENT_COLUMNS = [
    "at",
    "by",
    "student_id",
    "assignment",
    "submission_id",
    "kind",
    "score",
    "text",
]


@router.get("/adjustments.csv", responses={200: {"content": {"text/csv": {}}}})
def adjustments_csv(request: Request, who: Instructor, bom: bool = False):
    """The whole audit trail of overrides and comments as CSV."""
    with app_state(request).sessions() as s:
        rows = []
        for a in adjustments.trail(s):
            sub = s.get(Submission, a.submission_id)
            v = adjustments.view(a)
            score = "" if a.score is None else f"{a.score:g}"
            rows.append(
                [v["at"], v["by"], sub.user_id, sub.assignment_id, sub.id, a.kind, score, a.text]
            )
    return exports.csv_response(exports.csv_text(ADJUSTMENT_COLUMNS, rows), "adjustments.csv", bom)


DASHBOARD_POLL = 0.5  # seconds between reads of the queue counts


def dashboard_mark(st) -> dict:  # noqa: ANN001
    """What the live dashboard shows: submissions waiting and running, graded results so far
    (the newest result id changes whenever a grading run ends)."""
    with reader(st.engine) as conn:
        counts = dict(
            conn.execute(select(Submission.status, func.count()).group_by(Submission.status)).all()
        )
        last = conn.execute(select(func.max(Result.id))).scalar() or 0
    return {
        **{k.value: counts.get(k, 0) for k in SubmissionStatus},
        "last_result": last,
    }


@router.get("/events", response_class=StreamingResponse)
async def dashboard_events(request: Request, who: Instructor) -> StreamingResponse:
    """Server-Sent Events for the live dashboard: an ``update`` event with the queue counts
    (``dashboard_mark``) whenever they change."""
    st = app_state(request)

    async def stream():
        last, quiet = None, time.monotonic()
        while not await request.is_disconnected():
            mark = await run_in_threadpool(dashboard_mark, st)
            if mark != last:
                yield f"event: update\ndata: {json.dumps(mark)}\n\n"
                last, quiet = mark, time.monotonic()
            elif time.monotonic() - quiet > 15:
                yield ": keep-alive\n\n"
                quiet = time.monotonic()
            await asyncio.sleep(DASHBOARD_POLL)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
