"""Alembic migrations of the coordinator's database, runnable from Python or the shell.

Contract
--------
- :func:`upgrade` brings the database at a URL (see
  :func:`tyst.coordinator.db.normalize_url`) to ``revision`` (default: the
  newest, ``head``), creating every table on an empty database; running it again
  is a no-op. :func:`tyst.coordinator.app.create_app` calls it by default.
- :func:`current` names the revision a database is at (``None`` when empty).
- :func:`alembic_config` is the :class:`alembic.config.Config` for a URL, for
  other Alembic commands (``history``, ``check``, ``revision --autogenerate``);
  no ``alembic.ini`` is needed: the script location is this package's directory.
- From the shell::

      python -m tyst.coordinator.migrations upgrade URL [REVISION]
      python -m tyst.coordinator.migrations current URL

The first revision installs database triggers that refuse ``UPDATE`` and
``DELETE`` (and ``TRUNCATE`` on PostgreSQL) of ``audit_events``, and it cannot
be downgraded (that would destroy the audit log). Security: triggers stop
mistakes and the application, not the database's owner; on PostgreSQL run
migrations as the owner role and the service as a role granted only ``SELECT``
and ``INSERT`` on ``audit_events`` (see ``docs/operations.md``). The log's own
protection is its hash chain and signatures.

Errors: :class:`tyst.coordinator.db.DatabaseURLError` for a bad URL;
SQLAlchemy and Alembic errors from the database itself.
"""

from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import URL

from tyst.coordinator.db import make_engine, normalize_url

SCRIPT_LOCATION = Path(__file__).resolve().parent
"""The directory holding ``env.py`` and ``versions/``."""


def alembic_config(database_url: str | URL) -> Config:
    """The Alembic configuration for ``database_url`` (passed to ``env.py`` as an attribute)."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.attributes["database_url"] = normalize_url(database_url)
    return config


def upgrade(database_url: str | URL, revision: str = "head") -> None:
    """Upgrade the database at ``database_url`` to ``revision`` (default: ``head``).

    Output: ``None``; the whole upgrade runs in one transaction on PostgreSQL
    (transactional DDL), so a failure leaves the schema as it was. A database
    already at ``head`` is left alone without running Alembic.
    Errors: :class:`~tyst.coordinator.db.DatabaseURLError`; database errors.
    """
    if revision == "head" and current(database_url) == head():
        return
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            config = alembic_config(database_url)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def current(database_url: str | URL) -> str | None:
    """The revision the database at ``database_url`` is at, or ``None`` if never migrated."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


@functools.cache
def head() -> str:
    """The newest revision of the migration scripts."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    heads = script.get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"the migrations have {len(heads)} heads; merge them")
    return heads[0]
