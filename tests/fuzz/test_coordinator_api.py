"""Fuzz target: the coordinator's HTTP API, driven from its own OpenAPI schema.

Anyone who can reach the coordinator can send it any request. The requests here
are generated from ``GET /openapi.json`` of an app built with
:func:`tyst.coordinator.app.create_app` (SQLite in a temporary directory, the test
registry and nodes of ``tests/coordinator/helpers.py``), sent in process through
Starlette's ``TestClient``: every operation of the schema (and other methods on its
paths, and unknown paths) with path ids drawn from real and random ids; headers
from the schema's parameters plus junk (``Content-Type``, ``Authorization``,
signatures); JSON bodies generated from the schema's request models — valid,
with members dropped, added or of the wrong type — or really signed audit events
and approvals with random kinds, jobs, details and signers (some of them
tampered; plans from the plan target's mutated texts), or raw junk: bytes,
malformed or deeply nested JSON, TOML bombs. The
coordinator is seeded with a submitted and approved plan and a job, so ids hit
real rows and signed events reach the ledger's state machine.

Property: never a 5xx and never an exception out of the app; every error
(4xx) has a JSON body ``{"detail": "<one line>"}``; every JSON success body
parses. 401 is accepted as an answer (request authentication of reads is being
added; an unsigned request then gets 401).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from tests.coordinator import helpers
from tests.fuzz import fuzz_settings, one_line
from tests.fuzz.test_plan_toml import DOCUMENTS as PLAN_DOCUMENTS
from tests.fuzz.test_plan_toml import TEXTS as PLAN_TEXTS
from tyst.coordinator.app import create_app
from tyst.coordinator.protocol import SENDER_HEADER, SIGNATURE_HEADER, plan_audit_job, sign_result
from tyst.service.audit import EVENT_KINDS, AuditEvent, sign_event
from tyst.service.keys import OrgKeys
from tyst.service.signing import approve, utc_now

SIGNERS: dict[str, OrgKeys] = {
    "fk": helpers.FK,
    "malmo": helpers.MALMO,
    "outsider": helpers.OUTSIDER,
    "stranger": helpers.STRANGER,
    **{n.org_id: n for n in helpers.NODES},
}

# ----------------------------------------------------------------------------- the app


class Coordinator:
    """A seeded coordinator app and its in-process client (close it when done)."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="tyst-fuzz-coordinator-")
        url = f"sqlite:///{Path(self._dir.name) / 'coordinator.db'}"
        app = create_app(url, helpers.REGISTRY, nodes=helpers.NODE_IDS)
        self.client = TestClient(app, raise_server_exceptions=True)
        self.client.__enter__()
        self.job_id = "job-" + "0" * 32
        self.seeded = self._seed()

    def _seed(self) -> str:
        """Submit and approve the test plan and create a job (best effort: with request
        authentication in place the helpers may be refused; the fuzzing goes on)."""
        try:
            self.job_id = helpers.approved_job(self.client)
        except (AssertionError, KeyError, ValueError, TypeError) as exc:
            return f"not seeded: {type(exc).__name__}: {exc}"[:200]
        return "seeded"

    def close(self) -> None:
        self.client.__exit__(None, None, None)
        self._dir.cleanup()


def openapi_schema() -> dict[str, Any]:
    """The coordinator's OpenAPI schema (from an app that touches no database)."""
    app = create_app("sqlite://", helpers.REGISTRY, nodes=helpers.NODE_IDS, migrate=False)
    schema: dict[str, Any] = app.openapi()
    return schema


SCHEMA = openapi_schema()
COMPONENTS: dict[str, Any] = SCHEMA["components"]["schemas"]
OPERATIONS: list[tuple[str, str, dict[str, Any]]] = [
    (path, method.upper(), op)
    for path, ops in sorted(SCHEMA["paths"].items())
    for method, op in sorted(ops.items())
]
WRITES = [o for o in OPERATIONS if "requestBody" in o[2]]
"""The operations with a request body (drawn twice as often)."""
REQUEST_AUTH = getattr(helpers, "auth", None)
"""``helpers.auth(org_id)`` once the coordinator authenticates requests (an httpx auth
that signs each request as that organisation), else ``None``: requests go unsigned."""
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]

# ----------------------------------------------------------------------------- values

_HEX64 = st.text("0123456789abcdef", min_size=64, max_size=64)
_JUNK_TEXT = [
    "", " ", "%3F", "%23", "%2F", "..", ".", "a/b", "plan:", "job-", "\x00", "é", "🙂",
    "null", "0", "-1", "9" * 30, "x" * 5000, "<script>", "' OR 1=1 --", "$(id)",
    "AAAA====", "\\", "%", "%%", "%zz",
]  # fmt: skip


_REAL_IDS = {
    "plan_id": [helpers.DIGEST],
    "job_id": ["$JOB"],  # the seeded job, substituted at request time
    "recipient": ["fk", "malmo"],
    "sender": list(helpers.NODE_IDS),
    "chunk": ["0", "1"],
}


@st.composite
def ids(draw: st.DrawFn, name: str) -> str:
    """A path id for parameter ``name``: the real one (more than half the time), another
    real plan, job or organisation id, a near miss, or junk."""
    if name in _REAL_IDS and draw(st.integers(0, 9)) < 6:
        return draw(st.sampled_from(_REAL_IDS[name]))
    return draw(
        st.one_of(
            st.sampled_from(
                [helpers.DIGEST, helpers.OTHER_DIGEST, helpers.PLAN_JOB, "$JOB", *sorted(SIGNERS)]
            ),
            _HEX64,
            _HEX64.map(lambda h: "job-" + h[:32]),
            st.sampled_from(_JUNK_TEXT),
            st.text(max_size=30),
        )
    )


strings = st.one_of(
    st.sampled_from(
        sorted(EVENT_KINDS) + sorted(SIGNERS) + _JUNK_TEXT[:20]
        + [helpers.DIGEST, helpers.PLAN_JOB, utc_now(), "0" * 64, helpers.PLAN]
    ),
    st.text(max_size=40),
)  # fmt: skip
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([2**53, -(2**63), 2**64, 10**100]),
    st.floats(allow_nan=False, allow_infinity=False),
    strings,
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(strings, inner, max_size=4)
    ),
    max_leaves=10,
)


def from_schema(schema: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Values of a JSON schema (the subset pydantic emits), sometimes breaking it."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return st.deferred(lambda: from_schema(COMPONENTS[name], depth + 1))
    if "anyOf" in schema:
        return st.one_of([from_schema(s, depth) for s in schema["anyOf"]])
    kind = schema.get("type")
    if kind == "object":
        props: dict[str, Any] = schema.get("properties", {})
        required = set(schema.get("required", []))
        extra = schema.get("additionalProperties", True)
        return _objects(props, required, extra, depth)
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {}), depth + 1), max_size=3)
    if kind == "string":
        return strings if "maxLength" not in schema else st.one_of(strings, st.just(helpers.PLAN))
    if kind == "integer":
        return st.one_of(st.integers(-5, 5), st.integers(), st.sampled_from([2**53, 2**63, -1]))
    if kind == "boolean":
        return st.booleans()
    return json_values


@st.composite
def _objects(
    draw: st.DrawFn, props: dict[str, Any], required: set[str], extra: Any, depth: int
) -> Any:
    if depth > 4:
        return draw(json_values)
    out: dict[str, Any] = {}
    for name, sub in props.items():
        roll = draw(st.integers(0, 19))
        if roll == 0 or (name not in required and roll < 8):
            continue  # dropped (a required member now and then)
        out[name] = draw(json_values if roll == 1 else from_schema(sub, depth + 1))
    if isinstance(extra, dict):
        out.update(draw(st.dictionaries(strings, from_schema(extra, depth + 1), max_size=3)))
    if draw(st.integers(0, 9)) == 0:
        out[draw(strings)] = draw(json_values)  # an unknown member
    if draw(st.integers(0, 19)) == 0:
        return draw(json_values)  # not even an object
    return out


# ----------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class Signed:
    """A body built at request time: a really signed event (and approval), maybe tampered."""

    signer: str
    kind: str
    job: str
    details: dict[str, Any]
    wrap: str  # "event", "plan" ({toml, event}), "approval" ({approval, event}), "job" ({event})
    tamper: str | None
    value: Any = None
    toml: str = helpers.PLAN  # the plan text of a "plan" body


@dataclass(frozen=True)
class Request:
    """One generated request."""

    method: str
    path: str  # with "$JOB" where the seeded job id goes
    headers: dict[str, str] = field(default_factory=dict)
    json_body: Any = None
    content: bytes | None = None
    signed: Signed | None = None
    sign_result_as: str | None = None  # sign the posted blob's headers as this node
    as_org: str | None = None  # sign the request itself (once the coordinator wants it)


def _fill(template: str, values: dict[str, str]) -> str:
    return "/".join(
        quote(values[p[1:-1]], safe="$") if p.startswith("{") else p for p in template.split("/")
    )


def _job_of(path: str) -> str:
    """The audit job a signed event to ``path`` belongs to (as the helpers send it)."""
    parts = path.split("/")
    if len(parts) > 2 and parts[1] == "jobs":
        return unquote(parts[2])
    if len(parts) > 2 and parts[1] == "plans":
        return "$JOB" if path.endswith("/jobs") else "plan:" + unquote(parts[2])
    return plan_audit_job(helpers.DIGEST)


def _wrap(template: str) -> str:
    """How a signed event travels to ``template``'s operation."""
    if template == "/plans":
        return "plan"
    if template.endswith("/approvals"):
        return "approval"
    if template.endswith("/jobs"):
        return "job"
    return "event"


_DETAIL_KEYS = ["plan_digest", "owner", "table", "rows", "recipient", "reason", "x", "Bad-Key"]
signed_bodies = st.builds(
    Signed,
    signer=st.sampled_from(sorted(SIGNERS)),
    kind=st.one_of(st.sampled_from(sorted(EVENT_KINDS)), st.text(max_size=10)),
    job=st.one_of(
        st.sampled_from(["$JOB", helpers.PLAN_JOB, plan_audit_job(helpers.OTHER_DIGEST)]),
        st.builds(lambda: "job-" + secrets.token_hex(16)),
        st.text(max_size=20),
    ),
    details=st.dictionaries(
        st.sampled_from(_DETAIL_KEYS),
        st.one_of(
            st.sampled_from([helpers.DIGEST, "fk", "malmo", "sjukpenning", "bistand"]),
            st.integers(-3, 10**6),
            st.text(max_size=10),
        ),
        max_size=3,
    ),
    wrap=st.sampled_from(["event", "plan", "approval", "job"]),
    tamper=st.one_of(
        st.none(),
        st.none(),
        st.sampled_from(["seq", "time", "prev_hash", "hash", "signature", "actor", "drop"]),
    ),
    value=st.one_of(strings, st.integers(), json_values),
    toml=st.one_of(st.just(helpers.PLAN), PLAN_TEXTS, PLAN_DOCUMENTS),
)

junk_bodies = st.one_of(
    st.binary(max_size=200),
    st.sampled_from(
        [
            b"", b"{", b"null", b"[]", b"{}", b'{"toml": 1}', b"\xff\xfe",
            b'"' + b"a" * 10_000 + b'"',
            b"[" * 50_000 + b"]" * 50_000, b'{"a":' * 20_000 + b"1" + b"}" * 20_000,
            json.dumps({"toml": "a = " + "[" * 5000 + "]" * 5000, "event": {}}).encode(),
            json.dumps({"actor": "fk", "kind": "x", "job": "j", "details": {"a": [1]}}).encode(),
            b'{"seq": 1e400}', b'{"seq": NaN}', b"\x00" * 100,
        ]
    ),
)  # fmt: skip

junk_headers = st.dictionaries(
    st.sampled_from(
        [SENDER_HEADER, SIGNATURE_HEADER, "Content-Type", "Authorization", "Accept",
         "X-Forwarded-For", "Transfer-Encoding", "Content-Encoding", "X-Tyst-Junk"]
    ),
    st.one_of(
        st.sampled_from(
            ["application/json", "application/octet-stream", "text/plain", "multipart/form-data",
             "gzip", "Bearer x", "Signature keyId=fk", "fk", "node-a", "AAAA", "chunked", ""]
        ),
        st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
    ),
    max_size=3,
)  # fmt: skip


MODES = ["signed"] * 4 + ["schema"] * 2 + ["other_path", "other_method", "raw_body"]
"""How a request is made, weighted: really signed documents reach the ledger's rules."""


@st.composite
def requests(draw: st.DrawFn) -> Request:
    """A request for a schema operation (or another method, or an unknown path)."""
    # who signs the request itself: nobody a quarter of the time (401 once required)
    as_org = None if draw(st.integers(0, 3)) == 0 else draw(st.sampled_from(sorted(SIGNERS)))
    mode = draw(st.sampled_from(MODES))
    if mode == "other_path":
        segments = draw(st.lists(st.text(min_size=1, max_size=8), max_size=4))
        path = "/" + "/".join(quote(p, safe="") for p in segments)
        method = draw(st.sampled_from(METHODS))
        return Request(method, path, draw(junk_headers), content=draw(junk_bodies), as_org=as_org)
    operations = WRITES if mode == "signed" else OPERATIONS
    template, method, op = draw(st.sampled_from(operations))
    if mode == "other_method":
        method = draw(st.sampled_from(METHODS))
    names = [p[1:-1] for p in template.split("/") if p.startswith("{")]
    path = _fill(template, {name: draw(ids(name)) for name in names})
    headers: dict[str, str] = {}
    for param in op.get("parameters", []):
        if param["in"] == "header" and draw(st.integers(0, 4)):
            headers[param["name"]] = draw(
                st.one_of(st.sampled_from(sorted(SIGNERS)), st.text("AZaz09+/=", max_size=100))
            )
    if draw(st.integers(0, 3)) == 0:
        headers.update(draw(junk_headers))
    body = op.get("requestBody", {}).get("content", {})
    if "application/json" in body and mode in ("signed", "schema"):
        if mode == "signed" and template != "/audit/drafts":
            signed = draw(signed_bodies)
            if draw(st.integers(0, 5)):
                signed = replace(signed, wrap=_wrap(template))
            if draw(st.integers(0, 2)):  # the job the path names
                signed = replace(signed, job=_job_of(path))
            if as_org is not None and draw(st.integers(0, 3)):
                as_org = signed.signer  # the organisation that acts signs its request
            return Request(method, path, headers, signed=signed, as_org=as_org)
        schema = body["application/json"]["schema"]
        return Request(method, path, headers, json_body=draw(from_schema(schema)), as_org=as_org)
    if "application/octet-stream" in body or mode == "raw_body":
        sign_as = draw(st.one_of(st.none(), st.sampled_from(sorted(SIGNERS))))
        content = draw(st.one_of(junk_bodies, st.binary(max_size=64)))
        return Request(
            method, path, headers, content=content, sign_result_as=sign_as, as_org=as_org
        )
    return Request(method, path, headers, as_org=as_org)


REQUESTS = requests()
"""Strategy of coordinator requests (benchmarks/fuzz.py uses it too)."""

# ----------------------------------------------------------------------------- the check


def _event(coordinator: Coordinator, s: Signed, job: str) -> dict[str, Any]:
    client = coordinator.client
    auth = {} if REQUEST_AUTH is None else {"auth": REQUEST_AUTH("fk")}
    head = client.get("/audit/head", **auth)
    n, prev = (0, "0" * 64)
    if head.status_code == 200:
        n, prev = head.json()["n_events"], head.json()["hash"]
    keys = SIGNERS[s.signer]
    event = AuditEvent(
        seq=n + 1,
        time=utc_now(),
        actor=keys.org_id,
        kind=s.kind,
        job=job,
        details=dict(s.details),
        prev_hash=prev,
        hash="",
        signature=b"",
    )
    event = replace(event, hash=event.compute_hash())
    data: dict[str, Any] = sign_event(keys, event).to_dict()
    if s.tamper == "drop":
        data.pop(sorted(data)[len(s.details) % len(data)])
    elif s.tamper == "signature":
        data["signature"] = base64.b64encode(b"\x00" * 64).decode()
    elif s.tamper is not None:
        data[s.tamper] = s.value
    return data


def build_body(coordinator: Coordinator, s: Signed) -> Any:
    job = coordinator.job_id if s.job == "$JOB" else s.job
    event = _event(coordinator, s, job)
    if s.wrap == "plan":
        return {"toml": s.toml, "event": event}
    if s.wrap == "approval":
        approval = approve(SIGNERS[s.signer], helpers.DIGEST).to_dict()
        return {"approval": approval, "event": event}
    if s.wrap == "job":
        return {"event": event}
    return event


def check_request(coordinator: Coordinator, request: Request) -> int:
    """Send ``request``; assert the answer is no 5xx and errors are one-line JSON."""
    path = request.path.replace("$JOB", coordinator.job_id)
    headers = dict(request.headers)
    if request.sign_result_as is not None and request.content is not None:
        parts = path.split("/")  # /jobs/{job_id}/results/{recipient}/{chunk}
        job, recipient, chunk = (
            (parts[2], parts[4], parts[5]) if len(parts) == 6 else (coordinator.job_id, "fk", "0")
        )
        index = int(chunk) if chunk.isascii() and chunk.isdigit() and len(chunk) < 6 else 0
        keys = SIGNERS[request.sign_result_as]
        result_id = hashlib.sha256(keys.org_id.encode()).hexdigest()[:32]
        headers.update(
            sign_result(
                keys,
                unquote(job),
                unquote(recipient),
                request.content,
                result_id=result_id,
                index=index,
                count=index + 1,
            )
        )
    kwargs: dict[str, Any] = {"headers": headers}
    if REQUEST_AUTH is not None:  # the coordinator authenticates requests: sign as as_org
        kwargs["auth"] = None if request.as_org is None else REQUEST_AUTH(request.as_org)
    if request.signed is not None:
        kwargs["json"] = build_body(coordinator, request.signed)
    elif request.json_body is not None:
        kwargs["json"] = request.json_body
    elif request.content is not None:
        kwargs["content"] = request.content
    response = coordinator.client.request(request.method, path, **kwargs)
    status = response.status_code
    assert status < 500, f"{status} {response.text[:300]!r}"
    if request.method == "HEAD":
        return status
    content_type = response.headers.get("content-type", "")
    if status >= 400:
        assert content_type.startswith("application/json"), (status, content_type, response.text)
        body = response.json()
        assert isinstance(body, dict), body
        assert set(body) == {"detail"}, body
        assert isinstance(body["detail"], str), body
        one_line(ValueError(body["detail"]))
    elif content_type.startswith("application/json"):
        response.json()
    return status


@pytest.fixture(scope="module")
def coordinator() -> Iterator[Coordinator]:
    target = Coordinator()
    try:
        yield target
    finally:
        target.close()


@fuzz_settings(1)
@given(request=REQUESTS)
def test_fuzz_coordinator_api_never_fails_with_a_server_error(
    coordinator: Coordinator, request: Request
) -> None:
    check_request(coordinator, request)


def test_the_seed_and_the_schema(coordinator: Coordinator) -> None:
    """The schema lists every route the fuzzing draws from, and the seeding worked
    (or was refused by request authentication, which the fuzzing accepts)."""
    assert len(OPERATIONS) >= 15
    assert coordinator.seeded == "seeded" or "401" in coordinator.seeded, coordinator.seeded
    assert check_request(coordinator, Request("GET", "/health")) in (200, 401)
