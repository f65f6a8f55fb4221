"""Checks on an upload before it is stored: the cheap, trusted-side part of the engine's
validation, so that a broken file gets its 4xx at once instead of a queued job.

The engine validates again (schema, assignment membership, locked cells) when grading.
"""

from __future__ import annotations

import json
import re

from grader.service.errors import ApiError

SAFE_NAME_RE = re.compile(r"^[^/\\\x00-\x1f]{1,200}\.ipynb$")


def check_filename(filename: str | None) -> str:
    name = filename or ""
    if not SAFE_NAME_RE.match(name) or name.startswith(".") or ".." in name or ":" in name:
        raise ApiError("bad_filename", filename=name[:100])
    return name


def check_notebook_bytes(data: bytes, limit: int) -> dict:
    """Return the parsed notebook or raise ApiError (empty, too large, binary, not JSON, not a
    v4 notebook)."""
    if len(data) == 0:
        raise ApiError("empty_file")
    if len(data) > limit:
        raise ApiError("too_large", limit=limit)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError("not_utf8") from exc
    if "\x00" in text:
        raise ApiError("not_utf8")
    try:
        nb = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        detail = f"line {exc.lineno}, column {exc.colno}" if hasattr(exc, "lineno") else "nesting"
        raise ApiError("not_json", detail=detail) from exc
    if not isinstance(nb, dict):
        raise ApiError("not_notebook", detail=f"top level is a {type(nb).__name__}")
    version = nb.get("nbformat")
    if version is None or "cells" not in nb:
        raise ApiError("not_notebook", detail="no 'nbformat' or 'cells'")
    if version != 4:
        raise ApiError("wrong_nbformat", version=str(version)[:20])
    if not isinstance(nb["cells"], list):
        raise ApiError("not_notebook", detail="'cells' is not a list")
    return nb
