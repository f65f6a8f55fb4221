"""Assignments the service accepts with their items and points, the late rule, and
``policy.toml``: the bulk import/export format of the course settings (the settings themselves
live in the database, :mod:`grader.service.course_settings`).

Assignments and items come from ``grader.specs`` (the same specs the engine scores with).
``policy.toml`` (``grader settings example`` writes :data:`EXAMPLE_POLICY`)::

    [defaults]                     # applies to every assignment, tables below override it
    late_policy = "penalty"        # "none" | "penalty" | "refuse"
    penalty_per_day = 0.1          # fraction of the maximum score per started day late
    max_late_days = 7              # after this many started days: refused
    results_visible = "immediately"  # or "after_deadline"

    [assignments."3-1-2_softmax_with_loss"]
    deadline = 2025-07-01T23:59:00+09:00   # without an offset: Japan time (JST)
    release_at = 2025-06-20T09:00:00+09:00 # before it students neither see nor submit it
    late_policy = "refuse"
"""

from __future__ import annotations

import json
import logging
import math
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from grader.engine.text import Bilingual

log = logging.getLogger("grader.service")
COURSE_TZ = ZoneInfo("Asia/Tokyo")


@dataclass(frozen=True)
class ItemInfo:
    id: str
    title: Bilingual
    points: float


LATE_POLICIES = ("none", "penalty", "refuse")
TIME_KEYS = ("deadline", "release_at")


@dataclass(frozen=True)
class LatePolicy:
    """The late rule: days are counted as *started* days after the deadline (1 s late is
    1 day, 24 h late is 1 day, 24 h + 1 s late is 2 days); ``refuse`` refuses any late
    submission, and more than ``max_late_days`` started days are refused in every mode."""

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
    title: Bilingual
    items: tuple[ItemInfo, ...]

    @property
    def max_score(self) -> float:
        return float(sum(i.points for i in self.items))


class PolicyError(ValueError):
    pass


def parse_time(value: Any, where: str) -> float:
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value)
        except ValueError as exc:
            raise PolicyError(f"{where}: {value!r} is not an ISO date-time") from exc
    else:
        raise PolicyError(f"{where}: expected a date-time, got {value!r}")
    if dt.tzinfo is None:  # a course in Japan: times without an offset are JST
        dt = dt.replace(tzinfo=COURSE_TZ)
    return dt.timestamp()


def course_time(ts: float) -> str:
    """A time stamp as people in the course read it: ``2026-04-17 23:59 JST``."""
    return datetime.fromtimestamp(ts, COURSE_TZ).strftime("%Y-%m-%d %H:%M JST")


POLICY_KEYS = (
    "deadline",
    "late_policy",
    "penalty_per_day",
    "max_late_days",
    "release_at",
    "results_visible",
)


def _values_from(table: dict[str, Any], where: str) -> dict[str, Any]:
    """One TOML table as setting values (time stamps as UNIX seconds); checked further by
    ``course_settings.validate``."""
    if not isinstance(table, dict):
        raise PolicyError(f"{where}: expected a table")
    unknown = set(table) - set(POLICY_KEYS)
    if unknown:
        raise PolicyError(f"{where}: unknown keys {sorted(unknown)} (known: {sorted(POLICY_KEYS)})")
    values = dict(table)
    for key in TIME_KEYS:
        if key in values:
            values[key] = parse_time(values[key], f"{where} {key}")
    return values


def parse_policy_toml(text: str, known_ids: Iterable[str], where: str = "policy.toml") -> dict:
    """``{assignment_id: values}`` for every known assignment: ``[defaults]`` under each
    assignment's own table. Unknown keys or assignment ids raise :class:`PolicyError`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{where}: {exc}") from exc
    unknown_tables = set(data) - {"defaults", "assignments"}
    if unknown_tables:
        raise PolicyError(f"{where}: unknown tables {sorted(unknown_tables)}")
    defaults = _values_from(data.get("defaults", {}), f"{where} [defaults]")
    per = data.get("assignments", {})
    known = list(known_ids)
    unknown = set(per) - set(known)
    if unknown:
        raise PolicyError(f"{where}: unknown assignment ids {sorted(unknown)}")
    return {
        aid: {**defaults, **_values_from(per.get(aid, {}), f"{where} [assignments.{aid}]")}
        for aid in known
    }


def _toml_value(key: str, value: Any) -> str:
    if key in TIME_KEYS:
        return datetime.fromtimestamp(value, COURSE_TZ).isoformat()  # a TOML offset date-time
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string of these values is a TOML basic string
    return repr(value)


def policy_toml(settings: dict[str, dict[str, Any]]) -> str:
    """The settings as ``policy.toml`` (one table per assignment, times in JST, unset keys
    left out), readable back by :func:`parse_policy_toml`."""
    lines = ["# Course settings exported by the grader service (import: grader settings import)"]
    for aid, values in settings.items():
        lines += ["", f"[assignments.{json.dumps(aid)}]"]
        lines += [
            f"{key} = {_toml_value(key, values[key])}"
            for key in POLICY_KEYS
            if values.get(key) is not None
        ]
    return "\n".join(lines) + "\n"


EXAMPLE_POLICY = """\
# Course settings: grader settings import policy.toml (or the instructor page "Settings").
# Times without an offset are Japan time (JST). Late days are counted as started days.

[defaults]                      # every assignment; the tables below override it
late_policy = "penalty"         # "none" | "penalty" | "refuse"
penalty_per_day = 0.1           # fraction of the maximum score per started day late
max_late_days = 7               # more started days late than this: refused
results_visible = "immediately" # or "after_deadline": score hidden until the deadline

[assignments."3-1-1_affine_layer"]
release_at = 2026-04-10T09:00:00
deadline = 2026-04-17T23:59:00

[assignments."3-1-3_other_layers"]
release_at = 2026-04-17T09:00:00
deadline = 2026-04-24T23:59:00
late_policy = "refuse"
# A notebook whose locked cells carry answers of another assignment cannot be released before
# that assignment's deadline (e.g. 2-4_multilayer_mnist after 3-1-2_softmax_with_loss).
"""


def _spec_assignments() -> list[Any]:
    """The course's specs. A spec that fails to load raises ``SpecLoadError`` (file and line):
    the service refuses to start rather than run with an assignment silently missing."""
    from grader import specs

    return specs.all_assignments()


def _course_reveals() -> dict[str, set[str]]:
    from grader.engine.pipeline import assignments_dir
    from grader.notebooks.leaks import leak_map

    solutions = Path(__file__).resolve().parents[2] / "solutions"
    if not solutions.is_dir() or not assignments_dir().is_dir():
        log.warning("no solutions/ or assignments/ notebooks: release-order check disabled")
        return {}
    return leak_map(solutions, assignments_dir())


def _title(value: Any, fallback: str) -> Bilingual:
    if isinstance(value, dict):
        return {"ja": str(value.get("ja", fallback)), "en": str(value.get("en", fallback))}
    return {"ja": str(value or fallback), "en": str(value or fallback)}


class Catalog:
    """The assignments on offer. ``source`` returns objects shaped like ``specs.Assignment``
    (``id``, ``title``, ``items`` with ``id``, ``title``, ``points``); injectable for tests of
    the queue that run without the course's specs."""

    def __init__(
        self,
        source: Callable[[], Iterable[Any]] | None = None,
        reveals: dict[str, set[str]] | None = None,
    ) -> None:
        self.assignments: dict[str, AssignmentInfo] = {}
        # {B: {A, ...}}: B's locked cells carry answers of A (grader.notebooks.leaks); derived
        # from the course's notebooks unless given (tests, or a source without notebooks)
        self.reveals = reveals if reveals is not None else ({} if source else _course_reveals())
        for spec in (source or _spec_assignments)():
            items = tuple(
                ItemInfo(it.id, _title(getattr(it, "title", None), it.id), float(it.points))
                for it in spec.items
            )
            self.assignments[spec.id] = AssignmentInfo(
                spec.id, _title(getattr(spec, "title", None), spec.id), items
            )

    def get(self, assignment_id: str) -> AssignmentInfo | None:
        return self.assignments.get(assignment_id)

    def __iter__(self):
        return iter(self.assignments.values())  # course order, as grader.specs lists them
