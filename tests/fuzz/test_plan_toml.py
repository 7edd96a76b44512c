"""Fuzz target: the plan TOML parser and the SQL compiler behind it.

An outsider reaches :func:`tyst.plan.parse_plan` through the coordinator's
``POST /plans`` (and every party's client and node parse what it serves); the
nodes and clients then compile the plan's SQL (:func:`tyst.planner.jobspec.job_spec`,
which runs :func:`tyst.planner.jobspec.compile_plan` and the join planning).

Inputs: arbitrary text, text over TOML's punctuation, line-level mutations of the
example plan, structural mutations of its parsed document (re-serialised as TOML)
and plans whose SQL is a generated query, a mutation of one, or token soup.
Property: ``parse_plan`` returns a :class:`~tyst.plan.Plan` (whose digest can be
computed) or raises :class:`~tyst.plan.PlanError` with one line; compiling a
parsed plan succeeds or raises ``PlanError``, ``SqlError`` or ``PlanningError``
with one line. Nothing else escapes (no ``RecursionError``, ``KeyError``, …).

Found by these targets and fixed in 141a7c2 (regression tests at the end): SQL
nested about 42 levels deep (sqlglot's parser) or a flat sum of about 331 terms
(tyst's ``ranges`` pass; ``bind`` from about 990) raised ``RecursionError``; an
unterminated ``/*`` comment or string raised sqlglot's ``TokenError`` (its message
quoting up to 100 characters of the SQL); a quoted key with a line break
(``"x\\ny" = 1``) was echoed raw into a :class:`PlanError`, which was then not one line.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.engine.query_gen import SCHEMAS, gen_query
from tests.examples import ISSUE_PLAN
from tests.fuzz import fuzz_settings, one_line
from tyst.plan import PlanError, parse_plan
from tyst.planner.jobspec import job_spec
from tyst.planner.planning import PlanningError
from tyst.sql.errors import SqlError

# ----------------------------------------------------------------------------- the check


def check_plan_text(text: str) -> str:
    """Parse and compile ``text``; return the outcome (``"ok"`` or the error class name).

    Raises ``AssertionError`` (or the unexpected exception itself) on a violation.
    """
    try:
        plan = parse_plan(text)
    except PlanError as exc:
        one_line(exc)
        return "PlanError"
    assert len(plan.digest()) == 64
    try:
        job_spec(plan)
    except (PlanError, SqlError, PlanningError) as exc:
        one_line(exc)
        return type(exc).__name__
    return "ok"


# ----------------------------------------------------------------------------- TOML text

_SQL_OLD = tomllib.loads(ISSUE_PLAN)["query"]["sql"]
_LINES = ISSUE_PLAN.splitlines(keepends=True)
_TOML_PUNCT = [*"[]{}\"'=#.,:+-_ \t\n\\", '"""', "'''", "\r\n", "tables", "a", "1", "é"]

toml_soup = st.lists(st.sampled_from(_TOML_PUNCT), max_size=200).map("".join)


@st.composite
def mutated_lines(draw: st.DrawFn) -> str:
    """The example plan with lines deleted, duplicated, swapped, cut or spliced with junk."""
    lines = list(_LINES)
    for _ in range(draw(st.integers(1, 6))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "cut", "insert", "flip"]))
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "cut":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
        elif op == "insert":
            at = draw(st.integers(0, len(lines[i])))
            junk = draw(st.one_of(st.text(max_size=20), toml_soup))
            lines[i] = lines[i][:at] + junk + lines[i][at:]
        else:
            if lines[i]:
                at = draw(st.integers(0, len(lines[i]) - 1))
                lines[i] = lines[i][:at] + draw(st.characters()) + lines[i][at + 1 :]
    return "".join(lines)


# ----------------------------------------------------------------------------- documents

_KEY_POOL = [
    "analysis", "parties", "tables", "query", "output", "policy", "title", "purpose",
    "legal_basis", "retention_days", "name", "owner", "columns", "unique",
    "max_rows_per_key", "max_rows", "ranges", "sql", "recipients", "min_group_size",
    "allow", "fk", "malmo", "sjukpenning", "bistand", "pnr", "belopp", "manad", "fom",
    "tom", "reveal_result_size", "x", "", "1a", "select", "FK", "Pnr",
]  # fmt: skip
_TYPE_POOL = [
    "id", "text", "int", "date", "bool", "decimal(2)", "decimal(0)", "decimal(-1)",
    "decimal(99)", "decimal(", "Int", "float", "",
]  # fmt: skip

keys = st.one_of(st.sampled_from(_KEY_POOL), st.text(max_size=8))
scalars = st.one_of(
    st.sampled_from(_KEY_POOL + _TYPE_POOL),
    st.text(max_size=12),
    st.integers(),
    st.sampled_from([0, -1, 1, 2**62, 2**63 - 1, -(2**63)]),
    st.booleans(),
    st.floats(allow_nan=False),
    st.dates(),
    st.datetimes(),
    st.times(),
    st.sampled_from(["1000.50", "-0.5", "1e3", "0.001", "2026-01-01", " 1 ", "NaN"]),
)
toml_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=12,
)


def to_toml(doc: dict[str, Any]) -> str:
    """``doc`` as TOML: one ``key = <inline value>`` line per top-level key."""
    return "".join(f"{_toml_key(k)} = {_toml_value(v)}\n" for k, v in doc.items())


def _toml_key(key: str) -> str:
    return json.dumps(key, ensure_ascii=False)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value).replace("inf", "inf")
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


@st.composite
def mutated_documents(draw: st.DrawFn) -> str:
    """The example plan's document with members deleted, replaced, added or renamed."""
    doc: dict[str, Any] = tomllib.loads(ISSUE_PLAN)
    for _ in range(draw(st.integers(1, 4))):
        # walk down to a random table of the document
        node: dict[str, Any] = doc
        while True:
            children = [k for k, v in node.items() if isinstance(v, dict)]
            if not children or draw(st.booleans()):
                break
            node = node[draw(st.sampled_from(sorted(children)))]
        op = draw(st.sampled_from(["delete", "replace", "add", "rename", "retype"]))
        members = sorted(node)
        if op == "add" or not members:
            node[draw(keys)] = draw(toml_values)
            continue
        key = draw(st.sampled_from(members))
        if op == "delete":
            del node[key]
        elif op == "replace":
            node[key] = draw(toml_values)
        elif op == "rename":
            node[draw(keys)] = node.pop(key)
        else:  # a column type, an owner, a recipient: a pooled word of another meaning
            node[key] = draw(st.sampled_from(_KEY_POOL + _TYPE_POOL))
    return to_toml(doc)


# ----------------------------------------------------------------------------- SQL


def _ranges(cols: Mapping[str, object]) -> str:
    """Declared bounds like the generator's data (tests/engine/query_gen.py), so that its
    queries' sums and calendar functions have ranges to be proved within."""
    spans = {"int": "[-1000, 100000]", "decimal": "[-1000, 100000]",
             "date": '["2025-01-01", "2027-12-31"]'}  # fmt: skip
    found = []
    for c, t in cols.items():
        kind = str(t).split("(")[0].rstrip("?")
        if kind in spans:
            found.append(f"{c} = {spans[kind]}")
    return "max_rows = 1000\n" + (f"ranges = {{ {', '.join(found)} }}\n" if found else "")


_SCHEMA_TOML = "".join(
    f'[tables.{name}]\nowner = "fk"\ncolumns = {{ '
    + ", ".join(f'{c} = "{t}"' for c, t in cols.items())
    + " }\n"
    + _ranges(cols)
    for name, cols in SCHEMAS.items()
)


def plan_with_sql(sql: str) -> str:
    """A valid plan over the generator's four tables whose query is ``sql``."""
    return (
        '[analysis]\ntitle = "t"\npurpose = "p"\nlegal_basis = "l"\nretention_days = 1\n'
        '[parties.fk]\nname = "FK"\n'
        + _SCHEMA_TOML
        + f"[query]\nsql = {json.dumps(sql, ensure_ascii=False)}\n"
        + '[output]\nrecipients = ["fk"]\n'
    )


_SQL_WORDS = [
    "SELECT", "FROM", "WHERE", "JOIN", "ON", "GROUP", "BY", "HAVING", "ORDER", "LIMIT",
    "UNION", "ALL", "DISTINCT", "AND", "OR", "NOT", "IN", "EXISTS", "BETWEEN", "CASE",
    "WHEN", "THEN", "ELSE", "END", "AS", "WITH", "COUNT(*)", "SUM", "MIN", "MAX", "AVG",
    "LIKE", "'%a_'", "EXTRACT", "DATE_TRUNC", "DATE", "'2026-01-01'", "NULL", "TRUE",
    "(", ")", ",", "*", "+", "-", "/", "%", "=", "<", ">", "<=", "<>", "||", ";", "?", "$1",
    "0", "1", "-9223372036854775808", "99999999999999999999", "1.5", "1e9",
    "bistand", "lund", "inkomst", "sjuk", "b", "l", "pnr", "belopp", "manad", "andel",
    "ok", "kommun", "dagar", "barn", "aktiv", "b.pnr", "l.pnr", "\"pnr\"", "INTERVAL",
    "CAST", "::", "LEFT", "CROSS", "OVER", "PARTITION", "--", "/*", "*/", "\n",
]  # fmt: skip

sql_soup = st.lists(st.sampled_from(_SQL_WORDS), min_size=1, max_size=40).map(" ".join)


@st.composite
def mutated_queries(draw: st.DrawFn) -> str:
    """A generated in-subset query with a few of its tokens deleted, swapped or replaced."""
    words = gen_query(draw(st.integers(0, 10_000))).sql.split(" ")
    for _ in range(draw(st.integers(0, 4))):
        i = draw(st.integers(0, len(words) - 1))
        op = draw(st.sampled_from(["delete", "replace", "insert", "swap", "cut"]))
        if op == "delete" and len(words) > 1:
            del words[i]
        elif op == "replace":
            words[i] = draw(st.sampled_from(_SQL_WORDS))
        elif op == "insert":
            words.insert(i, draw(st.sampled_from(_SQL_WORDS)))
        elif op == "swap":
            j = draw(st.integers(0, len(words) - 1))
            words[i], words[j] = words[j], words[i]
        else:
            words = words[: i + 1]
    return " ".join(words)


_DEEP_SHAPES: dict[str, Callable[[int], str]] = {
    "parens": lambda n: "SELECT " + "(" * n + "b.belopp" + ")" * n + " AS x FROM bistand b",
    "sum": lambda n: "SELECT " + " + ".join(["b.belopp"] * n) + " AS x FROM bistand b",
    "and": lambda n: "SELECT b.pnr FROM bistand b WHERE " + " AND ".join(["b.ok"] * n),
    "not": lambda n: "SELECT b.pnr FROM bistand b WHERE " + "NOT " * n + "b.ok",
    "case": lambda n: (
        "SELECT " + "CASE WHEN b.ok THEN " * n + "1" + " END" * n + " AS x FROM bistand b"
    ),
    "in": lambda n: (
        "SELECT b.pnr FROM bistand b WHERE b.pnr IN (SELECT l.pnr FROM lund l WHERE " * n
        + "l.ok"
        + ")" * n
    ),
}
deep_sql = st.builds(
    lambda shape, n: _DEEP_SHAPES[shape](n),
    st.sampled_from(sorted(_DEEP_SHAPES)),
    st.integers(1, 600),
)
"""Deep or long expressions of a few shapes (the size limits of the plan allow far more)."""

sqls = st.one_of(mutated_queries(), sql_soup, st.text(max_size=60), deep_sql)

# ----------------------------------------------------------------------------- targets

TEXTS = st.one_of(
    st.text(max_size=400),
    toml_soup,
    mutated_lines(),
    st.sampled_from([ISSUE_PLAN, ISSUE_PLAN.replace(_SQL_OLD, "SELECT 1")]),
)
"""Strategy of plan texts for the parser (benchmarks/fuzz.py uses it too)."""

DOCUMENTS = mutated_documents()
"""Strategy of structurally mutated plan documents."""

SQL_PLANS = sqls.map(plan_with_sql)
"""Strategy of valid plans with a generated, mutated or random query."""


@fuzz_settings()
@given(TEXTS)
def test_fuzz_plan_text_fails_only_with_plan_error(text: str) -> None:
    check_plan_text(text)


@fuzz_settings()
@given(DOCUMENTS)
def test_fuzz_plan_document_fails_only_with_plan_error(text: str) -> None:
    check_plan_text(text)


@fuzz_settings(0.5)
@given(SQL_PLANS)
def test_fuzz_plan_sql_fails_only_with_sql_errors(text: str) -> None:
    check_plan_text(text)


def test_the_seeds_are_valid() -> None:
    """The unmutated inputs parse and compile: the mutations start from valid plans."""
    assert check_plan_text(ISSUE_PLAN) == "ok"
    assert check_plan_text(to_toml(tomllib.loads(ISSUE_PLAN))) == "ok"
    outcomes = [check_plan_text(plan_with_sql(gen_query(seed).sql)) for seed in range(10)]
    assert outcomes.count("ok") >= 8, outcomes


# ----------------------------------------------------------------------------- found (fixed)

NESTED = "SELECT " + "(" * 200 + "b.belopp" + ")" * 200 + " AS x FROM bistand b"


def long_sum(terms: int) -> str:
    """``SELECT b.belopp + b.belopp + … AS x FROM bistand b`` with ``terms`` terms."""
    return "SELECT " + " + ".join(["b.belopp"] * terms) + " AS x FROM bistand b"


def test_deeply_nested_sql_gives_a_sql_error() -> None:
    """200 nested parentheses (1.2 kB of SQL in a plan far under the 1 MiB and 32-level
    TOML limits) raised RecursionError in sqlglot's recursive-descent parser, called by
    tyst.sql.compiler.parse (from about 42 levels at the interpreter's default limit)."""
    assert check_plan_text(plan_with_sql(NESTED)) == "SqlError"


@pytest.mark.parametrize(
    "terms",
    [
        pytest.param(400, id="ranges"),  # tyst.sql.ranges expr/arith/aligned, from ~331 terms
        pytest.param(1000, id="bind"),  # tyst.sql.compiler._bind_expr.rec, from ~990 terms
    ],
)
def test_a_long_sum_gives_a_sql_error(terms: int) -> None:
    """A flat ``a + a + … + a`` parses (sqlglot builds a left-deep tree iteratively), but
    tyst's recursive passes over that tree raised RecursionError: 400 terms (3.6 kB)."""
    outcome = check_plan_text(plan_with_sql(long_sum(terms)))
    assert outcome in ("ok", "SqlError")


@pytest.mark.parametrize("sql", ["/*", "SELECT b.pnr FROM bistand b WHERE b.kommun = 'x"])
def test_an_unterminated_comment_or_string_gives_a_sql_error(sql: str) -> None:
    """An unterminated ``/*`` comment or string literal raised sqlglot.errors.TokenError
    (message: up to 100 characters of the SQL) from tyst.sql.compiler.parse, which
    caught only ParseError; ``tyst check`` printed a traceback."""
    assert check_plan_text(plan_with_sql(sql)) == "SqlError"


@pytest.mark.parametrize(
    "text",
    [
        ISSUE_PLAN.replace("[parties.malmo]", '[parties."x\\ny"]\nname = "x"\n[parties.malmo]'),
        ISSUE_PLAN.replace("retention_days = 30", 'retention_days = 30\n"\\r" = 1'),
        '"\\n" = 1\n' + ISSUE_PLAN,
    ],
    ids=["party-id", "analysis-key", "section"],
)
def test_a_key_with_a_line_break_gives_a_one_line_plan_error(text: str) -> None:
    """The key was interpolated raw into the message's ``[section.key]`` context
    (``<plan>: [parties.x<LF>y]: "x\\ny" is not a valid party name …``). The coordinator
    collapses whitespace in its answer, but ``tyst check``, the client and the node's
    log printed the line split in two."""
    assert check_plan_text(text) == "PlanError"
