"""Alembic environment of the coordinator (loaded by Alembic, never imported directly).

The database is given by the caller (:func:`tyst.coordinator.migrations.upgrade`)
as ``config.attributes["connection"]`` (an open connection, used as is) or
``config.attributes["database_url"]``; failing both, by the ``sqlalchemy.url``
option. SQLite uses batch mode (``ALTER TABLE`` by copy) so that later
revisions can alter columns portably.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from tyst.coordinator.db import Base, make_engine, normalize_url

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("no database: pass a connection or a database_url")
    return normalize_url(url).render_as_string(hide_password=False)


def run_migrations_offline() -> None:
    """Emit the SQL of the migrations without a database (``alembic upgrade --sql``)."""
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the caller's connection, or on a new one to the URL."""
    connection = config.attributes.get("connection")
    if isinstance(connection, Connection):
        _run(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.begin() as new_connection:
            _run(new_connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
