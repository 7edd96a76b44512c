"""A party's view of a chain of multiplications does not depend on the inputs.

The bug class of CrypTen#518: a multiplication that re-shares its local product
without a fresh zero-sharing lets the receiving party recompute what it gets
from its own shares and a guess of the secret. We run the attack: party 0
predicts every message it receives under the hypothesis "all secrets are zero"
and counts hits. With the real protocol no prediction hits and party 0's view
is uniformly distributed whatever the inputs; with re-randomisation removed
(a deliberately broken variant, defined only here) every prediction hits —
which shows the test can fail.
"""

from __future__ import annotations

import numpy as np

from tyst.mpc.party import Party
from tyst.mpc.protocols import arithmetic as A
from tyst.mpc.randomness import Randomness
from tyst.mpc.shares import AShare
from tyst.net.local import LocalTransport, run_local
from tyst.ring.words import WordArray, from_signed

N = 50_000


class _NoRerandomisation(Randomness):
    """The bug: zero-sharings that are all zero (never use outside this test)."""

    def zero_arith(self, n: int) -> WordArray:
        return np.zeros(n, dtype=np.uint64)

    def add_zero_arith(self, z: WordArray) -> None:
        return None


Record = list[tuple[AShare, AShare, WordArray]]


def _chain_views(x: np.ndarray, y: np.ndarray, *, broken: bool) -> Record:
    """Party 0's operand shares and received message for each multiplication of a chain."""

    def program(transport: LocalTransport) -> Record:
        party = Party.setup(transport)
        if broken:
            r = party.randomness
            party.randomness = _NoRerandomisation(r.shared_prev, r.shared_next, r.private)
        xs = A.share_input(party, 1, from_signed(x) if party.index == 1 else None)
        ys = A.share_input(party, 2, from_signed(y) if party.index == 2 else None)
        record: Record = []

        def mul(a: AShare, b: AShare) -> AShare:
            out = A.mul(party, a, b)
            record.append((a, b, out.b))  # out.b is the message received from party 1
            return out

        p1 = mul(xs, ys)
        p2 = mul(p1, p1)
        p3 = mul(p2, xs)
        mul(p3, ys)
        return record

    return run_local(program)[0]


def _hits_if_secrets_were_zero(record: Record) -> float:
    """Fraction of received words party 0 predicts exactly, assuming all secrets are zero."""
    hits = 0
    for a, b, received in record:
        a2 = -a.a - a.b  # the missing share, if the secret were 0
        b2 = -b.a - b.b
        predicted = a.b * b.b + a.b * b2 + a2 * b.b  # party 1's local product z_1
        hits += int(np.count_nonzero(predicted == received))
    return hits / (len(record) * N)


def _bit_balance(record: Record) -> float:
    """Largest deviation from 1/2 of any bit position's frequency in the received words."""
    words = np.concatenate([received for _, _, received in record])
    bits = np.unpackbits(words.view(np.uint8)).reshape(-1, 64)
    return float(np.max(np.abs(bits.mean(axis=0) - 0.5)))


def test_view_is_independent_of_inputs() -> None:
    zeros = np.zeros(N, dtype=np.int64)
    rng = np.random.default_rng(7)
    randoms = rng.integers(-(2**40), 2**40, N, dtype=np.int64)

    view_zero = _chain_views(zeros, zeros, broken=False)
    view_random = _chain_views(randoms, randoms, broken=False)
    assert _hits_if_secrets_were_zero(view_zero) == 0.0
    assert _hits_if_secrets_were_zero(view_random) == 0.0
    # Both views are uniform: every bit position is balanced to within sampling noise.
    assert _bit_balance(view_zero) < 0.01
    assert _bit_balance(view_random) < 0.01


def test_attack_succeeds_without_rerandomisation() -> None:
    zeros = np.zeros(N, dtype=np.int64)
    assert _hits_if_secrets_were_zero(_chain_views(zeros, zeros, broken=True)) == 1.0
