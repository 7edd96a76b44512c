"""A compute node's Prometheus metrics (served by :func:`tyst.service.metrics.serve_metrics`).

Contract
--------
:class:`NodeTelemetry` holds one :class:`~prometheus_client.CollectorRegistry`
per :class:`~tyst.node.service.NodeService`:

- ``tyst_node_jobs{state}`` — jobs this node knows of, by its own state
  (:data:`NODE_JOB_STATES`), read at each scrape;
- ``tyst_node_runs_total{outcome}`` and ``tyst_node_run_seconds{outcome}`` —
  runs and their wall-clock durations (a histogram), ``delivered`` or ``failed``;
- ``tyst_node_mesh_bytes_sent_total``, ``tyst_node_mesh_bytes_received_total``,
  ``tyst_node_mesh_rounds_total`` — traffic with the other two nodes in finished runs;
- ``tyst_node_upload_bytes`` and ``tyst_node_upload_rows`` — histograms of the
  stored uploads' sizes;
- ``tyst_node_failures_total{kind}`` — jobs failed here by kind
  (:data:`FAILURE_KINDS`: the deletion receipt's reason);
- ``tyst_node_outbox_items`` — messages waiting for the coordinator;
- ``tyst_node_audit_events`` — the length of the audit chain this node last
  verified and countersigned.

Security: label values are fixed sets (states, outcomes, failure kinds); sizes
are the public row counts and byte counts the audit log records anyway.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from tyst.service.metrics import BYTE_BUCKETS, ROW_BUCKETS, SECOND_BUCKETS, check_labels

NODE_JOB_STATES = check_labels(
    "jobs", "state", ("uploading", "queued", "running", "delivered", "failed", "deleted")
)
"""A node's own states of a job (:class:`tyst.node.service.JobEntry`)."""

FAILURE_KINDS = check_labels(
    "failures",
    "kind",
    (
        "failed",
        "refused",
        "cancelled",
        "timed_out",
        "coordinator_unreachable",
        "retention",
        "upload_timeout",
        "shutdown",
        "other",
    ),
)
"""Why a job failed here (the reason of its ``shares_deleted`` receipt); ``other`` otherwise."""

OUTCOMES = check_labels("runs", "outcome", ("delivered", "failed"))


class _JobStates(Collector):
    def __init__(self, states: Callable[[], Mapping[str, int]]) -> None:
        self.states = states

    def collect(self) -> Iterator[GaugeMetricFamily]:
        counts = self.states()
        family = GaugeMetricFamily("tyst_node_jobs", "Jobs by this node's state", labels=["state"])
        for state in NODE_JOB_STATES:
            family.add_metric([state], counts.get(state, 0))
        yield family


class NodeTelemetry:
    """One node's metrics registry (see the module docstring)."""

    def __init__(
        self, job_states: Callable[[], Mapping[str, int]], outbox_items: Callable[[], int]
    ) -> None:
        r = self.registry = CollectorRegistry()
        r.register(_JobStates(job_states))
        self.runs = Counter("tyst_node_runs", "Runs by outcome", ["outcome"], registry=r)
        self.run_seconds = Histogram(
            "tyst_node_run_seconds",
            "Wall-clock seconds of runs",
            ["outcome"],
            buckets=SECOND_BUCKETS,
            registry=r,
        )
        for outcome in OUTCOMES:  # present from the start, at zero
            self.runs.labels(outcome)
            self.run_seconds.labels(outcome)
        self.bytes_sent = Counter(
            "tyst_node_mesh_bytes_sent", "Bytes sent to the other nodes", registry=r
        )
        self.bytes_received = Counter(
            "tyst_node_mesh_bytes_received", "Bytes received from the other nodes", registry=r
        )
        self.rounds = Counter("tyst_node_mesh_rounds", "Communication rounds of runs", registry=r)
        self.upload_bytes = Histogram(
            "tyst_node_upload_bytes", "Bytes of stored uploads", buckets=BYTE_BUCKETS, registry=r
        )
        self.upload_rows = Histogram(
            "tyst_node_upload_rows", "Rows of stored uploads", buckets=ROW_BUCKETS, registry=r
        )
        self.failures = Counter(
            "tyst_node_failures", "Jobs failed here by kind", ["kind"], registry=r
        )
        for kind in FAILURE_KINDS:
            self.failures.labels(kind)
        outbox = Gauge("tyst_node_outbox_items", "Messages waiting for the coordinator", registry=r)
        outbox.set_function(lambda: float(outbox_items()))
        self.audit_events = Gauge(
            "tyst_node_audit_events",
            "Length of the audit chain this node last verified and countersigned",
            registry=r,
        )

    def failed(self, kind: str) -> None:
        """Count a job failed here for ``kind`` (not in :data:`FAILURE_KINDS`: ``other``)."""
        self.failures.labels(kind if kind in FAILURE_KINDS else "other").inc()

    def run(self, outcome: str, seconds: float) -> None:
        """Count a run that ended with ``outcome`` after ``seconds``."""
        self.runs.labels(outcome).inc()
        self.run_seconds.labels(outcome).observe(seconds)
