"""``tyst plan list|reject|withdraw``, ``tyst job list``, ``plan status --job`` and
``tyst audit export`` as an organisation runs them, against a real coordinator process.

Black box: ``tyst coordinator serve`` on loopback (plain HTTP), the commands through
the CLI (each organisation's own ``client.toml`` and keys, every request signed); the
nodes' events are signed with the nodes' keys over real HTTP as a node sends them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.coordinator.helpers import (
    FK,
    MALMO,
    NODE_IDS,
    NODES,
    OUTSIDER,
    PLAN,
    create_job,
    job_event,
    run_to_finished,
    signing,
)
from tests.coordinator.process import coordinator_url, serving
from tyst.cli import app
from tyst.plan import parse_plan
from tyst.service.audit import Head, read_jsonl, sign_head, write_signed_head

runner = CliRunner()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A coordinator process (plain HTTP) and a ``client.toml`` per organisation under
    ``root/<org>/``; yields its URL and ``root``."""
    root = tmp_path_factory.mktemp("deployment")
    url = coordinator_url(root)
    for keys in (FK, MALMO, OUTSIDER):
        org = root / keys.org_id
        keys.save(org / "keys", None)
        (org / "client.toml").write_text(
            "[client]\n"
            f'org = "{keys.org_id}"\n'
            'keys = "keys"\n'
            'registry = "../registry.json"\n'
            f'coordinator = "{url}"\n'
            f"nodes = {json.dumps(list(NODE_IDS))}\n"
            'node_urls = ["https://127.0.0.1:1", "https://127.0.0.1:2", "https://127.0.0.1:3"]\n',
            encoding="utf-8",
        )
    with serving(root):
        yield url, root


@pytest.fixture
def http(deployment: tuple[str, Path]) -> Iterator[TestClient]:
    """Raw signed HTTP to the coordinator (for the nodes' events); FK's by default."""
    with httpx.Client(base_url=deployment[0], timeout=30) as client:
        yield cast(TestClient, signing(client))


def _tyst(deployment: tuple[str, Path], org: str, *args: str) -> tuple[int, str]:
    config = deployment[1] / org / "client.toml"
    result = runner.invoke(app, [*args, "--config", str(config)])
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def _plan_file(deployment: tuple[str, Path], days: int) -> tuple[Path, str]:
    """A variant of the test plan (its own digest) written to a file."""
    text = PLAN.replace("retention_days = 30", f"retention_days = {days}")
    path = deployment[1] / f"plan-{days}.toml"
    path.write_text(text, encoding="utf-8")
    return path, parse_plan(text).digest()


def _approved(deployment: tuple[str, Path], days: int) -> str:
    path, digest = _plan_file(deployment, days)
    code, out = _tyst(deployment, "fk", "plan", "submit", str(path))
    assert code == 0, out
    for org in ("fk", "malmo"):
        code, out = _tyst(deployment, org, "plan", "approve", str(path))
        assert code == 0, out
    return digest


def _listed(output: str, digest: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith(digest)]
    assert len(lines) == 1, output
    return lines[0]


def test_plan_list_reject_and_withdraw(deployment: tuple[str, Path], http: TestClient) -> None:
    path, first = _plan_file(deployment, 11)
    assert _tyst(deployment, "fk", "plan", "submit", str(path))[0] == 0
    code, out = _tyst(deployment, "malmo", "plan", "list")
    assert code == 0, out
    assert "awaiting_approvals" in _listed(out, first)
    assert "(submitted by fk " in _listed(out, first)
    code, out = _tyst(deployment, "outsider", "plan", "list")
    assert code == 0
    assert first not in out  # no party of it: not shown
    second = _approved(deployment, 12)
    job = create_job(http, FK, second).json()["job_id"]
    # only the submitter withdraws
    code, out = _tyst(deployment, "malmo", "plan", "withdraw", second)
    assert code == 2
    assert len(out.strip().splitlines()) == 1
    assert "only the plan's submitter signs plan_withdrawn" in out
    code, out = _tyst(deployment, "fk", "plan", "withdraw", second, "--reason", "wrong year")
    assert code == 0, out
    assert f"withdrew plan {second} (state withdrawn" in out
    code, out = _tyst(deployment, "fk", "job", "list", "--plan", second)
    assert code == 0, out
    assert f"{job}  plan {second[:16]}…  failed (cancelled by fk: the plan was withdrawn: " in out
    # an owner rejects the first plan (after approving it or not)
    code, out = _tyst(deployment, "outsider", "plan", "reject", first, "--reason", "no")
    assert code == 2
    assert "only an owner of the plan rejects it" in out
    code, out = _tyst(
        deployment, "malmo", "plan", "reject", first, "--reason", "no legal basis for it"
    )
    assert code == 0, out
    code, out = _tyst(deployment, "fk", "plan", "list")
    assert "rejected" in _listed(out, first)
    assert "withdrawn" in _listed(out, second)
    # a closed plan takes no job
    code, out = _tyst(deployment, "fk", "plan", "approve", str(path))
    assert code == 2
    assert "the plan was rejected" in out
    assert create_job(http, FK, second).status_code == 409
    # every event of it verifies offline, with who signed it
    code, out = _tyst(deployment, "fk", "audit", "export", str(deployment[1] / "export-1"))
    assert code == 0, out
    verify = runner.invoke(
        app,
        [
            "audit", "verify", str(deployment[1] / "export-1"),
            "--registry", str(deployment[1] / "registry.json"), "--allow-incomplete",
        ],
    )  # fmt: skip
    assert verify.exit_code == 0, verify.output


def test_job_list_and_plan_status_of_one_job(
    deployment: tuple[str, Path], http: TestClient
) -> None:
    digest = _approved(deployment, 13)
    done = create_job(http, FK, digest).json()["job_id"]
    run_to_finished(http, done)
    for node in NODES:
        assert job_event(http, done, node, "shares_deleted", {"files": 2}).status_code == 200
    waiting = create_job(http, MALMO, digest).json()["job_id"]
    code, out = _tyst(deployment, "malmo", "job", "list", "--plan", digest)
    assert code == 0, out
    lines = out.strip().splitlines()
    assert len(lines) == 2, out
    assert lines[0].startswith(f"{done}  plan {digest[:16]}…  delivered  created ")
    assert lines[0].endswith(f"deletion receipts: {', '.join(sorted(NODE_IDS))}")
    assert lines[1].startswith(f"{waiting}  plan {digest[:16]}…  created  created ")
    assert lines[1].endswith("deletion receipts: none")
    code, out = _tyst(deployment, "fk", "job", "list")
    assert done in out
    assert waiting in out
    code, out = _tyst(deployment, "outsider", "job", "list")
    assert (code, out.strip()) == (0, "no jobs")
    # plan status --job shows that job only, with its events
    code, out = _tyst(deployment, "fk", "plan", "status", digest, "--job", done)
    assert code == 0, out
    assert f"job {done}: delivered" in out
    assert waiting not in out
    assert out.count("run_finished") == 3
    code, out = _tyst(deployment, "fk", "plan", "status", digest, "--job", "job-" + "0" * 32)
    assert code == 2
    assert "has no job" in out


def _verify_dir(deployment: tuple[str, Path], directory: Path) -> tuple[int, str]:
    result = runner.invoke(
        app,
        [
            "audit", "verify", str(directory),
            "--registry", str(deployment[1] / "registry.json"), "--allow-incomplete",
        ],
    )  # fmt: skip
    return result.exit_code, result.output


def test_audit_export_writes_what_verify_checks_offline(
    deployment: tuple[str, Path], http: TestClient
) -> None:
    digest = _approved(deployment, 14)
    job = create_job(http, FK, digest).json()["job_id"]
    run_to_finished(http, job)
    head = http.get("/audit/head").json()
    node_head = sign_head(NODES[2], Head(head["n_events"], head["hash"]))
    node_file = write_signed_head(deployment[1] / "node-c-head.json", node_head)
    out = deployment[1] / "export-2"
    code, text = _tyst(
        deployment, "malmo", "audit", "export", str(out), "--plan", digest,
        "--head", str(node_file),
    )  # fmt: skip
    assert code == 0, text
    assert "countersigned by malmo), 2 heads; " in text
    served = http.get("/audit").content
    assert (out / "audit.jsonl").read_bytes() == served
    heads = sorted(p.name for p in (out / "heads").iterdir())
    assert heads[0].startswith("malmo-")
    assert heads[1] == f"node-c-{head['n_events']}.json"
    extract = read_jsonl(out / f"plan-{digest}.jsonl")
    assert {e.job for e in extract} == {f"plan:{digest}", job}
    assert [e.kind for e in extract][:3] == ["plan_submitted", "plan_approved", "plan_approved"]
    assert sum(e.kind == "run_finished" for e in extract) == 3
    assert oct((out / "audit.jsonl").stat().st_mode & 0o777) == "0o600"
    code, text = _verify_dir(deployment, out)
    assert code == 0, text
    assert "2 countersigned heads contained" in text
    # a plan extract with an event left out, or a log cut below its heads, is refused
    lines = (out / f"plan-{digest}.jsonl").read_text().splitlines()
    (out / f"plan-{digest}.jsonl").write_text("\n".join(lines[:-1]) + "\n")
    code, text = _verify_dir(deployment, out)
    assert code == 1
    assert "not the plan's events in the log" in text
    (out / f"plan-{digest}.jsonl").write_text("\n".join(lines) + "\n")
    log_lines = served.decode().splitlines()
    (out / "audit.jsonl").write_text("\n".join(log_lines[:-1]) + "\n")
    code, text = _verify_dir(deployment, out)
    assert code == 1
    assert "events removed from the end" in text
    # a head the coordinator's log does not contain: nothing is exported
    future = write_signed_head(
        deployment[1] / "future.json", sign_head(NODES[0], Head(head["n_events"] + 99, "ab" * 32))
    )
    code, text = _tyst(
        deployment, "fk", "audit", "export", str(deployment[1] / "export-3"),
        "--head", str(future),
    )  # fmt: skip
    assert code == 2
    assert "future.json (signed by node-a)" in text
    assert not (deployment[1] / "export-3").exists()
    # a plan that is not the organisation's
    code, text = _tyst(
        deployment, "outsider", "audit", "export", str(deployment[1] / "x"), "--plan", digest
    )
    assert code == 2
    assert "404" in text
