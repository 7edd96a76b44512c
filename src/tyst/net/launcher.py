"""Run a three-party program as three OS processes connected by mutual TLS.

Usage
-----
::

    def program(transport: TlsTransport, n: int) -> int:   # module level, picklable
        ...
        return value

    results = run_tls_parties(program, (1000,), timeout=30.0)      # [r0, r1, r2]
    runs = run_tls_parties_detailed(program, (1000,))              # [PartyRun, ...]
    runs[1].result, runs[1].stats, runs[1].seconds

    # Party-specific inputs (e.g. each node's own shares): party i runs
    # program(transport, *args, *per_party_args[i]).
    run_tls_parties(node_program, per_party_args=[(s0,), (s1,), (s2,)])

Contract
--------
A throwaway deployment CA and one certificate per party are generated in
memory for every call (keys reach the disk only for the instant OpenSSL
loads them, in a private temporary directory). Three processes are started
with the ``spawn`` method, so no state leaks from the parent. Each binds an
OS-assigned port on 127.0.0.1 and reports it; the parent then sends all
addresses to all children, which build their :class:`~tyst.net.tls.TlsTransport`
mesh, call ``program(transport, *args, *per_party_args[i])``, close the
transport and send the result back through a ``multiprocessing`` pipe (the
result and the arguments must be picklable; the network itself never
pickles). Party ``i`` receives only ``per_party_args[i]``, never the other
parties' arguments.

If any child raises or dies, the parent waits at most ``grace`` seconds for
the others (they normally fail quickly with ``PeerDisconnected`` because the
failing child closes its links), terminates stragglers, and raises
:class:`PartyFailed` naming the party whose failure is the most likely root
cause and listing every party's failure. The parent never waits longer than
``deadline`` seconds in total, and no child outlives the call.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import os
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from tyst.net.certs import NodeCredentials, make_deployment
from tyst.net.framing import JOB_ID_SIZE
from tyst.net.tls import (
    DEFAULT_MAX_MESSAGE,
    Address,
    TlsTransport,
    bind_listener,
    connect_mesh,
)
from tyst.net.transport import LinkStats, PeerDisconnected, TransportError

T = TypeVar("T")

N_PARTIES = 3
_HOST = "127.0.0.1"

Route = Callable[[int, Sequence[Address]], list[Address]]
"""``route(party, addresses)``: the addresses ``party`` dials (:func:`run_tls_parties_detailed`)."""
_TERMINATE_WAIT = 2.0

# Failure ranks: lower = more likely the root cause.
_RANK_ROOT = 0  # the program raised something that is not a transport error, or the process died
_RANK_TRANSPORT = 1  # FrameError, PeerTimeout, HandshakeError, ...
_RANK_DISCONNECTED = 2  # a consequence of another party's failure
_RANK_TERMINATED = 3  # killed by the parent


@dataclass(frozen=True)
class PartyRun(Generic[T]):
    """The outcome of one successful party: its result, traffic and program run time."""

    party: int
    result: T
    stats: LinkStats
    seconds: float


@dataclass(frozen=True)
class PartyError:
    """Why one party failed: exception class name, message, formatted traceback."""

    party: int
    error_type: str
    message: str
    traceback: str = ""
    exitcode: int | None = None
    rank: int = _RANK_ROOT

    def describe(self) -> str:
        """One line: ``party i: ErrorType: message``."""
        return f"party {self.party}: {self.error_type}: {self.message}"


class PartyFailed(RuntimeError):
    """At least one party failed. ``party``/``error_type``/``message`` describe the root cause.

    ``failures`` maps every failed party to its :class:`PartyError`; ``results``
    holds the :class:`PartyRun` of the parties that did finish.
    """

    def __init__(self, primary: PartyError, failures: dict[int, PartyError]) -> None:
        others = [f.describe() for p, f in sorted(failures.items()) if p != primary.party]
        text = f"party {primary.party} failed: {primary.error_type}: {primary.message}"
        if others:
            text += "\n  also: " + "\n  also: ".join(others)
        if primary.traceback:
            text += f"\n--- traceback of party {primary.party} ---\n{primary.traceback}"
        super().__init__(text)
        self.party = primary.party
        self.error_type = primary.error_type
        self.message = primary.message
        self.primary = primary
        self.failures = failures
        self.results: dict[int, PartyRun[Any]] = {}


@dataclass
class _Child:
    party: int
    process: multiprocessing.process.BaseProcess
    conn: multiprocessing.connection.Connection
    port: int | None = None
    run: PartyRun[Any] | None = None
    error: PartyError | None = None
    order: int = 0
    done: bool = field(default=False)


def _child_main(
    party: int,
    conn: multiprocessing.connection.Connection,
    credentials: NodeCredentials,
    job: bytes,
    timeout: float,
    max_message: int,
    program: Callable[..., Any],
    args: tuple[Any, ...],
) -> None:
    """Body of one party process (module level so ``spawn`` can import it)."""
    try:
        listener = bind_listener(_HOST, 0)
        conn.send(("port", listener.getsockname()[1]))
        if not conn.poll(timeout + 30.0):
            raise TimeoutError(f"party {party}: the parent sent no peer addresses")
        message = conn.recv()
        if message[0] != "addresses":
            listener.close()
            return
        addresses = [(str(h), int(p)) for h, p in message[1]]
        transport = connect_mesh(
            party,
            addresses,
            credentials,
            job,
            timeout=timeout,
            listen_socket=listener,
            max_message=max_message,
        )
        result, seconds = run_and_close(transport, program, args)
        try:
            conn.send(("ok", result, transport.stats, seconds))
        except Exception as exc:
            raise TypeError(f"party {party}: the program's result is not picklable: {exc}") from exc
    except BaseException as exc:
        send_failure(conn, party, exc)
        if not isinstance(exc, Exception):
            raise
    finally:
        conn.close()


def run_and_close(
    transport: TlsTransport, program: Callable[..., T], args: Sequence[Any]
) -> tuple[T, float]:
    """``program(transport, *args)`` and its wall seconds; the transport is closed after."""
    try:
        start = time.perf_counter()
        result = program(transport, *args)
        return result, time.perf_counter() - start
    finally:
        transport.close()


def send_failure(
    conn: multiprocessing.connection.Connection, party: int, exc: BaseException
) -> None:
    """Report ``exc`` (being handled) to the parent as a ranked :class:`PartyError`."""
    if isinstance(exc, PeerDisconnected):
        rank = _RANK_DISCONNECTED
    elif isinstance(exc, TransportError):
        rank = _RANK_TRANSPORT
    else:
        rank = _RANK_ROOT
    error = PartyError(
        party=party,
        error_type=type(exc).__name__,
        message=str(exc),
        traceback=traceback.format_exc(),
        rank=rank,
    )
    with contextlib.suppress(OSError, ValueError):
        conn.send(("error", error))


def run_tls_parties_detailed(
    program: Callable[..., T],
    args: Sequence[Any] = (),
    *,
    per_party_args: Sequence[Sequence[Any]] | None = None,
    timeout: float = 60.0,
    job: bytes | None = None,
    deadline: float | None = None,
    grace: float = 5.0,
    max_message: int = DEFAULT_MAX_MESSAGE,
    route: Route | None = None,
) -> list[PartyRun[T]]:
    """Like :func:`run_tls_parties`, but return each party's :class:`PartyRun` (result + stats).

    Party ``i`` calls ``program(transport, *args, *per_party_args[i])``;
    ``per_party_args`` (if given) has one argument sequence per party, and
    each process receives only its own. ``timeout`` is every transport's
    receive timeout (and bounds mesh setup);
    ``job`` is the 16-byte job id (random if ``None``); ``deadline`` bounds
    the whole call (default ``max(300, 10 * timeout)`` seconds); ``grace`` is
    how long the other parties may take to finish after one failed.
    ``route(i, addresses)`` (benchmarks: a delaying relay) gives the addresses
    party ``i`` dials instead of the parties' own ``addresses``; they must be
    on 127.0.0.1 too. Raises :class:`PartyFailed` if any party fails, dies or
    misses the deadline.
    """
    if job is None:
        job = os.urandom(JOB_ID_SIZE)
    if len(job) != JOB_ID_SIZE:
        raise ValueError(f"job id must be {JOB_ID_SIZE} bytes")
    if per_party_args is None:
        party_args = [tuple(args)] * N_PARTIES
    elif len(per_party_args) != N_PARTIES:
        raise ValueError(f"per_party_args needs {N_PARTIES} entries, got {len(per_party_args)}")
    else:
        party_args = [(*args, *extra) for extra in per_party_args]
    total = max(300.0, 10 * timeout) if deadline is None else deadline
    end = time.monotonic() + total
    _, nodes = make_deployment(N_PARTIES, hosts=(_HOST, "localhost"))
    ctx = multiprocessing.get_context("spawn")
    children: list[_Child] = []
    try:
        for i in range(N_PARTIES):
            parent_conn, child_conn = ctx.Pipe(duplex=True)
            proc = ctx.Process(
                target=_child_main,
                args=(
                    i,
                    child_conn,
                    nodes[i],
                    bytes(job),
                    timeout,
                    max_message,
                    program,
                    party_args[i],
                ),
                name=f"tyst-party-{i}",
                daemon=True,
            )
            proc.start()
            child_conn.close()
            children.append(_Child(party=i, process=proc, conn=parent_conn))
        return _supervise(children, end, total, grace, route)
    finally:
        _reap(children)


def run_tls_parties(
    program: Callable[..., T],
    args: Sequence[Any] = (),
    *,
    per_party_args: Sequence[Sequence[Any]] | None = None,
    timeout: float = 60.0,
    job: bytes | None = None,
    deadline: float | None = None,
    grace: float = 5.0,
    max_message: int = DEFAULT_MAX_MESSAGE,
    route: Route | None = None,
) -> list[T]:
    """Run ``program`` in three TLS-connected processes; return the results in party order.

    Party ``i`` calls ``program(transport, *args, *per_party_args[i])``.
    ``program`` must be a module-level (picklable) function taking a
    :class:`~tyst.net.tls.TlsTransport` first; the arguments and the results
    must be picklable. See :func:`run_tls_parties_detailed` for the parameters and
    to also get each party's :class:`~tyst.net.transport.LinkStats`. Raises
    :class:`PartyFailed` (naming the party and its error) if any party fails.
    """
    runs = run_tls_parties_detailed(
        program,
        args,
        per_party_args=per_party_args,
        timeout=timeout,
        job=job,
        deadline=deadline,
        grace=grace,
        max_message=max_message,
        route=route,
    )
    return [r.result for r in runs]


def _supervise(
    children: list[_Child], end: float, total: float, grace: float, route: Route | None
) -> list[PartyRun[Any]]:
    order = 0
    grace_end: float | None = None

    def record_error(child: _Child, error: PartyError) -> None:
        nonlocal order, grace_end
        if child.done:
            return
        child.error, child.order, child.done = error, order, True
        order += 1
        if grace_end is None:
            grace_end = time.monotonic() + grace

    def handle(child: _Child, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "port":
            child.port = int(message[1])
        elif kind == "ok":
            child.run = PartyRun(child.party, message[1], message[2], float(message[3]))
            child.done = True
        elif kind == "error":
            record_error(child, message[1])

    def poll_once(wait_until: float) -> None:
        pending = [c for c in children if not c.done]
        waitables: list[Any] = [c.conn for c in pending] + [c.process.sentinel for c in pending]
        ready = multiprocessing.connection.wait(
            waitables, timeout=max(0.0, wait_until - time.monotonic())
        )
        for c in pending:
            if c.conn in ready:
                try:
                    handle(c, c.conn.recv())
                except (EOFError, OSError):
                    c.process.join(1.0)
                    record_error(c, _died(c))
            elif c.process.sentinel in ready and not c.conn.poll():
                c.process.join(1.0)
                record_error(c, _died(c))

    # Every child first reports its listening port; once all have, the parent
    # sends the address list (or, after an early failure, tells them to stop).
    addresses_sent = False
    while not all(c.done for c in children):
        now = time.monotonic()
        limit = end if grace_end is None else min(end, grace_end)
        if now >= limit:
            break
        poll_once(limit)
        if addresses_sent:
            continue
        if grace_end is not None:
            for c in children:
                if not c.done:
                    _try_send(c, ("abort",))
            addresses_sent = True
        elif all(c.port is not None for c in children):
            addresses: list[Address] = [(_HOST, c.port or 0) for c in children]
            for c in children:
                dialled = addresses if route is None else route(c.party, addresses)
                _try_send(c, ("addresses", dialled))
            addresses_sent = True
    # Stragglers: past the deadline, or past the grace period after a failure.
    for c in children:
        if not c.done:
            if grace_end is None:
                why = f"still running after the overall deadline of {total:g} s; terminated"
            else:
                why = f"still running {grace:g} s after another party failed; terminated"
            record_error(
                c, PartyError(c.party, "Terminated", why, exitcode=None, rank=_RANK_TERMINATED)
            )
    failures = {c.party: c.error for c in children if c.error is not None}
    if failures:
        primary = min(failures.values(), key=lambda e: (e.rank, _order_of(children, e.party)))
        exc = PartyFailed(primary, failures)
        exc.results = {c.party: c.run for c in children if c.run is not None}
        raise exc
    runs = [c.run for c in children]
    assert all(r is not None for r in runs)
    return [r for r in runs if r is not None]


def _try_send(child: _Child, message: tuple[Any, ...]) -> None:
    with contextlib.suppress(OSError, ValueError):  # a dead child's sentinel reports it
        child.conn.send(message)


def _order_of(children: list[_Child], party: int) -> int:
    return children[party].order


def _died(child: _Child) -> PartyError:
    code = child.process.exitcode
    return PartyError(
        child.party,
        "ProcessDied",
        f"process exited with code {code} without reporting a result",
        exitcode=code,
        rank=_RANK_ROOT,
    )


def _reap(children: list[_Child]) -> None:
    """Make sure no child outlives the call: terminate, then kill, then join."""
    for c in children:
        if c.process.is_alive():
            c.process.terminate()
    for c in children:
        c.process.join(_TERMINATE_WAIT)
        if c.process.is_alive():
            c.process.kill()
            c.process.join()
        c.conn.close()
        c.process.close()
