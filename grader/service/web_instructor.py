"""The instructor's pages: the dashboard (every submission, pass rates, mistakes, who has not
submitted), the gradebook, and a regrade from a submission's page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from grader.service import exports, stats
from grader.service.api import app_state
from grader.service.submissions import list_submissions, regrade, submission_view
from grader.service.web import WebInstructor, render
from grader.service.web_student import listing_view

router = APIRouter(include_in_schema=False)


@router.get("/instructor")
def instructor_page(request: Request, who: WebInstructor, assignment_id: str | None = None):
    st = app_state(request)
    with st.sessions() as s:
        subs = [
            listing_view(submission_view(s, x, with_result=False, instructor=True))
            for x in list_submissions(s, who, everyone=True, assignment_id=assignment_id, limit=500)
        ]
        per_assignment = [stats.assignment_stats(s, st.catalog, a.id) for a in st.catalog]
    return render(
        request,
        "instructor.html",
        who=who,
        submissions=subs,
        stats=per_assignment,
        titles={a.id: a.title for a in st.catalog},
        items={a.id: {i.id: i for i in a.items} for a in st.catalog},
    )


@router.get("/instructor/gradebook")
def gradebook_page(request: Request, who: WebInstructor):
    st = app_state(request)
    with st.sessions() as s:
        book = exports.gradebook(s, st.catalog)
    return render(request, "gradebook.html", who=who, book=book)


@router.post("/instructor/regrade/{submission_id}")
def regrade_form(request: Request, who: WebInstructor, submission_id: str):
    regrade(app_state(request), submission_id)
    return RedirectResponse(f"/submissions/{submission_id}", status_code=303)
