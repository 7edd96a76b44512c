"""``join``: the oblivious PK–FK equi-join, and the bounded many-to-many join built from it.

Which side is the unique (pk) side, and whether the join is expanded k times, is decided
once before the run from public facts (:mod:`tyst.planner.planning`) and handed to the
operator in :attr:`RunContext.joins`. Every join adds one integrity check bit, opened at
the end of the run: "the side treated as unique had duplicate keys" (or, expanded, "some
key had more than k rows").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tyst.mpc.protocols import boolean
from tyst.mpc.protocols.compare import eq, lt, not_bit
from tyst.mpc.protocols.conversion import bit_to_arith
from tyst.mpc.protocols.sort import sort
from tyst.mpc.shares import AShare, BShare, concat_a, concat_b, public_a
from tyst.ops.spec import (
    Check,
    Disclosure,
    JoinStrategy,
    Needs,
    OperatorSpec,
    RunContext,
    add_need,
    pick,
)
from tyst.relational.join import join_pk_fk
from tyst.relational.join_scan import copy_forward, segment_starts
from tyst.relational.null_keys import narrowed, null_safe_keys
from tyst.relational.table import SharedColumn, SharedTable, concat_tables
from tyst.ring.words import U64
from tyst.sql import ir


def execute(ctx: RunContext, node: ir.Join, inputs: Sequence[SharedTable]) -> SharedTable:
    """Rows with a NULL key match nothing (:mod:`tyst.relational.null_keys`). ``left``: every
    left row is kept, the right (unique) side's columns are 0 where none matched."""
    choice = ctx.joins[id(node)]
    left, right = inputs
    types = {**dict(node.left.schema), **dict(node.right.schema)}
    kept = node.kind == "left"
    left = null_safe_keys(
        ctx.party, left, node.left_keys, [types[k] for k in node.right_keys], drop_nulls=not kept
    )
    right = null_safe_keys(
        ctx.party, right, node.right_keys, [types[k] for k in node.left_keys], drop_nulls=True
    )
    if choice.pk == "right":
        pk, fk, pk_keys, fk_keys = right, left, node.right_keys, node.left_keys
    else:
        pk, fk, pk_keys, fk_keys = left, right, node.left_keys, node.right_keys
    if kept and (choice.pk != "right" or choice.expand > 1):
        raise AssertionError("a left join needs a unique right side (the planner checks it)")
    if choice.expand > 1:
        table = expanded_join(ctx, choice, pk, fk, pk_keys, fk_keys)
    else:
        joined = join_pk_fk(ctx.party, pk, fk, pk_keys, fk_keys, kind="left" if kept else "inner")
        ctx.checks.append(
            Check(
                f"JOIN on {', '.join(pk_keys)}: the {choice.pk} side has several rows "
                "with the same join key, but the plan treats it as unique",
                joined.duplicate_keys,
            )
        )
        table = joined.table
    return pick(narrowed(table, types), node.schema)


def expanded_join(
    ctx: RunContext,
    choice: JoinStrategy,
    pk: SharedTable,
    fk: SharedTable,
    pk_keys: tuple[str, ...],
    fk_keys: tuple[str, ...],
) -> SharedTable:
    """A many-to-many join with at most k pk rows per key, as k pk-fk joins.

    Steps: stable sort of the pk side by its key; each valid row's rank among
    the valid rows of its key (prefix count minus the count before the key's
    first row, copied forward); rows of rank r form a table that is unique on
    the key, joined to the fk side; the k results are concatenated (k · n_fk
    rows). A check bit records whether some key has more than k rows.
    Leakage: none beyond the row counts and the declared k.
    """
    p, k = ctx.party, choice.expand
    names = list(pk.columns)
    key_lanes = [lane for c in pk_keys for lane in pk.column(c).key]
    payload: list[AShare | BShare] = [lane for c in names for lane in pk.column(c).lanes]
    payload.append(pk.valid)
    sorted_keys, sorted_payload = sort(p, key_lanes, payload)
    valid_b = sorted_payload.pop()
    assert isinstance(valid_b, BShare)
    lanes = [x for x in sorted_payload if isinstance(x, AShare)]
    columns: dict[str, SharedColumn] = {}
    at = 0
    for c in names:
        ctype = pk.column(c).ctype
        columns[c] = SharedColumn(ctype, tuple(lanes[at : at + ctype.lanes]))
        at += ctype.lanes
    n = len(valid_b)
    valid = bit_to_arith(p, valid_b)
    before = AShare(np.cumsum(valid.a, dtype=U64), np.cumsum(valid.b, dtype=U64)) - valid
    if n:
        starts = bit_to_arith(p, segment_starts(p, sorted_keys))
        before = before - copy_forward(p, starts, [before])[0]
    rank = before
    over = boolean.and_(
        p, valid_b, not_bit(p, lt(p, rank, public_a(p.index, np.full(n, k, dtype=U64))))
    )
    zero = public_a(p.index, np.zeros(1, dtype=U64))
    ctx.checks.append(
        Check(
            f"JOIN on {', '.join(pk_keys)}: the {choice.pk} side has more than {k} rows "
            "with the same join key (its declared max_rows_per_key)",
            not_bit(p, eq(p, bit_to_arith(p, over).sum(), zero)),
        )
    )
    ranks = concat_a([rank] * k)
    targets = public_a(p.index, np.repeat(np.arange(k, dtype=U64), n))
    is_rank = eq(p, ranks, targets)
    valid_bits = boolean.and_(p, concat_b([valid_b] * k), is_rank)
    parts = []
    for r in range(k):
        pk_r = SharedTable(columns, valid_bits[r * n : (r + 1) * n])
        parts.append(join_pk_fk(p, pk_r, fk, pk_keys, fk_keys).table)
    names_out = list(parts[0].columns)
    return concat_tables([SharedTable({c: t.column(c) for c in names_out}, t.valid) for t in parts])


def needs(node: ir.Join, need: Needs) -> tuple[Needs, ...]:
    left_names = {n for n, _ in node.left.schema}
    left = {n: v for n, v in need.items() if n in left_names}
    right = {n: v for n, v in need.items() if n not in left_names}
    for key in node.left_keys:
        add_need(left, key, "key")
    for key in node.right_keys:
        add_need(right, key, "key")
    return left, right


def explain(node: ir.Join) -> str:
    keys = " AND ".join(f"{a} = {b}" for a, b in zip(node.left_keys, node.right_keys, strict=True))
    return f"{node.kind} join ON {keys}   [oblivious sort-based PK–FK join]"


SPEC = OperatorSpec(
    ir.Join,
    "join",
    execute,
    needs,
    explain,
    algorithm="PK–FK: one sort of n_pk + n_fk rows, run starts, Brent–Kung copy scan, "
    "duplicate count, shuffle-then-open compaction (tyst.relational.join); with "
    "max_rows_per_key = k: rank the pk side's rows per key (sort + scan), then k PK–FK joins; "
    "left (a correlated subquery's COUNTs): every left row kept, the unique right side's "
    "columns 0 where none matched",
    output_rows="n_fk (k · n_fk when expanded)",
    rounds="sort + ≈ 2·log2 n + 25 (k times when expanded)",
    discloses=(
        Disclosure(
            "one integrity bit per join: whether the side treated as unique on the join key "
            "really is (or has at most its declared max_rows_per_key rows per key)",
            when="at the end of the run",
        ),
        Disclosure(
            "the side bits of a shuffled table during compaction (simulatable from the row counts)",
        ),
    ),
)
