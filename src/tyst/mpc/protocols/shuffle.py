"""Oblivious shuffle of a whole secret-shared table (3-party resharing shuffle).

One secret, uniformly random permutation is applied to all columns of a table
(arithmetic and boolean columns may be mixed). No single party learns it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from tyst.mpc.party import Party
from tyst.mpc.shares import AShare, BShare
from tyst.ring.prg import Prg
from tyst.ring.words import U64, WordArray

N_PASSES = 3


def permutation_from_prg(prg: Prg, n: int) -> npt.NDArray[np.intp]:
    """A uniformly random permutation of ``range(n)`` derived from the AES-CTR stream ``prg``.

    Steps: draw n fresh 64-bit words from ``prg`` and return their argsort (the order is
    unique when the words are distinct; on a tie a stable sort decides, so both holders
    of the stream always agree).
    Both holders of the stream obtain the same permutation (the stream is consumed
    identically: exactly n words). The result is a uniform permutation except with
    probability ≤ n²/2^65 (a collision of two words; ties are then broken by index).
    No non-cryptographic generator is involved.
    Source: random sort keys ("shuffle by sorting random tags"), folklore.
    Rounds: 0. Bytes: 0. Leakage: none (local).
    """
    if n == 0:
        return np.zeros(0, dtype=np.intp)
    keys = prg.words(n)
    order = np.argsort(keys, kind="quicksort")  # ~2.5x faster than a stable sort
    ranked = keys[order]
    if np.any(ranked[1:] == ranked[:-1]):  # a tie (probability ≤ n²/2^65): the unstable
        order = np.argsort(keys, kind="stable")  # order could differ between machines
    return order


BLOCK_WORDS = 1 << 22
"""Columns are re-shared in blocks of about this many words per message, so a pass never
holds more than a few blocks of temporaries (memory stays near the table's own size)."""

Column = tuple[WordArray, WordArray]


def _blocks(kinds: list[bool], n: int) -> list[list[int]]:
    """Consecutive groups of columns of one kind (arithmetic or boolean), ≤ BLOCK_WORDS words."""
    per_block = max(1, BLOCK_WORDS // max(n, 1))
    blocks: list[list[int]] = []
    for kind in (True, False):
        idx = [j for j, k in enumerate(kinds) if k == kind]
        blocks += [idx[i : i + per_block] for i in range(0, len(idx), per_block)]
    return blocks


def _pass(party: Party, t: int, cols: list[Column], kinds: list[bool]) -> list[Column]:
    """One resharing pass with the pair (t, t+1) permuting; see :func:`shuffle`.

    ``kinds[j]`` is True for an arithmetic column. The columns go in blocks
    (:func:`_blocks`); every party walks the blocks in the same order, so each
    pairwise stream is read by both holders for the same words.
    """
    first, second, third = t % 3, (t + 1) % 3, (t + 2) % 3
    n = cols[0][0].shape[0]
    rnd = party.randomness
    me = party.index
    out: list[Column | None] = [None] * len(cols)
    perm = None
    if me == first:
        perm = permutation_from_prg(rnd.shared_next, n)  # stream shared with `second`
    elif me == second:
        perm = permutation_from_prg(rnd.shared_prev, n)  # stream shared with `first`
    for block in _blocks(kinds, n):
        k = len(block)
        total = k * n
        arith = kinds[block[0]]
        if me == third:
            # New (y_third, y_first): y_third from the stream shared with `second`
            # (my shared_prev), y_first from the stream shared with `first` (my shared_next).
            y_third = rnd.shared_prev.words(total).reshape(k, n)
            y_first = rnd.shared_next.words(total).reshape(k, n)
            for r, j in enumerate(block):
                out[j] = (y_third[r], y_first[r])
            continue
        assert perm is not None
        half = np.empty((k, n), dtype=U64)
        for r, j in enumerate(block):
            a, b = cols[j]
            if me == first:  # 2-out-of-2 half: x_first + x_second (XOR for boolean)
                half[r] = (a + b)[perm] if arith else (a ^ b)[perm]
            else:  # me == second: my half is x_third, held as my `b` component
                half[r] = b[perm]
        if me == first:
            y = rnd.shared_prev.words(total).reshape(k, n)  # y_first, with `third`
            peer = second
        else:
            y = rnd.shared_next.words(total).reshape(k, n)  # y_third, with `third`
            peer = first
        masked = np.subtract(half, y, out=half) if arith else np.bitwise_xor(half, y, out=half)
        party.send_words(peer, masked.reshape(-1))
        other = party.recv_words(peer, total).reshape(k, n)
        # y_second = (half_first − y_first) + (half_second − y_third)
        mid = masked + other if arith else masked ^ other
        for r, j in enumerate(block):
            out[j] = (y[r], mid[r]) if me == first else (mid[r], y[r])
    return [c for c in out if c is not None]


def shuffle(party: Party, columns: Sequence[AShare | BShare]) -> list[AShare | BShare]:
    """Apply one secret uniformly random permutation to every column of a table.

    Input: columns of equal length n (any mix of arithmetic and boolean
    sharings). Output: the same kinds of columns, in the same column order, with
    row j of the output equal to row π(j) of the input for a permutation π
    that no single party knows; every output share is freshly re-randomised.

    Steps: three passes t = 0, 1, 2. In pass t the pair (i, i+1) with i = t
    permutes and the third party k = i+2 stays silent.
      1. 2-out-of-2 conversion without communication: party i takes
         h_i = x_i + x_{i+1} (XOR for boolean columns), party i+1 takes h_{i+1} = x_{i+2};
         h_i + h_{i+1} = x.
      2. Both derive π_t from the AES-CTR stream they share (party i's
         ``shared_next`` = party i+1's ``shared_prev``): the argsort of n
         fresh words (:func:`permutation_from_prg`), and permute their halves locally.
      3. Re-sharing into RSS: y_i is drawn from the stream of parties i and k
         (party i's ``shared_prev``, party k's ``shared_next``), y_k from the
         stream of parties i+1 and k (party i+1's ``shared_next``, party k's
         ``shared_prev``). Party i sends π(h_i) − y_i to party i+1, party i+1 sends
         π(h_{i+1}) − y_k to party i, and both set
         y_{i+1} = (π(h_i) − y_i) + (π(h_{i+1}) − y_k). Party i holds (y_i, y_{i+1}),
         party i+1 holds (y_{i+1}, y_k), party k holds (y_k, y_i).
    All columns of a pass travel in one message per direction. The output is
    π_2 ∘ π_1 ∘ π_0 applied to the input; each party misses the permutation of
    the pass in which it is the third party, so the composition is uniformly
    random from its point of view.
    Streams: in every pass each of the three pairwise streams is read by both of
    its holders for the same purpose and the same number of words (n words
    for π, or n·(number of columns) words for one new share), so the streams
    stay aligned.
    Source: the resharing shuffle of Araki, Furukawa, Ohara, Pinkas, Rosemarin,
    Tsuchida, "Secure Graph Analysis at Scale", CCS 2021, §4; cf.
    Mohassel–Rindal–Rosulek, "Fast Database Joins and PSI for Secret Shared
    Data", CCS 2020 (3-party permutation via pairwise-known permutations).
    Rounds: one exchange per block and pass; a block is a group of columns of
    one kind (arithmetic and boolean columns are never in one block) of about
    BLOCK_WORDS words (this bounds the temporaries to a few blocks), and the
    blocks of a pass go one after the other. One block (a table of one kind
    with at most BLOCK_WORDS words): 3 rounds; two blocks (e.g. a mixed table):
    5; b blocks: between 2·b + 1 and 3·b (measured, ``tests/mpc/test_rounds.py``).
    Bytes per element per column: 8 sent by each of the two active parties per
    pass, i.e. 48 in total, 16 sent by each party.
    Leakage: none beyond n and the number and kinds of columns. Every message
    is masked by a PRG output the receiver does not hold (y_i for party i+1,
    y_k for party i).
    """
    if not columns:
        return []
    n = len(columns[0])
    if any(len(c) != n for c in columns):
        raise ValueError("shuffle: all columns must have the same length")
    kinds = [isinstance(c, AShare) for c in columns]
    if not all(isinstance(c, AShare | BShare) for c in columns):
        raise TypeError("shuffle: every column must be an AShare or a BShare")
    if n == 0:
        return [AShare(c.a, c.b) if isinstance(c, AShare) else BShare(c.a, c.b) for c in columns]
    state: list[Column] = [(c.a, c.b) for c in columns]
    for t in range(N_PASSES):
        state = _pass(party, t, state, kinds)
    return [
        AShare(np.ascontiguousarray(a), np.ascontiguousarray(b))
        if kind
        else BShare(np.ascontiguousarray(a), np.ascontiguousarray(b))
        for (a, b), kind in zip(state, kinds, strict=True)
    ]
