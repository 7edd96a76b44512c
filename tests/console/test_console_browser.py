"""The whole lifecycle in a real browser: three bodies' consoles, a coordinator and three
nodes on loopback; review, approve in each console, upload, follow, fetch, audit; every
page checked with axe-core (WCAG 2.1 A and AA, no violations).

Needs Debian's Chromium (``/usr/bin/chromium``) and axe-core from npm (``.ci/run``
installs both; ``TYST_AXE`` may name ``axe.min.js`` elsewhere); skipped with the reason
only when one of them is missing. ``TYST_CONSOLE_SCREENSHOTS=DIR`` saves the main pages
(``docs/img`` holds the ones in ``docs/console.md``).
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from tyst.client.config import load_client_config
from tyst.client.session import Client
from tyst.console.app import ServerThread, create_app
from tyst.jobs.demo import reference, write_demo
from tyst.jobs.deploy import LocalServices, free_ports, write_local_deployment

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
AXE_CANDIDATES = [
    Path(os.environ.get("TYST_AXE", "/nonexistent")),
    ROOT / "tests" / "console" / "node_modules" / "axe-core" / "axe.min.js",
]
AXE = next((p for p in AXE_CANDIDATES if p.is_file()), None)
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = [
    pytest.mark.skipif(not CHROMIUM.is_file(), reason="Debian's chromium is not installed"),
    pytest.mark.skipif(AXE is None, reason="axe-core is not installed (npm install axe-core)"),
    pytest.mark.timeout(300),
]


def axe_check(page: Any, name: str) -> None:
    """No WCAG 2.1 A/AA violation on the page as it is now."""
    assert AXE is not None
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG
    )
    problems = [
        f"{v['id']}: {v['help']} ({', '.join(n['target'][0] for n in v['nodes'][:3])})"
        for v in result["violations"]
    ]
    assert not problems, f"{name}: {problems}"


def shot(page: Any, name: str, element: str | None = None) -> None:
    """Save the page's first screen (or one element of it), if asked to."""
    directory = os.environ.get("TYST_CONSOLE_SCREENSHOTS")
    if directory:
        path = str(Path(directory) / f"console-{name}.png")
        if element is not None:
            page.locator(element).screenshot(path=path)
        else:
            page.screenshot(path=path)


def wait_for(page: Any, selector: str, timeout: float = 90.0) -> Any:
    """The element, waiting across the page's own refreshes."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(Exception):
            found = page.wait_for_selector(selector, timeout=2000)
            if found is not None:
                return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{selector} did not appear on {page.url}")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("console")
    files = write_demo(root / "owners", 300, 7)
    bodies = list(files.plan.parties)
    deployment = write_local_deployment(root / "service", bodies)
    heads = [c.parent / "store" / "audit-heads" for c in deployment.node_configs]
    with LocalServices(deployment), contextlib.ExitStack() as stack:
        clients = {
            org: stack.enter_context(Client.from_config(load_client_config(path)))
            for org, path in deployment.client_configs.items()
        }
        urls = {}
        for org, port in zip(bodies, free_ports(len(bodies)), strict=True):
            spool = root / "spool" / org
            app = create_app(clients[org], port=port, heads=heads, workdir=spool, refresh_seconds=1)
            server = ServerThread(app, "127.0.0.1", port).start()
            stack.callback(server.stop)
            urls[org] = server.url
        yield {"files": files, "clients": clients, "urls": urls, "root": root}


def test_lifecycle_in_three_consoles(world: dict[str, Any], tmp_path: Path) -> None:
    files, clients, urls = world["files"], world["clients"], world["urls"]
    plan = files.plan
    digest = plan.digest()
    clients["fk"].submit(plan.text, "demo.toml")  # as `tyst plan submit` does
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = browser.new_context(bypass_csp=True, accept_downloads=True, locale="sv-SE")
        context.set_default_timeout(60_000)  # a loaded machine: clicks that wait for a fetch
        pages = {org: context.new_page() for org in urls}

        # review and approve in every owner's console
        for org, page in pages.items():
            page.goto(urls[org] + "/")
            axe_check(page, "plans")
            assert page.locator("html").get_attribute("lang") == "sv"
            page.click(f"a[href='/plans/{digest}']")
            assert page.locator("code.digest").first.inner_text() == digest
            assert "pnr" in page.inner_text("#h-tables + table")
            assert "SELECT b.kommun" in page.inner_text("pre.sql")
            axe_check(page, "plan")
            if org == "fk":
                shot(page, "plan")
                page.goto(f"{urls[org]}/plans/{digest}?lang=en")
                assert "What the compute nodes learn" in page.inner_text("#h-learn")
                axe_check(page, "plan (en)")
                page.goto(f"{urls[org]}/plans/{digest}?lang=sv")
            if org == "malmo":  # a form whose digest is not the plan's is refused
                csrf = page.locator("input[name=csrf]").first.get_attribute("value")
                answer = page.request.post(
                    f"{urls[org]}/plans/{digest}/approve",
                    form={"digest": "0" * 64, "csrf": csrf},
                )
                assert answer.status == 409
                assert "malmo" in clients["fk"].status(digest)["missing_approvals"]
            page.click("#approve")
            wait_for(page, "text=Ni har godkänt planen.")
        assert clients["fk"].status(digest)["state"] == "approved"

        # each owner: data report on its file, then the upload, with progress
        job = None
        for org, page in pages.items():
            table = next(t for t, d in plan.tables.items() if d.owner == org)
            page.goto(f"{urls[org]}/plans/{digest}")
            page.click("#upload")
            axe_check(page, "upload")
            if org == "lund":  # a file sent to the console itself
                page.set_input_files("#file", str(files.data[table]))
            else:  # a path on this machine
                page.fill("#path", str(files.data[table]))
            page.click("#check")
            assert f"{files.rows[table]} rows, no problems" in page.inner_text("pre.report")
            axe_check(page, "report")
            if org == "fk":
                shot(page, "report")
            page.click("#send")
            follow = wait_for(page, "#follow")
            axe_check(page, "upload done")
            assert f"{files.rows[table]} rader" in page.inner_text("#status")
            job = follow.get_attribute("href").removeprefix("/jobs/")
        assert not list((world["root"] / "spool" / "lund").iterdir())  # deleted once sent

        # follow the job, fetch and open the result as the recipient
        fk = pages["fk"]
        fk.goto(f"{urls['fk']}/jobs/{job}")
        axe_check(fk, "job")
        assert fk.locator("table").first.inner_text().count("nod-") == 3
        fk.click("#fetch")
        wait_for(fk, "#open").click()
        axe_check(fk, "result")
        shot(fk, "result")
        expected = reference(files)
        shown = [
            [c.inner_text() for c in row.query_selector_all("td")]
            for row in fk.query_selector_all("#result tbody tr")
        ]
        assert shown == expected
        with fk.expect_download() as download:
            fk.click("#csv")
        text = Path(download.value.path()).read_text(encoding="utf-8")
        assert list(csv.reader(io.StringIO(text)))[1:] == expected
        with fk.expect_download() as download:
            fk.click("#parquet")
        table = pq.read_table(download.value.path())
        assert [[str(v) for v in row.values()] for row in table.to_pylist()] == expected

        fk.goto(f"{urls['fk']}/jobs/{job}")
        wait_for(fk, "#job-state >> text=levererad")
        shot(fk, "job")

        # the audit trail, verified in the console, with the nodes' heads and receipts
        deadline = time.monotonic() + 120
        while True:
            fk.goto(f"{urls['fk']}/plans/{digest}/audit")
            receipts = fk.inner_text("#receipts") if fk.query_selector("#receipts") else ""
            verified = fk.query_selector("#audit-ok") and fk.query_selector("text=finns i loggen")
            if receipts.count("raderat") == 3 and verified:
                break
            assert time.monotonic() < deadline, fk.inner_text("main")
            time.sleep(0.5)
        axe_check(fk, "audit")
        shot(fk, "audit")

        # a changed plan: FK sees the difference from the one it approved; Malmö rejects it
        changed = plan.text.replace("syntetiska data", "syntetiska data, andra omgången")
        second = clients["fk"].submit(changed, "demo2.toml").digest()
        fk.goto(f"{urls['fk']}/plans/{second}")
        diff = fk.inner_text("pre.diff")
        assert "andra omgången" in fk.inner_text("pre.diff ins")
        assert digest[:16] in diff
        axe_check(fk, "plan with diff")
        shot(fk, "diff", "section[aria-labelledby=h-diff]")
        for org in clients:  # approved and a job opened; then Malmö rejects it after all
            clients[org].approve(changed)
        failing = clients["fk"].job_for(second)
        malmo = pages["malmo"]
        malmo.goto(f"{urls['malmo']}/plans/{second}")
        assert malmo.query_selector("text=Ni har godkänt planen.")
        malmo.fill("#reason", "ändamålet är inte prövat")
        malmo.click("#reject")
        wait_for(malmo, "text=Planen är stängd")
        assert clients["fk"].status(second)["state"] == "rejected"
        fk.goto(f"{urls['fk']}/jobs/{failing}")
        alert = wait_for(fk, "p[role=alert]").inner_text()
        assert "Misslyckades" in alert
        assert "cancelled by malmo: the plan was rejected: ändamålet är inte prövat" in alert
        axe_check(fk, "failed job")
        fk.goto(f"{urls['fk']}/jobs/job-{'0' * 32}")  # the coordinator knows no such job
        assert "404" in fk.inner_text("p[role=alert]")
        axe_check(fk, "error")
        fk.goto(urls["fk"] + "/")
        shot(fk, "plans")
        browser.close()
