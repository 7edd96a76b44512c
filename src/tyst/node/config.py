"""A compute node's configuration file (``tyst node serve --config FILE``).

Format (TOML, one ``[node]`` table; relative paths are relative to the file)::

    [node]
    org = "nod-a"                  # this node's organisation id (in the registry)
    party = 0                      # its place in the mesh: 0, 1 or 2
    nodes = ["nod-a", "nod-b", "nod-c"]   # the organisation ids of parties 0, 1, 2
    keys = "keys/nod-a"            # the organisation's key directory (tyst keys generate)
    passphrase_file = "…"          # optional: the key directory's passphrase
    registry = "registry.json"     # the deployment's registry of organisations
    registry_fingerprint = "…"     # optional: refuse to start unless it matches
    tls = "tls/node-0"             # ca.pem, node.pem, node.key from the deployment CA
    store = "store"                # the encrypted share store
    coordinator = "https://coordinator.example:8400"
    coordinator_ca = "tls/node-0/ca.pem"  # optional: CA file for the coordinator's TLS
    host = "0.0.0.0"               # the upload/control API (HTTPS with the node certificate)
    port = 8441
    mesh = ["nodea.example:8451", "nodeb.example:8451", "nodec.example:8451"]
                                   # mesh addresses of parties 0, 1, 2 (own entry: bind)
    timeout = 120                  # seconds a peer may stay silent during a run
    connect_timeout = 300          # seconds to wait for the peers when a run starts
    run_deadline = 21600           # seconds a run may take in total
    upload_timeout = 3600          # seconds a job may wait for all its uploads
    sweep_seconds = 30             # how often retention and stale jobs are checked
    max_table_bytes = 34359738368  # optional: the most one table's upload may store (32 GiB)
    outbox_max_items = 10000       # optional: messages queued for the coordinator at most
    outbox_max_bytes = 8589934592  # optional: bytes of sealed results queued at most (8 GiB)
    redeliver_max_seconds = 30     # optional: longest wait between two redelivery attempts
    result_chunk_bytes = 8388608   # optional: result bytes sealed per chunk (at most 8 MiB)
    metrics_listen = "127.0.0.1:9465"  # optional: Prometheus metrics on their own address
    log_format = "text"            # optional: or "json", one object per line (tyst.service.logs)

Errors: :class:`NodeConfigError`, one line naming the file and the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tyst.api.configfile import read_section
from tyst.coordinator.protocol import RESULT_CHUNK_BYTES
from tyst.node.outbox import DEFAULT_BACKOFF_MAX, DEFAULT_MAX_BYTES, DEFAULT_MAX_ITEMS
from tyst.service.metrics import OptionError, server_options

_KEYS = {
    "org",
    "party",
    "nodes",
    "keys",
    "passphrase_file",
    "registry",
    "registry_fingerprint",
    "tls",
    "store",
    "coordinator",
    "coordinator_ca",
    "host",
    "port",
    "mesh",
    "timeout",
    "connect_timeout",
    "run_deadline",
    "upload_timeout",
    "sweep_seconds",
    "max_table_bytes",
    "outbox_max_items",
    "outbox_max_bytes",
    "redeliver_max_seconds",
    "result_chunk_bytes",
    "metrics_listen",
    "log_format",
}

DEFAULT_MAX_TABLE_BYTES = 32 << 30
"""The most bytes one table's upload may store at a node unless configured (32 GiB)."""


class NodeConfigError(Exception):
    """An unusable node configuration; ``str()`` is one line."""


@dataclass(frozen=True)
class NodeConfig:
    """A parsed node configuration (see the module docstring for each field)."""

    org: str
    party: int
    nodes: tuple[str, str, str]
    keys: Path
    passphrase_file: Path | None
    registry: Path
    registry_fingerprint: str | None
    tls: Path
    store: Path
    coordinator: str
    coordinator_ca: Path | None
    host: str
    port: int
    mesh: tuple[tuple[str, int], ...]
    timeout: float = 120.0
    connect_timeout: float = 300.0
    run_deadline: float = 21600.0
    upload_timeout: float = 3600.0
    sweep_seconds: float = 30.0
    max_table_bytes: int = DEFAULT_MAX_TABLE_BYTES
    outbox_max_items: int = DEFAULT_MAX_ITEMS
    outbox_max_bytes: int = DEFAULT_MAX_BYTES
    redeliver_max_seconds: float = DEFAULT_BACKOFF_MAX
    result_chunk_bytes: int = RESULT_CHUNK_BYTES
    metrics_listen: tuple[str, int] | None = None
    log_format: str = "text"


def _address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"{text!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


def load_node_config(path: str | Path) -> NodeConfig:
    """Read and check a node configuration file."""
    path = Path(path)
    sec = read_section(path, "node", _KEYS, NodeConfigError)
    base = path.parent

    def fail(key: str, message: str) -> NodeConfigError:
        return NodeConfigError(f"{path}: [node] {key}: {message}")

    def get(key: str, kind: type, default: Any = None) -> Any:
        if key not in sec:
            if default is None:
                raise fail(key, "missing")
            return default
        value = sec[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise fail(key, f"expected {kind.__name__}")
        return value

    def file(key: str, optional: bool = False) -> Path | None:
        if optional and key not in sec:
            return None
        return Path(base / str(get(key, str))).resolve()

    party = get("party", int)
    if party not in (0, 1, 2):
        raise fail("party", "must be 0, 1 or 2")
    nodes = get("nodes", list)
    if len(nodes) != 3 or not all(isinstance(n, str) for n in nodes) or len(set(nodes)) != 3:
        raise fail("nodes", "must list three different organisation ids")
    org = get("org", str)
    if nodes[party] != org:
        raise fail("nodes", f"entry {party} is {nodes[party]!r}, but org is {org!r}")
    mesh = get("mesh", list)
    try:
        addresses = tuple(_address(str(m)) for m in mesh)
    except ValueError as exc:
        raise fail("mesh", str(exc)) from None
    if len(addresses) != 3:
        raise fail("mesh", "must list three HOST:PORT addresses")
    coordinator = get("coordinator", str)
    if not coordinator.startswith(("https://", "http://")):
        raise fail("coordinator", "must be an http(s):// URL")
    numbers = {
        k: get(k, float, d)
        for k, d in (
            ("timeout", 120.0),
            ("connect_timeout", 300.0),
            ("run_deadline", 21600.0),
            ("upload_timeout", 3600.0),
            ("sweep_seconds", 30.0),
            ("redeliver_max_seconds", DEFAULT_BACKOFF_MAX),
        )
    }
    for k, v in numbers.items():
        if v <= 0:
            raise fail(k, "must be positive")
    sizes = {
        k: get(k, int, d)
        for k, d in (
            ("max_table_bytes", DEFAULT_MAX_TABLE_BYTES),
            ("outbox_max_items", DEFAULT_MAX_ITEMS),
            ("outbox_max_bytes", DEFAULT_MAX_BYTES),
            ("result_chunk_bytes", RESULT_CHUNK_BYTES),
        )
    }
    for k, n in sizes.items():
        if n <= 0:
            raise fail(k, "must be positive")
    if sizes["result_chunk_bytes"] > RESULT_CHUNK_BYTES:
        raise fail("result_chunk_bytes", f"must be at most {RESULT_CHUNK_BYTES}")
    port = get("port", int)
    if not 0 < port < 65536:
        raise fail("port", "must be a TCP port")
    keys, registry, tls, store = (file(k) for k in ("keys", "registry", "tls", "store"))
    assert keys
    assert registry
    assert tls
    assert store
    listen = sec.get("metrics_listen")
    try:
        metrics_listen, log_format = server_options(
            None if listen is None else str(listen), get("log_format", str, "text")
        )
    except OptionError as exc:
        raise fail(exc.key, str(exc)) from None
    fingerprint = sec.get("registry_fingerprint")
    if fingerprint is not None and not isinstance(fingerprint, str):
        raise fail("registry_fingerprint", "expected str")
    return NodeConfig(
        org=org,
        party=party,
        nodes=(nodes[0], nodes[1], nodes[2]),
        keys=keys,
        passphrase_file=file("passphrase_file", optional=True),
        registry=registry,
        registry_fingerprint=fingerprint,
        tls=tls,
        store=store,
        coordinator=coordinator,
        coordinator_ca=file("coordinator_ca", optional=True),
        host=get("host", str, "127.0.0.1"),
        port=port,
        mesh=addresses,
        metrics_listen=metrics_listen,
        log_format=log_format,
        **sizes,
        **numbers,
    )
