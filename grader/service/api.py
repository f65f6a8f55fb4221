"""The JSON API, versioned under ``/api/v1``, plus ``/healthz`` and ``/readyz``.

Authentication: ``Authorization: Bearer <token>``; the web UI's session cookie is accepted
for reading only (GET), so that no other site can make a logged-in browser write.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, PlainTextResponse, Response, StreamingResponse
from sqlalchemy import func, select, text

from grader import __version__
from grader.service import auth, course_settings, exports, schemas, stats
from grader.service.auth import Principal
from grader.service.errors import ApiError
from grader.service.events import STATUS_POLL, ReleasingStream
from grader.service.feedback import feedback_for
from grader.service.models import Job
from grader.service.ratelimit import client_address
from grader.service.security import SAFE_METHODS
from grader.service.state import AppState
from grader.service.states import FINISHED, JobStatus
from grader.service.student_rule import visible_assignments
from grader.service.submissions import (
    create_submission,
    current_result,
    get_visible,
    list_submissions,
    regrade,
    submission_view,
)

SESSION_COOKIE = "grader_session"
ERRORS = {
    code: {"model": schemas.ErrorBody, "description": desc}
    for code, desc in {
        400: "bad upload",
        401: "no or bad token",
        403: "forbidden",
        404: "not found",
        413: "too large",
        422: "missing or invalid field",
        429: "limit reached",
    }.items()
}
# Feedback reports contain the student's own outputs: show them with no script and an opaque
# origin so that nothing in a notebook can act with the viewer's session.
# Only the site's own submission page may frame it.
REPORT_CSP = (
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:;"
    " frame-ancestors 'self'"
)

router = APIRouter(prefix="/api/v1", responses=ERRORS)
health = APIRouter()


def app_state(request: Request) -> AppState:
    return request.app.state.grader


def current_principal(request: Request) -> Principal:
    """The caller, from a bearer token or a session cookie; raises 401 otherwise."""
    st = app_state(request)
    header = request.headers.get("authorization")
    sid = request.cookies.get(SESSION_COOKIE)
    with st.sessions() as s:
        if header:
            address = client_address(request)
            st.login_backoff.check(address)  # wrong tokens count as failed logins
            scheme, _, token = header.partition(" ")
            who = auth.authenticate(s, token.strip()) if scheme.lower() == "bearer" else None
            if who is None:
                st.login_backoff.failed(address)
                raise ApiError("bad_token")
            return who
        if sid:
            if request.method not in SAFE_METHODS:
                raise ApiError("cookie_write")
            who = auth.session_principal(s, sid)
            if who is None:
                raise ApiError("bad_token")
            return who
    raise ApiError("auth_required")


Who = Annotated[Principal, Depends(current_principal)]


def instructor(who: Who) -> Principal:
    if not who.is_instructor:
        raise ApiError("instructor_only")
    return who


Instructor = Annotated[Principal, Depends(instructor)]


# -- health --------------------------------------------------------------------------------------
@health.get("/healthz", response_model=schemas.HealthOut, tags=["health"])
def healthz(request: Request) -> dict:
    """Liveness; also says which sandbox grades the notebooks."""
    return {"status": "ok", "sandbox_mode": app_state(request).sandbox_mode, "version": __version__}


@health.get("/readyz", response_model=schemas.ReadyOut, tags=["health"])
def readyz(request: Request) -> dict:
    """Readiness: the database answers; counts of jobs by state."""
    st = app_state(request)
    with st.sessions() as s:
        s.execute(text("SELECT 1"))
        counts = dict(s.execute(select(Job.status, func.count()).group_by(Job.status)).all())
    return {
        "status": "ready",
        "sandbox_mode": st.sandbox_mode,
        "database": st.engine.dialect.name,
        "assignments": len(st.catalog.assignments),
        "queue": {k.value: counts.get(k, 0) for k in JobStatus},
    }


# -- student endpoints ---------------------------------------------------------------------------
@router.get("/me", response_model=schemas.MeOut, tags=["students"])
def me(who: Who) -> dict:
    return {"user_id": who.user_id, "name": who.name, "role": who.role}


@router.get("/assignments", response_model=list[schemas.AssignmentOut], tags=["students"])
def assignments(request: Request, who: Who) -> list[dict]:
    """The released assignments with their graded items, points and the late rule that applies
    to the caller (their own deadline, extension included)."""
    st = app_state(request)
    with st.sessions() as s:
        return visible_assignments(s, st.catalog, who)


@router.post(
    "/submissions", status_code=202, response_model=schemas.SubmissionOut, tags=["students"]
)
async def submit(
    request: Request,
    who: Who,
    assignment_id: Annotated[str | None, Form(description="e.g. 3-1-2_softmax_with_loss")] = None,
    notebook: Annotated[UploadFile | None, File(description="the .ipynb file")] = None,
) -> dict:
    """Store the notebook and queue it for grading; answers at once with the submission id.

    The notebook is in the database before this returns."""
    if not assignment_id:
        raise ApiError("missing_field", field="assignment_id")
    if notebook is None or isinstance(notebook, str):
        raise ApiError("missing_field", field="notebook")
    st = app_state(request)
    data = await notebook.read(st.config.max_upload_bytes + 1)
    sub = await run_in_threadpool(
        create_submission, st, who, assignment_id, notebook.filename, data
    )
    return await run_in_threadpool(_view, st, who, sub.id)


def _view(st: AppState, who: Principal, submission_id: str, with_result: bool = True) -> dict:
    with st.sessions() as s:
        sub = get_visible(s, who, submission_id)
        return submission_view(s, sub, with_result=with_result, instructor=who.is_instructor)


@router.get("/submissions", response_model=list[schemas.SubmissionOut], tags=["students"])
def my_submissions(request: Request, who: Who, assignment_id: str | None = None) -> list[dict]:
    """The caller's own submissions, newest first (scores without item details)."""
    st = app_state(request)
    with st.sessions() as s:
        subs = list_submissions(s, who, assignment_id=assignment_id)
        return [submission_view(s, x, with_result=False) for x in subs]


@router.get("/submissions/{submission_id}", response_model=schemas.SubmissionOut, tags=["students"])
def submission(request: Request, who: Who, submission_id: str) -> dict:
    """Status and, once graded, the per-item result."""
    return _view(app_state(request), who, submission_id)


@router.get(
    "/submissions/{submission_id}/events",
    tags=["students"],
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "status events"}},
)
async def submission_events(request: Request, who: Who, submission_id: str) -> StreamingResponse:
    """Server-Sent Events: an ``event: status`` with ``{id, status, score, max_score}`` at
    each change; the stream ends after ``graded`` or ``failed``."""
    st = app_state(request)
    await run_in_threadpool(_view, st, who, submission_id, False)  # 404 before streaming
    if not st.streams.acquire(who.user_id):
        raise ApiError("too_many_streams", limit=st.streams.per_user)

    async def stream():
        last = None
        quiet_since = time.monotonic()
        seq = 0
        while not await request.is_disconnected():
            # the status row, read once per STATUS_POLL for all streams of this submission;
            # the full view (score, message) is built only when that row changed
            mark = await st.status_marks.get(submission_id)
            if mark != last:
                view = await run_in_threadpool(_view, st, who, submission_id, False)
                event = {k: view.get(k) for k in ("id", "status", "score", "max_score", "error")}
                seq += 1
                yield f"id: {seq}\nevent: status\ndata: {json.dumps(event)}\n\n"
                last, quiet_since = mark, time.monotonic()
                if event["status"] in FINISHED:
                    return
            elif time.monotonic() - quiet_since > 15:
                yield ": keep-alive\n\n"
                quiet_since = time.monotonic()
            await asyncio.sleep(STATUS_POLL)

    return ReleasingStream(
        stream(),
        release=lambda: st.streams.release(who.user_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _result_or_error(st: AppState, who: Principal, submission_id: str, what: str):
    with st.sessions() as s:
        sub = get_visible(s, who, submission_id)
        if not who.is_instructor and not course_settings.results_visible(
            s, sub.assignment_id, sub.user_id
        ):
            raise ApiError("results_hidden", assignment_id=sub.assignment_id)
        res = current_result(s, sub)
        if res is None:
            raise ApiError("not_ready")
        result_id = res.id
        value = res.executed_notebook if what != "feedback" else res.feedback_html
    if what == "feedback" and value is None:
        # First download: render and store it (after the session above has ended: on SQLite
        # it holds the write lock that storing the page needs).
        value = feedback_for(st.engine, result_id)
    if value is None:
        raise ApiError("no_output", what=what)
    return sub, value


@router.get(
    "/submissions/{submission_id}/feedback",
    response_class=HTMLResponse,
    tags=["students"],
)
def feedback(request: Request, who: Who, submission_id: str) -> HTMLResponse:
    """The feedback report (per-item table and the executed notebook) as HTML."""
    _sub, html = _result_or_error(app_state(request), who, submission_id, "feedback")
    return HTMLResponse(
        html, headers={"Content-Security-Policy": REPORT_CSP, "X-Frame-Options": "SAMEORIGIN"}
    )


@router.get(
    "/submissions/{submission_id}/executed.ipynb",
    tags=["students"],
    responses={200: {"content": {"application/x-ipynb+json": {}}}},
)
def executed_notebook(request: Request, who: Who, submission_id: str) -> Response:
    """The notebook as the grader ran it, outputs included."""
    sub, nb = _result_or_error(app_state(request), who, submission_id, "executed notebook")
    name = sub.filename.removesuffix(".ipynb") + ".executed.ipynb"
    return Response(
        nb,
        media_type="application/x-ipynb+json",
        headers={"Content-Disposition": f'attachment; filename="{_ascii(name)}"'},
    )


def _ascii(name: str) -> str:
    return "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name)


# -- instructor endpoints ------------------------------------------------------------------------
@router.get(
    "/instructor/submissions", response_model=list[schemas.SubmissionOut], tags=["instructor"]
)
def all_submissions(
    request: Request,
    who: Instructor,
    assignment_id: str | None = None,
    student_id: str | None = None,
    status: Annotated[str | None, Query(pattern="^(queued|running|graded|failed)$")] = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
) -> list[dict]:
    """Every submission (filterable), with the worker that holds or held its job."""
    st = app_state(request)
    with st.sessions() as s:
        subs = list_submissions(
            s,
            who,
            everyone=True,
            assignment_id=assignment_id,
            student_id=student_id,
            status=status,
            limit=limit,
        )
        return [submission_view(s, x, with_result=False, instructor=True) for x in subs]


@router.get(
    "/instructor/submissions/{submission_id}/original.ipynb",
    tags=["instructor"],
    responses={200: {"content": {"application/x-ipynb+json": {}}}},
)
def original_notebook(request: Request, who: Instructor, submission_id: str) -> Response:
    """The notebook exactly as the student uploaded it (the executed one is rebuilt by the
    grader: locked cells restored, self-checks neutralised, outputs of the graded run)."""
    with app_state(request).sessions() as s:
        sub = get_visible(s, who, submission_id)
        data, name = sub.notebook, sub.filename
    return Response(
        data,
        media_type="application/x-ipynb+json",
        headers={"Content-Disposition": f'attachment; filename="{_ascii(name)}"'},
    )


@router.post(
    "/instructor/submissions/{submission_id}/regrade",
    status_code=202,
    response_model=schemas.SubmissionOut,
    tags=["instructor"],
)
def regrade_one(request: Request, who: Instructor, submission_id: str) -> dict:
    """Queue the stored notebook for grading again."""
    st = app_state(request)
    regrade(st, submission_id)
    return _view(st, who, submission_id, with_result=False)


@router.post("/instructor/roster", response_model=schemas.RosterOut, tags=["instructor"])
async def import_roster(
    request: Request,
    who: Instructor,
    roster: Annotated[UploadFile | None, File(description="CSV: student_id,name,email")] = None,
) -> dict:
    """Create or update students and issue each a new token (shown only in this answer)."""
    if roster is None or isinstance(roster, str):
        raise ApiError("missing_field", field="roster")
    raw = await roster.read()
    try:
        entries = auth.parse_roster(raw.decode("utf-8"))
    except (UnicodeDecodeError, auth.RosterError) as exc:
        raise ApiError("bad_roster", detail=str(exc)) from exc
    st = app_state(request)

    def _do() -> list:
        with st.sessions.begin() as s:
            return auth.import_roster(s, entries)

    issued = await run_in_threadpool(_do)
    return {
        "imported": len(issued),
        "tokens": [
            {"student_id": e.student_id, "name": e.name, "email": e.email, "token": t}
            for e, t in issued
        ],
    }


@router.get(
    "/instructor/gradebook.csv",
    response_class=PlainTextResponse,
    tags=["instructor"],
    responses={200: {"content": {"text/csv": {}}}},
)
def gradebook_csv(
    request: Request, who: Instructor, assignment_id: str | None = None, bom: bool = False
):
    """Gradebook in the column layout of ``nbgrader export`` (the best graded submission);
    ``bom=true``: UTF-8 with a byte order mark, for Excel."""
    st = app_state(request)
    if assignment_id and st.catalog.get(assignment_id) is None:
        raise ApiError("unknown_assignment", assignment_id=assignment_id)
    with st.sessions() as s:
        body = exports.nbgrader_csv(s, st.catalog, assignment_id)
    return exports.csv_response(body, "grades.csv", bom)


@router.get("/instructor/gradebook", tags=["instructor"])
def gradebook_table(request: Request, who: Instructor) -> dict:
    """Student × assignment best final score (late penalty applied), with totals."""
    st = app_state(request)
    with st.sessions() as s:
        return exports.gradebook(s, st.catalog)


@router.get(
    "/instructor/gradebook/best.csv",
    response_class=PlainTextResponse,
    tags=["instructor"],
    responses={200: {"content": {"text/csv": {}}}},
)
def gradebook_table_csv(request: Request, who: Instructor, bom: bool = False):
    """The gradebook table as CSV: student_id, name, email, one column per assignment (best
    final score, empty when nothing is graded), total."""
    st = app_state(request)
    with st.sessions() as s:
        body = exports.gradebook_table_csv(exports.gradebook(s, st.catalog))
    return exports.csv_response(body, "gradebook.csv", bom)


@router.get("/instructor/gradebook/{assignment_id}/gradescope.json", tags=["instructor"])
def gradebook_gradescope(request: Request, who: Instructor, assignment_id: str) -> dict:
    """Each student's graded submission that counts (the best final score, as in the
    gradebook) as a Gradescope ``results.json``."""
    st = app_state(request)
    if st.catalog.get(assignment_id) is None:
        raise ApiError("unknown_assignment", assignment_id=assignment_id)
    with st.sessions() as s:
        return exports.gradescope_export(s, assignment_id)


@router.get(
    "/instructor/stats/{assignment_id}", response_model=schemas.StatsOut, tags=["instructor"]
)
def assignment_statistics(request: Request, who: Instructor, assignment_id: str) -> dict:
    """Per-item pass rates and the score histogram of the latest graded submissions."""
    st = app_state(request)
    if st.catalog.get(assignment_id) is None:
        raise ApiError("unknown_assignment", assignment_id=assignment_id)
    with st.sessions() as s:
        return stats.assignment_stats(s, st.catalog, assignment_id)
