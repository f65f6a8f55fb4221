"""Instructor downloads added for issue 9: the Moodle grade-import CSV, one submission's
Gradescope ``results.json``."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response

from grader.service import exports
from grader.service.api import ERRORS, Instructor, app_state
from grader.service.errors import ApiError
from grader.service.models import Submission
from grader.service.submissions import current_result

router = APIRouter(prefix="/api/v1/instructor", responses=ERRORS, tags=["instructor"])
CSV_CONTENT = {200: {"content": {"text/csv": {}}}}


@router.get("/gradebook/moodle.csv", responses=CSV_CONTENT)
def moodle_csv(request: Request, who: Instructor, bom: bool = False) -> Response:
    """Best final score per student and assignment in the layout of Moodle's CSV grade import
    (identify users by "Email address" or "ID number")."""
    st = app_state(request)
    with st.sessions() as s:
        text = exports.moodle_csv(exports.gradebook(s, st.catalog))
    return exports.csv_response(text, "moodle-grades.csv", bom)


@router.get("/submissions/{submission_id}/results.json")
def gradescope_results(
    request: Request, who: Instructor, submission_id: str, lang: Literal["ja", "en"] = "ja"
) -> dict:
    """The submission's current result as Gradescope's ``results.json`` (the same formatter
    as ``grader grade --gradescope``; the late penalty is taken off the score)."""
    with app_state(request).sessions() as s:
        sub = s.get(Submission, submission_id) if len(submission_id) <= 64 else None
        if sub is None:
            raise ApiError("submission_not_found")
        res = current_result(s, sub)
        if res is None:
            raise ApiError("not_ready")
        return exports.gradescope_results(res, lang)
