"""``tyst check``: what a plan does, who receives what and what the nodes learn, before any run.

Written for a lawyer as much as an engineer: every section is plain text.
Nothing here contacts a node; data files (if given) are read on this machine
only, and the report shows values only in problem messages about that file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tyst.coordinator.protocol import (
    DEFAULT_MAX_RESULT_BYTES,
    RESULT_CHUNK_BYTES,
    chunk_count,
)
from tyst.data.report import DataReport, prepare_report
from tyst.data.types import ColumnType
from tyst.jobs.budget_report import privacy_lines
from tyst.jobs.rounds import measure_steps
from tyst.node.ledger import BudgetLedger
from tyst.ops.registry import disclosures, render_plan
from tyst.plan import Plan
from tyst.planner.jobspec import compile_plan, job_spec
from tyst.planner.passes import physical_plan
from tyst.planner.physical import PhysicalPlan
from tyst.planner.planning import PlanningError, TableFacts, join_key_columns
from tyst.planner.sizes import padded_rows, result_bytes, result_lanes
from tyst.release.mechanisms import Noise, Suppress, mechanisms, ordering, suppressing
from tyst.release.privacy import calibration
from tyst.service.sealing import OVERHEAD
from tyst.sql import ir


@dataclass(frozen=True)
class CheckReport:
    """The rendered text and whether everything checked out."""

    text: str
    ok: bool


def _type_name(ctype: object) -> str:
    text = str(ctype)
    return "average (decimal, divided by the recipient)" if text == "ratio" else text


def release_lines(plan: Plan, root: ir.Node) -> list[str]:
    """The release stage, mechanism by mechanism, in order of application."""
    release = mechanisms(plan)
    lines = ["  Before it is sealed for the recipients, the result passes the release stage:"]
    for number, mechanism in enumerate(release, 1):
        if isinstance(mechanism, Suppress) and not suppressing(root):
            lines.append(f"    {number}. suppress: no GROUP BY here, nothing to leave out")
            continue
        lines.append(f"    {number}. {mechanism.describe()}")
        bounded = isinstance(root, ir.Project) and isinstance(root.input, ir.BoundedAggregate)
        if isinstance(mechanism, Noise) and bounded:
            columns = calibration(mechanism.privacy, root)
            for column in columns:
                lines.append(f"       {ir.display_name(column.name)}: {column.describe()}")
            noisy = {c.name for c in columns}
            exact = [n for n, _ in root.schema if n not in noisy]
            if exact:
                shown = ", ".join(ir.display_name(n) for n in exact)
                lines.append(f"       exact (public keys): {shown}")
    return lines


def check_plan(
    plan: Plan,
    data: Mapping[str, Path] | None = None,
    rows: Mapping[str, int] | None = None,
    *,
    max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES,
    ledger: BudgetLedger | None = None,
) -> CheckReport:
    """Compile the plan, choose join strategies, read the data files given; render all of it.

    With ``ledger`` (a node's, read only), a ``[privacy]`` plan's section also shows the budget
    left at that node; one run that does not fit there is ``ok=False``.

    With ``rows`` (a row count per table), also run the plan in-process over zero shares of
    those sizes and show each step's measured rounds and bytes (:mod:`tyst.jobs.rounds`).
    Raises ``SqlError`` for SQL that cannot run (one line); data problems, joins
    that cannot be planned and a result that could not be delivered (its padded
    size, from the declared ``max_rows`` and the files given, above
    ``max_result_bytes``: the coordinator's limit) are reported in the text with
    ``ok=False``.
    """
    data = data or {}
    compiled = compile_plan(plan)
    root = compiled.plan
    ok = True
    out: list[str] = []
    a = plan.analysis
    out += [
        f"Analysis: {a.title}",
        f"  purpose: {a.purpose}",
        f"  legal basis: {a.legal_basis}",
        f"  encrypted data kept at most {a.retention_days} days",
        f"  plan digest (what every owner signs): {plan.digest()}",
        "",
        "Parties:",
    ]
    for pid, party in plan.parties.items():
        roles = [f"owns {t}" for t, d in plan.tables.items() if d.owner == pid]
        if pid in plan.recipients:
            roles.append("receives the result")
        out.append(f"  {pid} — {party.name}: {', '.join(roles) or 'no role'}")

    out += ["", "What each recipient receives:"]
    names = ", ".join(plan.parties[r].name for r in plan.recipients)
    out.append(f"  {names}: a table with the columns")
    for name, ctype in root.schema:
        out.append(f"    {ir.display_name(name)}  ({_type_name(ctype)})")
    order = ordering(root)
    if order is not None:
        limit = f", at most {order.limit} rows" if order.limit is not None else ""
        out.append(f"  in the query's ORDER BY order{limit}.")
    out += release_lines(plan, root)
    dp, fits = privacy_lines(plan, compiled.tables, ledger)
    if dp:
        out += ["", "Differential privacy ([privacy]):", *dp]
        ok = ok and fits

    out += ["", "What the three compute nodes learn (leakage):"]
    tables = ", ".join(compiled.tables)
    out.append(f"  - the number of rows of each input table ({tables}) and this plan;")
    for operator, disclosure in disclosures(root):
        if operator == "scan":  # the row counts, said above
            continue
        out.append(f"  - {operator}: {disclosure.what} ({disclosure.when});")
    joins = [n for n in root.walk() if isinstance(n, ir.Join)]
    if joins:
        out.append(
            f"  - this plan has {len(joins)} join(s); for each table joined directly, whether "
            "the owner's own data check found it unique on its join columns (this decides "
            "how the join runs);"
        )
    size = "" if "reveal_result_size" in plan.allow else ", no result size"
    out.append(
        "  - nothing else: no values, no filter or join selectivity, no group counts"
        f"{size}. Every node holds only random-looking shares."
    )
    if plan.allow:
        out.append(f"  - and what the plan's [policy] allow adds: {', '.join(plan.allow)}")

    reports: dict[str, DataReport] = {}
    keys = join_key_columns(root)
    for table, path in data.items():
        decl = plan.tables.get(table)
        if decl is None:
            out += ["", f"Data: --data {table}=…: the plan has no table {table!r}"]
            ok = False
            continue
        reports[table] = table_report(plan, table, path, keys)

    found = {
        table: {cols for cols, dups in report.duplicate_keys.items() if dups == 0}
        for table, report in reports.items()
        if not report.problems
    }
    facts: Mapping[str, TableFacts] = job_spec(plan).facts(found)
    out += ["", "Operator plan (each step oblivious):", render_plan(root)]
    if joins:
        out.append("How the joins run:")
    physical = None
    try:
        physical = physical_plan(root, facts)
        out += [f"  {line}" for line in physical.render_joins()]
        if rows is not None:
            out += _rounds_section(physical, job_spec(plan).schemas, rows)
    except PlanningError as exc:
        ok = False
        out.append(f"  cannot run yet: {exc}")
        if not data:
            out.append("  (pass --data TABLE=FILE to let the owners' files show unique keys)")
    if physical is not None:
        lines, deliverable = result_size(plan, physical, reports, max_result_bytes)
        out += ["", "Result size (public: a function of the tables' sizes):", *lines]
        ok = ok and deliverable

    if reports:
        out += ["", "Data preparation (shown to the data owner only):"]
        for table, report in reports.items():
            out.append(f"  {table}: {report.render()}")
            if report.problems:
                ok = False
    return CheckReport("\n".join(out), ok)


def table_report(
    plan: Plan, table: str, path: Path, keys: Mapping[str, set[tuple[str, ...]]] | None = None
) -> DataReport:
    """The owner's data-preparation report on ``path`` as ``plan``'s ``table``: its
    declared columns and bounds, and the uniqueness of the columns the query joins it on
    (``keys``: :func:`join_key_columns` of the compiled plan, computed if not given)."""
    decl = plan.tables[table]
    if keys is None:
        keys = join_key_columns(compile_plan(plan).plan)
    return prepare_report(
        path,
        decl.columns,
        key_columns=sorted(keys.get(table, set())),
        bounds=decl.bounds(),
        unique=decl.unique,
    )


def _rounds_section(
    physical: PhysicalPlan,
    schemas: Mapping[str, Mapping[str, ColumnType]],
    rows: Mapping[str, int],
) -> list[str]:
    """Per step: the rounds and bytes per node measured in-process at ``rows``."""
    sizes = ", ".join(f"{t} = {rows.get(t, '?')}" for t in schemas)
    out = ["", f"Rounds and traffic per step (measured in-process at {sizes} rows):"]
    try:
        steps = measure_steps(physical, schemas, rows)
    except ValueError as exc:
        return [*out, f"  not measured: {exc} (pass --rows TABLE=N for every table)"]
    for s in steps:
        out.append(
            f"  step {s.number} ({s.operator}): {s.rounds} rounds, "
            f"{s.bytes_sent / 1e6:.3f} MB sent per node"
        )
    total = sum(s.rounds for s in steps)
    out.append(
        f"  in all: ≈ {total} rounds, so at least {total} one-way delays between the nodes "
        "(sorts vary by a few per cent from run to run)"
    )
    return out


def sealed_bytes(payload: int) -> int:
    """Bytes of one node's sealed result for one recipient, from its unsealed size."""
    return payload + OVERHEAD * chunk_count(payload, RESULT_CHUNK_BYTES)


def _size(n: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit} ({n:,} bytes)"
    return f"{n:,} bytes"


def result_size(
    plan: Plan,
    physical: PhysicalPlan,
    reports: Mapping[str, DataReport],
    max_result_bytes: int,
) -> tuple[list[str], bool]:
    """The ``tyst check`` lines on the padded result's size and whether it can be delivered.

    Sizes: a table's data file's rows when given, else its declared ``max_rows`` (or
    the default). The result cannot be delivered when, with every table at its declared
    or counted size, one node's sealed result for one recipient exceeds
    ``max_result_bytes``; a bound resting on undeclared defaults only warns (the nodes
    check the uploaded sizes before they run)."""
    rows = {t: reports[t].rows if t in reports else d.row_limit for t, d in plan.tables.items()}
    assumed = sorted(t for t, d in plan.tables.items() if t not in reports and d.max_rows is None)
    try:
        n = padded_rows(physical, rows)
    except ValueError as exc:
        return [f"  not computed: {exc}"], True
    sealed = sealed_bytes(result_bytes(physical, rows))
    chunks = chunk_count(sealed - OVERHEAD, RESULT_CHUNK_BYTES)
    lines = [
        f"  at most {n:,} padded rows of {result_lanes(physical)} share lanes: up to "
        f"{_size(sealed)} per compute node and recipient, relayed in {chunks:,} sealed "
        f"chunk(s) of at most {RESULT_CHUNK_BYTES // 2**20} MiB;",
        f"  the coordinator relays at most {_size(max_result_bytes)} (max_result_bytes).",
    ]
    if sealed <= max_result_bytes:
        return lines, True
    largest = max(rows, key=lambda t: rows[t])
    fix = (
        f"declare a smaller [tables.{largest}] max_rows ({rows[largest]:,} now) or raise "
        "the coordinator's max_result_bytes (tyst check --max-result-bytes to check against it)"
    )
    if assumed:
        lines.append(
            f"  warning: with the default max_rows assumed for {', '.join(assumed)} the result "
            f"could not be delivered; {fix}. The nodes refuse a run whose uploaded sizes give "
            "too large a result before computing it."
        )
        return lines, True
    lines.append(f"  cannot be delivered: the result exceeds max_result_bytes; {fix}.")
    return lines, False
