"""Step 5 (data half): the result of grading one notebook."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from grader.engine.text import Bilingual, blank
from grader.jail.storable import storable


class Outcome(StrEnum):
    """How grading a notebook ended (``GradeResult.status``, the service's ``results.outcome``)."""

    GRADED = "graded"  # scored item by item
    REJECTED = "rejected"  # a bad upload: the message says why, nothing of it ran
    ERROR = "error"  # the grader could not grade (no sandbox, runner failure): never a zero


def _finite_or_none(x: float | None) -> float | None:
    if x is None:
        return None
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


@dataclass
class ItemResult:
    """One graded item: points earned out of ``max_points`` and why."""

    id: str
    title: Bilingual
    points: float
    max_points: float
    passed: bool
    measured_error: float | None = None  # e.g. the relative error against the reference
    tolerance: float | None = None
    message: Bilingual = field(default_factory=blank)
    hint: dict[str, str] | None = None  # {id, ja, en}
    probe_error: str | None = None  # the exception the student's code raised, size-capped
    # The grader's own fault while scoring ("file:line: Type: message" in the spec): not the
    # student's; `grader grade` and `grader validate` exit non-zero on it.
    scoring_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": dict(self.title),
            "points": round(self.points, 6),
            "max_points": self.max_points,
            "passed": self.passed,
            "measured_error": _finite_or_none(self.measured_error),
            "tolerance": _finite_or_none(self.tolerance),
            "message": dict(self.message),
            "hint": dict(self.hint) if self.hint else None,
            "probe_error": self.probe_error,
            "scoring_error": self.scoring_error,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ItemResult:
        """The inverse of :meth:`to_dict` (a stored payload); unknown keys are ignored."""
        return cls(
            id=str(d.get("id", "")),
            title=dict(d.get("title") or {}),
            points=float(d.get("points") or 0.0),
            max_points=float(d.get("max_points") or 0.0),
            passed=bool(d.get("passed")),
            # "error" is what results stored before the rename call it
            measured_error=_finite_or_none(d.get("measured_error", d.get("error"))),
            tolerance=_finite_or_none(d.get("tolerance")),
            message=dict(d.get("message") or {"ja": "", "en": ""}),
            hint=dict(d["hint"]) if d.get("hint") else None,
            probe_error=d.get("probe_error"),
            scoring_error=d.get("scoring_error"),
        )


def stored_reason(payload: dict[str, Any]) -> Bilingual | None:
    """A stored result's ``reason`` {ja, en} ("error_message" in results stored before the
    rename), or None."""
    reason = payload.get("reason") or payload.get("error_message")
    return dict(reason) if isinstance(reason, dict) else None


def stored_items(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """A stored result's items in today's form (what ``to_dict`` writes now), whatever
    version of the contract stored them."""
    return [ItemResult.from_dict(it).to_dict() for it in payload.get("items") or []]


@dataclass
class GradeResult:
    """What ``grade_notebook`` returns (see docs/ARCHITECTURE.md, "Engine API")."""

    assignment: str
    status: str  # an Outcome value
    items: list[ItemResult] = field(default_factory=list)
    max_score: float = 0.0
    sandbox_mode: str = "bwrap"
    timings: dict[str, float] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    reason: Bilingual | None = None  # {ja, en}: why it was rejected / not graded
    executed_notebook: str | None = None
    run_state: dict[str, Any] = field(default_factory=dict)  # runner's report (display only)
    restored_cells: list[str] = field(default_factory=list)
    title: Bilingual = field(default_factory=blank)
    self_checks: dict[str, bool] = field(default_factory=dict)  # item -> passed (when run)

    @property
    def score(self) -> float:
        return round(sum(i.points for i in self.items), 6)

    @property
    def reason_text(self) -> str | None:
        """``reason`` as one text, Japanese then English (for logs and the command line)."""
        if not self.reason:
            return None
        return f"{self.reason['ja']}\n{self.reason['en']}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, and storable: probe errors and log lines carry text from the sandbox."""
        return storable(
            {
                "assignment": self.assignment,
                "title": dict(self.title),
                "score": self.score,
                "max_score": self.max_score,
                "status": self.status,
                "reason": dict(self.reason) if self.reason else None,
                "items": [i.to_dict() for i in self.items],
                "sandbox_mode": self.sandbox_mode,
                "timings": {k: round(v, 4) for k, v in self.timings.items()},
                "run": dict(self.run_state),
                "restored_cells": list(self.restored_cells),
                "log": list(self.log),
                "self_checks": dict(self.self_checks),
            }
        )

    @classmethod
    def from_dict(cls, d: dict[str, Any], executed_notebook: str | None = None) -> GradeResult:
        """The inverse of :meth:`to_dict` (``score`` and ``error`` are derived, so not read);
        the executed notebook is stored beside the payload, not in it."""
        return cls(
            assignment=str(d.get("assignment", "")),
            status=str(d.get("status", Outcome.ERROR)),
            items=[ItemResult.from_dict(it) for it in d.get("items") or []],
            max_score=float(d.get("max_score") or 0.0),
            sandbox_mode=str(d.get("sandbox_mode") or "bwrap"),
            timings={str(k): float(v) for k, v in (d.get("timings") or {}).items()},
            log=[str(x) for x in d.get("log") or []],
            reason=stored_reason(d),
            executed_notebook=executed_notebook,
            run_state=dict(d.get("run") or {}),
            restored_cells=list(d.get("restored_cells") or []),
            title=dict(d.get("title") or {}),
            self_checks={str(k): bool(v) for k, v in (d.get("self_checks") or {}).items()},
        )
