"""Run a three-party program in-process (one thread per party) for the tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from tyst.mpc.party import Party
from tyst.net.local import LocalTransport, run_local

T = TypeVar("T")


def run3(program: Callable[[Party], T], timeout: float = 120.0) -> list[T]:
    """Set up a Party per thread (with a fresh key exchange) and run ``program``."""

    def body(transport: LocalTransport) -> T:
        return program(Party.setup(transport))

    return run_local(body, timeout=timeout)


def run3_rounds(program: Callable[[Party], object], timeout: float = 120.0) -> int:
    """The rounds ``program`` takes (:mod:`tyst.net.transport`, "Rounds"): the maximum over
    the parties of their round counters, counted from zero after the key exchange (which
    leaves no message in flight)."""

    def body(party: Party) -> int:
        party.transport.stats.rounds = 0
        program(party)
        return party.transport.stats.rounds

    return max(run3(body, timeout))
