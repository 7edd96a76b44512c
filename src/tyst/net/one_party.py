"""Run one party of a three-party program in its own OS process (a node's run).

Contract: :func:`run_party` starts a ``spawn``-ed process that connects to
the other parties at fixed ``addresses`` (:func:`tyst.net.tls.connect_mesh`,
mutual TLS with the node's long-lived credentials from its deployment CA),
calls ``program(transport, *args)``, closes the transport and returns a
:class:`~tyst.net.launcher.PartyRun`. The arguments reach the child through a
``multiprocessing`` pipe, never its command line or environment.

Bounded time: setup waits at most ``connect_timeout`` for the peers; during
the run every receive waits at most ``timeout``; the whole call never exceeds
``deadline`` (the child is then terminated). Setting ``cancel`` (an event)
stops the run within a second (the child is terminated; error type
``Cancelled``). Any failure raises
:class:`~tyst.net.launcher.PartyFailed` with the child's error type and one-line
message; the child never outlives the call, nor the process that called it:
it asks the kernel to kill it when its parent dies (``PR_SET_PDEATHSIG`` on
Linux) and, on every system, a watchdog thread ends it within
:data:`PARENT_POLL` seconds of its parent's death (it is re-parented) — so a
node server killed by any supervisor, even with ``SIGKILL`` to its pid alone,
takes its run with it and the peers fail the job at once.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from tyst.net.certs import NodeCredentials
from tyst.net.launcher import PartyError, PartyFailed, PartyRun, run_and_close, send_failure
from tyst.net.tls import Address, connect_mesh

T = TypeVar("T")
_TERMINATE_WAIT = 2.0
_PR_SET_PDEATHSIG = 1

PARENT_POLL = 0.5
"""Seconds between two checks of the run process that its parent is alive."""


def die_with_parent(parent: int) -> None:
    """End this process when ``parent`` (its parent's pid) dies: the kernel's parent-death
    signal where there is one (Linux), and a watchdog thread everywhere."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass  # the watchdog below still holds
    if os.getppid() != parent:  # it died before we asked
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL)
        os._exit(1)

    threading.Thread(target=watch, name="tyst-run-parent-watch", daemon=True).start()


def _child(
    conn: multiprocessing.connection.Connection,
    parent: int,
    party: int,
    addresses: list[Address],
    credentials: NodeCredentials,
    job: bytes,
    timeout: float,
    connect_timeout: float,
    program: Callable[..., Any],
    args: tuple[Any, ...],
) -> None:
    die_with_parent(parent)
    try:
        transport = connect_mesh(
            party, addresses, credentials, job, timeout=timeout, connect_timeout=connect_timeout
        )
        result, seconds = run_and_close(transport, program, args)
        conn.send(("ok", PartyRun(party, result, transport.stats, seconds)))
    except BaseException as exc:
        send_failure(conn, party, exc)
        if not isinstance(exc, Exception):
            raise
    finally:
        conn.close()


def run_party(
    program: Callable[..., T],
    args: Sequence[Any],
    *,
    party: int,
    addresses: Sequence[Address],
    credentials: NodeCredentials,
    job: bytes,
    timeout: float,
    connect_timeout: float,
    deadline: float,
    cancel: threading.Event | None = None,
) -> PartyRun[T]:
    """Run ``program`` as ``party`` in a child process (see the module docstring)."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    process = ctx.Process(
        target=_child,
        args=(
            child,
            os.getpid(),
            party,
            list(addresses),
            credentials,
            job,
            timeout,
            connect_timeout,
            program,
            tuple(args),
        ),
        name=f"tyst-run-party-{party}",
        daemon=True,  # never outlives the node process
    )
    process.start()
    child.close()
    try:
        end = time.monotonic() + deadline
        while not parent.poll(max(0.0, min(1.0, end - time.monotonic()))):
            if cancel is not None and cancel.is_set():
                error = PartyError(party, "Cancelled", "the run was stopped: the job ended")
                raise PartyFailed(error, {party: error})
            if time.monotonic() >= end:
                error = PartyError(
                    party, "Deadline", f"the run did not finish within {deadline:.0f} s"
                )
                raise PartyFailed(error, {party: error})
        try:
            status, payload = parent.recv()
        except EOFError:
            process.join(_TERMINATE_WAIT)
            error = PartyError(
                party, "ProcessDied", f"the run process exited with code {process.exitcode}"
            )
            raise PartyFailed(error, {party: error}) from None
        if status == "ok":
            run: PartyRun[T] = payload
            return run
        raise PartyFailed(payload, {party: payload})
    finally:
        parent.close()
        if process.is_alive():
            process.join(_TERMINATE_WAIT)
        if process.is_alive():
            process.terminate()
            process.join(_TERMINATE_WAIT)
        if process.is_alive():
            process.kill()
            process.join()
        process.close()
