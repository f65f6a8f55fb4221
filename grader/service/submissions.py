"""Submitting, reading and regrading, shared by the JSON API and the web UI.

Limits are checked and the submission and its job are inserted in one write transaction,
so two uploads racing each other cannot both slip under a limit.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grader.engine.result import stored_items, stored_reason
from grader.engine.text import Bilingual
from grader.service import adjustments, course_settings, queue
from grader.service.auth import Principal
from grader.service.catalog import course_time
from grader.service.errors import ApiError
from grader.service.models import Job, Result, Submission, User
from grader.service.state import AppState
from grader.service.states import FINISHED, Outcome, SubmissionStatus
from grader.service.uploads import check_filename, check_notebook_bytes


def iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat()


def create_submission(
    st: AppState, who: Principal, assignment_id: str, filename: str | None, data: bytes
) -> Submission:
    """Validate and store an upload and queue its grading; raises ApiError on refusal."""
    cfg = st.config
    info = st.catalog.get(assignment_id)
    if info is None:
        raise ApiError("unknown_assignment", assignment_id=assignment_id[:100])
    name = check_filename(filename)
    check_notebook_bytes(data, cfg.max_upload_bytes)
    now = time.time()
    with st.sessions.begin() as s:
        policy = course_settings.policy_for(s, assignment_id, who.user_id)
        if not who.is_instructor:
            if not course_settings.is_released(s, assignment_id, who.user_id, now):
                release_at = course_settings.get_settings(s, assignment_id).release_at
                raise ApiError(
                    "not_released",
                    assignment_id=assignment_id,
                    release_at=course_time(release_at) if release_at else "-",
                )
            if policy.refuses(now):
                raise ApiError(
                    "deadline_passed", assignment_id=assignment_id, deadline=iso(policy.deadline)
                )
            pending = s.scalar(
                select(func.count(Submission.id)).where(
                    Submission.user_id == who.user_id,
                    Submission.status.in_((SubmissionStatus.QUEUED, SubmissionStatus.RUNNING)),
                )
            )
            if pending >= cfg.max_queued_per_student:
                raise ApiError("too_many_queued", limit=cfg.max_queued_per_student)
            used = s.scalar(
                select(func.count(Submission.id)).where(
                    Submission.user_id == who.user_id,
                    Submission.assignment_id == assignment_id,
                )
            )
            if used >= cfg.max_attempts_per_assignment:
                raise ApiError(
                    "too_many_attempts",
                    assignment_id=assignment_id,
                    limit=cfg.max_attempts_per_assignment,
                )
        sub = Submission(
            id=uuid.uuid4().hex,
            user_id=who.user_id,
            assignment_id=assignment_id,
            filename=name,
            notebook=data,
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
            created_at=now,
            late_days=policy.late_days(now),
            status=SubmissionStatus.QUEUED,
            runs=1,
        )
        s.add(sub)
        s.flush()
        queue.enqueue(s.connection(), sub.id, sub.sha256, 1, cfg.max_job_attempts)
    return sub


def regrade(st: AppState, submission_id: str) -> Submission:
    """Queue a new grading run of a stored submission (its old result stays until then)."""
    with st.sessions.begin() as s:
        sub = s.get(Submission, submission_id)
        if sub is None:
            raise ApiError("submission_not_found")
        sub.runs += 1
        sub.status = SubmissionStatus.QUEUED
        # late days from today's rule (an extension granted since counts at the regrade)
        sub.late_days = course_settings.policy_for(s, sub.assignment_id, sub.user_id).late_days(
            sub.created_at
        )
        sub.error = None
        queue.enqueue(s.connection(), sub.id, sub.sha256, sub.runs, st.config.max_job_attempts)
    return sub


def regrade_assignment(st: AppState, assignment_id: str, only_failed: bool) -> list[str]:
    """Queue a new run of every submission of an assignment (``only_failed``: those whose
    grading failed or whose result is short of full marks). Submissions already waiting or
    running are left alone. Returns the ids queued."""
    with st.sessions.begin() as s:
        subs = list(
            s.scalars(
                select(Submission).where(
                    Submission.assignment_id == assignment_id,
                    Submission.status.in_(FINISHED),
                )
            )
        )
        chosen = []
        for sub in subs:
            res = current_result(s, sub)
            perfect = (
                res is not None and res.outcome == Outcome.GRADED and res.score >= res.max_score
            )
            if not (only_failed and perfect):
                chosen.append(sub.id)
    for sid in chosen:
        regrade(st, sid)
    return chosen


def get_visible(s: Session, who: Principal, submission_id: str) -> Submission:
    """The submission if ``who`` may see it; others' ids look exactly like missing ones."""
    sub = s.get(Submission, submission_id) if len(submission_id) <= 64 else None
    if sub is None or (not who.is_instructor and sub.user_id != who.user_id):
        raise ApiError("submission_not_found")
    return sub


def current_result(s: Session, sub: Submission) -> Result | None:
    return s.get(Result, sub.current_result_id) if sub.current_result_id else None


def _message(raw: str | None) -> Bilingual | None:
    if not raw:
        return None
    try:
        msg = json.loads(raw)
    except json.JSONDecodeError:
        return {"ja": raw, "en": raw}
    return msg if isinstance(msg, dict) else {"ja": str(msg), "en": str(msg)}


def result_view(res: Result | None) -> dict[str, Any] | None:
    if res is None:
        return None
    payload = json.loads(res.payload)
    return {
        "outcome": res.outcome,
        "score": res.score,
        "max_score": res.max_score,
        "penalty": res.penalty,
        "final_score": final_score(res),
        "override_score": res.override_score,
        "items": stored_items(payload),
        "sandbox_mode": payload.get("sandbox_mode"),
        "timings": payload.get("timings", {}),
        "error": stored_reason(payload),
        "graded_at": iso(res.created_at),
        "has_executed_notebook": res.executed_notebook is not None,
        "has_feedback": True,  # rendered from the stored result on first download
    }


def submission_view(
    s: Session, sub: Submission, *, with_result: bool = True, instructor: bool = False
) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": sub.id,
        "assignment_id": sub.assignment_id,
        "student_id": sub.user_id,
        "filename": sub.filename,
        "size": sub.size,
        "sha256": sub.sha256,
        "submitted_at": iso(sub.created_at),
        "late_days": sub.late_days,
        "status": sub.status,
        "error": _message(sub.error),
        "result": None,
        "results_hidden": False,
    }
    if not instructor and not course_settings.results_visible(s, sub.assignment_id, sub.user_id):
        # "received, graded" only: score and items wait for the student's deadline
        view["results_hidden"] = True
    elif with_result:
        view["result"] = result_view(current_result(s, sub))
        view["comments"] = adjustments.comments(s, sub.id)
    else:
        res = current_result(s, sub)
        if res is not None:
            view["score"] = final_score(res)
            view["max_score"] = res.max_score
    if instructor:
        job = s.execute(
            select(Job.worker_id, Job.attempts, Job.status)
            .where(Job.submission_id == sub.id)
            .order_by(Job.id.desc())
            .limit(1)
        ).first()
        view["job"] = {"worker_id": job[0], "attempts": job[1], "status": job[2]} if job else None
    return view


def list_submissions(
    s: Session,
    who: Principal,
    *,
    everyone: bool = False,
    assignment_id: str | None = None,
    student_id: str | None = None,
    status: str | None = None,
    limit: int = 500,
) -> list[Submission]:
    q = select(Submission).order_by(Submission.created_at.desc()).limit(limit)
    if not (everyone and who.is_instructor):
        q = q.where(Submission.user_id == who.user_id)
    elif student_id:
        q = q.where(Submission.user_id == student_id)
    if assignment_id:
        q = q.where(Submission.assignment_id == assignment_id)
    if status:
        q = q.where(Submission.status == status)
    return list(s.scalars(q))


def final_score(res: Result) -> float:
    """What a result counts for in the grade: the instructor's override when there is one,
    else the score minus the late penalty, at least 0."""
    if res.override_score is not None:
        return res.override_score
    return max(0.0, res.score - res.penalty)


def _graded_rows(s: Session, assignment_id: str | None, user_id: str | None = None):
    q = (
        select(User, Submission, Result)
        .join(Submission, Submission.user_id == User.id)
        .join(Result, Result.id == Submission.current_result_id)
        .where(Result.outcome == Outcome.GRADED)
        .order_by(Submission.created_at, Submission.id)
    )
    if assignment_id:
        q = q.where(Submission.assignment_id == assignment_id)
    if user_id:
        q = q.where(Submission.user_id == user_id)
    return s.execute(q)


def latest_graded(
    s: Session, assignment_id: str | None = None, user_id: str | None = None
) -> list[tuple[User, Submission, Result]]:
    """For each (student, assignment): the newest graded submission (statistics: where the
    class stands now). Rejected or failed submissions are not results to count."""
    latest: dict[tuple[str, str], tuple[User, Submission, Result]] = {}
    for user, sub, res in _graded_rows(s, assignment_id, user_id):
        latest[(user.id, sub.assignment_id)] = (user, sub, res)  # later rows win
    return list(latest.values())


def best_graded(
    s: Session, assignment_id: str | None = None, user_id: str | None = None
) -> list[tuple[User, Submission, Result, int]]:
    """For each (student, assignment): the graded submission with the best final score (the
    grade; ties: the earliest), and how many graded submissions there were. Every export of
    grades (gradebook, nbgrader CSV, Gradescope) uses this one rule."""
    best: dict[tuple[str, str], tuple[User, Submission, Result]] = {}
    counts: dict[tuple[str, str], int] = {}
    for user, sub, res in _graded_rows(s, assignment_id, user_id):
        key = (user.id, sub.assignment_id)
        counts[key] = counts.get(key, 0) + 1
        if key not in best or final_score(res) > final_score(best[key][2]):
            best[key] = (user, sub, res)
    return [(*row, counts[key]) for key, row in best.items()]
