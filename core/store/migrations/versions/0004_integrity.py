"""The database holds the lab's invariants: ids never reused, a random uid per run, one
queued-or-running run per student (per racing lane), and an attempt number fencing workers.

SQLite reused the id of the newest run once it was deleted, and every cache of a run's model
keyed on that id: a student could be shown another's deleted weights. The tables are copied
into AUTOINCREMENT ones (batch mode), keeping every row and id; SQLite sets the sequence to the
largest id copied. PostgreSQL's sequences never reused ids; there only the columns and the
index are added.

Revision ID: 0004
Revises: 0003
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ACTIVE = ("queued", "running")


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in ("classes", "students", "challenges"):
        if sqlite:
            with op.batch_alter_table(
                table, recreate="always", table_kwargs={"sqlite_autoincrement": True}
            ):
                pass
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("uid", sa.String(32), nullable=True))
        batch.add_column(sa.Column("lane", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("attempt", sa.Integer, nullable=False, server_default="0"))
    runs = sa.table(
        "runs",
        sa.column("id", sa.Integer),
        sa.column("student_id", sa.Integer),
        sa.column("status", sa.String),
        sa.column("uid", sa.String),
        sa.column("lane", sa.Integer),
    )
    connection = op.get_bind()
    for (run_id,) in connection.execute(sa.select(runs.c.id)).all():
        connection.execute(
            runs.update().where(runs.c.id == run_id).values(uid=secrets.token_hex(16))
        )
    # A race queued several runs of one student at once: each racer still waiting gets its own
    # lane, so the existing rows satisfy the new index.
    active = connection.execute(
        sa.select(runs.c.id, runs.c.student_id)
        .where(runs.c.status.in_(ACTIVE))
        .order_by(runs.c.student_id, runs.c.id)
    ).all()
    lanes: dict[int, int] = {}
    for run_id, student_id in active:
        lane = lanes.get(student_id, 0)
        lanes[student_id] = lane + 1
        if lane:
            connection.execute(runs.update().where(runs.c.id == run_id).values(lane=lane))
    with op.batch_alter_table(
        "runs",
        recreate="always" if sqlite else "auto",
        table_kwargs={"sqlite_autoincrement": True},
    ) as batch:
        batch.alter_column("uid", existing_type=sa.String(32), nullable=False)
        batch.create_unique_constraint("uq_runs_uid", ["uid"])
    where = sa.text("status IN ('queued', 'running')")
    op.create_index(
        "ux_runs_one_active",
        "runs",
        ["student_id", "lane"],
        unique=True,
        sqlite_where=where,
        postgresql_where=where,
    )


def downgrade() -> None:
    op.drop_index("ux_runs_one_active", "runs")
    with op.batch_alter_table("runs") as batch:
        batch.drop_constraint("uq_runs_uid", type_="unique")
        for column in ("attempt", "lane", "uid"):
            batch.drop_column(column)
