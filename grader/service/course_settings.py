"""Course settings in the database: per assignment the deadline, late policy, release date and
result visibility, and per-student extensions.

Every reader goes through this module and reads the database at the time of use, so a change
made in the UI or the API applies to the very next request (no restart, no cache). The rules
other parts of the service call:

* :func:`policy_for` — the late rule of one student for one assignment (their extension's
  deadline replaces the assignment's);
* :func:`is_released` — "is assignment X released for this student now?" (the one release-date
  rule: submissions, the assignment list and notebook downloads all ask it);
* :func:`results_visible` — may the student see the score and items of their submissions now?
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.service.catalog import (
    LATE_POLICIES,
    LatePolicy,
    PolicyError,
    course_time,
    parse_policy_toml,
    parse_time,
    policy_toml,
)
from grader.service.errors import ApiError
from grader.service.models import AssignmentSetting, Extension, User

RESULTS_VISIBLE = ("immediately", "after_deadline")


@dataclass(frozen=True)
class Settings:
    """One assignment's settings; the defaults are what an assignment without a row gets."""

    deadline: float | None = None  # UNIX seconds
    late_policy: str = "penalty"
    penalty_per_day: float = 0.1
    max_late_days: int | None = None
    release_at: float | None = None  # None: released from the start
    results_visible: str = "immediately"

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def policy(self, deadline: float | None = None) -> LatePolicy:
        """The late rule, from ``deadline`` (an extension's) when given."""
        return LatePolicy(
            self.deadline if deadline is None else deadline,
            self.late_policy,
            self.penalty_per_day,
            self.max_late_days,
        )


SETTING_NAMES = tuple(f.name for f in fields(Settings))


def validate(values: dict[str, Any], base: Settings | None = None) -> Settings:
    """``values`` over ``base`` (or the defaults), checked; raises ApiError("bad_setting")."""
    unknown = set(values) - set(SETTING_NAMES)
    if unknown:
        raise ApiError("bad_setting", detail=f"unknown keys {sorted(unknown)}")
    merged = {**(base or Settings()).as_dict(), **values}
    for name in ("deadline", "release_at"):
        v = merged[name]
        if v is not None and (not isinstance(v, int | float) or not math.isfinite(v)):
            raise ApiError("bad_setting", detail=f"{name} must be a time stamp, got {v!r}")
    if merged["late_policy"] not in LATE_POLICIES:
        raise ApiError(
            "bad_setting",
            detail=f"late_policy must be one of {', '.join(LATE_POLICIES)}, "
            f"got {merged['late_policy']!r}",
        )
    per_day = merged["penalty_per_day"]
    if not isinstance(per_day, int | float) or not 0 <= per_day <= 1:
        raise ApiError("bad_setting", detail=f"penalty_per_day must be in [0, 1], got {per_day!r}")
    days = merged["max_late_days"]
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 0):
        raise ApiError("bad_setting", detail=f"max_late_days must be >= 0, got {days!r}")
    if merged["results_visible"] not in RESULTS_VISIBLE:
        raise ApiError(
            "bad_setting",
            detail=f"results_visible must be one of {', '.join(RESULTS_VISIBLE)}, "
            f"got {merged['results_visible']!r}",
        )
    if merged["deadline"] is not None and merged["release_at"] is not None:
        if merged["release_at"] > merged["deadline"]:
            raise ApiError("bad_setting", detail="release_at is after the deadline")
    merged["penalty_per_day"] = float(per_day)
    for name in ("deadline", "release_at"):
        if merged[name] is not None:
            merged[name] = float(merged[name])
    return Settings(**merged)


def _from_row(row: AssignmentSetting | None) -> Settings:
    if row is None:
        return Settings()
    return Settings(**{name: getattr(row, name) for name in SETTING_NAMES})


def get_settings(s: Session, assignment_id: str) -> Settings:
    return _from_row(s.get(AssignmentSetting, assignment_id))


def all_settings(s: Session) -> dict[str, Settings]:
    """Settings of the assignments that have a row (others have :class:`Settings` ())."""
    return {row.assignment_id: _from_row(row) for row in s.scalars(select(AssignmentSetting))}


def put_settings(s: Session, assignment_id: str, settings: Settings, by: str) -> None:
    """Store validated settings (insert or replace), inside the caller's transaction."""
    row = s.get(AssignmentSetting, assignment_id)
    if row is None:
        row = AssignmentSetting(assignment_id=assignment_id)
        s.add(row)
    for name in SETTING_NAMES:
        setattr(row, name, getattr(settings, name))
    row.updated_at = time.time()
    row.updated_by = by


def delete_settings(s: Session, assignment_id: str) -> bool:
    row = s.get(AssignmentSetting, assignment_id)
    if row is not None:
        s.delete(row)
    return row is not None


# -- extensions -----------------------------------------------------------------------------------
def extension_for(s: Session, user_id: str, assignment_id: str) -> Extension | None:
    return s.scalar(
        select(Extension).where(
            Extension.user_id == user_id, Extension.assignment_id == assignment_id
        )
    )


def put_extension(
    s: Session,
    user_id: str,
    assignment_id: str,
    deadline: float,
    reason: str,
    by: str,
    *,
    reveals: dict[str, set[str]],
) -> Extension:
    """Grant or replace one student's extension (a student id not on the roster: 404; an
    extension past the release of a notebook carrying this assignment's answers: 409)."""
    if s.get(User, user_id) is None or s.get(User, user_id).role != "student":
        raise ApiError("unknown_student", student_id=user_id[:64])
    if not isinstance(deadline, int | float) or not math.isfinite(deadline):
        raise ApiError("bad_setting", detail=f"deadline must be a time stamp, got {deadline!r}")
    check_release_order(s, reveals, {}, extension=(user_id, assignment_id, float(deadline)))
    ext = extension_for(s, user_id, assignment_id)
    if ext is None:
        ext = Extension(user_id=user_id, assignment_id=assignment_id)
        s.add(ext)
    ext.deadline = float(deadline)
    ext.reason = reason
    ext.created_at = time.time()
    ext.created_by = by
    return ext


def list_extensions(s: Session, assignment_id: str | None = None) -> list[Extension]:
    q = select(Extension).order_by(Extension.assignment_id, Extension.user_id)
    if assignment_id:
        q = q.where(Extension.assignment_id == assignment_id)
    return list(s.scalars(q))


def extension_view(ext: Extension) -> dict[str, Any]:
    from grader.service.submissions import iso

    return {
        "student_id": ext.user_id,
        "assignment_id": ext.assignment_id,
        "deadline": iso(ext.deadline),
        "reason": ext.reason,
        "granted_at": iso(ext.created_at),
        "granted_by": ext.created_by,
    }


# -- the rules ------------------------------------------------------------------------------------
def policy_for(s: Session, assignment_id: str, user_id: str | None) -> LatePolicy:
    """The late rule that applies to ``user_id`` (their extension's deadline if they have one)."""
    settings = get_settings(s, assignment_id)
    ext = extension_for(s, user_id, assignment_id) if user_id else None
    return settings.policy(ext.deadline if ext else None)


def is_released(
    s: Session, assignment_id: str, user_id: str | None, now: float | None = None
) -> bool:
    """Is assignment ``assignment_id`` released for this user now? Instructors (``user_id``
    None or an instructor) always see every assignment."""
    if user_id is not None:
        user = s.get(User, user_id)
        if user is not None and user.role == "instructor":
            return True
    release_at = get_settings(s, assignment_id).release_at
    return release_at is None or (time.time() if now is None else now) >= release_at


def results_visible(s: Session, assignment_id: str, user_id: str, now: float | None = None) -> bool:
    """May the student see scores and items now? With ``after_deadline``: once their own
    deadline (the extension's, if any) has passed."""
    settings = get_settings(s, assignment_id)
    if settings.results_visible == "immediately":
        return True
    user = s.get(User, user_id)
    if user is not None and user.role == "instructor":
        return True
    deadline = policy_for(s, assignment_id, user_id).deadline
    return deadline is None or (time.time() if now is None else now) > deadline


# -- policy.toml import / export ------------------------------------------------------------------
def import_policy(
    s: Session,
    text: str,
    known_ids: list[str],
    by: str,
    where: str,
    reveals: dict[str, set[str]] | None = None,
) -> int:
    """Replace the settings of every known assignment by ``policy.toml`` text; all or nothing
    (everything, the release order included, is checked before anything is written).
    Returns how many were set."""
    try:
        parsed = parse_policy_toml(text, known_ids, where)
    except PolicyError as exc:
        raise ApiError("bad_policy_file", detail=str(exc)) from exc
    checked = {}
    for aid, values in parsed.items():
        try:
            checked[aid] = validate(values)
        except ApiError as exc:
            raise ApiError("bad_policy_file", detail=f"{where} {aid}: {exc.message['en']}") from exc
    check_release_order(s, reveals or {}, checked)
    for aid, settings in checked.items():
        put_settings(s, aid, settings, by)
    return len(checked)


def export_policy(s: Session, known_ids: list[str]) -> str:
    stored = all_settings(s)
    return policy_toml({aid: stored.get(aid, Settings()).as_dict() for aid in known_ids})


def import_policy_file_at_start(
    s: Session, path: Path | None, known_ids: list[str], reveals: dict[str, set[str]]
) -> bool:
    """A ``policy.toml`` in the service's home is read into the database on the first start
    (while the database holds no settings); afterwards the database is the one home and the
    file is only read again by an explicit import. Returns whether it was imported."""
    if path is None or not Path(path).exists() or s.scalar(select(AssignmentSetting).limit(1)):
        return False
    try:
        text = Path(path).read_text(encoding="utf-8")
        import_policy(s, text, known_ids, "policy.toml", str(path), reveals)
    except ApiError as exc:
        raise PolicyError(exc.message["en"]) from exc
    return True


# -- release order --------------------------------------------------------------------------------
def release_order_problems(
    settings: dict[str, Settings],
    deadlines: dict[str, float],
    reveals: dict[str, set[str]],
    now: float,
) -> list[tuple[str, str, float]]:
    """``(B, A, A's last deadline)`` for every released notebook B that carries answers of A
    and is (or will be) out before A's last deadline (``deadlines``: extensions included),
    while that deadline is still ahead."""
    problems = []
    for released, blockers in sorted(reveals.items()):
        release_at = settings.get(released, Settings()).release_at
        for blocker in sorted(blockers):
            deadline = deadlines.get(blocker)
            if deadline is None or deadline <= now:
                continue  # no deadline to protect, or the answers are no secret any more
            if release_at is None or release_at < deadline:
                problems.append((released, blocker, deadline))
    return problems


def last_deadlines(
    s: Session, settings: dict[str, Settings], extra: tuple[str, str, float] | None = None
) -> dict[str, float]:
    """Per assignment with a deadline: the last one of anybody (its extensions included;
    ``extra`` = an extension ``(student, assignment, deadline)`` about to be granted)."""
    found = {aid: st.deadline for aid, st in settings.items() if st.deadline is not None}
    extensions = [(e.user_id, e.assignment_id, e.deadline) for e in list_extensions(s)]
    if extra is not None:
        extensions = [x for x in extensions if x[:2] != extra[:2]] + [extra]
    for _user, aid, deadline in extensions:
        if aid in found:
            found[aid] = max(found[aid], deadline)
    return found


def check_release_order(
    s: Session,
    reveals: dict[str, set[str]],
    changed: dict[str, Settings],
    now: float | None = None,
    extension: tuple[str, str, float] | None = None,
) -> None:
    """Refuse ``changed`` settings or a new ``extension`` (ApiError "release_leak", naming the
    blocking assignment) when it would let a notebook out before the last deadline of an
    assignment whose answers it carries. Only pairs that involve the changed assignments
    count, so an old problem never blocks an unrelated edit."""
    merged = {**all_settings(s), **changed}
    involved = set(changed) | ({extension[1]} if extension else set())
    for released, blocker, deadline in release_order_problems(
        merged, last_deadlines(s, merged, extension), reveals, time.time() if now is None else now
    ):
        if released in involved or blocker in involved:
            raise ApiError(
                "release_leak", released=released, blocker=blocker, deadline=course_time(deadline)
            )


def apply_settings(
    s: Session, reveals: dict[str, set[str]], assignment_id: str, raw: dict[str, Any], by: str
) -> Settings:
    """The one path of an edit (API and web form): ``raw`` with ISO date-time strings (no
    offset: JST) or None for ``deadline`` / ``release_at``, checked, release order included,
    then stored."""
    values = dict(raw)
    for name in ("deadline", "release_at"):
        if values.get(name) is not None:
            try:
                values[name] = parse_time(values[name], name)
            except PolicyError as exc:
                raise ApiError("bad_setting", detail=str(exc)) from exc
    settings = validate(values)
    check_release_order(s, reveals, {assignment_id: settings})
    put_settings(s, assignment_id, settings, by)
    return settings


def parse_deadline(value: str) -> float:
    try:
        return parse_time(value, "deadline")
    except PolicyError as exc:
        raise ApiError("bad_setting", detail=str(exc)) from exc
