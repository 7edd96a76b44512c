"""Fixtures: a database URL per test — SQLite in ``tmp_path``, and a real PostgreSQL.

``database_url`` is parametrised over ``sqlite`` and ``postgresql``; the
PostgreSQL variant uses one throwaway server for the session (see
:mod:`tests.coordinator.pg`) with a fresh database per test, and is skipped with
the reason when the server binaries are not installed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.coordinator.helpers import NODE_IDS, REGISTRY, signing
from tests.coordinator.pg import PgServer, find_bindir, unavailable_reason
from tyst.coordinator.app import create_app


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgServer]:
    """One throwaway PostgreSQL server for the session (skips if unavailable)."""
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    bindir = find_bindir()
    assert bindir is not None
    server = PgServer(bindir, tmp_path_factory.mktemp("pg"))
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: SQLite file in ``tmp_path``, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'coordinator.db'}"
    server: PgServer = request.getfixturevalue("pg_server")
    return server.create_database()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """An empty SQLite database in ``tmp_path`` (tests that need no PostgreSQL variant)."""
    return f"sqlite:///{tmp_path / 'coordinator.db'}"


@pytest.fixture
def make_app(database_url: str) -> Callable[..., FastAPI]:
    """``make_app(**kwargs)``: a coordinator on ``database_url`` with the test registry."""

    def build(**kwargs: object) -> FastAPI:
        options: dict[str, object] = {"nodes": NODE_IDS, **kwargs}
        return create_app(database_url, REGISTRY, **options)  # type: ignore[arg-type]

    return build


@pytest.fixture
def client(make_app: Callable[..., FastAPI]) -> Iterator[TestClient]:
    """A TestClient of a fresh coordinator (configured with the three test nodes),
    signing its requests as FK unless a request says otherwise."""
    with TestClient(make_app()) as test_client:
        yield signing(test_client)
