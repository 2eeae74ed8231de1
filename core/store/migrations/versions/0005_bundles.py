"""Runs gain a serving bundle (core.ml.served): the ONNX halves of their model, exported by the
worker, so the web tier shows a student's model without TensorFlow.

Runs trained before this revision have none: the pages say so and offer to continue the run,
which writes one.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bundles",
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("epoch", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("bundles")
