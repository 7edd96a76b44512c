"""Typed HTTP clients for the coordinator and for the compute nodes' APIs.

Contract
--------
:class:`CoordinatorClient` wraps the coordinator's routes (see
:mod:`tyst.coordinator.app`). Every write that records a decision is an audit
event the caller signs itself: :meth:`CoordinatorClient.signed` drafts the
next event, checks that the draft says exactly what was asked (actor, kind,
job, details) and that its hash matches its contents, signs it with the
caller's keys and hands it to the route; if the log moved on meanwhile (409
"draft … again") it drafts again, a few times. The coordinator never signs
for anyone. Every request the client sends (reads included; not ``GET
/health``) is itself signed with the organisation's keys by
:class:`CoordinatorAuth` (:func:`tyst.coordinator.protocol.sign_request`: the
method, the path and query as sent, the time, a nonce and the body's SHA-256);
the coordinator answers nothing else but 401.

:class:`NodeClient` wraps a node's API (see :mod:`tyst.node.app`): health,
one job's view, and streaming an upload. It is pinned to one node: the server
must present a certificate from the deployment CA carrying that node's party
identity ``party-{i}.tyst`` (the identity the nodes' mesh checks, see
:mod:`tyst.net.certs`); TLS verifies that name, not the URL's host, so the
coordinator's certificate (which never carries a party identity) or another
node's certificate is refused during the TLS handshake, before any byte of
the request is sent. A node client needs the deployment CA (a CA file as
``verify``) and an ``https://`` URL; without them it refuses every request.

Errors: :class:`ApiError` (one line: the service, the route, the status and
the server's ``detail``) for any refused request or unreachable server.
TLS: ``verify`` is a CA file (the deployment CA), ``True`` (system CAs) or
``False`` (plain HTTP on loopback in tests only).
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from tyst.coordinator.protocol import (
    COUNT_HEADER,
    RESULT_HEADER,
    SENDER_HEADER,
    SIGNATURE_HEADER,
    plan_audit_job,
    sign_request,
    sign_result,
)
from tyst.service.audit import AuditEvent, sign_event
from tyst.service.keys import OrgKeys
from tyst.service.signing import Approval, approve

Verify = str | bool
_DRAFT_RETRIES = 20


class ApiError(Exception):
    """A request the service refused or could not answer; ``str()`` is one line."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


TRANSIENT_STATUSES = frozenset({401, 408, 425, 429, 500, 502, 503, 504})
"""HTTP statuses a retry may cure: 401 (a request signed outside the clock window),
timeouts, overload and server errors."""


def transient(exc: ApiError) -> bool:
    """Whether the request that raised ``exc`` may succeed if sent again later: the
    service was unreachable (no status), failed or was busy, or the audit log moved on
    under a signed draft (409 "draft … again")."""
    if exc.status is None or exc.status in TRANSIENT_STATUSES:
        return True
    text = str(exc)
    return exc.status == 409 and ("draft" in text and "again" in text)


T = TypeVar("T")


def retry_transient(
    call: Callable[[], T], *, seconds: float, first: float = 0.5, longest: float = 8.0
) -> T:
    """``call()``, tried again with backoff (``first`` s doubling to ``longest`` s) while it
    fails :func:`transient`-ly, for at most ``seconds``: a coordinator restart is waited
    out. Errors: the last :class:`ApiError` at once if it is not transient, else after
    ``seconds`` with "gave up after retrying" (one line)."""
    deadline = time.monotonic() + seconds
    delay = first
    while True:
        try:
            return call()
        except ApiError as exc:
            left = deadline - time.monotonic()
            if not transient(exc):
                raise
            if left <= 0:
                raise ApiError(
                    f"{exc} (gave up after retrying for {seconds:.0f} s)", exc.status
                ) from None
            time.sleep(min(delay, left))
            delay = min(longest, delay * 2)


def _verify(verify: Verify | Path) -> Any:
    if isinstance(verify, Path):
        return str(verify)
    if isinstance(verify, str):
        import ssl

        return ssl.create_default_context(cafile=verify)
    return verify


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])
    return str(body)[:200]


@dataclass(frozen=True)
class ResultChunk:
    """One chunk of a sealed result as served: its bytes, the sender's base64 signature,
    and the result id and chunk count the coordinator says it was posted with."""

    data: bytes
    signature: str
    result_id: str
    count: int


class CoordinatorAuth(httpx.Auth):
    """Signs every request as ``keys.org_id`` for the coordinator (``httpx`` auth).

    The signed target is the request's path and query exactly as sent
    (``request.url.raw_path``), the body its exact bytes; each request gets a
    fresh time and nonce, so it is good once. ``GET /health`` is sent unsigned.
    Usable with any ``httpx.Client`` (``auth=CoordinatorAuth(keys)``).
    """

    requires_request_body = True

    def __init__(self, keys: OrgKeys) -> None:
        self.keys = keys

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        target = request.url.raw_path.decode("latin-1")
        if not (request.method == "GET" and target == "/health"):
            request.headers.update(sign_request(self.keys, request.method, target, request.content))
        yield request


class _Http:
    """One base URL, one connection pool, one-line errors."""

    service = "service"

    def __init__(
        self,
        url: str,
        verify: Verify | Path = True,
        timeout: float = 60.0,
        auth: httpx.Auth | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._client = httpx.Client(
            base_url=self.url, verify=_verify(verify), timeout=httpx.Timeout(timeout), auth=auth
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> _Http:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, route: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._client.request(method, route, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(self._failure(method, route, exc)) from None
        if response.status_code >= 400:
            raise ApiError(
                f"{self.service} {self.url}: {method} {route}: "
                f"{response.status_code} {_detail(response)}",
                response.status_code,
            )
        return response

    def json(self, method: str, route: str, **kwargs: Any) -> Any:
        return self.request(method, route, **kwargs).json()

    def _failure(self, method: str, route: str, exc: httpx.HTTPError) -> str:
        return f"{self.service} {self.url}: {method} {route}: {exc}"


def node_identity(party: int) -> str:
    """The certificate name of compute node ``party``: ``party-{party}.tyst``.

    The same name as :func:`tyst.net.certs.party_dns_name` (this layer may not
    import ``tyst.net``; a test checks the two agree)."""
    if party not in (0, 1, 2):
        raise ValueError(f"node index must be 0, 1 or 2, got {party}")
    return f"party-{party}.tyst"


def _cert_error(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate verification failure behind an httpx error, if any."""
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        e = stack.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, ssl.SSLCertVerificationError):
            return e
        stack += [x for x in (e.__cause__, e.__context__) if x is not None]
        stack += [a for a in e.args if isinstance(a, BaseException)]
    return None


class CoordinatorClient(_Http):
    """The coordinator's API for one organisation: every request signed with ``keys``
    (without keys, only ``health()`` is answered)."""

    service = "coordinator"

    def __init__(
        self,
        url: str,
        keys: OrgKeys | None = None,
        verify: Verify | Path = True,
        timeout: float = 60.0,
    ) -> None:
        super().__init__(url, verify, timeout, None if keys is None else CoordinatorAuth(keys))
        self.keys = keys

    def _keys(self) -> OrgKeys:
        if self.keys is None:
            raise ApiError("this client has no organisation keys to sign with")
        return self.keys

    def signed(
        self,
        kind: str,
        job: str,
        details: Mapping[str, str | int],
        send: Any,
    ) -> Any:
        """Draft, check, sign and send one audit event: ``send(event_dict)`` posts it.

        Retries with a fresh draft while the log moves on under us (409 "draft").
        """
        keys = self._keys()
        for attempt in range(_DRAFT_RETRIES):
            draft = AuditEvent.from_dict(
                self.json(
                    "POST",
                    "/audit/drafts",
                    json={"actor": keys.org_id, "kind": kind, "job": job, "details": dict(details)},
                )
            )
            if (draft.actor, draft.kind, draft.job, draft.details) != (
                keys.org_id,
                kind,
                job,
                dict(details),
            ) or draft.compute_hash() != draft.hash:
                raise ApiError("coordinator: the audit draft does not say what was asked")
            event = sign_event(keys, draft).to_dict()
            try:
                return send(event)
            except ApiError as exc:
                if exc.status == 409 and "draft" in str(exc) and attempt + 1 < _DRAFT_RETRIES:
                    time.sleep(0.02 * (attempt + 1))
                    continue
                raise
        raise AssertionError("unreachable")

    # -- plans

    def submit_plan(self, toml: str, digest: str) -> dict[str, Any]:
        """Submit a plan (signed ``plan_submitted``); returns the coordinator's answer."""
        return dict(
            self.signed(
                "plan_submitted",
                plan_audit_job(digest),
                {"plan_digest": digest},
                lambda e: self.json("POST", "/plans", json={"toml": toml, "event": e}),
            )
        )

    def approve_plan(self, digest: str) -> dict[str, Any]:
        """Sign ``digest`` as this owner's approval and record it (with ``plan_approved``)."""
        approval: Approval = approve(self._keys(), digest)
        return dict(
            self.signed(
                "plan_approved",
                plan_audit_job(digest),
                {"plan_digest": digest},
                lambda e: self.json(
                    "POST",
                    f"/plans/{digest}/approvals",
                    json={"approval": approval.to_dict(), "event": e},
                ),
            )
        )

    def reject_plan(self, digest: str, reason: str) -> dict[str, Any]:
        """Record this owner's refusal of a plan (final; its live jobs fail)."""
        return dict(
            self.signed(
                "plan_rejected",
                plan_audit_job(digest),
                {"plan_digest": digest, "reason": " ".join(reason.split())[:200]},
                lambda e: self.json("PUT", f"/plans/{digest}/events", json=e),
            )
        )

    def withdraw_plan(self, digest: str, reason: str = "") -> dict[str, Any]:
        """Withdraw a plan this organisation submitted, before any job of it ran (final; its
        open jobs fail): a signed ``plan_withdrawn``."""
        details: dict[str, str | int] = {"plan_digest": digest}
        if reason.strip():
            details["reason"] = " ".join(reason.split())[:200]
        return dict(
            self.signed(
                "plan_withdrawn",
                plan_audit_job(digest),
                details,
                lambda e: self.json("PUT", f"/plans/{digest}/events", json=e),
            )
        )

    def plan(self, plan_id: str) -> dict[str, Any]:
        """``GET /plans/{id}``: text, digest, approvals as signed, state, jobs."""
        return dict(self.json("GET", f"/plans/{plan_id}"))

    def plans(self) -> list[dict[str, Any]]:
        return list(self.json("GET", "/plans"))

    def approvals(self, plan: Mapping[str, Any]) -> list[Approval]:
        """The approvals of a ``plan()`` answer, parsed (not yet verified)."""
        return [Approval.from_dict(a) for a in plan["approvals"]]

    # -- jobs

    def create_job(self, plan_id: str) -> str:
        """A new job of an approved plan; returns its id."""
        return str(self.json("POST", f"/plans/{plan_id}/jobs")["job_id"])

    def jobs(self, plan_id: str | None = None) -> list[dict[str, Any]]:
        """``GET /jobs``: the jobs of this organisation's plans (of ``plan_id`` only, if
        given), oldest first, with their states."""
        params = {} if plan_id is None else {"plan": plan_id}
        return list(self.json("GET", "/jobs", params=params))

    def job(self, job_id: str) -> dict[str, Any]:
        """``GET /jobs/{id}``: state, progress events, waiting result blobs."""
        return dict(self.json("GET", f"/jobs/{job_id}"))

    def job_event(self, job_id: str, kind: str, details: Mapping[str, str | int]) -> dict[str, Any]:
        """Append a signed job event (a node's or a party's)."""
        return dict(
            self.signed(
                kind, job_id, details, lambda e: self.json("PUT", f"/jobs/{job_id}/events", json=e)
            )
        )

    def cancel_job(self, job_id: str, reason: str) -> dict[str, Any]:
        """Cancel a job as a party of its plan (a signed ``job_cancelled`` with ``reason``):
        the job fails; the nodes stop any run of it, delete and sign their receipts."""
        return self.job_event(job_id, "job_cancelled", {"reason": " ".join(reason.split())[:200]})

    # -- results

    def post_result(
        self, job_id: str, recipient: str, chunk: bytes, *, result_id: str, index: int, count: int
    ) -> dict[str, Any]:
        """A node relays chunk ``index`` of ``count`` of its sealed result ``result_id`` for
        ``recipient``, signed by the node (an identical repost is acknowledged again)."""
        headers = sign_result(
            self._keys(), job_id, recipient, chunk, result_id=result_id, index=index, count=count
        )
        return dict(
            self.json(
                "POST",
                f"/jobs/{job_id}/results/{recipient}/{index}",
                content=chunk,
                headers={"content-type": "application/octet-stream", **headers},
            )
        )

    def result_chunk(self, job_id: str, recipient: str, sender: str, index: int) -> ResultChunk:
        """Chunk ``index`` of ``sender``'s sealed result for ``recipient`` as the coordinator
        serves it (raw bytes; nothing is verified here: see
        :func:`tyst.coordinator.protocol.verify_result`).

        Errors: :class:`ApiError`, also for a response without the chunk's headers."""
        route = f"/jobs/{job_id}/results/{recipient}/{sender}/{index}"
        response = self.request("GET", route)
        headers = response.headers
        try:
            return ResultChunk(
                data=response.content,
                signature=headers[SIGNATURE_HEADER],
                result_id=headers[RESULT_HEADER],
                count=int(headers[COUNT_HEADER]),
            )
        except (KeyError, ValueError):
            raise ApiError(
                f"coordinator {self.url}: GET {route}: the answer lacks the chunk's headers"
            ) from None

    # -- audit

    def audit_jsonl(self) -> bytes:
        """The whole audit log as JSONL bytes."""
        return self.request("GET", "/audit").content

    def health(self) -> dict[str, Any]:
        return dict(self.json("GET", "/health"))


class NodeClient(_Http):
    """Compute node ``party``'s API, pinned to that node's certificate identity.

    ``verify`` must be the deployment CA (a file); see the module docstring.
    """

    service = "node"

    def __init__(
        self, url: str, party: int, verify: Verify | Path = True, timeout: float = 60.0
    ) -> None:
        self.party = party
        self.identity = node_identity(party)
        self._problem: str | None = None
        context: Any = False
        if not url.startswith("https://"):
            self._problem = "the node URL is not https://, so the node's identity cannot be checked"
        elif isinstance(verify, bool):
            self._problem = (
                "no deployment CA is configured (ca in client.toml); "
                f"{self.identity} is issued by it alone"
            )
        else:
            context = ssl.create_default_context(cafile=str(verify))
        super().__init__(url, context, timeout)

    def request(self, method: str, route: str, **kwargs: Any) -> httpx.Response:
        if self._problem is not None:
            raise ApiError(
                f"node {self.party} {self.url}: {method} {route}: refused, nothing sent: "
                f"{self._problem}"
            )
        # TLS checks the certificate for node `party`'s identity, not the URL's host.
        extensions = {**kwargs.pop("extensions", {}), "sni_hostname": self.identity}
        return super().request(method, route, extensions=extensions, **kwargs)

    def _failure(self, method: str, route: str, exc: httpx.HTTPError) -> str:
        cert = _cert_error(exc)
        if cert is None:
            return f"node {self.party} {self.url}: {method} {route}: {exc}"
        return (
            f"node {self.party} {self.url}: {method} {route}: refused, nothing sent: the "
            f"server's certificate is not node {self.party}'s ({self.identity} from the "
            f"deployment CA): {cert.verify_message}"
        )

    def health(self) -> dict[str, Any]:
        return dict(self.json("GET", "/health"))

    def job(self, job_id: str) -> dict[str, Any]:
        """The node's view of a job: tables held, state, message."""
        return dict(self.json("GET", f"/jobs/{job_id}"))

    def upload(self, job_id: str, table: str, body: Iterable[bytes]) -> dict[str, Any]:
        """Stream one upload (see :mod:`tyst.api.uploads`) for ``table`` of ``job_id``."""
        return dict(
            self.json(
                "PUT",
                f"/jobs/{job_id}/tables/{table}",
                content=body,
                headers={"content-type": "application/octet-stream"},
            )
        )


__all__ = [
    "SENDER_HEADER",
    "SIGNATURE_HEADER",
    "TRANSIENT_STATUSES",
    "ApiError",
    "CoordinatorAuth",
    "CoordinatorClient",
    "NodeClient",
    "ResultChunk",
    "node_identity",
    "retry_transient",
    "transient",
]
