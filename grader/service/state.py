"""The shared objects of a running app: config, database, catalog, sandbox mode."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from grader.service.catalog import Catalog
from grader.service.config import ServiceConfig


@dataclass
class AppState:
    config: ServiceConfig
    engine: Engine
    sessions: sessionmaker[Session]
    catalog: Catalog
    sandbox_mode: str  # "bwrap" | "limits-only"
