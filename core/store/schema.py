"""The store's tables, in SQLAlchemy Core: students, runs and what a run leaves behind.

Alembic's migrations (`core/store/migrations/versions/`) create and change these tables; this
module is what the code reads and writes against, and a test checks that the two agree.
Times are Unix seconds (floats), the same on SQLite and PostgreSQL and free of time zones.

The database itself holds the invariants the lab's promises rest on, not a read in Python
followed by a write: ids are never reused (SQLite's AUTOINCREMENT; PostgreSQL's sequences never
go back), a run has a random `uid` that every cache of it keys on, a student has at most one
queued-or-running run per lane (a partial unique index; lanes only exist for a race's racers,
queued together), and every write of a training worker names the `attempt` its claim got.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# A lesson: its setup and two links. Only hashes of the teacher key and the class code are
# kept; the code is derived from the key (core.lab.classroom), so the teacher's view can show it.
classes = sa.Table(
    "classes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("teacher_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("code_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("setup", sa.JSON, nullable=False),  # core.lab.classroom.Setup as JSON.
    sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", sa.Float, nullable=False),
    sqlite_autoincrement=True,
)

students = sa.Table(
    "students",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # SHA-256 of the student's link token: a stolen database gives no working links.
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.Float, nullable=False),
    # Refreshed while the student has a page open; abandoned runs are found from it.
    sa.Column("last_seen_at", sa.Float, nullable=False),
    # A student who joined a class with its code: the class's setup applies to them.
    sa.Column("class_id", sa.Integer, sa.ForeignKey("classes.id"), nullable=True, index=True),
    sa.Column("nickname", sa.String(40), nullable=True),  # Plain text, shown escaped.
    sa.Column("on_board", sa.Boolean, nullable=False, server_default=sa.true()),
    # A deleted student's id is never given to a new one: a tab still holding it would see
    # the newcomer's runs.
    sqlite_autoincrement=True,
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("student_id", sa.Integer, sa.ForeignKey("students.id"), nullable=False, index=True),
    sa.Column("variant", sa.String(40), nullable=False),
    # {"train": TrainConfig fields, "model": the variant config's fields}: enough to rebuild.
    sa.Column("settings", sa.JSON, nullable=False),
    # queued, running, finished, stopped, diverged, failed or interrupted.
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("phase", sa.String(16), nullable=True),  # While running: starting/training/measuring.
    sa.Column("message", sa.Text, nullable=True),  # Why it failed, stopped or was interrupted.
    sa.Column("stop_requested", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("queued_at", sa.Float, nullable=False),  # Place in line; renewed on continue.
    sa.Column("started_at", sa.Float, nullable=True),
    sa.Column("finished_at", sa.Float, nullable=True),
    sa.Column("heartbeat_at", sa.Float, nullable=True),  # Last sign of life from its worker.
    sa.Column("worker", sa.String(200), nullable=True),  # host:pid of the training process.
    sa.Column("epochs_total", sa.Integer, nullable=False),
    sa.Column("epochs_done", sa.Integer, nullable=False, default=0),
    sa.Column("batches", sa.Integer, nullable=True),  # Batches per epoch.
    sa.Column("batch", sa.Integer, nullable=True),  # Batches done in the current epoch.
    sa.Column("seconds", sa.Float, nullable=False, default=0.0),  # Training time, all sessions.
    sa.Column("samples_per_second", sa.Float, nullable=True),
    # Test metrics with the model cards' definitions, measured by the worker on 10,000 images.
    sa.Column("metrics", sa.JSON, nullable=True),
    # The class the student was in when they started it (its challenges score it).
    sa.Column("class_id", sa.Integer, sa.ForeignKey("classes.id"), nullable=True, index=True),
    # Random, minted at insert: what every cache of the run's model or curves keys on (with
    # the epoch of its weights), so no other run can ever be served from it.
    sa.Column("uid", sa.String(32), nullable=False),
    # 0 for a single run; a race's racers take lanes 0, 1, ... (see the index below).
    sa.Column("lane", sa.Integer, nullable=False, server_default="0"),
    # Bumped by every claim; a worker's writes name it, so a worker that lost its claim (taken
    # for dead, the run continued elsewhere) is refused and stops instead of overwriting.
    sa.Column("attempt", sa.Integer, nullable=False, server_default="0"),
    sa.UniqueConstraint("uid", name="uq_runs_uid"),
    # SQLite otherwise reuses the id of the newest run once it is deleted.
    sqlite_autoincrement=True,
)

STATUSES = ("queued", "running", "finished", "stopped", "diverged", "failed", "interrupted")
ACTIVE = ("queued", "running")

# One queued-or-running run per student (per lane): two Train presses at once, from two tabs or
# two servers, cannot both queue one. A race queues its racers together in lanes 0..n-1, so a
# second race or run started at the same moment collides with it in lane 0.
ONE_ACTIVE_RUN = sa.Index(
    "ux_runs_one_active",
    runs.c.student_id,
    runs.c.lane,
    unique=True,
    sqlite_where=runs.c.status.in_(ACTIVE),
    postgresql_where=runs.c.status.in_(ACTIVE),
)

# A goal for a class: allowed variants, constraints on settings and the metric to rank by.
challenges = sa.Table(
    "challenges",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("class_id", sa.Integer, sa.ForeignKey("classes.id"), nullable=False, index=True),
    sa.Column("rules", sa.JSON, nullable=False),  # core.lab.classroom.Challenge as JSON.
    sa.Column("created_at", sa.Float, nullable=False),
    sqlite_autoincrement=True,
)

# A challenge's metric of a finished run that meets its constraints, measured by the worker.
scores = sa.Table(
    "scores",
    metadata,
    sa.Column("challenge_id", sa.Integer, sa.ForeignKey("challenges.id"), primary_key=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), primary_key=True, index=True),
    sa.Column("value", sa.Float, nullable=True),  # Null: not finite (a broken model).
)

# The loss of every training batch, in chunks of about a second of training each.
loss_chunks = sa.Table(
    "loss_chunks",
    metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("epoch", sa.Integer, nullable=False),  # Counted from 0.
    sa.Column("first_batch", sa.Integer, nullable=False),  # Index in the epoch of values[0].
    sa.Column("batches", sa.Integer, nullable=False),  # Batches per epoch, for the x axis.
    sa.Column("values", sa.JSON, nullable=False),  # {"loss": [...], "kl_loss": [...], ...}
)

# One row per finished epoch (epoch 0: before training, samples only).
epochs = sa.Table(
    "epochs",
    metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("epoch", sa.Integer, primary_key=True),
    sa.Column("logs", sa.JSON, nullable=False),  # Epoch means: loss, val_loss, ...
    sa.Column("samples", sa.LargeBinary, nullable=False),  # 8 x 28 x 28 uint8 reconstructions.
    # The codes of core.ml.replay's fixed test images, float16 (N, 2), when the code is 2-D.
    sa.Column("codes", sa.LargeBinary, nullable=True),
)

# The weights after the latest epoch, as an .npz of the model's weight arrays (no pickles).
checkpoints = sa.Table(
    "checkpoints",
    metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("epoch", sa.Integer, nullable=False),
    sa.Column("weights", sa.LargeBinary, nullable=False),
)

# What the web tier runs of a run's model (core.ml.served): its ONNX halves and the weights the
# pages read, exported by the worker that trained it, so an app server without TensorFlow can
# show it. Written when a training session ends (an export per epoch would cost more than some
# epochs do); `epoch` says which checkpoint it is.
bundles = sa.Table(
    "bundles",
    metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("epoch", sa.Integer, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
)

# A dataset of a student's or a class's own images (core.ml.own_images): the prepared uint8
# images of its three splits and their labels, as one compressed .npz (plain arrays, loaded
# without pickles), with what a list shows beside it. Exactly one owner: a student, or a class
# (uploaded by its teacher, seen by its students).
datasets = sa.Table(
    "datasets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("student_id", sa.Integer, sa.ForeignKey("students.id"), nullable=True),
    sa.Column("class_id", sa.Integer, sa.ForeignKey("classes.id"), nullable=True),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("recipe", sa.String(16), nullable=False),
    sa.Column("seed", sa.Integer, nullable=False),
    sa.Column("classes", sa.JSON, nullable=False),  # The labels' names, [] when unlabelled.
    sa.Column("images", sa.Integer, nullable=False),
    sa.Column("size", sa.Integer, nullable=False),  # Bytes of `data`: the store's limits.
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.CheckConstraint("(student_id IS NULL) <> (class_id IS NULL)", name="one_owner"),
    sqlite_autoincrement=True,
)
