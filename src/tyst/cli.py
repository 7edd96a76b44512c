"""The ``tyst`` command line.

Errors are one clear line on stderr and a non-zero exit status, never a
traceback. Commands import their jobs lazily so that ``tyst --help`` is fast.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from tyst.client.session import Client
    from tyst.jobs.run import RunReport
    from tyst.net.certs import DeploymentCA
    from tyst.plan import Plan

app = typer.Typer(
    name="tyst",
    help="Secure three-party computation for public administration.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)


def _fail(message: str) -> None:
    errors.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(code=2)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("tyst")
        except PackageNotFoundError:  # run from a source tree that was never installed
            from tyst import __version__ as number
        print(f"tyst {number}")
        raise typer.Exit()


@app.callback()
def _main(
    _version_flag: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Secure three-party computation for public administration."""


@app.command()
def bench(
    op: str = typer.Argument(..., help="Operation: mul, lt, eq, shuffle or sort."),
    n: int = typer.Option(1_000_000, "--n", help="Number of elements."),
    seed: int = typer.Option(1, help="Seed of the random inputs."),
    repeat: int = typer.Option(5, help="Timed runs after one warm-up; the median is reported."),
    timeout: float = typer.Option(900.0, help="Seconds before the run is abandoned."),
) -> None:
    """Time one engine operation on three node processes over loopback mutual TLS.

    Only the operation is timed: one untimed warm-up run, then --repeat timed
    runs; the median of the slowest node's time is reported. The last line printed is exactly
    ``OP n=N seconds=S elements_per_second=E correct=true|false``.
    """
    from tyst.jobs.bench import OPERATIONS, run_bench

    if op not in OPERATIONS:
        _fail(f"unknown operation {op!r}; choose one of: {', '.join(OPERATIONS)}")
    if n < 0:
        _fail("--n must be zero or positive")
    if repeat < 1:
        _fail("--repeat must be at least 1")
    try:
        outcome = run_bench(op, n, seed=seed, repeat=repeat, timeout=timeout)
    except Exception as exc:
        _fail(f"{op} benchmark failed: {exc}")
        return
    for m in outcome.nodes:
        console.print(
            f"node {m.party}: {m.seconds:.3f} s wall, {m.cpu_seconds:.3f} s cpu, "
            f"sent {m.bytes_sent / 1e6:.1f} MB, received {m.bytes_received / 1e6:.1f} MB, "
            f"{m.rounds} rounds, peak memory {m.peak_rss_bytes / 2**20:.0f} MiB",
            highlight=False,
        )
    print(outcome.summary_line())
    if not outcome.correct:
        raise typer.Exit(code=1)


@app.command()
def demo(
    persons: int = typer.Option(10_000, help="Number of synthetic persons."),
    seed: int = typer.Option(2026, help="Seed of the synthetic data."),
    workdir: Annotated[
        Path | None,
        typer.Option(help="Keep the service side's state here (stores, database, logs, audit)."),
    ] = None,
    with_consoles: Annotated[
        bool,
        typer.Option("--console", help="Serve each body's web console instead; run by hand."),
    ] = False,
) -> None:
    """Benefit-overlap control (SOU 2026:44 §8.6.1) through the full service lifecycle."""
    import tempfile

    if with_consoles:
        _demo_consoles(persons, seed, workdir)
        return

    from tyst.jobs.demo import reference, write_demo

    console.print("[bold]tyst demo[/] — samtidig sjukpenning och ekonomiskt bistånd")
    with tempfile.TemporaryDirectory(prefix="tyst-demo-owners-") as owners_dir:
        # The owners' plaintext files live on "their premises": outside the service's workdir.
        files = write_demo(Path(owners_dir), persons, seed)
        owners = {t: files.plan.parties[d.owner].name for t, d in files.plan.tables.items()}
        for table, rows in files.rows.items():
            console.print(f"  {owners[table]}: {table}, {rows} rows", highlight=False)
        console.print(f"  plan digest (what every owner signs): {files.plan.digest()[:16]}…")
        started = time.perf_counter()
        out = Path(owners_dir) / "result.csv"
        report = _run_with_progress(files.plan, files.data, out, 300.0, workdir)
        elapsed = time.perf_counter() - started
        expected = reference(files)
    _print_result(files.plan, report)
    console.print(f"  total time including start-up: {elapsed:.1f} s", highlight=False)
    ok = report.rows == expected
    verdict = "yes" if ok else f"NO (DuckDB gives {expected})"
    console.print(f"matches the plaintext reference (DuckDB): {verdict}", highlight=False)
    if not ok or not report.audit.ok:
        raise typer.Exit(code=1)


def _demo_consoles(persons: int, seed: int, workdir: Path | None) -> None:
    """``tyst demo --console``: print each body's console URL and its file; wait for Ctrl-C."""
    import signal

    from tyst.console.demo import console_demo
    from tyst.jobs.demo import DemoFiles

    def ready(urls: dict[str, str], files: DemoFiles) -> None:
        console.print("[bold]tyst demo --console[/]: the plan is submitted; in each console")
        console.print("review and approve it, upload the body's file, follow, fetch, audit:")
        for org, url in urls.items():
            tables = [t for t, d in files.plan.tables.items() if d.owner == org]
            owned = ", ".join(f"{t} = {files.data[t]}" for t in tables)
            console.print(f"  {org}: {url}  ({owned})", highlight=False)
        console.print("Ctrl-C stops everything and deletes it.")
        signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop cleanly on TERM too
        while True:
            time.sleep(3600)

    console_demo(ready, persons=persons, seed=seed, workdir=workdir)


def _print_result(plan: Plan, report: RunReport) -> None:
    """The result table, then per node time and traffic, uploads, audit status."""
    recipients = ", ".join(plan.parties[r].name for r in plan.recipients)
    console.print(f"\n[bold]Result for {escape(recipients)}[/]", highlight=False)
    console.print("  " + " | ".join(report.header), highlight=False)
    for row in report.rows:
        console.print("  " + " | ".join(row), highlight=False)
    console.print(
        f"  ({len(report.rows)} rows; delivered padded to {report.padded_rows} rows)",
        highlight=False,
    )
    for column, how in report.noisy.items():
        console.print(f"  {escape(column)} is noisy: {how}", highlight=False)
    if plan.min_group_size > 1:
        console.print(
            f"  groups suppressed by min_group_size={plan.min_group_size}: "
            f"{report.suppressed_groups}",
            highlight=False,
        )
    uploaded = [sum(u.bytes_per_node[i] for u in report.uploads) for i in range(3)]
    for m in report.nodes:
        console.print(
            f"  node {m.party}: computed in {m.seconds:.2f} s, sent {m.bytes_sent / 1e6:.1f} MB, "
            f"received {m.bytes_received / 1e6:.1f} MB from nodes "
            f"+ {uploaded[m.party] / 1e6:.1f} MB of shares from owners, "
            f"{m.rounds} rounds, peak memory {m.peak_rss_bytes / 2**20:.0f} MiB",
            highlight=False,
        )
    console.print(f"  job {report.job}: {report.seconds:.1f} s from first upload to result")
    audit = report.audit
    status = "valid" if audit.ok else f"INVALID: {audit.first_problem}"
    where = audit.path if audit.path.exists() else "not kept: pass --workdir DIR to keep it"
    console.print(
        f"  audit log: {audit.n_events} signed events, chain and signatures {status} ({where})",
        highlight=False,
    )


def _data_args(items: list[str]) -> dict[str, Path]:
    """``TABLE=FILE`` options as a mapping; one error line for a malformed or missing one."""
    data: dict[str, Path] = {}
    for item in items:
        table, sep, file = item.partition("=")
        if not sep or not table or not file:
            _fail(f"--data {item!r}: expected TABLE=FILE")
        if table in data:
            _fail(f"--data {table}=…: given twice")
        path = Path(file)
        if not path.is_file():
            _fail(f"--data {table}={file}: no such file")
        data[table] = path
    return data


def _load(plan_path: Path) -> Plan:
    from tyst.plan import PlanError, load_plan

    try:
        return load_plan(plan_path)
    except PlanError as exc:
        _fail(str(exc))
        raise AssertionError from exc  # unreachable: _fail exits


@app.command()
def run(
    plan_path: Annotated[Path, typer.Argument(metavar="PLAN", help="The plan file (TOML).")],
    out: Annotated[Path, typer.Option("--out", help="Where the result CSV is written.")],
    data: Annotated[
        list[str] | None, typer.Option("--data", help="TABLE=FILE (CSV or Parquet); repeat.")
    ] = None,
    timeout: float = typer.Option(120.0, help="Seconds a node waits for a peer before failing."),
    workdir: Annotated[
        Path | None,
        typer.Option(help="Keep the service side's state here (stores, database, logs, audit)."),
    ] = None,
) -> None:
    """Run a plan through the full lifecycle on this machine: coordinator, three nodes, owners."""
    from tyst.data.files import DataError
    from tyst.jobs.run import RunError
    from tyst.planner.planning import PlanningError
    from tyst.sql.errors import SqlError

    plan = _load(plan_path)
    files = _data_args(data or [])
    try:
        report = _run_with_progress(plan, files, out, timeout, workdir)
    except (SqlError, DataError, PlanningError, RunError) as exc:
        _fail(str(exc))
        return
    console.print(f"wrote {len(report.rows)} rows to {out}", highlight=False)
    _print_result(plan, report)
    if not report.audit.ok:
        raise typer.Exit(code=1)


def _run_with_progress(
    plan: Plan, files: dict[str, Path], out: Path, timeout: float, workdir: Path | None
) -> RunReport:
    """``run_plan`` with a progress bar per owner's file and a line per lifecycle step."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from tyst.jobs.run import run_plan

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
    ) as bars:
        tasks = {
            table: bars.add_task(f"sharing {table}", total=_count_lines(path))
            for table, path in files.items()
        }

        def progress(table: str, rows: int) -> None:
            bars.update(tasks[table], completed=rows)

        def phase(text: str) -> None:
            console.print(f"  · {text}", highlight=False)

        return run_plan(
            plan, files, out, timeout=timeout, progress=progress, phase=phase, workdir=workdir
        )


def _count_lines(path: Path) -> int | None:
    """Data rows of a CSV (lines − 1) for the progress bar; None for other formats."""
    if path.suffix.lower() != ".csv":
        return None
    with path.open("rb") as f:
        return max(0, sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b"")) - 1)


def _rows_args(rows: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in rows:
        table, sep, count = item.partition("=")
        if not sep or not table or not count.isdigit():
            _fail(f"--rows {item!r}: expected TABLE=N with N a non-negative integer")
        out[table] = int(count)
    return out


@app.command()
def check(
    plan_path: Annotated[Path, typer.Argument(metavar="PLAN", help="The plan file (TOML).")],
    data: Annotated[
        list[str] | None, typer.Option("--data", help="TABLE=FILE to check too; repeat.")
    ] = None,
    rows: Annotated[
        list[str] | None,
        typer.Option(
            "--rows",
            help="TABLE=N: measure each step's rounds and bytes at these sizes "
            "(runs the plan in-process over zero shares); repeat for every table.",
        ),
    ] = None,
    max_result_bytes: Annotated[
        int | None,
        typer.Option(
            "--max-result-bytes",
            min=1,
            help="The coordinator's max_result_bytes (default: its default, 8 GiB).",
        ),
    ] = None,
    node_store: Annotated[
        Path | None,
        typer.Option(
            "--node-store",
            help="A compute node's store: show the privacy budget left there (read only).",
        ),
    ] = None,
) -> None:
    """Validate a plan (and data files) and show who receives what and what the nodes learn."""
    from tyst.coordinator.protocol import DEFAULT_MAX_RESULT_BYTES
    from tyst.jobs.check import check_plan
    from tyst.node.ledger import LEDGER_FILE, BudgetLedger
    from tyst.sql.errors import SqlError

    plan = _load(plan_path)
    files = _data_args(data or [])
    sizes = _rows_args(rows) if rows else None
    if node_store is not None and not node_store.is_dir():
        _fail(f"--node-store {node_store}: no such directory")
    ledger = BudgetLedger(node_store / LEDGER_FILE) if node_store is not None else None
    try:
        report = check_plan(
            plan,
            files,
            sizes,
            max_result_bytes=max_result_bytes or DEFAULT_MAX_RESULT_BYTES,
            ledger=ledger,
        )
    except SqlError as exc:
        _fail(str(exc))
        return
    console.print(report.text, highlight=False, markup=False)
    if not report.ok:
        raise typer.Exit(code=1)


keys_app = typer.Typer(help="An organisation's signing and encryption keys.", no_args_is_help=True)
audit_app = typer.Typer(help="The signed, hash-chained audit log.", no_args_is_help=True)
coordinator_app = typer.Typer(help="The coordinator service (plans, approvals, jobs, audit).")
app.add_typer(coordinator_app, name="coordinator")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")


def _passphrase(path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        secret = path.read_bytes().strip()
    except OSError as exc:
        _fail(f"--passphrase-file {path}: {exc.strerror or exc}")
        raise AssertionError from exc
    if not secret:
        _fail(f"--passphrase-file {path}: the file is empty")
    return secret


@keys_app.command("generate")
def keys_generate(
    org: Annotated[str, typer.Argument(help="The organisation's id in the deployment registry.")],
    directory: Annotated[Path, typer.Option("--dir", help="Where to write the key files.")],
    passphrase_file: Annotated[
        Path | None, typer.Option(help="Encrypt the private keys with the passphrase in this file.")
    ] = None,
    registry: Annotated[
        Path | None, typer.Option(help="Also add the public keys to this registry JSON file.")
    ] = None,
) -> None:
    """Create an Ed25519 signing key and X25519 + ML-KEM-768 encryption keys for ORG."""
    from tyst.service.keys import KeyFileError, Registry, RegistryError, generate

    secret = _passphrase(passphrase_file)
    try:
        keys = generate(org)
        keys.save(directory, secret)
        if registry is not None:
            reg = Registry.load(registry) if registry.exists() else Registry()
            reg.add(keys.public())
            reg.save(registry)
    except (KeyFileError, RegistryError, ValueError, OSError) as exc:
        _fail(str(exc))
        return
    console.print(
        f"keys of {org} written to {directory} (private keys mode 0600"
        f"{', encrypted' if secret else ', NOT encrypted'}); "
        f"public fingerprint {keys.public().fingerprint()}",
        highlight=False,
    )


def _load_ca(ca_dir: Path) -> DeploymentCA:
    from tyst.net.certs import DeploymentCA

    try:
        return DeploymentCA((ca_dir / "ca.pem").read_bytes(), (ca_dir / "ca.key").read_bytes())
    except OSError as exc:
        _fail(f"{ca_dir}: cannot read the deployment CA (ca.pem, ca.key): {exc.strerror}")
        raise AssertionError from exc


@keys_app.command("ca")
def keys_ca(
    directory: Annotated[Path, typer.Option("--dir", help="Where to write ca.pem and ca.key.")],
    valid_days: int = typer.Option(365, help="Validity of the CA certificate."),
) -> None:
    """Create the deployment CA that signs the nodes' and the coordinator's TLS certificates."""
    from tyst.net.certs import make_deployment_ca, write_pem

    if (directory / "ca.key").exists():
        _fail(f"{directory / 'ca.key'} exists; refusing to overwrite a deployment CA")
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    ca = make_deployment_ca(valid_days=valid_days)
    write_pem(directory / "ca.pem", ca.cert_pem)
    write_pem(directory / "ca.key", ca.key_pem, private=True)
    console.print(
        f"deployment CA written to {directory} (ca.key mode 0600: keep it offline; "
        "distribute ca.pem to every node and client)",
        highlight=False,
    )


@keys_app.command("node-cert")
def keys_node_cert(
    party: Annotated[int, typer.Argument(help="The node's party index: 0, 1 or 2.")],
    ca_dir: Annotated[Path, typer.Option("--ca", help="The directory of the deployment CA.")],
    out: Annotated[Path, typer.Option("--out", help="Directory for ca.pem, node.pem, node.key.")],
    host: Annotated[
        list[str], typer.Option("--host", help="A DNS name or IP the node is reached at; repeat.")
    ],
    valid_days: int = typer.Option(365, help="Validity of the certificate."),
) -> None:
    """Issue a node's TLS certificate (mesh and API) from the deployment CA."""
    from tyst.net.certs import issue_node_certificate

    if party not in (0, 1, 2):
        _fail("the party index must be 0, 1 or 2")
    try:
        creds = issue_node_certificate(_load_ca(ca_dir), party, host, valid_days=valid_days)
        creds.write(out)
    except (ValueError, OSError) as exc:
        _fail(str(exc))
    console.print(f"node {party} certificate for {', '.join(host)} written to {out}")


@keys_app.command("server-cert")
def keys_server_cert(
    ca_dir: Annotated[Path, typer.Option("--ca", help="The directory of the deployment CA.")],
    out: Annotated[Path, typer.Option("--out", help="Directory for server.pem and server.key.")],
    host: Annotated[
        list[str], typer.Option("--host", help="A DNS name or IP the server is reached at.")
    ],
    name: str = typer.Option("coordinator.tyst", help="The certificate's identity name."),
    valid_days: int = typer.Option(365, help="Validity of the certificate."),
) -> None:
    """Issue the coordinator's TLS certificate from the deployment CA (never a mesh identity)."""
    from tyst.net.certs import issue_server_certificate, write_pem

    try:
        cert, key = issue_server_certificate(_load_ca(ca_dir), name, host, valid_days=valid_days)
        out.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_pem(out / "server.pem", cert)
        write_pem(out / "server.key", key, private=True)
    except (ValueError, OSError) as exc:
        _fail(str(exc))
    console.print(f"server certificate for {', '.join(host)} written to {out}")


registry_app = typer.Typer(
    help="The deployment's registry of organisations (public keys) and its fingerprint.",
    no_args_is_help=True,
)
app.add_typer(registry_app, name="registry")


@registry_app.command("assemble")
def registry_assemble(
    public: Annotated[
        list[Path], typer.Argument(help="Each body's public.json (tyst keys generate).")
    ],
    out: Annotated[Path, typer.Option("--out", help="Where the registry JSON is written.")],
) -> None:
    """Build the registry from every body's public.json and print its fingerprint: the
    value every node and the coordinator pin (registry_fingerprint), compared out of band."""
    from tyst.service.keys import KeyFileError, Registry, RegistryError, load_public

    try:
        registry = Registry()
        for path in public:
            org = load_public(path)
            try:
                registry.add(org)
            except RegistryError as exc:
                raise RegistryError(f"{path}: {exc}") from None
        registry.save(out)
    except (KeyFileError, RegistryError, OSError) as exc:
        _fail(str(exc))
        return
    console.print(
        f"registry of {len(registry)} organisations ({', '.join(registry.org_ids())}) "
        f"written to {out}",
        highlight=False,
    )
    print(f"fingerprint {registry.fingerprint()}")


@registry_app.command("verify")
def registry_verify(
    file: Annotated[Path, typer.Argument(help="The registry JSON file.")],
    fingerprint: Annotated[
        str, typer.Option("--fingerprint", help="The fingerprint you compared out of band.")
    ],
) -> None:
    """Check a registry file against a fingerprint (exit 1 if it differs) and list each
    organisation's own public-key fingerprint."""
    from tyst.service.keys import Registry, RegistryError

    try:
        registry = Registry.load(file)
    except RegistryError as exc:
        _fail(str(exc))
        return
    actual = registry.fingerprint()
    if actual != fingerprint.strip().lower():
        errors.print(
            f"registry INVALID: {file} has fingerprint {actual}, not {fingerprint}",
            highlight=False,
            markup=False,
        )
        raise typer.Exit(code=1)
    for org in registry:
        console.print(f"  {org.org_id}: {org.fingerprint()}", highlight=False)
    console.print(
        f"registry OK: {file}, {len(registry)} organisations, fingerprint {actual}",
        highlight=False,
    )


@audit_app.command("verify")
def audit_verify(
    file: Annotated[
        Path,
        typer.Argument(
            help="The exported audit log (JSON lines), or a directory of tyst audit export "
            "(its log, every head in heads/ and its plan extracts are checked)."
        ),
    ],
    registry: Annotated[
        Path, typer.Option(help="The deployment's registry of organisations (public keys).")
    ],
    head: Annotated[
        list[Path] | None,
        typer.Option(
            "--head",
            help="A countersigned head (tyst audit head); the log must contain it. Repeatable.",
        ),
    ] = None,
    allow_incomplete: Annotated[
        bool,
        typer.Option(help="Accept jobs still in progress (missing deletion receipts)."),
    ] = False,
    node: Annotated[
        list[str] | None,
        typer.Option(
            "--node",
            help="A compute node's organisation id (give all three; default: the signers of "
            "node events that are no plan's party). Repeatable.",
        ),
    ] = None,
) -> None:
    """Check the chain, every signature, who signed what (nodes' events by nodes, approvals
    by owners, …), each countersigned head and every job's deletion receipts; exit 1 on
    any modified, reordered or removed event or an event signed out of its role."""
    from tyst.client.audit_export import log_problems
    from tyst.service.audit import AuditFormatError, read_export, read_jsonl, read_signed_head
    from tyst.service.keys import Registry, RegistryError

    extract_problems: list[str] = []
    try:
        reg = Registry.load(registry)
        heads = [(path, read_signed_head(path)) for path in head or []]
        if file.is_dir():  # tyst audit export DIR: the log, its heads, plan extracts
            exported = read_export(file)
            events = exported.events
            heads += exported.heads
            extract_problems = exported.extract_problems()
        else:
            events = read_jsonl(file)
    except AuditFormatError as exc:
        errors.print(f"audit log INVALID: {exc}", highlight=False, markup=False)
        raise typer.Exit(code=1) from None
    except (RegistryError, OSError, ValueError) as exc:
        _fail(str(exc))
        return
    problems, incomplete = log_problems(events, reg, heads, node, allow_incomplete=allow_incomplete)
    problems.extend(extract_problems)
    if not problems:
        extra = f", {len(heads)} countersigned heads contained" if heads else ""
        note = f"; {len(incomplete)} jobs in progress" if incomplete else ""
        console.print(
            f"audit log OK: {len(events)} events, chain and signatures valid, "
            f"every event signed by a role allowed to sign it{extra}, "
            f"every finished job has its deletion receipts{note}"
        )
        return
    for problem in problems:
        errors.print(f"audit log INVALID: {problem}", highlight=False, markup=False)
    raise typer.Exit(code=1)


@audit_app.command("head")
def audit_head(
    config: ClientConfigOption,
    out: Annotated[Path, typer.Option("--out", help="Where the countersigned head is written.")],
    trusted: Annotated[
        Path | None,
        typer.Option("--trusted", help="A head you signed before; the log must contain it."),
    ] = None,
) -> None:
    """Verify the coordinator's log and countersign its head; keep the file yourself."""
    from tyst.service.audit import AuditFormatError, read_signed_head, write_signed_head

    try:
        previous = read_signed_head(trusted).head if trusted is not None else None
    except (AuditFormatError, OSError) as exc:
        _fail(str(exc))
        return
    with _client(config) as client:
        try:
            signed = client.countersign_head(previous)
        except _client_errors() as exc:
            _fail(str(exc))
            return
    write_signed_head(out, signed)
    console.print(
        f"countersigned head seq {signed.n_events} ({signed.hash[:16]}…) as {signed.org}: {out}",
        highlight=False,
    )


@audit_app.command("export")
def audit_export(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="Where the export goes.")],
    config: ClientConfigOption,
    plan: Annotated[
        str | None,
        typer.Option("--plan", help="Also write this plan's events (plan-<id>.jsonl)."),
    ] = None,
    head: Annotated[
        list[Path] | None,
        typer.Option(
            "--head",
            help="A countersigned head to keep with it (a node's, yours); the log must "
            "contain it. Repeatable.",
        ),
    ] = None,
) -> None:
    """Fetch the whole audit log, verify it, countersign its head and write the log with
    its heads to DIR, for `tyst audit verify DIR --registry …` anywhere, offline."""
    from tyst.client.audit_export import export_audit
    from tyst.service.audit import AuditFormatError, read_signed_head

    try:
        given = [(path, read_signed_head(path)) for path in head or []]
    except (AuditFormatError, OSError) as exc:
        _fail(str(exc))
        return
    caught: tuple[type[Exception], ...] = (*_client_errors(), OSError)
    with _client(config) as client:
        try:
            report = export_audit(client, directory, heads=given, plan=plan)
        except caught as exc:
            _fail(str(exc))
            return
    extract = f"; {report.plan_events} events of plan {plan[:16]}…" if plan is not None else ""
    console.print(
        f"exported {report.head.n_events} events (head {report.head.hash[:16]}…, "
        f"countersigned by {report.head.org}), {len(report.heads)} heads{extract} to "
        f"{directory}",
        highlight=False,
    )


LogFormat = Annotated[
    str | None,
    typer.Option("--log-format", help="text or json (one object per line); default: the config's"),
]


def _log_format(value: str | None) -> str | None:
    from tyst.service.logs import LOG_FORMATS

    if value is not None and value not in LOG_FORMATS:
        _fail(f"--log-format {value}: expected {' or '.join(LOG_FORMATS)}")
    return value


@coordinator_app.command("serve")
def coordinator_serve(
    config: Annotated[Path, typer.Option("--config", help="The coordinator's TOML config file.")],
    log_format: LogFormat = None,
) -> None:
    """Serve the coordinator API (FastAPI; SQLite by default, PostgreSQL by URL)."""
    from tyst.coordinator.app import serve
    from tyst.coordinator.config import ConfigError, load_config
    from tyst.service.startup import StartupError

    try:
        settings = load_config(config)
        fmt = _log_format(log_format)
        serve(settings if fmt is None else replace(settings, log_format=fmt))
    except (ConfigError, StartupError) as exc:
        _fail(str(exc))


register_app = typer.Typer(
    help="The public transparency register (analyses run; never data).", no_args_is_help=True
)
app.add_typer(register_app, name="register")


@register_app.command("export")
def register_export(
    directory: Annotated[Path, typer.Argument(help="Where the static files are written.")],
    config: Annotated[
        Path | None, typer.Option("--config", help="Read the coordinator's database (its TOML).")
    ] = None,
    coordinator: Annotated[
        str | None, typer.Option("--coordinator", help="Or fetch it: the coordinator's URL.")
    ] = None,
    ca: Annotated[
        Path | None, typer.Option("--ca", help="CA certificate (PEM) for --coordinator's TLS.")
    ] = None,
) -> None:
    """Write the register as static files (index.html, en.html, register.json,
    register.atom, tyst.css) for an agency's website."""
    from sqlalchemy.exc import SQLAlchemyError

    from tyst.coordinator.config import ConfigError, load_config, redacted_url
    from tyst.coordinator.db import Database
    from tyst.coordinator.register import (
        RegisterFormatError,
        build_register,
        fetch_register,
        write_static,
    )

    if (config is None) == (coordinator is None):
        _fail("give exactly one of --config FILE and --coordinator URL")
    try:
        if coordinator is not None:
            register = fetch_register(coordinator, ca)
        else:
            assert config is not None
            settings = load_config(config)
            database = Database(settings.database_url)
            try:
                register = build_register(database, frozenset(settings.nodes))
            except SQLAlchemyError as exc:
                cause = getattr(exc, "orig", None) or exc
                line = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
                _fail(f"database {redacted_url(settings.database_url)}: {line}")
            finally:
                database.dispose()
        written = write_static(register, directory)
    except (ConfigError, RegisterFormatError, OSError, ValueError) as exc:
        _fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    console.print(f"{len(register.entries)} analyses; wrote {len(written)} files to {directory}")


node_app = typer.Typer(help="A compute node (upload API, share store, mesh).", no_args_is_help=True)
app.add_typer(node_app, name="node")


@node_app.command("serve")
def node_serve(
    config: Annotated[Path, typer.Option("--config", help="The node's TOML config file.")],
    log_format: LogFormat = None,
) -> None:
    """Serve a compute node: HTTPS upload/control API, encrypted store, mTLS mesh for runs."""
    from tyst.node.app import serve
    from tyst.node.config import NodeConfigError, load_node_config
    from tyst.service.startup import StartupError

    try:
        settings = load_node_config(config)
        fmt = _log_format(log_format)
        serve(settings if fmt is None else replace(settings, log_format=fmt))
    except (NodeConfigError, StartupError) as exc:
        _fail(str(exc))


@node_app.command("check")
def node_check(
    config: Annotated[Path, typer.Option("--config", help="The node's TOML config file.")],
    wait: Annotated[
        float, typer.Option(help="Seconds to retry the peers (run it there too).")
    ] = 30.0,
) -> None:
    """Check coordinator, pinned registry and CA, keys, and each peer's mesh identity; exit 1
    on any FAIL. Run it on the three nodes at about the same time."""
    from tyst.node.check import check_node
    from tyst.node.config import NodeConfigError, load_node_config

    try:
        settings = load_node_config(config)
    except NodeConfigError as exc:
        _fail(str(exc))
    checks = check_node(settings, wait=wait)
    for c in checks:
        print(c.line(), flush=True)
    if not all(c.ok for c in checks):
        raise typer.Exit(code=1)


plan_app = typer.Typer(
    help="Submit, approve, reject, withdraw and follow plans (as an organisation)."
)
data_app = typer.Typer(help="Upload an owner's table, secret-shared on this machine.")
result_app = typer.Typer(help="Fetch and open a recipient's sealed result.")
app.add_typer(plan_app, name="plan", no_args_is_help=True)
app.add_typer(data_app, name="data", no_args_is_help=True)
app.add_typer(result_app, name="result", no_args_is_help=True)
job_app = typer.Typer(help="List and cancel jobs (as a party of their plan).")
app.add_typer(job_app, name="job", no_args_is_help=True)

ClientConfigOption = Annotated[
    Path, typer.Option("--config", help="Your organisation's client config (TOML).")
]


def _client(config: Path) -> Client:
    from tyst.client.config import ClientConfigError, load_client_config
    from tyst.client.session import Client
    from tyst.service.keys import KeyFileError, RegistryError

    try:
        return Client.from_config(load_client_config(config))
    except (ClientConfigError, KeyFileError, RegistryError, OSError) as exc:
        _fail(str(exc))
        raise AssertionError from exc


def _client_errors() -> tuple[type[Exception], ...]:
    from tyst.api.http import ApiError
    from tyst.client.owner import UploadError
    from tyst.client.recipient import ResultError
    from tyst.data.files import DataError
    from tyst.plan import PlanError
    from tyst.sql.errors import SqlError

    return (ApiError, UploadError, ResultError, DataError, PlanError, SqlError)


@plan_app.command("submit")
def plan_submit(
    plan_path: Annotated[Path, typer.Argument(metavar="PLAN", help="The plan file (TOML).")],
    config: ClientConfigOption,
) -> None:
    """Submit a plan to the coordinator (signed by your organisation); prints its id."""
    plan = _load(plan_path)
    with _client(config) as client:
        try:
            client.submit(plan.text, str(plan_path))
        except _client_errors() as exc:
            _fail(str(exc))
    console.print(f"submitted plan {plan.digest()}", highlight=False)


@plan_app.command("approve")
def plan_approve(
    plan_path: Annotated[
        Path, typer.Argument(metavar="PLAN", help="The plan file you reviewed (TOML).")
    ],
    config: ClientConfigOption,
) -> None:
    """Approve the plan file you reviewed: its digest is computed here and signed."""
    plan = _load(plan_path)
    with _client(config) as client:
        try:
            answer = client.approve(plan.text, str(plan_path))
        except _client_errors() as exc:
            _fail(str(exc))
            return
    missing = ", ".join(answer.get("missing_approvals", [])) or "none"
    console.print(
        f"approved plan {plan.digest()} (state {answer['state']}; still missing: {missing})",
        highlight=False,
    )


@plan_app.command("list")
def plan_list(config: ClientConfigOption) -> None:
    """The plans your organisation is a party of (owner or recipient), oldest first, with
    their state (awaiting_approvals, approved, rejected, withdrawn)."""
    with _client(config) as client:
        try:
            plans = client.coordinator.plans()
        except _client_errors() as exc:
            _fail(str(exc))
            return
    if not plans:
        console.print("no plans", highlight=False)
    for p in plans:
        console.print(
            f"{p['plan_id']}  {p['state']:<18}  {p['title']}  "
            f"(submitted by {p['submitted_by']} {p['submitted_at']})",
            highlight=False,
            markup=False,
        )


@plan_app.command("reject")
def plan_reject(
    plan_id: Annotated[str, typer.Argument(metavar="PLAN", help="The plan id (its digest).")],
    config: ClientConfigOption,
    reason: Annotated[str, typer.Option("--reason", help="Why (one line, in the log).")],
) -> None:
    """Reject a plan as an owner of one of its tables (a signed plan_rejected): it can
    never run; its jobs not yet finished fail and the nodes delete their shares."""
    _close_plan(config, plan_id, "rejected", lambda c: c.coordinator.reject_plan(plan_id, reason))


@plan_app.command("withdraw")
def plan_withdraw(
    plan_id: Annotated[str, typer.Argument(metavar="PLAN", help="The plan id (its digest).")],
    config: ClientConfigOption,
    reason: Annotated[str, typer.Option("--reason", help="Why (one line, in the log).")] = "",
) -> None:
    """Withdraw a plan you submitted, before any job of it ran (a signed plan_withdrawn):
    it can never run; its open jobs fail."""
    _close_plan(config, plan_id, "withdrew", lambda c: c.coordinator.withdraw_plan(plan_id, reason))


def _close_plan(
    config: Path, plan_id: str, done: str, send: Callable[[Client], Mapping[str, Any]]
) -> None:
    """Send one signed closing event of a plan through this organisation's client and print
    the plan's new state and the event's audit sequence number (or fail in one line)."""
    with _client(config) as client:
        try:
            answer = send(client)
        except _client_errors() as exc:
            _fail(str(exc))
            return
    console.print(
        f"{done} plan {plan_id} (state {answer['state']}; audit seq {answer['seq']})",
        highlight=False,
    )


@plan_app.command("status")
def plan_status(
    plan_id: Annotated[str, typer.Argument(help="The plan id (its digest).")],
    config: ClientConfigOption,
    job: Annotated[
        str | None, typer.Option("--job", help="Show this job of the plan only.")
    ] = None,
) -> None:
    """A plan's state, approvals and jobs, with each job's events."""
    with _client(config) as client:
        try:
            info = client.status(plan_id)
            if job is not None and job not in info["jobs"]:
                _fail(f"plan {plan_id[:16]}… has no job {job!r}")
            wanted = [job] if job is not None else info["jobs"]
            jobs = [client.coordinator.job(j) for j in wanted]
        except _client_errors() as exc:
            _fail(str(exc))
            return
    console.print(f"plan {info['plan_id']}: {info['title']} — {info['state']}", highlight=False)
    approved = ", ".join(a["org_id"] for a in info["approvals"]) or "none"
    missing = ", ".join(info["missing_approvals"]) or "none"
    console.print(f"  approved by: {approved}; missing: {missing}", highlight=False)
    for shown in jobs:
        why = f" ({shown['reason']})" if shown.get("reason") else ""
        console.print(f"  job {shown['job_id']}: {shown['state']}{why}", highlight=False)
        for e in shown["events"]:
            details = ", ".join(f"{k}={v}" for k, v in sorted(e["details"].items()))
            console.print(f"    {e['time']} {e['actor']} {e['kind']} {details}", highlight=False)


@job_app.command("list")
def job_list(
    config: ClientConfigOption,
    plan: Annotated[
        str | None, typer.Option("--plan", help="Only this plan's jobs (its id).")
    ] = None,
) -> None:
    """The jobs of your organisation's plans, oldest first, with their state (created,
    uploading, running, finished, delivered, failed), why a failed one failed and which
    nodes' deletion receipts are in the log."""
    with _client(config) as client:
        try:
            jobs = client.coordinator.jobs(plan)
        except _client_errors() as exc:
            _fail(str(exc))
            return
    if not jobs:
        console.print("no jobs", highlight=False)
    for j in jobs:
        why = f" ({j['reason']})" if j.get("reason") else ""
        deleted = ", ".join(j.get("deleted_by") or []) or "none"
        console.print(
            f"{j['job_id']}  plan {j['plan_id'][:16]}…  {j['state']}{why}  "
            f"created {j['created_at']}; deletion receipts: {deleted}",
            highlight=False,
            markup=False,
        )


@job_app.command("cancel")
def job_cancel(
    job: Annotated[str, typer.Argument(help="The job id (job-…).")],
    config: ClientConfigOption,
    reason: Annotated[str, typer.Option("--reason", help="Why (one line, in the log).")] = (
        "cancelled by a party"
    ),
) -> None:
    """Cancel a job that has not finished (signed by your organisation, a party of its
    plan): it fails; the nodes stop any run of it, delete its shares and sign receipts."""
    with _client(config) as client:
        try:
            answer = client.coordinator.cancel_job(job, reason)
        except _client_errors() as exc:
            _fail(str(exc))
            return
    console.print(f"cancelled job {job} (state {answer['state']})", highlight=False)


@data_app.command("upload")
def data_upload(
    plan_id: Annotated[str, typer.Argument(help="The plan id (its digest).")],
    table: Annotated[str, typer.Option("--table", help="Which of the plan's tables.")],
    file: Annotated[Path, typer.Option("--file", help="Your CSV or Parquet file.")],
    config: ClientConfigOption,
    job: Annotated[
        str | None, typer.Option(help="The job (default: the plan's open job, or a new one).")
    ] = None,
) -> None:
    """Validate your file, secret-share it here and send each node only its shares."""
    if not file.is_file():
        _fail(f"--file {file}: no such file")
    with _client(config) as client:
        try:
            job_id = job or client.job_for(plan_id)
            report = client.upload(plan_id, job_id, table, file)
        except _client_errors() as exc:
            _fail(str(exc))
            return
    sent = ", ".join(f"{b / 1e6:.1f} MB" for b in report.bytes_per_node)
    console.print(
        f"uploaded {report.rows} rows of {table} to job {job_id} (shares per node: {sent})",
        highlight=False,
    )


@result_app.command("fetch")
def result_fetch(
    plan_id: Annotated[str, typer.Argument(help="The plan id (its digest).")],
    job: Annotated[str, typer.Option("--job", help="The job whose result to fetch.")],
    out: Annotated[Path, typer.Option("--out", help="Where the result CSV is written.")],
    config: ClientConfigOption,
    wait: float = typer.Option(3600.0, help="Seconds to wait for the nodes to finish."),
    retry: float = typer.Option(
        300.0, help="Seconds each request waits out an unreachable coordinator (a restart)."
    ),
) -> None:
    """Wait for the job, verify and open the three sealed blobs, combine, write the CSV."""
    from tyst.data.files import write_csv

    with _client(config) as client:
        try:
            result = client.fetch(plan_id, job, timeout=wait, retry=retry)
        except _client_errors() as exc:
            _fail(str(exc))
            return
    write_csv(out, result.header, result.rows)
    console.print(
        f"wrote {len(result.rows)} rows to {out} (suppressed groups: {result.suppressed_groups})",
        highlight=False,
    )
    for column, how in result.noisy.items():
        console.print(f"  {escape(column)} is noisy: {how}", highlight=False)


@app.command("console")
def console_serve(
    config: ClientConfigOption,
    port: int = typer.Option(8600, help="The port to serve the console on."),
    host: str = typer.Option("127.0.0.1", help="The address to bind (keep it on loopback)."),
    heads: Annotated[
        list[Path] | None,
        typer.Option("--heads", help="A directory of countersigned heads (a node's); repeat."),
    ] = None,
) -> None:
    """Serve your organisation's web console on this machine: review, approve, upload,
    follow, fetch and audit in a browser, every plan, log and result verified here."""
    from tyst.console.app import serve

    with _client(config) as client:
        console.print(f"tyst console for {client.keys.org_id}: http://{host}:{port}/")
        serve(client, host=host, port=port, heads=heads or [])


def main() -> None:
    """Console entry point."""
    try:
        app()
    except KeyboardInterrupt:
        errors.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
