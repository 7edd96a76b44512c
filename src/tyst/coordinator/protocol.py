"""What the coordinator, the nodes and the clients must compute the same way.

Pure functions over :mod:`tyst.service` (no FastAPI, no SQLAlchemy), so that
nodes and the owners' and recipients' clients can import this module alone.

Contract
--------
- **Plan ids.** A plan's id is its digest (:meth:`tyst.plan.Plan.digest`, 64
  lowercase hex): content-addressed, so submitting the same plan twice (even
  reformatted) names the same plan.
- **Audit ``job`` field.** Events about a plan as a whole (``plan_submitted``,
  ``plan_approved``, an owner's ``plan_rejected``) carry
  ``job = plan_audit_job(digest) = "plan:" + digest`` and
  ``details["plan_digest"] = digest``. Events about a job carry the job id
  (``job-`` followed by 32 lowercase hex characters, chosen by the coordinator).
- **Job states**: ``created → uploading → running → finished → delivered``, or
  ``failed``; the states and which signed event moves a job from one to the
  next are the one table of :mod:`tyst.coordinator.states`.
- **Redelivered events.** An event may carry ``details[EVENT_ID]`` (:data:`EVENT_ID`,
  32 lowercase hex digits, :func:`new_event_id`): the sender's own name for the
  fact it reports, kept the same each time it sends it again (a node's outbox
  redraws and re-signs the event at every attempt, so neither ``seq`` nor the
  signature can name it). The coordinator records a job event with a given
  actor and event id once; a repeat is acknowledged with the event already in
  the log and appends nothing.
- **Result relay, in chunks.** A node's sealed result for one recipient is a
  sequence of ``count`` chunks (:func:`chunk_count`), each the sealing of at
  most :data:`RESULT_CHUNK_BYTES` of the result's bytes, so every request and
  every stored row is bounded whatever the result's size. Each chunk is posted
  on its own with :data:`SENDER_HEADER` (the node), :data:`RESULT_HEADER` (the
  node's fresh id for this sealed result, 32 lowercase hex), :data:`COUNT_HEADER`
  (``count``) and :data:`SIGNATURE_HEADER` (base64 Ed25519 signature under
  context :data:`RESULT_CONTEXT` of :func:`result_statement`, which covers the
  job, the recipient, the sender, the result id, the chunk's index, ``count``
  and the SHA-256 of the chunk). The coordinator verifies and keeps each
  signature; the recipient re-verifies every chunk with :func:`verify_result`
  before opening it (sealing alone is anonymous), so a chunk the coordinator
  drops, repeats, reorders, truncates, takes from another result or alters is
  refused: the recipient requires every index ``0 … count-1`` exactly once,
  each signed for its own place, all of one result id.
- **Signed requests.** Every request to the coordinator except ``GET /health``
  carries the headers of :func:`sign_request`: :data:`ORG_HEADER` (the
  organisation), :data:`TIME_HEADER` (:func:`~tyst.service.signing.format_utc`),
  :data:`NONCE_HEADER` (32 random hex digits), :data:`BODY_HASH_HEADER` (the
  SHA-256 of the body, hex) and :data:`REQUEST_SIGNATURE_HEADER` (base64
  Ed25519 signature under context :data:`REQUEST_CONTEXT` of
  :func:`request_statement`, which covers the organisation, the method, the
  path with its query exactly as sent, the time, the nonce and the body hash).
  The coordinator refuses (401) a request without them, by an unregistered
  organisation, with a time more than :data:`REQUEST_WINDOW` seconds from its
  clock, a signature that does not verify, a statement it saw before (replay)
  or a body whose hash differs (see :mod:`tyst.coordinator.auth`).

Errors: :class:`tyst.service.signing.SignatureInvalid` from :func:`verify_result`;
:class:`ValueError` for malformed ids or digests.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import re
import secrets

from tyst.service.keys import OrgKeys, Registry, UnknownOrganisation, canonical_json, encode_b64
from tyst.service.sealing import OVERHEAD as SEAL_OVERHEAD
from tyst.service.signing import SignatureInvalid, format_utc, sign, verify

PLAN_JOB_PREFIX = "plan:"
"""Prefix of the audit ``job`` field of plan-level events."""

NODE_EVENT_KINDS: frozenset[str] = frozenset(
    {
        "upload_received",
        "run_started",
        "run_finished",
        "run_failed",
        "result_delivered",
        "shares_deleted",
    }
)
"""Job events only a compute node may sign."""

JOB_EVENT_KINDS: frozenset[str] = NODE_EVENT_KINDS | {
    "plan_rejected",
    "result_received",
    "job_cancelled",
}
"""Every audit event kind accepted by ``PUT /jobs/{id}/events``."""

EVENT_ID = "event_id"
"""Detail key of a sender-chosen event id (see the module docstring: redelivery)."""

NODE_COUNT = 3
"""Compute nodes per deployment (three-party replicated secret sharing)."""

RESULT_CONTEXT = "result-relay"
"""Signature context of a relayed result chunk (see :func:`result_statement`)."""

RESULT_FORMAT = "tyst-result-relay/2"
"""The ``format`` member of the signed result-relay statement (one chunk of a result)."""

RESULT_CHUNK_BYTES = 8 << 20
"""Bytes of a node's result (plaintext) sealed into one chunk at most (8 MiB)."""

MAX_SEALED_CHUNK = RESULT_CHUNK_BYTES + SEAL_OVERHEAD
"""The largest chunk the coordinator accepts in one request and stores in one row: one
sealed :data:`RESULT_CHUNK_BYTES` (the per-request limit of a result post)."""

DEFAULT_MAX_RESULT_BYTES = 8 << 30
"""The most bytes of sealed chunks one node relays to one recipient in a job unless the
coordinator's ``max_result_bytes`` says otherwise (8 GiB)."""

SENDER_HEADER = "X-Tyst-Sender"
"""HTTP header naming the organisation that posts a result chunk."""

SIGNATURE_HEADER = "X-Tyst-Signature"
"""HTTP header carrying the base64 signature of a result chunk (see :func:`sign_result`)."""

RESULT_HEADER = "X-Tyst-Result"
"""HTTP header: the sending node's id of the sealed result a chunk belongs to (32 hex)."""

COUNT_HEADER = "X-Tyst-Chunks"
"""HTTP header: how many chunks the sealed result has (a decimal integer, at least 1)."""

REQUEST_CONTEXT = "coordinator-request"
"""Signature context of a request to the coordinator (see :func:`request_statement`)."""

REQUEST_FORMAT = "tyst-coordinator-request/1"
"""The ``format`` member of the signed request statement."""

ORG_HEADER = "X-Tyst-Org"
"""HTTP header naming the organisation that signs a request to the coordinator."""

TIME_HEADER = "X-Tyst-Time"
"""HTTP header: when the request was signed (``YYYY-MM-DDTHH:MM:SS.ffffffZ``, UTC)."""

NONCE_HEADER = "X-Tyst-Nonce"
"""HTTP header: 32 random lowercase hex digits, so that no two requests sign the same statement."""

BODY_HASH_HEADER = "X-Tyst-Content-SHA256"
"""HTTP header: the SHA-256 (lowercase hex) of the request body (of no bytes if it has none)."""

REQUEST_SIGNATURE_HEADER = "X-Tyst-Request-Signature"
"""HTTP header: base64 signature of :func:`request_statement` under :data:`REQUEST_CONTEXT`."""

REQUEST_HEADERS: tuple[str, ...] = (
    ORG_HEADER,
    TIME_HEADER,
    NONCE_HEADER,
    BODY_HASH_HEADER,
    REQUEST_SIGNATURE_HEADER,
)
"""Every header of a signed request."""

REQUEST_WINDOW = 300
"""Seconds a signed request's time may differ from the coordinator's clock (either way)."""

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

_DIGEST = re.compile(r"[0-9a-f]{64}", re.ASCII)
_NONCE = re.compile(r"[0-9a-f]{32}", re.ASCII)
_JOB_ID = re.compile(r"job-[0-9a-f]{32}", re.ASCII)


def check_digest(digest: object) -> str:
    """Return ``digest`` if it is 64 lowercase hex characters, else raise :class:`ValueError`."""
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise ValueError(f"{digest!r} is not a plan digest (64 lowercase hex characters)")
    return digest


def new_event_id() -> str:
    """A fresh event id for :data:`EVENT_ID` (32 random lowercase hex digits)."""
    return secrets.token_hex(16)


def is_event_id(value: object) -> bool:
    """Whether ``value`` has the form of an event id (32 lowercase hex digits)."""
    return isinstance(value, str) and _NONCE.fullmatch(value) is not None


def is_job_id(job_id: object) -> bool:
    """Whether ``job_id`` has the form of a coordinator job id (``job-`` + 32 hex)."""
    return isinstance(job_id, str) and _JOB_ID.fullmatch(job_id) is not None


def plan_audit_job(digest: str) -> str:
    """The audit ``job`` field of events about the plan with this digest: ``"plan:" + digest``.

    Errors: :class:`ValueError` for a malformed digest.
    """
    return PLAN_JOB_PREFIX + check_digest(digest)


def new_result_id() -> str:
    """A fresh id for one sealed result (32 random lowercase hex digits)."""
    return secrets.token_hex(16)


def chunk_count(size: int, chunk_bytes: int = RESULT_CHUNK_BYTES) -> int:
    """Chunks a result of ``size`` plaintext bytes is sealed into (at least one)."""
    if size < 0 or not 0 < chunk_bytes <= RESULT_CHUNK_BYTES:
        raise ValueError(f"chunk size must be 1 … {RESULT_CHUNK_BYTES} bytes")
    return max(1, -(-size // chunk_bytes))


def check_chunk(result_id: object, index: object, count: object) -> tuple[str, int, int]:
    """``(result_id, index, count)`` if well formed (an id as :func:`new_result_id` makes,
    ``0 <= index < count``, ``count`` at least 1), else :class:`ValueError` (one line)."""
    if not is_event_id(result_id):
        raise ValueError("a result id is 32 lowercase hex digits")
    if (
        not isinstance(index, int)
        or not isinstance(count, int)
        or isinstance(index, bool)
        or isinstance(count, bool)
        or not 0 <= index < count
    ):
        raise ValueError(f"chunk {index!r} of {count!r}: need 0 <= index < count")
    assert isinstance(result_id, str)
    return result_id, index, count


def result_statement(
    job_id: str,
    recipient: str,
    sender: str,
    result_id: str,
    index: int,
    count: int,
    chunk_sha256: str,
) -> bytes:
    """The message a node signs (context :data:`RESULT_CONTEXT`) for one result chunk.

    Output: canonical JSON of ``{"chunk", "chunks", "format", "job", "recipient",
    "result", "sender", "sha256"}``: chunk ``index`` of ``count`` of the sealed result
    ``result_id``.
    Errors: :class:`ValueError` for a malformed hash, id, index or count.
    """
    if not isinstance(chunk_sha256, str) or not _DIGEST.fullmatch(chunk_sha256):
        raise ValueError("chunk_sha256 must be 64 lowercase hex characters")
    check_chunk(result_id, index, count)
    return canonical_json(
        {
            "chunk": index,
            "chunks": count,
            "format": RESULT_FORMAT,
            "job": job_id,
            "recipient": recipient,
            "result": result_id,
            "sender": sender,
            "sha256": chunk_sha256,
        }
    )


def sign_result(
    keys: OrgKeys,
    job_id: str,
    recipient: str,
    chunk: bytes,
    *,
    result_id: str,
    index: int,
    count: int,
) -> dict[str, str]:
    """The HTTP headers a node sends with ``POST /jobs/{job_id}/results/{recipient}/{index}``.

    Output: :data:`SENDER_HEADER`, :data:`RESULT_HEADER`, :data:`COUNT_HEADER` and
    :data:`SIGNATURE_HEADER` (base64 signature of :func:`result_statement`).
    Security: sign only a chunk you sealed yourself for ``recipient``.
    """
    sha = hashlib.sha256(chunk).hexdigest()
    statement = result_statement(job_id, recipient, keys.org_id, result_id, index, count, sha)
    return {
        SENDER_HEADER: keys.org_id,
        RESULT_HEADER: result_id,
        COUNT_HEADER: str(count),
        SIGNATURE_HEADER: encode_b64(sign(keys, statement, RESULT_CONTEXT)),
    }


def check_nonce(nonce: object) -> str:
    """Return ``nonce`` if it is 32 lowercase hex characters, else raise :class:`ValueError`."""
    if not isinstance(nonce, str) or not _NONCE.fullmatch(nonce):
        raise ValueError("the request nonce must be 32 lowercase hex characters")
    return nonce


def request_statement(
    org: str, method: str, target: str, time: str, nonce: str, body_sha256: str
) -> bytes:
    """The message an organisation signs (context :data:`REQUEST_CONTEXT`) for one request.

    Inputs: ``method`` (upper case), ``target`` — the request's path and query
    exactly as sent on the wire (``/jobs/job-…?x=1``), ``time``, ``nonce`` and
    the body's SHA-256 (lowercase hex).
    Output: canonical JSON of ``{"body_sha256", "format", "method", "nonce", "org",
    "target", "time"}``.
    Errors: :class:`ValueError` for a malformed nonce or hash.
    """
    check_nonce(nonce)
    if not isinstance(body_sha256, str) or not _DIGEST.fullmatch(body_sha256):
        raise ValueError("the body hash must be 64 lowercase hex characters")
    return canonical_json(
        {
            "body_sha256": body_sha256,
            "format": REQUEST_FORMAT,
            "method": method.upper(),
            "nonce": nonce,
            "org": org,
            "target": target,
            "time": time,
        }
    )


def sign_request(
    keys: OrgKeys,
    method: str,
    target: str,
    body: bytes = b"",
    *,
    body_sha256: str | None = None,
    now: _dt.datetime | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The headers that authenticate one request to the coordinator as ``keys.org_id``.

    Inputs: ``target`` — path and query as sent; ``body`` — the exact body bytes
    (or ``body_sha256``, their hash, for a body sent later); ``now`` and
    ``nonce`` — the signing time (default: now) and nonce (default: random).
    Output: the five :data:`REQUEST_HEADERS`.
    Security: a signed request is good once, within :data:`REQUEST_WINDOW`
    seconds of its time; send it at once and never log the headers.
    """
    time = format_utc(now or _dt.datetime.now(_dt.UTC))
    nonce = nonce or secrets.token_hex(16)
    sha = hashlib.sha256(body).hexdigest() if body_sha256 is None else body_sha256
    statement = request_statement(keys.org_id, method, target, time, nonce, sha)
    return {
        ORG_HEADER: keys.org_id,
        TIME_HEADER: time,
        NONCE_HEADER: nonce,
        BODY_HASH_HEADER: sha,
        REQUEST_SIGNATURE_HEADER: encode_b64(sign(keys, statement, REQUEST_CONTEXT)),
    }


def verify_result(
    registry: Registry,
    job_id: str,
    recipient: str,
    sender: str,
    chunk: bytes,
    signature: bytes,
    *,
    result_id: str,
    index: int,
    count: int,
) -> None:
    """Check that ``sender`` signed ``chunk`` as chunk ``index`` of ``count`` of its sealed
    result ``result_id`` for ``recipient`` in ``job_id``.

    Output: ``None`` when valid.
    Errors: :class:`SignatureInvalid` (one line) if the sender is not registered,
    the id, index or count are malformed, or the signature does not verify.
    """
    try:
        public = registry.get(sender)
    except UnknownOrganisation:
        raise SignatureInvalid(
            f"result sender {sender!r} is not a registered organisation"
        ) from None
    sha = hashlib.sha256(chunk).hexdigest()
    try:
        statement = result_statement(job_id, recipient, sender, result_id, index, count, sha)
    except ValueError as exc:
        raise SignatureInvalid(f"result chunk: {exc}") from None
    verify(public, signature, statement, RESULT_CONTEXT)
