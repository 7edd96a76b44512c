"""``tyst node check`` on a local deployment: all ok when the three nodes check together;
one line per failing check, naming organisation and address, and exit 1 when a peer is
down, presents another node's identity, or the pinned registry fingerprint is wrong."""

from __future__ import annotations

import contextlib
import socket
import ssl
import subprocess
import sys
import threading
from pathlib import Path

from tyst.jobs.deploy import LocalDeployment, LocalServices, write_local_deployment
from tyst.net.certs import NodeCredentials
from tyst.net.tls import make_tls_contexts
from tyst.node.config import load_node_config


def _check(config: Path, wait: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tyst", "node", "check", "--config", str(config),
         "--wait", str(wait)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def _lines(out: str) -> dict[str, str]:
    """The report's lines by organisation/what (``peer nod-b``, ``registry``, …)."""
    lines = {}
    for line in out.splitlines():
        status, what, org, *_ = line.split()
        lines[f"{what} {org}" if what == "peer" else what] = line
        assert status in ("ok", "FAIL"), line
    return lines


def _mesh(deployment: LocalDeployment, party: int) -> str:
    host, port = load_node_config(deployment.node_configs[party]).mesh[party]
    return f"{host}:{port}"


def test_node_check(tmp_path: Path) -> None:
    deployment = write_local_deployment(tmp_path / "dep", ["fk"])
    configs = deployment.node_configs
    with LocalServices(deployment):
        # --- the three nodes check together: every line ok, identities both ways
        running = [_check(c, wait=20) for c in configs]
        outputs = [p.communicate(timeout=60) for p in running]
        for process, (out, err) in zip(running, outputs, strict=True):
            assert process.returncode == 0, out + err
            lines = _lines(out)
            assert set(lines) >= {"registry", "keys", "tls", "coordinator", "mesh"}
            assert all(line.startswith("ok") for line in lines.values()), out
        lines = _lines(outputs[0][0])
        for party, org in ((1, "nod-b"), (2, "nod-c")):
            line = lines[f"peer {org}"]
            assert _mesh(deployment, party) in line
            assert f"presents party-{party}.tyst from the pinned CA" in line
            assert "it accepted this node's certificate" in line
        assert deployment.coordinator_url in lines["coordinator"]

        # --- node 0 alone, with a wrongly pinned registry: peers down, registry FAIL
        text = configs[0].read_text(encoding="utf-8")
        pinned = text.split('registry_fingerprint = "')[1].split('"')[0]
        bad = configs[0].parent / "bad.toml"
        bad.write_text(text.replace(pinned, "0" * 64), encoding="utf-8")
        alone = _check(bad, wait=2)
        out, err = alone.communicate(timeout=60)
        assert alone.returncode == 1, out + err
        lines = _lines(out)
        assert lines["registry"].startswith("FAIL")
        assert f"fingerprint {pinned} differs from the pinned {'0' * 64}" in lines["registry"]
        for party, org in ((1, "nod-b"), (2, "nod-c")):
            line = lines[f"peer {org}"]
            assert line.startswith("FAIL"), line
            assert _mesh(deployment, party) in line
            assert "not reachable" in line
        for ok in ("keys", "tls", "coordinator", "mesh"):
            assert lines[ok].startswith("ok"), lines[ok]

        # --- node 1's mesh address answered with node 2's certificate
        creds = NodeCredentials.load(configs[2].parent / "tls", 2)
        context = make_tls_contexts(creds).server
        host, port = load_node_config(configs[1]).mesh[1]
        impostor = socket.create_server((host, port))
        stop = threading.Event()

        def serve() -> None:
            impostor.settimeout(0.2)
            while not stop.is_set():
                try:
                    conn, _ = impostor.accept()
                except TimeoutError:
                    continue
                with contextlib.suppress(OSError, ssl.SSLError):
                    context.wrap_socket(conn, server_side=True).close()
                conn.close()

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            wrong = _check(configs[0], wait=2)
            out, err = wrong.communicate(timeout=60)
        finally:
            stop.set()
            thread.join(5)
            impostor.close()
        assert wrong.returncode == 1, out + err
        lines = _lines(out)
        line = lines["peer nod-b"]
        assert line.startswith("FAIL"), line
        assert f"{host}:{port}" in line
        assert "does not present party-1.tyst from the pinned CA" in line
        assert "not reachable" in lines["peer nod-c"]
        assert lines["registry"].startswith("ok")


def test_node_check_of_a_bad_config_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "node.toml"
    bad.write_text("[node]\norg = 1\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "tyst", "node", "check", "--config", str(bad)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert str(bad) in done.stderr
