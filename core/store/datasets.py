"""Datasets of one's own images in the store: a student's, or a class's (its teacher's upload),
with limits on how many each owner keeps and on the bytes they take in the store altogether.

The limits are checked in the transaction that writes the dataset (two uploads at once cannot
both slip under them on PostgreSQL either: the owner's row is locked first). Every action names
its owner, and a dataset of another owner is as absent as one that does not exist.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa

from core.i18n import _
from core.store.database import Database
from core.store.errors import Refused
from core.store.schema import classes, datasets, students

MOST_PER_OWNER = 5
MOST_STORE_BYTES = 500 * 1024 * 1024  # All datasets of the store together (compressed).
NAME_LENGTH = 120
ARRAYS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")


@dataclass(frozen=True)
class Owner:
    """Who a dataset belongs to: a student, or a class (exactly one of the two)."""

    student_id: int | None = None
    class_id: int | None = None

    def __post_init__(self):
        if (self.student_id is None) == (self.class_id is None):
            raise ValueError("a dataset has exactly one owner: a student or a class")

    def where(self):
        if self.student_id is not None:
            return datasets.c.student_id == self.student_id
        return datasets.c.class_id == self.class_id


@dataclass(frozen=True)
class DatasetRow:
    """A stored dataset as a list shows it (its arrays are read apart: `dataset_arrays`)."""

    id: int
    name: str
    recipe: str
    seed: int
    classes: tuple[str, ...]
    images: int
    size: int
    created_at: float
    student_id: int | None
    class_id: int | None


LISTED = [column for column in datasets.c if column.name != "data"]


class Datasets(Database):
    """The store's datasets of own images."""

    def add_dataset(
        self,
        owner: Owner,
        name: str,
        prepared,
        most_per_owner: int = MOST_PER_OWNER,
        most_bytes: int = MOST_STORE_BYTES,
    ) -> int:
        """Store a prepared dataset (core.ml.own_images.OwnDataset) for `owner`; its id.
        Raises Refused when the owner has as many as allowed or the store is full."""
        name = " ".join(name.split())[:NAME_LENGTH] or _("My images")
        data = prepared.npz()
        with self.transaction() as connection:
            self._lock_owner(connection, owner)
            count = connection.execute(
                sa.select(sa.func.count()).select_from(datasets).where(owner.where())
            ).scalar_one()
            if count >= most_per_owner:
                raise Refused(
                    _(
                        "You keep {count} datasets already, the most allowed: delete one to "
                        "upload another."
                    ).format(count=count)
                )
            used = connection.execute(sa.select(sa.func.coalesce(sa.func.sum(datasets.c.size), 0)))
            if used.scalar_one() + len(data) > most_bytes:
                raise Refused(_("The lab's storage for uploaded images is full: try again later."))
            result = connection.execute(
                datasets.insert().values(
                    student_id=owner.student_id,
                    class_id=owner.class_id,
                    name=name,
                    recipe=prepared.recipe,
                    seed=prepared.seed,
                    classes=list(prepared.classes),
                    images=int(len(prepared.x_train) + len(prepared.x_val) + len(prepared.x_test)),
                    size=len(data),
                    created_at=time.time(),
                    data=data,
                )
            )
            return int(result.inserted_primary_key[0])

    def _lock_owner(self, connection, owner: Owner) -> None:
        """Serialise the owner's uploads (PostgreSQL: a row lock; SQLite locks the database
        for every write anyway)."""
        table, key = (
            (students, owner.student_id)
            if owner.student_id is not None
            else (classes, owner.class_id)
        )
        query = sa.select(table.c.id).where(table.c.id == key)
        if connection.dialect.name == "postgresql":
            query = query.with_for_update()
        if connection.execute(query).first() is None:
            raise Refused(_("That owner is not known here."))

    def datasets(self, owner: Owner) -> list[DatasetRow]:
        """The owner's datasets, newest first."""
        query = sa.select(*LISTED).where(owner.where()).order_by(datasets.c.id.desc())
        return [_row(found) for found in self.rows(query)]

    def dataset(self, dataset_id: int, owners: list[Owner]) -> DatasetRow | None:
        """The dataset if it belongs to one of `owners` (a student and their class)."""
        query = sa.select(*LISTED).where(
            datasets.c.id == dataset_id, sa.or_(*(owner.where() for owner in owners))
        )
        found = self.rows(query)
        return _row(found[0]) if found else None

    def dataset_row(self, dataset_id: int) -> DatasetRow | None:
        """Any dataset by id, whoever owns it: for a worker and the lab's own naming of a
        run's dataset (`core.ml.data.use_store`); what a student may choose is `dataset`."""
        found = self.rows(sa.select(*LISTED).where(datasets.c.id == dataset_id))
        return _row(found[0]) if found else None

    def dataset_arrays(self, dataset_id: int) -> dict[str, np.ndarray] | None:
        """A dataset's arrays (for a worker, which was handed its id by the lab's rules), or
        None when it is gone."""
        found = self.rows(sa.select(datasets.c.data).where(datasets.c.id == dataset_id))
        if not found:
            return None
        blob = found[0][0]
        with np.load(io.BytesIO(blob), allow_pickle=False) as archive:
            return {key: archive[key] for key in ARRAYS}

    def rename_dataset(self, dataset_id: int, owner: Owner, name: str) -> bool:
        """Rename the owner's dataset; False when it is not theirs (or gone)."""
        name = " ".join(name.split())[:NAME_LENGTH]
        if not name:
            raise Refused(_("Give the dataset a name."))
        changed, _key = self.write(
            datasets.update().where(datasets.c.id == dataset_id, owner.where()).values(name=name)
        )
        return changed == 1

    def delete_dataset(self, dataset_id: int, owner: Owner) -> bool:
        """Delete the owner's dataset; False when it is not theirs (or gone)."""
        changed, _key = self.write(
            datasets.delete().where(datasets.c.id == dataset_id, owner.where())
        )
        return changed == 1

    def prune_datasets(self, days: float, now: float | None = None) -> int:
        """Delete the datasets uploaded more than `days` ago (the runs' retention); how many."""
        cutoff = (now or time.time()) - days * 86400
        changed, _key = self.write(datasets.delete().where(datasets.c.created_at < cutoff))
        return changed

    def dataset_totals(self) -> tuple[int, int]:
        """(how many datasets, their bytes) in the whole store."""
        found = self.rows(
            sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(datasets.c.size), 0))
        )
        return int(found[0][0]), int(found[0][1])


def _row(found) -> DatasetRow:
    return DatasetRow(
        int(found.id),
        found.name,
        found.recipe,
        int(found.seed),
        tuple(found.classes or ()),
        int(found.images),
        int(found.size),
        float(found.created_at),
        found.student_id,
        found.class_id,
    )
