"""The coordinator's HTTP API: a FastAPI app over a :class:`~tyst.coordinator.ledger.Ledger`.

Contract
--------
:func:`create_app` builds the application for a database URL (SQLite by
default, PostgreSQL by URL) and the deployment's registry; by default it first
runs the Alembic migrations (:func:`tyst.coordinator.migrations.upgrade`).
:func:`serve` runs it with uvicorn from a :class:`~tyst.coordinator.config.CoordinatorConfig`.

No ``/docs`` or ``/redoc`` pages (they would load scripts from outside CDNs);
the OpenAPI schema is served at ``GET /openapi.json`` to registered
organisations only, like every route but ``GET /health`` and the public register.

Authentication (:mod:`tyst.coordinator.auth`): every request but ``GET
/health`` and the public register (:data:`~tyst.coordinator.auth.PUBLIC`) is
signed by a registered organisation (:func:`tyst.coordinator.protocol.sign_request`; the clients of
:mod:`tyst.api.http` do it for every request); without a valid signature the
answer is 401 with one line, before any body byte is read. What each
organisation may then read is decided by the ledger: a plan, its jobs and their
events to the plan's parties and the nodes (404 to anyone else), a sealed blob
to its recipient only, the audit log to the nodes and the parties of its plans.

Routes (JSON unless stated; every error is ``{"detail": "<one line>"}``; the
rules behind each are in :mod:`tyst.coordinator.ledger`):

- ``GET /health`` — liveness, schema revision, registry fingerprint, nodes;
- ``GET /register``, ``/register.json``, ``/register.atom`` — the public
  transparency register (:mod:`tyst.coordinator.register`), without login, with
  its stylesheet under ``/static/``;
- ``POST /plans`` ``{toml, event}`` → ``{plan_id, digest, state, created, seq}``
  (201 new, 200 already submitted);
- ``GET /plans`` — the caller's plans (every plan for a node); ``GET
  /plans/{id}`` — text, digest, required approvers, approvals as signed, state,
  jobs;
- ``POST /plans/{id}/approvals`` ``{approval, event}`` (201 new, 200 repeated);
- ``PUT /plans/{id}/events`` — an owner's signed ``plan_rejected`` or the submitter's
  ``plan_withdrawn`` (the plan's live jobs fail);
- ``POST /plans/{id}/jobs`` ``{event}`` (a party's signed ``job_created``) →
  ``{job_id, plan_id, state, created}`` (201 new; 200 the oldest open job when
  the plan has ``max_open_jobs`` open; 403 not a party; 409 unless approved);
- ``GET /jobs`` (``?plan=``) — the caller's jobs with their states;
- ``GET /jobs/{id}`` — state, progress events, the results waiting (chunks relayed per node);
- ``PUT /jobs/{id}/events`` — a signed event from a node or party;
- ``POST /jobs/{id}/results/{recipient}/{chunk}`` — one chunk of a node's
  sealed result, raw bytes (``application/octet-stream``, at most
  :data:`~tyst.coordinator.protocol.MAX_SEALED_CHUNK`) with the
  ``X-Tyst-Sender``, ``X-Tyst-Result``, ``X-Tyst-Chunks`` and
  ``X-Tyst-Signature`` headers, posted by that node itself (the request's
  signer; else 403) (201 new, 200 identical repeat). Refused before any body
  byte is read when the ``Content-Length`` exceeds the chunk limit or
  would take the node's result past ``max_result_bytes`` (413), or the job,
  recipient, sender, state or result do not allow a post; the body is then
  streamed (cut off at the chunk limit), held in memory only up to
  :data:`SPOOL_BYTES` (the rest in a temporary file) and the sender's signature
  over its hash is checked before it is loaded and stored;
- ``GET /jobs/{id}/results/{recipient}/{sender}/{chunk}`` — one chunk's raw
  bytes, its signature, result id and count in the response headers (the job's
  ``results`` say how many chunks each node posted);
- ``GET /audit`` — the whole log as JSONL (``application/x-ndjson``), readable
  by :func:`tyst.service.audit.read_jsonl` and checkable with ``verify_chain``;
  ``GET /audit/head``; ``POST /audit/drafts`` (an unsigned draft to sign);
  ``GET /audit/verify`` (the coordinator's own check of its log).

Security: the coordinator authenticates writes by signatures, not sessions:
every decision is a signed document re-verifiable by anyone holding the
registry; every request, reads included, is signed by the organisation that
makes it (the request signature says who asks, the event signature what is
recorded). Serve it over TLS: the signatures do not hide the answers.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Path, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse

from tyst.coordinator.auth import RequestAuth, Unauthorized, caller_of
from tyst.coordinator.config import CoordinatorConfig, redacted_url
from tyst.coordinator.db import Database
from tyst.coordinator.ledger import (
    DEFAULT_MAX_OPEN_JOBS,
    DEFAULT_MAX_RESULT_BYTES,
    DEFAULT_OPEN_JOB_TIMEOUT,
    DEFAULT_RUN_TIMEOUT,
    CoordinatorError,
    Ledger,
    one_line,
)
from tyst.coordinator.metrics import CoordinatorMetrics, ResponseCounter
from tyst.coordinator.migrations import upgrade
from tyst.coordinator.protocol import (
    COUNT_HEADER,
    MAX_SEALED_CHUNK,
    RESULT_HEADER,
    SENDER_HEADER,
    SIGNATURE_HEADER,
)
from tyst.coordinator.register import add_register_routes
from tyst.coordinator.schemas import (
    ApprovalAccepted,
    ApprovalSubmit,
    AuditEventModel,
    ChunkMeta,
    DraftRequest,
    ErrorOut,
    EventAccepted,
    HeadOut,
    HealthOut,
    JobCreated,
    JobOut,
    JobRequest,
    JobSummary,
    PlanCreated,
    PlanOut,
    PlanSubmit,
    PlanSummary,
    VerifyOut,
)
from tyst.service.audit import AuditEvent, AuditFormatError, role_problem, verify_chain
from tyst.service.keys import Registry, RegistryError
from tyst.service.signing import Approval, ApprovalFormatError
from tyst.service.startup import StartupError, check_tls_pair
from tyst.service.startup import one_line as startup_line

API_VERSION = "1"

SPOOL_BYTES = 1 << 20
"""A chunk post's body is held in memory up to this many bytes, then spooled to a
temporary file until the sender's signature over its hash has been checked."""

DESCRIPTION = """\
The coordinator of a tyst deployment (SOU 2026:44 8.4–8.6): plans, owners' signed
approvals, job states, the hash-chained signed audit log, and a relay for result
blobs sealed to their recipients. It never sees data, shares, keys or results.

Every request but `GET /health` is signed by a registered organisation: headers
X-Tyst-Org, X-Tyst-Time, X-Tyst-Nonce, X-Tyst-Content-SHA256 and
X-Tyst-Request-Signature (tyst.coordinator.protocol.sign_request; context
`coordinator-request`, over the method, path and query, time, nonce and body hash).
Without them, or with a stale, replayed or invalid signature: 401. A plan and its
jobs are shown to its owners, recipients and the nodes only; a sealed blob to its
recipient only.

Every write that records an organisation's decision carries an audit event signed
by that organisation: fetch a draft with `POST /audit/drafts` (or build it from
`GET /audit/head`), check it, sign it (`tyst.service.audit.sign_event`) and send
it. If the log moved on in between, the write is refused with 409: draft again.
"""

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Malformed request or document"},
    401: {
        "model": ErrorOut,
        "description": "The request is not signed by a registered organisation",
    },
    403: {"model": ErrorOut, "description": "Signature or actor not accepted"},
    404: {"model": ErrorOut, "description": "No such plan, job or result"},
    409: {"model": ErrorOut, "description": "Conflicts with the current state or log head"},
    422: {"model": ErrorOut, "description": "Request body does not match the schema"},
}

PlanId = Annotated[str, Path(description="The plan's id (its 64-hex digest)")]
JobId = Annotated[str, Path(description="The job's id (job-…)")]
OrgId = Annotated[str, Path(description="An organisation id")]
ChunkIndex = Annotated[
    int, Path(ge=0, le=2**31 - 1, description="The chunk's index (0 … chunks - 1)")
]


def _caller(request: Request) -> str:
    try:
        return caller_of(request.scope)
    except Unauthorized as exc:
        raise CoordinatorError(401, str(exc)) from None


Caller = Annotated[str, Depends(_caller)]
"""The organisation that signed the request (see :mod:`tyst.coordinator.auth`)."""


def _event(model: AuditEventModel) -> AuditEvent:
    try:
        return model.to_event()
    except AuditFormatError as exc:
        raise CoordinatorError(400, str(exc)) from None


def _approval(payload: ApprovalSubmit) -> Approval:
    try:
        return payload.approval.to_approval()
    except ApprovalFormatError as exc:
        raise CoordinatorError(400, str(exc)) from None


def _content_length(request: Request) -> int | None:
    """The request's declared body length (``None`` if it has none; 400 if malformed)."""
    value = request.headers.get("content-length")
    if value is None:
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 19:
        raise CoordinatorError(400, "malformed Content-Length header")
    return int(value)


def _validation_message(exc: RequestValidationError) -> str:
    errors = list(exc.errors())
    if not errors:
        return "the request does not match the schema"
    first = errors[0]
    where = ".".join(str(part) for part in first.get("loc", ()))
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return one_line(f"{where}: {first.get('msg', 'invalid')}{more}")


def create_app(
    database_url: str,
    registry: Registry,
    *,
    nodes: Collection[str],
    max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES,
    max_open_jobs: int = DEFAULT_MAX_OPEN_JOBS,
    open_job_timeout: float = DEFAULT_OPEN_JOB_TIMEOUT,
    run_timeout: float = DEFAULT_RUN_TIMEOUT,
    migrate: bool = True,
) -> FastAPI:
    """The coordinator application for ``database_url`` and ``registry``.

    Inputs: ``nodes`` — the three compute nodes' organisation ids (required;
    see :class:`~tyst.coordinator.ledger.Ledger`);
    ``max_result_bytes`` — the most bytes of sealed chunks one node relays to one
    recipient in a job; ``max_open_jobs`` and
    ``open_job_timeout`` — open jobs per plan and their lifetime in seconds; ``run_timeout``
    — seconds a running job may go without progress; ``migrate`` — run the
    migrations first (otherwise the schema must already be at ``head``).
    Output: a FastAPI app; ``app.state.ledger`` is its
    :class:`~tyst.coordinator.ledger.Ledger`. Its database connections are
    closed when the app shuts down (the end of a ``TestClient`` context or of
    the server), or by ``app.state.ledger.database.dispose()``.
    Errors: :class:`~tyst.coordinator.db.DatabaseURLError`, database errors
    from the migrations, :class:`ValueError` for invalid ``nodes``.
    """
    if migrate:
        upgrade(database_url)
    database = Database(database_url)
    ledger = Ledger(
        database,
        registry,
        nodes=nodes,
        max_result_bytes=max_result_bytes,
        max_open_jobs=max_open_jobs,
        open_job_timeout=open_job_timeout,
        run_timeout=run_timeout,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        database.dispose()

    app = FastAPI(
        title="tyst coordinator",
        version=API_VERSION,
        description=DESCRIPTION,
        lifespan=lifespan,
        # /docs and /redoc load their scripts from outside CDNs; the service promises
        # no outside services. The schema stays at /openapi.json.
        docs_url=None,
        redoc_url=None,
    )
    app.state.ledger = ledger
    # Outermost but for FastAPI's error middleware: nothing is routed, parsed or read
    # for a request that is not signed by a registered organisation.
    app.add_middleware(RequestAuth, registry=registry)
    metrics = CoordinatorMetrics(database)
    app.state.metrics = metrics  # served apart from the API (metrics_listen), never here
    app.add_middleware(ResponseCounter, metrics=metrics)  # outermost: 401s are counted too

    @app.exception_handler(CoordinatorError)
    async def _coordinator_error(_request: Request, exc: CoordinatorError) -> JSONResponse:
        return JSONResponse(status_code=exc.status, content={"detail": str(exc)})

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": _validation_message(exc)})

    def _log_reader(caller: str) -> None:
        if not ledger.may_read_log(caller):
            raise CoordinatorError(
                403, f"{caller!r} is no node and no party of any plan: the audit log is theirs"
            )

    # ------------------------------------------------------------------ service

    @app.get(
        "/health",
        summary="Liveness and configuration",
        description="Schema revision, the fingerprint of the registry this coordinator "
        "trusts (compare it with yours), the configured compute nodes and the most it "
        "relays of one node's sealed result for one recipient (max_result_bytes).",
        tags=["service"],
    )
    def health() -> HealthOut:
        return HealthOut(
            status="ok",
            schema_revision=database.schema_revision(),
            registry_fingerprint=registry.fingerprint(),
            nodes=sorted(ledger.nodes),
            max_result_bytes=ledger.max_result_bytes,
        )

    add_register_routes(app, database, ledger.nodes)  # public: no login

    # ------------------------------------------------------------------ plans

    @app.post(
        "/plans",
        summary="Submit a plan",
        description="Parses the plan TOML (tyst.plan.parse_plan) and records the submitter's "
        "signed plan_submitted event (job `plan:<digest>`, details.plan_digest). The plan id "
        "is its digest; resubmitting the same plan returns it with `created: false` (200).",
        status_code=201,
        responses=_ERRORS,
        tags=["plans"],
    )
    def submit_plan(payload: PlanSubmit, response: Response, caller: Caller) -> PlanCreated:
        result = ledger.submit_plan(payload.toml, _event(payload.event), caller=caller)
        if not result.created:
            response.status_code = 200
        return result

    @app.get(
        "/plans",
        summary="List plans",
        description="Every plan the caller is a party of (every plan for a node), oldest "
        "first, with its state.",
        responses=_ERRORS,
        tags=["plans"],
    )
    def list_plans(caller: Caller) -> list[PlanSummary]:
        return ledger.list_plans(viewer=caller)

    @app.get(
        "/plans/{plan_id}",
        summary="Get a plan",
        description="The plan TOML, digest, required approvers (the owners of its tables), "
        "the approvals so far exactly as signed (re-verify them with "
        "tyst.service.signing.verify_approval), rejections, state and jobs. Only to the "
        "plan's owners and recipients and the nodes (404 for anyone else).",
        responses=_ERRORS,
        tags=["plans"],
    )
    def get_plan(plan_id: PlanId, caller: Caller) -> PlanOut:
        return ledger.get_plan(plan_id, viewer=caller)

    @app.post(
        "/plans/{plan_id}/approvals",
        summary="Approve a plan",
        description="An owner's Approval of the plan's digest plus its signed plan_approved "
        "event. Verified against the registry; only owners of the plan's tables may approve; "
        "a repeated approval is idempotent (200, `created: false`). Another digest → 400; "
        "not an owner, unknown signer or forged signature → 403.",
        status_code=201,
        responses=_ERRORS,
        tags=["plans"],
    )
    def approve_plan(
        plan_id: PlanId, payload: ApprovalSubmit, response: Response
    ) -> ApprovalAccepted:
        result = ledger.add_approval(plan_id, _approval(payload), _event(payload.event))
        if not result.created:
            response.status_code = 200
        return result

    @app.put(
        "/plans/{plan_id}/events",
        summary="Reject or withdraw a plan",
        description="An owner's signed plan_rejected event, or the submitter's "
        "plan_withdrawn event before any job of the plan ran (job `plan:<digest>`, "
        "details.plan_digest, optional details.reason). Final: no new job can be created "
        "for the plan and its live jobs fail (the nodes stop and delete).",
        responses=_ERRORS,
        tags=["plans"],
    )
    def plan_event(plan_id: PlanId, event: AuditEventModel) -> EventAccepted:
        return ledger.add_plan_event(plan_id, _event(event))

    @app.post(
        "/plans/{plan_id}/jobs",
        summary="Create a job",
        description="Starts a new job of a plan every owner has approved (the stored "
        "approvals are re-verified first; 409 otherwise) on the signed job_created event of "
        "an owner or recipient of the plan (403 for anyone else). The job starts in state "
        "`created` (201). When the plan already has max_open_jobs open jobs, the answer is "
        "the oldest of them with `created: false` (200) and nothing is logged. Open jobs are "
        "withdrawn (failed) after open_job_timeout.",
        status_code=201,
        responses=_ERRORS,
        tags=["jobs"],
    )
    def create_job(plan_id: PlanId, payload: JobRequest, response: Response) -> JobCreated:
        result = ledger.create_job(plan_id, _event(payload.event))
        if not result.created:
            response.status_code = 200
        return result

    # ------------------------------------------------------------------ jobs

    @app.get(
        "/jobs",
        summary="List jobs",
        description="Every job of the plans the caller is a party of (of every plan for a "
        "node), oldest first, with its state (tyst.coordinator.states.JOB_STATES), the reason "
        "of a failure and the nodes whose deletion receipt is in the log; `?plan=` for one "
        "plan's jobs (404 for a plan the caller may not see).",
        responses=_ERRORS,
        tags=["jobs"],
    )
    def list_jobs(caller: Caller, plan: str | None = None) -> list[JobSummary]:
        return ledger.list_jobs(viewer=caller, plan_id=plan)

    @app.get(
        "/jobs/{job_id}",
        summary="Get a job",
        description="The job's state (created, uploading, running, finished, failed, "
        "deleted), its progress events in log order and the results waiting (per recipient "
        "and node: result id, chunks posted and held). Only to "
        "the plan's owners and recipients and the nodes (404 for anyone else).",
        responses=_ERRORS,
        tags=["jobs"],
    )
    def get_job(job_id: JobId, caller: Caller) -> JobOut:
        return ledger.get_job(job_id, viewer=caller)

    @app.put(
        "/jobs/{job_id}/events",
        summary="Report a job event",
        description="A signed audit event for this job from a node (upload_received, "
        "run_started, run_finished, run_failed, result_delivered, shares_deleted, "
        "plan_rejected) or a party (job_cancelled, result_received). Appended to the log and "
        "advances the job; illegal transitions → 409.",
        responses=_ERRORS,
        tags=["jobs"],
    )
    def job_event(job_id: JobId, event: AuditEventModel) -> EventAccepted:
        return ledger.add_job_event(job_id, _event(event))

    @app.post(
        "/jobs/{job_id}/results/{recipient}/{chunk}",
        summary="Relay one chunk of a sealed result",
        description="A node posts chunk `chunk` of its result shares sealed to `recipient` "
        "(opaque bytes, application/octet-stream, at most MAX_SEALED_CHUNK) with headers "
        "X-Tyst-Sender, X-Tyst-Result (the node's id of this sealed result), X-Tyst-Chunks "
        "(how many chunks it has) and X-Tyst-Signature (tyst.coordinator.protocol."
        "sign_result). Route and headers are checked before the body is read (413 for a "
        "Content-Length above the chunk limit or past max_result_bytes); the signature is "
        "checked before the chunk is stored. Stored as bytes only; 201 new, 200 identical "
        "repeat, 409 different bytes or another result, 413 too large.",
        status_code=201,
        responses={**_ERRORS, 413: {"model": ErrorOut, "description": "Chunk too large"}},
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                },
            }
        },
        tags=["results"],
    )
    async def put_result(
        job_id: JobId,
        recipient: OrgId,
        chunk: ChunkIndex,
        request: Request,
        response: Response,
        sender: Annotated[str, Header(alias=SENDER_HEADER, description="The posting node")],
        result_id: Annotated[
            str, Header(alias=RESULT_HEADER, description="The node's id of this sealed result")
        ],
        chunks: Annotated[
            int, Header(alias=COUNT_HEADER, description="How many chunks the result has")
        ],
        signature: Annotated[
            str, Header(alias=SIGNATURE_HEADER, description="base64 result-relay signature")
        ],
    ) -> ChunkMeta:
        declared = _content_length(request)
        place = (result_id, chunk, chunks)
        if _caller(request) != sender:
            # Only the node itself posts its chunks: no other organisation makes the
            # coordinator spool a body it cannot authenticate.
            raise CoordinatorError(403, f"a result chunk is posted by its sender {sender!r} itself")
        # Everything the route and headers decide comes before a single body byte is
        # read: size (413), job, recipient, sender, state, result (404/403/409).
        await run_in_threadpool(
            ledger.check_result_post, job_id, recipient, sender, place, signature, declared
        )
        limit = MAX_SEALED_CHUNK if declared is None else declared
        digest = hashlib.sha256()
        size = 0
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
            async for piece in request.stream():
                size += len(piece)
                if size > MAX_SEALED_CHUNK:
                    raise CoordinatorError(413, f"a chunk is at most {MAX_SEALED_CHUNK} bytes")
                if size > limit:
                    raise CoordinatorError(400, "the body is longer than its Content-Length")
                digest.update(piece)
                spool.write(piece)
            # The sender's signature is checked over the hash: an unauthenticated body
            # never occupies more than SPOOL_BYTES of memory and is never stored.
            await run_in_threadpool(
                ledger.check_result_signature,
                job_id,
                recipient,
                sender,
                place,
                digest.hexdigest(),
                signature,
            )
            spool.seek(0)
            blob = spool.read()
        meta, created = await run_in_threadpool(
            ledger.put_result, job_id, recipient, sender, place, signature, blob
        )
        if not created:
            response.status_code = 200
        else:
            metrics.chunk_bytes.observe(len(blob))
        return meta

    @app.get(
        "/jobs/{job_id}/results/{recipient}/{sender}/{chunk}",
        summary="Fetch one chunk of a sealed result",
        description="The raw bytes of chunk `chunk` of the result `sender` sealed for "
        "`recipient`; its signature, result id and chunk count are in the X-Tyst-Signature, "
        "X-Tyst-Result and X-Tyst-Chunks response headers (the job's `results` lists how "
        "many chunks each node posted). Verify each chunk's signature for its place "
        "(tyst.coordinator.protocol.verify_result) before opening it. Served to the "
        "recipient only (403 for the plan's other parties and the nodes).",
        responses={
            **_ERRORS,
            200: {"content": {"application/octet-stream": {}}, "description": "The chunk"},
        },
        response_class=Response,
        tags=["results"],
    )
    def get_result(
        job_id: JobId, recipient: OrgId, sender: OrgId, chunk: ChunkIndex, caller: Caller
    ) -> Response:
        row = ledger.get_result_chunk(job_id, recipient, sender, chunk, viewer=caller)
        return Response(
            content=row.data,
            media_type="application/octet-stream",
            headers={
                SIGNATURE_HEADER: row.signature,
                SENDER_HEADER: sender,
                RESULT_HEADER: row.result_id,
                COUNT_HEADER: str(row.chunks),
            },
        )

    # ------------------------------------------------------------------ audit

    @app.get(
        "/audit",
        summary="Export the audit log",
        description="The whole hash-chained log as JSONL, one canonical JSON event per line "
        "(tyst.service.audit.read_jsonl format). Verify with `tyst audit verify` or "
        "verify_chain against your registry and a head you trust. Whole, because the hash "
        "chain links every event to the one before it; served to the nodes and to the "
        "parties of its plans (403 for other organisations).",
        response_class=StreamingResponse,
        responses={
            **_ERRORS,
            200: {"content": {"application/x-ndjson": {}}, "description": "JSONL"},
        },
        tags=["audit"],
    )
    def audit(caller: Caller) -> StreamingResponse:
        _log_reader(caller)
        lines = (event.to_json_line().encode("utf-8") + b"\n" for event in ledger.iter_events())
        return StreamingResponse(lines, media_type="application/x-ndjson")

    @app.get(
        "/audit/head",
        summary="The audit log's head",
        description="Number of events and the last event's hash. Record it: a later log that "
        "does not contain it was truncated or rewritten.",
        tags=["audit"],
    )
    def audit_head() -> HeadOut:
        head = ledger.head()
        return HeadOut(n_events=head.n_events, hash=head.hash)

    @app.post(
        "/audit/drafts",
        summary="Draft the next audit event",
        description="The next event for `actor` with seq, time, prev_hash and hash filled in "
        "and an empty signature. Check it, sign it with sign_event and send it to the "
        "endpoint for its kind. Reserves nothing: if the log moves on, draft again.",
        responses=_ERRORS,
        tags=["audit"],
    )
    def audit_draft(request: DraftRequest) -> AuditEventModel:
        draft = ledger.draft(request.actor, request.kind, request.job, request.details)
        return AuditEventModel.model_construct(**draft.to_dict())

    @app.get(
        "/audit/verify",
        summary="Verify the stored audit log",
        description="Runs tyst.service.audit.verify_chain and role_problem (who may sign "
        "which event) over the stored log with the coordinator's registry and nodes. A party "
        "should verify the exported log itself as well. For the nodes and the parties of "
        "its plans (as GET /audit).",
        responses=_ERRORS,
        tags=["audit"],
    )
    def audit_verify(caller: Caller) -> VerifyOut:
        _log_reader(caller)
        events = ledger.events()
        report = verify_chain(events, registry)
        problem = report.first_problem
        if problem is None:
            problem = role_problem(events, ledger.nodes)
        last = events[-1].hash if events else "0" * 64
        return VerifyOut(
            ok=problem is None,
            n_events=report.n_events,
            first_problem=problem,
            head=HeadOut(n_events=len(events), hash=last),
        )

    return app


def app_from_config(config: CoordinatorConfig) -> FastAPI:
    """The application a configuration describes (registry loaded and its fingerprint checked).

    Errors: :class:`~tyst.service.keys.RegistryError` for an unreadable registry
    or a fingerprint that differs from ``registry_fingerprint``.
    """
    registry = Registry.load(config.registry)
    if config.registry_fingerprint is not None:
        actual = registry.fingerprint()
        if actual != config.registry_fingerprint:
            raise RegistryError(
                f"{config.registry}: fingerprint {actual} differs from the pinned "
                f"{config.registry_fingerprint}"
            )
    return create_app(
        config.database_url,
        registry,
        nodes=config.nodes,
        max_result_bytes=config.max_result_bytes,
        max_open_jobs=config.max_open_jobs,
        open_job_timeout=config.open_job_timeout,
        run_timeout=config.run_timeout,
        migrate=config.auto_migrate,
    )


def prepare(config: CoordinatorConfig) -> FastAPI:
    """:func:`app_from_config` after checking the TLS certificate and key, with every
    start-up failure as one line (``tyst coordinator serve`` prints it and exits 2).

    Errors: :class:`~tyst.service.startup.StartupError` for a missing or invalid
    certificate or key, an unreadable registry or one whose fingerprint is not
    the pinned one, an unusable or unreachable database (its URL shown without
    the password) and invalid settings.
    """
    from sqlalchemy.exc import SQLAlchemyError

    if config.tls_cert is not None and config.tls_key is not None:
        check_tls_pair(config.tls_cert, config.tls_key, what="coordinator tls_cert/tls_key")
    try:
        return app_from_config(config)
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        raise StartupError(
            f"coordinator: database {redacted_url(config.database_url)}: {startup_line(cause)}"
        ) from None
    except (RegistryError, OSError, ValueError) as exc:  # DatabaseURLError is a ValueError
        raise StartupError(f"coordinator: {startup_line(exc)}") from None


GRACEFUL_SHUTDOWN = 5
"""Seconds a stopping server waits for open connections before it closes them (then a
node deletes what it holds and signs the receipts)."""


def serve(config: CoordinatorConfig) -> None:  # pragma: no cover - runs a server
    """Run the coordinator with uvicorn until interrupted (``tyst coordinator serve``).

    Errors: as :func:`prepare`; :class:`OSError` if the port is taken.
    """
    import uvicorn

    from tyst.service.logs import configure_logging
    from tyst.service.metrics import serve_metrics

    configure_logging(config.log_format)
    app = prepare(config)
    scrape = ""
    if config.metrics_listen is not None:
        try:
            served = serve_metrics(app.state.metrics.registry, config.metrics_listen)
        except OSError as exc:
            raise StartupError(f"coordinator: metrics_listen: {startup_line(exc)}") from None
        scrape = f", metrics on http://{served.address[0]}:{served.address[1]}/metrics"
    print(
        f"tyst coordinator on {'https' if config.tls_cert else 'http'}://{config.host}:"
        f"{config.port} (database {redacted_url(config.database_url)}, pid {os.getpid()})" + scrape,
        flush=True,
    )
    uvicorn.run(
        app,
        host=config.host,
        port=config.port,
        ssl_certfile=str(config.tls_cert) if config.tls_cert else None,
        ssl_keyfile=str(config.tls_key) if config.tls_key else None,
        log_level="info",
        log_config=None,  # uvicorn's records go through configure_logging's handler
        # SIGTERM: stop within seconds even while clients hold keep-alive connections
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN,
    )
