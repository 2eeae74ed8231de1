"""Classes: a teacher's lesson with its setup, challenges and their scores; students and runs
gain the class they belong to, a nickname and a board opt-out.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "classes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("teacher_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("code_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("setup", sa.JSON, nullable=False),
        sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    # Batch mode: SQLite cannot add a foreign key to an existing table, so Alembic rebuilds it
    # there (keeping every row); PostgreSQL gets plain ALTER TABLE statements.
    with op.batch_alter_table("students") as batch:
        batch.add_column(sa.Column("class_id", sa.Integer, nullable=True))
        batch.add_column(sa.Column("nickname", sa.String(40), nullable=True))
        batch.add_column(
            sa.Column("on_board", sa.Boolean, nullable=False, server_default=sa.true())
        )
        batch.create_foreign_key("fk_students_class_id", "classes", ["class_id"], ["id"])
        batch.create_index("ix_students_class_id", ["class_id"])
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("class_id", sa.Integer, nullable=True))
        batch.create_foreign_key("fk_runs_class_id", "classes", ["class_id"], ["id"])
        batch.create_index("ix_runs_class_id", ["class_id"])
    op.create_table(
        "challenges",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("class_id", sa.Integer, sa.ForeignKey("classes.id"), nullable=False),
        sa.Column("rules", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_challenges_class_id", "challenges", ["class_id"])
    op.create_table(
        "scores",
        sa.Column("challenge_id", sa.Integer, sa.ForeignKey("challenges.id"), primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("value", sa.Float, nullable=True),
    )
    op.create_index("ix_scores_run_id", "scores", ["run_id"])


def downgrade() -> None:
    op.drop_table("scores")
    op.drop_table("challenges")
    with op.batch_alter_table("runs") as batch:
        batch.drop_index("ix_runs_class_id")
        batch.drop_constraint("fk_runs_class_id", type_="foreignkey")
        batch.drop_column("class_id")
    with op.batch_alter_table("students") as batch:
        batch.drop_index("ix_students_class_id")
        batch.drop_constraint("fk_students_class_id", type_="foreignkey")
        for column in ("on_board", "nickname", "class_id"):
            batch.drop_column(column)
    op.drop_table("classes")
