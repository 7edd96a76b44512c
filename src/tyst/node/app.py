"""A compute node's HTTP API (HTTPS with the node's certificate from the deployment CA).

Routes (JSON; every error is ``{"detail": "<one line>"}``):

- ``GET /health`` — organisation, party, registry fingerprint, jobs held;
- ``GET /jobs/{job}`` — this node's view of a job: state, tables held (row
  counts only), tables missing, retention deadline;
- ``PUT /jobs/{job}/tables/{table}`` — an owner's upload stream
  (``application/octet-stream``, :mod:`tyst.api.uploads`) → 201
  ``{job, table, rows, complete}``; 400 malformed or not matching the plan,
  403 unauthorised (header or trailer signature, approvals, owner), 404 a job
  id not of the coordinator's form, 409 already uploaded, replaced by a newer
  upload of the table, or the job no longer accepts uploads, 413 more rows
  than the plan or this node allows.

A job id must be ``job-`` + 32 lowercase hex digits (as the coordinator
issues them): anything else is 404 before the body is read. The upload
reader holds at most one frame of :data:`tyst.api.uploads.MAX_CHUNK_BYTES`
(an announced longer frame is refused from its 9-byte head), so one request
never makes the node buffer more than a few MiB.

The rules are in :mod:`tyst.node.service`; :func:`serve` runs the node.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from tyst.api.uploads import Chunk, UploadFormatError, UploadHeader, UploadReader
from tyst.node.config import NodeConfig
from tyst.node.service import NodeService, Refused
from tyst.node.store import StoreError, TableWriter

log = logging.getLogger("tyst.node")


def create_app(service: NodeService, *, start: bool = True) -> FastAPI:
    """The node's application over ``service`` (started and stopped with the app)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if start:
            await run_in_threadpool(service.start)
        yield
        if start:
            await run_in_threadpool(service.stop)

    app = FastAPI(
        docs_url=None,  # no /docs or /redoc: they load scripts from outside CDNs
        redoc_url=None,
        title="tyst compute node",
        version="1",
        description="Upload and control API of one compute node. Uploads carry one node's "
        "share pairs only, signed by the table's owner; see tyst.api.uploads.",
        lifespan=lifespan,
    )
    app.state.service = service

    @app.exception_handler(Refused)
    async def _refused(_request: Request, exc: Refused) -> JSONResponse:
        return JSONResponse(status_code=exc.status, content={"detail": str(exc)})

    @app.get("/health", summary="Liveness and identity")
    def health() -> dict[str, Any]:
        return service.health()

    @app.get("/jobs/{job}", summary="This node's view of a job")
    def job_view(job: str) -> dict[str, Any]:
        return service.job_view(job)

    @app.put(
        "/jobs/{job}/tables/{table}",
        summary="Upload one table's shares for this node",
        status_code=201,
    )
    async def upload(job: str, table: str, request: Request) -> dict[str, Any]:
        service.check_request(job, table)
        reader = UploadReader()
        writer: TableWriter | None = None
        try:
            async for data in request.stream():
                for frame in reader.feed(data):
                    if isinstance(frame, UploadHeader):
                        writer = await run_in_threadpool(
                            service.begin_upload, job, table, frame, reader.header_signature
                        )
                    elif isinstance(frame, Chunk):
                        assert writer is not None
                        await run_in_threadpool(writer.write, frame.payload)
            if writer is None or not reader.complete():
                raise Refused(400, "the upload stream ended before its signed trailer")
            done = writer
            writer = None
            return await run_in_threadpool(service.finish_upload, job, table, reader, done)
        except UploadFormatError as exc:
            raise Refused(400, str(exc)) from None
        except StoreError as exc:  # replaced by a newer upload, deleted, or over its bound
            raise Refused(409, str(exc)) from None
        finally:
            if writer is not None:
                await run_in_threadpool(service.abort_upload, job, table, writer)

    return app


def build_service(config: NodeConfig) -> NodeService:
    """Load the keys, registry and TLS credentials a configuration names."""
    from tyst.api.http import CoordinatorClient
    from tyst.net.certs import NodeCredentials
    from tyst.service.keys import Registry, RegistryError, load

    registry = Registry.load(config.registry)
    actual = registry.fingerprint()
    if config.registry_fingerprint and actual != config.registry_fingerprint:
        raise RegistryError(
            f"{config.registry}: fingerprint {actual} differs from the pinned "
            f"{config.registry_fingerprint}"
        )
    passphrase = config.passphrase_file.read_bytes().strip() if config.passphrase_file else None
    keys = load(config.keys, passphrase)
    if keys.org_id != config.org:
        raise RegistryError(f"{config.keys} holds the keys of {keys.org_id!r}, not {config.org!r}")
    credentials = NodeCredentials.load(config.tls, config.party)
    verify: Any = str(config.coordinator_ca) if config.coordinator_ca else True
    coordinator = CoordinatorClient(config.coordinator, keys, verify=verify)
    return NodeService(config, keys, registry, credentials, coordinator)


def prepare(config: NodeConfig) -> NodeService:
    """:func:`build_service` after checking the node's TLS certificate and key, with every
    start-up failure as one line (``tyst node serve`` prints it and exits 2).

    Errors: :class:`~tyst.service.startup.StartupError` for a registry whose
    fingerprint is not the pinned one, a wrong or missing passphrase, keys of
    another organisation, a missing or invalid certificate or key, a store that
    cannot be created.
    """
    from tyst.service.keys import KeyFileError, RegistryError
    from tyst.service.startup import StartupError, check_tls_pair, one_line

    what = f"node {config.org}"
    check_tls_pair(config.tls / "node.pem", config.tls / "node.key", what=f"{what} tls")
    try:
        return build_service(config)
    except (RegistryError, KeyFileError, OSError, ValueError, TypeError) as exc:
        raise StartupError(f"{what}: {one_line(exc)}") from None


GRACEFUL_SHUTDOWN = 5
"""Seconds a stopping server waits for open connections before it closes them (then a
node deletes what it holds and signs the receipts)."""


def serve(config: NodeConfig) -> None:  # pragma: no cover - runs a server
    """Run the node until interrupted (``tyst node serve``)."""
    import uvicorn

    from tyst.service.logs import configure_logging
    from tyst.service.metrics import serve_metrics
    from tyst.service.startup import StartupError, one_line

    configure_logging(config.log_format)
    service = prepare(config)
    scrape = ""
    if config.metrics_listen is not None:
        try:
            served = serve_metrics(service.telemetry.registry, config.metrics_listen)
        except OSError as exc:
            raise StartupError(f"node {config.org}: metrics_listen: {one_line(exc)}") from None
        scrape = f", metrics on http://{served.address[0]}:{served.address[1]}/metrics"
    print(
        f"tyst node {config.org} (party {config.party}) on https://{config.host}:{config.port}, "
        f"mesh {config.mesh[config.party][0]}:{config.mesh[config.party][1]}, pid {os.getpid()}"
        + scrape,
        flush=True,
    )
    uvicorn.run(
        create_app(service),
        host=config.host,
        port=config.port,
        ssl_certfile=str(config.tls / "node.pem"),
        ssl_keyfile=str(config.tls / "node.key"),
        log_level="warning",
        log_config=None,  # uvicorn's records go through configure_logging's handler
        # SIGTERM: stop within seconds even while clients hold keep-alive connections
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN,
    )
