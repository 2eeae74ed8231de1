"""Stores as older versions of the lab left them, for the migration tests."""

from __future__ import annotations


def store_at_revision(path, revision: str):
    """A new SQLite store at `path` migrated only up to `revision`, as an older lab left it:
    returns an open transaction's context manager (rows written in it are committed)."""
    import contextlib

    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config

    from core.store import MIGRATIONS

    @contextlib.contextmanager
    def opened():
        engine = sa.create_engine(f"sqlite:///{path}")
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        try:
            with engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
                yield connection
        finally:
            engine.dispose()

    return opened()
