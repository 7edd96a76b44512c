"""The coordinator: plans, approvals, job state, the audit log and a ciphertext relay.

The coordinator is run by the service provider (``../shared/DESIGN.md`` §1, §4)
and is trusted with nothing secret: it never sees input data, shares, keys or
results. It stores

- plans (their TOML text and canonical digest, :mod:`tyst.plan`);
- owners' signed approvals (:class:`tyst.service.signing.Approval`), kept
  verbatim so that every node re-verifies them itself;
- job states, advanced only by signed audit events from nodes and parties;
- the append-only, hash-chained audit log (:mod:`tyst.service.audit`), every
  event signed by its actor, never by the coordinator on anyone's behalf;
- opaque sealed result blobs, relayed by id (it cannot open them).

Modules:

- :mod:`tyst.coordinator.protocol` — what nodes and clients must compute the
  same way (audit job id of a plan, signed result-relay headers); pure, no
  web or database dependencies;
- :mod:`tyst.coordinator.db` — SQLAlchemy models, engine and sessions from a URL
  (SQLite by default, PostgreSQL by URL);
- :mod:`tyst.coordinator.migrations` — Alembic migrations (``upgrade(url)``);
- :mod:`tyst.coordinator.ledger` — the rules (verification, state machine);
- :mod:`tyst.coordinator.schemas` — the API's pydantic models;
- :mod:`tyst.coordinator.app` — the FastAPI application (``create_app``, ``serve``);
- :mod:`tyst.coordinator.config` — the ``tyst coordinator serve --config`` file.

Security: this package must never import the engine, the protocols, peer
networking or data handling (``tyst.engine``, ``tyst.mpc``, ``tyst.net``,
``tyst.relational``, ``tyst.jobs``, ``tyst.sql`` and ``tyst.data`` other than
the column-type names ``tyst.data.types`` that :mod:`tyst.plan` parses). This
``__init__`` imports nothing, so that clients can use
:mod:`tyst.coordinator.protocol` without FastAPI or SQLAlchemy.
"""
