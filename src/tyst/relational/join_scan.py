"""Private building blocks of :mod:`tyst.relational.join` (not a public API).

- :func:`segment_starts`: the rows of a key-sorted table whose key differs
  from the previous row's key.
- :func:`copy_forward`: for every row, the payload of the latest *flagged*
  row at or before it (a work-efficient Brent–Kung scan).
- :func:`copy_backward`: the same towards the end: the payload of the earliest
  flagged row at or after it (the rows reversed).
- :func:`low_bit`: the least significant bit of an arithmetic sharing as a
  boolean sharing (local).
- :func:`compact`: keep the rows with a secret flag whose number of ones is
  public, by a shuffle and an opening.

Each function states its rounds, bytes and leakage like the protocols in
:mod:`tyst.mpc.protocols`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from tyst.mpc.party import Party
from tyst.mpc.protocols.arithmetic import mul
from tyst.mpc.protocols.boolean import and_many, reveal_bool_all
from tyst.mpc.protocols.compare import eq, not_bit
from tyst.mpc.protocols.shuffle import shuffle
from tyst.mpc.shares import AShare, BShare, concat_a, concat_b, public_b
from tyst.ring.words import U64, WordArray


def low_bit(x: AShare) -> BShare:
    """Bit 0 of an arithmetic sharing as a boolean sharing of a bit (in bit 0).

    Steps: bit 0 of x_0 + x_1 + x_2 (mod 2^64) is the XOR of the components' bit 0
    (no carry enters bit 0), so every party masks its pair with 1.
    Rounds: 0. Bytes: 0. Leakage: none (local).
    """
    one = U64(1)
    return BShare(x.a & one, x.b & one)


def and_all(party: Party, bits: list[BShare]) -> BShare:
    """AND of several bit sharings of equal length (⌈log2 k⌉ rounds, 8 bytes/element each)."""
    if not bits:
        raise ValueError("and_all: nothing to combine")
    while len(bits) > 1:
        pairs = [(bits[j], bits[j + 1]) for j in range(0, len(bits) - 1, 2)]
        rest = [bits[-1]] if len(bits) % 2 else []
        bits = [*and_many(party, pairs), *rest]
    return bits[0]


def segment_starts(party: Party, keys: Sequence[AShare]) -> BShare:
    """Bit i (in bit 0) is 1 iff row i starts a run of equal keys: i = 0 or key_i ≠ key_{i−1}.

    Input: c key lanes of equal length n (a row's key is the tuple of its lanes).
    Steps: one batched :func:`eq` of every lane against the same lane shifted by
    one row; the c equality bits of a row are AND-ed in a tree; negated; row 0
    is a public 1.
    Rounds: 7 + ⌈log2 c⌉. Bytes per row and party: < 8·c (eq) + 16·c from party 0
    + 8·(c − 1) (AND tree).
    Leakage: none.
    """
    if not keys:
        raise ValueError("segment_starts: at least one key lane is required")
    n = len(keys[0])
    first = public_b(party.index, np.ones(min(n, 1), dtype=U64))
    if n <= 1:
        return first
    m = n - 1
    same = eq(party, concat_a([k[1:] for k in keys]), concat_a([k[:-1] for k in keys]))
    all_same = and_all(party, [same[j * m : (j + 1) * m] for j in range(len(keys))])
    return concat_b([first, not_bit(party, all_same)])


def _stack(lanes: Sequence[AShare]) -> tuple[WordArray, WordArray]:
    """(m, n) copies of the ``a`` and ``b`` components of m lanes."""
    return np.stack([x.a for x in lanes]), np.stack([x.b for x in lanes])


Combine = Callable[[slice, slice, bool], None]


def brent_kung(n: int, combine: Combine) -> None:
    """Drive an inclusive scan over n rows in the Brent–Kung (work-efficient) pattern.

    ``combine(right, left, with_flags)`` must fold the rows ``left`` into the
    rows ``right`` (two equal-length strided slices) in place; ``with_flags``
    says whether a later level still reads the segment flags of ``right``.
    Up-sweep over d = 1, 2, 4, … (rows i ≡ 2d − 1 mod 2d take row i − d), then a
    down-sweep over d = …, 2, 1 (rows i ≡ 3d − 1 mod 2d take row i − d): about
    2·log2 n levels, each one batched call. Source: Brent–Kung, IEEE ToC 1982.
    """
    d = 1
    while 2 * d - 1 < n:  # up-sweep
        combine(slice(2 * d - 1, n, 2 * d), slice(d - 1, n - d, 2 * d), 4 * d - 1 < n)
        d *= 2
    d = 1
    while 6 * d - 1 < n:
        d *= 2
    while d >= 1:  # down-sweep
        if 3 * d - 1 < n:
            combine(slice(3 * d - 1, n, 2 * d), slice(2 * d - 1, n - d, 2 * d), False)
        d //= 2


def copy_forward(party: Party, flags: AShare, lanes: Sequence[AShare]) -> list[AShare]:
    """Row i gets the lanes of row j = max{j ≤ i : flag_j = 1} (row 0 counts as flagged).

    Input: ``flags`` an arithmetic 0/1 sharing; m payload lanes of the same
    length n. The payload of unflagged rows never reaches the output.
    Steps: inclusive scan with the associative operator
    (t_L, v_L) ∘ (t_R, v_R) = (t_L ∨ t_R, t_R ? v_R : v_L), computed as
    v_L + t_R·(v_R − v_L) and t_L + t_R − t_L·t_R, arranged as a Brent–Kung
    (work-efficient) prefix circuit: an up-sweep over d = 1, 2, 4, … combining
    rows i ≡ 2d − 1 (mod 2d) with row i − d, then a down-sweep over d = …, 2, 1
    combining rows i ≡ 3d − 1 (mod 2d) with row i − d. Each level is one batched
    multiplication; the flags are only updated where a later level reads them.
    Source: Brent–Kung parallel prefix (IEEE ToC 1982); segmented / "copy"
    scans as in Blelloch, "Prefix sums and their applications" (1990).
    Rounds: ⌊log2 n⌋ (up) + ⌊log2 (n/3)⌋ + 1 (down) ≈ 2·log2 n.
    Bytes per row and party: ≈ 8·(2m + 1) (each level touches n/2^ℓ rows;
    m lanes in both sweeps, the flag in the up-sweep).
    Leakage: none.
    """
    n = len(flags)
    m = len(lanes)
    if any(len(x) != n for x in lanes):
        raise ValueError("copy_forward: flags and lanes must have the same length")
    if m == 0 or n <= 1:
        return [AShare(x.a.copy(), x.b.copy()) for x in lanes]
    va, vb = _stack(lanes)
    ta, tb = flags.a.copy(), flags.b.copy()

    def combine(right: slice, left: slice, with_flags: bool) -> None:
        tr_a, tr_b = ta[right], tb[right]
        k = tr_a.shape[0]
        rows = m + 1 if with_flags else m
        xa, xb = np.tile(tr_a, rows), np.tile(tr_b, rows)
        ya = np.empty((rows, k), dtype=U64)
        yb = np.empty((rows, k), dtype=U64)
        np.subtract(va[:, right], va[:, left], out=ya[:m])
        np.subtract(vb[:, right], vb[:, left], out=yb[:m])
        if with_flags:
            ya[m], yb[m] = ta[left], tb[left]
        z = mul(party, AShare(xa, xb), AShare(ya.reshape(-1), yb.reshape(-1)))
        za, zb = z.a.reshape(rows, k), z.b.reshape(rows, k)
        va[:, right] = va[:, left] + za[:m]
        vb[:, right] = vb[:, left] + zb[:m]
        if with_flags:
            ta[right] = tr_a + ta[left] - za[m]
            tb[right] = tr_b + tb[left] - zb[m]

    brent_kung(n, combine)
    return [AShare(np.ascontiguousarray(va[j]), np.ascontiguousarray(vb[j])) for j in range(m)]


def copy_backward(party: Party, flags: AShare, lanes: Sequence[AShare]) -> list[AShare]:
    """Row i gets the lanes of row j = min{j ≥ i : flag_j = 1} (row n − 1 counts as flagged):
    :func:`copy_forward` on the reversed rows, reversed back.
    Rounds ≈ 2·log2 n; bytes as :func:`copy_forward`; leakage: none."""
    if not lanes:
        return []

    def back(x: AShare) -> AShare:
        return AShare(x.a[::-1].copy(), x.b[::-1].copy())

    return [back(x) for x in copy_forward(party, back(flags), [back(x) for x in lanes])]


def compact(
    party: Party,
    lanes: Sequence[AShare],
    bits: Sequence[BShare],
    keep: BShare,
    expected: int,
) -> tuple[list[AShare], list[BShare]]:
    """The rows whose ``keep`` bit is 1, in a fresh uniformly random order.

    Precondition: the number of ones in ``keep`` (bit 0) is public: ``expected``.
    Steps: shuffle all lanes, bits and ``keep`` with one secret permutation
    (:func:`shuffle`), open the shuffled ``keep`` to all parties, select the rows
    with a 1 by that public index (local).
    Source: shuffle-then-open (the argument of Hamada et al., ICISC 2012, used
    by :func:`tyst.mpc.protocols.sort.sort`).
    Rounds: 3 (shuffle) + 1 (opening). Bytes per row and party: 16 per lane or
    bit column (+ 16 for ``keep``) + 8 for the opening.
    Leakage: the opened vector is a uniformly random arrangement of ``expected``
    ones among n positions, independent of the data: nothing beyond the public
    counts.
    """
    n = len(keep)
    mixed = shuffle(party, [*lanes, *bits, keep])
    opened_keep = mixed[-1]
    assert isinstance(opened_keep, BShare)
    opened = reveal_bool_all(party, opened_keep) & U64(1)
    index = np.flatnonzero(opened)
    if index.shape[0] != expected:
        raise RuntimeError(
            f"compact: {index.shape[0]} of {n} rows flagged, expected {expected} (corrupt input)"
        )
    out_lanes: list[AShare] = []
    out_bits: list[BShare] = []
    for c in mixed[: len(lanes)]:
        assert isinstance(c, AShare)
        out_lanes.append(c[index])
    for c in mixed[len(lanes) : -1]:
        assert isinstance(c, BShare)
        out_bits.append(c[index])
    return out_lanes, out_bits
