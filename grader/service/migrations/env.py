"""Alembic environment: always handed a live connection by ``grader.service.db.migrate``."""

from alembic import context

from grader.service.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable from a stray alembic CLI call
    raise RuntimeError("run migrations through grader.service.db.migrate(engine)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
