"""The console's pieces that need no deployment: masking, Parquet types, the request
guard (Host, CSRF), security headers, assets and the error page."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from tyst.client.recipient import Result
from tyst.client.session import Client
from tyst.console.app import create_app, discard_spool
from tyst.console.i18n import TEXTS, translator
from tyst.console.results import MASK, parquet_bytes, table_view
from tyst.console.views import check_sections
from tyst.data.types import ColumnType
from tyst.jobs.deploy import free_ports, write_local_deployment
from tyst.service.keys import Registry, generate

ID = ColumnType("id")
INT = ColumnType("int")


def _result(n: int) -> Result:
    rows = [[f"19{i:010d}", str(i)] for i in range(n)]
    return Result(["pnr", "n"], rows, n + 3, 0)


@pytest.mark.parametrize("n", [0, 1, 7, 120])
def test_table_view_masks_ids_and_shows_the_first_rows(n: int) -> None:
    header, rows, masked = table_view(_result(n), [ID, INT], unmask=False, limit=50)
    assert header == ["pnr", "n"]
    assert len(rows) == min(n, 50)
    assert masked
    assert all(r[0] == MASK and r[1] == str(i) for i, r in enumerate(rows))
    _, shown, masked = table_view(_result(n), [ID, INT], unmask=True, limit=None)
    assert not masked
    assert shown == _result(n).rows


def test_table_view_without_id_columns_is_not_masked() -> None:
    result = Result(["a"], [["1"]], 1, 0)
    assert table_view(result, [INT], unmask=False, limit=50) == (["a"], [["1"]], False)


def test_parquet_keeps_the_types() -> None:
    types = [
        ColumnType("id"),
        ColumnType("int"),
        ColumnType("decimal", 2),
        ColumnType("date"),
        ColumnType("bool"),
        ColumnType("int", nullable=True),
        ColumnType("text"),
    ]
    rows = [
        ["19x", "-5", "12.30", "2026-01-31", "true", "", ""],
        ["20y", "7", "-0.05", "2025-12-01", "false", "3", "å"],
    ]
    table = pq.read_table(io.BytesIO(parquet_bytes(Result(list("abcdefg"), rows, 2, 0), types)))
    got = table.to_pylist()
    assert [str(f.type) for f in table.schema] == [
        "string",
        "int64",
        "decimal128(38, 2)",
        "date32[day]",
        "bool",
        "int64",
        "string",
    ]
    assert got[0]["c"] == Decimal("12.30")
    assert got[1]["b"] == 7
    assert got[0]["e"] is True
    assert got[0]["f"] is None
    assert got[1]["f"] == 3
    assert got[0]["g"] == ""
    assert str(got[1]["d"]) == "2025-12-01"


def test_both_languages_have_every_text() -> None:
    for lang in ("sv", "en"):
        t = translator(lang)
        assert all(t[key] for key in TEXTS)
        assert t("retention_days", n=3).count("3") == 1
        assert t["site_name"] == "tyst"  # the shared web strings too


def test_check_sections_split_the_report() -> None:
    text = "Analysis: x\n\nParties:\n  a — A\n\nOperator plan (each step oblivious):\nscan t\n"
    sections = check_sections(text)
    headings = [s.heading for s in sections.values()]
    assert headings == ["Parties", "Operator plan (each step oblivious)"]
    assert sections["parties"].lines == ["a — A"]


@pytest.fixture
def console() -> Iterator[TestClient]:
    keys = generate("fk")
    client = Client(
        keys,
        Registry(),
        "https://127.0.0.1:9",  # nothing listens: every page that needs it shows the error
        ("nod-a", "nod-b", "nod-c"),
        ("https://127.0.0.1:9", "https://127.0.0.1:9", "https://127.0.0.1:9"),
        timeout=2.0,
    )
    app = create_app(client, port=8600)
    yield TestClient(app, base_url="http://127.0.0.1:8600")
    discard_spool(app)
    assert not app.state.spool.exists()


def test_foreign_host_is_refused(console: TestClient) -> None:
    assert console.get("/", headers={"host": "attacker.example"}).status_code == 421
    assert console.get("/", headers={"host": "localhost:8600"}).status_code != 421


def test_posts_without_the_token_are_refused(console: TestClient) -> None:
    plan = "a" * 64
    answer = console.post(f"/plans/{plan}/approve", data={"digest": plan, "csrf": "guess"})
    assert answer.status_code == 403
    answer = console.post(f"/plans/{plan}/reject", data={"reason": "x", "csrf": "guess"})
    assert answer.status_code == 403


def test_unreachable_coordinator_is_one_line_on_an_error_page(console: TestClient) -> None:
    answer = console.get("/?lang=en")
    assert answer.status_code == 502
    assert 'lang="en"' in answer.text
    assert 'role="alert"' in answer.text
    headers = answer.headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["cache-control"] == "no-store"


def test_assets_come_from_the_package(console: TestClient) -> None:
    assert console.get("/static/tyst.css").status_code == 200
    assert console.get("/static/console/console.css").status_code == 200
    assert console.get("/static/console/refresh.js").status_code == 200
    assert console.get("/static/console/../app.py").status_code == 404


@pytest.mark.parametrize("lang", ["sv", "en"])
@pytest.mark.parametrize("dp", [False, True])
def test_plan_page_shows_every_declaration(lang: str, dp: bool) -> None:
    from tests.examples import ISSUE_PLAN
    from tests.plan.test_privacy import DP_PLAN
    from tyst.console import views
    from tyst.console.app import render_page
    from tyst.plan import parse_plan

    plan = parse_plan(DP_PLAN if dp else ISSUE_PLAN, "plan.toml")
    review = views.PlanReview(
        plan.digest(),
        plan,
        {
            "state": "awaiting_approvals",
            "submitted_by": "fk",
            "submitted_at": "2026-01-01T00:00:00Z",
            "missing_approvals": ["malmo"],
            "required_approvers": ["fk", "malmo"],
        },
        {},
        "",
        [],
        None,
        None,
    )
    html = render_page(
        "plan.html",
        lang,
        org="fk",
        csrf="token",
        path="/plans/x",
        refresh=None,
        r=review,
        section=views.section,
        closed=views.CLOSED,
    )
    assert plan.analysis.legal_basis in html
    assert f'name="digest" value="{plan.digest()}"' in html
    for name, decl in plan.tables.items():
        assert f"<code>{name}</code>" in html
        assert all(f"<code>{c}</code>" in html for c in decl.columns)
    if dp:
        assert "laplace (epsilon = 1/2" in html
        assert "epsilon 2 / year" in html
    else:
        assert (
            "Ingen: resultatet lämnas ut exakt." if lang == "sv" else "released exactly"
        ) in html


def test_tyst_console_serves_on_loopback(tmp_path: Path) -> None:
    """`tyst console --config` starts, binds 127.0.0.1 and answers (here: an error page,
    as no coordinator runs)."""
    deployment = write_local_deployment(tmp_path, ["fk"])
    (port,) = free_ports(1)
    config = str(deployment.client_configs["fk"])
    process = subprocess.Popen(
        [sys.executable, "-m", "tyst", "console", "--config", config, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert answer.status_code == 502
        assert "Organisation: <strong>fk</strong>" in answer.text
    finally:
        process.terminate()
        process.wait(timeout=10)
