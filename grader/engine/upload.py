"""Step 1 of the pipeline: validate an upload in the trusted process.

Size cap, UTF-8 JSON of bounded size as objects (values and nesting counted before
``json.loads``), nbformat v4 schema, one notebook of the right assignment. Outputs and the
metadata the grader does not read are stripped before nbformat objects are built; lone
surrogates become U+FFFD. Every refusal is a :class:`RejectedUpload` with a Japanese and an
English message.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

from grader.engine.jsonbounds import measure
from grader.engine.storable import storable
from grader.notebooks.metadata import _KEYS as NBGRADER_KEYS

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_CELLS = 2000
MAX_SOURCE_CHARS = 2 * 1024 * 1024
# A course notebook has about 1,000 JSON values without outputs; outputs (dropped below, but
# parsed first) add a value per line of text. The 1.6 M empty objects of a metadata bomb
# would cost gigabytes once parsed, validated and copied.
MAX_JSON_NODES = 500_000
MAX_JSON_DEPTH = 64
# Notebook-level metadata kept (the feedback page's highlighting); everything else of the
# notebook's and the cells' metadata is dropped, except the cells' nbgrader keys.
KEPT_NOTEBOOK_METADATA = ("kernelspec", "language_info")


class RejectedUpload(ValueError):
    """A bad upload; ``message`` is ``{"ja": ..., "en": ...}``."""

    def __init__(self, ja: str, en: str):
        super().__init__(en)
        self.message = {"ja": ja, "en": en}


def parse_notebook(data: bytes, max_bytes: int = MAX_UPLOAD_BYTES) -> Any:
    """The upload as a validated nbformat v4 ``NotebookNode`` with outputs stripped."""
    import nbformat

    if not isinstance(data, bytes | bytearray):
        raise TypeError("notebook must be bytes")
    if len(data) == 0:
        raise RejectedUpload("ファイルが空です。", "The file is empty.")
    if len(data) > max_bytes:
        raise RejectedUpload(
            f"ファイルが大きすぎます ({len(data) / 1e6:.1f} MB、上限 {max_bytes / 1e6:.0f} MB)。"
            "出力をクリアしてから提出してください。",
            f"The file is too large ({len(data) / 1e6:.1f} MB, limit {max_bytes / 1e6:.0f} MB). "
            "Clear the outputs and submit again.",
        )
    try:
        text = bytes(data).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RejectedUpload(
            f"UTF-8 のテキストではありません (位置 {exc.start})。"
            ".ipynb ファイルを提出してください。",
            f"Not UTF-8 text (byte {exc.start}). Please submit the .ipynb file.",
        ) from None
    size = measure(text, MAX_JSON_NODES, MAX_JSON_DEPTH)
    if size.nodes > MAX_JSON_NODES or size.depth > MAX_JSON_DEPTH:
        raise RejectedUpload(
            f"ノートブックの構造が大きすぎます (JSON の値 {size.nodes:,} 個、上限 "
            f"{MAX_JSON_NODES:,}; 入れ子の深さの上限 {MAX_JSON_DEPTH})。"
            "出力をクリアしてから提出してください。",
            f"The notebook's structure is too large ({size.nodes:,} JSON values, limit "
            f"{MAX_JSON_NODES:,}; nesting at most {MAX_JSON_DEPTH} deep). "
            "Clear the outputs and submit again.",
        )
    try:
        raw = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        where = f"{exc.lineno} 行 {exc.colno} 列" if hasattr(exc, "lineno") else ""
        where_en = f" at line {exc.lineno}, column {exc.colno}" if hasattr(exc, "lineno") else ""
        raise RejectedUpload(
            f"JSON として読めません {where}。ノートブック (.ipynb) ではないようです。",
            f"Not valid JSON{where_en}; this does not look like a notebook (.ipynb).",
        ) from None
    if not isinstance(raw, dict) or "cells" not in raw or "nbformat" not in raw:
        raise RejectedUpload(
            "Jupyter ノートブックではありません (cells / nbformat がありません)。",
            "Not a Jupyter notebook (no `cells` / `nbformat`).",
        )
    if raw.get("nbformat") != 4:
        raise RejectedUpload(
            f"nbformat {raw.get('nbformat')!r} のノートブックには対応していません"
            " (v4 が必要です)。",
            f"nbformat {raw.get('nbformat')!r} is not supported (version 4 is required).",
        )
    cells = raw.get("cells")
    if not isinstance(cells, list) or len(cells) > MAX_CELLS:
        raise RejectedUpload(
            f"セルの数が不正です (上限 {MAX_CELLS})。",
            f"Bad cell list (at most {MAX_CELLS} cells).",
        )
    # Strip outputs and unused metadata before the schema check: never used, maybe huge.
    raw["metadata"] = _kept_notebook_metadata(raw.get("metadata"))
    for cell in cells:
        if isinstance(cell, dict):
            cell["metadata"] = _kept_cell_metadata(cell.get("metadata"))
            if cell.get("cell_type") == "code":
                cell["outputs"] = []
                cell["execution_count"] = None
    storable(raw)
    try:
        nb = nbformat.from_dict(raw)
        with warnings.catch_warnings():
            # Missing or duplicate cell ids are fixed in place; not the student's problem.
            warnings.simplefilter("ignore")
            nbformat.validate(nb)
    except Exception as exc:  # nbformat raises ValidationError and friends
        msg = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise RejectedUpload(
            f"ノートブックの形式が正しくありません: {msg}",
            f"The notebook does not follow the nbformat v4 schema: {msg}",
        ) from None
    total = 0
    for cell in nb.cells:
        src = cell.get("source", "")
        if isinstance(src, list):
            src = "".join(src)
            cell["source"] = src
        total += len(src)
        cell.pop("attachments", None) if cell.cell_type == "code" else None
    if total > MAX_SOURCE_CHARS:
        raise RejectedUpload(
            "ソースコードが長すぎます。", "The notebook's source is too long to grade."
        )
    return nb


def _kept_notebook_metadata(meta: Any) -> Any:
    if not isinstance(meta, dict):
        return meta  # the schema check says what is wrong
    return {key: meta[key] for key in KEPT_NOTEBOOK_METADATA if isinstance(meta.get(key), dict)}


def _kept_cell_metadata(meta: Any) -> Any:
    """Only the nbgrader keys the grader reads, with plain values (anything else is gone)."""
    if not isinstance(meta, dict):
        return meta
    nbg = meta.get("nbgrader")
    if not isinstance(nbg, dict):
        return {}
    plain = (str, int, float, bool, type(None))
    return {
        "nbgrader": {k: v for k, v in nbg.items() if k in NBGRADER_KEYS and isinstance(v, plain)}
    }


def nbgrader_meta(cell: Any) -> dict | None:
    """The cell's ``nbgrader`` metadata dict, or None."""
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta if isinstance(meta, dict) and meta.get("grade_id") else None


def grade_ids(nb: Any) -> list[str]:
    return [m["grade_id"] for c in nb.cells if (m := nbgrader_meta(c))]


def check_belongs(nb: Any, released: Any, assignment_id: str) -> None:
    """Reject a notebook of another assignment, or one with duplicated graded cells."""
    ids = grade_ids(nb)
    known = set(grade_ids(released))
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise RejectedUpload(
            f"採点用のセルが重複しています: {', '.join(dupes)}。コピーしたセルを削除してください。",
            f"Graded cells are duplicated: {', '.join(dupes)}. Delete the copies.",
        )
    foreign = [i for i in ids if i not in known]
    if foreign or (known and not set(ids) & known):
        raise RejectedUpload(
            f"この課題 ({assignment_id}) のノートブックではありません"
            + (f" (知らないセル: {', '.join(foreign[:5])})" if foreign else "")
            + "。配布されたノートブックに解答して提出してください。",
            f"This is not a notebook of assignment {assignment_id}"
            + (f" (unknown cells: {', '.join(foreign[:5])})" if foreign else "")
            + ". Please fill in the released notebook and submit that.",
        )
