"""The throwaway deployment PKI."""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from tyst.net.certs import (
    NodeCredentials,
    certificate_party,
    issue_node_certificate,
    issue_server_certificate,
    make_deployment,
    make_deployment_ca,
    party_dns_name,
    party_from_dns_name,
    write_pem,
)
from tyst.net.tls import make_tls_contexts


def test_identity_names_round_trip() -> None:
    assert party_dns_name(2) == "party-2.tyst"
    assert party_from_dns_name("party-2.tyst") == 2
    assert party_from_dns_name("party-2.tyst.evil") is None
    assert party_from_dns_name("localhost") is None


@pytest.mark.parametrize("key_type", ["ec", "ed25519"])
def test_node_certificate_contents(key_type: str) -> None:
    ca, nodes = make_deployment(key_type=key_type)  # type: ignore[arg-type]
    assert [n.party for n in nodes] == [0, 1, 2]
    ca_cert = ca.certificate
    for node in nodes:
        assert node.ca_cert_pem == ca.cert_pem
        cert = x509.load_pem_x509_certificate(node.cert_pem)
        assert cert.issuer == ca_cert.subject
        cert.verify_directly_issued_by(ca_cert)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.DNSName) == [party_dns_name(node.party), "localhost"]
        assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
        assert certificate_party(cert) == node.party
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert ExtendedKeyUsageOID.SERVER_AUTH in eku
        assert ExtendedKeyUsageOID.CLIENT_AUTH in eku
        basic = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        assert not basic.ca
        make_tls_contexts(node)  # OpenSSL accepts the key and certificate


def test_custom_hosts() -> None:
    ca = make_deployment_ca()
    node = issue_node_certificate(ca, 1, ["10.0.0.5", "node1.example.org", "::1"])
    cert = x509.load_pem_x509_certificate(node.cert_pem)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["party-1.tyst", "node1.example.org"]
    assert {str(a) for a in san.get_values_for_type(x509.IPAddress)} == {"10.0.0.5", "::1"}


def test_host_may_not_be_a_party_identity() -> None:
    with pytest.raises(ValueError, match="party identity"):
        issue_node_certificate(make_deployment_ca(), 0, ["party-1.tyst"])


@pytest.mark.parametrize("name", ["party-0.tyst", "PARTY-0.TYST", "party-1.tyst.", "*.tyst"])
def test_no_other_certificate_can_match_a_node_identity(name: str) -> None:
    """TLS matches names case-insensitively, with a trailing dot, and by
    wildcard: none of these may enter the coordinator's (or another node's)
    certificate, so only node i's certificate is valid for party-i.tyst
    (issue 11, finding 9)."""
    ca = make_deployment_ca()
    with pytest.raises(ValueError, match="party identity"):
        issue_server_certificate(ca, name)
    with pytest.raises(ValueError, match="party identity"):
        issue_server_certificate(ca, "coordinator.example", [name])
    with pytest.raises(ValueError, match="party identity"):
        issue_node_certificate(ca, 2, [name])
    cert, _ = issue_server_certificate(ca, "coordinator.tyst")
    assert certificate_party(x509.load_pem_x509_certificate(cert)) is None


def test_write_and_load(tmp_path: Path) -> None:
    _, nodes = make_deployment()
    ca_file, cert_file, key_file = nodes[1].write(tmp_path / "node1")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "node1").stat().st_mode) == 0o700
    assert ca_file.read_bytes() == nodes[1].ca_cert_pem
    assert cert_file.read_bytes() == nodes[1].cert_pem
    assert NodeCredentials.load(tmp_path / "node1", 1) == nodes[1]
    with pytest.raises(ValueError, match="identifies party 1, not 2"):
        NodeCredentials.load(tmp_path / "node1", 2)


def test_write_pem_tightens_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    path.write_bytes(b"old")
    path.chmod(0o644)
    write_pem(path, b"secret", private=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes() == b"secret"
