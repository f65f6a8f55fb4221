"""Assignments the service accepts, with points and deadlines.

Assignments and items come from ``grader.specs`` (the same specs the engine scores with).
Deadlines and the late policy come from a TOML file (default ``$GRADER_HOME/policy.toml``)::

    [defaults]
    late_policy = "penalty"     # "none" | "penalty" | "refuse"
    penalty_per_day = 0.1       # fraction of the maximum score per started day late
    max_late_days = 7           # after this many days: refused

    [assignments."3-1-2_softmax_with_loss"]
    deadline = 2025-07-01T23:59:00+09:00
    late_policy = "refuse"
"""

from __future__ import annotations

import logging
import math
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

log = logging.getLogger("grader.service")


@dataclass(frozen=True)
class ItemInfo:
    id: str
    title: dict[str, str]
    points: float


@dataclass(frozen=True)
class LatePolicy:
    deadline: float | None = None  # UNIX seconds
    mode: str = "penalty"  # none | penalty | refuse
    penalty_per_day: float = 0.1
    max_late_days: int | None = None

    def late_days(self, at: float) -> int:
        """Whole started days after the deadline (0 when on time or no deadline)."""
        if self.deadline is None or at <= self.deadline:
            return 0
        return math.ceil((at - self.deadline) / 86400.0)

    def refuses(self, at: float) -> bool:
        days = self.late_days(at)
        if days == 0:
            return False
        return self.mode == "refuse" or (
            self.max_late_days is not None and days > self.max_late_days
        )

    def penalty(self, late_days: int, score: float, max_score: float) -> float:
        """Points taken off: ``min(score, late_days * penalty_per_day * max_score)``."""
        if self.mode != "penalty" or late_days <= 0:
            return 0.0
        return min(score, late_days * self.penalty_per_day * max_score)


@dataclass(frozen=True)
class AssignmentInfo:
    id: str
    title: dict[str, str]
    items: tuple[ItemInfo, ...]
    policy: LatePolicy = field(default_factory=LatePolicy)

    @property
    def max_score(self) -> float:
        return float(sum(i.points for i in self.items))


class PolicyError(ValueError):
    pass


def _as_timestamp(value: Any, where: str) -> float:
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value)
        except ValueError as exc:
            raise PolicyError(f"{where}: deadline {value!r} is not an ISO date-time") from exc
    else:
        raise PolicyError(f"{where}: deadline must be a date-time, got {value!r}")
    if dt.tzinfo is None:  # a course in Japan: times without an offset are JST
        dt = dt.replace(tzinfo=ZoneInfo("Asia/Tokyo"))
    return dt.timestamp()


def _policy_from(table: dict[str, Any], base: LatePolicy, where: str) -> LatePolicy:
    known = {"deadline", "late_policy", "penalty_per_day", "max_late_days"}
    unknown = set(table) - known
    if unknown:
        raise PolicyError(f"{where}: unknown keys {sorted(unknown)} (known: {sorted(known)})")
    mode = table.get("late_policy", base.mode)
    if mode not in ("none", "penalty", "refuse"):
        raise PolicyError(f"{where}: late_policy must be none, penalty or refuse, got {mode!r}")
    per_day = float(table.get("penalty_per_day", base.penalty_per_day))
    if not 0 <= per_day <= 1:
        raise PolicyError(f"{where}: penalty_per_day must be in [0, 1], got {per_day}")
    deadline = base.deadline
    if "deadline" in table:
        deadline = _as_timestamp(table["deadline"], where)
    max_days = table.get("max_late_days", base.max_late_days)
    return LatePolicy(deadline, mode, per_day, None if max_days is None else int(max_days))


def load_policies(path: Path | None) -> tuple[LatePolicy, dict[str, LatePolicy]]:
    """Read the policy file; a missing file means no deadlines."""
    if path is None or not Path(path).exists():
        return LatePolicy(), {}
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{path}: {exc}") from exc
    default = _policy_from(data.get("defaults", {}), LatePolicy(), f"{path} [defaults]")
    per = {
        aid: _policy_from(tbl, default, f"{path} [assignments.{aid}]")
        for aid, tbl in data.get("assignments", {}).items()
    }
    return default, per


def _spec_assignments() -> list[Any]:
    """The course's specs; a spec module that is missing or fails to import is skipped with a
    warning, so the service runs with whatever assignments work."""
    from grader import specs

    found = []
    for aid in getattr(specs, "MODULES", {}):
        try:
            found.append(specs.get_assignment(aid))
        except Exception as exc:  # one broken spec module must not take the service down
            log.warning("assignment %s not available (%s); skipped", aid, exc)
    if not hasattr(specs, "MODULES"):
        found = list(specs.all_assignments())
    return found


def _title(value: Any, fallback: str) -> dict[str, str]:
    if isinstance(value, dict):
        return {"ja": str(value.get("ja", fallback)), "en": str(value.get("en", fallback))}
    return {"ja": str(value or fallback), "en": str(value or fallback)}


class Catalog:
    """The assignments on offer. ``source`` returns objects shaped like ``specs.Assignment``
    (``id``, ``title``, ``items`` with ``id``, ``title``, ``points``); injectable for tests of
    the queue that run without the course's specs."""

    def __init__(
        self,
        policy_file: Path | None = None,
        source: Callable[[], Iterable[Any]] | None = None,
    ) -> None:
        default, per = load_policies(policy_file)
        self.assignments: dict[str, AssignmentInfo] = {}
        for spec in (source or _spec_assignments)():
            items = tuple(
                ItemInfo(it.id, _title(getattr(it, "title", None), it.id), float(it.points))
                for it in spec.items
            )
            self.assignments[spec.id] = AssignmentInfo(
                spec.id,
                _title(getattr(spec, "title", None), spec.id),
                items,
                per.get(spec.id, default),
            )
        unknown = set(per) - set(self.assignments)
        if unknown:
            raise PolicyError(f"{policy_file}: unknown assignment ids {sorted(unknown)}")

    def get(self, assignment_id: str) -> AssignmentInfo | None:
        return self.assignments.get(assignment_id)

    def __iter__(self):
        return iter(self.assignments.values())  # course order, as grader.specs lists them
