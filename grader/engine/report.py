"""Step 5 (presentation half): the self-contained HTML feedback report.

A per-item table (points, pass/fail, measured error, tolerance, message, hint) in Japanese with
the English alongside, then the executed notebook rendered by ``grader.engine.nbhtml`` (errors
visible; stdlib only, so the report costs milliseconds, not an nbconvert import). The notebook
is student-controlled: HTML/JS outputs are dropped, every text is escaped, markdown never passes
raw HTML, and a Content-Security-Policy forbids every script and remote load.
"""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING

from grader.engine.text import Bilingual

if TYPE_CHECKING:
    from grader.engine.result import GradeResult

_SAFE_MIME = ("text/plain", "image/png", "image/jpeg")
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:"

_CSS = """
body{font-family:system-ui,'Hiragino Sans','Noto Sans JP',sans-serif;margin:1.5rem;color:#222}
h1,h2{overflow-wrap:break-word}
.table-box{overflow-x:auto;max-width:100%;margin:1rem 0}
table.items{border-collapse:collapse;width:100%}
table.items th,table.items td{border:1px solid #ccc;padding:.4rem .6rem;vertical-align:top;
overflow-wrap:break-word}
table.items th{background:#f3f3f3}
.pass{color:#0a7d28;font-weight:bold}.fail{color:#b00020;font-weight:bold}
.en{color:#555;font-size:.9em}.hint{background:#fff8e1;padding:.3rem .5rem;margin-top:.3rem}
pre.err{background:#fbeaea;padding:.4rem;white-space:pre-wrap;overflow-wrap:anywhere;
font-size:.85em;max-height:14em;overflow:auto}
.summary{font-size:1.3em}.warn{background:#fdecea;border:1px solid #b00020;padding:.5rem}
.notebook{border-top:2px solid #888;margin-top:2rem;padding-top:1rem}
@media (max-width:600px){body{margin:.6rem}h1{font-size:1.4em}
table.items th,table.items td{padding:.3rem .4rem}}
"""


def _fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.2e}"


def _both(msg: Bilingual | None, lang: str) -> str:
    if not msg:
        return ""
    first, second = ("en", "ja") if lang == "en" else ("ja", "en")
    out = f"<div>{html.escape(msg.get(first, ''))}</div>"
    if msg.get(second) and msg.get(second) != msg.get(first):
        out += f'<div class="en">{html.escape(msg[second])}</div>'
    return out


def _items_table(result: GradeResult, lang: str) -> str:
    rows = []
    for it in result.items:
        verdict = (
            '<span class="pass">✔ 合格 / pass</span>'
            if it.passed
            else ('<span class="fail">✘ 不合格 / fail</span>')
        )
        detail = _both(it.message, lang)
        if it.hint:
            detail += f'<div class="hint">ヒント / hint: {_both(it.hint, lang)}</div>'
        if it.probe_error:
            detail += f'<pre class="err">{html.escape(it.probe_error[:4000])}</pre>'
        rows.append(
            "<tr>"
            f"<td><code>{html.escape(it.id)}</code><br>{_both(it.title, lang)}</td>"
            f"<td>{it.points:g} / {it.max_points:g}</td><td>{verdict}</td>"
            f"<td>{_fmt(it.measured_error)}</td><td>{_fmt(it.tolerance)}</td><td>{detail}</td>"
            "</tr>"
        )
    head = (
        "<tr><th>項目 / item</th><th>得点 / points</th><th>判定 / result</th>"
        "<th>誤差 / error</th><th>許容 / tolerance</th><th>説明 / details</th></tr>"
    )
    # on a phone the table scrolls inside its own box instead of widening the page
    return f'<div class="table-box"><table class="items">{head}{"".join(rows)}</table></div>'


def _safe_notebook(nb_json: str) -> dict:
    """The executed notebook with only plain-text and image outputs (no HTML/JS)."""
    nb = json.loads(nb_json)
    for cell in nb.get("cells") or []:
        if not isinstance(cell, dict):
            continue
        cell.pop("attachments", None)
        if cell.get("cell_type") != "code":
            continue
        kept = []
        for out in cell.get("outputs") or []:
            if not isinstance(out, dict):
                continue
            if out.get("output_type") in ("display_data", "execute_result"):
                data = {k: v for k, v in (out.get("data") or {}).items() if k in _SAFE_MIME}
                if not data:
                    continue
                out["data"] = data
                out["metadata"] = {}
            kept.append(out)
        cell["outputs"] = kept
    return nb


def render_notebook(nb_json: str) -> str:
    """The executed notebook as an HTML fragment (``grader.engine.nbhtml``, all escaped)."""
    from grader.engine.nbhtml import render_notebook as render

    return render(_safe_notebook(nb_json))


_NOT_GRADED = {
    "rejected": "提出を受け付けられませんでした / submission refused",
    "error": "採点できませんでした / could not be graded",
}


def feedback_html(result: GradeResult, lang: str = "ja", *, with_scores: bool = True) -> str:
    """The whole report as one HTML page with no external resources.

    ``with_scores=False``: the executed notebook and notes only, for the service's submission
    page, which shows the one score (late penalty applied) and the item table itself."""
    title = result.title.get(lang) or result.title.get("ja") or result.assignment
    parts = [
        "<!DOCTYPE html><html lang='ja'><head><meta charset='utf-8'>",
        # without it a phone lays the page out 980 px wide and shrinks it
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        f"<title>{html.escape(result.assignment)} — 採点結果 / feedback</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)} <small>({html.escape(result.assignment)})</small></h1>",
    ]
    if result.status != "graded":
        heading = _NOT_GRADED.get(result.status, result.status)
        parts.append(
            f'<div class="warn"><b>{html.escape(heading)}</b>{_both(result.reason, lang)}</div>'
        )
    elif with_scores:
        parts.append(
            f'<p class="summary">得点 / score: <b>{result.score:g}</b> / {result.max_score:g}</p>'
        )
        parts.append(_items_table(result, lang))
    faulty = [it.id for it in result.items if it.scoring_error]
    if faulty:
        parts.append(
            '<p class="warn">採点側 (grader) の内部エラーのため採点できなかった項目があります: '
            f"<code>{html.escape(', '.join(faulty))}</code>。あなたのコードの問題ではありません。 "
            '<span class="en">The grader itself failed on these items: not a problem of your '
            "code. The staff has to fix the grader.</span></p>"
        )
    if result.sandbox_mode != "bwrap":
        parts.append(
            '<p class="warn">この採点はサンドボックスなし (プロセス制限のみ) で実行されました。 '
            '<span class="en">Graded WITHOUT the sandbox (process limits only).</span></p>'
        )
    if result.restored_cells:
        parts.append(
            "<p>編集・削除された固定セルを配布版に戻しました / restored locked cells: "
            f"<code>{html.escape(', '.join(result.restored_cells))}</code></p>"
        )
    if result.executed_notebook:
        try:
            body = render_notebook(result.executed_notebook)
        except Exception as exc:  # a broken notebook must not break the report
            body = f"<p>ノートブックを表示できません / cannot render: {html.escape(str(exc))}</p>"
        parts.append(
            '<div class="notebook"><h2>実行結果 / executed notebook</h2>' + body + "</div>"
        )
    parts.append("</body></html>")
    return "".join(parts)
