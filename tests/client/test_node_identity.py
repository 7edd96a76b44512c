"""Finding 9 of issue 11: the owner's client pins each node's party identity.

A fake node-0 API presenting the coordinator's certificate (valid for the same
host names, from the same CA) used to receive an owner's whole node-0 share
stream. Now node ``i``'s client requires the certificate to carry
``party-{i}.tyst`` from the deployment CA and refuses anything else during the
TLS handshake, before a byte of the request is sent. Real sockets on
127.0.0.1, a real deployment's files (``tyst.jobs.deploy``), the owner's
client as configured.
"""

from __future__ import annotations

import csv
import dataclasses
import socket
import ssl
import threading
import time
from pathlib import Path

import pytest

from tests.examples import ISSUE_PLAN
from tests.jobs.test_run_cli import SJUKPENNING
from tyst.api.http import ApiError, NodeClient, node_identity
from tyst.client.config import ClientConfigError, load_client_config
from tyst.client.owner import UploadError, upload_table
from tyst.client.session import Client
from tyst.jobs.deploy import LocalDeployment, write_local_deployment
from tyst.net.certs import party_dns_name
from tyst.plan import parse_plan
from tyst.planner.jobspec import job_spec

JOB = "job-" + "0123456789abcdef" * 2


class FakeNode:
    """An HTTPS server on 127.0.0.1 presenting ``cert``; counts the bytes it is sent.

    ``answer``: reply ``200 {}`` to the first request head and close; else read
    until the client closes (or 15 s pass).
    """

    def __init__(self, cert: Path, key: Path, *, answer: bool) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.answer = answer
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port = int(self.listener.getsockname()[1])
        self.url = f"https://127.0.0.1:{self.port}"
        self.received = 0
        self.handshakes = 0
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                raw, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._one, args=(raw,), daemon=True).start()

    def _one(self, raw: socket.socket) -> None:
        raw.settimeout(15.0)
        try:
            with self.context.wrap_socket(raw, server_side=True) as tls:
                self.handshakes += 1
                head = b""
                while True:
                    data = tls.recv(65536)
                    if not data:
                        return
                    self.received += len(data)
                    head += data[:4096]
                    if self.answer and b"\r\n\r\n" in head:
                        tls.sendall(
                            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                            b"content-length: 2\r\nconnection: close\r\n\r\n{}"
                        )
                        return
        except OSError:
            pass
        finally:
            raw.close()

    def close(self) -> None:
        self._stop.set()
        self.listener.close()
        self._thread.join(5)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> LocalDeployment:
    return write_local_deployment(tmp_path_factory.mktemp("deploy"), ["fk", "malmo"])


@pytest.fixture(scope="module")
def sjukpenning(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "sjukpenning.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(SJUKPENNING)
    return path


def node_tls(d: LocalDeployment, party: int) -> tuple[Path, Path]:
    tls = d.node_configs[party].parent / "tls"
    return tls / "node.pem", tls / "node.key"


def coordinator_tls(d: LocalDeployment) -> tuple[Path, Path]:
    tls = d.coordinator_config.parent / "tls"
    return tls / "coordinator.pem", tls / "coordinator.key"


def owner_client(d: LocalDeployment, node_urls: tuple[str, str, str]) -> Client:
    """The owner fk's client from its client.toml, with the given node URLs."""
    config = load_client_config(d.client_configs["fk"])
    return Client.from_config(dataclasses.replace(config, node_urls=node_urls))


@pytest.mark.parametrize("impostor", ["coordinator", "node 1"])
def test_an_impostor_in_node_0s_place_gets_no_share_byte(
    deployment: LocalDeployment, sjukpenning: Path, impostor: str
) -> None:
    """Node 0's URL leads to a server with the coordinator's (or node 1's)
    certificate, valid for 127.0.0.1 and from the deployment CA; nodes 1 and 2
    are servers with their own certificates. The owner's upload is refused at
    node 0 with one line, and node 0's impostor receives not one byte."""
    cert, key = (
        coordinator_tls(deployment) if impostor == "coordinator" else node_tls(deployment, 1)
    )
    fake = FakeNode(cert, key, answer=True)
    sinks = [FakeNode(*node_tls(deployment, i), answer=False) for i in (1, 2)]
    spec = job_spec(parse_plan(ISSUE_PLAN))
    try:
        with (
            owner_client(deployment, (fake.url, sinks[0].url, sinks[1].url)) as client,
            pytest.raises(UploadError) as caught,
        ):
            upload_table(spec, JOB, "sjukpenning", sjukpenning, client.keys, client.nodes)
        message = str(caught.value)
        assert "\n" not in message
        assert message.startswith(f"node 0 {fake.url}: PUT /jobs/{JOB}/tables/sjukpenning:")
        assert "refused, nothing sent" in message
        assert "certificate is not node 0's (party-0.tyst from the deployment CA)" in message
        time.sleep(0.2)
        assert fake.connections >= 1  # it was dialled ...
        assert fake.handshakes == 0  # ... but the client aborted the TLS handshake
        assert fake.received == 0
    finally:
        fake.close()
        for s in sinks:
            s.close()


def test_the_right_node_certificate_passes(deployment: LocalDeployment) -> None:
    """The same fake server with node 0's own certificate is accepted as node 0
    (at an IP address its certificate also names), and as nothing else."""
    fake = FakeNode(*node_tls(deployment, 0), answer=True)
    try:
        with owner_client(deployment, (fake.url, fake.url, fake.url)) as client:
            assert client.nodes[0].health() == {}
            assert fake.received > 0
            with pytest.raises(ApiError, match=r"^node 1 .*certificate is not node 1's"):
                client.nodes[1].health()
    finally:
        fake.close()


def test_a_node_client_needs_https_and_the_deployment_ca(
    deployment: LocalDeployment, tmp_path: Path
) -> None:
    with pytest.raises(ApiError, match="no deployment CA is configured"):
        NodeClient("https://127.0.0.1:1", 0).health()
    with pytest.raises(ApiError, match="not https://"):
        NodeClient("http://127.0.0.1:1", 0, verify=deployment.ca).health()
    text = deployment.client_configs["fk"].read_text(encoding="utf-8")
    plain = tmp_path / "client.toml"
    plain.write_text(text.replace("https://127.0.0.1", "http://127.0.0.1"), encoding="utf-8")
    with pytest.raises(ClientConfigError, match=r"node_urls: 'http://127\.0\.0\.1:.*not https://"):
        load_client_config(plain)


def test_the_pinned_name_is_the_mesh_identity() -> None:
    assert [node_identity(i) for i in range(3)] == [party_dns_name(i) for i in range(3)]
    with pytest.raises(ValueError, match="must be 0, 1 or 2"):
        node_identity(3)
