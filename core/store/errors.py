"""What the store raises: failures of the database, and a lab's rule saying no to one user.

The pages act on the kind: StoreUnavailable turns training off for the whole server until the
database is back; Conflict and Fenced are races the caller explains or stops on; Refused (and
Busy, LabBusy) is a message for the one user whose action it refused, in their language: it is
raised in their script run, so `_()` reads the language of the page that asked.
"""

from __future__ import annotations

from core.i18n import _, ngettext


class StoreError(RuntimeError):
    """A database operation failed; the message says why (without SQL or password)."""


class StoreUnavailable(StoreError):
    """The database cannot be reached (connection lost or refused, file unreadable): the one
    failure that turns training off for the whole server until it is back."""


class Conflict(StoreError):
    """A write broke one of the database's constraints (two writers raced)."""


class Fenced(StoreError):
    """A training worker's write names an attempt that is no longer the run's: another worker
    (or a sweep) took the run over, so this one must stop without writing anything."""


class Refused(Exception):
    """A rule of the lab said no to one user's action: a message for that user, never a
    failure of the store (which would turn training off for everyone)."""


class Busy(Refused):
    """The student already has a queued or running run."""

    def __init__(self, message: str | None = None):
        super().__init__(message or _("you already have a run queued or training; stop it first"))


class LabBusy(Refused):
    """The server's queue is full (`AE_MAX_QUEUED`): a public demo cannot be flooded."""

    def __init__(self, waiting: int):
        super().__init__(
            ngettext(
                "the lab is busy ({waiting} run is waiting to train); try again in a minute",
                "the lab is busy ({waiting} runs are waiting to train); try again in a minute",
                waiting,
            ).format(waiting=waiting)
        )
