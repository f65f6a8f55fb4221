"""The job queue, kept in the ``jobs`` table (no broker).

Life of a job: ``queued`` → claimed by one worker (``running``, with a lease token and a
lease expiry that heartbeats push forward) → ``done`` with exactly one ``results`` row, or
back to ``queued`` when the lease expires (worker died), or ``failed`` after
``max_attempts`` claims. Execution is at-least-once; results are written at most once per
job, by the holder of the current lease only, so the effect is exactly-once.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from grader.service.db import reader
from grader.service.models import Job, Result, Submission

EXPIRED_MESSAGE = (
    "採点が{n}回中断されたため中止しました (ワーカーの停止またはタイムアウト)。",
    "Grading was interrupted {n} times (worker stopped or timed out); giving up.",
)


@dataclass(frozen=True)
class ClaimedJob:
    job_id: int
    submission_id: str
    lease_token: str
    attempts: int
    assignment_id: str
    notebook: bytes
    late_days: int


def idempotency_key(submission_id: str, sha256: str, run: int) -> str:
    return f"{submission_id}:{sha256}:{run}"


def enqueue(conn, submission_id: str, sha256: str, run: int, max_attempts: int) -> bool:  # noqa: ANN001
    """Add a job for run ``run`` of a submission, inside the caller's transaction.

    Returns False when a job with the same idempotency key already exists (nothing added).
    """
    key = idempotency_key(submission_id, sha256, run)
    exists = conn.execute(select(Job.id).where(Job.idempotency_key == key)).first()
    if exists:
        return False
    conn.execute(
        insert(Job).values(
            submission_id=submission_id,
            idempotency_key=key,
            status="queued",
            attempts=0,
            max_attempts=max_attempts,
            created_at=time.time(),
        )
    )
    return True


_CLAIM_SQLITE = text(
    """
    UPDATE jobs SET status = 'running', lease_token = :token, worker_id = :worker,
        attempts = attempts + 1, lease_expires_at = :expires, heartbeat_at = :now,
        claimed_at = :now
    WHERE id = (SELECT id FROM jobs WHERE status = 'queued' ORDER BY id LIMIT 1)
      AND status = 'queued'
    RETURNING id, submission_id, attempts
    """
)
_CLAIM_POSTGRES = text(
    """
    UPDATE jobs SET status = 'running', lease_token = :token, worker_id = :worker,
        attempts = attempts + 1, lease_expires_at = :expires, heartbeat_at = :now,
        claimed_at = :now
    WHERE id = (SELECT id FROM jobs WHERE status = 'queued' ORDER BY id LIMIT 1
                FOR UPDATE SKIP LOCKED)
    RETURNING id, submission_id, attempts
    """
)


def has_queued(engine: Engine) -> bool:
    """Cheap look for work (a read that takes no write lock), polled by idle workers so that
    they attempt the locking claim only when there is something to claim."""
    with reader(engine) as conn:
        row = conn.execute(select(Job.id).where(Job.status == "queued").limit(1)).first()
    return row is not None


def claim(engine: Engine, worker_id: str, lease_seconds: float) -> ClaimedJob | None:
    """Atomically take the oldest queued job, or return None when the queue is empty.

    One statement picks and marks the row, so two workers can never both get it: SQLite
    holds the database write lock for the statement (``BEGIN IMMEDIATE``), PostgreSQL skips
    rows other transactions have locked.
    """
    token = secrets.token_hex(16)
    now = time.time()
    stmt = _CLAIM_SQLITE if engine.dialect.name == "sqlite" else _CLAIM_POSTGRES
    with engine.begin() as conn:
        row = conn.execute(
            stmt,
            {"token": token, "worker": worker_id, "expires": now + lease_seconds, "now": now},
        ).first()
        if row is None:
            return None
        job_id, submission_id, attempts = row
        sub = conn.execute(
            select(Submission.assignment_id, Submission.notebook, Submission.late_days).where(
                Submission.id == submission_id
            )
        ).one()
        conn.execute(
            update(Submission).where(Submission.id == submission_id).values(status="running")
        )
    return ClaimedJob(job_id, submission_id, token, attempts, sub[0], bytes(sub[1]), sub[2])


def heartbeat(engine: Engine, job: ClaimedJob, lease_seconds: float) -> bool:
    """Extend the lease; False means the lease was lost (expired and re-claimed)."""
    now = time.time()
    with engine.begin() as conn:
        res = conn.execute(
            update(Job)
            .where(Job.id == job.job_id, Job.lease_token == job.lease_token)
            .where(Job.status == "running")
            .values(heartbeat_at=now, lease_expires_at=now + lease_seconds)
        )
    return res.rowcount == 1


def release(engine: Engine, job: ClaimedJob) -> bool:
    """Give a running job back to the queue (graceful shutdown); the claim is not counted."""
    with engine.begin() as conn:
        res = conn.execute(
            update(Job)
            .where(Job.id == job.job_id, Job.lease_token == job.lease_token)
            .where(Job.status == "running")
            .values(
                status="queued",
                lease_token=None,
                lease_expires_at=None,
                worker_id=None,
                attempts=Job.attempts - 1,
            )
        )
        if res.rowcount == 1:
            _sync_submission_status(conn, job.submission_id)
    return res.rowcount == 1


def requeue_expired(engine: Engine, now: float | None = None) -> tuple[int, int]:
    """Return jobs whose lease ran out to the queue, or fail them after max attempts.

    Returns (requeued, failed).
    """
    now = time.time() if now is None else now
    with reader(engine) as conn:  # the common case, nothing expired, takes no write lock
        if not conn.execute(
            select(Job.id).where(Job.status == "running", Job.lease_expires_at < now).limit(1)
        ).first():
            return 0, 0
    with engine.begin() as conn:
        expired = conn.execute(
            select(Job.id, Job.submission_id, Job.attempts, Job.max_attempts).where(
                Job.status == "running", Job.lease_expires_at < now
            )
        ).all()
        requeued = failed = 0
        for job_id, submission_id, attempts, max_attempts in expired:
            base = update(Job).where(
                Job.id == job_id, Job.status == "running", Job.lease_expires_at < now
            )
            if attempts >= max_attempts:
                ja, en = (m.format(n=attempts) for m in EXPIRED_MESSAGE)
                msg = json.dumps({"ja": ja, "en": en}, ensure_ascii=False)
                res = conn.execute(
                    base.values(status="failed", lease_token=None, finished_at=now, error=msg)
                )
                failed += res.rowcount
            else:
                res = conn.execute(base.values(status="queued", lease_token=None, worker_id=None))
                requeued += res.rowcount
            _sync_submission_status(conn, submission_id)
    return requeued, failed


def complete(
    engine: Engine,
    job: ClaimedJob,
    *,
    outcome: str,
    score: float,
    max_score: float,
    penalty: float,
    payload: dict[str, Any],
    executed_notebook: str | None,
    feedback_html: str | None,
    worker_id: str,
) -> bool:
    """Write the job's result once. False when this worker no longer holds the lease (another
    worker owns the job now) or a result already exists; then nothing is written."""
    now = time.time()
    try:
        with engine.begin() as conn:
            res = conn.execute(
                update(Job)
                .where(Job.id == job.job_id, Job.lease_token == job.lease_token)
                .where(Job.status == "running")
                .values(status="done", finished_at=now, lease_expires_at=None)
            )
            if res.rowcount != 1:
                return False
            result_id = conn.execute(
                insert(Result)
                .values(
                    job_id=job.job_id,
                    submission_id=job.submission_id,
                    outcome=outcome,
                    score=score,
                    max_score=max_score,
                    penalty=penalty,
                    payload=json.dumps(payload, ensure_ascii=False),
                    executed_notebook=executed_notebook,
                    feedback_html=feedback_html,
                    worker_id=worker_id,
                    created_at=now,
                )
                .returning(Result.id)
            ).scalar_one()
            error = None
            if outcome != "graded":
                error = json.dumps(_outcome_message(payload), ensure_ascii=False)
            conn.execute(
                update(Submission)
                .where(Submission.id == job.submission_id)
                .values(current_result_id=result_id, error=error)
            )
            _sync_submission_status(conn, job.submission_id)
    except IntegrityError:  # a result for this job exists already: keep the first
        return False
    return True


def fail(engine: Engine, job: ClaimedJob, message: dict[str, str]) -> bool:
    """Mark a job failed for good (the grader itself crashed on it)."""
    now = time.time()
    with engine.begin() as conn:
        res = conn.execute(
            update(Job)
            .where(Job.id == job.job_id, Job.lease_token == job.lease_token)
            .where(Job.status == "running")
            .values(
                status="failed",
                finished_at=now,
                error=json.dumps(message, ensure_ascii=False),
            )
        )
        if res.rowcount == 1:
            _sync_submission_status(conn, job.submission_id)
    return res.rowcount == 1


def _outcome_message(payload: dict[str, Any]) -> dict[str, str]:
    err = payload.get("error_message") or payload.get("error")
    if isinstance(err, dict):
        return {"ja": str(err.get("ja", err.get("en", ""))), "en": str(err.get("en", ""))}
    if err:
        return {"ja": str(err), "en": str(err)}
    status = payload.get("status", "error")
    return {"ja": f"採点できませんでした ({status})", "en": f"Could not be graded ({status})"}


def _sync_submission_status(conn, submission_id: str) -> None:  # noqa: ANN001
    """Derive the submission's state from its newest job (and that job's result)."""
    job = conn.execute(
        select(Job.status, Job.error, Job.id)
        .where(Job.submission_id == submission_id)
        .order_by(Job.id.desc())
        .limit(1)
    ).first()
    if job is None:
        return
    status, error, job_id = job
    values: dict[str, Any] = {}
    if status in ("queued", "running"):
        values["status"] = status
    elif status == "failed":
        values.update(status="failed", error=error)
    else:  # done: graded unless the engine rejected the notebook or errored
        outcome = conn.execute(select(Result.outcome).where(Result.job_id == job_id)).scalar()
        values["status"] = "graded" if outcome == "graded" else "failed"
    conn.execute(update(Submission).where(Submission.id == submission_id).values(**values))
