"""The public transparency register: only runs, their published fields, deletion
receipts, three renderings of one register, no data and no ids, the static export;
and nothing else of the coordinator is readable without authentication."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Route
from typer.testing import CliRunner

from tests.coordinator.helpers import (
    DIGEST,
    FK,
    MALMO,
    NODE_IDS,
    NODES,
    OTHER_PLAN,
    PLAN,
    approve_plan,
    approved_job,
    create_job,
    job_event,
    post_result,
    run_to_finished,
    submit,
)
from tyst.cli import app as cli
from tyst.coordinator.register import (
    STATIC_FILES,
    RegisterFormatError,
    register_from_json,
    register_json,
)
from tyst.plan import parse_plan

ATOM = "{http://www.w3.org/2005/Atom}"
TITLE = 'title = "Samtidig sjukpenning och ekonomiskt bistånd"'
MGS_PLAN = (
    PLAN.replace(TITLE, 'title = "Andra analysen"')
    .replace('recipients = ["fk"]', 'recipients = ["fk", "malmo"]\nmin_group_size = 5')
    .replace(
        "[output]",
        '[privacy]\nunit = "pnr"\nmechanism = "laplace"\nepsilon = "1/2"\n'
        "max_rows_per_unit = 1\n\n[output]",
    )
)
MGS_DIGEST = parse_plan(MGS_PLAN).digest()
ERROR_MARK = "hemligt-felmeddelande-4711"
BLOB_MARK = b"sealed-bytes-0xC0FFEE"


@pytest.fixture
def raw(make_app: Callable[..., FastAPI]) -> Iterator[TestClient]:
    """A TestClient of a fresh coordinator that signs nothing by itself."""
    with TestClient(make_app()) as test_client:
        yield test_client


def _approve(client: TestClient, toml: str) -> str:
    digest = parse_plan(toml).digest()
    assert submit(client, toml=toml).status_code in (200, 201)
    for owner in (FK, MALMO):
        assert approve_plan(client, owner, digest).status_code in (200, 201)
    return digest


def _history(client: TestClient) -> dict[str, Any]:
    """Runs of two plans (one delivered and fully deleted, one failed with two receipts,
    one still running), a job that never started and a plan that never ran."""
    delivered = approved_job(client)
    run_to_finished(client, delivered)
    for node in NODES:
        assert post_result(client, delivered, node, "fk", BLOB_MARK).status_code == 201
        job_event(client, delivered, node, "result_delivered", {"recipient": "fk"})
    for node in NODES:
        assert job_event(client, delivered, node, "shares_deleted").status_code == 200
    failed = create_job(client).json()["job_id"]
    job_event(client, failed, NODES[0], "upload_received", {"owner": "fk", "table": "sjukpenning"})
    job_event(client, failed, NODES[0], "run_started")
    assert (
        job_event(client, failed, NODES[0], "run_failed", {"error": ERROR_MARK}).status_code == 200
    )
    for node in NODES[:2]:
        assert job_event(client, failed, node, "shares_deleted").status_code == 200
    never_started = create_job(client).json()["job_id"]
    job_event(
        client, never_started, NODES[1], "upload_received", {"owner": "fk", "table": "sjukpenning"}
    )
    _approve(client, MGS_PLAN)
    running = create_job(client, digest=MGS_DIGEST).json()["job_id"]
    for node in NODES:
        for owner, table in (("fk", "sjukpenning"), ("malmo", "bistand")):
            job_event(client, running, node, "upload_received", {"owner": owner, "table": table})
        job_event(client, running, node, "run_started")
    assert submit(client, toml=OTHER_PLAN).status_code == 201  # never approved, never run
    return {"jobs": [delivered, failed, never_started, running]}


def test_the_register_lists_the_runs_with_their_fields(client: TestClient) -> None:
    history = _history(client)
    answer = client.get("/register.json", auth=None)
    assert answer.status_code == 200
    doc = answer.json()
    assert doc["format"] == "tyst-register"
    assert doc["version"] == 1
    entries = doc["entries"]
    assert [(e["plan_digest"], e["run"]) for e in entries] == [
        (MGS_DIGEST, 1),
        (DIGEST, 2),
        (DIGEST, 1),
    ]
    running, failed, delivered = entries
    assert delivered["title"] == "Samtidig sjukpenning och ekonomiskt bistånd"
    assert delivered["purpose"] == "Efterhandskontroll"
    assert delivered["legal_basis"] == "Bidragsbrottslagen (2007:612)"
    assert delivered["retention_days"] == 30
    assert delivered["parties"] == ["Försäkringskassan", "Malmö stad"]
    assert delivered["recipients"] == ["Försäkringskassan"]
    assert delivered["sql"].startswith("SELECT s.pnr FROM sjukpenning s JOIN bistand b")
    assert delivered["output_protection"] == {"min_group_size": 0, "differential_privacy": None}
    assert delivered["state"] == "delivered"
    assert delivered["nodes"] == 3
    assert delivered["nodes_confirmed_deletion"] == 3
    assert delivered["deletion_confirmed"] is True
    assert delivered["approved_at"] is not None
    assert delivered["approved_at"] <= delivered["run_started_at"] <= delivered["run_finished_at"]
    assert failed["state"] == "failed"
    assert failed["run_finished_at"] is None
    assert failed["nodes_confirmed_deletion"] == 2
    assert failed["deletion_confirmed"] is False
    assert running["state"] == "running"
    assert running["recipients"] == ["Försäkringskassan", "Malmö stad"]
    assert running["output_protection"] == {
        "min_group_size": 5,
        "differential_privacy": {
            "mechanism": "laplace",
            "measure": "epsilon",
            "spend": "1/2",
            "unit": "pnr",
            "max_rows_per_unit": 1,
        },
    }
    assert running["nodes_confirmed_deletion"] == 0
    assert running["run_finished_at"] is None
    # What is never published: ids beyond the plan digest, data, failure messages.
    text = answer.text
    for secret in (*history["jobs"], *NODE_IDS, ERROR_MARK, BLOB_MARK.decode(), "job-"):
        assert secret not in text
    assert parse_plan(OTHER_PLAN).digest() not in text


def test_a_plan_that_never_ran_is_absent(client: TestClient) -> None:
    approved_job(client)  # approved, a job created, nothing ran
    _approve(client, MGS_PLAN)
    doc = client.get("/register.json", auth=None).json()
    assert doc["entries"] == []
    html = client.get("/register", auth=None).text
    assert "Ingen analys har körts ännu." in html
    assert "Samtidig sjukpenning" not in html


def test_the_json_document_round_trips_and_refuses_other_documents(client: TestClient) -> None:
    _history(client)
    doc = client.get("/register.json", auth=None).json()
    register = register_from_json(doc)
    assert register_json(register) == doc
    for bad in (
        {},
        {**doc, "version": 2},
        {**doc, "entries": [{**doc["entries"][0], "extra": 1}]},
        {**doc, "entries": [{**doc["entries"][0], "run": "1"}]},
        {**doc, "entries": [{**doc["entries"][0], "parties": [1]}]},
        {**doc, "entries": [{**doc["entries"][0], "output_protection": {}}]},
        {
            **doc,
            "entries": [
                {
                    **doc["entries"][0],
                    "output_protection": {"min_group_size": 5, "differential_privacy": "x"},
                }
            ],
        },
    ):
        with pytest.raises(RegisterFormatError):
            register_from_json(bad)


def test_the_atom_feed_is_atom_1_0_with_one_entry_per_run(client: TestClient) -> None:
    history = _history(client)
    answer = client.get("/register.atom", auth=None)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/atom+xml")
    feed = ET.fromstring(answer.content)
    assert feed.tag == f"{ATOM}feed"
    feed_id = feed.findtext(f"{ATOM}id")
    assert feed_id is not None
    assert feed_id.startswith("urn:tyst:register:")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", feed.findtext(f"{ATOM}updated"))
    assert feed.find(f"{ATOM}author/{ATOM}name") is not None
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == 3
    ids = [e.findtext(f"{ATOM}id") for e in entries]
    assert ids == [
        f"urn:tyst:register:{MGS_DIGEST}:run:1",
        f"urn:tyst:register:{DIGEST}:run:2",
        f"urn:tyst:register:{DIGEST}:run:1",
    ]
    for entry in entries:
        for child in ("title", "updated", "published", "summary", "content"):
            assert entry.findtext(f"{ATOM}{child}"), child
    assert entries[1].findtext(f"{ATOM}title") == "Samtidig sjukpenning och ekonomiskt bistånd"
    assert "Bidragsbrottslagen (2007:612)" in (entries[2].findtext(f"{ATOM}content") or "")
    # The feed id is stable across reads; nothing secret is in the feed.
    again = ET.fromstring(client.get("/register.atom", auth=None).content)
    assert again.findtext(f"{ATOM}id") == feed_id
    for secret in (*history["jobs"], *NODE_IDS, ERROR_MARK, BLOB_MARK.decode()):
        assert secret not in answer.text


def test_the_html_page_shows_the_runs_in_both_languages_and_no_data(client: TestClient) -> None:
    history = _history(client)
    sv = client.get("/register", auth=None)
    assert sv.status_code == 200
    assert sv.headers["content-language"] == "sv"
    assert "default-src 'none'" in sv.headers["content-security-policy"]
    html = sv.text
    assert '<html lang="sv">' in html
    assert html.count('<article class="entry"') == 3
    assert "Samtidig sjukpenning och ekonomiskt bistånd" in html
    assert "Försäkringskassan, Malmö stad" in html
    assert "Minsta gruppstorlek: 5" in html
    assert "Laplace-brus, ε = 1/2 per körning; integritetsenhet pnr, högst 1 rader" in html
    assert "Alla noder har bekräftat radering" in html
    assert '<span class="status-bad">2 av 3 noder har bekräftat radering</span>' in html
    assert "<dd>0 av 3 noder har bekräftat radering</dd>" in html  # still running: not yet
    assert "Avslutades inte (se utfall)" in html  # the failed run
    assert "Ännu inte" in html  # the running one
    assert "JOIN bistand b ON s.pnr = b.pnr" in html
    assert '<link rel="stylesheet" href="/static/tyst.css">' in html
    for secret in (*history["jobs"], *NODE_IDS, ERROR_MARK, BLOB_MARK.decode(), "job-"):
        assert secret not in html
    en = client.get("/register?lang=en", auth=None)
    assert en.headers["content-language"] == "en"
    assert "Every node has confirmed deletion" in en.text
    assert "2 of 3 nodes have confirmed deletion" in en.text
    assert "Differential privacy: Laplace noise, ε = 1/2 per run" in en.text
    accept = client.get("/register", headers={"Accept-Language": "en-GB"}, auth=None)
    assert '<html lang="en">' in accept.text
    css = client.get("/static/tyst.css", auth=None)
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")


PUBLIC_PATHS = {"/health", "/register", "/register.json", "/register.atom", "/static/{name}"}
"""The explicit allow-list: every other route must refuse an unauthenticated request."""


def _fill(path: str, job_id: str) -> str:
    values = {
        "plan_id": DIGEST,
        "job_id": job_id,
        "recipient": "fk",
        "sender": NODE_IDS[0],
        "chunk": "0",
        "name": "tyst.css",
    }
    filled = re.sub(r"\{(\w+)(:[^}]*)?\}", lambda m: values[m.group(1)], path)
    assert "{" not in filled, path
    return filled


def test_every_other_route_refuses_unauthenticated_requests(
    client: TestClient, raw: TestClient, make_app: Callable[..., FastAPI]
) -> None:
    """Issue 15: nothing but the register (and liveness) is readable without login."""
    job_id = approved_job(client)
    run_to_finished(client, job_id)
    app = client.app
    assert isinstance(app, FastAPI)
    probed = 0
    for route in app.routes:
        # Every route is a plain one (no mounted or included router hides routes here).
        assert isinstance(route, APIRoute | Route), route
        assert route.methods, route.path
        for method in sorted(route.methods):
            url = _fill(route.path, job_id)
            answer = client.request(method, url, auth=None, content=b"{}")
            if route.path in PUBLIC_PATHS and method in ("GET", "HEAD"):
                assert answer.status_code == 200, (method, route.path)
                continue
            assert answer.status_code in (401, 403), (method, route.path, answer.status_code)
            assert "/register" not in route.path
            probed += 1
    assert probed >= 15
    # No /docs or /redoc pages (their scripts come from outside CDNs); the schema
    # is for registered organisations only.
    for path in ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect", "/static/../x"):
        assert client.get(path, auth=None).status_code == 401, path
    assert client.get("/openapi.json").status_code == 200  # signed: answered
    assert client.get("/docs").status_code == 404
    assert raw.get("/static/missing.css").status_code == 401


def test_register_export_from_the_database(tmp_path: Path, client: TestClient) -> None:
    _history(client)
    ledger = client.app.state.ledger  # type: ignore[attr-defined]
    url = ledger.database.engine.url.render_as_string(hide_password=False)
    config = tmp_path / "coordinator.toml"
    nodes = ", ".join(f'"{n}"' for n in NODE_IDS)
    registry = tmp_path / "registry.json"
    registry.write_text("{}", encoding="utf-8")
    config.write_text(
        f'[coordinator]\nregistry = "{registry}"\ndatabase_url = "{url}"\nnodes = [{nodes}]\n',
        encoding="utf-8",
    )
    out = tmp_path / "site"
    result = CliRunner().invoke(cli, ["register", "export", str(out), "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "3 analyses" in result.output
    assert sorted(p.name for p in out.iterdir()) == sorted([*STATIC_FILES, "tyst.css"])
    served = client.get("/register.json", auth=None).json()
    exported = json.loads((out / "register.json").read_text(encoding="utf-8"))
    assert exported["entries"] == served["entries"]
    index = (out / "index.html").read_text(encoding="utf-8")
    assert '<link rel="stylesheet" href="tyst.css">' in index
    assert 'href="en.html"' in index
    assert '<html lang="en">' in (out / "en.html").read_text(encoding="utf-8")
    feed = ET.parse(out / "register.atom").getroot()
    assert len(feed.findall(f"{ATOM}entry")) == 3
    assert 'href="index.html#run-' in (out / "register.atom").read_text(encoding="utf-8")


def test_register_export_from_a_coordinator_url(
    tmp_path: Path, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--coordinator URL`` reads the public /register.json (no login) and renders it."""
    import httpx

    _history(client)
    asked = []

    def get(url: str, **_options: Any) -> Any:
        asked.append(url)
        assert url.startswith("https://coordinator.example:8443/")
        return client.get(url.removeprefix("https://coordinator.example:8443"), auth=None)

    monkeypatch.setattr(httpx, "get", get)
    out = tmp_path / "site"
    args = ["register", "export", str(out), "--coordinator", "https://coordinator.example:8443/"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert asked == ["https://coordinator.example:8443/register.json"]
    exported = json.loads((out / "register.json").read_text(encoding="utf-8"))
    assert len(exported["entries"]) == 3
    assert "Minsta gruppstorlek: 5" in (out / "index.html").read_text(encoding="utf-8")


def test_register_export_needs_exactly_one_source(tmp_path: Path) -> None:
    runner = CliRunner()
    neither = runner.invoke(cli, ["register", "export", str(tmp_path / "x")])
    assert neither.exit_code == 2
    assert "exactly one of --config" in neither.output
    unreachable = runner.invoke(
        cli, ["register", "export", str(tmp_path / "x"), "--coordinator", "http://127.0.0.1:9"]
    )
    assert unreachable.exit_code == 2
    assert len(unreachable.output.strip().splitlines()) == 1, unreachable.output
    assert "Traceback" not in unreachable.output
