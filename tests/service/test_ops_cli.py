"""``tyst --version``, ``tyst registry assemble|verify`` and the servers' start-up errors.

Every start-up failure of ``tyst coordinator serve`` and ``tyst node serve`` is one
line on stderr with a non-zero exit, never a traceback, and nothing is served:
``uvicorn.run`` is replaced by a function that fails the test if it is reached.
"""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
import uvicorn
from typer.testing import CliRunner

from tyst.cli import app
from tyst.jobs.deploy import LocalDeployment, write_local_deployment
from tyst.service.keys import Registry, generate, load

runner = CliRunner()


def _one_error_line(result: object, *needles: str) -> str:
    output = result.output  # type: ignore[attr-defined]
    assert result.exit_code not in (0, None), output  # type: ignore[attr-defined]
    assert "Traceback" not in output
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def no_server(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a server started despite a bad configuration")

    monkeypatch.setattr(uvicorn, "run", refuse)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> LocalDeployment:
    return write_local_deployment(tmp_path_factory.mktemp("dep"), ["fk"])


def _variant(path: Path, name: str, *edits: tuple[str, str], extra: str = "") -> Path:
    text = path.read_text(encoding="utf-8")
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    for key in (line.split("=")[0].strip() for line in extra.splitlines() if "=" in line):
        # a key set again by ``extra`` replaces the file's own (e.g. registry_fingerprint)
        text = "".join(t for t in text.splitlines(True) if t.split("=")[0].strip() != key)
    out = path.with_name(name)
    out.write_text(text + extra, encoding="utf-8")
    return out


# ---------------------------------------------------------------------- version


def test_version_is_the_package_version_on_one_line() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"tyst {version('tyst')}\n"


# ---------------------------------------------------------------------- registry


def _public(tmp_path: Path, org: str) -> Path:
    keys = generate(org)
    keys.save(tmp_path / org, None)
    return tmp_path / org / "public.json"


def test_registry_assemble_prints_the_fingerprint_that_verify_accepts(tmp_path: Path) -> None:
    files = [_public(tmp_path, org) for org in ("nod-a", "fk", "malmo")]
    out = tmp_path / "registry.json"
    result = runner.invoke(app, ["registry", "assemble", *map(str, files), "--out", str(out)])
    assert result.exit_code == 0, result.output
    registry = Registry.load(out)
    assert registry.org_ids() == ["fk", "malmo", "nod-a"]
    assert registry.get("fk") == load(tmp_path / "fk", None).public()
    printed = result.output.strip().splitlines()[-1]
    assert printed == f"fingerprint {registry.fingerprint()}"
    fingerprint = printed.split()[1]
    ok = runner.invoke(app, ["registry", "verify", str(out), "--fingerprint", fingerprint])
    assert ok.exit_code == 0, ok.output
    assert f"registry OK: {out}, 3 organisations" in ok.output
    # the order of the files does not change the registry nor its fingerprint
    again = tmp_path / "again.json"
    reordered = runner.invoke(
        app, ["registry", "assemble", *map(str, reversed(files)), "--out", str(again)]
    )
    assert reordered.output.strip().splitlines()[-1] == printed


def test_registry_verify_refuses_another_fingerprint_and_a_changed_file(tmp_path: Path) -> None:
    files = [_public(tmp_path, org) for org in ("fk", "malmo")]
    out = tmp_path / "registry.json"
    assembled = runner.invoke(app, ["registry", "assemble", *map(str, files), "--out", str(out)])
    fingerprint = assembled.output.strip().split()[-1]
    wrong = runner.invoke(app, ["registry", "verify", str(out), "--fingerprint", "ab" * 32])
    assert wrong.exit_code == 1
    _one_error_line(wrong, "INVALID", fingerprint, "ab" * 32)
    # a registry with one more organisation no longer has the pinned fingerprint
    registry = Registry.load(out)
    registry.add(generate("mallory").public())
    registry.save(out)
    changed = runner.invoke(app, ["registry", "verify", str(out), "--fingerprint", fingerprint])
    assert changed.exit_code == 1
    _one_error_line(changed, "INVALID")


def test_registry_assemble_refuses_a_duplicate_or_broken_public_file(tmp_path: Path) -> None:
    fk = _public(tmp_path, "fk")
    twice = runner.invoke(
        app, ["registry", "assemble", str(fk), str(fk), "--out", str(tmp_path / "r.json")]
    )
    _one_error_line(twice, "duplicate organisation id 'fk'", str(fk))
    broken = tmp_path / "broken.json"
    broken.write_text('{"org_id": "x"}', encoding="utf-8")
    bad = runner.invoke(
        app, ["registry", "assemble", str(fk), str(broken), "--out", str(tmp_path / "r.json")]
    )
    _one_error_line(bad, str(broken))
    assert not (tmp_path / "r.json").exists()


# ---------------------------------------------------------------------- start-up errors


def _serve(kind: str, config: Path) -> object:
    return runner.invoke(app, [kind, "serve", "--config", str(config)])


@pytest.mark.usefixtures("no_server")
def test_coordinator_with_a_wrong_registry_fingerprint_is_one_line(
    deployment: LocalDeployment,
) -> None:
    config = _variant(
        deployment.coordinator_config,
        "pinned.toml",
        ("[coordinator]\n", '[coordinator]\nregistry_fingerprint = "' + "0" * 64 + '"\n'),
    )
    actual = Registry.load(deployment.registry).fingerprint()
    _one_error_line(_serve("coordinator", config), "fingerprint", actual, "0" * 64)


@pytest.mark.usefixtures("no_server")
def test_coordinator_with_a_missing_or_invalid_certificate_is_one_line(
    deployment: LocalDeployment,
) -> None:
    missing = _variant(
        deployment.coordinator_config, "nocert.toml", ("coordinator.pem", "missing.pem")
    )
    _one_error_line(_serve("coordinator", missing), "missing.pem", "no such file")
    tls = deployment.coordinator_config.parent / "tls"
    (tls / "garbage.pem").write_text("not a certificate\n", encoding="utf-8")
    garbage = _variant(
        deployment.coordinator_config, "badcert.toml", ("coordinator.pem", "garbage.pem")
    )
    _one_error_line(_serve("coordinator", garbage), "garbage.pem", "not a usable certificate")
    # a key that is not the certificate's (the node's key with the coordinator's cert)
    node_key = deployment.node_configs[0].parent / "tls" / "node.key"
    mismatched = _variant(
        deployment.coordinator_config, "otherkey.toml", ("tls/coordinator.key", str(node_key))
    )
    _one_error_line(_serve("coordinator", mismatched), "not a usable certificate")


@pytest.mark.usefixtures("no_server")
def test_coordinator_with_an_unreachable_database_is_one_line(
    deployment: LocalDeployment,
) -> None:
    # nothing listens on port 1: the connection is refused at once
    url = "postgresql+psycopg://tyst:s3cret-pw@127.0.0.1:1/tyst"
    config = _variant(deployment.coordinator_config, "pg.toml", ("sqlite:///coordinator.db", url))
    line = _one_error_line(_serve("coordinator", config), "database", "127.0.0.1:1")
    assert "s3cret-pw" not in line
    unwritable = _variant(
        deployment.coordinator_config,
        "nodir.toml",
        ("sqlite:///coordinator.db", "sqlite:///no/such/dir/coordinator.db"),
    )
    _one_error_line(_serve("coordinator", unwritable), "database")


@pytest.mark.usefixtures("no_server")
def test_node_with_a_wrong_fingerprint_passphrase_or_certificate_is_one_line(
    deployment: LocalDeployment,
) -> None:
    node = deployment.node_configs[0]
    pinned = _variant(node, "pinned.toml", extra='registry_fingerprint = "' + "0" * 64 + '"\n')
    actual = Registry.load(deployment.registry).fingerprint()
    _one_error_line(_serve("node", pinned), "fingerprint", actual, "0" * 64)
    # encrypted keys with a wrong passphrase, and a passphrase file that is missing
    keys = load(node.parent / "keys", None)
    keys.save(node.parent / "enckeys", b"the right passphrase")
    (node.parent / "wrong.pass").write_text("not it\n", encoding="utf-8")
    encrypted = 'keys = "enckeys"\npassphrase_file = '
    wrong = _variant(node, "wrongpass.toml", ('keys = "keys"', encrypted + '"wrong.pass"'))
    _one_error_line(_serve("node", wrong), "wrong passphrase")
    nopass = _variant(node, "nopass.toml", ('keys = "keys"', encrypted + '"none.pass"'))
    _one_error_line(_serve("node", nopass), "none.pass")
    # no certificate at all, and a certificate file that is not PEM
    (node.parent / "notls").mkdir(exist_ok=True)
    notls = _variant(node, "notls.toml", ('tls = "tls"', 'tls = "notls"'))
    _one_error_line(_serve("node", notls), "node.pem", "no such file")
    bad = node.parent / "badtls"
    bad.mkdir(exist_ok=True)
    for name in ("ca.pem", "node.key"):
        (bad / name).write_bytes((node.parent / "tls" / name).read_bytes())
    (bad / "node.pem").write_text("garbage\n", encoding="utf-8")
    badtls = _variant(node, "badtls.toml", ('tls = "tls"', 'tls = "badtls"'))
    _one_error_line(_serve("node", badtls), "not a usable certificate")


def test_the_real_entry_point_prints_no_traceback(deployment: LocalDeployment) -> None:
    """The same refusal through ``python -m tyst`` (a subprocess): exit 2, one stderr line."""
    config = _variant(
        deployment.coordinator_config,
        "pinned-sub.toml",
        ("[coordinator]\n", '[coordinator]\nregistry_fingerprint = "' + "0" * 64 + '"\n'),
    )
    done = subprocess.run(
        [sys.executable, "-m", "tyst", "coordinator", "serve", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "fingerprint" in done.stderr
