"""Prometheus metrics of one server process, served apart from its public API.

Contract
--------
Each server (the coordinator, every node) builds its metrics in its own
:class:`prometheus_client.CollectorRegistry` — never the library's global
default — so several apps in one process (tests) do not collide.
:func:`serve_metrics` serves such a registry in the Prometheus text format on
its own listen address (``metrics_listen = "HOST:PORT"`` in the server's
configuration; off unless set), in a daemon thread; every path answers the
metrics. The metrics endpoint is unauthenticated, like any scrape target: bind
it to localhost or to the operator's monitoring network, never to the public
API's address (``docs/operations.md``).

Security: metrics carry no data. Every label value is drawn from a fixed,
public set (job states, event kinds, failure kinds, outcomes, HTTP status
classes) — never an organisation's table, a value, a job id or a plan digest;
:func:`check_labels` is the rule the servers' metric definitions pass through.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server

from tyst.service.logs import LOG_FORMATS

BYTE_BUCKETS: tuple[float, ...] = tuple(float(1 << k) for k in range(10, 41, 3))
"""Histogram buckets for sizes in bytes: 1 KiB to 1 TiB in factors of 8."""

ROW_BUCKETS: tuple[float, ...] = tuple(float(10**k) for k in range(0, 10))
"""Histogram buckets for row counts: 1 to 10^9."""

SECOND_BUCKETS: tuple[float, ...] = (
    0.1,
    0.5,
    1,
    2,
    5,
    10,
    30,
    60,
    120,
    300,
    600,
    1800,
    3600,
    7200,
    21600,
)
"""Histogram buckets for durations in seconds: 0.1 s to 6 h."""


class MetricsServer:
    """A running metrics endpoint: its bound address, and :meth:`close`."""

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5.0)


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (IPv6 in brackets) as a pair; :class:`ValueError` (one line) otherwise."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"{text!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


class OptionError(ValueError):
    """A server's ``metrics_listen`` or ``log_format`` that cannot be used; ``key`` names it."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def server_options(listen: str | None, log_format: str) -> tuple[tuple[str, int] | None, str]:
    """A server config's observability values checked: the metrics address (None: no metrics
    endpoint) and the log format (one of :data:`tyst.service.logs.LOG_FORMATS`).

    Errors: :class:`OptionError` naming the key."""
    try:
        address = None if listen is None else parse_listen(listen)
    except ValueError as exc:
        raise OptionError("metrics_listen", str(exc)) from None
    if log_format not in LOG_FORMATS:
        raise OptionError("log_format", f"must be one of {list(LOG_FORMATS)}")
    return address, log_format


def serve_metrics(registry: CollectorRegistry, listen: tuple[str, int]) -> MetricsServer:
    """Serve ``registry`` at ``listen`` (port 0: any free port) until :meth:`MetricsServer.close`.

    Errors: :class:`OSError` when the address cannot be bound."""
    server, thread = start_http_server(listen[1], listen[0], registry=registry)
    return MetricsServer(server, thread)


def check_labels(name: str, label: str, values: Collection[str]) -> tuple[str, ...]:
    """The fixed label values of one metric, checked to be short public identifiers.

    A metric whose label could take any other value is a programming error
    (:class:`ValueError`): labels are never filled from requests or data."""
    for v in values:
        if not v or len(v) > 40 or not all(c.islower() or c.isdigit() or c == "_" for c in v):
            raise ValueError(f"metric {name}: label {label}={v!r} is not a fixed identifier")
    return tuple(values)
