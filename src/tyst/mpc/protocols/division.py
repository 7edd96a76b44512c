"""Exact integer division of secret-shared non-negative integers: quotient and remainder.

Restoring (long) division, one quotient bit per step from the most significant: for
i = k−1 … 0, bit = [r ≥ d·2^i], r −= bit·d·2^i, q += bit·2^i, starting from r = x. The
number of steps k is public and comes from the caller's public bounds (``x ≤ bound``,
``d ≥ d_low``): k = bit length of ⌊bound / d_low⌋. Every row runs every step (nothing
depends on the data); all rows are batched in each step.

Signs are the caller's business (divide magnitudes, then apply the sign): the inputs must
satisfy 0 ≤ x ≤ bound ≤ 2^62 − 1 and 1 ≤ d_low ≤ d ≤ d_high for every row whose result
is used. Rows that break this (e.g. padding rows) get arbitrary words, never an error.
"""

from __future__ import annotations

import numpy as np

from tyst.data.types import COMPARISON_LIMIT
from tyst.mpc.party import Party
from tyst.mpc.protocols import compare
from tyst.mpc.protocols.arithmetic import mul
from tyst.mpc.protocols.conversion import bit_to_arith
from tyst.mpc.shares import AShare, add_public, concat_a, public_a
from tyst.ring.words import U64

LIMIT = COMPARISON_LIMIT - 1
"""The largest dividend bound (2^62 − 1): every compared difference then stays below 2^63."""


def quotient_bits(bound: int, d_low: int) -> int:
    """The number of restoring steps for dividends ≤ ``bound`` and divisors ≥ ``d_low``."""
    return (bound // d_low).bit_length()


def _check(bound: int, d_low: int, d_high: int) -> None:
    if not 0 <= bound <= LIMIT:
        raise ValueError(f"division: the dividend bound {bound} is outside 0 … 2^62 − 1")
    if not 1 <= d_low <= d_high:
        raise ValueError(f"division: divisor bounds {d_low} … {d_high} must be positive")


def _public(party: Party, n: int, value: int) -> AShare:
    return public_a(party.index, np.full(n, value % (1 << 64), dtype=U64))


def divide_public(party: Party, x: AShare, divisor: int, bound: int) -> tuple[AShare, AShare]:
    """(⌊x / divisor⌋, x mod divisor) for secret 0 ≤ x ≤ ``bound`` and a public divisor ≥ 1.

    Steps: k = bit length of ⌊bound / divisor⌋ restoring steps; step i compares r with the
    public t = divisor·2^i ≤ bound (the sign of r − t, :func:`compare.msb`), injects the
    bit (:func:`conversion.bit_to_arith`) and updates r −= bit·t, q += bit·2^i locally.
    Source: restoring division (Knuth, TAOCP vol. 2, §4.3.1) over the comparison and bit
    injection of ABY3 (Mohassel–Rindal, CCS 2018) §5.3–5.4; oblivious arrangement: this
    project.
    Rounds: 9·k + 1 (k ≤ 62; a step is 10 rounds, and each step's first message overlaps
    the previous step's last). Bytes per element per party: ≈ 56·k (comparison and
    injection).
    Leakage: none (nothing is opened; k depends only on the public bounds).
    """
    _check(bound, divisor, divisor)
    n = len(x)
    r, q = x, _public(party, n, 0)
    for i in reversed(range(quotient_bits(bound, divisor))):
        step = divisor << i
        bit = compare.not_bit(party, compare.msb(party, add_public(party.index, r, -step)))
        b = bit_to_arith(party, bit)
        r = r - b.mul_public(step)
        q = q + b.shift_left(i)
    return q, r


def divide(
    party: Party,
    x: AShare,
    d: AShare,
    bound: int,
    d_low: int,
    d_high: int,
    quotient_max: int | None = None,
) -> tuple[AShare, AShare]:
    """(⌊x / d⌋, x mod d) for secret 0 ≤ x ≤ ``bound`` and secret d in [d_low, d_high], d_low ≥ 1.

    Steps: k = bit length of ⌊bound / d_low⌋ restoring steps (of ``quotient_max`` when the
    caller knows a smaller public bound on every used row's quotient). Step i compares r with a
    secret t_i = d·2^i. Where d_high·2^i could leave ±(2^62 − 1) the word d·2^i may
    wrap, so t_i is clamped first: c_i = [d ≤ ⌊bound / 2^i⌋] (for all such i in one batched
    comparison with public constants, then bit injection and one multiplication c_i·d), and
    t_i = c_i·d·2^i + (1 − c_i)·(bound + 1), which is d·2^i when d·2^i ≤ bound and
    otherwise exceeds every r (so the bit is 0, as it must be). Each step: [r ≥ t_i] (sign
    of r − t_i), bit injection, r −= bit·t_i (one multiplication), q += bit·2^i (local).
    Source: restoring division (Knuth, TAOCP vol. 2, §4.3.1) with ABY3 §5.3–5.4 comparisons,
    bit injection and multiplication; clamping: this project.
    Rounds: 11·k, plus 11 once when some step needs clamping. Bytes per element per party:
    ≈ 64·k (+ ≈ 64 per clamped step).
    Leakage: none (nothing is opened; k and the clamped steps depend only on public bounds).
    """
    _check(bound, d_low, d_high)
    if len(d) != len(x):
        raise ValueError(f"division: length mismatch {len(x)} vs {len(d)}")
    n = len(x)
    k = quotient_bits(bound, d_low)
    if quotient_max is not None:
        k = min(k, max(0, quotient_max).bit_length())
    clamped = [i for i in range(k) if d_high << i > LIMIT]
    targets: dict[int, AShare] = {i: d.shift_left(i) for i in range(k) if i not in clamped}
    if clamped:
        limits = concat_a([_public(party, n, bound >> i) for i in clamped])
        c = bit_to_arith(party, compare.le(party, concat_a([d] * len(clamped)), limits))
        cd = mul(party, c, concat_a([d] * len(clamped)))
        over = _public(party, n * len(clamped), bound + 1)
        for j, i in enumerate(clamped):
            part = slice(j * n, (j + 1) * n)
            ci = c[part]
            targets[i] = cd[part].shift_left(i) + over[part] - ci.mul_public(bound + 1)
    r, q = x, _public(party, n, 0)
    for i in reversed(range(k)):
        t = targets[i]
        bit = compare.not_bit(party, compare.msb(party, r - t))
        b = bit_to_arith(party, bit)
        r = r - mul(party, b, t)
        q = q + b.shift_left(i)
    return q, r


def fraction_bits(party: Party, r: AShare, d: AShare, d_high: int, bits: int) -> AShare:
    """⌊r·2^t / d⌋ (t = ``bits``) for secret 0 ≤ r < d ≤ ``d_high``: the first t binary digits
    of the fraction r / d, by long division in base 2 (r·2^t never exists).

    Steps: t times: r ← 2r, bit = [r ≥ d], r ← r − bit·d, f ← 2f + bit. Every compared value
    stays below 2·d_high, which must be ≤ 2^62 − 1; t ≤ 62.
    Source: restoring division (Knuth, TAOCP vol. 2, §4.3.1) with ABY3 §5.3–5.4 comparison,
    bit injection and multiplication.
    Rounds: 11·t (as each step of :func:`divide`). Bytes per element per party: ≈ 64·t.
    Leakage: none (nothing is opened; t depends only on public bounds).
    """
    if 2 * d_high > LIMIT or not 0 <= bits <= 62:
        raise ValueError(f"division: fraction of divisors up to {d_high} in {bits} bits")
    f = _public(party, len(r), 0)
    for _ in range(bits):
        r = r.shift_left(1)
        bit = bit_to_arith(party, compare.not_bit(party, compare.msb(party, r - d)))
        r = r - mul(party, bit, d)
        f = f.shift_left(1) + bit
    return f


def divide_digits(
    party: Party,
    x: AShare,
    d: AShare | int,
    bound: int,
    d_low: int,
    d_high: int,
    digits: int,
) -> AShare:
    """⌊x·10^t / d + 1/2⌋ (t = ``digits``) for secret 0 ≤ x ≤ ``bound`` and d in [d_low, d_high]
    (secret, or a public int d = d_low = d_high), by long division: x·10^t never exists.

    Steps: q, r = ⌊x / d⌋, x mod d (:func:`divide` / :func:`divide_public`, k = bit length of
    ⌊bound / d_low⌋ steps); then t times: r ← 10·r, digit = ⌊r / d⌋ by 4 restoring steps
    (digit ≤ 9; a public d needs bit length of ⌊(10d − 10) / d⌋ ≤ 4), r ← r − digit·d,
    q ← 10·q + digit; last, q += [2r ≥ d] (half away from zero). Every compared value stays
    below 10·d_high, so the caller needs 10·d_high ≤ 2^62 − 1 besides ``bound``; the
    quotient must fit too (the caller's bound on the result).
    Source: schoolbook long division in base 10 (Knuth, TAOCP vol. 2, §4.3.1, Algorithm D
    with one-digit divisor steps) over ABY3 §5.3–5.4 comparison, bit injection and
    multiplication; arrangement: this project.
    Rounds: (k + 4·t)·11 + 10 for a secret d (+ 11 when a first step clamps); for a public d,
    9·(k + t·k_d) + 10 with k_d = bit length of ⌊(10d − 10) / d⌋ ≤ 4 (the steps of
    :func:`divide_public`). Bytes per element per party: ≈ 64·(k + 4·t + 1).
    Leakage: none (nothing is opened; k and t depend only on public bounds).
    """
    _check(bound, d_low, d_high)
    if 10 * d_high > LIMIT:
        raise ValueError(f"division: ten times the divisor bound {d_high} is beyond 2^62 − 1")
    n = len(x)
    if isinstance(d, int):
        q, r = divide_public(party, x, d, bound)
        for _ in range(digits):
            digit, r = divide_public(party, r.mul_public(10), d, 10 * d - 10)
            q = q.mul_public(10) + digit
        twice = add_public(party.index, r.shift_left(1), -d)
        up = compare.not_bit(party, compare.msb(party, twice))
    else:
        if len(d) != n:
            raise ValueError(f"division: length mismatch {n} vs {len(d)}")
        q, r = divide(party, x, d, bound, d_low, d_high)
        targets = [d.shift_left(i) for i in range(4)]
        for _ in range(digits):
            r, digit = r.mul_public(10), _public(party, n, 0)
            for i in reversed(range(4)):
                bit = compare.not_bit(party, compare.msb(party, r - targets[i]))
                b = bit_to_arith(party, bit)
                r = r - mul(party, b, targets[i])
                digit = digit + b.shift_left(i)
            q = q.mul_public(10) + digit
        up = compare.not_bit(party, compare.msb(party, r.shift_left(1) - d))
    return q + bit_to_arith(party, up)
