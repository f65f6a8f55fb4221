"""The student's access token per service, kept in the user's config folder (mode 0600).

``$DL_COURSE_CONFIG`` or ``$XDG_CONFIG_HOME/dl-course`` (default ``~/.config/dl-course``)
holds ``tokens.json``: ``{service URL: token}``. Never written into a notebook.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def token_file() -> Path:
    folder = os.environ.get("DL_COURSE_CONFIG")
    if not folder:
        xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
        folder = os.path.join(xdg, "dl-course")
    return Path(folder) / "tokens.json"


def _read() -> dict[str, str]:
    try:
        data = json.loads(token_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write(tokens: dict[str, str]) -> None:
    path = token_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # created 0600 before anything is written into it; chmod too in case it existed wider
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        os.chmod(path, 0o600)
        json.dump(tokens, f)


def load_token(service_url: str) -> str | None:
    return _read().get(service_url.rstrip("/"))


def save_token(service_url: str, token: str) -> None:
    tokens = _read()
    tokens[service_url.rstrip("/")] = token
    _write(tokens)


def forget_token(service_url: str) -> None:
    tokens = _read()
    if tokens.pop(service_url.rstrip("/"), None) is not None:
        _write(tokens)
