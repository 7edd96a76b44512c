"""Run a SQL query both ways — over secret shares (three in-process parties) and in DuckDB —
on the same plaintext rows, and return both results as comparable Python rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

import duckdb
import numpy as np

from tests.mpc.harness import run3
from tyst.data.encoding import decode_column
from tyst.data.types import ColumnType, join_null, split_null, text_lanes
from tyst.engine.executor import Executor
from tyst.mpc.outsourced import NodeShares, combine, split
from tyst.mpc.party import Party
from tyst.mpc.shares import AShare, BShare
from tyst.planner.passes import logical_plan, physical_plan
from tyst.planner.planning import TableFacts, join_key_columns
from tyst.planner.sizes import extras_bound, padded_rows, result_lanes
from tyst.relational.table import SharedColumn, SharedTable
from tyst.release.mechanisms import Mechanism, Pad, RevealSize, Shuffle, Suppress
from tyst.release.stage import release as release_stage
from tyst.ring.words import U64
from tyst.sql import ir
from tyst.sql.compiler import compile_sql, with_found
from tyst.sql.ranges import TableBounds, check_ranges

EPOCH = date(1970, 1, 1)
Rows = list[tuple[object, ...]]
Schema = Mapping[str, ColumnType]


_STAND_IN: dict[str, object] = {"date": EPOCH, "bool": False, "id": "x", "text": "x"}


def encode(ctype: ColumnType, values: Sequence[object]) -> list[np.ndarray]:
    """Lanes of a column per the contract of ``tyst.data.types`` (test-side encoder); None is
    NULL in a nullable column (value lanes 0, indicator 1)."""
    if ctype.nullable:
        nulls = np.array([v is None for v in values], dtype=bool)
        stand_in = _STAND_IN.get(ctype.kind, 0)
        base = encode(ctype.base, [stand_in if v is None else v for v in values])
        zeroed = [np.where(nulls, U64(0), lane).astype(U64) for lane in base]
        return join_null(ctype, zeroed, nulls.astype(U64))
    if ctype.is_text:
        rows = [text_lanes(str(v)) for v in values]
        return [np.array([r[j] for r in rows], dtype=U64) for j in range(ctype.lanes)]
    if ctype.kind == "date":
        ints = [(v - EPOCH).days for v in values]  # type: ignore[operator]
    elif ctype.kind == "decimal":
        ints = [int(Decimal(v) * 10**ctype.scale) for v in values]  # type: ignore[arg-type]
    else:
        ints = [int(v) for v in values]  # type: ignore[call-overload]
    return [np.array(ints, dtype=np.int64).view(U64)]


def decode(ctype: ColumnType, lanes: list[np.ndarray]) -> list[object]:
    """Python values from lanes (inverse of :func:`encode`; computed text as the recipient
    decodes it)."""
    if ctype.derived:
        return list(decode_column(ctype, lanes))
    if ctype.nullable:
        base, null = split_null(ctype, lanes)
        assert null is not None
        values = decode(ctype.base, base)
        return [None if n else v for v, n in zip(values, null.tolist(), strict=True)]
    if ctype.is_text:
        content = np.stack(lanes[2:], axis=1).astype("<u8")
        return [bytes(row.tobytes()).rstrip(b"\0").decode() for row in content]
    ints = lanes[0].view(np.int64).tolist()
    if ctype.kind == "ratio":
        counts = lanes[1].view(np.int64).tolist()
        return [
            Decimal(s).scaleb(-ctype.scale) / c if c else None
            for s, c in zip(ints, counts, strict=True)
        ]
    if ctype.kind == "date":
        return [EPOCH + timedelta(days=v) for v in ints]
    if ctype.kind == "decimal":
        return [Decimal(v).scaleb(-ctype.scale) for v in ints]
    if ctype.kind == "bool":
        return [bool(v) for v in ints]
    return ints


def plaintext_facts(
    root: ir.Node,
    schemas: Mapping[str, Schema],
    data: Mapping[str, Mapping[str, Sequence[object]]],
) -> dict[str, TableFacts]:
    """What the owners' data checks would find: join-column sets that are unique (all rows)."""
    facts = {}
    for table, sets in join_key_columns(root).items():
        unique = []
        for cols in sets:
            rows = list(zip(*(data[table][c] for c in cols), strict=True))
            rows = [r for r in rows if None not in r]  # a NULL key never matches
            if len(set(rows)) == len(rows):
                unique.append(frozenset(cols))
        facts[table] = TableFacts(tuple(unique))
    return facts


def data_bounds(
    schemas: Mapping[str, Schema], data: Mapping[str, Mapping[str, Sequence[object]]]
) -> dict[str, TableBounds]:
    """The tightest bounds a plan could declare for these rows: row counts and min/max."""
    bounds = {}
    for table, columns in schemas.items():
        values = {}
        for c, t in columns.items():
            present = [v for v in data[table][c] if v is not None]
            if t.is_numeric:
                col = [Decimal(v) for v in present]  # type: ignore[arg-type]
                values[c] = (min(col, default=Decimal(0)), max(col, default=Decimal(0)))
            elif t.kind == "date":  # days since 1970-01-01, as a plan's date range
                days = [Decimal((v - EPOCH).days) for v in present]  # type: ignore[operator]
                values[c] = (min(days, default=Decimal(0)), max(days, default=Decimal(0)))
            elif t.is_text:  # the code points of its characters, as a plan's text range
                points = [ord(ch) for v in present for ch in str(v)]
                values[c] = (Decimal(min(points, default=1)), Decimal(max(points, default=1)))
        rows = len(next(iter(data[table].values()))) if data[table] else 0
        bounds[table] = TableBounds(max(rows, 1), values)
    return bounds


def declared_bounds(schemas: Mapping[str, Schema]) -> dict[str, TableBounds]:
    """Bounds a plan over these tables might declare: 10^6 rows, numbers within ±10^6."""
    return {
        table: TableBounds(
            10**6,
            {c: (Decimal(-(10**6)), Decimal(10**6)) for c, t in columns.items() if t.is_numeric},
        )
        for table, columns in schemas.items()
    }


def run_mpc(
    sql: str,
    schemas: Mapping[str, Schema],
    data: Mapping[str, Mapping[str, Sequence[object]]],
    valid: Mapping[str, Sequence[bool]] | None = None,
    min_group_size: int = 0,
    facts: Mapping[str, TableFacts] | None = None,
    bounds: Mapping[str, TableBounds] | None = None,
) -> tuple[list[str], Rows]:
    """The recipient's view: output names and the valid rows, in delivered order
    (``bounds``: a plan's declared bounds; default: the data's own, :func:`data_bounds`)."""
    names, rows, _ = run_mpc_full(sql, schemas, data, valid, min_group_size, facts, bounds)
    return names, rows


def run_mpc_full(
    sql: str,
    schemas: Mapping[str, Schema],
    data: Mapping[str, Mapping[str, Sequence[object]]],
    valid: Mapping[str, Sequence[bool]] | None = None,
    min_group_size: int = 0,
    facts: Mapping[str, TableFacts] | None = None,
    bounds: Mapping[str, TableBounds] | None = None,
    release: tuple[Mechanism, ...] | None = None,
) -> tuple[list[str], Rows, list[int]]:
    """As :func:`run_mpc`, through the release stage (``release``; default: suppression at
    ``min_group_size``, shuffle, padding), plus its ``suppressed_groups`` (all thresholded
    GROUP BYs added up; [] when there is none)."""
    if release is None:
        release = ((Suppress(min_group_size),) if min_group_size > 1 else ()) + (Shuffle(), Pad())
    bounds = data_bounds(schemas, data) if bounds is None else bounds
    compiled = compile_sql(sql, schemas, min_group_size=min_group_size, bounds=bounds)
    found = facts is None
    if facts is None:
        facts = plaintext_facts(compiled.plan, schemas, data)
    root = logical_plan(compiled.plan, facts)  # the join order, as compile_plan chooses it
    if root is not compiled.plan:
        root = with_found(root, check_ranges(root, bounds))
        if found:  # the owners check the join columns of the re-ordered plan
            more = plaintext_facts(root, schemas, data)
            facts = {
                t: TableFacts(tuple(dict.fromkeys(facts.get(t, TableFacts()).unique + f.unique)))
                for t, f in {**facts, **more}.items()
            }
    compiled = replace(compiled, plan=root)
    plan = physical_plan(root, facts)
    shares = {
        t: {c: [split(lane) for lane in encode(schemas[t][c], data[t][c])] for c in schemas[t]}
        for t in schemas
    }
    lengths = {t: len(next(iter(data[t].values()))) for t in schemas}
    valid_parts = {
        t: split(
            np.array(valid[t] if valid and t in valid else [1] * lengths[t], dtype=U64), "bool"
        )
        for t in schemas
    }

    def program(
        p: Party,
    ) -> tuple[
        list[tuple[np.ndarray, np.ndarray]],
        tuple[np.ndarray, np.ndarray],
        list[tuple[np.ndarray, np.ndarray]],
    ]:
        i = p.index
        inputs = {
            t: SharedTable(
                {
                    c: SharedColumn(
                        schemas[t][c], tuple(AShare(s[i].first, s[i].second) for s in lanes)
                    )
                    for c, lanes in cols.items()
                },
                BShare(valid_parts[t][i].first, valid_parts[t][i].second),
                t,
            )
            for t, cols in shares.items()
        }
        executor = Executor(p, inputs)
        out = executor.run(plan)
        executor.reveal_checks()
        done = release_stage(p, release, plan.root, out, executor.side)
        lanes = [(lane.a, lane.b) for lane in done.lanes]
        extras = [(x.a, x.b) for x in done.side.values()]
        return lanes, (done.valid.a, done.valid.b), extras

    results = run3(program)
    schema = compiled.plan.schema
    flat = [
        combine([NodeShares(i, "arith", *results[i][0][j]) for i in range(3)])
        for j in range(len(results[0][0]))
    ]
    validity = combine([NodeShares(i, "bool", *results[i][1]) for i in range(3)]) & U64(1)
    # The padded length and width are what tyst.planner.sizes predicts from the sizes alone.
    if any(isinstance(m, RevealSize) for m in release):  # compacted: valid rows only
        assert len(validity) <= padded_rows(plan, lengths)
        assert validity.all()
    else:
        assert len(validity) == padded_rows(plan, lengths), "tyst.planner.sizes is wrong here"
    assert len(flat) == result_lanes(plan)
    assert len(results[0][2]) <= extras_bound(plan)
    extras = [
        int(combine([NodeShares(i, "arith", *results[i][2][j]) for i in range(3)])[0])
        for j in range(len(results[0][2]))
    ]
    suppressed = extras
    keep = np.flatnonzero(validity)
    columns = []
    at = 0
    for _, ctype in schema:  # padding rows hold arbitrary words: decode valid rows only
        columns.append(decode(ctype, [lane[keep] for lane in flat[at : at + ctype.lanes]]))
        at += ctype.lanes
    rows = list(zip(*columns, strict=True)) if columns else []
    return [ir.display_name(n) for n, _ in schema], rows, suppressed


def _duck_type(t: ColumnType) -> str:
    if t.is_text:
        return "VARCHAR"
    return {
        "int": "BIGINT",
        "decimal": f"DECIMAL(18,{t.scale})",
        "date": "DATE",
        "bool": "BOOLEAN",
    }[t.kind]


def run_duckdb(
    sql: str,
    schemas: Mapping[str, Schema],
    data: Mapping[str, Mapping[str, Sequence[object]]],
    valid: Mapping[str, Sequence[bool]] | None = None,
) -> tuple[list[str], Rows]:
    """The oracle: the same SQL on the same (valid) rows in DuckDB."""
    con = duckdb.connect()
    for t, cols in schemas.items():
        con.execute(
            f"CREATE TABLE {t} ({', '.join(f'{c} {_duck_type(ct)}' for c, ct in cols.items())})"
        )
        rows = list(zip(*(data[t][c] for c in cols), strict=True))
        if valid and t in valid:
            rows = [r for r, v in zip(rows, valid[t], strict=True) if v]
        if rows:
            con.executemany(f"INSERT INTO {t} VALUES ({', '.join('?' * len(cols))})", rows)
    return query_result(con, sql)


def query_result(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[list[str], Rows]:
    """The result of the query in ``sql``, which may create views before it and drop them
    after (TPC-H Q15's three statements): each statement runs, the SELECT's rows are kept."""
    names: list[str] = []
    rows: Rows = []
    for statement in con.extract_statements(sql):
        result = con.execute(statement)
        if statement.type == duckdb.StatementType.SELECT:
            names = [d[0] for d in result.description]
            rows = [tuple(r) for r in result.fetchall()]
    return names, rows


AVG_DIGITS = Decimal("1e-6")
"""Averages are compared to 6 decimals: DuckDB's AVG is a double, tyst's an exact ratio."""


def normalise(rows: Rows) -> list[tuple[object, ...]]:
    """Rows made comparable across engines, exactly where both are exact: decimals compare
    as exact numbers (trailing zeros dropped); a double (DuckDB's AVG) or a decimal with more
    than 6 decimals (tyst's exact AVG ratio) is rounded half to even to 6 decimals; DuckDB's
    midnight TIMESTAMPs (date ± INTERVAL) become the dates tyst returns."""
    out = []
    for row in rows:
        out.append(tuple(_comparable(v) for v in row))
    return out


def _comparable(v: object) -> object:
    if isinstance(v, float):
        v = Decimal(repr(v))
    if isinstance(v, Decimal):
        exponent = v.as_tuple().exponent
        if isinstance(exponent, int) and exponent < AVG_DIGITS.as_tuple().exponent:
            v = v.quantize(AVG_DIGITS, rounding=ROUND_HALF_EVEN)
        return v.normalize() if v else Decimal(0)
    if isinstance(v, datetime) and v.time() == time(0):
        return v.date()
    return v
