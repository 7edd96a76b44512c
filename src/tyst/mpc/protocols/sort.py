"""Stable oblivious sort of a secret-shared table on one or more signed key columns.

Design: shuffle-then-sort (Hamada, Kikuchi, Ikarashi, Chida, Takahashi,
"Practically efficient multi-party sorting protocols from comparison sort
algorithms", ICISC 2012). A row-index tiebreak makes all composite keys
distinct; after a secret uniform shuffle of the whole table the outcomes of
the comparisons made by *any* comparison sort depend only on a uniformly
random permutation, so they can be opened and the sort's control flow (which
rows to compare next) can be public. The opened outcomes determine the sorted
order of the shuffled rows, which is then applied to the shares locally.

The comparison sort is a segmented *sample sort*: every segment picks its
first 2^k − 1 rows as pivots (a uniform sample, thanks to the shuffle), sorts
them by comparing all their pairs in one batch (together with every segment
of at most 8 rows, finished the same way), and every other row finds its
bucket by binary search over the sorted pivots; each search step is one
batched comparison over all rows of all segments. With k ≈ ½·log2(segment
size) (at most 10) this needs about 1.2·log2(n!) comparisons (≈ 17.7·n for
n = 10^5, ≈ 21.5·n for n = 10^6) in ≈ log2 n + 2·log2 log2 n batched
comparison calls (31–36 for n = 10^5, 39–40 for n = 10^6).

Comparisons run on boolean sharings: each key is converted once with
``a2b`` and mapped to an unsigned order-preserving word (sign bit flipped,
all bits flipped for a descending key); the tiebreak is the public row index
as a boolean sharing. A composite comparison is one packed prefix tree over
the words of both rows: :func:`_less_keys_tiebreak` when the number of key
columns c is 1, 2, 4, 8 or 16 (the tiebreak travels as a half word; ≈ 25 bytes
per comparison and party for one key, ≈ 42 for two), :func:`_composite_less`
otherwise (the tiebreak as one more full word; ≈ 16·W' bytes, W' = c + 1
rounded up to a power of two).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache

import numpy as np
import numpy.typing as npt

from tyst.mpc.party import Party
from tyst.mpc.protocols.boolean import and_, reveal_bool_all
from tyst.mpc.protocols.circuits import packed_mask, positions_mask
from tyst.mpc.protocols.conversion import a2b
from tyst.mpc.protocols.shuffle import shuffle
from tyst.mpc.shares import AShare, BShare, concat_a, public_b, xor_public
from tyst.ring.words import ALL_ONES, SIGN_BIT, U64, WordArray

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
LessFn = Callable[[IntArray, IntArray], BoolArray]

WORD_BITS = 64
MAX_WORDS = 32
"""At most 32 words per composite key (31 key columns plus the tiebreak)."""

LESS_CHUNK = 1 << 20
"""Comparisons evaluated at once: bigger batches are split (same openings, bounded memory)."""
PIVOT_ALPHA = 0.5
PIVOT_KMAX = 10
"""A segment of size m uses 2^k − 1 pivots, k = clip(round(α·log2 m), 1, min(⌊log2 m⌋, kmax))."""
SMALL_SEGMENT = 8
"""Segments of at most this many items are sorted by comparing all their pairs at once."""

_TOP = 1 << (WORD_BITS - 1)


# --------------------------------------------------------------------------- bit masks


@cache
def _bit_reversal(width: int) -> tuple[int, ...]:
    """The bit-reversal permutation of range(width) (width a power of two)."""
    bits = width.bit_length() - 1
    return tuple(int(format(t, f"0{bits}b")[::-1], 2) if bits else 0 for t in range(width))


def _unfold_plain(w: WordArray, k: int, n: int, useful: int) -> WordArray:
    """Plaintext inverse of :func:`_fold` (keeps the positions ``useful`` of slice 0)."""
    m = packed_mask(useful, k)
    return np.concatenate([w & m, (w << U64(k)) & m])[:n]


def _fold(x: WordArray, k: int) -> WordArray:
    """Fold a (2, L) stack of share components two words into one (local, linear).

    Word i + ⌈L/2⌉ is shifted right by k and OR-ed into word i, as
    ``circuits.fold`` does, for both components at once; the caller guarantees
    that the useful bit positions do not collide (then OR is XOR).
    """
    length = x.shape[1]
    half = -(-length // 2)
    out = x[:, :half].copy()
    out[:, : length - half] |= x[:, half:] >> U64(k)
    return out


def _combine_many(
    party: Party, states: list[tuple[WordArray, WordArray, int, np.uint64, np.uint64]]
) -> list[tuple[WordArray, WordArray]]:
    """One prefix-tree level on several stacked (E, V) states, with one AND message.

    Each state is (e, v, s, hi, lo): e and v are (2, L) stacks of this party's
    ``a``/``b`` components (consumed). E = "the blocks are equal", V = the
    second operand's bit at the highest differing position. Block (hi at q) ∘
    block (lo at q − s) gives at q: E = E_h·E_l, V = V_h ⊕ E_h·(V_h ⊕ V_l). Both
    products have the factor E_h, so one AND word carries E_h·E_l at q and
    E_h·(V_h ⊕ V_l) at q − s.
    Rounds: 1. Bytes: 8 per word of the states (to prev). Leakage: none.
    """
    total = sum(e.shape[1] for e, _, _, _, _ in states)
    left = np.empty((2, total), dtype=U64)
    right = np.empty((2, total), dtype=U64)
    start = 0
    for e, v, s, hi, lo in states:
        stop = start + e.shape[1]
        lf, rt = left[:, start:stop], right[:, start:stop]
        np.bitwise_and(e, hi, out=lf)
        np.right_shift(lf, U64(s), out=rt)
        lf |= rt
        np.right_shift(v, U64(s), out=rt)
        rt ^= v
        rt &= lo
        e <<= U64(s)
        e &= hi
        rt |= e
        start = stop
    w = and_(party, BShare(left[0], left[1]), BShare(right[0], right[1]))
    out: list[tuple[WordArray, WordArray]] = []
    start = 0
    for e, v, s, hi, _ in states:
        stop = start + e.shape[1]
        for c, wc in enumerate((w.a, w.b)):
            np.bitwise_and(wc[start:stop], hi, out=e[c])
            np.left_shift(wc[start:stop], U64(s), out=left[c, start:stop])
            v[c] ^= left[c, start:stop]
        v &= hi
        out.append((e, v))
        start = stop
    return out


def _combine(
    party: Party, e: WordArray, v: WordArray, s: int, hi: np.uint64, lo: np.uint64
) -> tuple[WordArray, WordArray]:
    """:func:`_combine_many` for a single state."""
    return _combine_many(party, [(e, v, s, hi, lo)])[0]


def _not_component0(party: Party, x: WordArray) -> None:
    """Complement the shared value of a (2, …) stack in place: flip the x_0 component."""
    if party.index == 0:  # holds x_0 in its `a` slot
        x[0] ^= ALL_ONES
    elif party.index == 2:  # … and in its `b` slot
        x[1] ^= ALL_ONES


@cache
def _slot_mask(first: int, stride: int, count: int) -> np.uint64:
    """Mask of the bit positions first, first − stride, …, first − (count − 1)·stride."""
    m = 0
    for j in range(count):
        m |= 1 << (first - j * stride)
    return U64(m)


def _tiebreak_elements(m: int, r: int) -> tuple[IntArray, IntArray]:
    """Which elements the packed tiebreak words of :func:`_less_keys_tiebreak` hold.

    For m elements (a multiple of 32) and R = r key rows, tiebreak word q holds
    element high[q] in bits 32..63 and element low[q] in bits 0..31, where with
    P = R·m/16, R_t = m/32, d = q // R_t, t = rev_a(d >> (4 − a)) (R = 2^a):
    element = 2R·(q mod R_t) + H·R + t + P·(d mod 2^(4−a)), H = 0 (high) or 1 (low).
    """
    a = r.bit_length() - 1
    rt = m // 32
    p = r * m // 16
    q = np.arange(m // 2, dtype=np.int64)
    d = q // rt
    rev = np.array(_bit_reversal(r), dtype=np.int64)
    t = rev[d >> (4 - a)]
    high = 2 * r * (q % rt) + t + p * (d & ((1 << (4 - a)) - 1))
    low = high + r
    high.flags.writeable = False
    low.flags.writeable = False
    return high, low


def _less_keys_tiebreak(
    party: Party, xk: WordArray, yk: WordArray, xi: WordArray, yi: WordArray
) -> BoolArray:
    """Open [(x, i) < (y, j)] for pairs of R = 2^a key words (R ≤ 16) and a 32-bit tiebreak.

    Input: ``xk``/``yk`` are (2, R, m) stacks (this party's ``a``/``b``
    components) of the key words, unsigned, row t holding key word rev_a(t)
    (word 0 most significant), m a multiple of 32 (callers pad); ``xi``/``yi``
    are (2, m/2) stacks of the tiebreaks packed two per word in the element
    order of :func:`_tiebreak_elements` (for R = 1: elements 2q and 2q + 1).
    All four are consumed.

    Steps: (E, V) = (¬(x ⊕ y), y) for both trees. Levels 1–5 (blocks of 2..32
    bits) run on the key tree (R·m words) and the tiebreak tree (m/2 words)
    with one AND message per level, both folded two words into one before
    levels 2..5 (slice packing as in :func:`_composite_less`). Level 6 joins the
    two 32-bit halves of each key word: the key tree now has P = R·m/16 words,
    whose slice j (bit 63 − j) holds key word j mod R of element
    p + P·rev_(4−a)(j >> a); log2 R levels over the slices combine the key words,
    leaving the key result of element j'' of word p at bit 63 − R·j''. After its
    folds, tiebreak word r holds in slot j' (bit 63 − j' of the high half,
    31 − j' of the low half) the element that :func:`_tiebreak_elements` put
    there, which is element j' >> a of key word 2R·r + H·R + (j' mod R); a local
    shift (right by 16 − t for the high half, left by 16 + t for the low half,
    t = j' mod R) puts every tiebreak result at bit 47 − R·j'', 16 below its key
    result, and one more level combines key and tiebreak lexicographically. V
    at bits 63 − R·j'' is opened (16/R bits per word) and unpacked locally.
    Source: as :func:`_composite_less`; half-word packing of the tiebreak: this project.
    Rounds: 6 + log2 R + 1 + 1 (opening).
    Bytes per pair per party: 8·(R + ½)·(1 + ½ + ¼ + ⅛ + 1/16) + 8·R·(2 + log2 R)/16
    ≈ 25 for one key word, ≈ 42 for two.
    Leakage: the opened bits; see :func:`sort`.
    """
    _, r, m = xk.shape
    if r > 16 or r & (r - 1) or m % 32 or xi.shape[1] * 2 != m:
        raise ValueError("keys: 1, 2, 4, 8 or 16 rows padded to a multiple of 32 elements")
    if m == 0:
        return np.zeros(0, dtype=np.bool_)
    xk ^= yk
    ek, vk = xk.reshape(2, -1), yk.reshape(2, -1)
    _not_component0(party, ek)
    xi ^= yi
    _not_component0(party, xi)
    ei, vi = xi, yi
    sizes: list[int] = []
    k = 1
    for level in range(1, 6):
        s = 1 << (level - 1)
        if level >= 2:
            sizes.append(ek.shape[1])
            ek, vk, ei, vi = _fold(ek, k), _fold(vk, k), _fold(ei, k), _fold(vi, k)
            k *= 2
        hi = packed_mask(positions_mask(1 << level, (1 << level) - 1), k)
        lo = packed_mask(positions_mask(1 << level, s - 1), k)
        (ek, vk), (ei, vi) = _combine_many(party, [(ek, vk, s, hi, lo), (ei, vi, s, hi, lo)])
    hi = packed_mask(positions_mask(64, 63), k)
    lo = packed_mask(positions_mask(64, 31), k)
    ek, vk = _combine(party, ek, vk, 32, hi, lo)
    s = 1
    while s < r:  # combine the key words: slices j ≡ 0 and j ≡ s (mod 2s)
        count = 16 // (2 * s)
        hi, lo = _slot_mask(63, 2 * s, count), _slot_mask(63 - s, 2 * s, count)
        ek, vk = _combine(party, ek, vk, s, hi, lo)
        s *= 2
    count = 16 // r
    key_slots, tie_slots = _slot_mask(63, r, count), _slot_mask(47, r, count)
    for state, tb in ((ek, ei), (vk, vi)):
        for u in range(2 * r):  # key words p ≡ u (mod 2R) take their tiebreaks from word p // 2R
            t = u % r
            aligned = tb >> U64(16 - t) if u < r else tb << U64(16 + t)
            aligned &= tie_slots
            state[:, u :: 2 * r] |= aligned
    ek, vk = _combine(party, ek, vk, 16, key_slots, tie_slots)
    vk &= key_slots
    opened = reveal_bool_all(party, BShare(vk[0], vk[1]))
    while k > 1:
        k //= 2
        opened = _unfold_plain(opened, k, sizes.pop(), _TOP)
    return (opened[:m] >> U64(WORD_BITS - 1)).astype(np.bool_)


def _composite_less(party: Party, x: WordArray, y: WordArray) -> BoolArray:
    """Open [x < y] for m pairs of composite keys given as boolean-shared word rows.

    Input: ``x`` and ``y`` have shape (2, W', m): [0] and [1] are this party's
    ``a`` and ``b`` components; row t holds word rev(t) of the composite key
    (rev = bit reversal on log2 W' bits; word 0 is the most significant; padding
    rows are zero); words compare as unsigned. ``x`` and ``y`` are consumed.
    Output: the public bits [x_j < y_j] (lexicographic), meaningful when x_j ≠ y_j.

    Steps: E = ¬(x ⊕ y), V = y (local). A prefix tree over the bits of each word
    combines (hi, lo) blocks into (E_h·E_l, V_h ⊕ E_h·(V_h ⊕ V_l)), one AND word
    per level (levels 1..6, blocks of 2..64 bits). From level 2 on the state is
    folded two words into one before the level (slice packing as in
    ``circuits.carry_into_msb``); thanks to the row order, slice j of a packed word
    holds word j of its composite key, so log2 W' further levels over the
    slices combine the words lexicographically. V at the top is [x < y]: the bit
    of y at the highest differing position. The result bits (32/W' per word)
    are opened packed and unpacked locally.
    Source: lexicographic comparison by a parallel-prefix tree over
    (equal, value) pairs (folklore; cf. the bitwise less-than circuits of
    Garay–Schoenmakers–Villegas, PKC 2007, and ABY3 §5.3); packing as in
    ``circuits.carry_into_msb``.
    Rounds: 6 + log2 W' + 1 (the opening).
    Bytes per pair per party: 8·W'·(1 + 1/2 + … + 1/32 + log2 W'/32) ≈ 16·W' for
    the ANDs, plus W'/4 for the opening.
    Leakage: the opened bits [x_j < y_j]; callers must only open them when they
    are simulatable (see :func:`sort`).
    """
    _, width, m = x.shape
    if m == 0:
        return np.zeros(0, dtype=np.bool_)
    if width < 2 or width > MAX_WORDS or width & (width - 1):
        raise ValueError(f"word count {width} must be a power of two in 2..{MAX_WORDS}")
    x ^= y
    e = x.reshape(2, -1)
    _not_component0(party, e)
    v = y.reshape(2, -1)
    sizes: list[int] = []
    k = 1
    for level in range(1, 7):
        s = 1 << (level - 1)
        if level >= 2:
            sizes.append(e.shape[1])
            e, v = _fold(e, k), _fold(v, k)
            k *= 2
        hi = packed_mask(positions_mask(1 << level, (1 << level) - 1), k)
        lo = packed_mask(positions_mask(1 << level, s - 1), k)
        e, v = _combine(party, e, v, s, hi, lo)
    # Now k = 32 slices, slice j at position 63 − j, slice j ≡ word j (mod W').
    s = 1
    while s < width:
        hi_bits = lo_bits = 0
        for j in range(0, k, 2 * s):
            hi_bits |= _TOP >> j
            lo_bits |= _TOP >> (j + s)
        e, v = _combine(party, e, v, s, U64(hi_bits), U64(lo_bits))
        s *= 2
    result_mask = 0
    for j in range(0, k, width):
        result_mask |= _TOP >> j
    v &= U64(result_mask)
    opened = reveal_bool_all(party, BShare(v[0], v[1]))
    while k > 1:
        k //= 2
        opened = _unfold_plain(opened, k, sizes.pop(), _TOP)
    return (opened[:m] >> U64(WORD_BITS - 1)).astype(np.bool_)


# ------------------------------------------------------------- sample sort (public control flow)


def _cumsum_excl(a: IntArray) -> IntArray:
    """Exclusive prefix sums: out[i] = a[0] + … + a[i − 1]."""
    out = np.zeros(a.shape[0], dtype=np.int64)
    if a.shape[0] > 1:
        np.cumsum(a[:-1], out=out[1:])
    return out


def _ranges(starts: IntArray, lens: IntArray) -> IntArray:
    """Concatenation of arange(starts[i], starts[i] + lens[i]) over i."""
    total = int(lens.sum())
    return np.repeat(starts - _cumsum_excl(lens), lens) + np.arange(total, dtype=np.int64)


def _pivot_bits(sizes: IntArray) -> IntArray:
    """k per segment: 2^k − 1 pivots, 1 ≤ k ≤ ⌊log2 m⌋ (so at least one non-pivot)."""
    lg = np.log2(sizes.astype(np.float64))
    k = np.rint(lg * PIVOT_ALPHA).astype(np.int64)
    return np.clip(k, 1, np.minimum(np.floor(lg).astype(np.int64), PIVOT_KMAX))


@cache
def _pairs(m: int) -> tuple[IntArray, IntArray]:
    """All index pairs (i, j), i < j, of range(m) (read-only)."""
    i, j = np.triu_indices(m, 1)
    a, b = i.astype(np.int64), j.astype(np.int64)
    a.flags.writeable = False
    b.flags.writeable = False
    return a, b


def sort_all_pairs(less: LessFn, items: IntArray, sizes: IntArray) -> IntArray:
    """Sort each consecutive segment of ``items`` by comparing all its pairs in one ``less`` call.

    A segment of size m costs m(m − 1)/2 comparisons; an item's place is the number
    of items of its segment below it (keys distinct). Returns the sorted items.
    Cost: one ``less`` call (none when no segment has two items).
    """
    starts = _cumsum_excl(sizes)
    left: list[IntArray] = []
    right: list[IntArray] = []
    for m in np.unique(sizes[sizes >= 2]):
        a, b = _pairs(int(m))
        first = starts[sizes == m]
        left.append((first[:, None] + a[None, :]).ravel())
        right.append((first[:, None] + b[None, :]).ravel())
    if not left:
        return items.copy()
    ia, ib = np.concatenate(left), np.concatenate(right)
    below = less(items[ia], items[ib])
    rank = np.bincount(np.where(below, ib, ia), minlength=items.shape[0])
    seg_start = np.repeat(starts, sizes)
    out = np.empty_like(items)
    out[seg_start + rank] = items
    return out


def sort_segments(
    less: LessFn,
    items: IntArray,
    sizes: IntArray,
    relayout: Callable[[IntArray], None] | None = None,
) -> IntArray:
    """Sort each consecutive segment of ``items`` with the batched comparison ``less``.

    ``items`` holds row ids, split into consecutive segments of the given
    ``sizes``; ``less(a, b)`` returns [row a_j < row b_j] for whole arrays
    (one batched call). Returns ``items`` with every segment sorted. All keys
    must be distinct. Control flow is a function of the comparison outcomes only.

    ``relayout`` (optional; then ``items`` must be 0..n−1): called after every
    level with the current arrangement ``perm`` of the rows; the callee renumbers
    its rows so that new row j is old row perm[j], and later ``less`` calls use
    the new numbers. This keeps the rows of a segment adjacent, so the callee's
    gathers read memory nearly sequentially. The returned order is always in
    the original row ids.

    Steps (per level, over all unsorted segments at once): a segment of at most
    SMALL_SEGMENT items is finished by comparing all its pairs; a larger segment
    of size m takes its first 2^k − 1 items as pivots (:func:`_pivot_bits`). One
    ``less`` call compares all pairs of every segment's pivots and of every small
    segment (:func:`sort_all_pairs`: the pivots come out sorted, the small segments
    done); then each remaining item of a large segment finds the number of pivots
    below it by a k-step binary search (one ``less`` call per step, over all items
    of all segments), and the items are regrouped into buckets between the pivots,
    keeping their previous relative order; buckets of size ≥ 2 form the next
    level's segments. A level is thus 1 + max k calls.
    Source: sample sort (Frazer–McKellar, JACM 1970) with binary-search
    bucketing; batched as in Hamada et al., ICISC 2012; pivots sorted by all
    pairs in one batch: this project.
    Cost: ≈ 1.1·log2(n!) comparisons for shuffled input (+ ≈ m/2 per level of
    a segment of size m for its pivots' pairs); ≈ log2 n + 2·log2 log2 n
    ``less`` calls (measured: 28–32 for n = 10^5, ``tests/mpc/test_sort.py``).
    Leakage: n/a (public computation on opened comparison bits).
    """
    result = items.copy()
    labels = items.copy()  # labels[j]: original id of the row now numbered j
    if relayout is not None and not np.array_equal(items, np.arange(items.shape[0])):
        raise ValueError("sort_segments: relayout needs items 0..n-1")
    starts = _cumsum_excl(sizes)
    active = sizes >= 2
    st, sz = starts[active], sizes[active]
    while st.shape[0]:
        small = sz <= SMALL_SEGMENT
        st_small, sz_small = st[small], sz[small]
        st, sz = st[~small], sz[~small]
        nseg = st.shape[0]
        k = _pivot_bits(sz)
        s = (np.int64(1) << k) - 1
        pivots = result[_ranges(st, s)]
        small_idx = _ranges(st_small, sz_small)
        together = sort_all_pairs(
            less, np.concatenate([pivots, result[small_idx]]), np.concatenate([s, sz_small])
        )
        pivots = together[: pivots.shape[0]]
        result[small_idx] = together[pivots.shape[0] :]
        if nseg == 0:
            break
        rest_len = sz - s
        rest = result[_ranges(st + s, rest_len)]
        seg = np.repeat(np.arange(nseg, dtype=np.int64), rest_len)
        pivot_off = _cumsum_excl(s)
        k_rest = k[seg]
        pos = np.zeros(rest.shape[0], dtype=np.int64)
        first_pivot = pivot_off[seg]
        k_min = int(k.min())
        for r in range(int(k.max()) - 1, -1, -1):
            step = np.int64(1) << r
            if r < k_min:  # every item takes part in this step
                below = less(rest, pivots[first_pivot + pos + (step - 1)])
                pos += step * ~below
            else:
                part = np.nonzero(k_rest > r)[0]
                cand = pivots[first_pivot[part] + pos[part] + (step - 1)]
                below = less(rest[part], cand)
                pos[part] += step * ~below
        # Slots per segment: bucket p at 2p, pivot j at 2j + 1.
        n_slots = 2 * s + 1
        base = _cumsum_excl(n_slots)
        pivot_seg = np.repeat(np.arange(nseg, dtype=np.int64), s)
        pivot_rank = np.arange(pivots.shape[0], dtype=np.int64) - pivot_off[pivot_seg]
        slot = np.concatenate([base[pivot_seg] + 2 * pivot_rank + 1, base[seg] + 2 * pos])
        order = np.argsort(slot, kind="stable")
        result[_ranges(st, sz)] = np.concatenate([pivots, rest])[order]
        total_slots = int(n_slots.sum())
        counts = np.bincount(slot, minlength=total_slots).astype(np.int64)
        first = _cumsum_excl(counts)
        slot_seg = np.repeat(np.arange(nseg, dtype=np.int64), n_slots)
        rel = np.arange(total_slots, dtype=np.int64) - base[slot_seg]
        slot_start = st[slot_seg] + first - first[base[slot_seg]]
        keep = (rel % 2 == 0) & (counts >= 2)
        st, sz = slot_start[keep], counts[keep]
        if relayout is not None and st.shape[0]:
            relayout(result)
            labels = labels[result]
            result = np.arange(result.shape[0], dtype=np.int64)
    return labels[result] if relayout is not None else result


# --------------------------------------------------------------------------- the protocol


class _KeysTiebreakComparator:
    """Batched comparisons of (R key words, tiebreak) rows with :func:`_less_keys_tiebreak`."""

    _LOW32 = U64(0xFFFF_FFFF)

    def __init__(self, party: Party, keys: Sequence[BShare], tiebreak: BShare) -> None:
        self.party = party
        self.r = len(keys)
        ordered = [keys[w] for w in _bit_reversal(self.r)]
        self.cols = [c for w in [*ordered, tiebreak] for c in (w.a, w.b)]

    def relayout(self, perm: IntArray) -> None:
        """Renumber the rows: new row j = old row perm[j] (local; one column at a time)."""
        for i, c in enumerate(self.cols):
            self.cols[i] = np.take(c, perm)

    def _rows(self, rows: IntArray) -> tuple[WordArray, WordArray]:
        """Gather ``rows``: key stack (2, R, m') and packed tiebreaks (2, m'/2), m' = ⌈m/32⌉·32."""
        m = rows.shape[0]
        padded = -(-m // 32) * 32
        k = np.zeros((2, self.r, padded), dtype=U64)
        t = np.zeros((2, padded), dtype=U64)
        targets = [k[c, row] for row in range(self.r) for c in (0, 1)] + [t[0], t[1]]
        for dst, col in zip(targets, self.cols, strict=True):
            np.take(col, rows, out=dst[:m])
        if self.r == 1:
            high, low = t[:, 0::2], t[:, 1::2]
        else:
            hi_idx, lo_idx = _tiebreak_elements(padded, self.r)
            high, low = t[:, hi_idx], t[:, lo_idx]
        packed = high << U64(32)
        packed ^= low & self._LOW32
        return k, packed

    def less(self, ra: IntArray, rb: IntArray) -> BoolArray:
        """Open [row ra_j < row rb_j] for all j (batched, at most LESS_CHUNK at a time)."""
        return _chunked(self._less, ra, rb)

    def _less(self, ra: IntArray, rb: IntArray) -> BoolArray:
        xk, xi = self._rows(ra)
        yk, yi = self._rows(rb)
        return _less_keys_tiebreak(self.party, xk, yk, xi, yi)[: ra.shape[0]]


class _WordsComparator:
    """Batched comparisons of rows of several key words with :func:`_composite_less`."""

    def __init__(self, party: Party, words: Sequence[BShare]) -> None:
        self.party = party
        self.width = 1 << (len(words) - 1).bit_length()
        rows = [words[w] for w in _bit_reversal(self.width) if w < len(words)]
        self.slots = [t for t, w in enumerate(_bit_reversal(self.width)) if w < len(words)]
        self.cols = [c for w in rows for c in (w.a, w.b)]

    def relayout(self, perm: IntArray) -> None:
        """Renumber the rows: new row j = old row perm[j] (local; one column at a time)."""
        for i, c in enumerate(self.cols):
            self.cols[i] = np.take(c, perm)

    def _gather(self, r: IntArray) -> WordArray:
        """Gather rows ``r`` as a (2, W', m) stack in :func:`_composite_less` row order."""
        out = np.zeros((2, self.width, r.shape[0]), dtype=U64)
        for i, t in enumerate(self.slots):
            np.take(self.cols[2 * i], r, out=out[0, t])
            np.take(self.cols[2 * i + 1], r, out=out[1, t])
        return out

    def less(self, ra: IntArray, rb: IntArray) -> BoolArray:
        """Open [row ra_j < row rb_j] for all j (batched, at most LESS_CHUNK at a time)."""
        return _chunked(
            lambda a, b: _composite_less(self.party, self._gather(a), self._gather(b)), ra, rb
        )


def _chunked(
    less: Callable[[IntArray, IntArray], BoolArray], ra: IntArray, rb: IntArray
) -> BoolArray:
    """``less`` over slices of at most :data:`LESS_CHUNK` pairs (bounds the working set)."""
    m = ra.shape[0]
    if m <= LESS_CHUNK:
        return less(ra, rb)
    return np.concatenate(
        [less(ra[i : i + LESS_CHUNK], rb[i : i + LESS_CHUNK]) for i in range(0, m, LESS_CHUNK)]
    )


def sort(
    party: Party,
    keys: Sequence[AShare],
    payload: Sequence[AShare | BShare] = (),
    *,
    descending: Sequence[bool] | None = None,
) -> tuple[list[AShare], list[AShare | BShare]]:
    """Stable sort of a table by one or more signed key columns, carrying payload columns.

    Input: key columns (signed 64-bit integers in two's complement with
    |k| < 2^62, the published comparison range), payload columns of the same
    length n, and optionally one ``descending`` flag per key. Output: the key
    and payload columns with their rows in lexicographic key order (per-key
    ascending or descending); rows with equal keys keep their input order.

    Steps:
      1. Each key column is converted to boolean shares (``a2b``, all keys in
         one call) and mapped to an unsigned order-preserving word: k ⊕ 2^63
         (ascending) or ¬(k ⊕ 2^63) (descending); local.
      2. A tiebreak column, the public row index 0..n−1 as a trivial boolean
         sharing, makes every composite key (k_1, …, k_c, index) distinct and
         the sort stable.
      3. The whole table (boolean keys, tiebreak, the original key columns and
         the payload) is shuffled with one secret uniform permutation (:func:`shuffle`).
      4. :func:`sort_segments` sorts the shuffled rows with public control flow;
         each batch of composite comparisons is evaluated and opened with
         :func:`_less_keys_tiebreak` (1, 2, 4, 8 or 16 key columns and
         n ≤ 2^32) or :func:`_composite_less` (otherwise).
      5. The resulting public order of the shuffled rows is applied locally to
         the shuffled key and payload columns.
    Why opening comparisons is safe: after step 3 the rows are in an order that
    is a uniformly random permutation unknown to every single party (each party
    misses one of the three pass permutations), and all composite keys are
    distinct, so the relative ranks of the shuffled rows form a uniform random
    permutation independent of the data. Every opened bit and every choice of
    the next comparison is a deterministic function of those ranks and of n,
    hence simulatable from n alone (Hamada et al.).
    Source: Hamada, Kikuchi, Ikarashi, Chida, Takahashi, ICISC 2012
    (shuffle + comparison sort with opened outcomes, index tiebreak); shuffle:
    Araki et al., CCS 2021 §4; a2b: ABY3 §5.3.
    Rounds: 8 (a2b) + 5 (shuffle: the boolean and the arithmetic columns are
    two blocks, more when the table exceeds BLOCK_WORDS words) + per comparison
    batch 8 + log2 c (:func:`_less_keys_tiebreak`) or 7 + log2 W'
    (:func:`_composite_less`, W' = c + 1 rounded up to a power of two). The
    number of batches is ≈ log2 n + 2·log2 log2 n and random (it depends on the
    shuffle's permutation, never on the data): measured 13–16 for n = 200, 23–27
    for n = 5000, 31–36 for n = 10^5 and 39–40 for n = 10^6 (:func:`sort_segments`;
    ``tests/mpc/test_rounds.py``, ``tests/mpc/test_sort.py``).
    Bytes per element per party: ≈ 101 per key column (a2b) + 16 per shuffled
    column (2c + 1 + payload columns) + ≈ 1.07·log2(n) comparisons of ≈ 25
    bytes (c = 1), ≈ 42 (c = 2) or ≈ 16·W' (c = 3, 5, …); measured for c = 1:
    ≈ 520 bytes per element at n = 10^4 (``benchmarks.latency``), growing with log n.
    Leakage: none beyond n (and the number and kinds of columns).
    """
    n_keys = len(keys)
    if n_keys == 0:
        raise ValueError("sort: at least one key column is required")
    if n_keys + 1 > MAX_WORDS:
        raise ValueError(f"sort: at most {MAX_WORDS - 1} key columns are supported")
    flags = [False] * n_keys if descending is None else [bool(f) for f in descending]
    if len(flags) != n_keys:
        raise ValueError("sort: one descending flag per key column is required")
    n = len(keys[0])
    if any(len(c) != n for c in [*keys, *payload]):
        raise ValueError("sort: all key and payload columns must have the same length")
    if n <= 1:
        return [AShare(k.a, k.b) for k in keys], list(payload)

    # 1. boolean, order-preserving unsigned words.
    bits = a2b(party, concat_a(list(keys)))
    words: list[BShare] = []
    for j, desc in enumerate(flags):
        mask = ALL_ONES ^ SIGN_BIT if desc else SIGN_BIT
        words.append(xor_public(party.index, bits[j * n : (j + 1) * n], mask))
    # 2. tiebreak.
    words.append(public_b(party.index, np.arange(n, dtype=U64)))
    # 3. shuffle everything in one go.
    del bits
    table: list[AShare | BShare] = [*words, *keys, *payload]
    mixed = shuffle(party, table)
    n_words = len(words)
    del words, table  # only the shuffled copies are needed from here on
    # 4. sample sort with opened comparisons.
    cmp: _KeysTiebreakComparator | _WordsComparator
    boolean_words = [c for c in mixed[:n_words] if isinstance(c, BShare)]
    if n_keys in (1, 2, 4, 8, 16) and n <= 1 << 32:
        cmp = _KeysTiebreakComparator(party, boolean_words[:n_keys], boolean_words[n_keys])
    else:
        cmp = _WordsComparator(party, boolean_words)
    # The comparator holds the key words now; drop the other references so that
    # each relayout frees the previous layout.
    del boolean_words
    for j in range(n_words):
        mixed[j] = mixed[j][:0]
    order = sort_segments(
        cmp.less, np.arange(n, dtype=np.int64), np.array([n], dtype=np.int64), cmp.relayout
    )

    # 5. apply the public order to the shuffled columns, releasing each as it is gathered.
    del cmp
    out: list[AShare | BShare] = []
    for j in range(n_words, len(mixed)):
        out.append(mixed[j][order])
        mixed[j] = mixed[j][:0]
    out_keys: list[AShare] = []
    for c in out[:n_keys]:
        assert isinstance(c, AShare)
        out_keys.append(c)
    return out_keys, out[n_keys:]
