"""``tyst bench OP --n N``: time one engine operation on three node processes over mutual TLS.

The client side draws N random inputs, splits them into shares and gives each
node only its pair; the nodes run the operation between two barriers; the
client combines the result shares and checks them against numpy. Only the
operation is timed (the slowest node's wall time), never the sharing, start-up
or check.
The nodes first run the operation once untimed (warm-up: page faults, TLS
buffers), then ``repeat`` timed runs between barriers; the reported time is
the median over the runs of the slowest node.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tyst.engine.metrics import NodeMetrics, Stopwatch, barrier
from tyst.mpc.outsourced import NodeShares, combine, split
from tyst.mpc.party import Party
from tyst.mpc.protocols import arithmetic, compare, shuffle, sort
from tyst.mpc.shares import AShare, BShare
from tyst.net.launcher import Route, run_tls_parties
from tyst.net.transport import Transport
from tyst.ring.words import U64, WordArray, from_signed, to_signed

OPERATIONS = ("mul", "lt", "eq", "shuffle", "sort")
COMPARISON_RANGE = 1 << 62


@dataclass(frozen=True)
class BenchOutcome:
    """The result of one benchmark run."""

    op: str
    n: int
    seconds: float
    correct: bool
    nodes: list[NodeMetrics]

    @property
    def elements_per_second(self) -> float:
        return self.n / self.seconds if self.seconds > 0 else float("inf")

    def summary_line(self) -> str:
        return (
            f"{self.op} n={self.n} seconds={self.seconds:.4f} "
            f"elements_per_second={self.elements_per_second:.0f} "
            f"correct={'true' if self.correct else 'false'}"
        )


def _node_op(party: Party, op: str, x: AShare, y: AShare) -> AShare | BShare:
    if op == "mul":
        return arithmetic.mul(party, x, y)
    if op == "lt":
        return compare.lt(party, x, y)
    if op == "eq":
        return compare.eq(party, x, y)
    if op == "shuffle":
        out = shuffle.shuffle(party, [x])[0]
        assert isinstance(out, AShare)
        return out
    if op == "sort":
        return sort.sort(party, [x])[0][0]
    raise ValueError(f"unknown operation {op!r}; choose one of {', '.join(OPERATIONS)}")


def node_program(
    transport: Transport, op: str, repeat: int, x_part: NodeShares, y_part: NodeShares
) -> tuple[NodeShares, list[NodeMetrics]]:
    """Runs in each node process: sees only this node's shares of x and y.

    Returns this node's shares of the last run's output and the metrics of each
    timed run (the first, warm-up run is not measured).
    """
    party = Party.setup(transport, domain=b"bench")
    x = AShare(x_part.first, x_part.second)
    y = AShare(y_part.first, y_part.second)
    _node_op(party, op, x, y)
    runs = []
    for _ in range(repeat):
        barrier(party)
        watch = Stopwatch(party)
        out = _node_op(party, op, x, y)
        runs.append(watch.stop())
    kind = "bool" if isinstance(out, BShare) else "arith"
    return NodeShares(party.index, kind, out.a, out.b), runs


def _inputs(op: str, n: int, seed: int) -> tuple[WordArray, WordArray]:
    rng = np.random.default_rng(seed)
    if op == "eq":  # a small domain, so that about 1/8 of the pairs are equal
        return from_signed(rng.integers(0, 8, n)), from_signed(rng.integers(0, 8, n))
    if op in ("lt", "sort"):
        lo, hi = -COMPARISON_RANGE, COMPARISON_RANGE
        return from_signed(rng.integers(lo, hi, n)), from_signed(rng.integers(lo, hi, n))
    return rng.integers(0, 2**64, n, dtype=U64), rng.integers(0, 2**64, n, dtype=U64)


def _check(op: str, x: WordArray, y: WordArray, got: WordArray) -> bool:
    if op == "mul":
        return bool(np.array_equal(got, x * y))
    if op == "lt":
        return bool(np.array_equal(got, (to_signed(x) < to_signed(y)).astype(U64)))
    if op == "eq":
        return bool(np.array_equal(got, (x == y).astype(U64)))
    if op == "shuffle":
        return bool(np.array_equal(np.sort(got), np.sort(x)))
    if op == "sort":
        return bool(np.array_equal(to_signed(got), np.sort(to_signed(x), kind="stable")))
    raise ValueError(op)


def run_bench(
    op: str,
    n: int,
    *,
    seed: int = 1,
    repeat: int = 3,
    timeout: float = 600.0,
    route: Route | None = None,
) -> BenchOutcome:
    """Share, run ``op`` on three TLS node processes, combine and check. See module docstring.

    ``route`` (benchmarks) makes the nodes dial each other through a relay
    (:func:`tyst.net.launcher.run_tls_parties_detailed`)."""
    if op not in OPERATIONS:
        raise ValueError(f"unknown operation {op!r}; choose one of {', '.join(OPERATIONS)}")
    if n < 0:
        raise ValueError("n must be non-negative")
    if repeat < 1:
        raise ValueError("repeat must be at least 1")
    x, y = _inputs(op, n, seed)
    x_parts, y_parts = split(x), split(y)
    per_party = [(x_parts[i], y_parts[i]) for i in range(3)]
    results = run_tls_parties(
        node_program, (op, repeat), per_party_args=per_party, timeout=timeout, route=route
    )
    got = combine([shares for shares, _ in results])
    slowest = [max(runs[r].seconds for _, runs in results) for r in range(repeat)]
    median_run = sorted(range(repeat), key=lambda r: slowest[r])[repeat // 2]
    nodes = [runs[median_run] for _, runs in results]
    return BenchOutcome(op, n, slowest[median_run], _check(op, x, y, got), nodes)
