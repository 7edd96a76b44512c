"""The coordinator's Prometheus metrics (served by :func:`tyst.service.metrics.serve_metrics`).

Contract
--------
:class:`CoordinatorMetrics` holds one :class:`~prometheus_client.CollectorRegistry`
per app. At every scrape it reads from the ledger's database:

- ``tyst_coordinator_jobs{state}`` — jobs by state (every state of
  :data:`tyst.coordinator.states.JOB_STATES`, zeros included);
- ``tyst_coordinator_job_failures{kind}`` — failed jobs by kind of failure
  (:data:`FAILURE_KINDS`, from the first word of the job's reason);
- ``tyst_coordinator_audit_events`` — the audit chain's length;
- ``tyst_coordinator_audit_events_by_kind{kind}`` — events by kind.

and counts, in this process, ``tyst_coordinator_http_responses_total{code}``
(responses by HTTP status code, 401s of unsigned requests included) and
``tyst_coordinator_result_chunk_bytes`` (a histogram of the sizes of the
sealed result chunks relayed).

Security: no label value comes from a request or from data — states, kinds and
status codes are fixed sets; no organisation, job id or plan digest is a label.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from tyst.coordinator import states
from tyst.coordinator.db import AuditEventRow, Database, JobRow
from tyst.service.metrics import BYTE_BUCKETS, check_labels

FAILURE_KINDS: dict[str, str] = {
    "cancelled": "cancelled",
    "refused": "refused",
    "failed": "run_failed",
    "timed": "timed_out",
    "withdrawn": "withdrawn",
}
"""The first word of a failed job's reason → its failure kind (anything else: ``other``)."""

_KINDS = check_labels("failures", "kind", (*dict.fromkeys(FAILURE_KINDS.values()), "other"))
_STATES = check_labels("jobs", "state", states.JOB_STATES)


def failure_kind(reason: str | None) -> str:
    """The failure kind of a failed job's reason (see :data:`FAILURE_KINDS`)."""
    first = (reason or "").split(" ", 1)[0].rstrip(":")
    return FAILURE_KINDS.get(first, "other")


class _LedgerCollector(Collector):
    """Jobs, failures and the audit chain, read from the database at each scrape."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self.database.session() as session:
            by_state = dict(
                session.execute(select(JobRow.state, func.count()).group_by(JobRow.state)).all()
            )
            reasons = session.execute(
                select(JobRow.reason, func.count())
                .where(JobRow.state == states.FAILED)
                .group_by(JobRow.reason)
            ).all()
            failures = dict.fromkeys(_KINDS, 0)
            for reason, n in reasons:
                failures[failure_kind(reason)] += n
            by_kind = dict(
                session.execute(
                    select(AuditEventRow.kind, func.count()).group_by(AuditEventRow.kind)
                ).all()
            )
        length = sum(by_kind.values())  # the chain's seq is contiguous from 1
        jobs = GaugeMetricFamily("tyst_coordinator_jobs", "Jobs by state", labels=["state"])
        for state in _STATES:
            jobs.add_metric([state], by_state.get(state, 0))
        yield jobs
        failed = GaugeMetricFamily(
            "tyst_coordinator_job_failures", "Failed jobs by kind of failure", labels=["kind"]
        )
        for kind, n in failures.items():
            failed.add_metric([kind], n)
        yield failed
        yield GaugeMetricFamily(
            "tyst_coordinator_audit_events", "Length of the audit chain", value=length
        )
        kinds = GaugeMetricFamily(
            "tyst_coordinator_audit_events_by_kind", "Audit events by kind", labels=["kind"]
        )
        for kind in sorted(by_kind):
            kinds.add_metric([kind], by_kind[kind])
        yield kinds


class CoordinatorMetrics:
    """One coordinator app's metrics registry (see the module docstring)."""

    def __init__(self, database: Database) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_LedgerCollector(database))
        self.responses = Counter(
            "tyst_coordinator_http_responses",
            "HTTP responses by status code",
            ["code"],
            registry=self.registry,
        )
        self.chunk_bytes = Histogram(
            "tyst_coordinator_result_chunk_bytes",
            "Sizes of the sealed result chunks relayed",
            buckets=BYTE_BUCKETS,
            registry=self.registry,
        )


class ResponseCounter:
    """ASGI middleware counting every HTTP response by status code (outermost)."""

    def __init__(self, app: Any, metrics: CoordinatorMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def counted(message: Any) -> None:
            if message["type"] == "http.response.start":
                self.metrics.responses.labels(str(int(message["status"]))).inc()
            await send(message)

        await self.app(scope, receive, counted)
