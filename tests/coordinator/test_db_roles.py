"""The two database roles of docs/operations.md on a real PostgreSQL: the schema owner
runs the migrations; the coordinator runs as a role with row privileges only — the whole
job lifecycle and result relay work, and it can neither change the schema nor rewrite
the audit log."""

from __future__ import annotations

import itertools

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.coordinator.helpers import (
    FK,
    NODE_IDS,
    NODES,
    REGISTRY,
    approved_job,
    job_event,
    post_result,
    run_to_finished,
    signing,
)
from tests.coordinator.pg import PgServer
from tyst.coordinator.app import create_app
from tyst.coordinator.migrations import current, upgrade

_n = itertools.count(1)


def _docs_sql(owner: str, app: str, database: str) -> tuple[list[str], list[str]]:
    """The statements of the docs' "Migrations" section (server-wide, then in the database)."""
    server = [f"CREATE ROLE {owner} LOGIN", f"CREATE ROLE {app} LOGIN",
              f"CREATE DATABASE {database} OWNER {owner}"]  # fmt: skip
    inside = [
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
        f"GRANT USAGE ON SCHEMA public TO {app}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app}",
    ]
    return server, inside


def test_migrations_as_owner_and_the_coordinator_as_a_row_only_role(
    pg_server: PgServer,
) -> None:
    k = next(_n)
    owner, app, database = f"tyst_owner_{k}", f"tyst_app_{k}", f"tyst_roles_{k}"
    server_sql, inside_sql = _docs_sql(owner, app, database)
    sock = str(pg_server.socket_dir)
    with psycopg.connect(host=sock, user="postgres", dbname="postgres", autocommit=True) as c:
        for statement in server_sql:
            c.execute(statement)
    with psycopg.connect(host=sock, user="postgres", dbname=database, autocommit=True) as c:
        for statement in inside_sql:
            c.execute(statement)
    owner_url = f"postgresql+psycopg://{owner}@/{database}?host={sock}"
    app_url = f"postgresql+psycopg://{app}@/{database}?host={sock}"
    upgrade(owner_url)
    assert current(app_url) == current(owner_url) is not None

    with TestClient(create_app(app_url, REGISTRY, nodes=NODE_IDS, migrate=False)) as client:
        signing(client)
        job = approved_job(client)
        run_to_finished(client, job)
        for node in NODES:
            assert (
                post_result(client, job, node, "fk", b"sealed " + node.org_id.encode()).status_code
                == 201
            )
            assert (
                job_event(client, job, node, "result_delivered", {"recipient": "fk"}).status_code
                == 200
            )
        assert job_event(client, job, FK, "result_received").status_code == 200
        for node in NODES:
            assert job_event(client, job, node, "shares_deleted", {"files": 1}).status_code == 200
        assert client.get(f"/jobs/{job}").json()["state"] == "delivered"
        assert client.get("/audit/verify").json()["ok"] is True

    with psycopg.connect(host=sock, user=app, dbname=database, autocommit=True) as c:
        for statement in (
            "CREATE TABLE intruder (x int)",
            "DROP TABLE audit_events",
            "ALTER TABLE jobs ADD COLUMN x int",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                c.execute(statement)
        with pytest.raises(psycopg.Error):  # append-only: the log's triggers refuse it
            c.execute("UPDATE audit_events SET actor = 'x'")
        with pytest.raises(psycopg.Error):
            c.execute("DELETE FROM audit_events")
