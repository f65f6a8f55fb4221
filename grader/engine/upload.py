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

from grader.jail.jsonbounds import measure
from grader.jail.limits import MAX_SOURCE_CHARS
from grader.jail.storable import storable
from grader.notebooks.metadata import _KEYS as NBGRADER_KEYS
from grader.notebooks.metadata import nbgrader

MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # the one upload limit (service and CLI); a notebook is ~50 kB
MAX_CELLS = 2000
# A course notebook has about 1,000 JSON values without outputs; outputs (dropped below, but
# parsed first) add a value per line of text. The 1.6 M empty objects of a metadata bomb
# would cost gigabytes once parsed, validated and copied.
MAX_JSON_NODES = 500_000
MAX_JSON_DEPTH = 64
# Notebook-level metadata kept (the feedback page's highlighting); everything else of the
# notebook's and the cells' metadata is dropped, except the cells' nbgrader keys.
KEPT_NOTEBOOK_METADATA = ("kernelspec", "language_info")


# What to do with a damaged or non-notebook upload (said after the reason).
_REMEDY_JA = (
    "Jupyter で開いて保存し直すか、課題のノートブックをダウンロードし直して"
    "解答を写してから提出してください。"
)
_REMEDY_EN = (
    "Open it in Jupyter and save it again, or download the assignment notebook again and"
    " copy your answers into it."
)


class RejectedUpload(ValueError):
    """A bad upload: a stable ``code`` (the service's error code too) and ``message``
    ``{"ja": ..., "en": ...}``."""

    def __init__(self, code: str, ja: str, en: str):
        super().__init__(en)
        self.code = code
        self.message = {"ja": ja, "en": en}


def _mb(n: int) -> str:
    return f"{n / 2**20:.2g} MB" if n < 2**20 else f"{n / 2**20:.1f} MB".replace(".0 MB", " MB")


def too_large(size: int | None, limit: int = MAX_UPLOAD_BYTES) -> RejectedUpload:
    """The refusal of an upload over ``limit`` bytes (``size`` None: not read to the end)."""
    got = f"{_mb(size)}、" if size is not None else ""
    got_en = f"{_mb(size)}, " if size is not None else ""
    return RejectedUpload(
        "too_large",
        f"ファイルが大きすぎます ({got}上限 {_mb(limit)})。Jupyter のメニュー Kernel → Restart &"
        " Clear Output で出力を消去し、保存し直してから提出してください。",
        f"The upload is too large ({got_en}limit {_mb(limit)}). Clear the outputs (Kernel →"
        " Restart & Clear Output) and save again, then submit the saved notebook.",
    )


def parse_notebook(data: bytes, max_bytes: int = MAX_UPLOAD_BYTES) -> Any:
    """The upload as a validated nbformat v4 ``NotebookNode`` with outputs stripped.

    Each step refuses with its own :class:`RejectedUpload` code, cheapest checks first: the
    bytes, the text, the JSON's size (counted before parsing), its top level, the schema."""
    text = _decoded(data, max_bytes)
    _check_json_size(text)
    raw = _loaded(text)
    _check_top_level(raw)
    _strip_unread(raw)
    storable(raw)
    nb = _schema_checked(raw)
    _join_sources(nb)
    return nb


def _decoded(data: bytes, max_bytes: int) -> str:
    """The upload as text: not empty, not over the limit, UTF-8 (a byte order mark is fine)."""
    if not isinstance(data, bytes | bytearray):
        raise TypeError("notebook must be bytes")
    if len(data) == 0:
        raise RejectedUpload("empty_file", "ファイルが空です。", "The uploaded file is empty.")
    if len(data) > max_bytes:
        raise too_large(len(data), max_bytes)
    try:
        text = bytes(data).decode("utf-8-sig")  # some editors write a byte order mark
    except UnicodeDecodeError as exc:
        raise _not_utf8(f" (位置 {exc.start})", f" (byte {exc.start})") from None
    if "\x00" in text:
        raise _not_utf8("", "")
    return text


def _not_utf8(where: str, where_en: str) -> RejectedUpload:
    return RejectedUpload(
        "not_utf8",
        f"ファイルが UTF-8 のテキストではありません{where} (バイナリファイル?)。"
        ".ipynb ファイルを提出してください。",
        f"The file is not UTF-8 text{where_en} (a binary file?). Please submit the .ipynb file.",
    )


def _check_json_size(text: str) -> None:
    size = measure(text, MAX_JSON_NODES, MAX_JSON_DEPTH)
    if size.nodes > MAX_JSON_NODES or size.depth > MAX_JSON_DEPTH:
        raise RejectedUpload(
            "too_complex",
            f"ノートブックの構造が大きすぎます (JSON の値 {size.nodes:,} 個、上限 "
            f"{MAX_JSON_NODES:,}; 入れ子の深さの上限 {MAX_JSON_DEPTH})。"
            "出力をクリアしてから提出してください。",
            f"The notebook's structure is too large ({size.nodes:,} JSON values, limit "
            f"{MAX_JSON_NODES:,}; nesting at most {MAX_JSON_DEPTH} deep). "
            "Clear the outputs and submit again.",
        )


def _loaded(text: str) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        where = (
            f"{exc.lineno} 行 {exc.colno} 列" if hasattr(exc, "lineno") else "入れ子が深すぎます"
        )
        where_en = f"line {exc.lineno}, column {exc.colno}" if hasattr(exc, "lineno") else "nesting"
        raise RejectedUpload(
            "not_json",
            f"ファイルが JSON として読めません ({where})。"
            "ノートブックが壊れているか途中で切れています。" + _REMEDY_JA,
            f"The file is not valid JSON ({where_en}); the notebook is damaged or truncated. "
            + _REMEDY_EN,
        ) from None


def _check_top_level(raw: Any) -> None:
    """A dict with ``nbformat`` 4 and a list of at most ``MAX_CELLS`` cells."""
    if not isinstance(raw, dict) or "cells" not in raw or "nbformat" not in raw:
        is_dict = isinstance(raw, dict)
        what = "'nbformat' か 'cells' がありません" if is_dict else "最上位が辞書ではありません"
        what_en = (
            "no 'nbformat' or 'cells'" if is_dict else f"the top level is a {type(raw).__name__}"
        )
        raise RejectedUpload(
            "not_notebook",
            f"JSON ですがノートブックではありません: {what}。" + _REMEDY_JA,
            f"This is JSON but not a notebook: {what_en}. " + _REMEDY_EN,
        )
    if raw.get("nbformat") != 4:
        version = str(raw.get("nbformat"))[:20]
        raise RejectedUpload(
            "wrong_nbformat",
            f"ノートブックの形式 nbformat {version} には対応していません (4 が必要です)。",
            f"Notebook format nbformat {version} is not supported (4 is required).",
        )
    cells = raw.get("cells")
    if not isinstance(cells, list) or len(cells) > MAX_CELLS:
        raise RejectedUpload(
            "not_notebook",
            f"JSON ですがノートブックではありません: 'cells' がリストでないか、{MAX_CELLS} 個を"
            "超えています。" + _REMEDY_JA,
            f"This is JSON but not a notebook: 'cells' is not a list of at most {MAX_CELLS}"
            " cells. " + _REMEDY_EN,
        )


def _strip_unread(raw: dict) -> None:
    """Outputs and unused metadata go before the schema check: never used, maybe huge."""
    raw["metadata"] = _kept_notebook_metadata(raw.get("metadata"))
    for cell in raw["cells"]:
        if isinstance(cell, dict):
            cell["metadata"] = _kept_cell_metadata(cell.get("metadata"))
            if cell.get("cell_type") == "code":
                cell["outputs"] = []
                cell["execution_count"] = None


def _schema_checked(raw: dict) -> Any:
    import nbformat

    try:
        nb = nbformat.from_dict(raw)
        with warnings.catch_warnings():
            # Missing or duplicate cell ids are fixed in place; not the student's problem.
            warnings.simplefilter("ignore")
            nbformat.validate(nb)
    except Exception as exc:  # nbformat raises ValidationError and friends
        msg = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise RejectedUpload(
            "bad_schema",
            f"ノートブックの形式が正しくありません: {msg}",
            f"The notebook does not follow the nbformat v4 schema: {msg}",
        ) from None
    return nb


def _join_sources(nb: Any) -> None:
    """Sources as one string each (the schema allows lists), at most ``MAX_SOURCE_CHARS``."""
    total = 0
    for cell in nb.cells:
        src = cell.get("source", "")
        if isinstance(src, list):
            src = "".join(src)
            cell["source"] = src
        total += len(src)
        if cell.cell_type == "code":
            cell.pop("attachments", None)
    if total > MAX_SOURCE_CHARS:
        raise RejectedUpload(
            "too_long", "ソースコードが長すぎます。", "The notebook's source is too long to grade."
        )


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
    """The cell's ``nbgrader`` metadata when it names a ``grade_id``, else None."""
    meta = nbgrader(cell)
    return meta if meta and meta.get("grade_id") else None


def grade_ids(nb: Any) -> list[str]:
    return [m["grade_id"] for c in nb.cells if (m := nbgrader_meta(c))]


def check_belongs(nb: Any, released: Any, assignment_id: str) -> None:
    """Reject a notebook of another assignment, or one with duplicated graded cells."""
    ids = grade_ids(nb)
    known = set(grade_ids(released))
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise RejectedUpload(
            "duplicate_cells",
            f"採点用のセルが重複しています: {', '.join(dupes)}。コピーしたセルを削除してください。",
            f"Graded cells are duplicated: {', '.join(dupes)}. Delete the copies.",
        )
    foreign = [i for i in ids if i not in known]
    if foreign or (known and not set(ids) & known):
        raise RejectedUpload(
            "wrong_assignment",
            f"この課題 ({assignment_id}) のノートブックではありません"
            + (f" (知らないセル: {', '.join(foreign[:5])})" if foreign else "")
            + "。配布されたノートブックに解答して提出してください。",
            f"This is not a notebook of assignment {assignment_id}"
            + (f" (unknown cells: {', '.join(foreign[:5])})" if foreign else "")
            + ". Please fill in the released notebook and submit that.",
        )
