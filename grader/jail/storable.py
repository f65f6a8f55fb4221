"""Strings that any database and any UTF-8 file can hold.

JSON lets a notebook (the upload, or anything the sandbox reports) carry a lone surrogate such
as ``"\\ud800"``; Python decodes it into a ``str`` that cannot be encoded as UTF-8, and the
first insert or write that tries raises ``UnicodeEncodeError``. Every string that comes from
outside goes through :func:`storable` first: each lone surrogate becomes U+FFFD.
"""

from __future__ import annotations

import re
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")


def storable_text(text: str) -> str:
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def storable(value: Any) -> Any:
    """``value`` (JSON-like: dicts, lists, strings...) with every string, keys included, made
    storable; dicts and lists are changed in place."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, dict):
        for key in list(value):
            item = storable(value[key])
            if isinstance(key, str) and _SURROGATE.search(key):
                del value[key]
                value[storable_text(key)] = item
            else:
                value[key] = item
        return value
    if isinstance(value, list):
        value[:] = [storable(item) for item in value]
        return value
    return value
