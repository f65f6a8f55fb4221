"""A student's pages: the home page (assignments, rules, downloads, upload form, own
submissions), the upload itself, and one submission with its feedback."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from grader.service.api import app_state
from grader.service.auth import Principal
from grader.service.errors import ApiError
from grader.service.student_rule import visible_assignments
from grader.service.submissions import (
    best_graded,
    create_submission,
    final_score,
    get_visible,
    latest_graded,
    list_submissions,
    submission_view,
)
from grader.service.web import WebUser, render

router = APIRouter(include_in_schema=False)


def score_links(rows) -> dict[str, dict]:  # noqa: ANN001
    """Per assignment: the submission id and final score of the row chosen for it."""
    return {
        sub.assignment_id: {"id": sub.id, "score": final_score(res), "max_score": res.max_score}
        for _user, sub, res, *_ in rows
    }


def listing_view(view: dict) -> dict:
    """A submission row for the tables: ``score``/``max_score`` are None until graded (the
    view omits them when there is no result yet)."""
    view.setdefault("score", None)
    view.setdefault("max_score", None)
    return view


@router.get("/")
def home(request: Request, who: WebUser):
    return home_page(request, who)


def home_page(
    request: Request,
    who: Principal,
    err: ApiError | None = None,
    status: int = 200,
    selected: str | None = None,
):
    st = app_state(request)
    now = time.time()
    with st.sessions() as s:
        subs = [
            listing_view(submission_view(s, x, with_result=False))
            for x in list_submissions(s, who, limit=200)
        ]
        # the same rules as the gradebook (best) and the statistics (latest)
        best = score_links(best_graded(s, user_id=who.user_id))
        latest = score_links(latest_graded(s, user_id=who.user_id))
        assignments = visible_assignments(s, st.catalog, who, now)
    return render(
        request,
        "home.html",
        status=status,
        who=who,
        err=err,
        assignments=assignments,
        latest=latest,
        best=best,
        submissions=subs,
        titles={a.id: a.title for a in st.catalog},
        selected=selected or request.query_params.get("assignment"),
        max_upload_bytes=st.config.max_upload_bytes,
        now_iso=datetime.fromtimestamp(now, UTC).isoformat(),
    )


@router.post("/submit")
async def submit(
    request: Request,
    who: WebUser,
    assignment_id: Annotated[str, Form()] = "",
    notebook: Annotated[UploadFile | None, File()] = None,
):
    st = app_state(request)
    try:
        if not assignment_id:
            raise ApiError("missing_field", field="assignment_id")
        if notebook is None or isinstance(notebook, str) or not notebook.filename:
            raise ApiError("missing_field", field="notebook")
        data = await notebook.read(st.config.max_upload_bytes + 1)
        sub = await run_in_threadpool(
            create_submission, st, who, assignment_id, notebook.filename, data
        )
    except ApiError as err:
        return await run_in_threadpool(home_page, request, who, err, err.status, assignment_id)
    return RedirectResponse(f"/submissions/{sub.id}", status_code=303)


@router.get("/submissions/{submission_id}")
def submission_page(request: Request, who: WebUser, submission_id: str):
    st = app_state(request)
    with st.sessions() as s:
        view = submission_view(s, get_visible(s, who, submission_id), instructor=who.is_instructor)
    info = st.catalog.get(view["assignment_id"])
    return render(request, "submission.html", who=who, sub=view, info=info)
