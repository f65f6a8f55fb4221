"""Checks on an upload before it is stored: the file name here, the notebook by the engine's
one validator (``grader.engine.upload.parse_notebook``), so that a broken file gets its 4xx at
once instead of a queued job, with the same message the engine would give.

The engine validates again when grading (assignment membership, locked cells).
"""

from __future__ import annotations

import re
from typing import Any

from grader.engine.upload import RejectedUpload, parse_notebook
from grader.service.errors import ApiError

SAFE_NAME_RE = re.compile(r"^[^/\\\x00-\x1f]{1,200}\.ipynb$")


def check_filename(filename: str | None) -> str:
    name = filename or ""
    if not SAFE_NAME_RE.match(name) or name.startswith(".") or ".." in name or ":" in name:
        raise ApiError("bad_filename", filename=name[:100])
    return name


def check_notebook_bytes(data: bytes, limit: int) -> Any:
    """The validated notebook (nbformat node, outputs stripped), or ApiError with the engine's
    code and message (413 for too large, 400 otherwise)."""
    try:
        return parse_notebook(data, max_bytes=limit)
    except RejectedUpload as exc:
        raise ApiError.rejected(exc) from None
