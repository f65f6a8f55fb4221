"""An executed notebook as an HTML fragment: stdlib only, everything escaped.

Why not nbconvert's ``HTMLExporter``: importing it (mistune, bleach, bs4, pygments, jinja
templates, nbclient) cost 1-2 s of CPU per ``grader grade`` command, more than the whole
sandboxed run of a small notebook. The feedback page needs far less: the code, what it
printed, its errors and its images.

Safety by construction (the notebook is student-controlled): every string goes through
``html.escape``; the only non-text content is a PNG/JPEG image whose base64 payload is checked
against the base64 alphabet and embedded as a ``data:`` URI; HTML, SVG, JavaScript and
markdown-embedded HTML are shown as text or dropped. Markdown is rendered by markdown-it-py
with raw HTML off, and its math ($...$, $$...$$, dollarmath plugin) becomes MathML through
latex2mathml, so formulas read as formulas with no script on the page.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache
from typing import Any

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_B64 = re.compile(r"[A-Za-z0-9+/=\s]+")
_BETWEEN_TAGS = re.compile(r">\n+<")  # markdown-it's newlines between block tags
_IMAGE_MIME = ("image/png", "image/jpeg")
MAX_TEXT = 200_000  # characters of one output shown; the rest is cut with a note

CSS = """
.nb .cell{margin:.6rem 0}
.nb pre{margin:0;padding:.4rem .6rem;white-space:pre-wrap;word-break:break-word;
font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85em}
.nb .src{background:#f6f8fa;border-left:3px solid #8aa4c8}
.nb .prompt{color:#888;font-size:.75em;font-family:ui-monospace,monospace}
.nb .out{border-left:3px solid #ddd}
.nb .stderr{background:#f7f7f4;color:#555;border-left-color:#c9c2a6}
.nb .stderr::before{content:"stderr";display:block;font-size:.75em;color:#888}
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


def _math(tex: str, display: bool) -> str:
    """TeX as MathML (no script needed under the page's CSP); the escaped TeX when
    latex2mathml cannot parse it."""
    from latex2mathml.converter import convert

    try:
        return convert(tex, display="block" if display else "inline")
    except Exception:  # any parse failure of student-written TeX: show the source
        return f'<code class="tex">{html.escape(tex)}</code>'


@lru_cache(maxsize=1)
def _markdown() -> Any:
    """CommonMark (+ tables, strikethrough) with $...$ / $$...$$ math; raw HTML off, images
    shown as their alt text (nothing remote loads)."""
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin

    md = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
    md.add_render_rule("image", lambda self, tokens, idx, *a: html.escape(tokens[idx].content))
    md.use(
        dollarmath_plugin,
        allow_space=True,
        double_inline=True,
        renderer=lambda tex, opts: _math(tex, bool(opts.get("display_mode"))),
    )

    def heading(self, tokens, idx, options, env):  # noqa: ANN001 - markdown-it's signature
        token = tokens[idx]
        token.tag = f"h{min(int(token.tag[1]) + 2, 6)}"  # h1/h2 belong to the report itself
        return self.renderToken(tokens, idx, options, env)

    md.add_render_rule("heading_open", heading)
    md.add_render_rule("heading_close", heading)
    md.add_render_rule("strong_open", lambda *a: "<b>")
    md.add_render_rule("strong_close", lambda *a: "</b>")
    return md


def render_markdown(source: str) -> str:
    """Markdown with math rendered server-side (markdown-it-py, dollarmath, latex2mathml):
    headings, lists, tables, code, emphasis, links; raw HTML is shown as text, an image as its
    alt text."""
    body = _markdown().render(source)
    return '<div class="md">' + _BETWEEN_TAGS.sub("><", body).strip() + "</div>"


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
        return _pre(as_terminal(_text(out.get("text"))), cls)
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


def as_terminal(text: str) -> str:
    """What a terminal (and Jupyter) shows: a carriage return rewrites its line, so a
    progress bar's updates collapse to its last state."""
    return "\n".join(line.rsplit("\r", 1)[-1] for line in text.split("\n"))


def merge_streams(outputs: list) -> list:
    """Consecutive outputs of one stream as one (the kernel sends a progress bar's updates
    separately; joined, their carriage returns apply)."""
    merged: list = []
    for out in outputs:
        if not isinstance(out, dict):
            continue
        last = merged[-1] if merged else None
        if (
            out.get("output_type") == "stream"
            and last is not None
            and last.get("output_type") == "stream"
            and last.get("name") == out.get("name")
        ):
            merged[-1] = {**last, "text": _text(last.get("text")) + _text(out.get("text"))}
        else:
            merged.append(out)
    return merged


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
    for out in merge_streams(outputs) if isinstance(outputs, list) else []:
        parts.append(render_output(out))
    parts.append("</div>")
    return "".join(parts)


def render_notebook(nb: dict) -> str:
    """The notebook (an nbformat v4 dict) as an HTML fragment with its own ``<style>``."""
    cells = nb.get("cells") if isinstance(nb, dict) else None
    body = "".join(render_cell(c) for c in cells if isinstance(c, dict)) if cells else ""
    return f'<style>{CSS}</style><div class="nb">{body}</div>'
