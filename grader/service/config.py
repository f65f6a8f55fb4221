"""Service settings: where state lives, which database, limits.

Defaults give a zero set-up embedded service: state under ``$GRADER_HOME`` (or ``./var``), a
SQLite file inside it, and a policy file ``policy.toml`` next to it for deadlines.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from grader.engine.upload import MAX_UPLOAD_BYTES


def default_home() -> Path:
    """State directory: ``$GRADER_HOME`` if set, else ``./var`` under the working directory."""
    return Path(os.environ.get("GRADER_HOME") or "var").resolve()


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@dataclass
class ServiceConfig:
    """Everything the app and the workers need to agree on.

    ``db_url`` defaults to ``sqlite:///<home>/grader.sqlite3``; a ``postgresql+psycopg://``
    URL switches the queue to ``FOR UPDATE SKIP LOCKED``.
    """

    home: Path = field(default_factory=default_home)
    db_url: str | None = None
    max_upload_bytes: int = MAX_UPLOAD_BYTES  # the engine's one limit (grader/engine/upload.py)
    max_queued_per_student: int = 3
    max_attempts_per_assignment: int = 30
    lease_seconds: float = 60.0  # a worker that misses heartbeats this long loses its job
    max_job_attempts: int = 3  # claims of one job before it is failed for good
    policy_file: Path | None = None  # deadlines; default <home>/policy.toml
    session_days: float = 14.0
    max_streams_per_user: int = 6  # open status streams (browser tabs) per user

    def __post_init__(self) -> None:
        self.home = Path(self.home).resolve()
        if not self.db_url:
            self.db_url = sqlite_url(self.home / "grader.sqlite3")
        if self.policy_file is None:
            self.policy_file = self.home / "policy.toml"

    @property
    def is_sqlite(self) -> bool:
        return self.db_url.startswith("sqlite")

    def ensure_home(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
