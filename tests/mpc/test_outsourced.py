"""Owner-side sharing and recipient-side reconstruction."""

from __future__ import annotations

import numpy as np
import pytest

from tests.mpc.harness import run3
from tyst.mpc.outsourced import NodeShares, combine, split
from tyst.mpc.party import Party
from tyst.mpc.protocols import arithmetic as A
from tyst.mpc.shares import AShare
from tyst.ring.words import U64


@pytest.mark.parametrize("kind", ["arith", "bool"])
def test_split_combine_round_trip(kind: str, size: int, rng: np.random.Generator) -> None:
    x = rng.integers(0, 2**64, size, dtype=U64)
    parts = split(x, kind)
    assert [p.party for p in parts] == [0, 1, 2]
    for pair in ([parts[0], parts[1]], [parts[1], parts[2]], [parts[0], parts[2]], parts):
        np.testing.assert_array_equal(combine(pair), x)


def test_one_node_alone_cannot_reconstruct() -> None:
    parts = split(np.arange(5, dtype=U64))
    with pytest.raises(ValueError, match="at least two nodes"):
        combine([parts[1]])


def test_inconsistent_shares_are_detected() -> None:
    parts = split(np.arange(5, dtype=U64))
    bad = NodeShares(1, "arith", parts[1].first + U64(1), parts[1].second)
    with pytest.raises(ValueError, match="disagree"):
        combine([parts[0], bad])


def test_nodes_compute_on_owner_shares(rng: np.random.Generator) -> None:
    x = rng.integers(-1000, 1000, 101).astype(np.int64).view(U64)
    y = rng.integers(-1000, 1000, 101).astype(np.int64).view(U64)
    xp, yp = split(x), split(y)

    def program(p: Party) -> NodeShares:
        xs = AShare(xp[p.index].first, xp[p.index].second)
        ys = AShare(yp[p.index].first, yp[p.index].second)
        z = A.mul(p, xs, ys)
        return NodeShares(p.index, "arith", z.a, z.b)

    np.testing.assert_array_equal(combine(run3(program)), x * y)
