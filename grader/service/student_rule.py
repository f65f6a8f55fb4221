"""What a student is told about an assignment: the list of released assignments with the rule
that applies to them (their own deadline, started-day counting, penalty, maximum late days or
"late submissions are refused", their extension, when results are shown), in Japanese and
English. Shared by ``GET /api/v1/assignments`` and the home page."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy.orm import Session

from grader.engine.text import Bilingual
from grader.service import course_settings
from grader.service.auth import Principal
from grader.service.catalog import AssignmentInfo, Catalog, LatePolicy, course_time
from grader.service.course_settings import Settings
from grader.service.models import Extension
from grader.service.submissions import iso


def rule_text(policy: LatePolicy, settings: Settings, ext: Extension | None) -> Bilingual:
    """The rule in one paragraph per language."""
    if policy.deadline is None:
        return {"ja": "締切はありません。", "en": "There is no deadline."}
    ja = [f"締切: {course_time(policy.deadline)}。"]
    en = [f"Deadline: {course_time(policy.deadline)}."]
    if ext is not None:
        ja.append(f"あなたの締切は延長されています (理由: {ext.reason or '-'})。")
        en.append(f"Your deadline has been extended (reason: {ext.reason or '-'}).")
    if policy.mode == "refuse":
        ja.append("締切後の提出は受け付けません。")
        en.append("Late submissions are refused.")
    else:
        ja.append(
            "遅延日数は始まった日で数えます (1 秒の遅れで 1 日、1 日と 8 時間の遅れで 2 日)。"
        )
        en.append(
            "Late days are counted as started days (1 second late is 1 day, 1 day 8 hours"
            " late is 2 days)."
        )
        if policy.mode == "penalty":
            pct = f"{100 * policy.penalty_per_day:g}%"
            ja.append(f"遅延 1 日につき満点の {pct} を減点します。")
            en.append(f"Each late day costs {pct} of the maximum score.")
        else:
            ja.append("遅れても減点はありません。")
            en.append("Late submissions are not penalised.")
        if policy.max_late_days is not None:
            n = policy.max_late_days
            ja.append(f"{n} 日を超えて遅れた提出は受け付けません。")
            en.append(f"Submissions more than {n} day(s) late are refused.")
    if settings.results_visible == "after_deadline":
        ja.append("点数と項目ごとの結果は締切後に表示されます。")
        en.append("Scores and per-item results are shown after the deadline.")
    return {"ja": "".join(ja), "en": " ".join(en)}


def assignment_view(s: Session, info: AssignmentInfo, who: Principal, now: float) -> dict[str, Any]:
    settings = course_settings.get_settings(s, info.id)
    ext = None if who.is_instructor else course_settings.extension_for(s, who.user_id, info.id)
    policy = settings.policy(ext.deadline if ext else None)
    return {
        "id": info.id,
        "title": info.title,
        "max_score": info.max_score,
        "items": [{"id": i.id, "title": i.title, "points": i.points} for i in info.items],
        "deadline": iso(policy.deadline),
        "course_deadline": iso(settings.deadline),
        "late_policy": policy.mode,
        "penalty_per_day": policy.penalty_per_day,
        "max_late_days": policy.max_late_days,
        "release_at": iso(settings.release_at),
        "results_visible": settings.results_visible,
        "extension": course_settings.extension_view(ext) if ext else None,
        "rule": rule_text(policy, settings, ext),
        "results_shown": course_settings.results_visible(s, info.id, who.user_id, now),
        "open": not policy.refuses(now),
    }


def visible_assignments(
    s: Session, catalog: Catalog, who: Principal, now: float | None = None
) -> list[dict[str, Any]]:
    """The assignments ``who`` may see now (students: released ones only), in course order."""
    now = time.time() if now is None else now
    return [
        assignment_view(s, info, who, now)
        for info in catalog
        if who.is_instructor or course_settings.is_released(s, info.id, who.user_id, now)
    ]
