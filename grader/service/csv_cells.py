"""Writing CSV that spreadsheets open safely: text cells starting with ``= + - @`` (or a tab /
carriage return) get a leading ``'`` so that Excel or LibreOffice show them as text instead of
running them as formulas (OWASP "CSV injection"; a roster name ``=HYPERLINK(...)``), and the
bytes are UTF-8, with a byte order mark for Excel when asked (without one Excel reads the
file in the system code page and Japanese names turn into mojibake). Every CSV the service
writes goes through here: the exports and the roster's token list."""

from __future__ import annotations

import csv
import io

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """A cell a spreadsheet will not run as a formula (OWASP "CSV injection")."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(header: list[str], rows: list[list[object]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows([safe_cell(c) for c in row] for row in rows)
    return buf.getvalue()


def csv_bytes(text: str, bom: bool) -> bytes:
    """UTF-8, with a byte order mark for Excel when ``bom``."""
    return text.encode("utf-8-sig" if bom else "utf-8")
