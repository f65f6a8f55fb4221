"""Pydantic response models of the JSON API (they make the OpenAPI document complete)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from grader.engine.text import Bilingual

Message = Bilingual  # the one bilingual message type (grader/engine/text.py)


class ErrorInfo(BaseModel):
    code: str = Field(description="stable machine-readable reason, e.g. 'too_large'")
    message: Message


class ErrorBody(BaseModel):
    error: ErrorInfo
    detail: str = Field(description="the English message, for clients that read only 'detail'")


class Hint(BaseModel):
    id: str
    ja: str
    en: str


class ItemResult(BaseModel):
    id: str
    title: Message | None = None
    points: float
    max_points: float
    passed: bool
    error: float | None = None
    tolerance: float | None = None
    message: Message | None = None
    hint: Hint | None = None


class ResultOut(BaseModel):
    outcome: Literal["graded", "rejected", "error"] | str  # Outcome
    score: float = Field(description="engine score before any late penalty")
    max_score: float
    penalty: float = Field(description="late penalty in points")
    final_score: float = Field(
        description="the instructor's override if any, else max(0, score - penalty)"
    )
    override_score: float | None = Field(None, description="the instructor's score override")
    items: list[ItemResult]
    sandbox_mode: str | None
    timings: dict[str, float]
    error: Any = None
    graded_at: str | None
    has_executed_notebook: bool
    has_feedback: bool


class JobInfo(BaseModel):
    worker_id: str | None
    attempts: int
    status: str


class CommentOut(BaseModel):
    id: int
    text: str
    at: str
    by: str


class SubmissionOut(BaseModel):
    id: str
    assignment_id: str
    student_id: str
    filename: str
    size: int
    sha256: str
    submitted_at: str
    late_days: int
    status: Literal["queued", "running", "graded", "rejected", "failed"]  # SubmissionStatus
    error: Message | None = None
    result: ResultOut | None = None
    comments: list[CommentOut] = Field([], description="the instructor's comments")
    results_hidden: bool = Field(
        False, description="graded, but score and items are shown after the deadline"
    )
    score: float | None = None
    max_score: float | None = None
    job: JobInfo | None = None


class ItemInfoOut(BaseModel):
    id: str
    title: Message
    points: float


class ExtensionOut(BaseModel):
    student_id: str
    assignment_id: str
    deadline: str
    reason: str
    granted_at: str
    granted_by: str


class AssignmentOut(BaseModel):
    id: str
    title: Message
    max_score: float
    items: list[ItemInfoOut]
    deadline: str | None
    late_policy: Literal["none", "penalty", "refuse"]
    penalty_per_day: float
    max_late_days: int | None
    course_deadline: str | None = Field(description="the assignment's deadline for everyone")
    release_at: str | None
    results_visible: Literal["immediately", "after_deadline"]
    extension: ExtensionOut | None = Field(description="the caller's own extension")
    rule: Message = Field(description="the rule that applies to the caller, in words")
    results_shown: bool = Field(description="whether the caller sees scores of it now")
    open: bool = Field(description="whether a student may submit now")


class MeOut(BaseModel):
    user_id: str
    name: str
    role: Literal["student", "instructor"]


class HealthOut(BaseModel):
    status: Literal["ok"]
    sandbox_mode: Literal["bwrap", "limits-only"]
    version: str


class ReadyOut(BaseModel):
    status: Literal["ready", "not-ready"]
    sandbox_mode: Literal["bwrap", "limits-only"]
    database: str
    assignments: int
    queue: dict[str, int]


class RosterOut(BaseModel):
    imported: int
    tokens: list[dict[str, str]] = Field(
        description="student_id, name, email, token: the only time the tokens are shown"
    )


class ItemRate(BaseModel):
    id: str
    passed: int
    rate: float | None


class Histogram(BaseModel):
    bins: int
    counts: list[int]
    max_score: float


class HintCount(BaseModel):
    item_id: str
    hint_id: str
    text: Message
    count: int = Field(description="students whose latest graded submission got this hint")
    submissions: list[str] = Field(description="those submissions' ids")


class StudentRef(BaseModel):
    id: str
    name: str
    email: str


class StatsOut(BaseModel):
    assignment_id: str
    students: int
    mean: float | None
    max_score: float
    items: list[ItemRate]
    histogram: Histogram
    hints: list[HintCount] = Field(description="diagnosed mistakes, most frequent first")
    non_submitters: list[StudentRef] = Field(description="roster students with no submission")
