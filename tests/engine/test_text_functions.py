"""Text functions and LIKE with ``_``: the MPC result equals DuckDB's on the same rows,
with å/ä/ö, multi-byte characters, empty and 64-byte values, and padding rows."""

from __future__ import annotations

import re

import duckdb
import numpy as np
import pytest

from tests.engine.oracle import run_duckdb, run_mpc
from tyst.data.types import ColumnType
from tyst.sql.compiler import compile_sql
from tyst.sql.errors import SqlError

T = ColumnType.parse
SCHEMAS = {"t": {"s": T("text"), "i": T("int")}, "u": {"k": T("text"), "v": T("int")}}
POOL = [
    "", "a", "ab", "abc", "åäö", "xåx", "Malmö 1", "ÅÄÖ éÉ", "x" * 64, "ö" * 32,
    "aé" * 21 + "a", "ABCxyz", "ÿµ×÷Þþ", "€uro", "𝄞x", "ZZ", "a_b", "100%", "Örebro län",
    "19121212-1212", "å", "Ä", "é", "𝄞" * 16, "ab𝄞" * 6,
]  # fmt: skip


LATIN1_POOL = [v for v in POOL if all(ord(c) <= 0xFF for c in v)]
"""What LOWER may read (the charsets pass: characters up to U+00FF)."""
BELOW_SHARP_S_POOL = [v for v in LATIN1_POOL if all(ord(c) < 0xDF for c in v)] + ["µ", "ÀÞ×"]
"""What UPPER may read when its column's range is below ß (U+00DF)."""


def _pool(sql: str) -> list[str]:
    """The values a query's data is drawn from: the data's character range is the declared
    one (tests.engine.oracle.data_bounds), so case mappings get values they are exact on."""
    if "UPPER" in sql:
        return BELOW_SHARP_S_POOL
    return LATIN1_POOL if "LOWER" in sql or "ILIKE" in sql else POOL


def _data(
    n: int, seed: int, pool: list[str] = POOL
) -> tuple[dict[str, dict[str, list[object]]], dict[str, list[bool]]]:
    rng = np.random.default_rng(seed)
    picks = [pool[int(v)] for v in rng.integers(0, len(pool), n)] if n != len(pool) else pool
    data: dict[str, dict[str, list[object]]] = {
        "t": {"s": list(picks), "i": list(range(n))},
        "u": {"k": ["a", "å", "x", "Ö", "1"], "v": [1, 2, 3, 4, 5]},
    }
    valid = {"t": [bool(v) for v in rng.random(n) < 0.8]}  # padding rows mixed in
    return data, valid


def _check(sql: str, n: int, seed: int = 0, *, ordered: bool = False) -> None:
    data, valid = _data(n, seed, _pool(sql))
    names, got = run_mpc(sql, SCHEMAS, data, valid)
    want_names, want = run_duckdb(sql, SCHEMAS, data, valid)
    assert names == want_names
    if ordered:
        assert got == want, sql
    else:
        assert sorted(got, key=repr) == sorted(want, key=repr), sql


UNDERSCORE = [
    "_", "__", "___", "_%", "%_", "a_c", "%_ö", "M_lm%", "å_ö", "%a_%_c%", "x%_", "_" * 32,
    "%ö_", "__%__", "_%_%_", "%_b", "19______-____", "%%_", "_" * 64, "%" + "_" * 33 + "%",
    "x%x_", "Ö_ebro%",
]  # fmt: skip


@pytest.mark.parametrize("pattern", UNDERSCORE)
def test_like_with_underscore_is_one_character(pattern: str) -> None:
    sql = f"SELECT i, s LIKE '{pattern}' AS hit, s NOT LIKE '{pattern}' AS miss FROM t"
    _check(sql, len(POOL), seed=len(pattern))


FUNCTIONS = {
    "prefixes": "SELECT i, LEFT(s, 2) AS a, SUBSTRING(s FROM 1 FOR 3) AS b, SUBSTR(s, 1, 0) AS c, "
    "LEFT(s, 40) AS d FROM t",
    "substrings": "SELECT i, SUBSTRING(s, 2, 3) AS a, SUBSTRING(s, 3) AS b, SUBSTR(s, 5, 1) AS c, "
    "SUBSTRING(s, 33, 40) AS d, SUBSTRING(s, 70) AS e FROM t",
    "length": "SELECT i, LENGTH(s) AS n, LENGTH(LEFT(s, 3)) * 2 + 1 AS m FROM t "
    "WHERE LENGTH(s) <> 2",
    "case": "SELECT i, LOWER(s) AS l, UPPER(s) AS u, UPPER(LOWER(s)) = UPPER(s) AS same FROM t",
    "concat": "SELECT i, LEFT(s, 5) || '-' || LEFT(s, 2) AS a, CONCAT('<', LEFT(s, 3), '>') AS b,"
    " 'x' || LOWER(LEFT(s, 4)) AS c, LEFT(s, 8) || LEFT(s, 8) AS d FROM t WHERE LENGTH(s) < 33",
    "where": "SELECT i FROM t WHERE LOWER(s) = 'åäö' OR LEFT(s, 1) IN ('a', 'Ö', 'x') "
    "OR s = UPPER(s) OR LOWER(s) LIKE '%é_'",
    "group": "SELECT LEFT(s, 1) AS c, COUNT(*) AS n, SUM(i) AS total FROM t GROUP BY c",
    "q22_shape": "SELECT cntrycode, COUNT(*) AS numcust FROM (SELECT substring(s from 1 for 2) "
    "AS cntrycode, i FROM t WHERE substring(s from 1 for 2) IN ('ab', 'åä', '19', 'xx')) AS c "
    "GROUP BY cntrycode",
    "case_mixes_stored": "SELECT i, CASE WHEN i > 5 THEN LOWER(s) ELSE s END AS c FROM t",
    "union_mixes_stored": "SELECT LOWER(s) AS x FROM t UNION ALL SELECT k FROM u",
    "distinct": "SELECT DISTINCT UPPER(LEFT(s, 1)) AS c FROM t",
    "count_distinct": "SELECT COUNT(DISTINCT LEFT(s, 2)) AS n FROM t",
    "join": "SELECT d.c, u.v FROM (SELECT DISTINCT LOWER(LEFT(s, 1)) AS c FROM t) AS d "
    "JOIN (SELECT LOWER(k) AS c, v FROM u) AS u ON d.c = u.c",
    "ilike": "SELECT i, s ILIKE 'a%' AS a, s NOT ILIKE '%Ö%' AS b, s ILIKE 'MALMÖ _' AS c, "
    "s ILIKE '%É%' AS d, s ILIKE 'abc' AS e FROM t WHERE NOT s ILIKE 'x%'",
    "escape": "SELECT i, s LIKE '100!%' ESCAPE '!' AS a, s LIKE '%!_%' ESCAPE '!' AS b, "
    "s LIKE 'a!_b' ESCAPE '!' AS c, s NOT LIKE '%#%%' ESCAPE '#' AS d, "
    "s LIKE '_!_%' ESCAPE '!' AS e, s ILIKE 'A!_%' ESCAPE '!' AS f FROM t",
    "min_max": "SELECT i % 3 AS g, MIN(s) AS lo, MAX(s) AS hi, COUNT(*) AS c, MAX(i) AS m "
    "FROM t GROUP BY i % 3",
    "min_max_computed": "SELECT LENGTH(s) > 3 AS g, MIN(LEFT(s, 2)) AS lo, MAX(s) AS hi, "
    "MIN(s) AS lo2 FROM t GROUP BY LENGTH(s) > 3 HAVING MAX(s) > 'a'",
    "ordering": "SELECT i, s < 'ab' AS a, s >= 'Malmö' AS b, s > '' AS c, s <= 'åäö' AS d, "
    "'a' < s AS e FROM t WHERE s BETWEEN 'a' AND 'ö' OR s > 'ÿ'",
    "ordering_computed": "SELECT i, LEFT(s, 2) < 'ab' AS a, LEFT(s, 1) >= s AS b, "
    "LOWER(s) > s AS c FROM t",
    "ordering_columns": "SELECT t.i, u.k, t.s < u.k AS lt, u.k <= t.s AS le FROM t JOIN u "
    "ON t.i = u.v",
}


@pytest.mark.parametrize("n", [0, 1, 7, 40])
@pytest.mark.parametrize("shape", sorted(FUNCTIONS))
def test_text_functions_match_duckdb(shape: str, n: int) -> None:
    _check(FUNCTIONS[shape], n, seed=n + len(shape))


def test_order_by_computed_text_is_byte_order() -> None:
    _check("SELECT s, i FROM t ORDER BY LEFT(s, 3) DESC, i", 40, ordered=True)
    _check("SELECT UPPER(s) AS u FROM t ORDER BY u LIMIT 5", 40, seed=3, ordered=True)


@pytest.mark.parametrize(
    ("values", "sql", "fragment"),
    [
        (["Łódź", "a"], "SELECT LOWER(s) FROM t", "only for characters up to U+00FF"),
        (["a€"], "SELECT i FROM t WHERE UPPER(s) = 'A'", "only for characters up to U+00FF"),
        (["Straße"], "SELECT UPPER(s) FROM t", "maps ß to ẞ"),
        (["Malmö"], "SELECT UPPER(s) FROM t", "maps ß to ẞ"),  # M … ö spans ß
        (["Ab"], "SELECT LOWER(LEFT(UPPER(s), 4) || 'Ł') FROM t", "characters up to U+00FF"),
        (["ÿ"], "SELECT LOWER(UPPER(s)) FROM t", "only for characters up to U+00FF"),  # Ÿ
    ],
)
def test_case_mappings_that_could_differ_from_duckdb_are_refused(
    values: list[str], sql: str, fragment: str
) -> None:
    """DuckDB maps all of Unicode (and ß to ẞ); tyst's mapping equals it up to U+00FF but
    ß, so the charsets pass refuses what the declared character ranges do not exclude."""
    data = {"t": {"s": values, "i": list(range(len(values)))}, "u": {"k": ["a"], "v": [1]}}
    with pytest.raises(SqlError, match=re.escape(fragment)):
        run_mpc(sql, SCHEMAS, data)
    with pytest.raises(SqlError, match="only for characters up to U\\+00FF"):
        compile_sql("SELECT LOWER(s) FROM t", SCHEMAS)  # undeclared: any character


def test_case_mapping_is_exact_on_latin1() -> None:
    """Every character U+0001 … U+00FF: LOWER equals DuckDB's; UPPER too, on each side of ß
    (a column's declared range must exclude ß for UPPER)."""
    chars = [chr(c) for c in range(1, 256) if chr(c) != "'"]
    below = [c for c in chars if ord(c) < 0xDF]
    above = [c for c in chars if ord(c) > 0xDF]
    for pool, sql in [
        (chars, "SELECT i, LOWER(s) AS l FROM t"),
        (below, "SELECT i, LOWER(s) AS l, UPPER(s) AS u FROM t"),
        (above, "SELECT i, LOWER(s) AS l, UPPER(s) AS u FROM t"),
    ]:
        values = ["".join(pool[k : k + 30]) for k in range(0, len(pool), 30)]
        data = {"t": {"s": values, "i": list(range(len(values)))}, "u": {"k": ["a"], "v": [1]}}
        _, got = run_mpc(sql, SCHEMAS, data)
        _, want = run_duckdb(sql, SCHEMAS, data)
        assert sorted(got) == sorted(want)


def test_duckdb_counts_characters_as_the_functions_do() -> None:
    """The semantics relied on: `_` and positions count characters, not bytes."""
    row = duckdb.sql("SELECT 'å' LIKE '_', LEFT('åäö', 2), LENGTH('åäö'), SUBSTRING('åäöx', 2, 2)")
    assert row.fetchall() == [(True, "åä", 3, "äö")]


@pytest.mark.parametrize(
    ("sql", "fragment"),
    [
        ("SELECT s || s FROM t", "can be up to 128 bytes"),
        ("SELECT LEFT(s, 9) || LEFT(s, 8) FROM t", "can be up to 68 bytes"),
        ("SELECT SUBSTRING(s, 0) FROM t", "start of SUBSTRING must be"),
        ("SELECT LEFT(s, i) FROM t", "length of LEFT must be"),
        ("SELECT UPPER(i) FROM t", "UPPER needs a text value"),
        ("SELECT s ILIKE '%€%' FROM t", "ILIKE patterns may hold characters up to U+00FF"),
        ("SELECT s LIKE 'a%' ESCAPE '!!' FROM t", "the ESCAPE string must be one character"),
        ("SELECT s LIKE 'a%!' ESCAPE '!' FROM t", "cannot end with its ESCAPE character"),
        ("SELECT i ILIKE 'a%' FROM t", "ILIKE needs an id/text value"),
    ],
)
def test_text_functions_refused_at_compile_time(sql: str, fragment: str) -> None:
    with pytest.raises(SqlError) as info:
        compile_sql(sql, SCHEMAS)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


NULLABLE = {"t": {"s": T("text"), "n": T("text?"), "i": T("int")}}


def test_nullable_text_meets_computed_text_with_sql_nulls() -> None:
    data = {"t": {"s": ["Abc", "åÄ", "x", "", "ÖL"], "n": ["abc", None, "X", None, "öl"]}}
    data["t"]["i"] = [1, 2, 3, 4, 5]
    sql = "SELECT i, n = LOWER(s) AS e, n LIKE '_b%' AS l, n <> LEFT(s, 1) AS d FROM t"
    _, got = run_mpc(sql, NULLABLE, data)
    _, want = run_duckdb(sql, NULLABLE, data)
    assert sorted(got, key=repr) == sorted(want, key=repr)


def test_nullable_text_is_ordered_with_sql_nulls() -> None:
    data = {"t": {"s": ["Abc", "åÄ", "x", "", "ÖL"], "n": ["abc", None, "X", None, "öl"]}}
    data["t"]["i"] = [1, 2, 3, 4, 5]
    sql = "SELECT i, n < s AS a, n >= 'X' AS b, NOT (n > 'abc') AS c FROM t WHERE n <= 'zz'"
    _, got = run_mpc(sql, NULLABLE, data)
    _, want = run_duckdb(sql, NULLABLE, data)
    assert sorted(got, key=repr) == sorted(want, key=repr)


def test_min_and_max_of_ids_per_group() -> None:
    schemas = {"t": {"p": T("id"), "g": T("int")}}
    data = {"t": {"p": ["19121212-1212", "2001", "1999", "abc", "19", "ö", ""],
                  "g": [1, 1, 2, 2, 2, 3, 3]}}  # fmt: skip
    sql = "SELECT g, MIN(p) AS lo, MAX(p) AS hi FROM t GROUP BY g"
    valid = {"t": [True, True, True, False, True, True, True]}
    _, got = run_mpc(sql, schemas, data, valid)
    _, want = run_duckdb(sql, schemas, data, valid)
    assert sorted(got) == sorted(want)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT LOWER(n) FROM t",
        "SELECT CASE WHEN i > 1 THEN LOWER(s) END FROM t",
        "SELECT COALESCE(n, LOWER(s)) FROM t",
        "SELECT n FROM t UNION ALL SELECT LEFT(s, 2) FROM t",
    ],
)
def test_text_functions_with_nulls_are_refused(sql: str) -> None:
    with pytest.raises(SqlError, match="NULL") as info:
        compile_sql(sql, NULLABLE)
    assert "not supported yet" in str(info.value)


def test_computed_text_on_the_padded_side_of_an_outer_join_is_refused() -> None:
    sql = "SELECT t.i, d.c FROM t LEFT JOIN (SELECT LOWER(k) AS c, v FROM u) AS d ON t.i = d.v"
    with pytest.raises(SqlError, match="NULL and computed text"):
        compile_sql(sql, SCHEMAS)
