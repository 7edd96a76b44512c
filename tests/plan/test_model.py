"""The plan file: parsing, validation (one line per error), canonical JSON and digest."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from tests.examples import ISSUE_PLAN
from tyst.data.types import DEFAULT_MAX_ROWS, ColumnType
from tyst.plan import Analysis, Party, Plan, PlanError, TableDecl, load_plan, parse_plan
from tyst.release.mechanisms import Pad, RevealSize, mechanisms

EXAMPLE = ISSUE_PLAN  # the example of issue 3, verbatim

# The same plan, reformatted: other key order, quoting, comments, sub-tables, spacing.
REFORMATTED = """\
# Reformatted: the meaning is unchanged.
[output]
min_group_size=5
recipients=[ 'fk', ]

[query]
sql = '''SELECT s.pnr FROM sjukpenning s JOIN bistand b ON s.pnr = b.pnr
         WHERE b.manad BETWEEN s.fom AND s.tom
'''

[tables.bistand]
owner = 'malmo'
[tables.bistand.columns]
pnr = 'id'
manad = 'date'
belopp = 'int'

[tables.sjukpenning]
columns.pnr = "id"
columns.fom = "date"
columns.tom = "date"
columns.belopp = "decimal(2)"
owner = "fk"

[parties]
malmo.name = "Malmö stad"
fk = { name = "Försäkringskassan" }

[analysis]
retention_days = 30
legal_basis = "Bidragsbrottslagen (2007:612)"
purpose = "Efterhandskontroll"
title = "Samtidig sjukpenning och ekonomiskt bistånd"
"""


def error(text: str, source: str = "plan.toml") -> str:
    with pytest.raises(PlanError) as info:
        parse_plan(text, source)
    message = str(info.value)
    assert "\n" not in message
    return message


def edit(old: str, new: str, text: str = EXAMPLE) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def test_example_plan_parses() -> None:
    plan = parse_plan(EXAMPLE, "plan.toml")
    assert plan.analysis == Analysis(
        "Samtidig sjukpenning och ekonomiskt bistånd",
        "Efterhandskontroll",
        "Bidragsbrottslagen (2007:612)",
        30,
    )
    assert plan.parties == {
        "fk": Party("fk", "Försäkringskassan"),
        "malmo": Party("malmo", "Malmö stad"),
    }
    assert plan.tables["sjukpenning"] == TableDecl(
        "sjukpenning",
        "fk",
        {
            "pnr": ColumnType("id"),
            "fom": ColumnType("date"),
            "tom": ColumnType("date"),
            "belopp": ColumnType("decimal", 2),
        },
    )
    assert list(plan.tables["bistand"].columns) == ["pnr", "manad", "belopp"]
    assert plan.tables["bistand"].unique == ()
    assert plan.tables["bistand"].max_rows_per_key is None
    assert plan.sql.startswith("SELECT s.pnr FROM sjukpenning s")
    assert plan.sql.endswith("BETWEEN s.fom AND s.tom")
    assert plan.recipients == ("fk",)
    assert plan.min_group_size == 5
    assert plan.allow == ()
    assert plan.source == "plan.toml"


def test_load_plan_reads_a_file_and_names_it(tmp_path: Path) -> None:
    path = tmp_path / "analys.toml"
    path.write_text(EXAMPLE, encoding="utf-8")
    plan = load_plan(path)
    assert plan.source == str(path)
    assert plan == parse_plan(EXAMPLE)
    path.write_text(edit('recipients = ["fk"]', 'recipients = ["skv"]'), encoding="utf-8")
    with pytest.raises(PlanError, match=r"^.*analys\.toml: \[output\] recipients: "):
        load_plan(path)


def test_load_plan_errors_are_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(PlanError) as info:
        load_plan(missing)
    assert str(info.value) == f"{missing}: cannot read the plan file: No such file or directory"
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes(EXAMPLE.encode("utf-8").replace("Malmö".encode(), "Malmö".encode("latin-1")))
    with pytest.raises(PlanError) as info:
        load_plan(latin1)
    assert str(info.value) == f"{latin1}:10: the plan file is not valid UTF-8"


def test_optional_keys_default() -> None:
    plan = parse_plan(edit("min_group_size = 5 ", "# no min_group_size "))
    assert plan.min_group_size == 0
    assert plan.allow == ()


def test_extensions_unique_max_rows_and_policy() -> None:
    text = edit(
        'columns = { pnr = "id", manad = "date", belopp = "int" }',
        'columns = { pnr = "id", manad = "date", belopp = "int" }\n'
        'unique = ["pnr", "manad"]\nmax_rows_per_key = 12',
    )
    plan = parse_plan(text + "\n[policy]\nallow = []\n")
    assert plan.tables["bistand"].unique == ("pnr", "manad")
    assert plan.tables["bistand"].max_rows_per_key == 12
    assert plan.allow == ()
    assert parse_plan(EXAMPLE + "\n[policy]\n").allow == ()


def test_reveal_result_size_is_accepted_and_acts() -> None:
    plan = parse_plan(EXAMPLE + '\n[policy]\nallow = ["reveal_result_size"]\n')
    assert plan.allow == ("reveal_result_size",)
    # it acts: the release stage compacts the result (tests/release/test_stage.py)
    assert isinstance(mechanisms(plan)[-1], RevealSize)
    assert isinstance(mechanisms(parse_plan(EXAMPLE))[-1], Pad)


# -- malformed TOML and structure ----------------------------------------------


def test_malformed_toml_names_line_and_column() -> None:
    message = error(edit("retention_days = 30", "retention_days = = 30"))
    assert message.startswith("plan.toml: malformed TOML: ")
    assert "line 5, column" in message
    message = error(edit('[parties.malmo]\nname = "Malmö stad"', '[parties.malmo\nname = "M"'))
    assert message.startswith("plan.toml: malformed TOML: ")
    assert "line 9" in message


@pytest.mark.parametrize("section", ["analysis", "parties", "tables", "query", "output"])
def test_missing_section(section: str) -> None:
    doc = parse_toml_sections(EXAMPLE)
    del doc[section]
    assert error(render_sections(doc)) == f"plan.toml: [{section}]: missing section"


def test_unknown_section() -> None:
    message = error(EXAMPLE + '\n[outputs]\nrecipients = ["fk"]\n')
    assert message == (
        "plan.toml: [outputs]: unknown section; "
        "expected one of analysis, parties, tables, query, output, policy, privacy"
    )


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "retention_days = 30",
            "retention_days = 30\nretension_days = 30",
            "plan.toml: [analysis] retension_days: unknown key; "
            "expected one of title, purpose, legal_basis, retention_days",
        ),
        (
            'name = "Malmö stad"',
            'name = "Malmö stad"\nnamn = "x"',
            "plan.toml: [parties.malmo] namn: unknown key; expected one of name",
        ),
        (
            'owner = "malmo"',
            'owner = "malmo"\nuniqe = ["pnr"]',
            "plan.toml: [tables.bistand] uniqe: unknown key; "
            "expected one of owner, columns, unique, max_rows_per_key, max_rows, ranges, budget",
        ),
        (
            "[query]\n",
            '[query]\ndialect = "duckdb"\n',
            "plan.toml: [query] dialect: unknown key; expected one of sql",
        ),
        (
            "min_group_size = 5",
            "min_group_size = 5\nmin_groupsize = 5",
            "plan.toml: [output] min_groupsize: unknown key; "
            "expected one of recipients, min_group_size",
        ),
    ],
)
def test_unknown_keys_are_rejected(old: str, new: str, expected: str) -> None:
    assert error(edit(old, new)) == expected


def test_unknown_policy_key_and_allowance() -> None:
    assert error(EXAMPLE + "\n[policy]\nalow = []\n") == (
        "plan.toml: [policy] alow: unknown key; expected one of allow"
    )
    assert error(EXAMPLE + '\n[policy]\nallow = ["reveal_everything"]\n') == (
        'plan.toml: [policy] allow: "reveal_everything" is not a known allowance; '
        "known: reveal_result_size"
    )


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            'title = "Samtidig sjukpenning och ekonomiskt bistånd"\n',
            "",
            "plan.toml: [analysis] title: missing",
        ),
        ("retention_days = 30", "", "plan.toml: [analysis] retention_days: missing"),
        ('name = "Malmö stad"', "", "plan.toml: [parties.malmo] name: missing"),
        ('owner = "malmo"\n', "", "plan.toml: [tables.bistand] owner: missing"),
        (
            'columns = { pnr = "id", manad = "date", belopp = "int" }',
            "",
            "plan.toml: [tables.bistand] columns: missing",
        ),
        ('recipients = ["fk"]', "", "plan.toml: [output] recipients: missing"),
    ],
)
def test_missing_keys(old: str, new: str, expected: str) -> None:
    assert error(edit(old, new)) == expected


def test_missing_sql() -> None:
    text = EXAMPLE.split("[query]")[0] + '[query]\n[output]\nrecipients = ["fk"]\n'
    assert error(text) == "plan.toml: [query] sql: missing"


# -- value types and ranges ------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "retention_days = 30",
            "retention_days = 0",
            "plan.toml: [analysis] retention_days: must be a positive integer, got 0",
        ),
        (
            "retention_days = 30",
            "retention_days = -3",
            "plan.toml: [analysis] retention_days: must be a positive integer, got -3",
        ),
        (
            "retention_days = 30",
            'retention_days = "30"',
            "plan.toml: [analysis] retention_days: must be an integer, got a string",
        ),
        (
            "retention_days = 30",
            "retention_days = 30.5",
            "plan.toml: [analysis] retention_days: must be an integer, got a float",
        ),
        (
            "retention_days = 30",
            "retention_days = true",
            "plan.toml: [analysis] retention_days: must be an integer, got a boolean",
        ),
        (
            'purpose = "Efterhandskontroll"',
            "purpose = 7",
            "plan.toml: [analysis] purpose: must be a string, got an integer",
        ),
        (
            'purpose = "Efterhandskontroll"',
            'purpose = "  "',
            "plan.toml: [analysis] purpose: must not be empty",
        ),
        (
            "min_group_size = 5",
            "min_group_size = -1",
            "plan.toml: [output] min_group_size: must be an integer ≥ 0, got -1",
        ),
        (
            "min_group_size = 5",
            "min_group_size = 2024-01-01",
            "plan.toml: [output] min_group_size: must be an integer, got a date/time",
        ),
        (
            'recipients = ["fk"]',
            'recipients = "fk"',
            "plan.toml: [output] recipients: must be a list of strings, got a string",
        ),
        (
            'recipients = ["fk"]',
            "recipients = [1]",
            "plan.toml: [output] recipients: must be a list of strings, found an integer",
        ),
        (
            'owner = "malmo"',
            'owner = ["malmo"]',
            "plan.toml: [tables.bistand] owner: must be a string, got an array",
        ),
        (
            "[query]\nsql = ",
            "query = 1\n[query2]\nsql = ",
            "plan.toml: [query2]: unknown section; "
            "expected one of analysis, parties, tables, query, output, policy, privacy",
        ),
        (
            "[analysis]\n",
            'analysis = "x"\n[analysis2]\n',
            "plan.toml: [analysis2]: unknown section; "
            "expected one of analysis, parties, tables, query, output, policy, privacy",
        ),
    ],
)
def test_wrong_types(old: str, new: str, expected: str) -> None:
    assert error(edit(old, new)) == expected


def test_party_of_wrong_type() -> None:
    doc = parse_toml_sections(EXAMPLE)
    doc["parties"] = '[parties]\nfk = "Försäkringskassan"\n'
    assert error(render_sections(doc)) == "plan.toml: [parties.fk]: must be a table, got a string"


def test_section_of_wrong_type() -> None:
    text = EXAMPLE.replace(
        '[query]\nsql = """SELECT s.pnr FROM sjukpenning s JOIN bistand b ON s.pnr = b.pnr\n'
        '         WHERE b.manad BETWEEN s.fom AND s.tom"""\n',
        "",
    )
    text = 'query = "SELECT 1"\n' + text
    assert error(text) == "plan.toml: [query]: must be a table, got a string"


def test_empty_sql() -> None:
    text = edit(
        '"""SELECT s.pnr FROM sjukpenning s JOIN bistand b ON s.pnr = b.pnr\n'
        '         WHERE b.manad BETWEEN s.fom AND s.tom"""',
        '"""\n   \n"""',
    )
    assert error(text) == "plan.toml: [query] sql: must not be empty"


# -- references and names -------------------------------------------------------


def test_recipient_not_a_party() -> None:
    assert error(edit('recipients = ["fk"]', 'recipients = ["skv"]')) == (
        'plan.toml: [output] recipients: "skv" is not a party'
    )
    assert error(edit('recipients = ["fk"]', 'recipients = ["FK"]')) == (
        'plan.toml: [output] recipients: "FK" is not a party (did you mean "fk"?)'
    )


def test_recipients_non_empty_and_distinct() -> None:
    assert error(edit('recipients = ["fk"]', "recipients = []")) == (
        "plan.toml: [output] recipients: name at least one recipient party"
    )
    assert error(edit('recipients = ["fk"]', 'recipients = ["fk", "malmo", "fk"]')) == (
        'plan.toml: [output] recipients: "fk" is listed twice'
    )


def test_owner_not_a_party() -> None:
    assert error(edit('owner = "malmo"', 'owner = "lund"')) == (
        'plan.toml: [tables.bistand] owner: "lund" is not a party'
    )


def test_tables_need_columns() -> None:
    text = edit('columns = { pnr = "id", manad = "date", belopp = "int" }', "columns = {}")
    assert error(text) == "plan.toml: [tables.bistand] columns: declare at least one column"
    text = edit('columns = { pnr = "id", manad = "date", belopp = "int" }', 'columns = ["pnr"]')
    assert error(text) == (
        'plan.toml: [tables.bistand] columns: must be a table of column = "type", got an array'
    )


def test_column_types() -> None:
    text = edit('belopp = "int" }', 'belopp = "float" }')
    assert error(text) == (
        "plan.toml: [tables.bistand] columns.belopp: unknown column type 'float'; "
        "use id, text, int, decimal(s), date or bool (a ? after the type allows NULL, e.g. int?)"
    )
    text = edit('belopp = "int" }', "belopp = 3 }")
    assert error(text) == (
        "plan.toml: [tables.bistand] columns.belopp: the type must be a string, got an integer"
    )
    text = edit('belopp = "int" }', 'belopp = "ratio" }')
    assert "columns.belopp: unknown column type 'ratio'" in error(text)
    plan = parse_plan(edit('belopp = "int" }', 'belopp = "DECIMAL(3)" }'))
    assert plan.tables["bistand"].columns["belopp"] == ColumnType("decimal", 3)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "[tables.bistand]",
            '[tables."bistånd"]',
            'plan.toml: [tables.bistånd]: "bistånd" is not a valid table name '
            "(letters, digits and _, not starting with a digit)",
        ),
        (
            "[tables.bistand]",
            "[tables.2bistand]",
            'plan.toml: [tables.2bistand]: "2bistand" is not a valid table name '
            "(letters, digits and _, not starting with a digit)",
        ),
        (
            "[parties.malmo]",
            '[parties."malmö stad"]',
            'plan.toml: [parties.malmö stad]: "malmö stad" is not a valid party name '
            "(letters, digits and _, not starting with a digit)",
        ),
        (
            'manad = "date"',
            '"manad-nr" = "date"',
            'plan.toml: [tables.bistand] columns.manad-nr: "manad-nr" is not a valid column name '
            "(letters, digits and _, not starting with a digit)",
        ),
    ],
)
def test_names_must_be_identifiers(old: str, new: str, expected: str) -> None:
    assert error(edit(old, new)) == expected


def test_names_unique_ignoring_case() -> None:
    text = edit('manad = "date"', 'manad = "date", MANAD = "int"')
    assert error(text) == (
        'plan.toml: [tables.bistand] columns: column "MANAD" is declared twice ("manad")'
    )
    text = EXAMPLE + '\n[tables.Bistand]\nowner = "fk"\ncolumns = { x = "int" }\n'
    # (TOML appends the new table after the others.)
    assert error(text) == 'plan.toml: [tables]: table "Bistand" is declared twice ("bistand")'
    text = edit("[parties.malmo]", '[parties.FK]\nname = "x"\n[parties.malmo]')
    assert error(text) == 'plan.toml: [parties]: party "FK" is declared twice ("fk")'


def test_empty_parties_and_tables() -> None:
    doc = parse_toml_sections(EXAMPLE)
    doc["tables"] = "[tables]\n"
    assert error(render_sections(doc)) == (
        "plan.toml: [tables]: declare at least one table, e.g. [tables.bistand]"
    )


def test_unique_and_max_rows_per_key_validation() -> None:
    base = 'owner = "malmo"'
    assert error(edit(base, base + '\nunique = ["pnr", "kommun"]')) == (
        'plan.toml: [tables.bistand] unique: "kommun" is not a column of the table'
    )
    assert error(edit(base, base + '\nunique = ["PNR"]')) == (
        'plan.toml: [tables.bistand] unique: "PNR" is not a column of the table '
        '(did you mean "pnr"?)'
    )
    assert error(edit(base, base + "\nunique = []")) == (
        "plan.toml: [tables.bistand] unique: must name at least one column"
    )
    assert error(edit(base, base + '\nunique = ["pnr", "pnr"]')) == (
        "plan.toml: [tables.bistand] unique: lists a column twice"
    )
    assert error(edit(base, base + '\nunique = "pnr"')) == (
        "plan.toml: [tables.bistand] unique: must be a list of strings, got a string"
    )
    assert error(edit(base, base + "\nmax_rows_per_key = 0")) == (
        "plan.toml: [tables.bistand] max_rows_per_key: must be a positive integer, got 0"
    )
    assert error(edit(base, base + "\nmax_rows_per_key = 1.5")) == (
        "plan.toml: [tables.bistand] max_rows_per_key: must be an integer, got a float"
    )


def test_default_source_name() -> None:
    with pytest.raises(PlanError, match=r'^<plan>: \[output\] recipients: "x" is not a party$'):
        parse_plan(edit('recipients = ["fk"]', 'recipients = ["x"]'))


# -- canonical form and digest ------------------------------------------------------


def test_digest_is_stable_under_reformatting() -> None:
    a, b = parse_plan(EXAMPLE, "a.toml"), parse_plan(REFORMATTED, "b.toml")
    assert a == b
    assert a.to_canonical_json() == b.to_canonical_json()
    assert a.digest() == b.digest()
    assert len(a.digest()) == 64
    assert int(a.digest(), 16) >= 0
    # Comments and blank lines anywhere.
    commented = "# header comment\n\n" + EXAMPLE.replace("\n[", "\n# c\n\n[")
    assert parse_plan(commented).digest() == a.digest()


def test_canonical_json_shape() -> None:
    plan = parse_plan(EXAMPLE)
    text = plan.to_canonical_json()
    data = json.loads(text)
    assert data["format"] == "tyst-plan/1"
    assert data["tables"]["sjukpenning"]["columns"] == [
        ["pnr", "id"],
        ["fom", "date"],
        ["tom", "date"],
        ["belopp", "decimal(2)"],
    ]
    assert data["output"] == {"recipients": ["fk"], "min_group_size": 5}
    assert data["policy"] == {"allow": []}
    assert "Försäkringskassan" in text  # UTF-8 kept, not escaped
    assert json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False) == text


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("retention_days = 30", "retention_days = 31"),
        ('title = "Samtidig', 'title = "Samtidiga'),
        ('purpose = "Efterhandskontroll"', 'purpose = "Kontroll"'),
        ("(2007:612)", "(2007:613)"),
        ('name = "Malmö stad"', 'name = "Malmö kommun"'),
        ('owner = "malmo"', 'owner = "fk"'),
        ('belopp = "int" }', 'belopp = "decimal(0)" }'),
        ('belopp = "decimal(2)"', 'belopp = "decimal(3)"'),
        ('manad = "date"', 'month = "date"'),
        ('pnr = "id", manad', 'pnr = "text", manad'),
        ('columns = { pnr = "id", manad = "date"', 'columns = { manad = "date", pnr = "id"'),
        ("WHERE b.manad", "WHERE b.manad + 0"),
        ('recipients = ["fk"]', 'recipients = ["malmo"]'),
        ('recipients = ["fk"]', 'recipients = ["fk", "malmo"]'),
        ("min_group_size = 5", "min_group_size = 6"),
        ("min_group_size = 5", "min_group_size = 0"),
        ('owner = "malmo"', 'owner = "malmo"\nunique = ["pnr"]'),
        ('owner = "malmo"', 'owner = "malmo"\nmax_rows_per_key = 2'),
        (
            '[parties.malmo]\nname = "Malmö stad"',
            '[parties.malmo]\nname = "Malmö stad"\n[parties.lund]\nname = "Lund"',
        ),
    ],
)
def test_digest_changes_with_meaning(old: str, new: str) -> None:
    before = parse_plan(EXAMPLE)
    after = parse_plan(edit(old, new))
    assert after.digest() != before.digest()


def test_digest_covers_policy_and_table_rename() -> None:
    base = parse_plan(EXAMPLE).digest()
    assert parse_plan(EXAMPLE + "\n[policy]\nallow = []\n").digest() == base
    renamed = EXAMPLE.replace("[tables.bistand]", "[tables.bidrag]")
    assert parse_plan(renamed).digest() != base


def test_source_is_not_part_of_identity() -> None:
    a, b = parse_plan(EXAMPLE, "x.toml"), parse_plan(EXAMPLE, "y.toml")
    assert a == b
    assert a.digest() == b.digest()
    assert isinstance(a, Plan)


# -- helpers -------------------------------------------------------------------------


def parse_toml_sections(text: str) -> dict[str, str]:
    """The example split into its top-level sections (by their first header)."""
    out: dict[str, str] = {}
    current = ""
    for line in text.splitlines(keepends=True):
        if line.startswith("["):
            current = line[1:].split("]")[0].split(".")[0]
        out[current] = out.get(current, "") + line
    return out


def render_sections(doc: dict[str, str]) -> str:
    return "".join(doc.values())


BOUNDED = edit(
    'owner = "malmo"',
    'owner = "malmo"\nmax_rows = 2000000\nranges = { belopp = [-100, 250000] }',
)


def test_declared_row_and_value_bounds_parse_and_are_signed() -> None:
    plan = parse_plan(BOUNDED, "plan.toml")
    table = plan.tables["bistand"]
    assert table.max_rows == 2_000_000
    assert table.row_limit == 2_000_000
    assert table.ranges == {"belopp": (Decimal(-100), Decimal(250_000))}
    assert plan.tables["sjukpenning"].row_limit == DEFAULT_MAX_ROWS
    assert plan.digest() != parse_plan(EXAMPLE).digest()
    canonical = json.loads(plan.to_canonical_json())["tables"]["bistand"]
    assert canonical["ranges"] == {"belopp": ["-100", "250000"]}
    # undeclared bounds are not in the canonical form: earlier plans keep their digests
    assert "ranges" not in json.loads(parse_plan(EXAMPLE).to_canonical_json())["tables"]["bistand"]


def test_decimal_bounds_are_exact_strings() -> None:
    text = edit('owner = "fk"', 'owner = "fk"\nranges = { belopp = ["0", "99999.99"] }')
    assert parse_plan(text).tables["sjukpenning"].ranges == {
        "belopp": (Decimal(0), Decimal("99999.99"))
    }


@pytest.mark.parametrize(
    ("ranges", "fragment"),
    [
        ("{ belopp = [0.5, 10] }", "floats are not exact"),
        ("{ pnr = [0, 10] }", "a text column's range is of its characters"),
        ('{ pnr = ["a", "zz"] }', "a text column's range is of its characters"),
        ('{ manad = ["2026-13-01", "2027-01-01"] }', "is not a date (YYYY-MM-DD)"),
        ("{ belopp = [10, 0] }", "low 10 is above high 0"),
        ("{ belopp = [0] }", "must be [low, high]"),
        ('{ belopp = [0, "1.5"] }', "has more decimals than int"),
        ("{ belopp = [0, 4611686018427387904] }", "beyond what int can hold"),
        ("{ nope = [0, 1] }", '"nope" is not a column of the table'),
        ('{ belopp = [0, "x"] }', '"x" is not a number'),
    ],
)
def test_bad_bounds_are_one_line(ranges: str, fragment: str) -> None:
    message = error(edit('owner = "malmo"', f'owner = "malmo"\nranges = {ranges}'))
    assert "[tables.bistand] ranges" in message
    assert fragment in message, message


def test_text_ranges_are_code_points_and_written_back_as_characters() -> None:
    text = edit('owner = "malmo"', 'owner = "malmo"\nranges = { pnr = ["\\u0001", "ÿ"] }')
    plan = parse_plan(text)
    assert plan.tables["bistand"].ranges == {"pnr": (Decimal(1), Decimal(255))}
    canonical = json.loads(plan.to_canonical_json())["tables"]["bistand"]["ranges"]
    assert canonical == {"pnr": ["\u0001", "ÿ"]}


def test_max_rows_must_be_positive() -> None:
    message = error(edit('owner = "malmo"', 'owner = "malmo"\nmax_rows = 0'))
    assert "[tables.bistand] max_rows: must be a positive integer" in message


def test_deeply_nested_or_huge_plans_are_one_line_errors() -> None:
    deep = EXAMPLE + "x = " + "[" * 100_000 + "]" * 100_000 + "\n"
    assert "plan.toml: malformed TOML" in error(deep)
    huge = EXAMPLE + "# " + "x" * (2 << 20) + "\n"
    assert "plan.toml: malformed TOML" in error(huge)


def test_date_ranges_are_days_and_written_back_as_dates() -> None:
    text = edit(
        'owner = "malmo"',
        'owner = "malmo"\nranges = { manad = ["2020-01-01", 2030-12-31] }',
    )
    plan = parse_plan(text)
    assert plan.tables["bistand"].ranges == {"manad": (Decimal(18262), Decimal(22279))}
    canonical = json.loads(plan.to_canonical_json())["tables"]["bistand"]["ranges"]
    assert canonical == {"manad": ["2020-01-01", "2030-12-31"]}


def test_nullable_column_types() -> None:
    text = EXAMPLE.replace('belopp = "int"', 'belopp = "int?"')
    assert text != EXAMPLE
    plan = parse_plan(text, "plan.toml")
    assert plan.tables["bistand"].columns["belopp"] == ColumnType("int", nullable=True)
    assert plan.digest() != parse_plan(EXAMPLE, "plan.toml").digest()
    bad = EXAMPLE.replace('belopp = "int"', 'belopp = "int??"')
    assert "unknown column type 'int??'" in error(bad)
