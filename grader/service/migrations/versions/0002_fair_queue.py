"""Fair claim order: each job carries its student, assignment, round-robin key and expected
run time (grader/service/queue.py explains the order).

Revision ID: 0002_fair_queue
Revises: 0001_initial
Create Date: fair scheduling (issue 12 item 2, issue 13 finding 11)
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_fair_queue"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("user_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("assignment_id", sa.String(100), nullable=True))
        batch.add_column(sa.Column("fair_key", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("expected_seconds", sa.Float, nullable=True))
    # Jobs queued before the upgrade keep their FIFO order: all in round 0, by id.
    op.execute(
        "UPDATE jobs SET user_id = (SELECT s.user_id FROM submissions s "
        "WHERE s.id = jobs.submission_id), assignment_id = (SELECT s.assignment_id "
        "FROM submissions s WHERE s.id = jobs.submission_id)"
    )
    op.create_index("ix_jobs_status_fair_key", "jobs", ["status", "fair_key", "id"])
    op.create_index("ix_jobs_user_fair_key", "jobs", ["user_id", "fair_key"])
    op.create_index("ix_jobs_assignment_status", "jobs", ["assignment_id", "status", "id"])


def downgrade() -> None:
    op.drop_index("ix_jobs_assignment_status", "jobs")
    op.drop_index("ix_jobs_user_fair_key", "jobs")
    op.drop_index("ix_jobs_status_fair_key", "jobs")
    with op.batch_alter_table("jobs") as batch:
        for col in ("expected_seconds", "fair_key", "assignment_id", "user_id"):
            batch.drop_column(col)
