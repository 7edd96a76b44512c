"""Declared facts must hold (issue 11, finding 20): a table declared ``unique`` or with
``max_rows_per_key`` whose own file contradicts it is refused by ``tyst check --data`` and
by the owner's upload before anything is committed, with one line naming the file."""

from __future__ import annotations

from pathlib import Path

from tests.jobs.test_run_cli import BISTAND, EXAMPLE_PLAN, SJUKPENNING, _tyst, _write

# bistand.csv has two rows for 197001010001 and three for 198512240003
DECLARED = {
    "unique": ('unique = ["pnr"]', "declares unique = [pnr], but 2 value(s) occur more than once"),
    "bound": ("max_rows_per_key = 2", "declares max_rows_per_key = 2, but 3 rows share one value"),
}


def _case(tmp_path: Path, declaration: str) -> Path:
    plan = EXAMPLE_PLAN.replace(
        'columns = { pnr = "id", manad = "date", belopp = "int" }',
        f'columns = {{ pnr = "id", manad = "date", belopp = "int" }}\n{declaration}',
    )
    (tmp_path / "plan.toml").write_text(plan, encoding="utf-8")
    _write(tmp_path / "sjukpenning.csv", SJUKPENNING)
    _write(tmp_path / "bistand.csv", BISTAND)
    return tmp_path


def test_check_reports_a_declared_key_the_file_contradicts(tmp_path: Path) -> None:
    for declaration, message in DECLARED.values():
        case = _case(tmp_path, declaration)
        done = _tyst("check", "plan.toml", "--data", "bistand=bistand.csv", cwd=case)
        assert done.returncode != 0
        assert message in done.stdout


def test_run_refuses_the_upload_before_anything_is_stored(tmp_path: Path) -> None:
    declaration, message = DECLARED["unique"]
    case = _case(tmp_path, declaration)
    done = _tyst(
        "run", "plan.toml", "--data", "sjukpenning=sjukpenning.csv",
        "--data", "bistand=bistand.csv", "--out", "result.csv", cwd=case,
    )  # fmt: skip
    assert done.returncode != 0
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (case / "result.csv").exists()
