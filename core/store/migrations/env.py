"""Alembic's environment: migrations run on the connection the store hands over."""

from alembic import context

from core.store.schema import metadata

connection = context.config.attributes["connection"]
# Batch mode lets later migrations alter SQLite tables (it copies them), a no-op elsewhere.
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
