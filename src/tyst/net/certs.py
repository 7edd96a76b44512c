"""Throwaway deployment PKI for the mutual-TLS transport.

Contract
--------
One *deployment CA* is created per deployment (or per test run); it signs one
certificate per compute node. The TLS transport trusts only that CA, and the
identity of a node is the DNS subject-alternative name ``party-{i}.tyst``
(:func:`party_dns_name`): every node certificate carries exactly one such name,
plus the IP addresses / host names given in ``hosts``. A certificate is thus
bound to one party index, and the transport refuses a valid certificate of
party 2 presented in the slot of party 1.

Keys are ECDSA P-256 (default) or Ed25519; both are accepted by OpenSSL for
TLS 1.3. Private keys are unencrypted PKCS#8 PEM (the PKI is throwaway);
:func:`write_pem` writes them with mode 0600.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KeyType = Literal["ec", "ed25519"]
PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey

IDENTITY_DOMAIN = "tyst"
_PARTY_NAME = re.compile(r"^party-(\d{1,3})\.tyst$")

CA_CERT_FILE = "ca.pem"
NODE_CERT_FILE = "node.pem"
NODE_KEY_FILE = "node.key"


def party_dns_name(party: int) -> str:
    """The DNS SAN that identifies ``party`` (``party-{party}.tyst``)."""
    if party < 0:
        raise ValueError(f"party index must be >= 0, got {party}")
    return f"party-{party}.{IDENTITY_DOMAIN}"


def party_from_dns_name(name: str) -> int | None:
    """Inverse of :func:`party_dns_name`; ``None`` if ``name`` is not a party identity."""
    m = _PARTY_NAME.match(name)
    return int(m.group(1)) if m else None


def could_match_party_identity(name: str) -> bool:
    """Whether TLS name matching could take ``name`` for a party identity.

    Host names match case-insensitively and may end in a dot, and a wildcard
    stands for any label: ``PARTY-0.TYST``, ``party-0.tyst.`` and ``*.tyst``
    all count. Such names are refused in every certificate but a node's own.
    """
    n = name.lower().rstrip(".")
    return _PARTY_NAME.match(n) is not None or (n.startswith("*") and n.endswith(".tyst"))


@dataclass(frozen=True)
class DeploymentCA:
    """A CA certificate and its private key, both PEM-encoded."""

    cert_pem: bytes
    key_pem: bytes

    @property
    def certificate(self) -> x509.Certificate:
        """The parsed CA certificate."""
        return x509.load_pem_x509_certificate(self.cert_pem)

    def private_key(self) -> PrivateKey:
        """The parsed CA private key."""
        key = serialization.load_pem_private_key(self.key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
            raise TypeError(f"unsupported CA key type {type(key).__name__}")
        return key


@dataclass(frozen=True)
class NodeCredentials:
    """What one compute node needs for mutual TLS: trusted CA, own cert, own key (PEM)."""

    party: int
    ca_cert_pem: bytes
    cert_pem: bytes
    key_pem: bytes

    def write(self, directory: str | os.PathLike[str]) -> tuple[Path, Path, Path]:
        """Write ``ca.pem``, ``node.pem`` and ``node.key`` (0600) into ``directory``.

        Creates ``directory`` (mode 0700) if needed; returns the three paths
        in that order.
        """
        d = Path(directory)
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
        ca, cert, key = d / CA_CERT_FILE, d / NODE_CERT_FILE, d / NODE_KEY_FILE
        write_pem(ca, self.ca_cert_pem)
        write_pem(cert, self.cert_pem)
        write_pem(key, self.key_pem, private=True)
        return ca, cert, key

    @classmethod
    def load(cls, directory: str | os.PathLike[str], party: int) -> NodeCredentials:
        """Read the files written by :meth:`write`; checks the certificate is ``party``'s.

        Raises ``ValueError`` if the certificate's identity is not ``party``.
        """
        d = Path(directory)
        creds = cls(
            party=party,
            ca_cert_pem=(d / CA_CERT_FILE).read_bytes(),
            cert_pem=(d / NODE_CERT_FILE).read_bytes(),
            key_pem=(d / NODE_KEY_FILE).read_bytes(),
        )
        found = certificate_party(x509.load_pem_x509_certificate(creds.cert_pem))
        if found != party:
            raise ValueError(f"{d / NODE_CERT_FILE} identifies party {found}, not {party}")
        return creds


def _new_key(key_type: KeyType) -> PrivateKey:
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(f"unknown key type {key_type!r}")


def _sign_hash(key: PrivateKey) -> hashes.SHA256 | None:
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


def _key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _validity(valid_days: int) -> tuple[_dt.datetime, _dt.datetime]:
    if valid_days <= 0:
        raise ValueError("valid_days must be positive")
    now = _dt.datetime.now(_dt.UTC)
    return now - _dt.timedelta(minutes=5), now + _dt.timedelta(days=valid_days)


def make_deployment_ca(
    name: str = "tyst deployment CA", *, valid_days: int = 30, key_type: KeyType = "ec"
) -> DeploymentCA:
    """Create a fresh self-signed CA (``path_length=0``: it can sign only node certificates)."""
    key = _new_key(key_type)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tyst"),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )
    not_before, not_after = _validity(valid_days)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .sign(key, _sign_hash(key))
    )
    return DeploymentCA(
        cert_pem=cert.public_bytes(serialization.Encoding.PEM), key_pem=_key_pem(key)
    )


def _san_entry(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        if could_match_party_identity(host):
            raise ValueError(f"host {host!r} looks like a party identity; not allowed") from None
        return x509.DNSName(host)


def issue_node_certificate(
    ca: DeploymentCA,
    party: int,
    hosts: tuple[str, ...] | list[str] = ("127.0.0.1", "localhost"),
    *,
    valid_days: int = 30,
    key_type: KeyType = "ec",
) -> NodeCredentials:
    """Issue a certificate for compute node ``party``, signed by ``ca``.

    The certificate's SANs are ``party_dns_name(party)`` plus ``hosts`` (IP
    addresses become IP SANs, other names DNS SANs); it is valid for both TLS
    server and client authentication. Raises ``ValueError`` for a negative
    party or a host that itself looks like a party identity.
    """
    cert_pem, key_pem = _issue(ca, party_dns_name(party), hosts, valid_days, key_type)
    return NodeCredentials(
        party=party,
        ca_cert_pem=ca.cert_pem,
        cert_pem=cert_pem,
        key_pem=key_pem,
    )


def issue_server_certificate(
    ca: DeploymentCA,
    name: str,
    hosts: tuple[str, ...] | list[str] = ("127.0.0.1", "localhost"),
    *,
    valid_days: int = 30,
    key_type: KeyType = "ec",
) -> tuple[bytes, bytes]:
    """A TLS server certificate (PEM cert, PEM key) for a service that is not a node.

    Used for the coordinator: clients and nodes verify it against the deployment
    CA. ``name`` must not be (or match like) a party identity, so the
    certificate can never join the nodes' mesh nor pass as a node's API
    (clients pin ``party-{i}.tyst``, see :class:`tyst.api.http.NodeClient`).
    Raises ``ValueError`` otherwise.
    """
    if could_match_party_identity(name):
        raise ValueError(f"{name!r} is a party identity")
    return _issue(ca, name, hosts, valid_days, key_type)


def _issue(
    ca: DeploymentCA,
    identity: str,
    hosts: tuple[str, ...] | list[str],
    valid_days: int,
    key_type: KeyType,
) -> tuple[bytes, bytes]:
    """Sign a leaf certificate with SANs ``identity`` + ``hosts``; returns (cert, key) PEM."""
    key = _new_key(key_type)
    ca_key = ca.private_key()
    ca_cert = ca.certificate
    not_before, not_after = _validity(valid_days)
    sans: list[x509.GeneralName] = [x509.DNSName(identity)]
    sans += [_san_entry(h) for h in hosts]
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tyst"),
                    x509.NameAttribute(NameOID.COMMON_NAME, identity),
                ]
            )
        )
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .sign(ca_key, _sign_hash(ca_key))
    )
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def make_deployment(
    n_parties: int = 3,
    hosts: tuple[str, ...] | list[str] = ("127.0.0.1", "localhost"),
    *,
    valid_days: int = 30,
    key_type: KeyType = "ec",
) -> tuple[DeploymentCA, list[NodeCredentials]]:
    """A fresh CA and the credentials of nodes ``0 .. n_parties-1`` (all with the same hosts)."""
    ca = make_deployment_ca(valid_days=valid_days, key_type=key_type)
    nodes = [
        issue_node_certificate(ca, i, hosts, valid_days=valid_days, key_type=key_type)
        for i in range(n_parties)
    ]
    return ca, nodes


def certificate_party(cert: x509.Certificate) -> int | None:
    """The party index a certificate identifies, or ``None`` if it has not exactly one."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    found = {party_from_dns_name(n) for n in san.get_values_for_type(x509.DNSName)}
    found.discard(None)
    if len(found) != 1:
        return None
    (party,) = found
    return party


def write_pem(path: str | os.PathLike[str], data: bytes, *, private: bool = False) -> None:
    """Write PEM ``data`` to ``path``; with ``private=True`` the file is mode 0600.

    The mode is applied at creation and re-applied if the file already existed,
    so a key is never readable by others, not even briefly.
    """
    mode = 0o600 if private else 0o644
    fd = os.open(os.fspath(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            fd = -1
            f.write(data)
    finally:
        if fd >= 0:
            os.close(fd)
