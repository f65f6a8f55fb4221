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


class StoreError(Exception):
    """The database cannot be opened; the message says which URL and why."""


def open_store(cfg: ServiceConfig):
    """Engine and session factory on a migrated database; ``StoreError`` when it cannot be
    opened (bad URL, missing driver, server unreachable, unwritable file)."""
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

    from grader.service.db import make_engine, make_sessionmaker, migrate

    shown = _hide_password(cfg.db_url)
    try:
        cfg.ensure_home()
        engine = make_engine(cfg.db_url)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise StoreError(
            f"--db {shown!r} is not a database URL this grader can use ({exc}); use "
            "sqlite:///PATH or postgresql+psycopg://USER:PASSWORD@HOST/DB"
        ) from None
    except ModuleNotFoundError as exc:
        raise StoreError(
            f"the driver for --db {shown!r} is not installed ({exc.name}); for PostgreSQL "
            "install the extra: pip install 'dl-course-grader[postgres]'"
        ) from None
    except OSError as exc:
        raise StoreError(f"cannot create the state directory for {shown!r}: {exc}") from None
    try:
        migrate(engine)
    except (SQLAlchemyError, OSError) as exc:
        engine.dispose()
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StoreError(f"cannot open the database {shown!r}: {first}") from None
    return engine, make_sessionmaker(engine)


def _hide_password(url: str) -> str:
    """The URL as it may be printed: the password replaced by ***."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


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
