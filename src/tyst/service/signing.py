"""Domain-separated Ed25519 signatures, and owners' approvals of a plan.

Contract
--------
:func:`sign` signs ``b"tyst/1/" + context + b"\\0" + message`` with the
organisation's Ed25519 key (RFC 8032, pure Ed25519); :func:`verify` checks it
against the organisation's registered public key and raises
:class:`SignatureInvalid` otherwise. ``context`` names the purpose (``approval``,
``audit``, …): 1–64 characters of ``[a-z0-9._-]`` starting with a letter or
digit. Since a context cannot contain ``\\0``, the signed byte string determines
(context, message) uniquely, so a signature made for one purpose never verifies
for another — an audit-event signature can never be replayed as an approval.

An :class:`Approval` is an owner's signature over a plan's canonical digest
(:meth:`tyst.plan.Plan.digest`, 64 lowercase hex characters). The signed
message is the :func:`~tyst.service.keys.canonical_json` of
``{"format": "tyst-approval/1", "org_id", "plan_digest", "signed_at"}`` under
context ``approval``: the signer's id and the signing time are covered too, so
neither can be changed or the approval attributed to someone else.
:func:`verify_approval` checks one approval against the registry and the digest
of the plan the verifier holds; :func:`verify_approvals` checks that every
required owner approved.

Times are ISO 8601 in UTC with microseconds and a ``Z`` suffix
(``2026-05-04T09:30:00.000000Z``; :func:`format_utc`, :func:`parse_utc`).

Security notes
--------------
- Verification uses OpenSSL's Ed25519, which rejects non-canonical ``S``; but
  Ed25519 signatures are not unique in general, so never use a signature as an
  identifier — hash the signed content instead.
- "Stale" approvals: an approval names the digest it approves, so an approval of
  an earlier version of a plan fails against the current digest. Callers that
  also want a time window (e.g. not before the plan's submission) pass
  ``not_before`` / ``not_after`` to :func:`verify_approval`; ``signed_at`` is the
  signer's own claim, bounded only by those checks.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature

from tyst.service.keys import (
    OrgKeys,
    OrgPublic,
    Registry,
    UnknownOrganisation,
    canonical_json,
    check_org_id,
    decode_b64,
    encode_b64,
)

DOMAIN_PREFIX = b"tyst/1/"
"""Prefix of every signed byte string (protocol name and version)."""

CONTEXT_APPROVAL = "approval"
CONTEXT_AUDIT = "audit"

APPROVAL_FORMAT = "tyst-approval/1"
"""The ``format`` member of the signed approval statement."""

SIGNATURE_SIZE = 64

_CONTEXT = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}", re.ASCII)
_DIGEST = re.compile(r"[0-9a-f]{64}", re.ASCII)
_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z", re.ASCII)


class SignatureInvalid(Exception):
    """A signature, or a signed statement, that must not be trusted; ``str()`` is one line."""


class ApprovalInvalid(SignatureInvalid):
    """An approval that does not authorise the plan at hand (see :func:`verify_approval`)."""


class ApprovalFormatError(ValueError):
    """An approval document that cannot be parsed; ``str()`` is one line."""


# ---------------------------------------------------------------------------
# Time


def format_utc(moment: _dt.datetime) -> str:
    """``moment`` (timezone-aware) as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC.

    Errors: :class:`ValueError` for a naive datetime (its zone would be a guess).
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a timezone-aware datetime is required")
    utc = moment.astimezone(_dt.UTC).replace(tzinfo=None)
    return utc.isoformat(timespec="microseconds") + "Z"


def utc_now() -> str:
    """The current time, formatted by :func:`format_utc`."""
    return format_utc(_dt.datetime.now(_dt.UTC))


def parse_utc(text: object) -> _dt.datetime:
    """Inverse of :func:`format_utc`: only that exact form is accepted.

    Errors: :class:`ValueError` for any other spelling or an impossible date.
    """
    if not isinstance(text, str) or not _UTC.fullmatch(text):
        raise ValueError(f"time {text!r} is not of the form YYYY-MM-DDTHH:MM:SS.ffffffZ")
    return _dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=_dt.UTC)


# ---------------------------------------------------------------------------
# Signatures


def signed_bytes(message: bytes, context: str) -> bytes:
    """The byte string actually signed: ``b"tyst/1/" + context + b"\\0" + message``.

    Errors: :class:`ValueError` if ``context`` is not a valid context name.
    """
    if not isinstance(context, str) or not _CONTEXT.fullmatch(context):
        raise ValueError(
            f"invalid signature context {context!r}: expected 1-64 characters of "
            "[a-z0-9._-] starting with a letter or digit"
        )
    if not isinstance(message, bytes):
        raise TypeError("the message must be bytes")
    return DOMAIN_PREFIX + context.encode("ascii") + b"\0" + message


def sign(keys: OrgKeys, message: bytes, context: str) -> bytes:
    """Sign ``message`` for the purpose ``context`` with ``keys``' Ed25519 key.

    Output: the 64-byte Ed25519 signature over :func:`signed_bytes`.
    Errors: :class:`ValueError` for an invalid context.
    Security: always use a context specific to the purpose; the same message
    signed under two contexts gives two unrelated signatures.
    """
    return keys.signing.sign(signed_bytes(message, context))


def verify(public: OrgPublic, signature: bytes, message: bytes, context: str) -> None:
    """Check that ``signature`` is ``public``'s signature of ``message`` under ``context``.

    Output: ``None`` when valid.
    Errors: :class:`SignatureInvalid` (naming the organisation and context) if
    the signature is malformed or does not verify; :class:`ValueError` for an
    invalid context (a programming error, not an attack).
    """
    data = signed_bytes(message, context)
    if not isinstance(signature, bytes) or len(signature) != SIGNATURE_SIZE:
        raise SignatureInvalid(
            f"malformed {context} signature for {public.org_id!r}: expected {SIGNATURE_SIZE} bytes"
        )
    try:
        public.sign_key().verify(signature, data)
    except InvalidSignature:
        raise SignatureInvalid(
            f"{context} signature does not verify for organisation {public.org_id!r}"
        ) from None


# ---------------------------------------------------------------------------
# Approvals


def _check_digest(plan_digest: object) -> str:
    if not isinstance(plan_digest, str) or not _DIGEST.fullmatch(plan_digest):
        raise ValueError(f"plan digest {plan_digest!r} is not 64 lowercase hex characters")
    return plan_digest


@dataclass(frozen=True)
class Approval:
    """An owner's signed approval of one plan digest.

    Fields: ``plan_digest`` (64 lowercase hex), ``org_id`` (the signer),
    ``signed_at`` (:func:`format_utc` form), ``signature`` (64 bytes; base64 in
    JSON). Construct with :func:`approve`; check with :func:`verify_approval`.
    Errors: :class:`ValueError` on construction if a field is malformed.
    """

    plan_digest: str
    org_id: str
    signed_at: str
    signature: bytes = field(repr=False)

    def __post_init__(self) -> None:
        _check_digest(self.plan_digest)
        check_org_id(self.org_id)
        parse_utc(self.signed_at)
        if not isinstance(self.signature, bytes) or len(self.signature) != SIGNATURE_SIZE:
            raise ValueError(f"an approval signature must be {SIGNATURE_SIZE} bytes")

    def statement(self) -> bytes:
        """The signed message (before domain separation); see the module docstring."""
        return approval_statement(self.plan_digest, self.org_id, self.signed_at)

    def to_dict(self) -> dict[str, str]:
        """JSON-able form (``signature`` in base64)."""
        return {
            "plan_digest": self.plan_digest,
            "org_id": self.org_id,
            "signed_at": self.signed_at,
            "signature": encode_b64(self.signature),
        }

    @classmethod
    def from_dict(cls, data: object) -> Approval:
        """Inverse of :meth:`to_dict`; exactly those members are accepted.

        Errors: :class:`ApprovalFormatError` (one line). Parsing does not verify
        the signature — call :func:`verify_approval`.
        """
        members = {"plan_digest", "org_id", "signed_at", "signature"}
        if not isinstance(data, dict) or set(data) != members:
            raise ApprovalFormatError(
                f"approval: expected an object with members {sorted(members)}"
            )
        try:
            return cls(
                plan_digest=data["plan_digest"],
                org_id=data["org_id"],
                signed_at=data["signed_at"],
                signature=decode_b64(data["signature"], what="approval signature"),
            )
        except ValueError as exc:
            raise ApprovalFormatError(f"approval: {exc}") from exc

    def to_json(self) -> str:
        """:meth:`to_dict` as compact JSON text with sorted keys."""
        return canonical_json(self.to_dict()).decode("utf-8")

    @classmethod
    def from_json(cls, text: str | bytes) -> Approval:
        """Inverse of :meth:`to_json`. Errors: :class:`ApprovalFormatError`."""
        try:
            data: Any = json.loads(text)
        except ValueError as exc:
            raise ApprovalFormatError(f"approval: not valid JSON ({exc})") from exc
        return cls.from_dict(data)


def approval_statement(plan_digest: str, org_id: str, signed_at: str) -> bytes:
    """The canonical JSON statement an approval signs (see the module docstring)."""
    return canonical_json(
        {
            "format": APPROVAL_FORMAT,
            "org_id": org_id,
            "plan_digest": plan_digest,
            "signed_at": signed_at,
        }
    )


def approve(keys: OrgKeys, plan_digest: str, *, now: _dt.datetime | None = None) -> Approval:
    """Approve the plan with digest ``plan_digest`` as ``keys.org_id``.

    Inputs: ``now`` — the signing time (default: the current time).
    Output: the signed :class:`Approval`.
    Errors: :class:`ValueError` for a malformed digest.
    Security: approve only a digest you computed yourself from the plan you
    read (``tyst plan approve`` recomputes it); never a digest you were sent.
    """
    _check_digest(plan_digest)
    signed_at = utc_now() if now is None else format_utc(now)
    statement = approval_statement(plan_digest, keys.org_id, signed_at)
    return Approval(
        plan_digest=plan_digest,
        org_id=keys.org_id,
        signed_at=signed_at,
        signature=sign(keys, statement, CONTEXT_APPROVAL),
    )


def verify_approval(
    registry: Registry,
    approval: Approval,
    plan_digest: str,
    *,
    not_before: _dt.datetime | None = None,
    not_after: _dt.datetime | None = None,
) -> None:
    """Check that ``approval`` is a registered organisation's signature of ``plan_digest``.

    Inputs: ``plan_digest`` — the digest the verifier computed itself from the
    plan it holds; ``not_before`` / ``not_after`` — optional bounds (aware
    datetimes) on ``signed_at``.
    Output: ``None`` when the approval is valid.
    Errors: :class:`ApprovalInvalid` (one line naming the organisation) if the
    approval is for another digest, its signer is not in the registry, its
    signature does not verify, or ``signed_at`` is outside the bounds.
    """
    _check_digest(plan_digest)
    who = approval.org_id
    if approval.plan_digest != plan_digest:
        raise ApprovalInvalid(
            f"approval by {who!r} is for plan {approval.plan_digest[:16]}…, "
            f"not {plan_digest[:16]}… (stale, or the plan was altered after signing)"
        )
    try:
        public = registry.get(who)
    except UnknownOrganisation:
        raise ApprovalInvalid(f"approval by {who!r}: not a registered organisation") from None
    try:
        verify(public, approval.signature, approval.statement(), CONTEXT_APPROVAL)
    except SignatureInvalid:
        raise ApprovalInvalid(f"approval by {who!r}: the signature does not verify") from None
    signed = parse_utc(approval.signed_at)
    if not_before is not None and signed < not_before:
        raise ApprovalInvalid(
            f"approval by {who!r} was signed at {approval.signed_at}, "
            f"before {format_utc(not_before)}"
        )
    if not_after is not None and signed > not_after:
        raise ApprovalInvalid(
            f"approval by {who!r} was signed at {approval.signed_at}, after {format_utc(not_after)}"
        )


def verify_approvals(
    registry: Registry,
    approvals: Iterable[Approval],
    plan_digest: str,
    required: Iterable[str],
    *,
    not_before: _dt.datetime | None = None,
    not_after: _dt.datetime | None = None,
) -> None:
    """Check that every organisation in ``required`` validly approved ``plan_digest``.

    Every given approval is verified with :func:`verify_approval` (an invalid
    one is an error even if its signer also has a valid one); approvals by
    organisations outside ``required`` are an error too (nobody else has a say).
    Errors: :class:`ApprovalInvalid` (one line) for the first invalid or
    unexpected approval, or naming the required organisations without one.
    """
    needed = set(required)
    approved: set[str] = set()
    for approval in approvals:
        if approval.org_id not in needed:
            raise ApprovalInvalid(
                f"approval by {approval.org_id!r}, which is not a required approver"
            )
        verify_approval(registry, approval, plan_digest, not_before=not_before, not_after=not_after)
        approved.add(approval.org_id)
    missing = sorted(needed - approved)
    if missing:
        raise ApprovalInvalid(f"missing approval by {', '.join(repr(m) for m in missing)}")
