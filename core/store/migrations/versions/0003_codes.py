"""Epochs gain the 2-D codes of a fixed set of test images, for the Latent page's replay of how
a code forms (only runs whose code has two numbers store them).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("epochs") as batch:
        batch.add_column(sa.Column("codes", sa.LargeBinary, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("epochs") as batch:
        batch.drop_column("codes")
