"""What owners, nodes and recipients all derive from a plan, identically.

Contract: :func:`job_spec` compiles the plan's SQL against its tables, runs
the planner's logical passes with the facts the plan declares (the join order,
:mod:`tyst.planner.join_order`), and fixes, per table the query reads, the
**shared schema** — the columns an owner secret-shares and a node expects (the
columns the plan needs; id/text columns that are only compared travel as their
two key lanes, see :mod:`tyst.planner.pruning`) — and the columns each table is
joined on (whose uniqueness the owner checks in its own data). Everyone computes
this from the signed plan text alone, so a node can refuse an upload whose
columns differ. Errors: ``SqlError`` from the compiler.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from tyst.data.types import ColumnType, TableBounds
from tyst.plan import Plan
from tyst.planner.passes import logical_plan
from tyst.planner.planning import TableFacts, join_key_columns
from tyst.planner.pruning import Need, table_needs
from tyst.release.mechanisms import Mechanism, mechanisms, min_group_size
from tyst.release.privacy import bound_plan, calibration, check_noise_fits
from tyst.sql import ir
from tyst.sql.compiler import compile_sql, with_found
from tyst.sql.errors import SqlError
from tyst.sql.ranges import check_ranges


@dataclass(frozen=True)
class JobSpec:
    """A compiled plan with the per-table facts every role needs."""

    plan: Plan
    compiled: ir.CompiledQuery
    schemas: dict[str, dict[str, ColumnType]]
    """Per table read by the query: the shared schema (column → type), in plan order."""
    join_columns: dict[str, set[str]]
    """Per table: the columns it is joined on."""

    @property
    def release(self) -> tuple[Mechanism, ...]:
        """The plan's release mechanisms, in order (:mod:`tyst.release.mechanisms`)."""
        return mechanisms(self.plan)

    @property
    def tables(self) -> list[str]:
        """The tables the query reads (each must be uploaded)."""
        return list(self.schemas)

    def lanes(self, table: str) -> tuple[tuple[str, int], ...]:
        """(column, lane count) of a table's shared schema, in order."""
        return tuple((c, t.lanes) for c, t in self.schemas[table].items())

    def facts(self, found_unique: Mapping[str, Iterable[Iterable[str]]]) -> dict[str, TableFacts]:
        """Per table: the declared unique key plus the join-column sets its owner found unique."""
        return plan_facts(self.plan, found_unique)

    def domain(self, job: str) -> bytes:
        """The randomness domain of one job of this plan (fresh per job)."""
        return f"tyst-job:{self.plan.digest()}:{job}".encode()


def shared_schema(
    columns: Mapping[str, ColumnType], needs: Mapping[str, Need]
) -> dict[str, ColumnType]:
    """The columns an owner shares: those the plan needs, id/text compared-only ones as
    key-only; the owner's file is still validated in full."""
    return {
        c: (t.keys_only() if t.is_text and needs[c] == "key" else t)
        for c, t in columns.items()
        if c in needs
    }


def plan_facts(
    plan: Plan, found_unique: Mapping[str, Iterable[Iterable[str]]] | None = None
) -> dict[str, TableFacts]:
    """Per table: the declared unique key and ``max_rows_per_key``, plus the column sets its
    owner's data check found unique (none: the declared facts alone, as at compile time)."""
    found_unique = found_unique or {}
    facts: dict[str, TableFacts] = {}
    for name, decl in plan.tables.items():
        unique = [frozenset(decl.unique)] if decl.unique else []
        unique += sorted({frozenset(cols) for cols in found_unique.get(name, ())}, key=sorted)
        facts[name] = TableFacts(tuple(unique), decl.max_rows_per_key)
    return facts


def plan_bounds(plan: Plan) -> dict[str, TableBounds]:
    """The declared row and value bounds of every table (for the ``ranges`` pass)."""
    return {name: t.bounds() for name, t in plan.tables.items()}


def release_plan(plan: Plan, root: ir.Node) -> ir.Node:
    """A ``[privacy]`` plan's query with its aggregate bounded for the noise the release stage
    adds, refused if it cannot be (``SqlError``, :mod:`tyst.release.privacy`); others as is."""
    if plan.privacy is None:
        return root
    bounded = bound_plan(plan.privacy, root)
    if plan.min_group_size > 1:
        message = (
            "min_group_size with [privacy]: the noisy release keeps every declared key "
            "(suppressing by a noisy or exact count would undo it); remove min_group_size"
        )
        raise SqlError("privacy", message, None, None)
    rows = max(plan.tables[t].row_limit for t in plan.tables)
    check_noise_fits(calibration(plan.privacy, bounded), rows)
    return bounded


def compile_plan(plan: Plan) -> ir.CompiledQuery:
    """The plan's SQL compiled against its tables, then the planner's logical passes with the
    declared facts (the join order); raises ``SqlError``."""
    schemas = {name: dict(t.columns) for name, t in plan.tables.items()}
    bounds = plan_bounds(plan)
    threshold = min_group_size(mechanisms(plan))
    compiled = compile_sql(plan.sql, schemas, min_group_size=threshold, bounds=bounds)
    root = logical_plan(compiled.plan, plan_facts(plan))
    root = release_plan(plan, root)
    if root is compiled.plan:
        return compiled
    found = check_ranges(root, bounds)  # a re-ordered join bounds its rows anew:
    return replace(compiled, plan=with_found(root, found))  # its bounds are written anew


def job_spec(plan: Plan) -> JobSpec:
    """Compile ``plan`` and derive the shared schemas and join columns."""
    compiled = compile_plan(plan)
    needs = table_needs(compiled.plan)
    schemas = {t: shared_schema(plan.tables[t].columns, needs.get(t, {})) for t in compiled.tables}
    joined = {
        t: {c for cols in sets for c in cols} for t, sets in join_key_columns(compiled.plan).items()
    }
    return JobSpec(plan, compiled, schemas, joined)
