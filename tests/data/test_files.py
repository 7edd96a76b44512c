"""Data files: CSV and Parquet read in chunks into identical lanes; one-line errors; atomic CSV
output; the owner's data-preparation report."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator, Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tyst.data.encoding import decode_column
from tyst.data.files import DataError, EncodedChunk, read_table, write_csv
from tyst.data.report import MAX_PROBLEMS, prepare_report
from tyst.data.types import ColumnType, TableBounds

T = ColumnType.parse
COLUMNS = {"pnr": T("id"), "manad": T("date"), "belopp": T("int"), "summa": T("decimal(2)")}
HEADER = "pnr,manad,belopp,summa\n"
ROWS = [
    ("19121212-1212", "2024-01-01", "5", "12.50"),
    ("Malmö 😀", "1969-12-31", "-7", "-0.05"),
    ("å" * 32, "2000-02-29", "4611686018427387903", "0.00"),
    ("x", "0001-01-01", "0", "99999.99"),
    ("19121212-1212", "2024-02-01", "12", "1.00"),
    ("y,with comma", "2024-03-01", "3", "3.10"),
    ('"quoted"', "2024-04-01", "4", "4.00"),
]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


def csv_text(rows: list[tuple[str, ...]], header: str = HEADER) -> str:
    lines = [header]
    for row in rows:
        lines.append(
            ",".join('"' + v.replace('"', '""') + '"' if set(v) & {",", '"'} else v for v in row)
            + "\n"
        )
    return "".join(lines)


# the whole range of the encoding, declared (the default range is narrower)
WIDE = TableBounds(
    values={c: (Decimal(-(2**62) + 1), Decimal(2**62 - 1)) for c in ("belopp",)}
    | {"summa": (Decimal(-(2**62) + 1) / 100, Decimal(2**62 - 1) / 100)}
)


def read_all(
    path: Path, columns: Mapping[str, ColumnType] = COLUMNS, chunk_rows: int = 1 << 18
) -> tuple[list[EncodedChunk], dict[str, list[np.ndarray]]]:
    chunks = list(read_table(path, columns, chunk_rows=chunk_rows, bounds=WIDE))
    merged = {
        c: [
            np.concatenate([ch.lanes[c][j] for ch in chunks]) if chunks else np.zeros(0, np.uint64)
            for j in range(t.lanes)
        ]
        for c, t in columns.items()
    }
    return chunks, merged


def data_error(
    path: Path, columns: Mapping[str, ColumnType] = COLUMNS, bounds: TableBounds = WIDE, **kw: int
) -> str:
    with pytest.raises(DataError) as info:
        list(read_table(path, columns, bounds=bounds, **kw))
    message = str(info.value)
    assert "\n" not in message
    return message


def to_parquet(path: Path, table: pa.Table, row_group_size: int = 3) -> Path:
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


def typed_table(rows: list[tuple[str, ...]]) -> pa.Table:
    """ROWS as natively typed Parquet columns (string, date32, int64, decimal128(10, 2))."""
    cols = list(zip(*rows, strict=True))
    return pa.table(
        {
            "pnr": pa.array(cols[0], pa.string()),
            "manad": pa.array([date.fromisoformat(v) for v in cols[1]], pa.date32()),
            "belopp": pa.array([int(v) for v in cols[2]], pa.int64()),
            "summa": pa.array([Decimal(v) for v in cols[3]], pa.decimal128(10, 2)),
        }
    )


# -- reading CSV -------------------------------------------------------------------------


def test_csv_reads_and_decodes_back(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", csv_text(ROWS))
    chunks, lanes = read_all(path)
    assert [(c.first_line, c.rows) for c in chunks] == [(2, len(ROWS))]
    for i, (name, ctype) in enumerate(COLUMNS.items()):
        assert decode_column(ctype, lanes[name]) == [r[i] for r in ROWS]


def test_chunking_boundaries(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", csv_text(ROWS))
    _, whole = read_all(path)
    for size in [1, 2, 3, 6, 7, 8, 100]:
        chunks, lanes = read_all(path, chunk_rows=size)
        assert [c.rows for c in chunks] == [
            min(size, len(ROWS) - k) for k in range(0, len(ROWS), size)
        ]
        assert [c.first_line for c in chunks] == list(range(2, len(ROWS) + 2, size))
        assert all(c.rows <= size for c in chunks)
        for name in COLUMNS:
            for a, b in zip(lanes[name], whole[name], strict=True):
                assert np.array_equal(a, b)


def test_empty_table_and_chunk_rows_must_be_positive(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", HEADER)
    chunks, lanes = read_all(path)
    assert chunks == []
    assert all(len(x) == 0 for ls in lanes.values() for x in ls)
    with pytest.raises(ValueError, match="chunk_rows"):
        read_table(path, COLUMNS, chunk_rows=0)


def test_header_matching_extra_columns_bom_and_blank_lines(tmp_path: Path) -> None:
    text = "\ufeffKommentar, PNR ,Manad,belopp,summa,extra\r\n"
    text += "hej,a,2024-01-01,1,1.00,x\r\n\r\n"
    text += 'hopp,b,2024-01-02,2,2.00,"multi\nline"\r\n\n'
    text += "tja,c,2024-01-03,3,3.00,z\r\n"
    path = write(tmp_path, "t.csv", text)
    reader = read_table(path, COLUMNS, chunk_rows=2)
    assert reader.extra_columns == ("Kommentar", "extra")
    chunks = list(reader)
    assert [(c.first_line, c.rows) for c in chunks] == [(2, 2), (7, 1)]
    pnr = [np.concatenate([c.lanes["pnr"][j] for c in chunks]) for j in range(10)]
    assert decode_column(T("id"), pnr) == ["a", "b", "c"]


def test_missing_column(tmp_path: Path) -> None:
    path = write(tmp_path, "bistand.csv", "pnr,manad,summa\n1,2024-01-01,1\n")
    assert data_error(path) == (
        f"{path}:1: missing column belopp: the header has pnr, manad, summa"
    )


def test_semicolon_header_hint(tmp_path: Path) -> None:
    path = write(tmp_path, "b.csv", "pnr;manad;belopp;summa\n1;2024-01-01;1;1\n")
    assert data_error(path) == (
        f"{path}:1: missing column pnr: the header has pnr;manad;belopp;summa "
        "(the header looks semicolon-separated; tyst reads comma-separated CSV)"
    )


def test_duplicate_header_column(tmp_path: Path) -> None:
    path = write(tmp_path, "b.csv", "pnr,manad,belopp,summa,PNR\n")
    assert data_error(path) == f"{path}:1: column pnr appears twice"


def test_empty_and_missing_files(tmp_path: Path) -> None:
    path = write(tmp_path, "b.csv", "")
    assert data_error(path) == f"{path}: the file is empty (expected a header row)"
    missing = tmp_path / "none.csv"
    assert data_error(missing) == f"{missing}: cannot read: No such file or directory"


@pytest.mark.parametrize(
    ("row", "column", "problem"),
    [
        ("a,2024-01-01,12x,1.00", "belopp", '"12x" is not an integer'),
        (
            "a,2024-01-01,,1.00",
            "belopp",
            "empty value (NULL); the column is not nullable",
        ),
        ("a,2024-02-30,1,1.00", "manad", '"2024-02-30" is not a date (no such day)'),
        (
            "a,2024-01-01,1,1.005",
            "summa",
            '"1.005" has more than 2 decimals (values are never rounded)',
        ),
        (
            ",2024-01-01,1,1.00",
            "pnr",
            "empty value (NULL); the column is not nullable",
        ),
        (
            "x" * 65 + ",2024-01-01,1,1.00",
            "pnr",
            '"' + "x" * 40 + '…" is 65 bytes of UTF-8; id/text values are at most 64 bytes',
        ),
    ],
)
def test_bad_value_names_file_line_and_column(
    tmp_path: Path, row: str, column: str, problem: str
) -> None:
    text = HEADER + "a,2024-01-01,1,1.00\n" * 15 + row + "\n" + "a,2024-01-01,1,1.00\n"
    path = write(tmp_path, "bistand.csv", text)
    for size in [1 << 18, 4]:
        assert data_error(path, chunk_rows=size) == f"{path}:17: column {column}: {problem}"


def test_the_issue_example_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cols = {"pnr": T("id"), "manad": T("date"), "belopp": T("int")}
    monkeypatch.chdir(tmp_path)
    Path("bistand.csv").write_text(
        "pnr,manad,belopp\n" + "1,2024-01-01,5\n" * 15 + "1,2024-01-01,12x\n", encoding="utf-8"
    )
    assert data_error(Path("bistand.csv"), cols) == (
        'bistand.csv:17: column belopp: "12x" is not an integer'
    )


def test_line_numbers_count_physical_lines(tmp_path: Path) -> None:
    cols = {"pnr": T("text"), "belopp": T("int")}
    text = 'pnr,belopp\n"two\nlines",1\n\n"three\n\nlines",2\nz,bad\n'
    path = write(tmp_path, "t.csv", text)
    assert data_error(path, cols) == f'{path}:8: column belopp: "bad" is not an integer'


def test_wrong_field_count(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", HEADER + "a,2024-01-01,1,1.00\na,2024-01-01,1\n")
    assert data_error(path) == f"{path}:3: expected 4 fields as in the header, found 3"
    path = write(tmp_path, "t.csv", HEADER + "a,2024-01-01,1,1.00,extra\n")
    assert data_error(path) == f"{path}:2: expected 4 fields as in the header, found 5"


def test_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    good = b"a,2024-01-01,1,1.00\n" * 3000  # past the first decoder buffer
    path.write_bytes(HEADER.encode() + good + "Malmö,2024-01-01,1,1.00\n".encode("latin-1"))
    assert data_error(path) == f"{path}:3002: not valid UTF-8"


def test_malformed_csv_quoting(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", HEADER + 'a,2024-01-01,1,1.00\n"a"b,2024-01-01,1,1.00\n')
    message = data_error(path)
    assert message.startswith(f"{path}:3: malformed CSV: ")


def test_reader_closes_file(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", csv_text(ROWS))
    with read_table(path, COLUMNS, chunk_rows=2) as reader:
        next(reader)
    assert reader._source.file.closed  # type: ignore[union-attr]


# -- Parquet ----------------------------------------------------------------------------------


def test_parquet_string_columns_give_identical_lanes(tmp_path: Path) -> None:
    csv_path = write(tmp_path, "t.csv", csv_text(ROWS))
    cols = list(zip(*ROWS, strict=True))
    table = pa.table({name: pa.array(cols[i], pa.string()) for i, name in enumerate(COLUMNS)})
    pq_path = to_parquet(tmp_path / "t.parquet", table)
    _, a = read_all(csv_path)
    _, b = read_all(pq_path)
    for name in COLUMNS:
        for x, y in zip(a[name], b[name], strict=True):
            assert np.array_equal(x, y)


def test_parquet_typed_columns_give_identical_lanes(tmp_path: Path) -> None:
    csv_path = write(tmp_path, "t.csv", csv_text(ROWS))
    table = typed_table(ROWS).append_column("ignored", pa.array([1.5] * len(ROWS)))
    pq_path = to_parquet(tmp_path / "T.PARQUET", table)
    reader = read_table(pq_path, COLUMNS)
    assert reader.extra_columns == ("ignored",)
    reader.close()
    _, a = read_all(csv_path)
    for size in [1, 2, 3, 100]:
        chunks, b = read_all(pq_path, chunk_rows=size)
        assert sum(c.rows for c in chunks) == len(ROWS)
        assert all(c.rows <= size for c in chunks)
        assert [c.first_line for c in chunks] == list(
            np.cumsum([1] + [c.rows for c in chunks[:-1]])
        )
        for name in COLUMNS:
            for x, y in zip(a[name], b[name], strict=True):
                assert np.array_equal(x, y)


def test_parquet_bool_and_float_columns(tmp_path: Path) -> None:
    cols = {"flag": T("bool"), "n": T("int"), "d": T("decimal(1)")}
    table = pa.table(
        {
            "flag": pa.array([True, False]),
            "n": pa.array([12.0, -3.0]),
            "d": pa.array([0.1, 2.5]),
        }
    )
    path = to_parquet(tmp_path / "t.parquet", table)
    _, lanes = read_all(path, cols)
    assert decode_column(T("bool"), lanes["flag"]) == ["true", "false"]
    assert decode_column(T("int"), lanes["n"]) == ["12", "-3"]
    assert decode_column(T("decimal(1)"), lanes["d"]) == ["0.1", "2.5"]


def test_parquet_errors_name_file_row_and_column(tmp_path: Path) -> None:
    table = pa.table(
        {
            "pnr": pa.array(["a", "b", None, "d"]),
            "manad": pa.array([date(2024, 1, 1)] * 4),
            "belopp": pa.array([1, 2, 3, 4]),
            "summa": pa.array(["1.00"] * 4),
        }
    )
    path = to_parquet(tmp_path / "t.parquet", table, row_group_size=2)
    assert (
        data_error(path)
        == f"{path}: row 3: column pnr: empty value (NULL); the column is not nullable"
    )
    table = table.set_column(0, "pnr", pa.array(["a", "b", "c", "d"]))
    table = table.set_column(2, "belopp", pa.array([1.0, 2.0, 3.0, 4.5]))
    path = to_parquet(tmp_path / "t.parquet", table, row_group_size=2)
    assert (
        data_error(path, chunk_rows=1) == f'{path}: row 4: column belopp: "4.5" is not an integer'
    )
    missing = to_parquet(tmp_path / "m.parquet", table.drop_columns(["summa"]))
    assert (
        data_error(missing) == f"{missing}: missing column summa: the file has pnr, manad, belopp"
    )


def test_not_a_parquet_file(tmp_path: Path) -> None:
    path = write(tmp_path, "t.parquet", HEADER)
    assert data_error(path).startswith(f"{path}: not a readable Parquet file: ")
    missing = tmp_path / "none.parquet"
    assert data_error(missing).startswith(f"{missing}: ")


# -- writing -------------------------------------------------------------------------------


def test_write_csv_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    rows = [[v for v in r] for r in ROWS] + [["line\nbreak", "", " ", "x"]]
    write_csv(path, ["pnr", "manad", "belopp", "summa"], rows)
    with open(path, encoding="utf-8", newline="") as f:
        back = list(csv.reader(f))
    assert back[0] == ["pnr", "manad", "belopp", "summa"]
    assert back[1:] == rows
    assert path.read_bytes().startswith(b"pnr,manad,belopp,summa\n")
    assert sorted(os.listdir(tmp_path)) == ["out.csv"]


def test_write_csv_is_atomic(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    path.write_text("old\n", encoding="utf-8")

    def rows() -> Iterator[list[str]]:
        yield ["1"]
        raise RuntimeError("the decoder failed")

    with pytest.raises(RuntimeError, match="decoder failed"):
        write_csv(path, ["a"], rows())
    assert path.read_text(encoding="utf-8") == "old\n"
    assert sorted(os.listdir(tmp_path)) == ["out.csv"]

    fresh = tmp_path / "new.csv"
    with pytest.raises(RuntimeError):
        write_csv(fresh, ["a"], rows())
    assert not fresh.exists()
    assert sorted(os.listdir(tmp_path)) == ["out.csv"]
    with pytest.raises(FileNotFoundError):
        write_csv(tmp_path / "no" / "dir.csv", ["a"], [])


# -- the data-preparation report --------------------------------------------------------------


def test_report_counts_rows_problems_and_keys(tmp_path: Path) -> None:
    text = HEADER + "".join(
        [
            "a,2024-01-01,1,1.00\n",
            "b,2024-01-01,1x,1.00\n",  # line 3: bad int (not a key column)
            "a,2024-01-02,1,1.00\n",
            "c,2024-13-01,1,1.00\n",  # line 5: bad date (key column of the second set)
            "c,2024-01-01,1\n",  # line 6: wrong field count
            "a,2024-01-03,1,1.00\n",
            "b,2024-01-01,2,2.00\n",
            "\n",
            "d,2024-01-01,1,1.001\n",  # line 10: too many decimals
        ]
    )
    path = write(tmp_path, "bistand.csv", text)
    report = prepare_report(path, COLUMNS, [("pnr",), ("pnr", "manad")], chunk_rows=3)
    assert report.rows == 7  # well-formed rows, bad values included
    assert report.problem_count == 4
    assert report.problems == [
        f'{path}:3: column belopp: "1x" is not an integer',
        f'{path}:5: column manad: "2024-13-01" is not a date (no such day)',
        f"{path}:6: expected 4 fields as in the header, found 3",
        f'{path}:10: column summa: "1.001" has more than 2 decimals (values are never rounded)',
    ]
    assert report.extra_columns == ()
    # pnr: a ×3, b ×2 (the bad-int row still has a good key), c ×1, d ×1
    assert report.duplicate_keys == {("pnr",): 2, ("pnr", "manad"): 1}
    assert report.max_rows_per_key == {("pnr",): 3, ("pnr", "manad"): 2}
    assert report.readable
    assert not report.ok
    text_out = report.render()
    assert text_out.splitlines() == [
        "bistand.csv: 7 rows, 4 problems",
        *(f"    {p}" for p in report.problems),
        "    key (pnr): 2 values occur more than once (at most 3 rows share one value)",
        "    key (pnr, manad): 1 value occurs more than once (at most 2 rows share one value)",
    ]


def test_report_clean_file_shows_no_values(tmp_path: Path) -> None:
    noted = [(*row, "private note") for row in ROWS]
    path = write(tmp_path, "t.csv", csv_text(noted, "pnr,manad,belopp,summa,note\n"))
    report = prepare_report(path, COLUMNS, [["pnr"], ["manad"]], bounds=WIDE)
    assert report.ok
    assert report.rows == len(ROWS)
    assert report.extra_columns == ("note",)
    assert report.duplicate_keys == {("pnr",): 1, ("manad",): 0}
    assert report.max_rows_per_key == {("pnr",): 2, ("manad",): 1}
    rendered = report.render()
    assert rendered.splitlines() == [
        "t.csv: 7 rows, no problems",
        "    columns not in the plan (ignored): note",
        "    key (pnr): 1 value occurs more than once (at most 2 rows share one value)",
        "    key (manad): unique",
    ]
    for row in ROWS:
        for value in row:
            if len(value) > 2:
                assert value not in rendered


def test_report_keeps_the_first_problems_but_counts_all(tmp_path: Path) -> None:
    text = HEADER + "a,2024-01-01,x,1.00\n" * (MAX_PROBLEMS + 5)
    path = write(tmp_path, "t.csv", text)
    report = prepare_report(path, COLUMNS)
    assert report.problem_count == MAX_PROBLEMS + 5
    assert len(report.problems) == MAX_PROBLEMS
    assert report.problems[0] == f'{path}:2: column belopp: "x" is not an integer'
    assert report.render().splitlines()[-1] == "    … and 5 more"


def test_report_on_unreadable_files(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", "pnr,manad\n")
    report = prepare_report(path, COLUMNS, [("pnr",)], bounds=WIDE)
    assert not report.readable
    assert report.rows == 0
    assert report.problems == [f"{path}:1: missing column belopp: the header has pnr, manad"]
    assert report.render().splitlines()[0] == "t.csv: could not be read"
    bad = tmp_path / "u.csv"
    bad.write_bytes(HEADER.encode() + b"a,2024-01-01,1,1.00\n\xff,2024-01-01,1,1.00\n")
    report = prepare_report(bad, COLUMNS)
    assert not report.readable
    assert report.problems == [f"{bad}:3: not valid UTF-8"]
    assert report.render().splitlines()[0] == "u.csv: could not be read"
    with pytest.raises(ValueError, match="not declared columns"):
        prepare_report(path, COLUMNS, [("kommun",)])


def test_report_on_parquet(tmp_path: Path) -> None:
    path = to_parquet(tmp_path / "t.parquet", typed_table(ROWS))
    report = prepare_report(path, COLUMNS, [("pnr",)], chunk_rows=2, bounds=WIDE)
    assert report.ok
    assert report.rows == len(ROWS)
    assert report.duplicate_keys == {("pnr",): 1}


def test_values_outside_the_default_range_are_refused(tmp_path: Path) -> None:
    rows = [("a", "2024-01-01", "1000000000000000", "1.00")]
    message = data_error(write(tmp_path, "t.csv", csv_text(rows)), bounds=TableBounds())
    assert message == (
        f'{tmp_path / "t.csv"}:2: column belopp: "1000000000000000" is outside the default '
        "range [-999999999999999, 999999999999999]; declare [tables.T] ranges for the column"
    )


def test_declared_ranges_and_max_rows_are_enforced(tmp_path: Path) -> None:
    rows = [("a", "2024-01-01", "5", "1.00"), ("b", "2024-01-01", "7", "250.01")]
    path = write(tmp_path, "t.csv", csv_text(rows))
    tight = TableBounds(values={"summa": (Decimal(0), Decimal("250.00"))})
    message = data_error(path, bounds=tight)
    assert message.endswith(
        ':3: column summa: "250.01" is outside the plan\'s range [0.00, 250.00]'
    )
    message = data_error(path, bounds=TableBounds(rows=1))
    assert message.endswith(":3: the file has more than the plan's max_rows = 1 rows")
    fits = TableBounds(rows=2, values={"summa": (Decimal(0), Decimal("250.01"))})
    assert sum(c.rows for c in read_table(path, COLUMNS, bounds=fits)) == 2


def test_declared_character_ranges_of_text_are_enforced(tmp_path: Path) -> None:
    rows = [("Malmö", "2024-01-01", "5", "1.00"), ("Łódź", "2024-01-01", "7", "2.00")]
    path = write(tmp_path, "t.csv", csv_text(rows))
    latin1 = TableBounds(values={"pnr": (Decimal(1), Decimal(255))})
    message = data_error(path, bounds=latin1)
    assert message.endswith(
        ":3: column pnr: \"Łódź\" has 'Ł' (U+0141), outside the plan's character range "
        "[U+0001, U+00FF]"
    )
    wide = TableBounds(values={"pnr": (Decimal(1), Decimal(0x17F))})
    assert sum(c.rows for c in read_table(path, COLUMNS, bounds=wide)) == 2


def test_report_finds_declared_facts_that_do_not_hold(tmp_path: Path) -> None:
    rows = [("a", "2024-01-01", "5", "1.00"), ("a", "2024-02-01", "7", "2.00")]
    path = write(tmp_path, "t.csv", csv_text(rows))
    report = prepare_report(path, COLUMNS, unique=("pnr",))
    assert not report.ok
    assert "declares unique = [pnr], but 1 value(s) occur more than once" in report.problems[0]
    bounded = prepare_report(path, COLUMNS, [("pnr",)], bounds=TableBounds(max_rows_per_key=1))
    assert "max_rows_per_key = 1, but 2 rows share one value of (pnr)" in bounded.problems[0]
    outside = prepare_report(path, COLUMNS, bounds=TableBounds(rows=1))
    assert outside.problem_count == 1
    assert "more than the plan's max_rows = 1 rows" in outside.problems[0]
    assert prepare_report(path, COLUMNS, [("pnr", "manad")], unique=("pnr", "manad")).ok


# -- nullable columns --------------------------------------------------------------------

NULLABLE = {"pnr": T("id?"), "manad": T("date?"), "belopp": T("int?"), "summa": T("decimal(2)?")}


def test_nullable_columns_read_empty_values_as_null(tmp_path: Path) -> None:
    rows = [("a", "", "5", ""), ("", "2024-01-01", "", "1.50"), ("b", "2024-02-01", "  ", "0.00")]
    path = write(tmp_path, "t.csv", csv_text(rows))
    _, lanes = read_all(path, NULLABLE)
    for i, (name, ctype) in enumerate(NULLABLE.items()):
        assert len(lanes[name]) == ctype.lanes == ctype.base.lanes + 1
        null = lanes[name][ctype.null_lane]
        want = [r[i] if r[i].strip() else "" for r in rows]
        assert null.tolist() == [0 if w else 1 for w in want]
        for j, lane in enumerate(lanes[name]):  # a NULL's value lanes are all zero
            if j != ctype.null_lane:
                assert all(int(lane[k]) == 0 for k, w in enumerate(want) if not w)
        assert decode_column(ctype, lanes[name]) == want


def test_nullable_keeps_other_problems_and_non_nullable_still_refuses(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", csv_text([("a", "", "1x", "")]))
    assert data_error(path, NULLABLE).endswith('column belopp: "1x" is not an integer')
    path = write(tmp_path, "u.csv", csv_text([("a", "", "1", "")]))
    assert "column manad: empty value (NULL); the column is not nullable" in data_error(path)


def test_nullable_values_outside_the_range_but_nulls_are_fine(tmp_path: Path) -> None:
    bounds = TableBounds(values={"belopp": (Decimal(5), Decimal(10))})
    path = write(tmp_path, "t.csv", csv_text([("a", "", "", ""), ("b", "", "7", "")]))
    chunks = list(read_table(path, NULLABLE, bounds=bounds))
    assert sum(c.rows for c in chunks) == 2
    path = write(tmp_path, "u.csv", csv_text([("a", "", "", ""), ("b", "", "4", "")]))
    assert "outside the plan's range [5, 10]" in data_error(path, NULLABLE, bounds)


def test_parquet_nulls_are_null_in_nullable_columns(tmp_path: Path) -> None:
    table = pa.table(
        {
            "pnr": pa.array(["a", None], pa.string()),
            "manad": pa.array([None, date(2024, 1, 1)], pa.date32()),
            "belopp": pa.array([None, 3], pa.int64()),
            "summa": pa.array([Decimal("1.00"), None], pa.decimal128(10, 2)),
        }
    )
    path = to_parquet(tmp_path / "t.parquet", table)
    _, lanes = read_all(path, NULLABLE)
    assert decode_column(NULLABLE["pnr"], lanes["pnr"]) == ["a", ""]
    assert decode_column(NULLABLE["manad"], lanes["manad"]) == ["", "2024-01-01"]
    assert decode_column(NULLABLE["belopp"], lanes["belopp"]) == ["", "3"]
    assert decode_column(NULLABLE["summa"], lanes["summa"]) == ["1.00", ""]


def test_report_ignores_null_keys_for_duplicates(tmp_path: Path) -> None:
    rows = [("", "2024-01-01", "1", "1.00"), ("", "2024-01-01", "2", "1.00"), ("a", "", "3", "")]
    path = write(tmp_path, "t.csv", csv_text(rows))
    report = prepare_report(path, NULLABLE, [("pnr",)], bounds=WIDE, unique=["pnr"])
    assert report.ok, report.problems
    assert report.duplicate_keys == {("pnr",): 0}
    assert report.rows == 3
