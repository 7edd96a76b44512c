"""The coordinator's database: SQLAlchemy 2 models, and an engine and sessions from a URL.

Contract
--------
:class:`Database` opens a database by SQLAlchemy URL: ``sqlite:///PATH`` (the
default; foreign keys are switched on for every connection) or
``postgresql://…`` (the driver is psycopg 3: a bare ``postgresql://`` or
``postgres://`` URL is read as ``postgresql+psycopg://``). Other back ends are
refused. The schema is created and upgraded by the Alembic migrations in
:mod:`tyst.coordinator.migrations`, never by ``create_all``; the models here
must match them exactly (a test compares them).

Tables (all times are :func:`tyst.service.signing.format_utc` strings):

- ``plans`` — one row per plan digest: its TOML text as first submitted, the
  owners (required approvers), recipients and parties as JSON lists, and the
  plan state (``awaiting_approvals``, ``approved``, ``rejected``);
- ``approvals`` — one row per (plan, owner): the approval exactly as signed;
- ``jobs`` — one row per job: its plan, state and (once failed) why;
- ``audit_events`` — the audit log, one row per event, keyed by ``seq``
  (the primary key is what stops two events from claiming the same place in
  the chain); **append-only**: the migrations install triggers refusing
  ``UPDATE``, ``DELETE`` (and on PostgreSQL ``TRUNCATE``), and this package has
  no code path that updates or deletes an event;
- ``result_chunks`` — sealed result chunks by (job, recipient, sender, chunk
  index): bytes (at most :data:`~tyst.coordinator.protocol.MAX_SEALED_CHUNK`
  each), their SHA-256, the sender's result id, the chunk count and the
  sender's signature.

Security: nothing here is secret — no data, shares, keys or results are ever
stored; blobs are ciphertext sealed to their recipient.
"""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import (
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    create_engine,
    event,
)
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

DIGEST_LEN = 64
ORG_ID_LEN = 64
JOB_ID_LEN = 128
TIME_LEN = 32
STATE_LEN = 32
RESULT_ID_LEN = 32


class DatabaseURLError(ValueError):
    """A database URL that cannot be used; ``str()`` is one line (never shows a password)."""


class Base(DeclarativeBase):
    """Declarative base of the coordinator's models."""


class PlanRow(Base):
    """A submitted plan (``id`` is its digest)."""

    __tablename__ = "plans"

    id: Mapped[str] = mapped_column(String(DIGEST_LEN), primary_key=True)
    toml: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    owners: Mapped[str] = mapped_column(Text)
    recipients: Mapped[str] = mapped_column(Text)
    parties: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(STATE_LEN))
    submitted_by: Mapped[str] = mapped_column(String(ORG_ID_LEN))
    submitted_at: Mapped[str] = mapped_column(String(TIME_LEN))
    submitted_seq: Mapped[int] = mapped_column(ForeignKey("audit_events.seq"))


class ApprovalRow(Base):
    """An owner's approval of a plan, exactly as signed (``signature`` in base64)."""

    __tablename__ = "approvals"

    plan_id: Mapped[str] = mapped_column(ForeignKey("plans.id"), primary_key=True)
    org_id: Mapped[str] = mapped_column(String(ORG_ID_LEN), primary_key=True)
    signed_at: Mapped[str] = mapped_column(String(TIME_LEN))
    signature: Mapped[str] = mapped_column(Text)
    event_seq: Mapped[int] = mapped_column(ForeignKey("audit_events.seq"))
    received_at: Mapped[str] = mapped_column(String(TIME_LEN))


class JobRow(Base):
    """A job: one run of an approved plan."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(JOB_ID_LEN), primary_key=True)
    plan_id: Mapped[str] = mapped_column(ForeignKey("plans.id"), index=True)
    state: Mapped[str] = mapped_column(String(STATE_LEN))
    created_at: Mapped[str] = mapped_column(String(TIME_LEN))
    updated_at: Mapped[str] = mapped_column(String(TIME_LEN))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True, default=None)
    """Why the job failed (one line; ``None`` unless it failed)."""


class AuditEventRow(Base):
    """One audit event; ``details`` is its canonical JSON text, ``signature`` base64.

    Append-only: rows are inserted and read, never updated or deleted.
    """

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    time: Mapped[str] = mapped_column(String(TIME_LEN))
    actor: Mapped[str] = mapped_column(String(ORG_ID_LEN))
    kind: Mapped[str] = mapped_column(String(STATE_LEN))
    job: Mapped[str] = mapped_column(String(JOB_ID_LEN), index=True)
    details: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(DIGEST_LEN))
    hash: Mapped[str] = mapped_column(String(DIGEST_LEN), unique=True)
    signature: Mapped[str] = mapped_column(Text)


class ResultChunkRow(Base):
    """One chunk of a sealed result relayed from ``sender`` (a node) to ``recipient``."""

    __tablename__ = "result_chunks"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), primary_key=True)
    recipient: Mapped[str] = mapped_column(String(ORG_ID_LEN), primary_key=True)
    sender: Mapped[str] = mapped_column(String(ORG_ID_LEN), primary_key=True)
    chunk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    chunks: Mapped[int] = mapped_column(Integer)
    result_id: Mapped[str] = mapped_column(String(RESULT_ID_LEN))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(DIGEST_LEN))
    size: Mapped[int] = mapped_column(Integer)
    signature: Mapped[str] = mapped_column(Text)
    received_at: Mapped[str] = mapped_column(String(TIME_LEN))


def normalize_url(database_url: str | URL) -> URL:
    """Parse ``database_url`` and pin its driver: ``sqlite`` (pysqlite) or ``postgresql+psycopg``.

    Errors: :class:`DatabaseURLError` (one line, password hidden) for an
    unparsable URL or a back end other than SQLite and PostgreSQL.
    """
    try:
        url = make_url(database_url)
    except Exception as exc:  # sqlalchemy raises ArgumentError or ValueError
        raise DatabaseURLError("the database URL cannot be parsed") from exc
    backend = url.get_backend_name()
    if backend == "postgres":
        backend = "postgresql"
    if backend == "postgresql":
        return url.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        if url.drivername != "sqlite":
            raise DatabaseURLError(
                f"unsupported SQLite driver {url.drivername!r}: use a sqlite:///PATH URL"
            )
        return url
    raise DatabaseURLError(
        f"unsupported database {url.render_as_string(hide_password=True)!r}: "
        "use sqlite:///PATH or postgresql://USER@HOST/DB"
    )


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
    finally:
        cursor.close()


def _create_private(path: str) -> None:
    """Create the SQLite file readable by its owner only (0600) if it does not exist;
    SQLite gives its ``-wal`` and ``-shm`` files the same permissions."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError:
        return  # e.g. a missing directory: let SQLite report it on connect
    os.close(fd)


def make_engine(database_url: str | URL) -> Engine:
    """An :class:`~sqlalchemy.engine.Engine` for ``database_url`` (see :func:`normalize_url`).

    SQLite connections get ``PRAGMA foreign_keys=ON``, write-ahead logging with
    ``synchronous=FULL`` (every commit is on disk before it is acknowledged, at
    one sync per commit; the database is then the file plus its ``-wal`` and
    ``-shm`` companions: back it up with ``sqlite3 FILE ".backup COPY"``) and a
    30 s busy timeout; a new SQLite file is created with mode 0600 (and so are
    its companions). PostgreSQL connections are checked before use
    (``pool_pre_ping``).
    Errors: :class:`DatabaseURLError`; nothing is connected until first use.
    """
    url = normalize_url(database_url)
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_on_connect)
        database = url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            path = database

            def _private_file(*_args: Any) -> None:
                _create_private(path)

            event.listen(engine, "do_connect", _private_file)
        return engine
    return create_engine(url, pool_pre_ping=True)


class Database:
    """An engine and a session factory for one database URL.

    ``Database(url).session()`` returns a new :class:`~sqlalchemy.orm.Session`
    (objects stay usable after commit); :meth:`dispose` closes every pooled
    connection (call it when the application stops).
    """

    def __init__(self, database_url: str | URL) -> None:
        self.engine: Engine = make_engine(database_url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    def session(self) -> Session:
        """A new session; use it as a context manager (``with db.session() as s, s.begin():``)."""
        return self._sessions()

    def schema_revision(self) -> str | None:
        """The Alembic revision the database is at (``None`` if it was never migrated)."""
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def dispose(self) -> None:
        """Close all pooled connections."""
        self.engine.dispose()
