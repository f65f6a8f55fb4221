"""Course settings: per-assignment deadline, late policy, release date, result visibility;
per-student extensions; students' family and given names from the roster; instructor
adjustments (score overrides, comments) with their audit trail.

Revision ID: 0003_course_settings
Revises: 0002_fair_queue
Create Date: issue 9
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_course_settings"
down_revision = "0002_fair_queue"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as users:  # batch: SQLite cannot alter in place
        users.add_column(
            sa.Column("family_name", sa.String(200), nullable=False, server_default="")
        )
        users.add_column(sa.Column("given_name", sa.String(200), nullable=False, server_default=""))
    with op.batch_alter_table("results") as results:
        results.add_column(sa.Column("override_score", sa.Float, nullable=True))
    op.create_table(
        "adjustments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("submission_id", sa.String(32), sa.ForeignKey("submissions.id"), nullable=False),
        sa.Column("result_id", sa.Integer, nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("score", sa.Float, nullable=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
    )
    op.create_index("ix_adjustments_submission_id", "adjustments", ["submission_id"])
    op.create_table(
        "assignment_settings",
        sa.Column("assignment_id", sa.String(100), primary_key=True),
        sa.Column("deadline", sa.Float, nullable=True),
        sa.Column("late_policy", sa.String(16), nullable=False),
        sa.Column("penalty_per_day", sa.Float, nullable=False),
        sa.Column("max_late_days", sa.Integer, nullable=True),
        sa.Column("release_at", sa.Float, nullable=True),
        sa.Column("results_visible", sa.String(16), nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
    )
    op.create_table(
        "extensions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(64), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("assignment_id", sa.String(100), nullable=False),
        sa.Column("deadline", sa.Float, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.UniqueConstraint("user_id", "assignment_id", name="uq_extensions_user_assignment"),
    )


def downgrade() -> None:
    op.drop_table("adjustments")
    with op.batch_alter_table("results") as results:
        results.drop_column("override_score")
    op.drop_table("extensions")
    op.drop_table("assignment_settings")
    with op.batch_alter_table("users") as users:
        users.drop_column("given_name")
        users.drop_column("family_name")
