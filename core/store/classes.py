"""The store's side of a class: its row, its students, challenges and their scores.

Only SQL lives here; the rules (who may do what, what a lock or a constraint means) are in
`core.lab.classroom`, which is what the pages and the worker call. Teacher-side writes take the
teacher key's hash and match it in the same statement, so a write without the key changes
nothing.
"""

from __future__ import annotations

import time

import numpy as np
import sqlalchemy as sa

from core.store.codecs import samples_from_bytes
from core.store.database import Database
from core.store.records import ClassRow, Member, Run
from core.store.schema import challenges, classes, epochs, runs, scores, students


def _class(row) -> ClassRow:
    return ClassRow(row.id, row.name, row.setup, bool(row.paused), row.created_at)


class Classes(Database):
    """Classes, their members, challenges and scores."""

    def create_class(self, name: str, teacher_hash: str, code_hash: str, setup: dict) -> int:
        _, class_id = self.write(
            classes.insert().values(
                name=name,
                teacher_hash=teacher_hash,
                code_hash=code_hash,
                setup=setup,
                paused=False,
                created_at=time.time(),
            )
        )
        return class_id

    def find_class(self, *, teacher_hash: str | None = None, code_hash: str | None = None):
        """The class whose teacher key (or class code) has this hash, or None."""
        if teacher_hash is not None:
            return self._class_where(classes.c.teacher_hash == teacher_hash)
        return self._class_where(classes.c.code_hash == code_hash)

    def class_row(self, class_id: int) -> ClassRow | None:
        return self._class_where(classes.c.id == class_id)

    def _class_where(self, condition) -> ClassRow | None:
        rows = self.rows(sa.select(classes).where(condition))
        return _class(rows[0]) if rows else None

    def update_class(self, teacher_hash: str, **values) -> bool:
        """Change a class's setup or pause switch; False if no class has this key."""
        changed, _ = self.write(
            classes.update().where(classes.c.teacher_hash == teacher_hash).values(**values)
        )
        return changed == 1

    # Students ------------------------------------------------------------------------------

    def member(self, student_id: int) -> tuple[ClassRow | None, Member | None]:
        """(their class or None, the student as a class member or None), in one query: every
        script run of a page asks."""
        found = classes.alias("found")
        rows = self.rows(
            sa.select(students, *[column.label(f"room_{column.name}") for column in found.c])
            .select_from(students.outerjoin(found, students.c.class_id == found.c.id))
            .where(students.c.id == student_id)
        )
        if not rows:
            return None, None
        row = rows[0]
        room = None
        if row.class_id is not None:
            room = ClassRow(
                row.room_id,
                row.room_name,
                row.room_setup,
                bool(row.room_paused),
                row.room_created_at,
            )
        return room, _member(row)

    def members(self, class_id: int) -> list[Member]:
        rows = self.rows(
            sa.select(students).where(students.c.class_id == class_id).order_by(students.c.id)
        )
        return [_member(row) for row in rows]

    def nicknames(self, class_id: int) -> set[str]:
        rows = self.rows(sa.select(students.c.nickname).where(students.c.class_id == class_id))
        return {row.nickname for row in rows if row.nickname}

    def update_member(self, student_id: int, **values) -> None:
        self.write(students.update().where(students.c.id == student_id).values(**values))

    # Runs, challenges and scores ----------------------------------------------------------

    def class_runs(self, class_id: int) -> list[Run]:
        rows = self.rows(
            sa.select(runs)
            .where(runs.c.class_id == class_id)
            .order_by(runs.c.created_at.desc(), runs.c.id.desc())
        )
        return [Run.from_row(row) for row in rows]

    def add_challenge(self, teacher_hash: str, rules: dict) -> int | None:
        """A new challenge for the class with this key; None if the key matches no class."""
        with self.transaction() as connection:
            found = connection.execute(
                sa.select(classes.c.id).where(classes.c.teacher_hash == teacher_hash)
            ).all()
            if not found:
                return None
            result = connection.execute(
                challenges.insert().values(
                    class_id=found[0].id, rules=rules, created_at=time.time()
                )
            )
            return int(result.inserted_primary_key[0])

    def remove_challenge(self, teacher_hash: str, challenge_id: int) -> bool:
        """Delete a challenge of the class with this key, with its scores."""
        own = sa.select(classes.c.id).where(classes.c.teacher_hash == teacher_hash)
        with self.transaction() as connection:
            found = connection.execute(
                sa.select(challenges.c.id).where(
                    challenges.c.id == challenge_id, challenges.c.class_id.in_(own)
                )
            ).all()
            if not found:
                return False
            connection.execute(scores.delete().where(scores.c.challenge_id == challenge_id))
            connection.execute(challenges.delete().where(challenges.c.id == challenge_id))
            return True

    def challenges(self, class_id: int) -> list[tuple[int, dict]]:
        """(id, rules) of the class's challenges, oldest first."""
        rows = self.rows(
            sa.select(challenges.c.id, challenges.c.rules)
            .where(challenges.c.class_id == class_id)
            .order_by(challenges.c.id)
        )
        return [(row.id, row.rules) for row in rows]

    def challenge(self, challenge_id: int) -> tuple[int, dict] | None:
        """(class id, rules) of a challenge, or None."""
        rows = self.rows(
            sa.select(challenges.c.class_id, challenges.c.rules).where(
                challenges.c.id == challenge_id
            )
        )
        return (rows[0].class_id, rows[0].rules) if rows else None

    def add_score(self, challenge_id: int, run_id: int, value: float | None) -> None:
        with self.transaction() as connection:
            connection.execute(
                scores.delete().where(
                    scores.c.challenge_id == challenge_id, scores.c.run_id == run_id
                )
            )
            connection.execute(
                scores.insert().values(challenge_id=challenge_id, run_id=run_id, value=value)
            )

    def scores(self, class_id: int) -> list[tuple[int, int, float | None]]:
        """(challenge id, run id, value) of every score in the class."""
        rows = self.rows(
            sa.select(scores.c.challenge_id, scores.c.run_id, scores.c.value)
            .join(challenges, challenges.c.id == scores.c.challenge_id)
            .where(challenges.c.class_id == class_id)
        )
        return [(row.challenge_id, row.run_id, row.value) for row in rows]

    def final_samples(self, run_ids: list[int]) -> dict[int, np.ndarray]:
        """The reconstructions each run stored after its last epoch."""
        if not run_ids:
            return {}
        rows = self.rows(
            sa.select(epochs.c.run_id, epochs.c.samples)
            .join(runs, runs.c.id == epochs.c.run_id)
            .where(epochs.c.run_id.in_(run_ids), epochs.c.epoch == runs.c.epochs_done)
        )
        return {row.run_id: samples_from_bytes(row.samples) for row in rows}


def _member(row) -> Member:
    return Member(
        row.id,
        row.nickname or f"Student {row.id}",
        bool(row.on_board),
        row.created_at,
        row.last_seen_at,
    )
