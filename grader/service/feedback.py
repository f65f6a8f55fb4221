"""The feedback report, rendered on first download and cached in ``results.feedback_html``.

Rendering (nbconvert over the executed notebook) costs 0.1–0.5 s, so the worker no longer
does it before marking a submission graded: the stored ``payload`` (``GradeResult.to_dict()``)
and executed notebook hold everything the engine's report needs. Whoever renders first (the
API on a download, or an idle worker) stores the page; later readers get the stored copy.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

from sqlalchemy import Engine, select, update

from grader.service.db import reader
from grader.service.models import Result

log = logging.getLogger("grader.feedback")


def grade_result_from_payload(payload: dict[str, Any], executed_notebook: str | None):  # noqa: ANN201
    """Rebuild an engine ``GradeResult`` from its ``to_dict()`` form (unknown keys ignored,
    missing ones take the dataclass defaults), so that the engine's own report renders it."""
    from grader.engine.result import GradeResult, ItemResult

    item_fields = {f.name for f in dataclasses.fields(ItemResult)}
    items = [
        ItemResult(**{k: v for k, v in it.items() if k in item_fields})
        for it in payload.get("items") or []
    ]
    return GradeResult(
        assignment=str(payload.get("assignment", "")),
        status=str(payload.get("status", "error")),
        items=items,
        max_score=float(payload.get("max_score") or 0.0),
        sandbox_mode=str(payload.get("sandbox_mode") or "bwrap"),
        timings=dict(payload.get("timings") or {}),
        log=list(payload.get("log") or []),
        error_message=payload.get("error_message"),
        executed_notebook=executed_notebook,
        run_state=dict(payload.get("run") or {}),
        restored_cells=list(payload.get("restored_cells") or []),
        title=dict(payload.get("title") or {}),
    )


def render(payload_json: str, executed_notebook: str | None) -> str:
    """The self-contained HTML report of one stored result."""
    try:
        # the submission page holds the one score (late penalty applied) and the item table
        result = grade_result_from_payload(json.loads(payload_json), executed_notebook)
        return result.feedback_html(with_scores=False)
    except Exception as exc:  # the report is a convenience; never fail the download hard
        log.exception("feedback report failed")
        return f"<p>feedback report failed: {type(exc).__name__}: {exc}</p>"


def feedback_for(engine: Engine, result_id: int) -> str | None:
    """The stored report of result ``result_id``, rendered and stored first if missing.

    None when there is no such result. Two renderers racing both produce the same page;
    the ``IS NULL`` guard keeps the first one stored."""
    with reader(engine) as conn:
        row = conn.execute(
            select(Result.feedback_html, Result.payload, Result.executed_notebook).where(
                Result.id == result_id
            )
        ).first()
    if row is None:
        return None
    html, payload, nb = row
    if html is not None:
        return html
    html = render(payload, nb)
    _store(engine, result_id, html)
    return html


def render_one_pending(engine: Engine) -> bool:
    """Render and store the report of the newest result that has none (idle workers call
    this so that most first downloads find it ready). Returns False when none is pending."""
    with reader(engine) as conn:
        row = conn.execute(
            select(Result.id, Result.payload, Result.executed_notebook)
            .where(Result.feedback_html.is_(None))
            .order_by(Result.id.desc())
            .limit(1)
        ).first()
    if row is None:
        return False
    result_id, payload, nb = row
    _store(engine, result_id, render(payload, nb))
    return True


def _store(engine: Engine, result_id: int, html: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(Result)
            .where(Result.id == result_id, Result.feedback_html.is_(None))
            .values(feedback_html=html)
        )
