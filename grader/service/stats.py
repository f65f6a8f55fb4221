"""What the dashboard shows of an assignment: pass rates per item, the score histogram, the
hints students got (latest graded submission per student), and who has not submitted."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.service.catalog import Catalog
from grader.service.models import Submission, User
from grader.service.submissions import final_score, latest_graded


def assignment_stats(s: Session, catalog: Catalog, assignment_id: str, bins: int = 10) -> dict:
    """Over students' latest graded submissions: pass rate per item, a score histogram, and
    how many students got each hint (every hint is a diagnosed mistake) with their
    submissions; and the roster students who have submitted nothing for it."""
    info = catalog.get(assignment_id)
    rows = latest_graded(s, assignment_id)
    max_score = info.max_score if info else 0.0
    passes: dict[str, int] = {it.id: 0 for it in (info.items if info else ())}
    hints: dict[tuple[str, str], dict[str, Any]] = {}
    scores = []
    for _u, sub, res in rows:
        scores.append(final_score(res))
        for it in json.loads(res.payload).get("items", []):
            if it.get("passed"):
                passes[it["id"]] = passes.get(it["id"], 0) + 1
            hint = it.get("hint")
            if hint and not it.get("passed"):
                entry = hints.setdefault(
                    (it["id"], hint["id"]),
                    {
                        "item_id": it["id"],
                        "hint_id": hint["id"],
                        "text": {"ja": hint.get("ja", ""), "en": hint.get("en", "")},
                        "submissions": [],
                    },
                )
                entry["submissions"].append(sub.id)
    n = len(rows)
    hist = [0] * bins
    for sc in scores:
        k = int(bins * sc / max_score) if max_score > 0 else 0
        hist[min(max(k, 0), bins - 1)] += 1
    return {
        "assignment_id": assignment_id,
        "students": n,
        "mean": (sum(scores) / n) if n else None,
        "max_score": max_score,
        "items": [
            {"id": k, "passed": v, "rate": (v / n) if n else None} for k, v in passes.items()
        ],
        "histogram": {"bins": bins, "counts": hist, "max_score": max_score},
        "hints": sorted(
            ({**h, "count": len(h["submissions"])} for h in hints.values()),
            key=lambda h: (-h["count"], h["item_id"], h["hint_id"]),
        ),
        "non_submitters": non_submitters(s, assignment_id),
    }


def non_submitters(s: Session, assignment_id: str) -> list[dict[str, str]]:
    """Roster students with no submission at all for the assignment."""
    submitted = select(Submission.user_id).where(Submission.assignment_id == assignment_id)
    users = s.scalars(
        select(User).where(User.role == "student", User.id.not_in(submitted)).order_by(User.id)
    )
    return [{"id": u.id, "name": u.name, "email": u.email} for u in users]
