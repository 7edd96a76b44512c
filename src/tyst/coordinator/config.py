"""The coordinator's configuration file (``tyst coordinator serve --config FILE``).

Format (TOML; every key but ``registry`` and ``nodes`` is optional)::

    [coordinator]
    registry = "registry.json"        # the deployment's registry (tyst.service.keys.Registry)
    registry_fingerprint = "…"        # refuse to start unless the registry has this SHA-256
    database_url = "sqlite:///coordinator.db"
    nodes = ["node-a", "node-b", "node-c"]   # required: the three compute nodes' org ids
    host = "127.0.0.1"
    port = 8400
    max_result_bytes = 8589934592     # most bytes of sealed chunks one node relays per recipient
    max_open_jobs = 3                 # open (not yet running) jobs per plan
    open_job_timeout = 86400          # seconds before an open job is withdrawn (failed)
    run_timeout = 86400               # seconds a running job may make no progress (then failed)
    auto_migrate = true               # run the Alembic migrations at start-up
    tls_cert = "coordinator.crt"      # serve HTTPS (both or neither of tls_cert, tls_key)
    tls_key = "coordinator.key"
    metrics_listen = "127.0.0.1:9464"   # Prometheus metrics on their own address (off if unset)
    log_format = "text"               # or "json": one JSON object per line (tyst.service.logs)

Relative paths (including a relative SQLite path in ``database_url``) are
relative to the configuration file's directory. Without ``database_url`` the
environment variable :data:`DATABASE_URL_ENV` is used if set (keeps a
PostgreSQL password out of the file), else ``sqlite:///coordinator.db`` beside
the configuration file. Unknown keys are refused.

Errors: :class:`ConfigError`, one line naming the file and the key.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from tyst.coordinator.db import DatabaseURLError, normalize_url
from tyst.coordinator.ledger import (
    DEFAULT_MAX_OPEN_JOBS,
    DEFAULT_MAX_RESULT_BYTES,
    DEFAULT_OPEN_JOB_TIMEOUT,
    DEFAULT_RUN_TIMEOUT,
)
from tyst.coordinator.protocol import NODE_COUNT
from tyst.service import bounded_toml
from tyst.service.keys import check_org_id
from tyst.service.metrics import OptionError, server_options

DATABASE_URL_ENV = "TYST_COORDINATOR_DATABASE_URL"
"""Environment variable read when the file has no ``database_url``."""

DEFAULT_PORT = 8400

_KEYS = (
    "registry",
    "registry_fingerprint",
    "database_url",
    "nodes",
    "host",
    "port",
    "max_result_bytes",
    "max_open_jobs",
    "open_job_timeout",
    "run_timeout",
    "auto_migrate",
    "tls_cert",
    "tls_key",
    "metrics_listen",
    "log_format",
)


class ConfigError(Exception):
    """A configuration file that cannot be used; ``str()`` is one line naming file and key."""


@dataclass(frozen=True)
class CoordinatorConfig:
    """A validated configuration (see the module docstring for each field)."""

    registry: Path
    database_url: str
    nodes: tuple[str, ...]
    registry_fingerprint: str | None = None
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES
    max_open_jobs: int = DEFAULT_MAX_OPEN_JOBS
    open_job_timeout: int = DEFAULT_OPEN_JOB_TIMEOUT
    run_timeout: int = DEFAULT_RUN_TIMEOUT
    auto_migrate: bool = True
    tls_cert: Path | None = None
    tls_key: Path | None = None
    metrics_listen: tuple[str, int] | None = None
    log_format: str = "text"


def resolve_database_url(url: str, base: Path) -> str:
    """``url`` with a relative SQLite path made absolute against ``base``.

    Errors: :class:`~tyst.coordinator.db.DatabaseURLError` for an unusable URL.
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not Path(database).is_absolute():
            parsed = parsed.set(database=str((base / database).resolve()))
        return parsed.render_as_string(hide_password=False)
    return url


def load_config(path: str | os.PathLike[str]) -> CoordinatorConfig:
    """Read and validate a configuration file.

    Errors: :class:`ConfigError` (one line) for an unreadable file, malformed
    TOML, an unknown or missing key, or a value of the wrong type.
    """
    p = Path(path)
    try:
        doc = bounded_toml.loads(bounded_toml.read_text(p))
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: malformed TOML: {' '.join(str(exc).split())}") from None
    if set(doc) != {"coordinator"} or not isinstance(doc["coordinator"], dict):
        raise ConfigError(f"{p}: expected exactly one [coordinator] table")
    sec: dict[str, Any] = doc["coordinator"]
    for key in sec:
        if key not in _KEYS:
            raise ConfigError(f"{p}: [coordinator] {key}: unknown key; expected one of {_KEYS}")
    base = p.resolve().parent

    def fail(key: str, message: str) -> ConfigError:
        return ConfigError(f"{p}: [coordinator] {key}: {message}")

    def string(key: str) -> str | None:
        value = sec.get(key)
        if value is not None and (not isinstance(value, str) or not value):
            raise fail(key, "must be a non-empty string")
        return value

    def path_of(key: str) -> Path | None:
        value = string(key)
        return None if value is None else base / value

    registry = path_of("registry")
    if registry is None:
        raise fail("registry", "missing (the deployment's registry file)")

    url = string("database_url") or os.environ.get(DATABASE_URL_ENV) or "sqlite:///coordinator.db"
    try:
        database_url = resolve_database_url(url, base)
    except DatabaseURLError as exc:
        raise fail("database_url", str(exc)) from None

    if "nodes" not in sec:
        raise fail(
            "nodes",
            f"missing (the {NODE_COUNT} compute nodes' organisation ids, in party order; "
            "without them any registered organisation could act as a node)",
        )
    raw = sec["nodes"]
    if not isinstance(raw, list) or len(raw) != NODE_COUNT:
        raise fail("nodes", f"must be a list of the {NODE_COUNT} compute nodes' organisation ids")
    try:
        nodes = tuple(check_org_id(n) for n in raw)
    except ValueError as exc:
        raise fail("nodes", str(exc)) from None
    if len(set(nodes)) != len(nodes):
        raise fail("nodes", "lists a node twice")

    def integer(key: str, default: int, low: int, high: int) -> int:
        value = sec.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise fail(key, f"must be an integer from {low} to {high}")
        return value

    auto_migrate = sec.get("auto_migrate", True)
    if not isinstance(auto_migrate, bool):
        raise fail("auto_migrate", "must be true or false")
    tls_cert, tls_key = path_of("tls_cert"), path_of("tls_key")
    if (tls_cert is None) != (tls_key is None):
        raise fail("tls_cert", "tls_cert and tls_key go together")
    try:
        metrics, log_format = server_options(
            string("metrics_listen"), string("log_format") or "text"
        )
    except OptionError as exc:
        raise fail(exc.key, str(exc)) from None
    return CoordinatorConfig(
        registry=registry,
        database_url=database_url,
        registry_fingerprint=string("registry_fingerprint"),
        nodes=nodes,
        host=string("host") or "127.0.0.1",
        port=integer("port", DEFAULT_PORT, 1, 65535),
        max_result_bytes=integer("max_result_bytes", DEFAULT_MAX_RESULT_BYTES, 1, 2**50),
        max_open_jobs=integer("max_open_jobs", DEFAULT_MAX_OPEN_JOBS, 1, 1000),
        open_job_timeout=integer("open_job_timeout", DEFAULT_OPEN_JOB_TIMEOUT, 1, 366 * 86400),
        run_timeout=integer("run_timeout", DEFAULT_RUN_TIMEOUT, 1, 366 * 86400),
        auto_migrate=auto_migrate,
        tls_cert=tls_cert,
        tls_key=tls_key,
        metrics_listen=metrics,
        log_format=log_format,
    )


def redacted_url(database_url: str) -> str:
    """``database_url`` with any password replaced by ``***`` (for logs and errors)."""
    try:
        return make_url(database_url).render_as_string(hide_password=True)
    except Exception:
        return "<unparsable database URL>"
