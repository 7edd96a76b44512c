"""``tyst console``: one body's web console, served on its own machine.

Contract
--------
:func:`create_app` builds a FastAPI application around one organisation's
:class:`~tyst.client.session.Client` (its keys, its registry, its connections to the
coordinator and the nodes); :func:`serve` runs it with uvicorn, on ``127.0.0.1`` by
default. Pages (server-rendered, Swedish and English, readable without JavaScript;
every asset from the package):

- ``/`` — the plans this body is a party of, with their state;
- ``/plans/{id}`` — a plan as a lawyer reads it (from the plan text fetched and
  digest-checked here; ``tyst check``'s report), its verified approvals, its jobs and
  the differences from the plan this body approved before; approve / reject forms;
- ``/plans/{id}/upload`` — an owner's data-preparation report on a file, then the upload;
- ``/tasks/{id}`` — an upload's or a fetch's progress;
- ``/jobs/{id}`` — a job's phases, each node's own view and failures with reasons;
- ``/jobs/{id}/result`` — a recipient's result (id columns masked, the first rows),
  ``result.csv`` and ``result.parquet``;
- ``/plans/{id}/audit`` — the audit trail, verified here, with deletion receipts.

Security: approving signs the digest the page showed: the form carries it, and the
server refuses unless it equals the digest it recomputes from the plan it fetches and
verifies again (then :meth:`Client.approve` checks the coordinator's copy once more).
Every POST carries the process's random CSRF token; requests whose ``Host`` is not the
console's own address are refused (DNS rebinding); responses forbid framing and
outside resources (``Content-Security-Policy``). Keys never leave the process; results
stay in its memory.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from tyst.client.session import Client
from tyst.console import views
from tyst.console.i18n import LANGUAGES, TEXTS, translator
from tyst.console.results import DEFAULT_ROWS, csv_bytes, parquet_bytes, table_view
from tyst.console.tasks import Tasks
from tyst.jobs.check import table_report
from tyst.plan import Plan
from tyst.planner.jobspec import JobSpec
from tyst.service.audit import AuditFormatError, SignedHead, read_signed_head
from tyst.web.assets import assets_router
from tyst.web.i18n import choose_language
from tyst.web.render import SECURITY_HEADERS

REFRESH_SECONDS = 2
"""How often a page of work in progress reloads itself (``static/refresh.js``, which the
reader can turn off; without JavaScript the page has a plain refresh link)."""


def client_errors() -> tuple[type[Exception], ...]:
    """The one-line errors of the client (what ``tyst`` prints as ``error: …``)."""
    from tyst.api.http import ApiError
    from tyst.client.owner import UploadError
    from tyst.client.recipient import ResultError
    from tyst.data.files import DataError
    from tyst.plan import PlanError
    from tyst.sql.errors import SqlError

    return (ApiError, UploadError, ResultError, DataError, PlanError, SqlError)


def read_heads(directories: list[Path]) -> list[tuple[Path, SignedHead]]:
    """Every countersigned head (``*.json``) in ``directories`` (e.g. each node's
    ``<store>/audit-heads``), newest per signer last; unreadable files are skipped."""
    heads = []
    for directory in directories:
        for path in sorted(directory.glob("*.json")):
            try:
                heads.append((path, read_signed_head(path)))
            except (AuditFormatError, OSError):
                continue
    return heads


@cache
def environment() -> Environment:
    """The console's pages over tyst.web's ``base.html``; autoescaping and strict like it."""
    return Environment(
        loader=ChoiceLoader(
            [PackageLoader("tyst.console", "templates"), PackageLoader("tyst.web", "templates")]
        ),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_page(template: str, lang: str, **values: Any) -> str:
    """A console template in ``lang`` with what every page gets (``t``, ``st`` for a plan
    state, ``languages``, ``asset_url``, ``lang``) and ``values`` (``org``, ``csrf``,
    ``path``, ``refresh`` and the page's own)."""
    t = translator(lang)
    return (
        environment()
        .get_template(template)
        .render(
            t=t,
            languages=[(c, translator(c)["language_name"], f"?lang={c}") for c in LANGUAGES],
            asset_url=lambda asset: f"/static/{asset}",
            st=lambda state: t(f"states.{state}") if f"states.{state}" in TEXTS else state,
            lang=lang,
            **values,
        )
    )


class _Guard(BaseHTTPMiddleware):
    """Refuses foreign ``Host`` headers; adds :data:`tyst.web.render.SECURITY_HEADERS`
    (no script, nothing from outside, no framing) and ``no-store`` to every response."""

    def __init__(self, app: Any, hosts: set[str]) -> None:
        super().__init__(app)
        self.hosts = hosts

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if request.headers.get("host", "") not in self.hosts:
            return Response("unknown host", status_code=421, media_type="text/plain")
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        csp = response.headers["Content-Security-Policy"]  # + the console's one script file
        response.headers["Content-Security-Policy"] = csp + "; script-src 'self'"
        response.headers["Cache-Control"] = "no-store"
        return response


def create_app(
    client: Client,
    *,
    host: str = "127.0.0.1",
    port: int = 8600,
    heads: list[Path] | None = None,
    workdir: Path | None = None,
    refresh_seconds: int = REFRESH_SECONDS,
) -> FastAPI:
    """The console for ``client``'s organisation (see the module docstring).

    ``heads``: directories of countersigned heads to check the log against (the nodes');
    ``workdir``: a directory of its own where files sent to the console wait for their
    upload (default: a private temporary one; deleted when the console stops);
    ``refresh_seconds``: how often pages of work in progress reload themselves."""
    errors = client_errors()
    tasks = Tasks(client, errors)
    csrf = secrets.token_urlsafe(32)
    spool = workdir or Path(tempfile.mkdtemp(prefix="tyst-console-"))
    spool.mkdir(mode=0o700, parents=True, exist_ok=True)
    spool.chmod(0o700)
    spooled: dict[str, tuple[Path, str]] = {}  # token -> (file, original name)
    org = client.keys.org_id
    app = FastAPI(title=f"tyst console ({org})", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.spool = spool
    app.add_middleware(_Guard, hosts={f"{host}:{port}", f"127.0.0.1:{port}", f"localhost:{port}"})
    app.include_router(assets_router("/static"))  # tyst.web's stylesheet
    static = Path(__file__).parent / "static"
    app.mount("/static/console", StaticFiles(directory=static), name="console-static")

    def language(request: Request) -> str:
        asked = request.query_params.get("lang") or request.cookies.get("lang")
        return choose_language(asked, request.headers.get("accept-language"))

    def render(
        request: Request, template: str, *, status: int = 200, refresh: bool = False, **values: Any
    ) -> HTMLResponse:
        lang = language(request)
        page = render_page(
            template,
            lang,
            org=org,
            csrf=csrf,
            path=request.url.path,
            refresh=refresh_seconds if refresh else None,
            **values,
        )
        response = HTMLResponse(page, status_code=status, headers={"Content-Language": lang})
        if request.query_params.get("lang") in LANGUAGES:
            response.set_cookie("lang", lang, samesite="strict", httponly=True)
        return response

    def guarded(request: Request, work: Callable[[], Response]) -> Response:
        """``work()``, or the error page with the client's one-line message."""
        try:
            return work()
        except errors as exc:
            return render(request, "error.html", status=502, message=str(exc))

    def check_csrf(token: str) -> None:
        if not secrets.compare_digest(token, csrf):
            raise HTTPException(status_code=403, detail="invalid form token; reload the page")

    def see(url: str) -> RedirectResponse:
        return RedirectResponse(url, status_code=303)

    @app.get("/", response_class=HTMLResponse)
    def plans(request: Request) -> Response:
        return guarded(
            request, lambda: render(request, "plans.html", plans=client.coordinator.plans())
        )

    @app.get("/plans/{plan_id}", response_class=HTMLResponse)
    def plan(request: Request, plan_id: str) -> Response:
        def page() -> Response:
            r = views.review(client, plan_id)
            return render(request, "plan.html", r=r, section=views.section, closed=views.CLOSED)

        return guarded(request, page)

    @app.post("/plans/{plan_id}/approve")
    def approve(
        request: Request,
        plan_id: str,
        digest: Annotated[str, Form()],
        token: Annotated[str, Form(alias="csrf")],
    ) -> Response:
        check_csrf(token)

        def act() -> Response:
            shown, _ = client.plan(plan_id)  # fetched and digest-checked again
            if shown.digest() != digest or digest != plan_id:
                return render(
                    request,
                    "error.html",
                    status=409,
                    message="the plan changed since it was displayed; review it again",
                )
            client.approve(shown.text, f"plan {plan_id[:16]}")
            return see(f"/plans/{plan_id}")

        return guarded(request, act)

    @app.post("/plans/{plan_id}/reject")
    def reject(
        request: Request,
        plan_id: str,
        reason: Annotated[str, Form(min_length=1, max_length=500)],
        token: Annotated[str, Form(alias="csrf")],
    ) -> Response:
        check_csrf(token)

        def act() -> Response:
            client.plan(plan_id)
            client.coordinator.reject_plan(plan_id, " ".join(reason.split()))
            return see(f"/plans/{plan_id}")

        return guarded(request, act)

    def own_tables(p: Plan, spec: JobSpec) -> list[str]:
        """The tables of the (fetched and verified) plan that this body uploads."""
        return [t for t in spec.tables if p.tables[t].owner == org]

    @app.get("/plans/{plan_id}/upload", response_class=HTMLResponse)
    def upload_form(request: Request, plan_id: str) -> Response:
        def page() -> Response:
            p, spec = client.plan(plan_id)
            return render(
                request, "upload.html", plan=p, plan_id=plan_id, tables=own_tables(p, spec)
            )

        return guarded(request, page)

    @app.post("/plans/{plan_id}/upload/check", response_class=HTMLResponse)
    def upload_check(
        request: Request,
        plan_id: str,
        table: Annotated[str, Form()],
        token: Annotated[str, Form(alias="csrf")],
        path: Annotated[str, Form()] = "",
        file: Annotated[UploadFile | None, File()] = None,
    ) -> Response:
        check_csrf(token)

        def page() -> Response:
            p, spec = client.plan(plan_id)
            if table not in own_tables(p, spec):
                return render(
                    request, "error.html", status=400, message=f"you own no table {table!r}"
                )
            if file is not None and file.filename:
                suffix = Path(file.filename).suffix.lower()
                if suffix not in (".csv", ".parquet"):
                    return render(
                        request, "error.html", status=400, message="a CSV or Parquet file"
                    )
                key = secrets.token_hex(12)
                target = spool / f"{key}{suffix}"
                with target.open("wb") as out:
                    while chunk := file.file.read(1 << 20):
                        out.write(chunk)
                target.chmod(0o600)
                spooled[key] = (target, file.filename)
                source, name = f"upload:{key}", file.filename
                where = target
            else:
                where = Path(path).expanduser()
                if not path or not where.is_file():
                    return render(
                        request, "error.html", status=400, message=f"no such file: {path!r}"
                    )
                source, name = str(where.resolve()), str(where)
            report = table_report(p, table, where)
            return render(
                request,
                "report.html",
                plan=p,
                plan_id=plan_id,
                table=table,
                report=report,
                source=source,
                name=name,
            )

        return guarded(request, page)

    @app.post("/plans/{plan_id}/upload/send")
    def upload_send(
        request: Request,
        plan_id: str,
        table: Annotated[str, Form()],
        source: Annotated[str, Form()],
        token: Annotated[str, Form(alias="csrf")],
    ) -> Response:
        check_csrf(token)
        if source.startswith("upload:"):
            entry = spooled.pop(source.removeprefix("upload:"), None)
            if entry is None:
                raise HTTPException(status_code=404, detail="that uploaded file is gone")
            path, cleanup = entry[0], True
        else:
            path, cleanup = Path(source), False
        task = tasks.upload(plan_id, None, table, path, cleanup=cleanup)
        return see(f"/tasks/{task}")

    @app.get("/tasks/{task_id}", response_class=HTMLResponse)
    def task(request: Request, task_id: str) -> Response:
        found = tasks.get(task_id)
        if found is None:
            raise HTTPException(status_code=404, detail="no such task")
        return render(request, "task.html", task=found, refresh=not found.done)

    @app.get("/jobs/{job}", response_class=HTMLResponse)
    def job(request: Request, job: str) -> Response:
        def page() -> Response:
            view = views.job_view(client, job)
            p, _ = client.plan(str(view.info["plan_id"]))
            return render(
                request,
                "job.html",
                job=view,
                plan=p,
                recipient=org in p.recipients,
                fetched=tasks.result(str(view.info["plan_id"]), job) is not None,
                refresh=not view.done,
            )

        return guarded(request, page)

    @app.post("/jobs/{job}/fetch")
    def fetch(request: Request, job: str, token: Annotated[str, Form(alias="csrf")]) -> Response:
        check_csrf(token)

        def act() -> Response:
            plan_id = str(client.coordinator.job(job)["plan_id"])
            return see(f"/tasks/{tasks.fetch(plan_id, job)}")

        return guarded(request, act)

    def fetched(job: str) -> tuple[Any, Any, str]:
        plan_id = str(client.coordinator.job(job)["plan_id"])
        result = tasks.result(plan_id, job)
        if result is None:
            raise HTTPException(status_code=404, detail="fetch the result first")
        _, spec = client.plan(plan_id)
        return result, [t for _, t in spec.compiled.plan.schema], plan_id

    @app.get("/jobs/{job}/result", response_class=HTMLResponse)
    def result(request: Request, job: str, unmask: bool = False, all: bool = False) -> Response:
        def page() -> Response:
            res, types, plan_id = fetched(job)
            header, rows, masked = table_view(
                res, types, unmask=unmask, limit=None if all else DEFAULT_ROWS
            )
            return render(
                request,
                "result.html",
                job=job,
                plan_id=plan_id,
                result=res,
                header=header,
                rows=rows,
                masked=masked,
                unmask=unmask,
                all=all,
                has_ids=any(t.kind == "id" for t in types),
            )

        return guarded(request, page)

    @app.get("/jobs/{job}/result.csv")
    def result_csv(request: Request, job: str) -> Response:
        def send() -> Response:
            res, _, _ = fetched(job)
            return Response(
                csv_bytes(res),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{job}.csv"'},
            )

        return guarded(request, send)

    @app.get("/jobs/{job}/result.parquet")
    def result_parquet(request: Request, job: str) -> Response:
        def send() -> Response:
            res, types, _ = fetched(job)
            return Response(
                parquet_bytes(res, types),
                media_type="application/vnd.apache.parquet",
                headers={"Content-Disposition": f'attachment; filename="{job}.parquet"'},
            )

        return guarded(request, send)

    @app.get("/plans/{plan_id}/audit", response_class=HTMLResponse)
    def audit(request: Request, plan_id: str) -> Response:
        def page() -> Response:
            view = views.audit_view(client, plan_id, read_heads(heads or []))
            return render(request, "audit.html", plan_id=plan_id, a=view)

        return guarded(request, page)

    return app


class ServerThread:
    """A console served by uvicorn in a background thread (the demo's and the tests' way
    to run several bodies' consoles in one process); :meth:`stop` ends it."""

    def __init__(self, app: FastAPI, host: str, port: int) -> None:
        import uvicorn

        self.url = f"http://{host}:{port}"
        self.app = app
        self._server = uvicorn.Server(
            uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True, name="console")

    def start(self, timeout: float = 20.0) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the console at {self.url} did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10.0)
        discard_spool(self.app)


def discard_spool(app: FastAPI) -> None:
    """Delete the files sent to the console and not (yet) uploaded (at its end)."""
    shutil.rmtree(app.state.spool, ignore_errors=True)


def serve(
    client: Client,
    *,
    host: str = "127.0.0.1",
    port: int = 8600,
    heads: list[Path] | None = None,
) -> None:
    """Run the console until interrupted (uvicorn, plain HTTP on ``host``: keep it on
    loopback, or put it behind the body's own TLS)."""
    import uvicorn

    app = create_app(client, host=host, port=port, heads=heads)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        discard_spool(app)
