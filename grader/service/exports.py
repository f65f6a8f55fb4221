"""Gradebook exports and per-assignment statistics.

* nbgrader CSV: the columns of ``nbgrader export`` (its CsvExportPlugin): assignment,
  duedate, timestamp, student_id, last_name, first_name, email, raw_score,
  late_submission_penalty, score, max_score — one row per student per assignment, students
  without a graded submission included with empty timestamp and zero scores, as nbgrader does.
  ``last_name`` / ``first_name`` are the roster's ``family_name`` / ``given_name``; a roster
  with only ``name`` gives the whole name as ``last_name`` (names are never split by guess:
  「山田 太郎」 and "Taro Yamada" put the family name at opposite ends).
* Moodle CSV (grade import, "Identify user by" email address or ID number): the columns of
  Moodle's own grade export, First name, Last name, ID number, Email address, then one column
  per assignment id with the best final score (empty: no grade).
* Every CSV is plain UTF-8 for scripts, or UTF-8 with a byte order mark (``bom=True``) for the
  spreadsheet download: Excel reads a BOM-less file in the system code page, which turns
  Japanese names into mojibake. Text cells starting with ``= + - @`` (or a tab / carriage
  return) get a leading ``'`` so that a spreadsheet shows them as text instead of running
  them as formulas (a roster name ``=HYPERLINK(...)``).
* Gradebook table: one row per student, one column per assignment holding the student's
  best final score (``max(0, score − late penalty)`` over every graded submission), and the
  total; the web page ``/instructor/gradebook`` and ``gradebook/best.csv`` show the same table.
* Which submission counts: every export of grades (nbgrader CSV, gradebook, Gradescope) takes
  the graded submission with the best final score (``submissions.best_graded``); the
  per-assignment statistics describe where the class stands now, so they take each student's
  latest graded submission. Rejected and failed submissions count for neither.
* Gradescope: a submission's ``results.json``, the file a Gradescope autograder writes,
  built by the one formatter ``grader.engine.exports.gradescope`` that ``grader grade
  --gradescope`` uses too; the service only takes the late penalty off the score and says so.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.engine.exports import gradescope
from grader.service.catalog import Catalog
from grader.service.course_settings import get_settings
from grader.service.csv_cells import csv_bytes, csv_text
from grader.service.models import Result, Submission, User
from grader.service.states import Outcome
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


def csv_response(text: str, filename: str, bom: bool) -> Response:
    """A CSV download (``bom``: for Excel)."""
    return Response(
        csv_bytes(text, bom),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _split_name(u: User) -> tuple[str, str]:
    """(family, given) as the roster gave them; only ``name``: all of it as the family name."""
    if u.family_name or u.given_name:
        return u.family_name, u.given_name
    return u.name, ""


def nbgrader_csv(s: Session, catalog: Catalog, assignment_id: str | None = None) -> str:
    students = list(s.scalars(select(User).where(User.role == "student").order_by(User.id)))
    graded = {(u.id, sub.assignment_id): (sub, res) for u, sub, res, _n in best_graded(s)}
    rows = []
    for info in catalog:
        if assignment_id and info.id != assignment_id:
            continue
        due = iso(get_settings(s, info.id).deadline) or ""
        for u in students:
            sub, res = graded.get((u.id, info.id), (None, None))
            raw = res.score if res else 0.0
            pen = res.penalty if res else 0.0
            family, given = _split_name(u)
            rows.append(
                [
                    info.id,
                    due,
                    iso(sub.created_at) if sub else "",
                    u.id,
                    family,
                    given,
                    u.email,
                    _num(raw),
                    _num(pen),
                    _num(final_score(res) if res else 0.0),
                    _num(res.max_score if res else info.max_score),
                ]
            )
    return csv_text(NBGRADER_COLUMNS, rows)


MOODLE_ID_COLUMNS = ["First name", "Last name", "ID number", "Email address"]


def moodle_csv(book: dict[str, Any]) -> str:
    """:func:`gradebook` in the layout Moodle's CSV grade import maps (see module doc)."""
    ids = [a["id"] for a in book["assignments"]]
    rows = []
    for row in book["students"]:
        family, given = row["family_name"], row["given_name"]
        cells = [_num(row["scores"][i]["score"]) if row["scores"][i] else "" for i in ids]
        rows.append([given, family, row["id"], row["email"], *cells])
    return csv_text([*MOODLE_ID_COLUMNS, *ids], rows)


def gradescope_results(res: Result, lang: str = "ja") -> dict[str, Any]:
    """One submission as Gradescope's ``results.json`` (the CLI's formatter, penalty applied)."""
    payload = json.loads(res.payload)
    doc = gradescope(payload, lang)
    if payload.get("status") == Outcome.GRADED and res.penalty:
        doc["score"] = final_score(res)
        note = (
            f"Late penalty: -{res.penalty:g} points"
            if lang == "en"
            else f"遅延減点: -{res.penalty:g} 点"
        )
        doc["output"] = f"{doc['output']}\n{note}".strip()
    return doc


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
        family, given = _split_name(u)
        table.append(
            {
                "id": u.id,
                "name": u.name,
                "family_name": family,
                "given_name": given,
                "email": u.email,
                "scores": scores,
                "total": total,
            }
        )
    return {
        "assignments": assignments,
        "max_total": sum(a["max_score"] for a in assignments),
        "students": table,
    }


def gradebook_table_csv(book: dict[str, Any]) -> str:
    """:func:`gradebook` as CSV: student_id, name, email, one column per assignment id (best
    final score, empty when nothing graded), total."""
    ids = [a["id"] for a in book["assignments"]]
    rows = []
    for row in book["students"]:
        cells = [_num(row["scores"][i]["score"]) if row["scores"][i] else "" for i in ids]
        rows.append([row["id"], row["name"], row["email"], *cells, _num(row["total"])])
    return csv_text(["student_id", "name", "email", *ids, "total"], rows)
