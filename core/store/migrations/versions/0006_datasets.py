"""Datasets of one's own images (core.ml.own_images): a student's or a class's, stored as one
compressed .npz of uint8 arrays, so a worker on any machine trains on them.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("student_id", sa.Integer, sa.ForeignKey("students.id"), nullable=True),
        sa.Column("class_id", sa.Integer, sa.ForeignKey("classes.id"), nullable=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("recipe", sa.String(16), nullable=False),
        sa.Column("seed", sa.Integer, nullable=False),
        sa.Column("classes", sa.JSON, nullable=False),
        sa.Column("images", sa.Integer, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.CheckConstraint("(student_id IS NULL) <> (class_id IS NULL)", name="one_owner"),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("datasets")
