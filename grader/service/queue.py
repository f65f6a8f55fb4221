"""The job queue, kept in the ``jobs`` table (no broker).

Life of a job: ``queued`` → claimed by one worker (``running``, with a lease token and a
lease expiry that heartbeats push forward) → ``done`` with exactly one ``results`` row, or
back to ``queued`` when the lease expires (worker died), or ``failed`` after
``max_attempts`` claims. Execution is at-least-once; results are written at most once per
job, by the holder of the current lease only, so the effect is exactly-once.

Claim order (fair share: one mechanism for both a deadline's mixed load and one student
queuing many slow notebooks):

* **Per-student round robin.** Each job gets a ``fair_key`` when it is queued: the round now
  being served (the lower of the highest key claimed so far and the lowest key still queued),
  or one more than the same student's newest key, whichever is larger. Workers take the lowest
  key, oldest first. A student's keys strictly increase, so a student's k-th pending job waits
  in round k; a student with nothing pending joins the current round, ahead of everyone's
  later jobs. Another student's queued jobs can therefore get ahead of a job by at most one
  (the tie in its own round), and it waits otherwise only for the jobs already running: at
  most one job's run time per worker.
* **Starvation-free.** The round being served never goes back (except for a job returned by an
  expired lease), new jobs get keys at or above it and each student has at most one job per
  key, so only finitely many jobs (students x rounds) can ever be claimed before a given job.
* **Lanes.** Each job also carries the run time its assignment's own past gradings predict
  (``expected_seconds``: the median of the last ``COST_SAMPLES`` finished runs; None until it
  has been graded once). A ``light-first`` worker takes, in the same fair order, jobs expected
  to finish within ``light_seconds`` before any other; every other worker (``any``) ignores the
  lanes. ``grader serve`` makes slot 0 light-first when it runs two or more workers, so a
  1-second notebook is not stuck behind 20-second ones and heavy jobs always have a worker.
  ``fifo`` (oldest first, the order before this) is kept as bench/fairness.py's baseline.
"""

from __future__ import annotations

import json
import secrets
import statistics
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, insert, select, text, union_all, update
from sqlalchemy.exc import IntegrityError

from grader.engine.result import stored_reason
from grader.engine.text import Bilingual
from grader.service.db import reader
from grader.service.lanes import LANES, LIGHT_SECONDS
from grader.service.models import Job, Result, Submission
from grader.service.states import JobStatus, Outcome, SubmissionStatus

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


COST_SAMPLES = 20  # finished runs of an assignment its expected run time is learned from
SERVED_STATES = (JobStatus.RUNNING, JobStatus.DONE, JobStatus.FAILED)


def enqueue(
    conn,  # noqa: ANN001
    submission_id: str,
    sha256: str,
    run: int,
    max_attempts: int,
    now: float | None = None,
) -> bool:
    """Add a job for run ``run`` of a submission, inside the caller's transaction.

    Returns False when a job with the same idempotency key already exists (nothing added).
    """
    key = idempotency_key(submission_id, sha256, run)
    exists = conn.execute(select(Job.id).where(Job.idempotency_key == key)).first()
    if exists:
        return False
    user_id, assignment_id = conn.execute(
        select(Submission.user_id, Submission.assignment_id).where(Submission.id == submission_id)
    ).one()
    conn.execute(
        insert(Job).values(
            submission_id=submission_id,
            idempotency_key=key,
            status=JobStatus.QUEUED,
            attempts=0,
            max_attempts=max_attempts,
            created_at=time.time() if now is None else now,
            user_id=user_id,
            assignment_id=assignment_id,
            fair_key=next_fair_key(conn, user_id),
            expected_seconds=expected_seconds(conn, assignment_id),
        )
    )
    return True


def next_fair_key(conn, user_id: str) -> int:  # noqa: ANN001
    """The round a new job of ``user_id`` joins (module docstring). Each part is a lookup on
    the index (status, fair_key) or (user_id, fair_key), not a scan of the queue."""
    per_state = [
        select(func.max(Job.fair_key).label("k")).where(Job.status == state)
        for state in SERVED_STATES
    ]
    served = conn.execute(select(func.max(union_all(*per_state).subquery().c.k))).scalar()
    waiting = conn.execute(
        select(func.min(Job.fair_key)).where(Job.status == JobStatus.QUEUED)
    ).scalar()
    rounds = [k for k in (served, waiting) if k is not None]
    current = min(rounds) if rounds else 0
    last = conn.execute(select(func.max(Job.fair_key)).where(Job.user_id == user_id)).scalar()
    return current if last is None else max(current, last + 1)


def expected_seconds(conn, assignment_id: str) -> float | None:  # noqa: ANN001
    """Median run time of the assignment's last finished jobs; None when it has none yet."""
    runs = conn.execute(
        select(Job.finished_at - Job.claimed_at)
        .where(Job.assignment_id == assignment_id, Job.status == JobStatus.DONE)
        .order_by(Job.id.desc())
        .limit(COST_SAMPLES)
    ).scalars()
    known = [r for r in runs if r is not None]
    return statistics.median(known) if known else None


_SET_RUNNING = f"""
    UPDATE jobs SET status = '{JobStatus.RUNNING}', lease_token = :token, worker_id = :worker,
        attempts = attempts + 1, lease_expires_at = :expires, heartbeat_at = :now,
        claimed_at = :now
"""
_ORDERS = {"fair": "fair_key, id", "fifo": "id"}


def _claim_sql(dialect: str, order: str, light_only: bool):  # noqa: ANN202
    """One statement that picks the first queued job in ``order`` and marks it running."""
    lane = " AND expected_seconds <= :light" if light_only else ""
    queued = f"status = '{JobStatus.QUEUED}'"
    pick = f"SELECT id FROM jobs WHERE {queued}{lane} ORDER BY {_ORDERS[order]} LIMIT 1"
    if dialect == "sqlite":  # the statement holds the write lock (BEGIN IMMEDIATE)
        where = f"WHERE id = ({pick}) AND {queued}"
    else:  # rows other transactions are claiming are skipped, not waited for
        where = f"WHERE id = ({pick} FOR UPDATE SKIP LOCKED)"
    return text(f"{_SET_RUNNING} {where} RETURNING id, submission_id, attempts")


_CLAIM = {
    (dialect, order, light): _claim_sql(dialect, order, light)
    for dialect in ("sqlite", "postgresql")
    for order in _ORDERS
    for light in (False, True)
}


def has_queued(engine: Engine) -> bool:
    """Cheap look for work (a read that takes no write lock), polled by idle workers so that
    they attempt the locking claim only when there is something to claim."""
    with reader(engine) as conn:
        row = conn.execute(select(Job.id).where(Job.status == JobStatus.QUEUED).limit(1)).first()
    return row is not None


def claim(
    engine: Engine,
    worker_id: str,
    lease_seconds: float,
    *,
    lane: str = "any",
    light_seconds: float = LIGHT_SECONDS,
    now: float | None = None,
) -> ClaimedJob | None:
    """Atomically take the next queued job in the fair order for this worker's ``lane``
    (module docstring), or return None when the queue is empty.

    One statement picks and marks the row, so two workers can never both get it: SQLite
    holds the database write lock for the statement (``BEGIN IMMEDIATE``), PostgreSQL skips
    rows other transactions have locked.
    """
    if lane not in LANES:
        raise ValueError(f"lane must be one of {', '.join(LANES)}, got {lane!r}")
    now = time.time() if now is None else now
    token = secrets.token_hex(16)
    dialect = "sqlite" if engine.dialect.name == "sqlite" else "postgresql"
    order = "fifo" if lane == "fifo" else "fair"
    tries = (True, False) if lane == "light-first" else (False,)
    params = {
        "token": token,
        "worker": worker_id,
        "expires": now + lease_seconds,
        "now": now,
        "light": light_seconds,
    }
    with engine.begin() as conn:
        row = None
        for light_only in tries:
            row = conn.execute(_CLAIM[dialect, order, light_only], params).first()
            if row is not None:
                break
        if row is None:
            return None
        job_id, submission_id, attempts = row
        sub = conn.execute(
            select(Submission.assignment_id, Submission.notebook, Submission.late_days).where(
                Submission.id == submission_id
            )
        ).one()
        conn.execute(
            update(Submission)
            .where(Submission.id == submission_id)
            .values(status=SubmissionStatus.RUNNING)
        )
    return ClaimedJob(job_id, submission_id, token, attempts, sub[0], bytes(sub[1]), sub[2])


def heartbeat(engine: Engine, job: ClaimedJob, lease_seconds: float) -> bool:
    """Extend the lease; False means the lease was lost (expired and re-claimed)."""
    now = time.time()
    with engine.begin() as conn:
        res = conn.execute(
            update(Job)
            .where(Job.id == job.job_id, Job.lease_token == job.lease_token)
            .where(Job.status == JobStatus.RUNNING)
            .values(heartbeat_at=now, lease_expires_at=now + lease_seconds)
        )
    return res.rowcount == 1


def release(engine: Engine, job: ClaimedJob) -> bool:
    """Give a running job back to the queue (graceful shutdown); the claim is not counted."""
    with engine.begin() as conn:
        res = conn.execute(
            update(Job)
            .where(Job.id == job.job_id, Job.lease_token == job.lease_token)
            .where(Job.status == JobStatus.RUNNING)
            .values(
                status=JobStatus.QUEUED,
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
            select(Job.id)
            .where(Job.status == JobStatus.RUNNING, Job.lease_expires_at < now)
            .limit(1)
        ).first():
            return 0, 0
    with engine.begin() as conn:
        expired = conn.execute(
            select(Job.id, Job.submission_id, Job.attempts, Job.max_attempts).where(
                Job.status == JobStatus.RUNNING, Job.lease_expires_at < now
            )
        ).all()
        requeued = failed = 0
        for job_id, submission_id, attempts, max_attempts in expired:
            base = update(Job).where(
                Job.id == job_id, Job.status == JobStatus.RUNNING, Job.lease_expires_at < now
            )
            if attempts >= max_attempts:
                ja, en = (m.format(n=attempts) for m in EXPIRED_MESSAGE)
                msg = json.dumps({"ja": ja, "en": en}, ensure_ascii=False)
                res = conn.execute(
                    base.values(
                        status=JobStatus.FAILED, lease_token=None, finished_at=now, error=msg
                    )
                )
                failed += res.rowcount
            else:
                res = conn.execute(
                    base.values(status=JobStatus.QUEUED, lease_token=None, worker_id=None)
                )
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
    now: float | None = None,
) -> bool:
    """Write the job's result once. False when this worker no longer holds the lease (another
    worker owns the job now) or a result already exists; then nothing is written."""
    now = time.time() if now is None else now
    try:
        with engine.begin() as conn:
            res = conn.execute(
                update(Job)
                .where(Job.id == job.job_id, Job.lease_token == job.lease_token)
                .where(Job.status == JobStatus.RUNNING)
                .values(status=JobStatus.DONE, finished_at=now, lease_expires_at=None)
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
            if outcome != Outcome.GRADED:
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


def fail(engine: Engine, job: ClaimedJob, message: Bilingual) -> bool:
    """Mark a job failed for good (the grader itself crashed on it)."""
    now = time.time()
    with engine.begin() as conn:
        res = conn.execute(
            update(Job)
            .where(Job.id == job.job_id, Job.lease_token == job.lease_token)
            .where(Job.status == JobStatus.RUNNING)
            .values(
                status=JobStatus.FAILED,
                finished_at=now,
                error=json.dumps(message, ensure_ascii=False),
            )
        )
        if res.rowcount == 1:
            _sync_submission_status(conn, job.submission_id)
    return res.rowcount == 1


def _outcome_message(payload: dict[str, Any]) -> Bilingual:
    reason = stored_reason(payload)
    if reason:
        return {"ja": str(reason.get("ja", reason.get("en", ""))), "en": str(reason.get("en", ""))}
    status = payload.get("status", Outcome.ERROR)
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
    if status in (JobStatus.QUEUED, JobStatus.RUNNING):
        values["status"] = SubmissionStatus(status)
    elif status == JobStatus.FAILED:
        values.update(status=SubmissionStatus.FAILED, error=error)
    else:  # done: the engine's outcome says which
        outcome = conn.execute(select(Result.outcome).where(Result.job_id == job_id)).scalar()
        values["status"] = {
            Outcome.GRADED: SubmissionStatus.GRADED,
            Outcome.REJECTED: SubmissionStatus.REJECTED,
        }.get(outcome, SubmissionStatus.FAILED)
    conn.execute(update(Submission).where(Submission.id == submission_id).values(**values))
