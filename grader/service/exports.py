"""Gradebook exports and per-assignment statistics.

* nbgrader CSV: the columns of ``nbgrader export`` (its CsvExportPlugin): assignment,
  duedate, timestamp, student_id, last_name, first_name, email, raw_score,
  late_submission_penalty, score, max_score — one row per student per assignment, students
  without a graded submission included with empty timestamp and zero scores, as nbgrader does.
  We keep one ``name`` per student; it goes to ``last_name``.
* Gradebook table: one row per student, one column per assignment holding the student's
  best final score (``max(0, score − late penalty)`` over every graded submission), and the
  total; the web page ``/instructor/gradebook`` and ``gradebook/best.csv`` show the same table.
* Which submission counts: every export of grades (nbgrader CSV, gradebook, Gradescope) takes
  the graded submission with the best final score (``submissions.best_graded``); the
  per-assignment statistics describe where the class stands now, so they take each student's
  latest graded submission. Rejected and failed submissions count for neither.
* Gradescope: for each student, the ``results.json`` an autograder would write
  (``score``, ``execution_time``, ``output``, ``tests`` with ``name``, ``score``, ``max_score``,
  ``status``, ``output``).
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.service.catalog import Catalog
from grader.service.course_settings import get_settings
from grader.service.models import Result, Submission, User
from grader.service.submissions import best_graded, final_score, iso, latest_graded

NBGRADER_COLUMNS = [
    "assignment",
    "duedate",
    "timestamp",
    "student_id",
    "last_name",
    "first_name",
    "email",
    "raw_score",
    "late_submission_penalty",
    "score",
    "max_score",
]


def _num(x: float) -> str:
    return f"{x:g}"


def nbgrader_csv(s: Session, catalog: Catalog, assignment_id: str | None = None) -> str:
    students = list(s.scalars(select(User).where(User.role == "student").order_by(User.id)))
    graded = {(u.id, sub.assignment_id): (sub, res) for u, sub, res, _n in best_graded(s)}
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(NBGRADER_COLUMNS)
    for info in catalog:
        if assignment_id and info.id != assignment_id:
            continue
        due = iso(get_settings(s, info.id).deadline) or ""
        for u in students:
            sub, res = graded.get((u.id, info.id), (None, None))
            raw = res.score if res else 0.0
            pen = res.penalty if res else 0.0
            w.writerow(
                [
                    info.id,
                    due,
                    iso(sub.created_at) if sub else "",
                    u.id,
                    u.name,
                    "",
                    u.email,
                    _num(raw),
                    _num(pen),
                    _num(max(0.0, raw - pen)),
                    _num(res.max_score if res else info.max_score),
                ]
            )
    return buf.getvalue()


def gradescope_results(res: Result) -> dict[str, Any]:
    """One submission as Gradescope's ``results.json``."""
    payload = json.loads(res.payload)
    tests = []
    for it in payload.get("items", []):
        msg = it.get("message") or {}
        hint = it.get("hint") or {}
        out = msg.get("en", "") if isinstance(msg, dict) else str(msg)
        if hint:
            out += f"\nHint: {hint.get('en', '')}"
        tests.append(
            {
                "name": it.get("id"),
                "score": it.get("points", 0.0),
                "max_score": it.get("max_points", 0.0),
                "status": "passed" if it.get("passed") else "failed",
                "output": out,
            }
        )
    output = f"Late penalty: {res.penalty:g} points" if res.penalty else ""
    return {
        "score": final_score(res),
        "execution_time": round(sum((payload.get("timings") or {}).values()), 3),
        "output": output,
        "tests": tests,
    }


def gradescope_export(s: Session, assignment_id: str) -> dict[str, Any]:
    """Each student's graded submission that counts (the best, as in the gradebook)."""
    rows = [row[:3] for row in best_graded(s, assignment_id)]
    return {
        "assignment": assignment_id,
        "submissions": [
            {
                "student_id": u.id,
                "email": u.email,
                "submission_id": sub.id,
                "submitted_at": iso(sub.created_at),
                "results": gradescope_results(res),
            }
            for u, sub, res in sorted(rows, key=lambda r: r[0].id)
        ],
    }


def assignment_stats(s: Session, catalog: Catalog, assignment_id: str, bins: int = 10) -> dict:
    """Pass rate per item and a score histogram over students' latest graded submissions."""
    info = catalog.get(assignment_id)
    rows = latest_graded(s, assignment_id)
    max_score = info.max_score if info else 0.0
    passes: dict[str, int] = {it.id: 0 for it in (info.items if info else ())}
    scores = []
    for _u, _sub, res in rows:
        scores.append(final_score(res))
        for it in json.loads(res.payload).get("items", []):
            if it.get("passed"):
                passes[it["id"]] = passes.get(it["id"], 0) + 1
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
    }


def submission_count(s: Session) -> int:
    return s.query(Submission).count()


def gradebook(s: Session, catalog: Catalog) -> dict[str, Any]:
    """Student × assignment best final score (late penalty applied).

    Returns ``{assignments: [{id, title, max_score}], max_total, students: [{id, name, email,
    scores: {assignment_id: {score, raw, penalty, submission_id, graded} | None}, total}]}``;
    an assignment without a graded submission is ``None`` and counts 0 in ``total``."""
    assignments = [{"id": a.id, "title": a.title, "max_score": a.max_score} for a in catalog]
    students = list(s.scalars(select(User).where(User.role == "student").order_by(User.id)))
    best = {
        (u.id, sub.assignment_id): {
            "score": final_score(res),
            "raw": res.score,
            "penalty": res.penalty,
            "submission_id": sub.id,
            "graded": n,
        }
        for u, sub, res, n in best_graded(s)
    }
    table = []
    for u in students:
        scores: dict[str, Any] = {}
        for a in assignments:
            scores[a["id"]] = best.get((u.id, a["id"]))
        total = sum(c["score"] for c in scores.values() if c)
        table.append(
            {"id": u.id, "name": u.name, "email": u.email, "scores": scores, "total": total}
        )
    return {
        "assignments": assignments,
        "max_total": sum(a["max_score"] for a in assignments),
        "students": table,
    }


def gradebook_table_csv(book: dict[str, Any]) -> str:
    """:func:`gradebook` as CSV: student_id, name, email, one column per assignment id (best
    final score, empty when nothing graded), total."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    ids = [a["id"] for a in book["assignments"]]
    w.writerow(["student_id", "name", "email", *ids, "total"])
    for row in book["students"]:
        cells = [_num(row["scores"][i]["score"]) if row["scores"][i] else "" for i in ids]
        w.writerow([row["id"], row["name"], row["email"], *cells, _num(row["total"])])
    return buf.getvalue()
