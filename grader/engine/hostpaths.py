"""Host paths out of what students see: the grader's venv, its Python installation and the
course checkout appear in tracebacks through library frames (the sandbox binds them at their
own paths); the executed notebook names them by role instead."""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path

_STANDARD = {"/", "/usr", "/usr/local"}  # paths every Python has: nothing to hide


@lru_cache(maxsize=1)
def _replacements() -> list[tuple[str, str]]:
    import grader

    named = {
        str(Path(sys.prefix).resolve()): "<python-env>",
        sys.prefix: "<python-env>",
        str(Path(sys.base_prefix).resolve()): "<python>",
        sys.base_prefix: "<python>",
        str(Path(grader.__file__).resolve().parents[1]): "<course>",
    }
    pairs = [(path, name) for path, name in named.items() if path not in _STANDARD]
    return sorted(pairs, key=lambda pair: -len(pair[0]))  # longest first: a venv inside a checkout


def hide_host_paths(text: str) -> str:
    for path, name in _replacements():
        text = text.replace(path, name)
    return text
