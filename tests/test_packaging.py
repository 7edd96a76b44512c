"""The shipped deployment files: systemd units (hardened, and ``systemd-analyze verify``
where it exists), a Containerfile per role and the compose file (well-formed, every path
they copy exists, every command they run is a tyst command that parses).

No container engine runs on the test machines (``docker``/``podman`` build and run need
one), so the images are not built here: the files are checked statically."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SYSTEMD = ROOT / "deploy" / "systemd"
CONTAINERS = ROOT / "deploy" / "containers"
COMPOSE = ROOT / "deploy" / "compose.yaml"
PREFIX = "/opt/tyst/.venv/bin/"
HARDENING = (
    "LimitCORE=0",
    "UMask=0077",
    "NoNewPrivileges=yes",
    "PrivateTmp=yes",
    "ProtectSystem=strict",
    "ProtectHome=yes",
    "PrivateDevices=yes",
    "CapabilityBoundingSet=",
    "User=tyst",
)
UNITS = sorted(SYSTEMD.glob("*.service"))


def _parses(argv: list[str]) -> None:
    """``argv`` (a tyst command as a unit or image runs it) is accepted by the CLI:
    its ``--help`` with the same subcommands and options exits 0."""
    if argv[:3] == ["python", "-m", "tyst.coordinator.migrations"]:
        done = subprocess.run(
            [sys.executable, "-m", "tyst.coordinator.migrations", "upgrade", "env:TYST_UNSET_X"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 2
        assert "TYST_UNSET_X is not set" in done.stderr
        return
    assert argv[0] == "tyst", argv
    words = [a for a in argv[1:] if not a.startswith("-") and not a.startswith("/")]
    done = subprocess.run(
        [sys.executable, "-m", "tyst", *words, "--help"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    for option in (a for a in argv if a.startswith("--")):
        assert option in done.stdout, (option, argv)


def test_units_are_hardened_and_run_tyst_commands() -> None:
    assert {u.name for u in UNITS} == {
        "tyst-coordinator.service",
        "tyst-coordinator-migrate.service",
        "tyst-node@.service",
    }
    for unit in UNITS:
        lines = unit.read_text(encoding="utf-8").splitlines()
        for setting in HARDENING:
            assert setting in lines, (unit.name, setting)
        assert any(line.startswith("ReadWritePaths=/var/lib/tyst/") for line in lines) or (
            "migrate" in unit.name
        )
        (start,) = [line for line in lines if line.startswith("ExecStart=")]
        command = start.removeprefix("ExecStart=").split()
        assert command[0].startswith(PREFIX), command
        _parses([command[0].removeprefix(PREFIX), *command[1:]])
    node = (SYSTEMD / "tyst-node@.service").read_text(encoding="utf-8")
    assert "KillMode=control-group" in node  # the run process dies with the server
    sysusers = (SYSTEMD / "tyst.sysusers.conf").read_text(encoding="utf-8")
    assert re.search(r"^u tyst - .* /var/lib/tyst /usr/sbin/nologin$", sysusers, re.M)


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here"
)
def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    """Each unit as shipped, its install prefix pointed at this test's interpreter
    (``verify`` checks that the executable exists): no error and no warning."""
    bindir = Path(sys.executable).parent
    if not (bindir / "tyst").exists():
        pytest.skip(f"no tyst entry point beside {sys.executable} (not pip-installed)")
    paths = []
    for unit in UNITS:
        name = unit.name.replace("@.service", "@nod-a.service")
        text = unit.read_text(encoding="utf-8").replace(PREFIX, f"{bindir}/")
        (tmp_path / name).write_text(text, encoding="utf-8")
        paths.append(str(tmp_path / name))
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *paths],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr  # unknown keys are only warnings


def _instructions(path: Path) -> list[tuple[str, str]]:
    text = path.read_text(encoding="utf-8").replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


@pytest.mark.parametrize("role", ["coordinator", "node"])
def test_containerfiles_copy_existing_paths_and_run_tyst(role: str) -> None:
    steps = _instructions(CONTAINERS / f"Containerfile.{role}")
    froms = [rest for word, rest in steps if word == "FROM"]
    assert len(froms) == 2
    assert all(re.match(r"docker\.io/library/python:3\.11-[a-z0-9.-]+", f) for f in froms)
    for word, rest in steps:
        if word == "COPY" and not rest.startswith("--from"):
            *sources, _dest = rest.split()
            for source in sources:
                assert (ROOT / source).exists(), source
    runs = " ".join(rest for word, rest in steps if word == "RUN")
    assert "pip wheel" in runs  # a wheelhouse …
    assert "--no-index --find-links /wheels tyst" in runs  # … installed offline
    assert ("USER", "tyst") in steps
    (entry,) = [rest for word, rest in steps if word == "ENTRYPOINT"]
    argv = json.loads(entry)
    assert f"/etc/tyst/{role}/{role}.toml" in argv
    _parses(argv)


def test_compose_runs_postgres_migrations_coordinator_and_three_nodes() -> None:
    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    services = compose["services"]
    assert set(services) == {"postgres", "migrate", "coordinator", "node-a", "node-b", "node-c"}
    images = {}
    for name, service in services.items():
        if "build" in service:
            context = (COMPOSE.parent / service["build"]["context"]).resolve()
            assert context == ROOT
            assert (context / service["build"]["dockerfile"]).is_file()
            images[service["image"]] = service["build"]["dockerfile"]
        if name == "postgres":
            continue
        assert service["image"] in images, name  # built by one of the services
        assert service["read_only"] is True
        assert service["cap_drop"] == ["ALL"]
        assert "no-new-privileges:true" in service["security_opt"]
        assert service["ulimits"]["core"] == 0
        if "entrypoint" in service:
            _parses(service["entrypoint"])
    assert services["coordinator"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    for node, org in (("node-a", "nod-a"), ("node-b", "nod-b"), ("node-c", "nod-c")):
        volumes = services[node]["volumes"]
        assert f"./deployment/{org}:/etc/tyst/node:ro" in volumes
        store = next(v for v in volumes if v.endswith(":/var/lib/tyst"))
        assert store.split(":")[0] in compose["volumes"]
    assert "POSTGRES_PASSWORD_FILE" in services["postgres"]["environment"]
    assert all("PASSWORD" not in str(s.get("environment", "")) or n == "postgres"
               for n, s in services.items())  # fmt: skip


def test_migrations_read_the_database_url_from_the_environment(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'coordinator.db'}"
    done = subprocess.run(
        [sys.executable, "-m", "tyst.coordinator.migrations", "upgrade", "env:TYST_TEST_URL"],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "TYST_TEST_URL": url},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "database is at revision" in done.stdout
    assert url not in done.stdout + done.stderr
    assert (tmp_path / "coordinator.db").is_file()
