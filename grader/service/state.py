"""The shared objects of a running app: config, database, catalog, sandbox mode."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from grader.service.catalog import Catalog
from grader.service.config import ServiceConfig
from grader.service.events import STATUS_POLL, StatusMarks, StreamLimit
from grader.service.ratelimit import FailureBackoff


@dataclass
class AppState:
    config: ServiceConfig
    engine: Engine
    sessions: sessionmaker[Session]
    catalog: Catalog
    sandbox_mode: str  # "bwrap" | "limits-only"
    login_backoff: FailureBackoff = field(default_factory=FailureBackoff)  # wrong tokens
    streams: StreamLimit = field(init=False)  # open event streams per user
    status_marks: StatusMarks = field(init=False)  # status reads shared by the streams

    def __post_init__(self) -> None:
        self.streams = StreamLimit(self.config.max_streams_per_user)
        self.status_marks = StatusMarks(self.engine, STATUS_POLL)
