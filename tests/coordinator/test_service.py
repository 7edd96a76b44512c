"""OpenAPI documentation, error format, migrations, configuration and import isolation."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient

from tests.coordinator.helpers import NODE_IDS, REGISTRY, is_one_line
from tyst.coordinator import migrations
from tyst.coordinator.app import app_from_config, create_app
from tyst.coordinator.config import ConfigError, load_config
from tyst.coordinator.db import Base, DatabaseURLError, make_engine, normalize_url
from tyst.coordinator.migrations.__main__ import main as migrations_main
from tyst.service.keys import RegistryError


def test_openapi_documents_every_route(client: TestClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    expected = {
        ("post", "/plans"),
        ("get", "/plans"),
        ("get", "/plans/{plan_id}"),
        ("post", "/plans/{plan_id}/approvals"),
        ("put", "/plans/{plan_id}/events"),
        ("post", "/plans/{plan_id}/jobs"),
        ("get", "/jobs"),
        ("get", "/jobs/{job_id}"),
        ("put", "/jobs/{job_id}/events"),
        ("post", "/jobs/{job_id}/results/{recipient}/{chunk}"),
        ("get", "/jobs/{job_id}/results/{recipient}/{sender}/{chunk}"),
        ("get", "/audit"),
        ("get", "/audit/head"),
        ("post", "/audit/drafts"),
        ("get", "/audit/verify"),
        ("get", "/health"),
        ("get", "/register"),
        ("get", "/register.json"),
        ("get", "/register.atom"),
    }
    found = {(m, p) for p, ops in spec["paths"].items() for m in ops}
    assert found == expected
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            assert op.get("summary"), f"{method} {path} has no summary"
            assert op.get("description"), f"{method} {path} has no description"
    blob = spec["paths"]["/jobs/{job_id}/results/{recipient}/{chunk}"]["post"]["requestBody"]
    assert "application/octet-stream" in blob["content"]


def test_no_documentation_pages_that_load_outside_scripts(client: TestClient) -> None:
    """Finding 15 of issue 11: /docs and /redoc would fetch scripts from CDNs."""
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        assert client.get(path).status_code == 404, path
    assert client.get("/openapi.json").status_code == 200
    for path in ("/openapi.json", "/health"):
        assert b"cdn" not in client.get(path).content.lower()


def test_schema_errors_are_one_line(client: TestClient) -> None:
    response = client.post("/plans", json={"toml": 5})
    assert response.status_code == 422
    assert is_one_line(response)
    response = client.post("/plans", content=b"not json", headers={"content-type": "text/plain"})
    assert response.status_code == 422
    assert is_one_line(response)


def test_migrations_are_idempotent_and_match_the_models(sqlite_url: str) -> None:
    assert migrations.current(sqlite_url) is None
    migrations.upgrade(sqlite_url)
    migrations.upgrade(sqlite_url)
    assert migrations.current(sqlite_url) == migrations.head() == "0003_result_chunks"
    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()
    with pytest.raises(RuntimeError, match="destroy the audit log"):
        command.downgrade(migrations.alembic_config(sqlite_url), "base")


def test_migrations_match_the_models_on_every_backend(database_url: str) -> None:
    migrations.upgrade(database_url)
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_migrations_command_line(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert migrations_main(["current", sqlite_url]) == 0
    assert "empty" in capsys.readouterr().out
    assert migrations_main(["upgrade", sqlite_url]) == 0
    assert "0003_result_chunks" in capsys.readouterr().out
    assert migrations_main([]) == 2
    assert capsys.readouterr().err.startswith("usage:")
    assert migrations_main(["upgrade", "mysql://x/y"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: unsupported database")
    assert err.count("\n") == 1


def test_app_without_migration_needs_a_migrated_database(sqlite_url: str) -> None:
    migrations.upgrade(sqlite_url)
    with TestClient(create_app(sqlite_url, REGISTRY, nodes=NODE_IDS, migrate=False)) as client:
        assert client.get("/health").json()["schema_revision"] == "0003_result_chunks"


def test_database_urls() -> None:
    assert normalize_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("sqlite:///x.db").drivername == "sqlite"
    with pytest.raises(DatabaseURLError, match="unsupported database"):
        normalize_url("mysql://root:secret@h/db")
    with pytest.raises(DatabaseURLError) as info:
        normalize_url("mysql://root:secret@h/db")
    assert "secret" not in str(info.value)
    with pytest.raises(ValueError, match="not in the registry"):
        create_app("sqlite://", REGISTRY, nodes=[*NODE_IDS[:2], "nobody"], migrate=False)


def test_config_file(tmp_path: Path) -> None:
    REGISTRY.save(tmp_path / "registry.json")
    path = tmp_path / "coordinator.toml"
    path.write_text(
        textwrap.dedent(
            f"""\
            [coordinator]
            registry = "registry.json"
            registry_fingerprint = "{REGISTRY.fingerprint()}"
            database_url = "sqlite:///state/coordinator.db"
            nodes = {json.dumps(list(NODE_IDS))}
            port = 8411
            """
        )
    )
    (tmp_path / "state").mkdir()
    config = load_config(path)
    assert config.registry == tmp_path / "registry.json"
    assert config.database_url == f"sqlite:///{(tmp_path / 'state' / 'coordinator.db')}"
    assert config.nodes == NODE_IDS
    assert config.port == 8411
    assert config.host == "127.0.0.1"
    with TestClient(app_from_config(config)) as client:
        health = client.get("/health").json()
        assert health["registry_fingerprint"] == REGISTRY.fingerprint()
        assert health["nodes"] == sorted(NODE_IDS)
    assert (tmp_path / "state" / "coordinator.db").exists()


NODES_LINE = 'nodes = ["node-a", "node-b", "node-c"]\n'


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[coordinator]\n", "registry: missing"),
        ('[coordinator]\nregistry = "r.json"\n', "nodes: missing"),
        ('[coordinator]\nregistry = "r.json"\nnodes = ["a", "b"]\n', "nodes: must be a list"),
        ('[coordinator]\nregistry = "r.json"\nnodes = ["a", "a", "b"]\n', "nodes: lists a"),
        ('[coordinator]\nregistry = "r.json"\nprot = 1\n', "prot: unknown key"),
        ('[coordinator]\nregistry = "r.json"\nport = "80"\n' + NODES_LINE, "port: must be an"),
        ('[coordinator]\nregistry = "r.json"\nnodes = []\n', "nodes: must be a list"),
        ('[coordinator]\nregistry = "r.json"\ntls_cert = "c"\n' + NODES_LINE, "tls_cert and"),
        ('[coordinator]\nregistry = "r.json"\ndatabase_url = "mysql://x/y"\n', "unsupported"),
        ("[coordinator\n", "malformed TOML"),
        ("[coordinator]\nregistry = " + "[" * 100_000 + "]" * 100_000, "nest deeper than"),
        ("[coordinator]\nregistry = '" + "x" * (1 << 20) + "'\n", "larger than"),
        ('[server]\nregistry = "r.json"\n', r"exactly one \[coordinator\]"),
        (
            '[coordinator]\nregistry = "r.json"\nmetrics_listen = "all"\n' + NODES_LINE,
            "metrics_listen: 'all' is not HOST:PORT",
        ),
        (
            '[coordinator]\nregistry = "r.json"\nlog_format = "xml"\n' + NODES_LINE,
            "log_format: must be one of",
        ),
    ],
)
def test_config_errors_are_one_line(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(body)
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path)
    assert "\n" not in str(info.value)
    assert str(path) in str(info.value)


def test_pinned_registry_fingerprint_is_enforced(tmp_path: Path) -> None:
    REGISTRY.save(tmp_path / "registry.json")
    path = tmp_path / "c.toml"
    path.write_text(
        f'[coordinator]\nregistry = "registry.json"\nregistry_fingerprint = "{"0" * 64}"\n'
        f"nodes = {json.dumps(list(NODE_IDS))}\n"
    )

    with pytest.raises(RegistryError, match="differs from the pinned"):
        app_from_config(load_config(path))


FORBIDDEN = ("tyst.engine", "tyst.mpc", "tyst.net", "tyst.relational", "tyst.jobs", "tyst.sql")


def test_coordinator_cannot_reach_engine_protocols_network_or_data() -> None:
    """Importing the whole coordinator loads only tyst.coordinator, tyst.service, tyst.plan
    and tyst.web (the public register's pages).

    tyst.plan needs the column-type names of tyst.data.types to parse a plan; no
    other part of tyst.data (files, encoding into ring words, reports) may load.
    """
    code = textwrap.dedent(
        """
        import json, sys
        import tyst.coordinator.app, tyst.coordinator.config, tyst.coordinator.migrations
        print(json.dumps(sorted(m for m in sys.modules if m == "tyst" or m.startswith("tyst."))))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    loaded = json.loads(result.stdout)
    allowed_data = {"tyst.data", "tyst.data.types"}
    for module in loaded:
        assert not any(module == f or module.startswith(f + ".") for f in FORBIDDEN), module
        if module == "tyst.data" or module.startswith("tyst.data."):
            assert module in allowed_data, module
        assert module == "tyst" or module.split(".")[1] in (
            "coordinator",
            "service",
            "plan",
            "data",
            "web",
        )
    assert "tyst.coordinator.app" in loaded


def test_protocol_module_needs_no_web_or_database_stack() -> None:
    code = (
        "import sys, tyst.coordinator.protocol; "
        "print(any(m.split('.')[0] in ('fastapi', 'sqlalchemy', 'alembic', 'starlette') "
        "for m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == "False"


def test_no_secret_material_is_stored(client: TestClient, database_url: str) -> None:
    """The schema has no column for data, shares or keys: only public documents and ciphertext."""
    del client
    engine = make_engine(database_url)
    try:
        import sqlalchemy as sa

        columns = {
            f"{t}.{c['name']}"
            for t in sa.inspect(engine).get_table_names()
            for c in sa.inspect(engine).get_columns(t)
        }
    finally:
        engine.dispose()
    assert not any(word in col for col in columns for word in ("key", "share", "secret", "plain"))
    assert Path(migrations.SCRIPT_LOCATION / "env.py").exists()
