"""An executed notebook as an HTML fragment: stdlib only, everything escaped.

Why not nbconvert's ``HTMLExporter``: importing it (mistune, bleach, bs4, pygments, jinja
templates, nbclient) cost 1-2 s of CPU per ``grader grade`` command, more than the whole
sandboxed run of a small notebook. The feedback page needs far less: the code, what it
printed, its errors and its images.

Safety by construction (the notebook is student-controlled): every string goes through
``html.escape``; the only non-text content is a PNG/JPEG image whose base64 payload is checked
against the base64 alphabet and embedded as a ``data:`` URI; HTML, SVG, JavaScript and
markdown-embedded HTML are shown as text or dropped. Markdown gets a minimal rendering
(headings, fenced code, paragraphs, inline code), never raw HTML.
"""

from __future__ import annotations

import html
import re
from typing import Any

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_B64 = re.compile(r"[A-Za-z0-9+/=\s]+")
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_BOLD = re.compile(r"\*\*([^*\n]+)\*\*")
_BULLET = re.compile(r"^\s*[-*+]\s+(.*)$")
_IMAGE_MIME = ("image/png", "image/jpeg")
MAX_TEXT = 200_000  # characters of one output shown; the rest is cut with a note

CSS = """
.nb .cell{margin:.6rem 0}
.nb pre{margin:0;padding:.4rem .6rem;white-space:pre-wrap;word-break:break-word;
font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85em}
.nb .src{background:#f6f8fa;border-left:3px solid #8aa4c8}
.nb .prompt{color:#888;font-size:.75em;font-family:ui-monospace,monospace}
.nb .out{border-left:3px solid #ddd}
.nb .stderr{background:#fff5f5}
.nb .error{background:#fbeaea;color:#700}
.nb .md{padding:0 .6rem}
.nb img{max-width:100%}
"""


def _text(value: Any) -> str:
    """nbformat text fields are a string or a list of strings."""
    if isinstance(value, list):
        return "".join(str(v) for v in value)
    return "" if value is None else str(value)


def _pre(text: str, cls: str) -> str:
    text = _ANSI.sub("", text)
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT] + f"\n[… {len(text) - MAX_TEXT} characters not shown]"
    return f'<pre class="{cls}">{html.escape(text)}</pre>'


def _inline(text: str) -> str:
    """Escaped text with `code` spans and **bold** (applied after escaping)."""
    parts = _INLINE_CODE.split(text)
    return "".join(
        f"<code>{html.escape(p)}</code>" if i % 2 else _BOLD.sub(r"<b>\1</b>", html.escape(p))
        for i, p in enumerate(parts)
    )


def render_markdown(source: str) -> str:
    """Headings, bullet lists, fenced code blocks and paragraphs; no raw HTML, no links, no
    images (math stays as its TeX source)."""
    out: list[str] = []
    para: list[str] = []
    items: list[str] = []
    fence: list[str] | None = None

    def flush() -> None:
        if para:
            out.append("<p>" + "<br>".join(_inline(line) for line in para) + "</p>")
            para.clear()
        if items:
            out.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in items) + "</ul>")
            items.clear()

    for line in source.splitlines():
        if line.strip().startswith("```"):
            if fence is None:
                flush()
                fence = []
            else:
                out.append(_pre("\n".join(fence), "md-code"))
                fence = None
            continue
        if fence is not None:
            fence.append(line)
            continue
        bullet = _BULLET.match(line)
        m = _HEADING.match(line)
        if bullet:
            if para:
                flush()
            items.append(bullet.group(1))
        elif items and line.startswith((" ", "\t")) and line.strip():
            items[-1] += " " + line.strip()  # continuation of a list item
        elif m:
            flush()
            h = min(len(m.group(1)) + 2, 6)  # h1/h2 belong to the report itself
            out.append(f"<h{h}>{_inline(m.group(2))}</h{h}>")
        elif not line.strip():
            flush()
        else:
            if items:
                flush()
            para.append(line)
    if fence is not None:
        out.append(_pre("\n".join(fence), "md-code"))
    flush()
    return '<div class="md">' + "".join(out) + "</div>"


def _image(mime: str, payload: Any) -> str | None:
    data = _text(payload)
    if not data or not _B64.fullmatch(data):
        return None
    data = "".join(data.split())
    return f'<img alt="output" src="data:{mime};base64,{data}">'


def render_output(out: dict) -> str:
    """One output: stream, error, or display data (image > text/plain; nothing else)."""
    kind = out.get("output_type")
    if kind == "stream":
        cls = "out stderr" if out.get("name") == "stderr" else "out"
        return _pre(_text(out.get("text")), cls)
    if kind == "error":
        tb = out.get("traceback")
        text = "\n".join(_text(t) for t in tb) if isinstance(tb, list) and tb else None
        if not text:
            text = f"{_text(out.get('ename'))}: {_text(out.get('evalue'))}"
        return _pre(text, "out error")
    if kind in ("display_data", "execute_result"):
        data = out.get("data")
        if not isinstance(data, dict):
            return ""
        for mime in _IMAGE_MIME:
            if mime in data:
                img = _image(mime, data[mime])
                if img:
                    return f'<div class="out">{img}</div>'
        if "text/plain" in data:
            return _pre(_text(data["text/plain"]), "out")
    return ""


def render_cell(cell: dict) -> str:
    kind = cell.get("cell_type")
    source = _text(cell.get("source"))
    if kind == "markdown":
        return f'<div class="cell">{render_markdown(source)}</div>'
    if kind != "code":
        return f'<div class="cell">{_pre(source, "md-code")}</div>'
    count = cell.get("execution_count")
    prompt = f"In [{count if isinstance(count, int) else ' '}]:"
    parts = [f'<div class="cell"><div class="prompt">{prompt}</div>', _pre(source, "src")]
    outputs = cell.get("outputs")
    for out in outputs if isinstance(outputs, list) else []:
        if isinstance(out, dict):
            parts.append(render_output(out))
    parts.append("</div>")
    return "".join(parts)


def render_notebook(nb: dict) -> str:
    """The notebook (an nbformat v4 dict) as an HTML fragment with its own ``<style>``."""
    cells = nb.get("cells") if isinstance(nb, dict) else None
    body = "".join(render_cell(c) for c in cells if isinstance(c, dict)) if cells else ""
    return f'<style>{CSS}</style><div class="nb">{body}</div>'
