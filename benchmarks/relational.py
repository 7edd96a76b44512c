"""The relational operators one by one, three TLS node processes, checked against DuckDB.

Usage::

    .venv/bin/python -m benchmarks.relational --sizes 10000,100000,1000000 [--ops filter,join]

Each operator is one small SQL plan over generated tables (``a``: n rows with a
unique id ``k`` and a value ``x``; ``b``: n rows with an id ``k`` of which half
occur in ``a``, a group ``g`` with about n/100 distinct values and a value
``y``). The owners' side (this process) encodes and splits the columns the
plan needs; three node processes connected by mutual TLS on loopback build the
shared tables and run the compiled plan (:class:`tyst.engine.executor.Executor`),
timed between barriers; this process combines and decodes the result and
compares it with DuckDB on the same rows. Prints one line per measurement::

    OP n=N seconds=S cpu_seconds=C sent_mb=M peak_mib=P correct=true

(``seconds``: the slowest node's wall time of the operator; ``cpu_seconds``,
``sent_mb``, ``peak_mib``: the maximum over the three nodes) and returns the
records to :mod:`benchmarks.report`.
"""

from __future__ import annotations

import argparse
import cProfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]

from tyst.client.recipient import decode
from tyst.data.encoding import encode_column
from tyst.data.types import ColumnType
from tyst.engine.metrics import NodeMetrics
from tyst.mpc.outsourced import NodeShares, combine, split
from tyst.mpc.party import Party
from tyst.mpc.shares import AShare
from tyst.net.launcher import Route, run_tls_parties
from tyst.net.local import LocalTransport, run_local
from tyst.net.transport import Transport
from tyst.node.program import NodeResult, execute
from tyst.plan import parse_plan
from tyst.planner.jobspec import JobSpec, job_spec
from tyst.planner.passes import physical_plan
from tyst.planner.physical import PhysicalPlan
from tyst.relational.table import SharedColumn, SharedTable, all_valid
from tyst.release.mechanisms import Mechanism, mechanisms

PLAN = """
[analysis]
title = "relational benchmark"
purpose = "benchmark"
legal_basis = "none"
retention_days = 1

[parties.p]
name = "P"
[parties.q]
name = "Q"

[tables.a]
owner = "p"
columns = {{ k = "id", x = "int" }}
unique = ["k"]
[tables.b]
owner = "q"
columns = {{ k = "id", g = "int", y = "int" }}
ranges = {{ g = [0, 10000000], y = [0, 1000000] }}

[query]
sql = \"\"\"{sql}\"\"\"

[output]
recipients = ["p"]
"""

QUERIES: dict[str, str] = {
    "filter": "SELECT k, y FROM b WHERE y > 500000",
    "join": "SELECT COUNT(*) AS c, SUM(b.y) AS s FROM a JOIN b ON a.k = b.k",
    "semi_join": "SELECT COUNT(*) AS c, SUM(y) AS s FROM b WHERE k IN (SELECT k FROM a)",
    "anti_join": "SELECT COUNT(*) AS c, SUM(y) AS s FROM b WHERE k NOT IN (SELECT k FROM a)",
    "group_by": "SELECT g, COUNT(*) AS c, SUM(y) AS s, AVG(y) AS m FROM b GROUP BY g",
    "order_limit": "SELECT g, y FROM b ORDER BY y DESC, g LIMIT 10",
}
OPERATORS = tuple(QUERIES)


@dataclass(frozen=True)
class Measurement:
    """One operator at one size."""

    op: str
    n: int
    seconds: float
    nodes: list[NodeMetrics]
    correct: bool

    def line(self) -> str:
        return (
            f"{self.op} n={self.n} seconds={self.seconds:.3f} "
            f"cpu_seconds={max(m.cpu_seconds for m in self.nodes):.3f} "
            f"sent_mb={max(m.bytes_sent for m in self.nodes) / 1e6:.1f} "
            f"peak_mib={max(m.peak_rss_bytes for m in self.nodes) / 2**20:.0f} "
            f"correct={'true' if self.correct else 'false'}"
        )


def make_tables(n: int, seed: int) -> dict[str, dict[str, list[str]]]:
    """The generated rows as text, per table and column (what an owner's CSV holds)."""
    rng = np.random.default_rng(seed)
    ids = rng.permutation(2 * n)
    b_ids = np.concatenate([ids[: n // 2], ids[n : n + n - n // 2]])
    rng.shuffle(b_ids)
    return {
        "a": {"k": [f"p{v}" for v in ids[:n]], "x": [str(v) for v in rng.integers(0, 10**6, n)]},
        "b": {
            "k": [f"p{v}" for v in b_ids],
            "g": [str(v) for v in rng.integers(0, max(1, n // 100), n)],
            "y": [str(v) for v in rng.integers(0, 10**6, n)],
        },
    }


def _program(
    transport: Transport,
    plan: PhysicalPlan,
    schemas: dict[str, dict[str, ColumnType]],
    tables: dict[str, tuple[int, dict[str, list[tuple[np.ndarray, np.ndarray]]]]],
    release: tuple[Mechanism, ...],
) -> NodeResult:
    party = Party.setup(transport, domain=b"benchmarks.relational")
    inputs = {
        name: SharedTable(
            {
                c: SharedColumn(schemas[name][c], tuple(AShare(a, b) for a, b in lanes))
                for c, lanes in cols.items()
            },
            all_valid(party.index, rows),
            name,
        )
        for name, (rows, cols) in tables.items()
    }
    del tables
    return execute(party, inputs, plan, release)


def _shares(
    spec: JobSpec, data: dict[str, dict[str, list[str]]]
) -> list[dict[str, tuple[int, dict[str, list[tuple[np.ndarray, np.ndarray]]]]]]:
    per: list[dict[str, tuple[int, dict[str, list[tuple[np.ndarray, np.ndarray]]]]]] = [{}, {}, {}]
    for table, schema in spec.schemas.items():
        rows = len(next(iter(data[table].values())))
        columns: list[dict[str, list[tuple[np.ndarray, np.ndarray]]]] = [{}, {}, {}]
        for c, ctype in schema.items():
            full = spec.plan.tables[table].columns[c]
            for lane in encode_column(full, data[table][c])[: ctype.lanes]:
                for part in split(lane):
                    columns[part.party].setdefault(c, []).append((part.first, part.second))
        for i in range(3):
            per[i][table] = (rows, columns[i])
    return per


def _reference(sql: str, data: dict[str, dict[str, list[str]]]) -> list[tuple[str, ...]]:
    con = duckdb.connect()
    types = {"k": pa.string(), "x": pa.int64(), "g": pa.int64(), "y": pa.int64()}
    for name, columns in data.items():
        arrow = pa.table(
            {c: pa.array(v, type=pa.string()).cast(types[c]) for c, v in columns.items()}
        )
        con.register(name, arrow)
    rows = con.execute(sql).fetchall()
    return sorted(tuple(_text(v) for v in r) for r in rows)


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6f}"
    return str(v)


def _normal(rows: list[list[str]]) -> list[tuple[str, ...]]:
    out = []
    for r in rows:
        out.append(tuple(f"{float(v):.6f}" if "." in v else v for v in r))
    return sorted(out)


def measure(
    op: str,
    n: int,
    *,
    seed: int = 1,
    timeout: float = 600.0,
    sql: str | None = None,
    route: Route | None = None,
) -> Measurement:
    """Run one operator's plan at size ``n``; see the module docstring. ``sql`` replaces the
    operator's query (over the same tables); ``route`` dials the nodes through a relay
    (:mod:`benchmarks.relay`)."""
    sql = QUERIES[op] if sql is None else sql
    data = make_tables(n, seed)
    reference = _reference(sql, data)
    return measure_plan(
        op,
        n,
        PLAN.format(sql=sql),
        data,
        lambda rows: _normal(rows) == reference,
        facts={"a": [("k",)]},
        timeout=timeout,
        route=route,
    )


def _decode(spec: JobSpec, results: list[NodeResult]) -> list[list[str]]:
    """The recipient's decoded rows from the three nodes' result shares."""
    combined = {
        a.name: combine(
            [NodeShares(i, r.arrays[j].kind, r.arrays[j].first, r.arrays[j].second)
             for i, r in enumerate(results)]
        )
        for j, a in enumerate(results[0].arrays)
    }  # fmt: skip
    return decode(spec, combined).rows


def measure_plan(
    op: str,
    n: int,
    plan_toml: str,
    data: dict[str, dict[str, list[str]]],
    check: Callable[[list[list[str]]], bool],
    *,
    facts: dict[str, list[tuple[str, ...]]] | None = None,
    timeout: float = 600.0,
    route: Route | None = None,
) -> Measurement:
    """Run a plan (TOML text) over ``data`` (text rows per table and column) on three TLS
    node processes; ``check`` judges the decoded result rows; ``facts``: declared keys."""
    plan = parse_plan(plan_toml, f"relational-{op}.toml")
    spec = job_spec(plan)
    per = _shares(spec, data)
    results = run_tls_parties(
        _program,
        (physical_plan(spec.compiled.plan, spec.facts(facts or {})), spec.schemas),
        per_party_args=[(per[i], mechanisms(plan)) for i in range(3)],
        timeout=timeout,
        deadline=max(600.0, 20 * timeout),
        route=route,
    )
    del per
    correct = check(_decode(spec, results))
    nodes = [r.metrics for r in results]
    return Measurement(op, n, max(m.seconds for m in nodes), nodes, correct)


def run_threads(
    plan_toml: str, data: dict[str, dict[str, list[str]]], profiler: cProfile.Profile
) -> list[list[str]]:
    """Run a plan over ``data`` on three threads of this process (in-memory transport),
    with ``profiler`` enabled in party 0's thread only; return the decoded result rows."""
    spec = job_spec(parse_plan(plan_toml, "profile.toml"))
    per = _shares(spec, data)
    plan = physical_plan(spec.compiled.plan, spec.facts({}))
    release = mechanisms(spec.plan)

    def body(transport: LocalTransport) -> NodeResult:
        if transport.party != 0:
            return _program(transport, plan, spec.schemas, per[transport.party], release)
        profiler.enable()
        try:
            return _program(transport, plan, spec.schemas, per[0], release)
        finally:
            profiler.disable()

    return _decode(spec, run_local(body, timeout=600.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--ops", default=",".join(OPERATORS))
    args = parser.parse_args()
    for n in (int(s) for s in args.sizes.split(",")):
        for op in args.ops.split(","):
            started = time.perf_counter()
            m = measure(op, n)
            print(m.line(), f"total_seconds={time.perf_counter() - started:.1f}", flush=True)


if __name__ == "__main__":
    main()
