"""Text values ⇄ lanes: every type round-trips, every bad value is named, AVG decodes exactly."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tyst.data.encoding import (
    ValueProblem,
    decode_column,
    decode_ratio,
    encode_column,
    encode_column_lenient,
)
from tyst.data.types import COMPARISON_LIMIT, ColumnType, text_lanes
from tyst.ring.words import U64

T = ColumnType.parse
LIMIT = COMPARISON_LIMIT - 1


def roundtrip(ctype: str, values: list[str]) -> list[str]:
    t = T(ctype)
    lanes = encode_column(t, values)
    assert len(lanes) == t.lanes
    assert all(lane.dtype == np.uint64 and lane.shape == (len(values),) for lane in lanes)
    return decode_column(t, lanes)


def problem(ctype: str, values: list[str]) -> tuple[int, str]:
    with pytest.raises(ValueProblem) as info:
        encode_column(T(ctype), values)
    return info.value.index, info.value.message


# -- round trips ----------------------------------------------------------------------


def test_int_round_trip() -> None:
    values = ["0", "1", "-1", "42", str(LIMIT), str(-LIMIT), "-4611686018427387903"]
    assert roundtrip("int", values) == values
    lanes = encode_column(T("int"), ["-1", "5"])
    assert lanes[0].view(np.int64).tolist() == [-1, 5]
    assert lanes[0][0] == np.uint64(2**64 - 1)  # two's complement


def test_int_normalises_harmless_forms() -> None:
    assert roundtrip("int", ["+7", "007", " 12 ", "-0"]) == ["7", "7", "12", "0"]


def test_decimal_round_trip_and_canonical_form() -> None:
    values = ["12.50", "-0.05", "0.00", "-12.34", "100000.01"]
    assert roundtrip("decimal(2)", values) == values
    assert roundtrip("decimal(2)", ["12.5", "12", "-.5", ".25", "+3.10", "7.", "1.500"]) == [
        "12.50",
        "12.00",
        "-0.50",
        "0.25",
        "3.10",
        "7.00",
        "1.50",
    ]
    assert encode_column(T("decimal(2)"), ["-0.05", "12.50"])[0].view(np.int64).tolist() == [
        -5,
        1250,
    ]
    assert roundtrip("decimal(0)", ["5", "-5", "5.0"]) == ["5", "-5", "5"]
    assert roundtrip("decimal(18)", ["0.000000000000000001", "-4.5"]) == [
        "0.000000000000000001",
        "-4.500000000000000000",
    ]


def test_decimal_fast_and_slow_paths_agree() -> None:
    t = T("decimal(3)")
    clean = ["1.250", "-0.001", "12.000", "-7.125"]  # every value with exactly 3 decimals
    whole = ["1", "-2", "30"]  # no value has a point
    mixed = ["1.25", "-0.001", "12", "-7.125"]  # the per-value parser
    assert encode_column(t, clean)[0].view(np.int64).tolist() == [1250, -1, 12000, -7125]
    assert encode_column(t, whole)[0].view(np.int64).tolist() == [1000, -2000, 30000]
    assert encode_column(t, mixed)[0].view(np.int64).tolist() == [1250, -1, 12000, -7125]
    bound = LIMIT // 1000
    assert decode_column(t, encode_column(t, [str(bound)])) == [f"{bound}.000"]
    assert problem("decimal(3)", [str(bound + 1)])[1].endswith("is out of range " + RANGE)


def test_date_round_trip_including_before_1970() -> None:
    values = ["1970-01-01", "1969-12-31", "1900-02-28", "0001-01-01", "9999-12-31", "2024-02-29"]
    assert roundtrip("date", values) == values
    days = encode_column(T("date"), values)[0].view(np.int64).tolist()
    epoch = date(1970, 1, 1)
    assert days == [(date.fromisoformat(v) - epoch).days for v in values]
    assert days[1] == -1
    assert roundtrip("date", [" 2024-01-05 "]) == ["2024-01-05"]


def test_bool_round_trip() -> None:
    values = ["true", "false", "1", "0", "TRUE", "False", " tRuE "]
    assert roundtrip("bool", values) == ["true", "false", "true", "false", "true", "false", "true"]
    assert encode_column(T("bool"), ["true", "0"])[0].tolist() == [1, 0]


@pytest.mark.parametrize("kind", ["id", "text"])
def test_text_round_trip_exactly_as_given(kind: str) -> None:
    exactly_64 = "å" * 32  # 64 bytes of UTF-8
    assert len(exactly_64.encode()) == 64
    values = [
        "19121212-1212",
        " padded ",
        "Malmö stad",
        "😀 emoji",
        exactly_64,
        "x" * 64,
        'quote " and, comma',
        "a",
    ]
    assert roundtrip(kind, values) == values


def test_text_lanes_match_the_contract() -> None:
    values = ["pnr-1", "Försäkringskassan", "å" * 32, "7"]
    lanes = encode_column(T("id"), values)
    for i, v in enumerate(values):
        assert [int(lane[i]) for lane in lanes] == text_lanes(v)
    assert all(int(x) < 2**62 for x in lanes[0])
    assert all(int(x) < 2**62 for x in lanes[1])


def test_empty_columns() -> None:
    for kind in ["int", "decimal(2)", "date", "bool", "id"]:
        lanes = encode_column(T(kind), [])
        assert len(lanes) == T(kind).lanes
        assert all(len(x) == 0 for x in lanes)
        assert decode_column(T(kind), lanes) == []


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-LIMIT, LIMIT), max_size=20))
def test_int_property(xs: list[int]) -> None:
    values = [str(x) for x in xs]
    assert roundtrip("int", values) == values


@settings(max_examples=60, deadline=None)
@given(st.lists(st.decimals(-(10**9), 10**9, places=2, allow_nan=False), max_size=20))
def test_decimal_property(xs: list[Decimal]) -> None:
    values = [f"{x:.2f}" for x in xs]
    expected = [f"{Decimal(v):.2f}" for v in values]
    assert roundtrip("decimal(2)", values) == [e if e != "-0.00" else "0.00" for e in expected]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.dates(), max_size=20))
def test_date_property(ds: list[date]) -> None:
    values = [d.isoformat() for d in ds]
    assert roundtrip("date", values) == values


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.text(
            st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"),
            min_size=1,
            max_size=16,
        ),
        max_size=20,
    )
)
def test_text_property(values: list[str]) -> None:
    assert roundtrip("text", values) == values


# -- bad values ---------------------------------------------------------------------------

RANGE = f"({'between'} -{LIMIT} and {LIMIT})"


@pytest.mark.parametrize(
    ("ctype", "value", "message"),
    [
        (
            "int",
            "",
            "empty value (NULL); the column is not nullable",
        ),
        (
            "int",
            "   ",
            "empty value (NULL); the column is not nullable",
        ),
        ("int", "12x", '"12x" is not an integer'),
        ("int", "1.5", '"1.5" is not an integer'),
        ("int", "1_000", '"1_000" is not an integer'),
        ("int", "١٢", '"١٢" is not an integer'),
        ("int", "1e3", '"1e3" is not an integer'),
        ("int", "+-1", '"+-1" is not an integer'),
        ("int", "0x10", '"0x10" is not an integer'),
        ("int", str(2**62), f'"{2**62}" is out of range {RANGE}'),
        ("int", str(-(2**62)), f'"{-(2**62)}" is out of range {RANGE}'),
        ("int", "9" * 30, '"' + "9" * 30 + f'" is out of range {RANGE}'),
        (
            "decimal(2)",
            "",
            "empty value (NULL); the column is not nullable",
        ),
        ("decimal(2)", "12,5", '"12,5" is not a decimal number'),
        ("decimal(2)", "1e3", '"1e3" is not a decimal number'),
        ("decimal(2)", ".", '"." is not a decimal number'),
        ("decimal(2)", "-", '"-" is not a decimal number'),
        ("decimal(2)", "NaN", '"NaN" is not a decimal number'),
        ("decimal(2)", "1.2.3", '"1.2.3" is not a decimal number'),
        ("decimal(2)", "12.345", '"12.345" has more than 2 decimals (values are never rounded)'),
        ("decimal(1)", "0.05", '"0.05" has more than 1 decimal (values are never rounded)'),
        ("decimal(0)", "1.5", '"1.5" has more than 0 decimals (values are never rounded)'),
        ("decimal(2)", str(2**62 // 100 + 1), f'"{2**62 // 100 + 1}" is out of range {RANGE}'),
        (
            "date",
            "",
            "empty value (NULL); the column is not nullable",
        ),
        ("date", "2023-02-29", '"2023-02-29" is not a date (no such day)'),
        ("date", "2024-13-01", '"2024-13-01" is not a date (no such day)'),
        ("date", "0000-01-01", '"0000-01-01" is not a date (no such day)'),
        ("date", "20240101", '"20240101" is not a date (YYYY-MM-DD)'),
        ("date", "2024-1-01", '"2024-1-01" is not a date (YYYY-MM-DD)'),
        ("date", "2024-01-01T00:00", '"2024-01-01T00:00" is not a date (YYYY-MM-DD)'),
        ("date", "01/02/2024", '"01/02/2024" is not a date (YYYY-MM-DD)'),
        (
            "bool",
            "",
            "empty value (NULL); the column is not nullable",
        ),
        ("bool", "yes", '"yes" is not a boolean (true, false, 1 or 0)'),
        ("bool", "2", '"2" is not a boolean (true, false, 1 or 0)'),
        (
            "id",
            "",
            "empty value (NULL); the column is not nullable",
        ),
        (
            "text",
            "",
            "empty value (NULL); the column is not nullable",
        ),
        ("id", "a\0b", '"a\\u0000b" contains a NUL character'),
        (
            "text",
            "x" * 65,
            '"' + "x" * 40 + '…" is 65 bytes of UTF-8; id/text values are at most 64 bytes',
        ),
        (
            "id",
            "å" * 32 + "x",  # 65 bytes, 33 characters
            '"' + "å" * 32 + 'x" is 65 bytes of UTF-8; id/text values are at most 64 bytes',
        ),
        ("text", "\ud800", '"\\ud800" is not valid Unicode text'),
    ],
)
def test_bad_values(ctype: str, value: str, message: str) -> None:
    good = {"date": "2024-01-01", "bool": "true", "id": "a", "text": "a"}.get(T(ctype).kind, "1")
    assert problem(ctype, [good, good, value, value]) == (2, message)
    assert problem(ctype, [value]) == (0, message)


def test_value_problem_str() -> None:
    exc = ValueProblem(3, '"x" is not an integer')
    assert str(exc) == 'value 3: "x" is not an integer'
    assert isinstance(exc, ValueError)


def test_lenient_encoding_reports_every_problem() -> None:
    result = encode_column_lenient(T("int"), ["1", "x", "3", "", "5"])
    assert [(p.index, p.message) for p in result.problems] == [
        (1, '"x" is not an integer'),
        (3, "empty value (NULL); the column is not nullable"),
    ]
    assert result.lanes[0].view(np.int64).tolist() == [1, 0, 3, 0, 5]
    text = encode_column_lenient(T("id"), ["a", "", "b" * 70, "c"])
    assert [p.index for p in text.problems] == [1, 2]
    good = encode_column(T("id"), ["a", "c"])
    for lane, ok in zip(text.lanes, good, strict=True):
        assert lane.tolist() == [ok[0], 0, 0, ok[1]]
    assert encode_column_lenient(T("date"), ["2024-01-01"]).problems == []


def test_ratio_is_not_an_input_type() -> None:
    with pytest.raises(ValueError, match="output type"):
        encode_column(ColumnType("ratio", 2), ["1"])


# -- decoding -------------------------------------------------------------------------------


def test_decode_wrong_lane_count() -> None:
    with pytest.raises(ValueError, match="has 10 lanes, got 1"):
        decode_column(T("id"), [np.zeros(1, dtype=U64)])


def test_decode_date_out_of_range() -> None:
    with pytest.raises(ValueError, match="outside 0001-01-01"):
        decode_column(T("date"), [np.array([3_000_000], dtype=np.int64).view(U64)])


def lanes_of(xs: list[int]) -> np.ndarray:
    return np.array(xs, dtype=np.int64).view(U64)


def test_decode_ratio_exact_half_even() -> None:
    # scale 0: 6 decimals
    sums, counts = [1, 2, 10, -10, 0, 7, 5, -5], [3, 3, 4, 4, 9, 1, 0, 2]
    assert decode_ratio(0, lanes_of(sums), lanes_of(counts)) == [
        "0.333333",
        "0.666667",
        "2.500000",
        "-2.500000",
        "0.000000",
        "7.000000",
        "",  # no rows: SQL NULL
        "-2.500000",
    ]
    # Half to even at the last decimal: 0.0000005 → 0.000000, 0.0000015 → 0.000002.
    assert decode_ratio(0, lanes_of([1, 3, -1, -3]), lanes_of([2_000_000] * 4)) == [
        "0.000000",
        "0.000002",
        "0.000000",
        "-0.000002",
    ]
    # scale 2 (sum in cents): still 6 decimals; scale 8 keeps 8.
    assert decode_ratio(2, lanes_of([1250, -5]), lanes_of([2, 3])) == ["6.250000", "-0.016667"]
    assert decode_ratio(8, lanes_of([1]), lanes_of([3])) == ["0.00000000"]
    assert decode_ratio(8, lanes_of([2]), lanes_of([3])) == ["0.00000001"]


@settings(max_examples=80, deadline=None)
@given(
    st.integers(-(2**62), 2**62),
    st.integers(1, 10**9),
    st.integers(0, 12),
)
def test_decode_ratio_matches_decimal(total: int, count: int, scale: int) -> None:
    decimals = max(scale, 6)
    with localcontext(prec=80):  # wide enough that the division itself is exact to 80 digits
        expected = (Decimal(total).scaleb(-scale) / Decimal(count)).quantize(
            Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_EVEN
        )
    got = decode_ratio(scale, lanes_of([total]), lanes_of([count]))[0]
    assert got == (f"{expected:f}" if expected != 0 else f"{Decimal(0):.{decimals}f}")


def test_ratio_via_decode_column() -> None:
    assert decode_column(ColumnType("ratio", 2), [lanes_of([300]), lanes_of([2])]) == ["1.500000"]


@pytest.mark.parametrize("kind", ["int", "decimal(3)", "date", "bool", "id", "text"])
def test_nullable_types_parse_print_and_lay_out(kind: str) -> None:
    base = ColumnType.parse(kind)
    t = ColumnType.parse(kind + "?")
    assert t.nullable
    assert not base.nullable
    assert str(t) == str(base) + "?"
    assert ColumnType.parse(str(t)) == t
    assert t.base == base
    assert t.with_nulls() == t
    assert t.lanes == base.lanes + 1
    assert t.key_lanes == base.key_lanes + 1
    assert t.null_lane == base.key_lanes
    with pytest.raises(ValueError, match="unknown column type"):
        ColumnType.parse(kind + "??")


def test_nullable_encode_decode_round_trip() -> None:
    t = ColumnType.parse("decimal(2)?")
    lanes = encode_column(t, ["1.5", "", " ", "-2"])
    assert [int(x) for x in lanes[1]] == [0, 1, 1, 0]
    assert [int(x) for x in lanes[0]] == [150, 0, 0, (-200) % (1 << 64)]
    assert decode_column(t, lanes) == ["1.50", "", "", "-2.00"]
    text = ColumnType.parse("text?")
    assert decode_column(text, encode_column(text, ["", "å", " "])) == ["", "å", " "]
    assert decode_column(t, encode_column(t, [])) == []
    assert decode_column(t, encode_column(t, ["", ""])) == ["", ""]
