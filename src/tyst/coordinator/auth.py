"""Authentication of every request to the coordinator: signed by a registered organisation.

Contract
--------
:class:`RequestAuth` is an ASGI middleware in front of the coordinator's
routes. Every request other than :data:`PUBLIC` (``GET /health``, the public register
``/register``, ``/register.json``, ``/register.atom`` and its ``/static/``
assets) must carry the headers of
:func:`tyst.coordinator.protocol.sign_request`; the middleware checks, before
a single body byte is read and in this order, that

1. every header is present (else 401: the request is unauthenticated);
2. the organisation is in the deployment's registry;
3. the time is within :data:`~tyst.coordinator.protocol.REQUEST_WINDOW` seconds
   of the coordinator's clock, the nonce and body hash are well formed;
4. the signature verifies for that organisation over the method, the path and
   query exactly as received, the time, the nonce and the declared body hash;
5. the signed statement was not received before (a :class:`ReplayCache` holds
   each accepted statement's hash until its time has left the window, at most
   ``replay_capacity`` of them: 503 when full, never an eviction that would let
   a replay through);

and answers ``401 {"detail": "<one line>"}`` (with ``WWW-Authenticate``) for
any failure. Then the body: a request body is read whole, at most
``max_body`` bytes (413 above), and its SHA-256 must be the declared one
(401) before the route sees it. The one streamed route, a node's result post
(``POST /jobs/{id}/results/{recipient}/{chunk}``, a chunk of at most
:data:`~tyst.coordinator.protocol.MAX_SEALED_CHUNK` bytes), is passed on unread; its body is
hashed as the route streams it and refused (401) at its end if the hash
differs, before the route checks the node's result signature and stores
anything.

The authenticated organisation is put in the request's scope
(:data:`CALLER_KEY`); routes read it with :func:`caller_of` and decide what
that organisation may see (:mod:`tyst.coordinator.ledger`).

Security: an unauthenticated request costs the coordinator its headers only
(no body byte is read, nothing is stored, nothing enters the replay cache).
The replay cache lives in the coordinator's process: run one process per
database (as ``tyst coordinator serve`` does). A reverse proxy in front of the
coordinator must pass the request target unchanged (it is signed). Headers and
signatures are never logged.
"""

from __future__ import annotations

import base64
import binascii
import collections
import datetime as _dt
import hashlib
import json
import re
import time
from collections.abc import Callable

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tyst.coordinator.protocol import (
    BODY_HASH_HEADER,
    NONCE_HEADER,
    ORG_HEADER,
    REQUEST_CONTEXT,
    REQUEST_HEADERS,
    REQUEST_SIGNATURE_HEADER,
    REQUEST_WINDOW,
    TIME_HEADER,
    request_statement,
)
from tyst.coordinator.register import REGISTER_PATHS
from tyst.service.keys import Registry, UnknownOrganisation
from tyst.service.signing import SignatureInvalid, format_utc, parse_utc, verify
from tyst.web.assets import names as asset_names

CALLER_KEY = "tyst.caller"
"""Scope key holding the authenticated organisation id of a request."""

MAX_BODY = 8 << 20
"""Largest request body read (JSON routes; a plan's TOML is at most 1 MiB)."""

REPLAY_CAPACITY = 1 << 18
"""Signed requests remembered at once (those of the last 2 × REQUEST_WINDOW seconds)."""

PUBLIC_PATHS = (
    "/health",
    *REGISTER_PATHS,
    *(f"/static/{name}" for name in asset_names()),
)
PUBLIC = frozenset((method, path) for method in ("GET", "HEAD") for path in PUBLIC_PATHS)
"""Routes answered without credentials: liveness, the public transparency register
(:mod:`tyst.coordinator.register`) and its stylesheet; nothing else."""

_STREAMED = re.compile(r"/jobs/[^/]+/results/[^/]+/[0-9]+")
_HEX64 = re.compile(r"[0-9a-f]{64}", re.ASCII)


class Unauthorized(Exception):
    """A request that is not authenticated; ``str()`` is one line."""


class ReplayCache:
    """The hashes of accepted request statements, each kept ``lifetime`` seconds.

    Entries expire in insertion order (each is kept ``lifetime`` from its
    arrival), so the oldest are dropped first; when ``capacity`` unexpired
    entries are held, :meth:`add` refuses instead of forgetting one.
    """

    def __init__(self, capacity: int, lifetime: float, clock: Callable[[], float]) -> None:
        self.capacity = capacity
        self.lifetime = lifetime
        self.clock = clock
        self._seen: set[bytes] = set()
        self._order: collections.deque[tuple[float, bytes]] = collections.deque()

    def __len__(self) -> int:
        return len(self._seen)

    def add(self, key: bytes) -> str | None:
        """Remember ``key``; ``None`` if new, else why it is refused (seen, or full)."""
        now = self.clock()
        while self._order and self._order[0][0] <= now:
            self._seen.discard(self._order.popleft()[1])
        if key in self._seen:
            return "this signed request was received before (a replay): sign every request anew"
        if len(self._seen) >= self.capacity:
            return "full"
        self._seen.add(key)
        self._order.append((now + self.lifetime, key))
        return None


def _target(scope: Scope) -> str:
    raw = scope.get("raw_path") or str(scope["path"]).encode("utf-8")
    query = scope.get("query_string") or b""
    return (bytes(raw) + (b"?" + bytes(query) if query else b"")).decode("latin-1")


def _header(headers: dict[str, str], name: str) -> str:
    return headers[name.lower()]


async def _answer(
    send: Send, status: int, detail: str, extra: dict[str, str] | None = None
) -> None:
    body = json.dumps({"detail": detail}).encode("utf-8")
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode("ascii")),
    ]
    headers += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in (extra or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestAuth:
    """ASGI middleware: see the module docstring.

    Inputs: ``registry`` — the deployment's registry; ``window`` — seconds a
    request's time may differ from ``clock()``; ``max_body``;
    ``replay_capacity``; ``clock`` — the wall clock (``time.time``).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        registry: Registry,
        window: float = REQUEST_WINDOW,
        max_body: int = MAX_BODY,
        replay_capacity: int = REPLAY_CAPACITY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self.registry = registry
        self.window = window
        self.max_body = max_body
        self.clock = clock
        self.replays = ReplayCache(replay_capacity, 2 * window, clock)

    def authenticate(self, scope: Scope) -> tuple[str, str]:
        """The signing organisation and the declared body hash of a request's head.

        Errors: :class:`Unauthorized` (one line) for any failure of steps 1–5.
        """
        headers = {
            k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())
        }
        missing = [h for h in REQUEST_HEADERS if h.lower() not in headers]
        if missing:
            raise Unauthorized(
                "unauthenticated: every request but GET /health and the public register must be "
                "signed by a registered "
                f"organisation (headers {', '.join(REQUEST_HEADERS)}; missing {missing[0]})"
            )
        org = _header(headers, ORG_HEADER)
        try:
            public = self.registry.get(org)
        except (UnknownOrganisation, ValueError, TypeError):
            raise Unauthorized(
                f"{ORG_HEADER} {org[:64]!r} is not a registered organisation"
            ) from None
        stamp = _header(headers, TIME_HEADER)
        try:
            signed_at = parse_utc(stamp).timestamp()
        except ValueError:
            raise Unauthorized(
                f"{TIME_HEADER} is not of the form YYYY-MM-DDTHH:MM:SS.ffffffZ"
            ) from None
        now = self.clock()
        if abs(now - signed_at) > self.window:
            clock = format_utc(_dt.datetime.fromtimestamp(now, _dt.UTC))
            raise Unauthorized(
                f"the request was signed at {stamp}, more than {int(self.window)} s from the "
                f"coordinator's clock ({clock}): sign it again (and check your clock)"
            )
        body_sha256 = _header(headers, BODY_HASH_HEADER)
        if not _HEX64.fullmatch(body_sha256):
            raise Unauthorized(f"{BODY_HASH_HEADER} must be 64 lowercase hex characters")
        try:
            statement = request_statement(
                org,
                str(scope["method"]),
                _target(scope),
                stamp,
                _header(headers, NONCE_HEADER),
                body_sha256,
            )
        except ValueError as exc:
            raise Unauthorized(str(exc)) from None
        try:
            signature = base64.b64decode(_header(headers, REQUEST_SIGNATURE_HEADER), validate=True)
            verify(public, signature, statement, REQUEST_CONTEXT)
        except (binascii.Error, ValueError, SignatureInvalid):
            raise Unauthorized(
                f"the request signature does not verify for {org!r} over this method, path, "
                "time, nonce and body hash"
            ) from None
        refused = self.replays.add(hashlib.sha256(statement).digest())
        if refused == "full":
            raise _Busy("too many signed requests within the time window; try again later")
        if refused is not None:
            raise Unauthorized(refused)
        return org, body_sha256

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"], scope["path"]) in PUBLIC:
            await self.app(scope, receive, send)
            return
        try:
            org, declared = self.authenticate(scope)
        except _Busy as exc:
            await _answer(send, 503, str(exc), {"retry-after": "1"})
            return
        except Unauthorized as exc:
            await _answer(send, 401, str(exc), {"www-authenticate": "Tyst-Signature"})
            return
        scope = {**scope, CALLER_KEY: org}
        if scope["method"] == "POST" and _STREAMED.fullmatch(str(scope["path"])):
            await self.app(scope, _hashing(receive, declared), send)
            return
        length = _declared_length(scope)
        if length is not None and length > self.max_body:
            await _answer(send, 413, f"the request body is larger than {self.max_body} bytes")
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > self.max_body:
                await _answer(send, 413, f"the request body is larger than {self.max_body} bytes")
                return
            if not message.get("more_body", False):
                break
        if hashlib.sha256(body).hexdigest() != declared:
            await _answer(
                send,
                401,
                f"the request body does not have the signed {BODY_HASH_HEADER}",
                {"www-authenticate": "Tyst-Signature"},
            )
            return
        await self.app(scope, _replay(bytes(body), receive), send)


class _Busy(Unauthorized):
    """The replay cache is full: the request cannot be accepted safely now."""


def _declared_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == b"content-length":
            text = value.decode("latin-1")
            return int(text) if text.isascii() and text.isdigit() and len(text) < 19 else None
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the already read ``body``, then waits as ``receive``."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def _hashing(receive: Receive, declared: str) -> Receive:
    """A ``receive`` that hashes the body as it streams and refuses it (401) at its end
    unless its SHA-256 is ``declared``."""
    digest = hashlib.sha256()
    done = False

    async def hashed() -> Message:
        nonlocal done
        message = await receive()
        if message["type"] == "http.request" and not done:
            digest.update(message.get("body", b""))
            if not message.get("more_body", False):
                done = True
                if digest.hexdigest() != declared:
                    raise HTTPException(
                        401,
                        f"the request body does not have the signed {BODY_HASH_HEADER}",
                        headers={"www-authenticate": "Tyst-Signature"},
                    )
        return message

    return hashed


def caller_of(scope: Scope) -> str:
    """The organisation :class:`RequestAuth` authenticated for this request.

    Errors: :class:`Unauthorized` if there is none (the middleware is missing).
    """
    org = scope.get(CALLER_KEY)
    if not isinstance(org, str):
        raise Unauthorized("unauthenticated request")
    return org


__all__ = [
    "CALLER_KEY",
    "MAX_BODY",
    "PUBLIC",
    "REPLAY_CAPACITY",
    "ReplayCache",
    "RequestAuth",
    "Unauthorized",
    "caller_of",
]
