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
