"""Tables of the service (SQLAlchemy 2 declarative).

Times are stored as float UNIX seconds (UTC) so that lease arithmetic is plain SQL on both
SQLite and PostgreSQL. The schema is created only by the Alembic migrations in
``grader/service/migrations``; keep both in step.
"""

from __future__ import annotations

from sqlalchemy import (
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Submission and job states: grader/service/states.py (stored as their string values).


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # student id or "instructor"
    name: Mapped[str] = mapped_column(String(200), default="")
    # as the roster gives them (columns family_name, given_name); empty when it gives only name
    family_name: Mapped[str] = mapped_column(String(200), default="")
    given_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16), default="student")  # student | instructor
    created_at: Mapped[float] = mapped_column(Float)


class Token(Base):
    """An API token; only its SHA-256 is stored, the clear text is shown once."""

    __tablename__ = "tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))  # first characters, to tell tokens apart
    created_at: Mapped[float] = mapped_column(Float)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_used_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class WebSession(Base):
    """A browser login; the cookie holds a random id whose hash is stored here."""

    __tablename__ = "web_sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("tokens.id"))
    expires_at: Mapped[float] = mapped_column(Float)


class Submission(Base):
    __tablename__ = "submissions"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # uuid4 hex
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    assignment_id: Mapped[str] = mapped_column(String(100))
    filename: Mapped[str] = mapped_column(String(255))
    notebook: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[float] = mapped_column(Float)
    late_days: Mapped[int] = mapped_column(Integer, default=0)  # whole days after the deadline
    status: Mapped[str] = mapped_column(String(16), default="queued")
    runs: Mapped[int] = mapped_column(Integer, default=1)  # 1 + number of regrades
    current_result_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    __table_args__ = (
        Index("ix_submissions_user_assignment", "user_id", "assignment_id"),
        Index("ix_submissions_status", "status"),
    )


class Job(Base):
    """One grading run of a submission. ``idempotency_key`` = submission id, notebook sha256
    and run number, so that enqueueing the same run twice is a no-op."""

    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(140), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    lease_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    lease_expires_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    heartbeat_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    worker_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    claimed_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The claim order (grader/service/queue.py): whose job, which notebook, its round-robin
    # key and the run time its assignment's past gradings predict (None: never graded yet).
    user_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    assignment_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    fair_key: Mapped[int] = mapped_column(Integer, default=0)
    expected_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    __table_args__ = (
        Index("ix_jobs_status_id", "status", "id"),
        Index("ix_jobs_status_fair_key", "status", "fair_key", "id"),
        Index("ix_jobs_user_fair_key", "user_id", "fair_key"),
        Index("ix_jobs_assignment_status", "assignment_id", "status", "id"),
    )


class Result(Base):
    """The outcome of one job, written exactly once (unique ``job_id``)."""

    __tablename__ = "results"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"))
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(16))  # engine status: graded|rejected|error
    score: Mapped[float] = mapped_column(Float, default=0.0)  # engine score before penalty
    max_score: Mapped[float] = mapped_column(Float, default=0.0)
    penalty: Mapped[float] = mapped_column(Float, default=0.0)  # late penalty in points
    # the instructor's score for this result (replaces score - penalty); history in adjustments
    override_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    payload: Mapped[str] = mapped_column(Text)  # GradeResult.to_dict() as JSON
    executed_notebook: Mapped[str | None] = mapped_column(Text, nullable=True)
    feedback_html: Mapped[str | None] = mapped_column(Text, nullable=True)
    worker_id: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[float] = mapped_column(Float)
    __table_args__ = (UniqueConstraint("job_id", name="uq_results_job_id"),)


class AssignmentSetting(Base):
    """The instructor's settings of one assignment (edited in the UI/API, read at every use,
    so a change is effective at once). No row: no deadline, released, results shown at once."""

    __tablename__ = "assignment_settings"
    assignment_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    deadline: Mapped[float | None] = mapped_column(Float, nullable=True)  # UNIX seconds
    late_policy: Mapped[str] = mapped_column(String(16), default="penalty")  # none|penalty|refuse
    penalty_per_day: Mapped[float] = mapped_column(Float, default=0.1)  # fraction of max score
    max_late_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    release_at: Mapped[float | None] = mapped_column(Float, nullable=True)  # None: released
    results_visible: Mapped[str] = mapped_column(String(16), default="immediately")
    updated_at: Mapped[float] = mapped_column(Float)
    updated_by: Mapped[str] = mapped_column(String(64))


class Extension(Base):
    """A new deadline for one student and one assignment (replaces the assignment's)."""

    __tablename__ = "extensions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    assignment_id: Mapped[str] = mapped_column(String(100))
    deadline: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[float] = mapped_column(Float)
    created_by: Mapped[str] = mapped_column(String(64))
    __table_args__ = (
        UniqueConstraint("user_id", "assignment_id", name="uq_extensions_user_assignment"),
    )


class Adjustment(Base):
    """The audit trail of instructor adjustments, append-only: a score override (``score``,
    reason in ``text``; ``score`` None clears it) or a comment the student sees."""

    __tablename__ = "adjustments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), index=True)
    result_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # override: on which
    kind: Mapped[str] = mapped_column(String(16))  # override | comment
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float)
    created_by: Mapped[str] = mapped_column(String(64))
