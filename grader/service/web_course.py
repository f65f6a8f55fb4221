"""Instructor web pages of issue 9: course settings and extensions (``/instructor/settings``),
the bulk-regrade form of the dashboard, and a submission's score-override and comment forms.
They call the same functions as the API (``course_settings.apply_settings``,
``regrade_assignment``, ``adjustments``), so a form and a request behave alike, refusals
included (shown on the site's error page, in the user's language)."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from grader.service import adjustments, course_settings
from grader.service.api import app_state
from grader.service.auth import Principal
from grader.service.catalog import COURSE_TZ
from grader.service.errors import ApiError
from grader.service.models import Submission
from grader.service.submissions import regrade_assignment
from grader.service.web import WebInstructor, render

router = APIRouter(include_in_schema=False)


def _local_input(ts: float | None) -> str:
    """A time stamp as the value of an ``<input type="datetime-local">`` (JST)."""
    if ts is None:
        return ""
    from datetime import datetime

    return datetime.fromtimestamp(ts, COURSE_TZ).strftime("%Y-%m-%dT%H:%M")


def settings_page(request: Request, who: Principal, err: ApiError | None = None, status: int = 200):
    st = app_state(request)
    with st.sessions() as s:
        rows = []
        for info in st.catalog:
            cur = course_settings.get_settings(s, info.id)
            rows.append(
                {
                    "id": info.id,
                    "title": info.title,
                    "s": cur,
                    "deadline": _local_input(cur.deadline),
                    "release_at": _local_input(cur.release_at),
                    "carries": sorted(st.catalog.reveals.get(info.id, ())),
                }
            )
        extensions = [
            {**course_settings.extension_view(e), "deadline_ts": e.deadline}
            for e in course_settings.list_extensions(s)
        ]
    return render(
        request,
        "instructor_settings.html",
        status=status,
        who=who,
        rows=rows,
        extensions=extensions,
        err=err,
        saved=request.query_params.get("saved"),
    )


@router.get("/instructor/settings")
def settings_get(request: Request, who: WebInstructor):
    return settings_page(request, who)


def _or_none(value: str) -> str | None:
    return value.strip() or None


@router.post("/instructor/settings/{assignment_id}")
def settings_post(
    request: Request,
    who: WebInstructor,
    assignment_id: str,
    deadline: str = Form(""),
    release_at: str = Form(""),
    late_policy: str = Form("penalty"),
    penalty_percent: str = Form("10"),
    max_late_days: str = Form(""),
    results_visible: str = Form("immediately"),
):
    st = app_state(request)
    try:
        if st.catalog.get(assignment_id) is None:
            raise ApiError("unknown_assignment", assignment_id=assignment_id[:100])
        try:
            per_day = float(penalty_percent) / 100
            days = int(max_late_days) if max_late_days.strip() else None
        except ValueError as exc:
            raise ApiError("bad_setting", detail=f"not a number: {exc}") from exc
        raw = {
            "deadline": _or_none(deadline),
            "release_at": _or_none(release_at),
            "late_policy": late_policy,
            "penalty_per_day": per_day,
            "max_late_days": days,
            "results_visible": results_visible,
        }
        with st.sessions.begin() as s:
            course_settings.apply_settings(s, st.catalog.reveals, assignment_id, raw, who.user_id)
    except ApiError as err:
        return settings_page(request, who, err, err.status)
    return RedirectResponse(f"/instructor/settings?saved={assignment_id}", status_code=303)


@router.post("/instructor/extensions")
def extension_post(
    request: Request,
    who: WebInstructor,
    student_id: str = Form(""),
    assignment_id: str = Form(""),
    deadline: str = Form(""),
    reason: str = Form(""),
):
    st = app_state(request)
    try:
        if st.catalog.get(assignment_id) is None:
            raise ApiError("unknown_assignment", assignment_id=assignment_id[:100])
        when = course_settings.parse_deadline(deadline)
        with st.sessions.begin() as s:
            course_settings.put_extension(
                s,
                student_id.strip(),
                assignment_id,
                when,
                reason.strip()[:500],
                who.user_id,
                reveals=st.catalog.reveals,
            )
    except ApiError as err:
        return settings_page(request, who, err, err.status)
    return RedirectResponse("/instructor/settings?saved=extension#extensions", status_code=303)


@router.post("/instructor/extensions/delete")
def extension_delete(
    request: Request, who: WebInstructor, student_id: str = Form(""), assignment_id: str = Form("")
):
    with app_state(request).sessions.begin() as s:
        ext = course_settings.extension_for(s, student_id, assignment_id)
        if ext is not None:
            s.delete(ext)
    return RedirectResponse("/instructor/settings#extensions", status_code=303)


@router.post("/instructor/assignments/{assignment_id}/regrade")
def bulk_regrade_form(
    request: Request, who: WebInstructor, assignment_id: str, only: str = Form("all")
):
    st = app_state(request)
    if st.catalog.get(assignment_id) is None or only not in ("all", "failed"):
        raise ApiError("unknown_assignment", assignment_id=assignment_id[:100])
    queued = regrade_assignment(st, assignment_id, only_failed=only == "failed")
    return RedirectResponse(
        f"/instructor?regraded={len(queued)}#stats-{assignment_id}", status_code=303
    )


def _back_to(submission_id: str) -> RedirectResponse:
    return RedirectResponse(f"/submissions/{submission_id}#adjust", status_code=303)


@router.post("/instructor/submissions/{submission_id}/override")
def override_form(
    request: Request,
    who: WebInstructor,
    submission_id: str,
    score: str = Form(""),
    reason: str = Form(""),
):
    """Override the score (empty score: clear the override), with a reason."""
    try:
        value = float(score) if score.strip() else None
    except ValueError as exc:
        raise ApiError("bad_adjustment", detail=f"score {score!r} is not a number") from exc
    with app_state(request).sessions.begin() as s:
        sub = s.get(Submission, submission_id) if len(submission_id) <= 64 else None
        if sub is None:
            raise ApiError("submission_not_found")
        adjustments.override(s, sub, value, reason, who.user_id)
    return _back_to(submission_id)


@router.post("/instructor/submissions/{submission_id}/comment")
def comment_form(request: Request, who: WebInstructor, submission_id: str, text: str = Form("")):
    with app_state(request).sessions.begin() as s:
        sub = s.get(Submission, submission_id) if len(submission_id) <= 64 else None
        if sub is None:
            raise ApiError("submission_not_found")
        adjustments.comment(s, sub, text, who.user_id)
    return _back_to(submission_id)
