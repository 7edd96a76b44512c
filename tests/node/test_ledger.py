"""The nodes' privacy-budget ledgers: exact, atomic, final once committed, kept across restarts.

The ledger tests use real SQLite files; the service tests run three real nodes (their stores,
their ledgers) against a coordinator stub that serves whatever the test says, as in
``tests/node/test_service.py``. The release stage bounds one table's aggregate only and
refuses this two-table plan; these tests lift that one step (``release_plan``) so that the
nodes' budget rules can be exercised over two tables, and replace the three-party run by a
stub that fails (no peers here): what matters is the ledger before and after it.
"""

from __future__ import annotations

import datetime as _dt
import sqlite3
import threading
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.examples import ISSUE_PLAN
from tests.node.test_service import FK, MALMO, NODE, REGISTRY, LyingCoordinator
from tyst.api.uploads import Chunk, UploadHeader, UploadReader, UploadWriter
from tyst.net.certs import make_deployment
from tyst.node.config import NodeConfig
from tyst.node.ledger import LEDGER_FILE, BudgetLedger, Charge, LedgerError, OverBudget
from tyst.node.service import NodeService, Refused
from tyst.plan import Plan, parse_plan
from tyst.plan.privacy import Budget
from tyst.planner.jobspec import job_spec
from tyst.planner.planning import PlanningError
from tyst.service.signing import approve

NOW = _dt.datetime(2026, 6, 1, 12, tzinfo=_dt.UTC)
HALF, THIRD = Fraction(1, 2), Fraction(1, 3)


def charge(amount: Fraction = HALF, budget: Budget | None = None, **kw: Any) -> Charge:
    fields: dict[str, Any] = {
        "owner": "malmo",
        "table": "bistand",
        "unit": "pnr",
        "measure": "epsilon",
        "amount": amount,
        "declared": budget,
    } | kw
    return Charge(**fields)


YEAR_1 = Budget(Fraction(1), None, "year")


def test_reserve_commit_and_release_are_exact(tmp_path: Path) -> None:
    ledger = BudgetLedger(tmp_path / LEDGER_FILE)
    for job in ("job-a", "job-b", "job-c"):  # 1/3 + 1/3 + 1/3 is exactly 1: no float drift
        ledger.reserve(job, "p", [charge(THIRD, YEAR_1)], NOW)
    balance = ledger.balance("malmo", "bistand", "pnr", NOW)
    assert (balance.budget, balance.reserved, balance.committed, balance.left) == (1, 1, 0, 0)
    with pytest.raises(OverBudget) as info:
        ledger.reserve("job-d", "p", [charge(Fraction(1, 10**9), YEAR_1)], NOW)
    assert str(info.value) == (
        "privacy budget exceeded for table bistand (owner malmo, unit pnr): budget ε = 1 in "
        "2026, spent 1, requested 1/1000000000"
    )
    assert ledger.release("job-c") == 1  # refused or cancelled before computing: costs nothing
    ledger.commit("job-a", "p", [charge(THIRD, YEAR_1)], NOW)
    assert ledger.release("job-a") == 0  # committed: final
    balance = ledger.balance("malmo", "bistand", "pnr", NOW)
    assert (balance.committed, balance.reserved, balance.left) == (THIRD, THIRD, THIRD)
    assert ledger.job_states("job-a") == {"bistand": "committed"}
    assert ledger.job_states("job-c") == {"bistand": "released"}
    ledger.reserve("job-a", "p", [charge(THIRD, YEAR_1)], NOW)  # asking again: a no-op
    assert ledger.balance("malmo", "bistand", "pnr", NOW).spent == 2 * THIRD


def test_the_file_holds_integers_and_committed_rows_cannot_be_changed(tmp_path: Path) -> None:
    path = tmp_path / LEDGER_FILE
    ledger = BudgetLedger(path)
    ledger.commit("job-a", "p", [charge(Fraction(3, 7), YEAR_1)], NOW)
    assert path.stat().st_mode & 0o777 == 0o600
    db = sqlite3.connect(path)
    assert db.execute("SELECT num, den, typeof(num), state FROM spends").fetchall() == [
        (3, 7, "integer", "committed")
    ]
    for sql in ("UPDATE spends SET state = 'released'", "DELETE FROM spends"):
        with pytest.raises(sqlite3.IntegrityError):
            db.execute(sql)
    db.close()


def test_a_charge_reserves_every_table_or_none(tmp_path: Path) -> None:
    ledger = BudgetLedger(tmp_path / LEDGER_FILE)
    ledger.commit("job-a", "p", [charge(HALF, Budget(HALF, None, "total"), table="t2")], NOW)
    both = [charge(HALF, YEAR_1), charge(HALF, Budget(HALF, None, "total"), table="t2")]
    with pytest.raises(OverBudget, match=r"table t2 .*budget ε = 1/2 in total, spent 1/2"):
        ledger.reserve("job-b", "p", both, NOW)
    assert ledger.balance("malmo", "bistand", "pnr", NOW).spent == 0  # rolled back
    assert ledger.balance("malmo", "bistand", "pnr", NOW).budget is None  # not even declared


def test_the_smallest_declared_budget_holds(tmp_path: Path) -> None:
    ledger = BudgetLedger(tmp_path / LEDGER_FILE)
    ledger.commit("job-a", "p1", [charge(HALF, YEAR_1)], NOW)
    bigger = Budget(Fraction(100), None, "year")  # a later plan raising the budget: ignored
    with pytest.raises(OverBudget, match=r"budget ε = 1 in 2026, spent 1/2, requested 1$"):
        ledger.reserve("job-b", "p2", [charge(Fraction(1), bigger)], NOW)
    ledger.reserve("job-c", "p3", [charge(Fraction(1, 4))], NOW)  # none declared: held to 1
    lower = Budget(Fraction(7, 8), None, "year")
    ledger.reserve("job-d", "p4", [charge(Fraction(1, 8), lower)], NOW)  # fits 7/8: lowered
    assert ledger.balance("malmo", "bistand", "pnr", NOW).budget == Fraction(7, 8)
    ledger.release("job-d")
    with pytest.raises(OverBudget, match="budget ε = 7/8 in 2026, spent 3/4, requested 1/4"):
        ledger.reserve("job-e", "p5", [charge(Fraction(1, 4), bigger)], NOW)


def test_a_released_reservation_is_checked_again_at_commit(tmp_path: Path) -> None:
    ledger = BudgetLedger(tmp_path / LEDGER_FILE)
    ledger.reserve("job-a", "p1", [charge(HALF, YEAR_1)], NOW)
    ledger.release("job-a")  # e.g. its only upload was abandoned
    ledger.reserve("job-b", "p2", [charge(Fraction(3, 4), YEAR_1)], NOW)
    with pytest.raises(OverBudget, match=r"budget ε = 1 in 2026, spent 3/4, requested 1/2"):
        ledger.commit("job-a", "p1", [charge(HALF, YEAR_1)], NOW)
    assert ledger.job_states("job-a") == {"bistand": "released"}
    ledger.commit("job-b", "p2", [charge(Fraction(3, 4), YEAR_1)], NOW)


def test_measure_and_period_of_an_account_are_fixed(tmp_path: Path) -> None:
    ledger = BudgetLedger(tmp_path / LEDGER_FILE)
    ledger.commit("job-a", "p", [charge(HALF, YEAR_1)], NOW)
    rho = charge(HALF, Budget(None, HALF, "year"), measure="rho")
    with pytest.raises(LedgerError, match="counts epsilon; this plan spends rho"):
        ledger.reserve("job-b", "p", [rho], NOW)
    with pytest.raises(
        LedgerError, match="holds a budget per year; this plan declares one per total"
    ):
        ledger.reserve("job-b", "p", [charge(HALF, Budget(Fraction(1), None, "total"))], NOW)
    with pytest.raises(LedgerError, match="for another plan"):
        ledger.reserve("job-a", "other", [charge(HALF, YEAR_1)], NOW)


def test_a_yearly_budget_renews_and_a_total_one_does_not(tmp_path: Path) -> None:
    ledger = BudgetLedger(tmp_path / LEDGER_FILE)
    ledger.commit("job-a", "p", [charge(Fraction(1), YEAR_1)], NOW)
    total = Budget(Fraction(1), None, "total")
    ledger.commit("job-b", "p", [charge(Fraction(1), total, table="t2")], NOW)
    later = NOW.replace(year=2027)
    with pytest.raises(OverBudget):
        ledger.reserve("job-c", "p", [charge(HALF, YEAR_1)], NOW.replace(month=12))
    ledger.reserve("job-c", "p", [charge(HALF, YEAR_1)], later)
    assert ledger.balance("malmo", "bistand", "pnr", NOW).committed == 1  # 2026 kept
    with pytest.raises(OverBudget, match="in total"):
        ledger.reserve("job-d", "p", [charge(HALF, total, table="t2")], later)


def test_concurrent_reservations_cannot_both_take_the_last_of_a_budget(tmp_path: Path) -> None:
    """Eight writers on one file (as threads of one node or processes would be): the budget
    holds four half-ε runs, so exactly four reservations succeed."""
    path = tmp_path / LEDGER_FILE
    BudgetLedger(path).reserve("job-0", "p", [], NOW)  # make the file
    two = Budget(Fraction(2), None, "total")
    outcomes: list[bool] = []

    def reserve(n: int) -> None:
        try:
            BudgetLedger(path).reserve(f"job-{n}", "p", [charge(HALF, two)], NOW)
            outcomes.append(True)
        except OverBudget:
            outcomes.append(False)

    threads = [threading.Thread(target=reserve, args=(n,)) for n in range(1, 9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == [False] * 4 + [True] * 4
    assert BudgetLedger(path).balance("malmo", "bistand", "pnr", NOW).reserved == 2


def test_the_ledger_agrees_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / LEDGER_FILE
    first = BudgetLedger(path)
    first.commit("job-a", "p", [charge(Fraction(1, 4), YEAR_1)], NOW)
    first.reserve("job-b", "p", [charge(Fraction(1, 4), YEAR_1)], NOW)
    before = first.balance("malmo", "bistand", "pnr", NOW)
    again = BudgetLedger(path)  # a restarted node opens the same file
    assert again.balance("malmo", "bistand", "pnr", NOW) == before
    assert again.release_reserved() == 1  # a job from before the restart cannot run
    after = again.balance("malmo", "bistand", "pnr", NOW)
    assert (after.committed, after.reserved, after.budget) == (Fraction(1, 4), 0, 1)


def test_no_file_until_a_privacy_plan_is_charged(tmp_path: Path) -> None:
    ledger = BudgetLedger(tmp_path / LEDGER_FILE)
    assert ledger.release_reserved() == 0
    assert ledger.release("job-a") == 0
    assert ledger.balance("malmo", "bistand", "pnr", NOW).left is None
    assert not (tmp_path / LEDGER_FILE).exists()


# ---------------------------------------------------------------- three nodes


def dp_plan(budget: str = 'epsilon = "1/2"', spend: str = "1/2") -> str:
    text = ISSUE_PLAN.replace(
        '[tables.bistand]\nowner = "malmo"',
        f'[tables.bistand]\nowner = "malmo"\nunique = ["pnr"]\n'
        f'budget = {{ {budget}, period = "total" }}',
    ).replace("SELECT s.pnr FROM", "SELECT COUNT(*) AS n FROM")  # an aggregate: what DP releases
    return text + (
        f'\n[privacy]\nunit = "pnr"\nmechanism = "laplace"\nepsilon = "{spend}"\n'
        "max_rows_per_unit = 1\n"
    )


class Coordinator(LyingCoordinator):
    """The stub, also answering the health check a run asks for (no result-size limit)."""

    def health(self) -> dict[str, Any]:
        return {}


def approved(text: str) -> tuple[Plan, Coordinator]:
    plan = parse_plan(text)
    digest = plan.digest()
    return plan, Coordinator(text, [approve(FK, digest), approve(MALMO, digest)], digest)


@pytest.fixture(autouse=True)
def release_stage_stub(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Lift the compiler's refusal of [privacy]; the run stub records the ledger at its start."""
    monkeypatch.setattr("tyst.planner.jobspec.release_plan", lambda plan, root: root)
    seen: list[str] = []

    def run_party(*args: Any, **kwargs: Any) -> None:
        seen.append(str(kwargs["job"].hex()))
        raise PlanningError("stub: no peers in this test")

    monkeypatch.setattr("tyst.node.service.run_party", run_party)
    return seen


def node(tmp_path: Path, coordinator: Coordinator, party: int) -> NodeService:
    _, creds = make_deployment()
    orgs = ("nod-a", "nod-b", "nod-c")
    config = NodeConfig(
        org=orgs[party],
        party=party,
        nodes=orgs,
        keys=tmp_path,
        passphrase_file=None,
        registry=tmp_path,
        registry_fingerprint=None,
        tls=tmp_path,
        store=tmp_path / f"store-{party}",
        coordinator="https://127.0.0.1:1",
        coordinator_ca=None,
        host="127.0.0.1",
        port=1,
        mesh=(("127.0.0.1", 1), ("127.0.0.1", 2), ("127.0.0.1", 3)),
        timeout=2.0,
        connect_timeout=2.0,
        run_deadline=10.0,
        upload_timeout=40 * 86400,
        max_table_bytes=1 << 30,
    )
    return NodeService(config, NODE, REGISTRY, creds[party], coordinator)  # type: ignore[arg-type]


def upload(service: NodeService, plan: Plan, job: str, table: str) -> dict[str, Any]:
    """One owner's signed upload of 4 rows of ``table`` to ``service`` (through its rules)."""
    owner = plan.tables[table].owner
    keys = {"malmo": MALMO, "fk": FK}[owner]
    lanes = job_spec(plan).lanes(table)
    header = UploadHeader(job, plan.digest(), table, owner, service.config.party, lanes, 4)
    writer = UploadWriter(header)
    arrays = [(np.arange(4, dtype=np.uint64), np.arange(4, dtype=np.uint64))] * header.lanes
    data = writer.start(keys) + writer.chunk(arrays, 4) + writer.finish(keys, [])
    reader = UploadReader()
    store_writer = None
    for frame in reader.feed(data):
        if isinstance(frame, UploadHeader):
            store_writer = service.begin_upload(job, table, frame, reader.header_signature)
        elif store_writer is not None and isinstance(frame, Chunk):
            store_writer.write(frame.payload)
    assert store_writer is not None
    return service.finish_upload(job, table, reader, store_writer)


def job_id(n: int) -> str:
    return f"job-{n:032x}"


def spent(service: NodeService) -> Fraction:
    return service.ledger.balance("malmo", "bistand", "pnr", _dt.datetime.now(_dt.UTC)).spent


def run_everywhere(nodes: list[NodeService], plan: Plan, job: str) -> None:
    for service in nodes:
        upload(service, plan, job, "bistand")
        assert upload(service, plan, job, "sjukpenning")["complete"] is True
    for service in nodes:
        service._run(job)


def test_over_budget_is_refused_by_every_node_and_survives_a_restart(
    tmp_path: Path, release_stage_stub: list[str]
) -> None:
    plan, coordinator = approved(dp_plan())
    nodes = [node(tmp_path, coordinator, p) for p in range(3)]
    run_everywhere(nodes, plan, job_id(1))
    assert len(release_stage_stub) == 3  # each node joined the computation …
    for service in nodes:  # … after committing: the failed run keeps its spend
        assert service.ledger.job_states(job_id(1)) == {
            "bistand": "committed",
            "sjukpenning": "committed",
        }
        assert spent(service) == HALF
    expected = (
        "privacy budget exceeded for table bistand (owner malmo, unit pnr): budget ε = 1/2 in "
        "total, spent 1/2, requested 1/2"
    )
    for service in nodes:
        before = len(coordinator.events)
        with pytest.raises(Refused) as info:
            upload(service, plan, job_id(2), "bistand")
        assert info.value.status == 403
        assert str(info.value) == f"job {job_id(2)} refused: {expected}"
        assert coordinator.events[before] == ("plan_rejected", {"reason": expected})
        assert service.store.jobs() == []
    for service in nodes:
        service.stop()
    restarted = [node(tmp_path, coordinator, p) for p in range(3)]
    for service in restarted:
        service.start()
        assert spent(service) == HALF
        with pytest.raises(Refused, match="privacy budget exceeded for table bistand"):
            upload(service, plan, job_id(3), "bistand")
        service.stop()


def test_a_job_refused_before_computing_costs_nothing(tmp_path: Path) -> None:
    plan, coordinator = approved(dp_plan())
    service = node(tmp_path, coordinator, 0)
    upload(service, plan, job_id(1), "bistand")
    assert service.ledger.job_states(job_id(1)) == {
        "bistand": "reserved",
        "sjukpenning": "reserved",
    }
    with pytest.raises(Refused, match="spent 1/2, requested 1/2"):  # the reservation counts
        upload(service, plan, job_id(2), "bistand")
    coordinator.state = "failed"  # cancelled elsewhere before the run
    service.sweep()
    assert service.ledger.job_states(job_id(1)) == {
        "bistand": "released",
        "sjukpenning": "released",
    }
    assert spent(service) == 0
    coordinator.state = "created"
    upload(service, plan, job_id(3), "bistand")
    assert spent(service) == HALF


def test_a_reservation_of_a_node_that_restarted_is_released(tmp_path: Path) -> None:
    plan, coordinator = approved(dp_plan())
    service = node(tmp_path, coordinator, 1)
    upload(service, plan, job_id(1), "bistand")
    assert spent(service) == HALF
    restarted = node(tmp_path, coordinator, 1)  # killed: no stop(), the shares' key is gone
    restarted.start()
    assert restarted.ledger.job_states(job_id(1))["bistand"] == "released"
    assert spent(restarted) == 0
    restarted.stop()


def test_ledgers_that_disagree_fail_the_job_closed(tmp_path: Path) -> None:
    """Node 2 has spent more (say, a job only it counted); it alone refuses: the job fails."""
    plan, coordinator = approved(dp_plan(budget='epsilon = "1"'))
    nodes = [node(tmp_path, coordinator, p) for p in range(3)]
    extra = Charge("malmo", "bistand", "pnr", "epsilon", HALF + Fraction(1, 4), None)
    nodes[2].ledger.commit(job_id(9), "elsewhere", [extra], _dt.datetime.now(_dt.UTC))
    upload(nodes[0], plan, job_id(1), "bistand")
    upload(nodes[1], plan, job_id(1), "bistand")
    with pytest.raises(Refused, match="spent 3/4, requested 1/2"):
        upload(nodes[2], plan, job_id(1), "bistand")
    assert "plan_rejected" in coordinator.kinds()
    coordinator.state = "failed"  # the coordinator fails the job for all on plan_rejected
    for service in nodes[:2]:
        service.sweep()
        assert service.ledger.job_states(job_id(1))["bistand"] == "released"
        assert spent(service) == 0


def test_the_coordinator_cannot_reset_a_spend(tmp_path: Path) -> None:
    """A committed spend stays whatever the coordinator reports afterwards, and a plan the
    owner signs with a bigger budget does not raise the one the ledger holds."""
    plan, coordinator = approved(dp_plan())
    service = node(tmp_path, coordinator, 0)
    upload(service, plan, job_id(1), "bistand")
    upload(service, plan, job_id(1), "sjukpenning")
    service._run(job_id(1))
    coordinator.state = "failed"
    service.sweep()
    service._fail_and_delete(job_id(1), "cancelled by the coordinator", "cancelled")
    assert spent(service) == HALF
    bigger, coordinator2 = approved(dp_plan(budget='epsilon = "100"'))
    service.coordinator = coordinator2  # type: ignore[assignment]
    with pytest.raises(Refused, match=r"budget ε = 1/2 in total, spent 1/2, requested 1/2"):
        upload(service, bigger, job_id(2), "bistand")


def test_a_plan_without_privacy_leaves_no_ledger(tmp_path: Path) -> None:
    plan, coordinator = approved(ISSUE_PLAN)
    service = node(tmp_path, coordinator, 0)
    upload(service, plan, job_id(1), "bistand")
    assert not (service.store.root / LEDGER_FILE).exists()


def test_a_run_the_ledger_refuses_at_commit_computes_nothing(
    tmp_path: Path, release_stage_stub: list[str]
) -> None:
    plan, coordinator = approved(dp_plan())
    service = node(tmp_path, coordinator, 0)
    upload(service, plan, job_id(1), "bistand")
    upload(service, plan, job_id(1), "sjukpenning")
    service.ledger.release(job_id(1))  # as if its reservation had lapsed, and another job
    other = Charge("malmo", "bistand", "pnr", "epsilon", HALF, None)  # took the budget
    service.ledger.commit(job_id(2), "p", [other], _dt.datetime.now(_dt.UTC))
    service._run(job_id(1))
    assert release_stage_stub == []  # never joined the computation
    assert "run_started" in coordinator.kinds()
    assert coordinator.kinds()[-2:] == ["plan_rejected", "shares_deleted"]
    assert set(service.ledger.job_states(job_id(1)).values()) == {"released"}
    assert spent(service) == HALF
