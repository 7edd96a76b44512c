"""Run a compiled logical plan on the three nodes: one method per operator type.

Contract: :meth:`Executor.run` takes the plan's root and returns the result
as a padded :class:`SharedTable` (validity bits, no row ever removed), whose
column names are the query's output names. Inputs are the owners' tables as
shared tables keyed by table name (columns named as in the plan). Nothing is
opened here except by the operators' documented protocols and by
:meth:`Executor.reveal_checks`, which opens the run's integrity checks (one
bit each, e.g. "the pk side of this join had duplicate keys") to all nodes.

Besides the result, a run produces (secret until the caller reveals them):
``suppressed`` — per GROUP BY with ``min_group_size``, the number of groups
suppressed; ``global_counts`` — per global aggregate, the number of rows it
aggregated (so the recipient can show SQL's NULL for SUM/MIN/MAX/AVG of no rows).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from tyst.engine.expressions import Evaluator
from tyst.engine.planning import Facts, JoinStrategy, choose_join
from tyst.engine.pruning import Need, scan_needs
from tyst.mpc.party import Party
from tyst.mpc.protocols import boolean
from tyst.mpc.protocols.compare import eq, lt, not_bit
from tyst.mpc.protocols.conversion import bit_to_arith
from tyst.mpc.protocols.sort import sort
from tyst.mpc.shares import AShare, BShare, concat_a, concat_b, public_a
from tyst.relational.aggregate import AggSpec, distinct, group_by
from tyst.relational.join import join_pk_fk, semi_join
from tyst.relational.join_scan import copy_forward, segment_starts
from tyst.relational.ordering import order_limit
from tyst.relational.table import SharedColumn, SharedTable, concat_tables
from tyst.ring.words import U64
from tyst.sql import ir


class ExecutionError(Exception):
    """A run that must stop (an integrity check failed); str() is one line."""


@dataclass(frozen=True)
class Check:
    """A shared bit that must be 0; ``message`` says what a 1 means."""

    message: str
    bit: BShare


_AGG_FUNCS = {"COUNT": "count", "SUM": "sum", "MIN": "min", "MAX": "max"}


class Executor:
    """Executes IR operators over shared tables for one party."""

    def __init__(
        self, party: Party, inputs: Mapping[str, SharedTable], facts: Facts | None = None
    ) -> None:
        self.party = party
        self.inputs = dict(inputs)  # a scanned table is dropped after its last scan
        self.facts: Facts = facts or {}
        self.checks: list[Check] = []
        self._needs: dict[str, Need] | None = None
        self._scans_left: Counter[str] = Counter()
        self.suppressed: list[AShare] = []
        self.global_counts: list[AShare] = []

    def run(self, node: ir.Node) -> SharedTable:
        """The operator's output table (see module contract)."""
        if self._needs is None:  # the first call gets the root: decide which columns to carry
            self._needs = scan_needs(node)
            self._scans_left = Counter(n.table for n in _nodes(node) if isinstance(n, ir.Scan))
        method = getattr(self, f"_{type(node).__name__.lower()}", None)
        if method is None:
            raise TypeError(f"no executor for operator {type(node).__name__}")
        result: SharedTable = method(node)
        names = [n for n, _ in node.schema if n in result.columns]
        if list(result.columns) != names:
            raise AssertionError(f"{type(node).__name__} produced {list(result.columns)}")
        return result

    def reveal_checks(self) -> None:
        """Open every integrity check bit to all nodes (declared disclosure: one bit each).

        Raises :class:`ExecutionError` with the first failed check's message.
        """
        if not self.checks:
            return
        bits = boolean.reveal_bool_all(self.party, concat_b([c.bit for c in self.checks]))
        for check, bit in zip(self.checks, bits.tolist(), strict=True):
            if int(bit) & 1:
                raise ExecutionError(check.message)

    # ---------------------------------------------------------------- row-wise operators

    def _scan(self, node: ir.Scan) -> SharedTable:
        """The table's columns the plan needs (:mod:`tyst.engine.pruning`); id/text columns
        that are only compared, joined or grouped on keep their key lanes only."""
        table = self.inputs[node.table]
        self._scans_left[node.table] -= 1
        if self._scans_left[node.table] == 0:  # free the input as soon as nothing reads it
            del self.inputs[node.table]
        assert self._needs is not None
        columns: dict[str, SharedColumn] = {}
        for name, col in table.columns.items():
            full = f"{node.alias}.{name}"
            level = self._needs.get(full)
            if level is None:
                continue
            if level == "key" and col.ctype.is_text and not col.ctype.key_only:
                col = SharedColumn(col.ctype.keys_only(), col.key)
            columns[full] = col
        return SharedTable(columns, table.valid, node.alias)

    def _filter(self, node: ir.Filter) -> SharedTable:
        table = self.run(node.input)
        bit = Evaluator(self.party, table).predicate(node.predicate)
        return table.with_valid(boolean.and_(self.party, table.valid, bit))

    def _project(self, node: ir.Project) -> SharedTable:
        table = self.run(node.input)
        evaluator = Evaluator(self.party, table)
        columns: dict[str, SharedColumn] = {}
        for name, expr in node.outputs:
            columns[name] = evaluator.evaluate(expr)
        return SharedTable(columns, table.valid)

    def _unionall(self, node: ir.UnionAll) -> SharedTable:
        parts = [self.run(child) for child in node.inputs]
        names = [n for n, _ in node.schema]
        renamed = [
            SharedTable(dict(zip(names, t.columns.values(), strict=True)), t.valid) for t in parts
        ]
        return concat_tables(renamed)

    # ---------------------------------------------------------------- joins

    def _join(self, node: ir.Join) -> SharedTable:
        strategy = choose_join(node, self.facts)
        left, right = self.run(node.left), self.run(node.right)
        if strategy.pk == "right":
            pk, fk, pk_keys, fk_keys = right, left, node.right_keys, node.left_keys
        else:
            pk, fk, pk_keys, fk_keys = left, right, node.left_keys, node.right_keys
        if strategy.expand > 1:
            table = self._expanded_join(node, strategy, pk, fk, pk_keys, fk_keys)
        else:
            joined = join_pk_fk(self.party, pk, fk, pk_keys, fk_keys)
            self.checks.append(
                Check(
                    f"JOIN on {', '.join(pk_keys)}: the {strategy.pk} side has several rows "
                    "with the same join key, but the plan treats it as unique",
                    joined.duplicate_keys,
                )
            )
            table = joined.table
        return SharedTable(_pick(table, node.schema), table.valid)

    def _expanded_join(
        self,
        node: ir.Join,
        strategy: JoinStrategy,
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
        p, k = self.party, strategy.expand
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
        self.checks.append(
            Check(
                f"JOIN on {', '.join(pk_keys)}: the {strategy.pk} side has more than {k} rows "
                "with the same join key (its declared max_rows_per_key)",
                not_bit(p, eq(p, bit_to_arith(p, over).sum(), _zero(p))),
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
        return concat_tables(
            [SharedTable({c: t.column(c) for c in names_out}, t.valid) for t in parts]
        )

    def _semijoin(self, node: ir.SemiJoin) -> SharedTable:
        left, right = self.run(node.input), self.run(node.subquery)
        out = semi_join(
            self.party, left, right, node.input_keys, node.subquery_keys, anti=node.anti
        )
        return SharedTable(dict(out.columns), out.valid)

    # ---------------------------------------------------------------- grouping and ordering

    def _aggregate(self, node: ir.Aggregate) -> SharedTable:
        table = self.run(node.input)
        specs = []
        for call in node.calls:
            func = (
                "count_distinct"
                if call.func == "COUNT" and call.distinct
                else _AGG_FUNCS[call.func]
            )
            specs.append(AggSpec(func, call.arg, call.name))  # type: ignore[arg-type]
        grouped = group_by(self.party, table, node.keys, specs, min_group_size=node.min_group_size)
        if node.keys:
            if node.min_group_size > 1:
                self.suppressed.append(grouped.suppressed)
        else:
            self.global_counts.append(grouped.counts)
        return SharedTable(_pick(grouped.table, node.schema), grouped.table.valid)

    def _distinct(self, node: ir.Distinct) -> SharedTable:
        table = self.run(node.input)
        out = distinct(self.party, table)
        return SharedTable(_pick(out, node.schema), out.valid)

    def _orderlimit(self, node: ir.OrderLimit) -> SharedTable:
        table = self.run(node.input)
        out = order_limit(self.party, table, node.keys, node.limit)
        return SharedTable(_pick(out, node.schema), out.valid)


def _nodes(node: ir.Node) -> list[ir.Node]:
    """Every operator of the plan (pre-order)."""
    found = [node]
    for child in node.children():
        found += _nodes(child)
    return found


def _pick(table: SharedTable, schema: ir.Schema) -> dict[str, SharedColumn]:
    """The table's columns in schema order, skipping columns pruned below."""
    return {n: table.columns[n] for n, _ in schema if n in table.columns}


def _zero(party: Party) -> AShare:
    """A public one-element zero."""
    return public_a(party.index, np.zeros(1, dtype=U64))
