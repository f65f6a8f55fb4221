"""Instructor actions on a whole assignment (issue 9): bulk regrade."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request

from grader.service.api import ERRORS, Instructor, app_state
from grader.service.errors import ApiError
from grader.service.submissions import regrade_assignment

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
