"""``tyst node check --config node.toml``: is this node ready to run jobs with its peers?

Contract
--------
:func:`check_node` runs every check and returns one :class:`Check` per line
(``ok``/``FAIL``, what, the organisation, the address, why):

- ``registry`` — the registry loads, its SHA-256 fingerprint is pinned
  (``registry_fingerprint``) and equals the pin, and it lists the three nodes;
- ``keys`` — the organisation keys load (with the passphrase file) and are the
  ones the registry holds for this organisation;
- ``tls`` — ``ca.pem`` (its fingerprint printed: compare it out of band),
  ``node.pem`` issued by that CA, valid now, for this node's party, and
  ``node.key`` its key;
- ``coordinator`` — the coordinator answers ``/health`` over TLS verified with
  ``coordinator_ca``, trusts the same registry fingerprint and lists this node;
- ``mesh`` — this node's own mesh address can be bound (it listens there for
  its peers' checks while it runs);
- ``peer`` (one per peer) — the peer's mesh address accepts a connection and
  completes a TLS 1.3 handshake presenting a certificate from the pinned CA for
  the expected party (``party-N.tyst``), named by organisation and address.

A node's mesh port is open only during a run or a check, so the three nodes
run ``tyst node check`` at about the same time: each serves its own mesh
address and retries its peers (with backoff) for up to ``wait`` seconds; a
peer that is also checking confirms it accepted this node's certificate too.

Security: the check opens no job, sends no data and reads no shares; its probe
connections carry a TLS handshake and one fixed line.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from tyst.api.http import ApiError, CoordinatorClient
from tyst.net.certs import (
    CA_CERT_FILE,
    NODE_CERT_FILE,
    NODE_KEY_FILE,
    NodeCredentials,
    party_dns_name,
)
from tyst.net.tls import RETRY_MAX, is_transient, make_tls_contexts
from tyst.node.config import NodeConfig
from tyst.service.keys import Registry, load
from tyst.service.startup import StartupError, check_tls_pair, one_line

PROBE_LINE = b"tyst-node-check ok\n"
"""What a node's check answers a peer's probe after the TLS handshake."""

LINGER = 3.0
"""Seconds a check keeps serving its mesh address after its own probes are done."""


@dataclass(frozen=True)
class Check:
    """One line of the check's report."""

    ok: bool
    what: str
    org: str
    address: str
    detail: str

    def line(self) -> str:
        return (
            f"{'ok  ' if self.ok else 'FAIL'} {self.what:<11} {self.org:<12} {self.address}  "
            f"{self.detail}"
        )


def check_node(config: NodeConfig, *, wait: float = 30.0) -> list[Check]:
    """Every check of the module docstring, in order; peers retried for ``wait`` seconds."""
    here = f"{config.mesh[config.party][0]}:{config.mesh[config.party][1]}"
    out: list[Check] = []
    registry = _registry(config, out)
    _keys(config, registry, out)
    credentials = _tls(config, out)
    _coordinator(config, registry, out)
    if credentials is None:
        out.append(Check(False, "mesh", config.org, here, "no usable TLS credentials"))
        return out
    contexts = make_tls_contexts(credentials)
    stop = threading.Event()
    server = _serve_probes(config, contexts.server, stop, out)
    peers = [p for p in range(3) if p != config.party]
    results: dict[int, Check] = {}
    threads = [
        threading.Thread(
            target=lambda p=p: results.__setitem__(  # type: ignore[misc]
                p, _probe(config, p, contexts.client, time.monotonic() + wait)
            ),
            daemon=True,
        )
        for p in peers
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(wait + 15)
    if server is not None:
        stop.wait(LINGER)  # a late peer's probe of this node still finds it
        stop.set()
        server.join(5)
    out.extend(results[p] for p in peers if p in results)
    return out


def _registry(config: NodeConfig, out: list[Check]) -> Registry | None:
    where = str(config.registry)
    try:
        registry = Registry.load(config.registry)
    except Exception as exc:
        out.append(Check(False, "registry", config.org, where, one_line(exc)))
        return None
    actual = registry.fingerprint()
    missing = [n for n in config.nodes if n not in registry]
    pinned = config.registry_fingerprint
    if pinned is None:
        problem = f"{actual} is not pinned: set registry_fingerprint after comparing it out of band"
    elif actual != pinned:
        problem = f"fingerprint {actual} differs from the pinned {pinned}"
    elif missing:
        problem = f"lists no node {missing[0]!r}"
    else:
        problem = ""
    detail = problem or f"fingerprint {actual} as pinned"
    out.append(Check(not problem, "registry", config.org, where, detail))
    return registry


def _keys(config: NodeConfig, registry: Registry | None, out: list[Check]) -> None:
    where = str(config.keys)
    try:
        passphrase = config.passphrase_file.read_bytes().strip() if config.passphrase_file else None
        keys = load(config.keys, passphrase)
    except Exception as exc:
        out.append(Check(False, "keys", config.org, where, one_line(exc)))
        return
    if keys.org_id != config.org:
        out.append(Check(False, "keys", config.org, where, f"the keys of {keys.org_id!r}"))
    elif (
        registry is not None
        and config.org in registry
        and registry.get(config.org) != (keys.public())
    ):
        out.append(
            Check(
                False,
                "keys",
                config.org,
                where,
                "not the public keys the registry holds for this organisation",
            )
        )
    else:
        out.append(Check(True, "keys", config.org, where, "loaded; they are the registry's"))


def _tls(config: NodeConfig, out: list[Check]) -> NodeCredentials | None:
    where = str(config.tls)

    def fail(detail: str) -> None:
        out.append(Check(False, "tls", config.org, where, detail))

    try:
        check_tls_pair(config.tls / NODE_CERT_FILE, config.tls / NODE_KEY_FILE, what="node tls")
        credentials = NodeCredentials.load(config.tls, config.party)
        ca = x509.load_pem_x509_certificate(credentials.ca_cert_pem)
        cert = x509.load_pem_x509_certificate(credentials.cert_pem)
        cert.verify_directly_issued_by(ca)
    except (StartupError, OSError, ValueError, TypeError) as exc:
        fail(one_line(exc))
        return None
    except Exception as exc:  # InvalidSignature: not issued by this CA
        fail(f"{NODE_CERT_FILE} is not issued by {CA_CERT_FILE} ({type(exc).__name__})")
        return None
    now = _dt.datetime.now(_dt.UTC)
    fingerprint = hashlib.sha256(ca.public_bytes(Encoding.DER)).hexdigest()
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        fail(
            f"{NODE_CERT_FILE} is valid only {cert.not_valid_before_utc:%Y-%m-%d} to "
            f"{cert.not_valid_after_utc:%Y-%m-%d}"
        )
        return None
    out.append(  # NodeCredentials.load checked that the certificate names this party
        Check(
            True,
            "tls",
            config.org,
            where,
            f"{party_dns_name(config.party)} until {cert.not_valid_after_utc:%Y-%m-%d}, "
            f"CA sha256 {fingerprint}",
        )
    )
    return credentials


def _coordinator(config: NodeConfig, registry: Registry | None, out: list[Check]) -> None:
    where = config.coordinator
    verify = str(config.coordinator_ca) if config.coordinator_ca else True
    try:
        with contextlib.closing(CoordinatorClient(where, verify=verify, timeout=10.0)) as client:
            health = client.health()
    except (ApiError, OSError, ValueError) as exc:
        out.append(Check(False, "coordinator", "coordinator", where, one_line(exc)))
        return
    theirs = health.get("registry_fingerprint")
    ours = registry.fingerprint() if registry is not None else None
    nodes = health.get("nodes") or []
    if ours is not None and theirs != ours:
        out.append(
            Check(
                False,
                "coordinator",
                "coordinator",
                where,
                f"trusts registry {theirs}, not this node's {ours}",
            )
        )
    elif config.org not in nodes:
        out.append(
            Check(
                False,
                "coordinator",
                "coordinator",
                where,
                f"does not list {config.org!r} among its nodes {nodes}",
            )
        )
    else:
        out.append(
            Check(
                True,
                "coordinator",
                "coordinator",
                where,
                "reachable; same registry; lists this node",
            )
        )


def _serve_probes(
    config: NodeConfig, context: ssl.SSLContext, stop: threading.Event, out: list[Check]
) -> threading.Thread | None:
    """Listen on this node's mesh address and answer peers' probes until ``stop``."""
    host, port = config.mesh[config.party]
    where = f"{host}:{port}"
    try:
        listener = socket.create_server((host, port), reuse_port=False)
    except OSError as exc:
        out.append(
            Check(
                False,
                "mesh",
                config.org,
                where,
                f"cannot listen ({one_line(exc)}): is a run in progress?",
            )
        )
        return None
    listener.settimeout(0.2)
    out.append(Check(True, "mesh", config.org, where, "listening for the peers' checks"))

    def answer(conn: socket.socket) -> None:
        conn.settimeout(5.0)
        with contextlib.suppress(OSError), context.wrap_socket(conn, server_side=True) as tls:
            tls.sendall(PROBE_LINE)
        conn.close()

    def run() -> None:
        with listener:
            while not stop.is_set():
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    continue
                except OSError:
                    return
                threading.Thread(target=answer, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=run, name="tyst-node-check", daemon=True)
    thread.start()
    return thread


def _probe(config: NodeConfig, peer: int, context: ssl.SSLContext, deadline: float) -> Check:
    """Connect to ``peer``'s mesh address (retrying until ``deadline``) and check its identity."""
    host, port = config.mesh[peer]
    org, where = config.nodes[peer], f"{host}:{port}"
    expected = party_dns_name(peer)

    def fail(detail: str) -> Check:
        return Check(False, "peer", org, where, detail)

    delay, last = 0.2, "no attempt"  # the first wait longer than the mesh's: peers start apart
    while True:
        try:
            raw = socket.create_connection((host, port), timeout=5.0)
        except OSError as exc:
            last = f"not reachable: {one_line(exc)}"
        else:
            result = _handshake(raw, context, expected, fail)
            if result is not None:
                return result
            last = "closed the connection during the TLS handshake"
        if time.monotonic() + delay > deadline:
            return fail(f"{last} (run `tyst node check` there at the same time)")
        time.sleep(delay)
        delay = min(delay * 2, RETRY_MAX)


def _handshake(
    raw: socket.socket, context: ssl.SSLContext, expected: str, fail: Callable[[str], Check]
) -> Check | None:
    """The TLS handshake of one probe: a :class:`Check`, or ``None`` to retry (cut off)."""
    try:
        tls = context.wrap_socket(raw, server_side=False, server_hostname=expected)
    except ssl.SSLCertVerificationError as exc:
        raw.close()
        return fail(f"does not present {expected} from the pinned CA: {exc.verify_message}")
    except OSError as exc:  # cut off as the mesh's own dial would retry it, or a refusal
        raw.close()
        if is_transient(exc) or isinstance(exc, TimeoutError):
            return None
        return fail(f"TLS handshake failed: {one_line(exc)}")
    with tls:
        detail = f"presents {expected} from the pinned CA"
        tls.settimeout(3.0)
        try:
            answer = tls.recv(len(PROBE_LINE))
        except ssl.SSLError as exc:
            return fail(f"{detail}, but refused this node's certificate: {one_line(exc)}")
        except OSError:
            answer = b""
        if answer == PROBE_LINE:
            detail += "; it accepted this node's certificate"
        return replace(fail(detail), ok=True)


__all__ = ["Check", "check_node"]
