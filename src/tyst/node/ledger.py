"""A compute node's own privacy-budget ledger (SQLite in the node's store).

Contract
--------
- **Accounts.** One per (owner, table, privacy unit): the owner's party id as the node's
  registry authenticates it, the table's name in the plan and the plan's ``[privacy] unit``.
  An account has a **measure** (``epsilon`` or ``rho``), fixed by the first plan charged to it,
  and, once a plan declares one, a **budget** and its **period** (``year``: what was spent in
  the calendar year, UTC, of the reservation counts; ``total``: everything counts).
- **The budget only goes down.** Every plan is signed by the table's owner, so its ``budget``
  is the owner's declaration; the account keeps the **smallest** amount any charged plan
  declared (and the digest of the plan that declared it). A later plan declaring a bigger
  budget changes nothing; a plan declaring none is held to the account's. A plan in the other
  measure, or declaring another period, is refused: neither converts without a loss the owner
  did not sign. A plan that declares no budget for a table whose account has none is
  recorded (its spend counts once a budget is declared) but not limited.
- **Spends.** One row per (job, account): the plan's ε or ρ as numerator and denominator
  (exact integers, never floats; sums are exact :class:`~fractions.Fraction`), the plan digest,
  the year, and a state: ``reserved`` (counted, not yet final), ``committed`` (final: never
  changed or deleted) or ``released`` (not counted). Spent = committed + reserved.
- :meth:`BudgetLedger.reserve` checks, in one ``BEGIN IMMEDIATE`` transaction, that each
  charge fits ``budget − spent`` of its account and reserves all of them, or none
  (:class:`OverBudget`: one line naming the table, the budget, spent and requested). A refused
  charge changes nothing, not even a budget its plan declares. A job's reservation is made
  once; asking again is a no-op.
- :meth:`BudgetLedger.commit` re-checks the fit (a budget lowered since counts) and makes the
  job's spends final; the node calls it immediately before it joins the computation
  (:mod:`tyst.node.service`), because from then on a result might be released.
- :meth:`BudgetLedger.release` releases a job's *reserved* spends (the job was refused,
  cancelled or failed before computing: it costs nothing); committed ones stay.
  :meth:`BudgetLedger.release_reserved` releases all of them (at start-up: no job from before
  a restart can run, its shares' key died with the process).
- Nothing the coordinator sends can lower a spend: the ledger has no operation that deletes or
  reduces a committed row, and it lives only on the node.

Errors: :class:`OverBudget` (refused charge), :class:`LedgerError` (a charge the account
cannot take in another measure or period); both one line.
"""

from __future__ import annotations

import datetime as _dt
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from tyst.plan import Plan
from tyst.plan.privacy import Budget

LEDGER_FILE = "privacy-ledger.sqlite3"
"""The ledger's file name in the node's store."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    owner TEXT NOT NULL, tbl TEXT NOT NULL, unit TEXT NOT NULL,
    measure TEXT NOT NULL CHECK (measure IN ('epsilon', 'rho')),
    period TEXT CHECK (period IN ('year', 'total')),
    budget_num INTEGER CHECK (budget_num > 0), budget_den INTEGER CHECK (budget_den > 0),
    budget_plan TEXT,
    PRIMARY KEY (owner, tbl, unit)
);
CREATE TABLE IF NOT EXISTS spends (
    job TEXT NOT NULL, owner TEXT NOT NULL, tbl TEXT NOT NULL, unit TEXT NOT NULL,
    num INTEGER NOT NULL CHECK (num > 0), den INTEGER NOT NULL CHECK (den > 0),
    year INTEGER NOT NULL, plan_digest TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('reserved', 'committed', 'released')),
    reserved_at TEXT NOT NULL, settled_at TEXT,
    PRIMARY KEY (job, owner, tbl, unit),
    FOREIGN KEY (owner, tbl, unit) REFERENCES accounts (owner, tbl, unit)
);
CREATE TRIGGER IF NOT EXISTS committed_spends_are_final
BEFORE UPDATE ON spends WHEN OLD.state = 'committed'
BEGIN SELECT RAISE(ABORT, 'a committed spend is final'); END;
CREATE TRIGGER IF NOT EXISTS spends_are_never_deleted
BEFORE DELETE ON spends
BEGIN SELECT RAISE(ABORT, 'spends are never deleted'); END;
"""


class LedgerError(Exception):
    """A charge the ledger cannot take; ``str()`` is one line."""


class OverBudget(LedgerError):
    """A charge that does not fit what is left of a table's budget."""


@dataclass(frozen=True)
class Charge:
    """What one run of a plan spends of one table's account."""

    owner: str
    table: str
    unit: str
    measure: str
    amount: Fraction
    declared: Budget | None
    """The budget the plan declares for the table (None: none)."""


def plan_charges(plan: Plan, tables: Iterable[str]) -> list[Charge]:
    """The charges of one run of ``plan`` reading ``tables`` (none without ``[privacy]``)."""
    privacy = plan.privacy
    if privacy is None:
        return []
    return [
        Charge(
            plan.tables[t].owner,
            t,
            privacy.unit,
            privacy.measure,
            privacy.spend,
            plan.tables[t].budget,
        )
        for t in tables
    ]


@dataclass(frozen=True)
class Balance:
    """One account as the ledger holds it now."""

    owner: str
    table: str
    unit: str
    measure: str | None
    budget: Fraction | None
    period: str | None
    committed: Fraction
    reserved: Fraction

    @property
    def spent(self) -> Fraction:
        """Committed plus reserved: what no other job may use."""
        return self.committed + self.reserved

    @property
    def left(self) -> Fraction | None:
        """What is left of the budget (None: no budget declared)."""
        return None if self.budget is None else self.budget - self.spent

    def window(self, year: int) -> str:
        """The period counted, e.g. "in 2026" or "in total"."""
        return f"in {year}" if self.period == "year" else "in total"


class BudgetLedger:
    """The node's ledger at ``path`` (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._schema_made = False

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction; the file (0600) and its schema are made on
        first use, so a node that never ran a ``[privacy]`` plan has no ledger file."""
        with self._lock:
            if not self.path.exists():
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
                self._schema_made = False
            db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            try:
                db.execute("PRAGMA synchronous = FULL")
                db.execute("PRAGMA foreign_keys = ON")
                if not self._schema_made:  # once per ledger (and again for a new file)
                    db.executescript(_SCHEMA)
                    self._schema_made = True
                db.execute("BEGIN IMMEDIATE")
                try:
                    yield db
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
            finally:
                db.close()

    # ------------------------------------------------------------------ charges

    def reserve(
        self, job: str, plan_digest: str, charges: Iterable[Charge], now: _dt.datetime
    ) -> None:
        """Reserve every charge of ``job`` or none (:class:`OverBudget`); a no-op for charges
        the job holds already."""
        with self._transaction() as db:
            for charge in charges:
                self._reserve_one(db, job, plan_digest, charge, now)

    def commit(
        self, job: str, plan_digest: str, charges: Iterable[Charge], now: _dt.datetime
    ) -> None:
        """Re-check and make final every charge of ``job`` (reserving what is not reserved),
        or none (:class:`OverBudget`)."""
        with self._transaction() as db:
            for charge in charges:
                self._reserve_one(db, job, plan_digest, charge, now)
                balance = self._balance(db, charge.owner, charge.table, charge.unit, now.year)
                if balance.left is not None and balance.left < 0:
                    mine = self._held(db, job, charge)
                    raise OverBudget(_over(charge, balance, now.year, balance.spent - mine, mine))
            db.execute(
                "UPDATE spends SET state = 'committed', settled_at = ? "
                "WHERE job = ? AND state = 'reserved'",
                (now.isoformat(), job),
            )

    def release(self, job: str, now: _dt.datetime | None = None) -> int:
        """Release the job's reserved spends (committed ones stay); how many were released."""
        if not self.path.exists():
            return 0
        when = (now or _dt.datetime.now(_dt.UTC)).isoformat()
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE spends SET state = 'released', settled_at = ? "
                "WHERE job = ? AND state = 'reserved'",
                (when, job),
            )
            return cursor.rowcount

    def release_reserved(self, now: _dt.datetime | None = None) -> int:
        """Release every reserved spend (at start-up); how many were released."""
        if not self.path.exists():
            return 0
        when = (now or _dt.datetime.now(_dt.UTC)).isoformat()
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE spends SET state = 'released', settled_at = ? WHERE state = 'reserved'",
                (when,),
            )
            return cursor.rowcount

    def balance(self, owner: str, table: str, unit: str, now: _dt.datetime) -> Balance:
        """The account of (owner, table, unit) in the period that contains ``now``."""
        if not self.path.exists():
            return Balance(owner, table, unit, None, None, None, Fraction(), Fraction())
        with self._transaction() as db:
            return self._balance(db, owner, table, unit, now.year)

    def job_states(self, job: str) -> dict[str, str]:
        """Per table: the state of the job's spend (for tests and operators)."""
        if not self.path.exists():
            return {}
        with self._transaction() as db:
            rows = db.execute("SELECT tbl, state FROM spends WHERE job = ?", (job,)).fetchall()
        return {str(t): str(s) for t, s in rows}

    # ------------------------------------------------------------------ internals

    def _reserve_one(
        self,
        db: sqlite3.Connection,
        job: str,
        plan_digest: str,
        charge: Charge,
        now: _dt.datetime,
    ) -> None:
        self._declare(db, charge, plan_digest)
        row = db.execute(
            "SELECT state, plan_digest FROM spends "
            "WHERE job = ? AND owner = ? AND tbl = ? AND unit = ?",
            (job, charge.owner, charge.table, charge.unit),
        ).fetchone()
        if row is not None and row[0] != "released":
            if row[1] != plan_digest:
                raise LedgerError(f"job {job} spends on table {charge.table} for another plan")
            return
        balance = self._balance(db, charge.owner, charge.table, charge.unit, now.year)
        if balance.left is not None and charge.amount > balance.left:
            raise OverBudget(_over(charge, balance, now.year, balance.spent, charge.amount))
        values = (
            charge.amount.numerator,
            charge.amount.denominator,
            now.year,
            plan_digest,
            now.isoformat(),
        )
        if row is None:
            db.execute(
                "INSERT INTO spends (job, owner, tbl, unit, num, den, year, plan_digest, state, "
                "reserved_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'reserved', ?)",
                (job, charge.owner, charge.table, charge.unit, *values),
            )
        else:
            db.execute(
                "UPDATE spends SET num = ?, den = ?, year = ?, plan_digest = ?, "
                "state = 'reserved', reserved_at = ?, settled_at = NULL "
                "WHERE job = ? AND owner = ? AND tbl = ? AND unit = ?",
                (*values, job, charge.owner, charge.table, charge.unit),
            )

    def _declare(self, db: sqlite3.Connection, charge: Charge, plan_digest: str) -> None:
        """Open the account or hold the charge to it; keep the smallest declared budget."""
        key = (charge.owner, charge.table, charge.unit)
        row = db.execute(
            "SELECT measure, period, budget_num, budget_den FROM accounts "
            "WHERE owner = ? AND tbl = ? AND unit = ?",
            key,
        ).fetchone()
        declared = charge.declared
        if row is None:
            db.execute(
                "INSERT INTO accounts VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    *key,
                    charge.measure,
                    declared.period if declared else None,
                    declared.amount.numerator if declared else None,
                    declared.amount.denominator if declared else None,
                    plan_digest if declared else None,
                ),
            )
            return
        measure, period, num, den = row
        where = f"table {charge.table} (owner {charge.owner}, unit {charge.unit})"
        if measure != charge.measure:
            raise LedgerError(
                f"the privacy ledger of {where} counts {measure}; this plan spends {charge.measure}"
            )
        if declared is None:
            return
        if period is not None and period != declared.period:
            raise LedgerError(
                f"the privacy ledger of {where} holds a budget per {period}; "
                f"this plan declares one per {declared.period}"
            )
        if num is None or declared.amount < Fraction(num, den):
            db.execute(
                "UPDATE accounts SET period = ?, budget_num = ?, budget_den = ?, budget_plan = ? "
                "WHERE owner = ? AND tbl = ? AND unit = ?",
                (
                    declared.period,
                    declared.amount.numerator,
                    declared.amount.denominator,
                    plan_digest,
                    *key,
                ),
            )

    def _balance(
        self, db: sqlite3.Connection, owner: str, table: str, unit: str, year: int
    ) -> Balance:
        account = db.execute(
            "SELECT measure, period, budget_num, budget_den FROM accounts "
            "WHERE owner = ? AND tbl = ? AND unit = ?",
            (owner, table, unit),
        ).fetchone()
        measure, period, num, den = account if account is not None else (None, None, None, None)
        rows = db.execute(
            "SELECT num, den, state, year FROM spends WHERE owner = ? AND tbl = ? AND unit = ? "
            "AND state != 'released'",
            (owner, table, unit),
        ).fetchall()
        counted = [r for r in rows if period != "year" or r[3] == year]
        committed = sum((Fraction(n, d) for n, d, s, _ in counted if s == "committed"), Fraction())
        reserved = sum((Fraction(n, d) for n, d, s, _ in counted if s == "reserved"), Fraction())
        budget = Fraction(num, den) if num is not None else None
        return Balance(owner, table, unit, measure, budget, period, committed, reserved)

    @staticmethod
    def _held(db: sqlite3.Connection, job: str, charge: Charge) -> Fraction:
        row = db.execute(
            "SELECT num, den FROM spends WHERE job = ? AND owner = ? AND tbl = ? AND unit = ? "
            "AND state = 'reserved'",
            (job, charge.owner, charge.table, charge.unit),
        ).fetchone()
        return Fraction(row[0], row[1]) if row is not None else Fraction()


def _over(charge: Charge, balance: Balance, year: int, spent: Fraction, requested: Fraction) -> str:
    """The one-line refusal of a charge that does not fit."""
    symbol = "ε" if charge.measure == "epsilon" else "ρ"
    return (
        f"privacy budget exceeded for table {charge.table} (owner {charge.owner}, unit "
        f"{charge.unit}): budget {symbol} = {balance.budget} {balance.window(year)}, "
        f"spent {spent}, requested {requested}"
    )
