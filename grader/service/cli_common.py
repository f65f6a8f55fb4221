"""Options shared by ``grader serve``, ``grader worker``, ``grader roster`` and ``grader token``."""

from __future__ import annotations

import argparse
from pathlib import Path

from grader.service.config import ServiceConfig


def add_store_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--home",
        type=Path,
        default=None,
        help="state directory (default: $GRADER_HOME or ./var)",
    )
    p.add_argument(
        "--db",
        default=None,
        metavar="URL",
        help="database URL (default: sqlite:///<home>/grader.sqlite3; "
        "postgresql+psycopg://... for several machines)",
    )


def config_from(args: argparse.Namespace, **overrides) -> ServiceConfig:
    kwargs = {"db_url": args.db, **{k: v for k, v in overrides.items() if v is not None}}
    if args.home is not None:
        kwargs["home"] = args.home
    return ServiceConfig(**kwargs)


def open_store(cfg: ServiceConfig):
    """Engine and session factory on a migrated database."""
    from grader.service.db import make_engine, make_sessionmaker, migrate

    cfg.ensure_home()
    engine = make_engine(cfg.db_url)
    migrate(engine)
    return engine, make_sessionmaker(engine)


SANDBOX_REFUSAL = (
    "サンドボックス (bubblewrap) が使えません。学生のコードを隔離せずに採点するには "
    "--allow-unsandboxed を付けてください。\n"
    "The sandbox (bubblewrap) is unavailable here. Pass --allow-unsandboxed to grade with "
    "process limits only (student code will NOT be isolated)."
)
UNSANDBOXED_BANNER = (
    "!!! WARNING: grading in limits-only mode: student code is NOT isolated "
    "(--allow-unsandboxed) !!!"
)
