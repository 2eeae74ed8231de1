"""Students: no accounts, a random link token identifies one, and only its SHA-256 is stored."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Iterable

import sqlalchemy as sa

from core.store.database import Database
from core.store.schema import students

TOKEN_BYTES = 24  # 192 bits from `secrets`: unguessable, and 32 characters in a link.


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Students(Database):
    """The store's students: made on demand, found by their link, seen while a page is open."""

    def new_student(
        self, class_id: int | None = None, nickname: str | None = None
    ) -> tuple[int, str]:
        """A new student (of a class, with a nickname, when given) and their link token
        (returned once; only its hash is kept)."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = time.time()
        _, student_id = self.write(
            students.insert().values(
                token_hash=hash_token(token),
                created_at=now,
                last_seen_at=now,
                class_id=class_id,
                nickname=nickname,
                on_board=True,
            )
        )
        return student_id, token

    def find_student(self, token: str | None) -> int | None:
        """The student whose link carries `token`, or None (unknown or malformed)."""
        if not token or len(token) > 128:
            return None
        rows = self.rows(sa.select(students.c.id).where(students.c.token_hash == hash_token(token)))
        return int(rows[0].id) if rows else None

    def touch_students(self, ids: Iterable[int], now: float | None = None) -> None:
        """Record that these students have a page open."""
        ids = sorted(set(ids))
        if ids:
            self.write(
                students.update()
                .where(students.c.id.in_(ids))
                .values(last_seen_at=now or time.time())
            )
