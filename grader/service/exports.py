"""Every export: the gradebook as CSV, and the result formats of other platforms.

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
  dashboard's statistics (``stats.py``) take each student's latest graded submission.
  Rejected and failed submissions count for neither.
* Gradescope: a submission's ``results.json``, the file a Gradescope autograder writes
  (``gradescope``: score, ``execution_time`` = the job's wall time, one test per item), the
  one formatter of ``grader grade --gradescope`` and of the service, which only takes the late
  penalty off the score and says so. PrairieLearn's external-grader ``results.json``
  (``prairielearn``: score as a fraction) from ``grader grade --prairielearn``.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.engine.result import stored_items, stored_reason
from grader.service.catalog import Catalog
from grader.service.course_settings import get_settings
from grader.service.csv_cells import csv_bytes, csv_text
from grader.service.models import Result, User
from grader.service.states import Outcome
from grader.service.submissions import best_graded, final_score, iso

# --- other platforms' result formats, from GradeResult.to_dict() dicts -------------------


def _text(msg: dict | None, lang: str) -> str:
    if not msg:
        return ""
    return msg.get(lang) or msg.get("ja") or msg.get("en") or ""


def _item_output(item: dict, lang: str) -> str:
    lines = [_text(item.get("message"), lang)]
    if item.get("measured_error") is not None and item.get("tolerance") is not None:
        lines.append(f"error {item['measured_error']:.2e} (tolerance {item['tolerance']:.0e})")
    if item.get("hint"):
        lines.append(("Hint: " if lang == "en" else "ヒント: ") + _text(item["hint"], lang))
    return "\n".join(x for x in lines if x)


def gradescope(result: dict[str, Any], lang: str = "ja") -> dict[str, Any]:
    """One submission's Gradescope ``results.json``."""
    if result["status"] != "graded":
        return {
            "score": 0.0,
            "output": _text(stored_reason(result), lang),
            "tests": [],
        }
    return {
        "score": result["score"],
        # the job's own wall time (the engine's "total"), not a sum of its nested phases
        "execution_time": round(float((result.get("timings") or {}).get("total", 0.0)), 3),
        "output": f"{result['score']:g} / {result['max_score']:g}",
        "tests": [
            {
                "name": f"{it['id']}: {_text(it['title'], lang)}",
                "score": it["points"],
                "max_score": it["max_points"],
                "status": "passed" if it["passed"] else "failed",
                "output": _item_output(it, lang),
            }
            for it in stored_items(result)
        ],
    }


def prairielearn(result: dict[str, Any], lang: str = "ja") -> dict[str, Any]:
    """One submission's PrairieLearn ``results.json`` (score as a fraction)."""
    if result["status"] != "graded":
        return {
            "gradable": result["status"] != "rejected",
            "score": 0.0,
            "message": _text(stored_reason(result), lang),
            "tests": [],
        }
    total = result["max_score"] or 1.0
    return {
        "gradable": True,
        "score": round(result["score"] / total, 6),
        "message": f"{result['score']:g} / {result['max_score']:g}",
        "tests": [
            {
                "name": it["id"],
                "description": _text(it["title"], lang),
                "points": it["points"],
                "max_points": it["max_points"],
                "message": _text(it["message"], lang),
                "output": _item_output(it, lang),
            }
            for it in stored_items(result)
        ],
    }


# --- the gradebook ----------------------------------------------------------------------


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
