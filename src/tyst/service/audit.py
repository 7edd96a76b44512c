"""The append-only, hash-chained, signed audit log.

Contract
--------
The log is a sequence of :class:`AuditEvent` numbered ``seq = 1, 2, 3, …``. Each
event records who (``actor``: an organisation or node id from the registry) did
what (``kind``, one of :data:`EVENT_KINDS`) to which ``job``, when (``time``,
ISO 8601 UTC, see :func:`tyst.service.signing.format_utc`), with a few
``details``. Each event is chained to its predecessor and signed by its actor:

- ``prev_hash`` — the ``hash`` of event ``seq - 1``; for ``seq = 1`` it is
  :data:`GENESIS_HASH` (64 zeros);
- ``hash`` — SHA-256 (lowercase hex) of the
  :func:`~tyst.service.keys.canonical_json` of every other field (``seq``,
  ``time``, ``actor``, ``kind``, ``job``, ``details``, ``prev_hash``), i.e.
  everything except ``hash`` and ``signature``;
- ``signature`` — the actor's Ed25519 signature of the 32 raw hash bytes under
  the signature context ``audit`` (:func:`tyst.service.signing.sign`), so it can
  never be replayed as an approval or anything else.

:func:`verify_chain` checks a sequence of events against the registry and
returns a :class:`VerifyReport` whose ``first_problem`` names the seq of the
first problem found. It detects a modified field (hash mismatch), a removed,
inserted or reordered event (seq out of order or broken ``prev_hash`` link), an
unknown actor or kind, and a signature that does not verify for the named
actor. Removal *at the end* of the log cannot be detected from the log alone:
pass a trusted :class:`Head` (the count and last hash a party saw earlier, e.g.
recorded when it approved or received a result) as ``expected_head``.

**Countersigned heads.** A node or party that has verified the log signs its
head (:func:`sign_head`, context :data:`CONTEXT_AUDIT_HEAD`) and keeps the
:class:`SignedHead` itself (:func:`write_signed_head`); anyone holding the
registry checks it (:func:`verify_signed_head`) and passes its head to
:func:`verify_chain`. **Per-job completeness:** :func:`incomplete_jobs` names
every job whose log lacks the ``shares_deleted`` receipt of a node that took
part in it (of every node, once a run started) — a cut after a node's first
event of a job shows even without a head.

The JSONL file (:meth:`AuditLog.export_jsonl`, :func:`read_jsonl`) has one
event per line as canonical JSON, with ``signature`` in base64.

Event kinds (:data:`EVENT_KINDS`; actor in brackets)
---------------------------------------------------
- ``plan_submitted`` — a plan was submitted to the coordinator; details name its owners and
  recipients [owner or recipient]
- ``plan_approved`` — an owner signed the plan digest [owner]
- ``plan_rejected`` — an owner declined, or a node refused the approvals [owner/node]
- ``plan_withdrawn`` — the submitter withdrew its plan before any job of it ran [submitter]
- ``upload_received`` — a node accepted and stored an owner's shares [node]
- ``run_started`` / ``run_finished`` / ``run_failed`` — a node's run [node]
- ``result_delivered`` — a node sealed its result shares to a recipient [node]
- ``result_received`` — a recipient opened and combined its result [recipient]
- ``shares_deleted`` — a node destroyed a job's shares and keys (deletion receipt) [node]
- ``job_cancelled`` — a job was withdrawn before running [node or party]
- ``job_created`` — a party opened a job of an approved plan [owner or recipient]

Who may sign which kind is one table, :data:`tyst.service.roles.EVENT_ROLES`,
enforced by the coordinator and re-checked over a whole log by
:func:`role_problem` (``tyst audit verify``): the plans' owners and recipients
come from their ``plan_submitted`` events, each job's plan from its
``job_created`` event, the nodes from the verifier (``--node``) or, failing
that, from the log (the signers of node-only kinds that are no plan's party).

Security notes
--------------
- ``details`` is a flat mapping of at most :data:`MAX_DETAILS` identifiers to
  ``str`` (≤ :data:`MAX_DETAIL_CHARS` characters) or JSON-safe ``int``: row
  counts, byte counts, table names, digests of *ciphertext*, error messages.
  Never input values, shares, keys, results or hashes of low-entropy data (a
  hash of a personal identity number can be brute-forced).
- The log gives integrity and attribution, not completeness against its keeper:
  a keeper can withhold the tail, which only a trusted :class:`Head` reveals.
- The chain starts at :data:`GENESIS_HASH` and carries no deployment id; the
  registry (which differs per deployment) is what ties a log to a deployment.

Errors
------
:class:`AuditError` (an event that may not be appended) and
:class:`AuditFormatError` (a line or document that is not an event; names the
file and line). Verification itself never raises for a bad log; it reports.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tyst.service import roles
from tyst.service.keys import (
    OrgKeys,
    Registry,
    UnknownOrganisation,
    canonical_json,
    check_org_id,
    decode_b64,
    encode_b64,
)
from tyst.service.signing import (
    CONTEXT_AUDIT,
    SIGNATURE_SIZE,
    SignatureInvalid,
    format_utc,
    parse_utc,
    sign,
    utc_now,
    verify,
)

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of the first event."""

EVENT_KINDS: frozenset[str] = frozenset(
    {
        "plan_submitted",
        "plan_approved",
        "plan_rejected",
        "plan_withdrawn",
        "upload_received",
        "run_started",
        "run_finished",
        "run_failed",
        "result_delivered",
        "result_received",
        "shares_deleted",
        "job_cancelled",
        "job_created",
    }
)
"""The event kinds a log may contain (documented in the module docstring)."""

MAX_DETAILS = 32
MAX_DETAIL_CHARS = 1000
MAX_JSON_INT = 2**53 - 1
"""Integers in ``details`` stay within ±(2**53 - 1), exact in every JSON parser."""

_JOB = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}", re.ASCII)
_DETAIL_KEY = re.compile(r"[a-z_][a-z0-9_]{0,63}", re.ASCII)
_HASH = re.compile(r"[0-9a-f]{64}", re.ASCII)

_FIELDS = ("seq", "time", "actor", "kind", "job", "details", "prev_hash", "hash", "signature")

DetailValue = str | int


class AuditError(Exception):
    """An event that cannot be appended to the log; ``str()`` is one line."""


class AuditFormatError(ValueError):
    """A JSONL line or document that is not a well-formed audit event; one line."""


# ---------------------------------------------------------------------------
# Events


def check_details(details: Mapping[str, object]) -> dict[str, DetailValue]:
    """Validate ``details`` (see the module's security notes) and return a plain copy.

    Errors: :class:`ValueError` (one line) for too many entries, a key that is
    not a lowercase identifier, a value that is neither ``str`` nor ``int``
    (``bool``, floats, bytes, lists and dicts are refused), an over-long string
    or an integer outside ±(2**53 - 1).
    """
    if not isinstance(details, Mapping):
        raise ValueError("details must be a mapping")
    if len(details) > MAX_DETAILS:
        raise ValueError(f"details: at most {MAX_DETAILS} entries")
    out: dict[str, DetailValue] = {}
    for key, value in details.items():
        if not isinstance(key, str) or not _DETAIL_KEY.fullmatch(key):
            raise ValueError(f"details: key {key!r} is not a lowercase identifier")
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ValueError(f"details: {key} must be a str or an int")
        if isinstance(value, str) and len(value) > MAX_DETAIL_CHARS:
            raise ValueError(f"details: {key} is longer than {MAX_DETAIL_CHARS} characters")
        if isinstance(value, int) and abs(value) > MAX_JSON_INT:
            raise ValueError(f"details: {key} is outside ±(2**53 - 1)")
        out[key] = value
    return out


def _check_job(job: object) -> str:
    if not isinstance(job, str) or not _JOB.fullmatch(job):
        raise ValueError(
            f"invalid job id {job!r}: expected 1-128 characters of [A-Za-z0-9_.:-] "
            "starting with a letter, digit or underscore"
        )
    return job


@dataclass(frozen=True)
class AuditEvent:
    """One audit event (see the module docstring for every field's meaning).

    ``signature`` is empty (``b""``) only for a draft from :meth:`AuditLog.draft`
    that has not been signed yet. Construction checks types only; what a valid
    event is, is decided by :func:`verify_chain`.
    """

    seq: int
    time: str
    actor: str
    kind: str
    job: str
    details: dict[str, DetailValue]
    prev_hash: str
    hash: str
    signature: bytes = field(repr=False)

    def body(self) -> dict[str, Any]:
        """The fields covered by ``hash``: all except ``hash`` and ``signature``."""
        return {
            "seq": self.seq,
            "time": self.time,
            "actor": self.actor,
            "kind": self.kind,
            "job": self.job,
            "details": dict(self.details),
            "prev_hash": self.prev_hash,
        }

    def compute_hash(self) -> str:
        """SHA-256 (hex) of :func:`canonical_json` of :meth:`body`: what ``hash`` must be.

        Errors: :class:`TypeError` / :class:`ValueError` if a field holds a value
        that has no canonical JSON form.
        """
        return hashlib.sha256(canonical_json(self.body())).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form: :meth:`body` plus ``hash`` and ``signature`` (base64)."""
        return {**self.body(), "hash": self.hash, "signature": encode_b64(self.signature)}

    def to_json_line(self) -> str:
        """:meth:`to_dict` as one line of canonical JSON (no trailing newline)."""
        return canonical_json(self.to_dict()).decode("utf-8")

    @classmethod
    def from_dict(cls, data: object) -> AuditEvent:
        """Inverse of :meth:`to_dict`; checks member names and JSON types only.

        Errors: :class:`AuditFormatError` (one line) for missing or extra
        members, wrong types or a signature that is not base64.
        """
        if not isinstance(data, dict):
            raise AuditFormatError("an audit event must be a JSON object")
        if set(data) != set(_FIELDS):
            missing = sorted(set(_FIELDS) - set(data))
            extra = sorted(set(data) - set(_FIELDS))
            raise AuditFormatError(f"audit event: missing members {missing}, unexpected {extra}")
        seq = data["seq"]
        if isinstance(seq, bool) or not isinstance(seq, int):
            raise AuditFormatError("audit event: seq must be an integer")
        for name in ("time", "actor", "kind", "job", "prev_hash", "hash", "signature"):
            if not isinstance(data[name], str):
                raise AuditFormatError(f"audit event seq {seq}: {name} must be a string")
        details = data["details"]
        if not isinstance(details, dict) or not all(
            isinstance(v, (str, int)) and not isinstance(v, bool) for v in details.values()
        ):
            raise AuditFormatError(
                f"audit event seq {seq}: details must be an object of strings and integers"
            )
        try:
            signature = decode_b64(data["signature"], what="signature")
        except ValueError as exc:
            raise AuditFormatError(f"audit event seq {seq}: {exc}") from exc
        return cls(
            seq=seq,
            time=data["time"],
            actor=data["actor"],
            kind=data["kind"],
            job=data["job"],
            details=dict(details),
            prev_hash=data["prev_hash"],
            hash=data["hash"],
            signature=signature,
        )


def sign_event(keys: OrgKeys, event: AuditEvent) -> AuditEvent:
    """Return ``event`` signed by ``keys`` (whose ``org_id`` must be the event's actor).

    Use with :meth:`AuditLog.draft` when the actor (a node) and the log's keeper
    (the coordinator) are different processes: the keeper drafts, the actor
    checks the draft's contents, recomputes its hash and signs it.
    Errors: :class:`AuditError` if the actor differs from ``keys.org_id`` or
    ``event.hash`` is not the hash of its contents.
    Security: the actor should inspect the draft (kind, job, details) before
    signing — the signature attributes those contents to it.
    """
    if event.actor != keys.org_id:
        raise AuditError(
            f"seq {event.seq}: event actor {event.actor!r} cannot be signed by {keys.org_id!r}"
        )
    if event.compute_hash() != event.hash:
        raise AuditError(f"seq {event.seq}: hash does not match the event's contents")
    return replace(event, signature=sign(keys, bytes.fromhex(event.hash), CONTEXT_AUDIT))


# ---------------------------------------------------------------------------
# The log


@dataclass(frozen=True)
class Head:
    """A log's head: how many events it has and the ``hash`` of the last one.

    A party that records the head it saw (e.g. after its approval was logged)
    can later pass it to :func:`verify_chain` to detect a truncated log.
    """

    n_events: int
    hash: str


class AuditLog:
    """An in-memory audit log that only grows; persist it with :meth:`export_jsonl`.

    ``AuditLog(events)`` continues an existing log: the events' numbering,
    links and hashes are checked (signatures are not — that needs the
    registry; use :func:`verify_chain`).
    Errors: :class:`AuditError` if the given events do not form a chain.
    """

    def __init__(self, events: Iterable[AuditEvent] = ()) -> None:
        self._events: list[AuditEvent] = []
        for event in events:
            self._check_next(event)
            self._events.append(event)

    @property
    def events(self) -> tuple[AuditEvent, ...]:
        """The events, in order (an immutable snapshot)."""
        return tuple(self._events)

    def __len__(self) -> int:
        return len(self._events)

    def head(self) -> Head:
        """The current :class:`Head` (``Head(0, GENESIS_HASH)`` for an empty log)."""
        last = self._events[-1].hash if self._events else GENESIS_HASH
        return Head(n_events=len(self._events), hash=last)

    def draft(
        self,
        actor: str,
        kind: str,
        job: str,
        details: Mapping[str, object],
        *,
        time: _dt.datetime | None = None,
    ) -> AuditEvent:
        """The next event, hashed but unsigned (``signature == b""``); see :func:`sign_event`.

        Inputs: ``time`` — when it happened (default: now).
        Errors: :class:`ValueError` for an invalid actor, kind, job or details.
        """
        check_org_id(actor)
        if kind not in EVENT_KINDS:
            raise ValueError(f"unknown audit event kind {kind!r}")
        _check_job(job)
        event = AuditEvent(
            seq=len(self._events) + 1,
            time=utc_now() if time is None else format_utc(time),
            actor=actor,
            kind=kind,
            job=job,
            details=check_details(details),
            prev_hash=self.head().hash,
            hash="",
            signature=b"",
        )
        return replace(event, hash=event.compute_hash())

    def append_signed(self, event: AuditEvent, registry: Registry | None = None) -> AuditEvent:
        """Append an event drafted by :meth:`draft` and signed by :func:`sign_event`.

        Inputs: ``registry`` — if given, the actor must be registered and the
        signature must verify (a keeper should always pass it).
        Output: ``event``.
        Errors: :class:`AuditError` if the event is not the next one in the chain
        (another event was appended since the draft: draft again), is unsigned,
        or its signature does not verify.
        """
        self._check_next(event)
        if len(event.signature) != SIGNATURE_SIZE:
            raise AuditError(f"seq {event.seq}: the event is not signed")
        if registry is not None:
            try:
                verify(
                    registry.get(event.actor),
                    event.signature,
                    bytes.fromhex(event.hash),
                    CONTEXT_AUDIT,
                )
            except (UnknownOrganisation, SignatureInvalid) as exc:
                raise AuditError(f"seq {event.seq}: {exc}") from exc
        self._events.append(event)
        return event

    def append(
        self,
        signer_keys: OrgKeys,
        kind: str,
        job: str,
        details: Mapping[str, object],
        *,
        time: _dt.datetime | None = None,
    ) -> AuditEvent:
        """Append an event by ``signer_keys.org_id``, signed with its key; return it.

        Inputs: ``kind`` in :data:`EVENT_KINDS`; ``job`` id; ``details`` (see
        :func:`check_details`); ``time`` (default: now).
        Errors: :class:`ValueError` for invalid inputs.
        """
        draft = self.draft(signer_keys.org_id, kind, job, details, time=time)
        return self.append_signed(sign_event(signer_keys, draft))

    def _check_next(self, event: AuditEvent) -> None:
        problem = _link_problem(event, len(self._events) + 1, self.head().hash)
        if problem is None:
            problem = _content_problem(event)
        if problem is not None:
            raise AuditError(problem)

    def export_jsonl(self, path: str | os.PathLike[str]) -> Path:
        """Write the log to ``path`` as JSONL (atomically: a temporary file, then rename).

        Output: the path written. Errors: :class:`OSError` from the file system.
        """
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", dir=p.parent)
        try:
            os.fchmod(fd, 0o644)
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
                for event in self._events:
                    f.write(event.to_json_line() + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, p)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return p


def read_jsonl(path: str | os.PathLike[str]) -> list[AuditEvent]:
    """Read the events of a JSONL audit file, in file order, without verifying them.

    Blank lines are not allowed (a line per event, nothing else).
    Errors: :class:`AuditFormatError` naming ``file:line`` for a line that is not
    a well-formed event; :class:`OSError` if the file cannot be read.
    """
    p = Path(path)
    lines = p.read_bytes().split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    events: list[AuditEvent] = []
    for lineno, line in enumerate(lines, start=1):
        try:
            events.append(AuditEvent.from_dict(json.loads(line.decode("utf-8"))))
        except ValueError as exc:  # includes UnicodeDecodeError, JSONDecodeError, AuditFormatError
            raise AuditFormatError(f"{p}:{lineno}: {_first_line(exc)}") from exc
    return events


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


# ---------------------------------------------------------------------------
# Verification


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of :func:`verify_chain`.

    ``ok`` — no problem found; ``n_events`` — how many events were given;
    ``first_problem`` — one line naming the seq of the first problem, or ``None``.
    """

    ok: bool
    n_events: int
    first_problem: str | None


def _link_problem(event: AuditEvent, expected_seq: int, prev_hash: str) -> str | None:
    if event.seq != expected_seq:
        return (
            f"seq {event.seq}: found where seq {expected_seq} belongs "
            "(events removed, inserted or reordered)"
        )
    if event.prev_hash != prev_hash:
        before = f"seq {expected_seq - 1}" if expected_seq > 1 else "the genesis value"
        return (
            f"seq {event.seq}: prev_hash does not match the hash of {before} "
            "(an event was modified, removed or inserted)"
        )
    return None


def _content_problem(event: AuditEvent) -> str | None:
    s = event.seq
    try:
        parse_utc(event.time)
        check_org_id(event.actor)
        _check_job(event.job)
        check_details(event.details)
    except ValueError as exc:
        return f"seq {s}: {exc}"
    if event.kind not in EVENT_KINDS:
        return f"seq {s}: unknown event kind {event.kind!r}"
    if not _HASH.fullmatch(event.hash):
        return f"seq {s}: hash is not 64 lowercase hex characters"
    try:
        computed = event.compute_hash()
    except (TypeError, ValueError):
        return f"seq {s}: the event has no canonical form"
    if computed != event.hash:
        return f"seq {s}: contents do not match the recorded hash (the event was modified)"
    return None


def verify_chain(
    events: Sequence[AuditEvent],
    registry: Registry,
    *,
    expected_head: Head | None = None,
) -> VerifyReport:
    """Check an audit log: numbering, links, hashes, actors, kinds and signatures.

    Inputs: ``events`` in log order (e.g. from :func:`read_jsonl`); ``registry``
    — the deployment's registry; ``expected_head`` — a trusted earlier
    :class:`Head`: the log must contain it (event ``n_events`` has that hash;
    the log may have grown since). ``Head(0, GENESIS_HASH)`` is trivially met.
    Output: a :class:`VerifyReport`; ``first_problem`` names the seq where the
    chain first goes wrong (for a modified event whose hash was recomputed,
    that is the event *after* it, whose ``prev_hash`` no longer matches — or
    the event itself if its signature was not remade by its actor).
    Errors: none for a bad log — it is reported, never raised.
    Security: an empty log is "ok" unless ``expected_head`` says otherwise;
    always pass a trusted head when one is known.
    """
    problem: str | None = None
    prev_hash = GENESIS_HASH
    for position, event in enumerate(events, start=1):
        problem = _link_problem(event, position, prev_hash) or _content_problem(event)
        if problem is None:
            try:
                public = registry.get(event.actor)
            except UnknownOrganisation:
                problem = f"seq {event.seq}: actor {event.actor!r} is not in the registry"
            else:
                try:
                    verify(public, event.signature, bytes.fromhex(event.hash), CONTEXT_AUDIT)
                except SignatureInvalid:
                    problem = (
                        f"seq {event.seq}: the signature does not verify for actor {event.actor!r}"
                    )
        if problem is not None:
            break
        prev_hash = event.hash
    if problem is None and expected_head is not None:
        problem = _head_problem(events, expected_head)
    return VerifyReport(ok=problem is None, n_events=len(events), first_problem=problem)


def _head_problem(events: Sequence[AuditEvent], head: Head) -> str | None:
    if head.n_events == 0:
        return None if head.hash == GENESIS_HASH else "the trusted head is malformed"
    if len(events) < head.n_events:
        last = f"seq {len(events)}" if events else "no events"
        return (
            f"seq {head.n_events}: missing — the log ends at {last}, but the trusted head "
            f"is seq {head.n_events} (events removed from the end)"
        )
    if events[head.n_events - 1].hash != head.hash:
        return (
            f"seq {head.n_events}: hash differs from the trusted head (the log was rewritten since)"
        )
    return None


# ---------------------------------------------------------------------------
# Countersigned heads and per-job completeness

CONTEXT_AUDIT_HEAD = "audit-head"
"""Signature context of a :class:`SignedHead` (never valid as an event or approval)."""

HEAD_FORMAT = "tyst-audit-head/1"
"""The ``format`` member of a signed head statement and file."""

NODE_KINDS: frozenset[str] = frozenset(
    {"upload_received", "run_started", "run_finished", "result_delivered", "shares_deleted"}
)
"""Event kinds only a compute node signs; their actors are the log's nodes."""


@dataclass(frozen=True)
class SignedHead:
    """A head of the log as ``org`` saw it at ``time``, countersigned by ``org``.

    Each node and party keeps the heads it signed (files it controls, not the
    coordinator's): a later log that does not contain one was cut off or
    rewritten (``tyst audit verify --head FILE``).
    """

    org: str
    n_events: int
    hash: str
    time: str
    signature: bytes

    @property
    def head(self) -> Head:
        return Head(self.n_events, self.hash)

    def statement(self) -> bytes:
        """What ``org`` signs (context :data:`CONTEXT_AUDIT_HEAD`)."""
        return canonical_json(
            {
                "format": HEAD_FORMAT,
                "org": self.org,
                "n_events": self.n_events,
                "hash": self.hash,
                "time": self.time,
            }
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": HEAD_FORMAT,
            "org": self.org,
            "n_events": self.n_events,
            "hash": self.hash,
            "time": self.time,
            "signature": encode_b64(self.signature),
        }

    @classmethod
    def from_dict(cls, data: object) -> SignedHead:
        """Parse :meth:`to_dict` output. Errors: :class:`AuditFormatError` (one line)."""
        if not isinstance(data, dict) or set(data) != {
            "format",
            "org",
            "n_events",
            "hash",
            "time",
            "signature",
        }:
            raise AuditFormatError(
                "not a signed head: expected format, org, n_events, hash, time, signature"
            )
        if data["format"] != HEAD_FORMAT:
            raise AuditFormatError(f"a signed head's format must be {HEAD_FORMAT!r}")
        n = data["n_events"]
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_JSON_INT:
            raise AuditFormatError("a signed head's n_events must be a non-negative integer")
        if not isinstance(data["hash"], str) or not _HASH.fullmatch(data["hash"]):
            raise AuditFormatError("a signed head's hash must be 64 lowercase hex characters")
        try:
            org = check_org_id(data["org"])
            parse_utc(data["time"])
            signature = decode_b64(data["signature"], what="the head signature")
        except ValueError as exc:
            raise AuditFormatError(f"signed head: {exc}") from None
        return cls(org, n, data["hash"], data["time"], signature)


def sign_head(keys: OrgKeys, head: Head, time: str | None = None) -> SignedHead:
    """``keys``' countersignature of ``head`` (the head it saw, at ``time``; default now)."""
    unsigned = SignedHead(keys.org_id, head.n_events, head.hash, time or utc_now(), b"")
    return replace(unsigned, signature=sign(keys, unsigned.statement(), CONTEXT_AUDIT_HEAD))


def verify_signed_head(registry: Registry, signed: SignedHead) -> Head:
    """The :class:`Head` of ``signed`` if its signer is registered and the signature verifies.

    Errors: :class:`SignatureInvalid` (one line).
    """
    try:
        public = registry.get(signed.org)
    except UnknownOrganisation:
        raise SignatureInvalid(f"head signer {signed.org!r} is not in the registry") from None
    verify(public, signed.signature, signed.statement(), CONTEXT_AUDIT_HEAD)
    return signed.head


def write_signed_head(path: str | os.PathLike[str], signed: SignedHead) -> Path:
    """Write ``signed`` as one canonical JSON document (mode 0600)."""
    p = Path(path)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(canonical_json(signed.to_dict()) + b"\n")
    return p


def read_signed_head(path: str | os.PathLike[str]) -> SignedHead:
    """Read a file written by :func:`write_signed_head`.

    Errors: :class:`AuditFormatError` naming the file; :class:`OSError`.
    """
    p = Path(path)
    data = p.read_bytes()
    if len(data) > 4096:
        raise AuditFormatError(f"{p}: not a signed head (too large)")
    try:
        return SignedHead.from_dict(json.loads(data.decode("utf-8")))
    except ValueError as exc:
        raise AuditFormatError(f"{p}: {_first_line(exc)}") from None


def incomplete_jobs(events: Sequence[AuditEvent], nodes: Iterable[str] | None = None) -> list[str]:
    """One line per job whose log lacks a deletion receipt it must have.

    ``nodes``: the deployment's compute nodes (default: every actor of a
    :data:`NODE_KINDS` event in the log). A node must have signed
    ``shares_deleted`` for every job in which it signed anything; once any node
    signed ``run_started``, every node must have. A log cut after a node's
    first event of a job is reported here; a log cut before it only by a
    trusted head.
    """
    node_set = (
        set(nodes) if nodes is not None else {e.actor for e in events if e.kind in NODE_KINDS}
    )
    involved: dict[str, set[str]] = {}
    ran: set[str] = set()
    deleted: dict[str, set[str]] = {}
    for e in events:
        if e.job.startswith("plan:") or e.actor not in node_set:
            continue
        involved.setdefault(e.job, set()).add(e.actor)
        if e.kind == "run_started":
            ran.add(e.job)
        if e.kind == "shares_deleted":
            deleted.setdefault(e.job, set()).add(e.actor)
    problems = []
    for job, actors in involved.items():
        expected = node_set if job in ran else actors
        missing = sorted(expected - deleted.get(job, set()))
        if missing:
            problems.append(
                f"job {job}: no deletion receipt (shares_deleted) from {', '.join(missing)}"
            )
    return problems


def _plans(events: Sequence[AuditEvent]) -> dict[str, tuple[frozenset[str], frozenset[str]] | None]:
    """Each plan's ``(owners, recipients)`` from its first ``plan_submitted`` event
    (``None`` if that event does not name them), by the plan's audit job."""
    plans: dict[str, tuple[frozenset[str], frozenset[str]] | None] = {}
    for e in events:
        if e.kind == "plan_submitted" and e.job.startswith("plan:") and e.job not in plans:
            plans[e.job] = roles.plan_parties(e.details)
    return plans


def log_nodes(events: Sequence[AuditEvent]) -> frozenset[str]:
    """The compute nodes as the log shows them: the signers of node-only kinds
    (:data:`tyst.service.roles.NODE_ONLY_KINDS`) that are no owner or recipient of a
    plan in the log. Pass the deployment's nodes instead wherever they are known."""
    everyone = {
        org for parties in _plans(events).values() if parties for org in parties[0] | parties[1]
    }
    return frozenset(
        e.actor for e in events if e.kind in roles.NODE_ONLY_KINDS and e.actor not in everyone
    )


def role_problem(events: Sequence[AuditEvent], nodes: Iterable[str] | None = None) -> str | None:
    """One line naming the first event signed by an organisation the rules do not allow
    (:data:`tyst.service.roles.EVENT_ROLES`), or ``None``.

    Inputs: ``events`` — a log whose chain and signatures verified
    (:func:`verify_chain`); ``nodes`` — the deployment's compute nodes (default:
    the signers of node-only kinds that are no owner or recipient of any plan in
    the log; more than :data:`~tyst.service.roles.NODE_COUNT` of them is a
    problem). Each plan's owners and recipients are those its ``plan_submitted``
    event names; each job belongs to the plan of its ``job_created`` event. A
    plan or job event before its plan's submission or its job's creation, or an
    ``upload_received`` naming an owner who owns no table of the plan, is a
    problem too. A ``plan_withdrawn`` must be signed by the plan's submitter (the
    actor of its ``plan_submitted``) before any job of the plan ran; after a
    plan's :data:`~tyst.service.roles.PLAN_CLOSING_KINDS` event no job of it may
    be created and no run of it start.
    """
    plans: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
    submitters: dict[str, str] = {}
    for e in events:
        if e.kind == "plan_submitted" and e.job.startswith("plan:") and e.job not in plans:
            parties = roles.plan_parties(e.details)
            if parties is None:
                return (
                    f"seq {e.seq}: plan_submitted does not name the plan's owners and "
                    "recipients (details owners, recipients)"
                )
            plans[e.job] = parties
            submitters[e.job] = e.actor
    node_set = frozenset(nodes) if nodes is not None else log_nodes(events)
    if nodes is None and len(node_set) > roles.NODE_COUNT:
        return (
            f"{len(node_set)} organisations sign node events ({', '.join(sorted(node_set))}); "
            f"a deployment has {roles.NODE_COUNT} nodes: pass them with --node"
        )
    jobs: dict[str, str] = {}
    closed: dict[str, str] = {}  # plan → the event that closed it
    ran: dict[str, str] = {}  # plan → its first job that started a run
    for e in events:
        where = f"seq {e.seq}: {e.kind} by {e.actor!r}"
        if e.job.startswith("plan:"):
            plan = e.job
            if plan not in plans:
                return f"{where}: for {plan[:21]}…, which no plan_submitted event opened"
            if e.details.get("plan_digest") != plan.removeprefix("plan:"):
                return f"{where}: details.plan_digest is not the plan's digest"
        elif e.kind == "job_created":
            digest = e.details.get("plan_digest")
            plan = f"plan:{digest}"
            if plan not in plans:
                return f"{where}: for plan {str(digest)[:16]}…, which no plan_submitted opened"
            if e.job in jobs:
                return f"{where}: job {e.job} was already created"
            if plan in closed:
                return f"{where}: a job of a plan closed by {closed[plan]}"
            jobs[e.job] = plan
        else:
            if e.job not in jobs:
                return f"{where}: for job {e.job}, which no job_created event opened"
            plan = jobs[e.job]
            if e.kind == "run_started":
                if plan in closed:
                    return f"{where}: a run of a plan closed by {closed[plan]}"
                ran.setdefault(plan, e.job)
        owners, recipients = plans[plan]
        broken = roles.event_problem(
            e.kind,
            e.actor,
            e.details,
            nodes=node_set,
            owners=owners,
            recipients=recipients,
            submitter=submitters[plan],
        )
        if broken is not None:
            return f"{where} breaks the rule: {broken}"
        if e.job.startswith("plan:") and e.kind in roles.PLAN_CLOSING_KINDS:
            if e.kind == "plan_withdrawn" and plan in ran:
                return f"{where}: job {ran[plan]} of the plan already ran"
            closed.setdefault(plan, f"{e.kind} (seq {e.seq})")
    return None


# ---------------------------------------------------------------------------
# An exported directory (tyst audit export DIR)

EXPORT_LOG = "audit.jsonl"
"""The whole log in an export directory, exactly as the coordinator served it."""

EXPORT_HEADS = "heads"
"""The export directory's countersigned heads (one :func:`write_signed_head` file each)."""

EXPORT_PLAN_PREFIX = "plan-"
"""A plan's events in an export directory: ``plan-<digest>.jsonl`` (:func:`plan_events`)."""


def plan_events(events: Sequence[AuditEvent], digest: str) -> list[AuditEvent]:
    """The events of one plan, in log order: its plan-level events (``plan:<digest>``)
    and every event of the jobs its ``job_created`` events opened. An extract only: its
    events verify one by one (hash, signature) but their chain is the whole log's."""
    plan_job = "plan:" + digest
    jobs = {
        e.job for e in events if e.kind == "job_created" and e.details.get("plan_digest") == digest
    }
    return [e for e in events if e.job == plan_job or e.job in jobs]


@dataclass(frozen=True)
class AuditExport:
    """An export directory read back: the whole log, its countersigned heads and any plan
    extracts (each ``(file, digest, events)``)."""

    events: list[AuditEvent]
    heads: list[tuple[Path, SignedHead]]
    extracts: list[tuple[Path, str, list[AuditEvent]]]

    def extract_problems(self) -> list[str]:
        """One line per plan extract that is not exactly :func:`plan_events` of the log."""
        problems = []
        for path, digest, extract in self.extracts:
            if extract != plan_events(self.events, digest):
                problems.append(
                    f"{path}: not the plan's events in the log (an event added, left out, "
                    "reordered or altered)"
                )
        return problems


def read_export(directory: str | os.PathLike[str]) -> AuditExport:
    """Read a directory written by ``tyst audit export`` (nothing verified yet).

    Errors: :class:`AuditFormatError` naming the file; :class:`OSError` (no
    :data:`EXPORT_LOG`, an unreadable file).
    """
    root = Path(directory)
    events = read_jsonl(root / EXPORT_LOG)
    heads = [(p, read_signed_head(p)) for p in sorted((root / EXPORT_HEADS).glob("*.json"))]
    extracts = []
    for path in sorted(root.glob(f"{EXPORT_PLAN_PREFIX}*.jsonl")):
        digest = path.stem.removeprefix(EXPORT_PLAN_PREFIX)
        if not _HASH.fullmatch(digest):
            raise AuditFormatError(f"{path}: the file name must be plan-<64 hex digest>.jsonl")
        extracts.append((path, digest, read_jsonl(path)))
    return AuditExport(events, heads, extracts)


def verify_jsonl(
    path: str | os.PathLike[str],
    registry: Registry,
    *,
    expected_head: Head | None = None,
) -> VerifyReport:
    """:func:`read_jsonl` then :func:`verify_chain`; a malformed file is reported, not raised.

    Output: a :class:`VerifyReport` (``n_events`` is 0 if the file does not parse).
    Errors: :class:`OSError` if the file cannot be read.
    """
    try:
        events = read_jsonl(path)
    except AuditFormatError as exc:
        return VerifyReport(ok=False, n_events=0, first_problem=str(exc))
    return verify_chain(events, registry, expected_head=expected_head)
