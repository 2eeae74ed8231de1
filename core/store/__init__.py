"""The run store: every training a student starts is a row that outlives sessions and servers.

SQLite in the user data folder by default, or any SQLAlchemy URL in `AE_DATABASE_URL`
(PostgreSQL through psycopg 3). Alembic migrates the schema when the server opens the store, so
a class database survives upgrades of the app. The server's pages read; the training worker
writes (`core.cluster.job`).

One module per job:

    database   where the database is, its engine and migrations, transactions, failures
    errors     StoreError and its kinds; Refused and its kinds
    codecs     arrays to and from bytes (checkpoints, samples, codes)
    records    the dataclasses reads return (Run, Losses, Epoch, ClassRow, Member)
    schema     the tables
    students   students and their link tokens
    runs       runs and their queue: start, stop, continue, delete, read
    claims     a worker's claim of a run and its fenced writes (Claimed)
    history    a run's losses, epochs and checkpoint
    classes    classes, members, challenges and scores
    pruning    sweeps, pruning and the store's summary
"""

from __future__ import annotations

from core.store.claims import Claimed, Claims
from core.store.classes import Classes
from core.store.codecs import (
    checkpoint_from_bytes,
    codes_from_bytes,
    codes_to_bytes,
    samples_from_bytes,
    samples_to_bytes,
    weights_from_bytes,
    weights_to_bytes,
)
from core.store.database import MIGRATION_LOCK, MIGRATIONS, Database, data_dir, database_url
from core.store.datasets import DatasetRow, Datasets, Owner
from core.store.errors import (
    Busy,
    Conflict,
    Fenced,
    LabBusy,
    Refused,
    StoreError,
    StoreUnavailable,
)
from core.store.history import History
from core.store.pruning import Housekeeping
from core.store.records import ClassRow, Epoch, Losses, Member, Run
from core.store.runs import CONTINUABLE, Runs
from core.store.schema import ACTIVE
from core.store.students import TOKEN_BYTES, Students, hash_token

__all__ = [
    "ACTIVE",
    "CONTINUABLE",
    "MIGRATIONS",
    "MIGRATION_LOCK",
    "TOKEN_BYTES",
    "Busy",
    "Claimed",
    "ClassRow",
    "Conflict",
    "DatasetRow",
    "Epoch",
    "Fenced",
    "LabBusy",
    "Losses",
    "Member",
    "Owner",
    "Refused",
    "Run",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "checkpoint_from_bytes",
    "codes_from_bytes",
    "codes_to_bytes",
    "data_dir",
    "database_url",
    "hash_token",
    "samples_from_bytes",
    "samples_to_bytes",
    "weights_from_bytes",
    "weights_to_bytes",
]


class Store(Students, Runs, Claims, History, Classes, Housekeeping, Datasets):
    """Every read and write of students, runs and classes goes through here: one object for
    its callers, its methods in the module of their table group.

    Each part is a mixin over `Database`, the one base they share, and reads and writes only
    through its public `transaction`, `rows` and `write`; what two parts share beyond that
    is a public function of one of them (`runs.delete_runs`, `claims.heartbeat`). Mixins rather
    than a Store holding parts: the callers' methods stay where they are without a forwarding
    method for each, and a subclass (a test's store) still overrides one and calls `super()`.
    """

    # The name tests written before `transaction` was public use.
    _transaction = Database.transaction
