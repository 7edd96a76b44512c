"""The public transparency register: every analysis that ran, as the public may read it.

Contract
--------
:func:`build_register` reads the coordinator's database and returns a
:class:`Register`: one :class:`RegisterEntry` per job that started computing (a
node's ``run_started`` event is in the log), newest first. An entry says what the
plan says of itself — title, purpose, legal basis, retention, the parties' and
recipients' names, the SQL, the output protection and declared relaxations — and
what the log says of the run: when the plan was approved (the last owner's
approval reached the coordinator, by its clock), when the run started (the first node's
``run_started``), when it finished computing (the last node's ``run_finished``,
once every node reported one), its state as last recorded (``running``,
``finished``, ``delivered`` or ``failed``), and how many of the nodes signed
their ``shares_deleted`` receipt.

What it never holds: data, results, keys, shares, addresses, failure messages or
organisation and job ids — a run is named by its plan's digest and its number
among that plan's runs (1 for the first). Reading it changes nothing (no expiry is
applied: a job's state is the one last recorded).

The three renderings of one :class:`Register` are :func:`register_json` (and
its inverse :func:`register_from_json`, for an export from a coordinator's
``/register.json``), :func:`render_html` and :func:`render_atom` (Atom 1.0,
RFC 4287); :func:`write_static` writes them with the stylesheet as static files.
The feed's id is derived from the hash of the audit log's first event, which a
deployment's log never changes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import func, select

from tyst.coordinator import states
from tyst.coordinator.db import ApprovalRow, AuditEventRow, Database, JobRow, PlanRow
from tyst.coordinator.ledger import one_line
from tyst.plan import Plan, parse_plan
from tyst.service.audit import GENESIS_HASH
from tyst.service.signing import utc_now
from tyst.web.assets import add_asset_route, write_assets
from tyst.web.i18n import DEFAULT_LANGUAGE, LANGUAGES
from tyst.web.render import page, render, request_language

FORMAT: Final = "tyst-register"
VERSION: Final = 1

RUN_EVENTS: Final = ("run_started", "run_finished", "shares_deleted")
"""The job events the register reads (their kind, actor and time only)."""


class RegisterFormatError(ValueError):
    """A register document that is not one :func:`register_json` writes; one line."""


@dataclass(frozen=True)
class DifferentialPrivacy:
    """A plan's ``[privacy]`` release as published: the mechanism, what one run spends
    (``measure`` ``epsilon`` or ``rho``, ``spend`` an exact rational as text), the
    privacy unit and how many of a unit's rows each table keeps."""

    mechanism: str
    measure: str
    spend: str
    unit: str
    max_rows_per_unit: int


@dataclass(frozen=True)
class OutputProtection:
    """How the result is protected before a recipient sees it."""

    min_group_size: int
    """Groups with fewer rows are suppressed (0: no suppression)."""
    differential_privacy: DifferentialPrivacy | None = None
    """The plan's differentially private release (``None``: the result is exact)."""


@dataclass(frozen=True)
class RegisterEntry:
    """One run of an analysis, as published (see the module docstring)."""

    plan_digest: str
    run: int
    title: str
    purpose: str
    legal_basis: str
    retention_days: int
    parties: tuple[str, ...]
    recipients: tuple[str, ...]
    sql: str
    output_protection: OutputProtection
    relaxations: tuple[str, ...]
    approved_at: str | None
    run_started_at: str
    run_finished_at: str | None
    state: str
    nodes: int
    nodes_confirmed_deletion: int
    updated_at: str

    @property
    def deletion_confirmed(self) -> bool:
        """Every node signed its deletion receipt."""
        return self.nodes_confirmed_deletion == self.nodes

    @property
    def anchor(self) -> str:
        """The entry's fragment id on the HTML page."""
        return f"run-{self.plan_digest[:16]}-{self.run}"

    @property
    def atom_id(self) -> str:
        """The entry's permanent Atom id."""
        return f"urn:tyst:register:{self.plan_digest}:run:{self.run}"


@dataclass(frozen=True)
class Register:
    """Every run, newest first, with the feed's id and when it was read."""

    feed_id: str
    generated_at: str
    entries: tuple[RegisterEntry, ...] = field(default=())

    @property
    def updated_at(self) -> str:
        """The latest change of any entry (the read time if there is none)."""
        return max((e.updated_at for e in self.entries), default=self.generated_at)


def _names(plan: Plan, ids: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    return tuple(plan.parties[i].name if i in plan.parties else i for i in ids)


def _protection(plan: Plan) -> OutputProtection:
    dp = plan.privacy
    if dp is None:
        return OutputProtection(plan.min_group_size)
    release = DifferentialPrivacy(
        dp.mechanism, dp.measure, str(dp.spend), dp.unit, dp.max_rows_per_unit
    )
    return OutputProtection(plan.min_group_size, release)


def build_register(database: Database, nodes: frozenset[str]) -> Register:
    """The register of the coordinator database ``database`` whose compute nodes are
    ``nodes`` (see the module docstring). Read-only."""
    with database.session() as session:
        first = session.scalars(select(AuditEventRow.hash).where(AuditEventRow.seq == 1)).first()
        started = list(
            session.scalars(
                select(AuditEventRow.job).where(AuditEventRow.kind == "run_started").distinct()
            )
        )
        jobs = session.scalars(select(JobRow).where(JobRow.id.in_(started))).all()
        plan_ids = sorted({j.plan_id for j in jobs})
        plans = {p.id: p for p in session.scalars(select(PlanRow).where(PlanRow.id.in_(plan_ids)))}
        approved: dict[str, str] = {
            plan_id: at
            for plan_id, at in session.execute(
                select(ApprovalRow.plan_id, func.max(ApprovalRow.received_at))
                .where(ApprovalRow.plan_id.in_(plan_ids))
                .group_by(ApprovalRow.plan_id)
            ).all()
        }
        events = session.execute(
            select(AuditEventRow.job, AuditEventRow.actor, AuditEventRow.kind, AuditEventRow.time)
            .where(AuditEventRow.job.in_(started))
            .where(AuditEventRow.kind.in_(RUN_EVENTS))
            .order_by(AuditEventRow.seq)
        ).all()
    by_job: dict[str, list[tuple[str, str, str]]] = {}
    for job_id, actor, kind, time in events:
        by_job.setdefault(job_id, []).append((actor, kind, time))
    parsed = {pid: parse_plan(row.toml, "plan") for pid, row in plans.items()}
    drafts = []
    for job in jobs:
        history = by_job.get(job.id, [])
        run_started = min(t for _, k, t in history if k == "run_started")
        drafts.append((job, run_started, history))
    drafts.sort(key=lambda d: (d[1], d[0].id))
    runs: dict[str, int] = {}
    entries = []
    for job, run_started, history in drafts:
        finished = {a: t for a, k, t in history if k == "run_finished" and a in nodes}
        plan = parsed[job.plan_id]
        runs[job.plan_id] = runs.get(job.plan_id, 0) + 1
        deleted = states.deleted_by([(a, k) for a, k, _ in history], nodes)
        entries.append(
            RegisterEntry(
                plan_digest=job.plan_id,
                run=runs[job.plan_id],
                title=plan.analysis.title,
                purpose=plan.analysis.purpose,
                legal_basis=plan.analysis.legal_basis,
                retention_days=plan.analysis.retention_days,
                parties=_names(plan, list(plan.parties)),
                recipients=_names(plan, plan.recipients),
                sql=plan.sql,
                output_protection=_protection(plan),
                relaxations=tuple(plan.allow),
                approved_at=approved.get(job.plan_id),
                run_started_at=run_started,
                run_finished_at=max(finished.values()) if set(finished) >= nodes else None,
                state=job.state,
                nodes=len(nodes),
                nodes_confirmed_deletion=len(deleted),
                updated_at=max([job.updated_at, *(t for _, _, t in history)]),
            )
        )
    entries.reverse()
    return Register(
        feed_id=f"urn:tyst:register:{first or GENESIS_HASH}",
        generated_at=utc_now(),
        entries=tuple(entries),
    )


# ---------------------------------------------------------------------------- JSON


def register_json(register: Register) -> dict[str, Any]:
    """The register as a JSON document (``format``, ``version``, ``feed_id``,
    ``generated_at``, ``updated_at``, ``entries``: each entry's fields plus
    ``deletion_confirmed``)."""
    entries = []
    for entry in register.entries:
        doc = asdict(entry)
        doc["parties"] = list(entry.parties)
        doc["recipients"] = list(entry.recipients)
        doc["relaxations"] = list(entry.relaxations)
        doc["deletion_confirmed"] = entry.deletion_confirmed
        entries.append(doc)
    return {
        "format": FORMAT,
        "version": VERSION,
        "feed_id": register.feed_id,
        "generated_at": register.generated_at,
        "updated_at": register.updated_at,
        "entries": entries,
    }


_ENTRY_TYPES: Final[dict[str, tuple[type, ...]]] = {
    "plan_digest": (str,),
    "run": (int,),
    "title": (str,),
    "purpose": (str,),
    "legal_basis": (str,),
    "retention_days": (int,),
    "parties": (list,),
    "recipients": (list,),
    "sql": (str,),
    "output_protection": (dict,),
    "relaxations": (list,),
    "approved_at": (str, type(None)),
    "run_started_at": (str,),
    "run_finished_at": (str, type(None)),
    "state": (str,),
    "nodes": (int,),
    "nodes_confirmed_deletion": (int,),
    "updated_at": (str,),
    "deletion_confirmed": (bool,),
}


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not all(isinstance(v, str) for v in value):
        raise RegisterFormatError(f"{where}: expected a list of strings")
    return tuple(value)


_DP_TYPES: Final[dict[str, type]] = {
    "mechanism": str,
    "measure": str,
    "spend": str,
    "unit": str,
    "max_rows_per_unit": int,
}


def _protection_from_json(doc: dict[str, Any], where: str) -> OutputProtection:
    mgs, dp = doc.get("min_group_size"), doc.get("differential_privacy")
    if set(doc) != {"min_group_size", "differential_privacy"} or type(mgs) is not int:
        raise RegisterFormatError(f"{where}: malformed")
    if dp is None:
        return OutputProtection(mgs)
    if (
        not isinstance(dp, dict)
        or set(dp) != set(_DP_TYPES)
        or any(type(dp[k]) is not t for k, t in _DP_TYPES.items())
    ):
        raise RegisterFormatError(f"{where}.differential_privacy: malformed")
    return OutputProtection(mgs, DifferentialPrivacy(**dp))


def register_from_json(doc: Any) -> Register:
    """The :class:`Register` a :func:`register_json` document describes.

    Errors: :class:`RegisterFormatError` (one line) for any other document."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("version") != VERSION:
        raise RegisterFormatError(f"not a {FORMAT} version {VERSION} document")
    if not isinstance(doc.get("feed_id"), str) or not isinstance(doc.get("generated_at"), str):
        raise RegisterFormatError("feed_id and generated_at must be strings")
    if not isinstance(doc.get("entries"), list):
        raise RegisterFormatError("entries must be a list")
    entries = []
    for i, item in enumerate(doc["entries"]):
        where = f"entries[{i}]"
        if not isinstance(item, dict) or set(item) != set(_ENTRY_TYPES):
            raise RegisterFormatError(f"{where}: expected the fields {sorted(_ENTRY_TYPES)}")
        for name, types in _ENTRY_TYPES.items():
            value = item[name]
            if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
                raise RegisterFormatError(f"{where}.{name}: wrong type")
        fields = {k: v for k, v in item.items() if k != "deletion_confirmed"}
        for name in ("parties", "recipients", "relaxations"):
            fields[name] = _strings(item[name], f"{where}.{name}")
        fields["output_protection"] = _protection_from_json(
            item["output_protection"], f"{where}.output_protection"
        )
        entries.append(RegisterEntry(**fields))
    return Register(doc["feed_id"], doc["generated_at"], tuple(entries))


# ---------------------------------------------------------------------------- HTML, Atom


def render_html(
    register: Register,
    lang: str,
    *,
    asset_base: str = "/static/",
    language_urls: Mapping[str, str] | None = None,
    json_url: str = "register.json",
    atom_url: str = "register.atom",
) -> str:
    """The register as an HTML page in ``lang`` (links relative to the page)."""
    context = {"register": register, "json_url": json_url, "atom_url": atom_url}
    return render(
        "register.html", lang, context, asset_base=asset_base, language_urls=language_urls
    )


def render_atom(
    register: Register, lang: str, *, html_url: str = "register", self_url: str = "register.atom"
) -> str:
    """The register as an Atom 1.0 feed in ``lang``: one entry per run."""
    context = {"register": register, "html_url": html_url, "self_url": self_url}
    return render("register-atom.xml", lang, context)


STATIC_FILES: Final = ("index.html", "en.html", "register.json", "register.atom")
"""What :func:`write_static` writes besides the assets."""


def write_static(register: Register, directory: Path) -> list[Path]:
    """Write the register as static files into ``directory`` (created if missing):
    ``index.html`` (Swedish) and ``en.html`` (English) linking each other,
    ``register.json``, ``register.atom`` (Swedish) and the stylesheet. The paths
    written."""
    directory.mkdir(parents=True, exist_ok=True)
    pages = {DEFAULT_LANGUAGE: "index.html", **{c: f"{c}.html" for c in LANGUAGES[1:]}}
    written = []
    for lang, name in pages.items():
        html = render_html(register, lang, asset_base="", language_urls=pages)
        written.append(_write(directory / name, html))
    document = json.dumps(register_json(register), ensure_ascii=False, indent=2) + "\n"
    written.append(_write(directory / "register.json", document))
    atom = render_atom(register, DEFAULT_LANGUAGE, html_url="index.html")
    written.append(_write(directory / "register.atom", atom))
    return written + write_assets(directory)


# ---------------------------------------------------------------------------- HTTP


_ROUTE_NOTE = (
    "No login. Every analysis that ran: title, purpose, legal basis, parties, recipients, "
    "SQL, output protection, dates, end state, deletion receipts; never data or ids."
)


REGISTER_PATHS: Final = ("/register", "/register.json", "/register.atom")
"""The register's public routes (HTML, JSON, Atom), answered without login."""

_LINKS: Final = {"json_url": "register.json", "atom_url": "register.atom"}
"""The HTML page's links to the other two renderings (relative to the page)."""


def add_register_routes(app: FastAPI, database: Database, nodes: frozenset[str]) -> None:
    """Add the public routes to ``app`` (no login; :data:`tyst.coordinator.auth.PUBLIC`):
    ``GET /register`` (HTML, language by ``?lang=`` or ``Accept-Language``),
    ``/register.json``, ``/register.atom`` and the stylesheet under ``/static/``."""

    html_path, json_path, atom_path = REGISTER_PATHS

    @app.get(
        html_path,
        response_class=HTMLResponse,
        summary="The public register (HTML)",
        description=_ROUTE_NOTE + " HTML in Swedish, or English by ?lang=en or Accept-Language.",
        tags=["register"],
    )
    def register_page(request: Request) -> HTMLResponse:
        context = {"register": build_register(database, nodes), **_LINKS}
        return page(request, "register.html", context)

    @app.get(
        json_path,
        summary="The public register (JSON)",
        description=_ROUTE_NOTE + " JSON: format tyst-register, version 1, entries.",
        tags=["register"],
    )
    def register_document() -> JSONResponse:
        return JSONResponse(register_json(build_register(database, nodes)))

    @app.get(
        atom_path,
        summary="The public register (Atom 1.0 feed)",
        description=_ROUTE_NOTE + " An Atom 1.0 feed, one entry per run.",
        tags=["register"],
    )
    def register_feed(request: Request) -> Response:
        atom = render_atom(build_register(database, nodes), request_language(request))
        return Response(atom, media_type="application/atom+xml; charset=utf-8")

    add_asset_route(app)


def fetch_register(coordinator_url: str, ca: Path | None = None, timeout: float = 30.0) -> Register:
    """The register a coordinator publishes at ``{coordinator_url}/register.json``
    (no login), checked by :func:`register_from_json`; TLS verified against ``ca``
    (the deployment's CA certificate, PEM) or the system's trust store.

    Errors: :class:`RegisterFormatError` (one line) for an unreachable coordinator,
    an HTTP error or a document that is not a register."""
    import httpx

    url = coordinator_url.rstrip("/") + "/register.json"
    try:
        answer = httpx.get(url, verify=str(ca) if ca else True, timeout=timeout)
        answer.raise_for_status()
        doc = answer.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise RegisterFormatError(f"{url}: {one_line(str(exc)) or type(exc).__name__}") from None
    return register_from_json(doc)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
