"""The feedback report, rendered on first download and cached in ``results.feedback_html``.

Rendering (Markdown, math and the outputs of the executed notebook) takes a moment, so the
worker does not do it before marking a submission graded: the stored ``payload``
(``GradeResult.to_dict()``, read back with ``GradeResult.from_dict``) and executed notebook
hold everything the engine's report needs. Whoever renders first (the
API on a download, or an idle worker) stores the page; later readers get the stored copy.
"""

from __future__ import annotations

import json
import logging

from sqlalchemy import Engine, select, update

from grader.engine.report import feedback_html
from grader.engine.result import GradeResult
from grader.service.db import reader
from grader.service.models import Result

log = logging.getLogger("grader.feedback")


def render(payload_json: str, executed_notebook: str | None) -> str:
    """The self-contained HTML report of one stored result."""
    try:
        # the submission page holds the one score (late penalty applied) and the item table
        result = GradeResult.from_dict(json.loads(payload_json), executed_notebook)
        return feedback_html(result, with_scores=False)
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
