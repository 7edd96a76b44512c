"""An organisation's keys, their files, and the deployment's public registry.

Contract
--------
Every participant of a deployment — each public body (data owner and/or result
recipient), each compute node and the coordinator — is an *organisation* with an
``org_id`` and three key pairs (:class:`OrgKeys`):

- an **Ed25519 signing key** (approvals, audit events, deletion receipts; see
  :mod:`tyst.service.signing`);
- an **X25519** and an **ML-KEM-768** (FIPS 203) key pair, used together as one
  hybrid encryption key by :mod:`tyst.service.sealing`.

Its public half is :class:`OrgPublic`; the deployment's :class:`Registry` is the
list of every organisation's public half, distributed to all parties out of band
(its :meth:`Registry.fingerprint` can be compared by phone or letter). Whoever can
write to the registry decides whose signatures count, so each party must obtain
it from a trusted source and pin its fingerprint.

Organisation ids are 1–64 characters of ``[A-Za-z0-9_.-]`` starting with a
letter, digit or underscore (a superset of the plan's party ids, so that a
party id is usable as an organisation id unchanged).

Key directory (:func:`save` / :func:`load`)::

    DIR/public.json        OrgPublic as JSON (mode 0644)
    DIR/sign.key.pem       Ed25519 private key, PKCS#8 PEM (mode 0600)
    DIR/x25519.key.pem     X25519 private key, PKCS#8 PEM (mode 0600)
    DIR/mlkem768.key.pem   ML-KEM-768 private key (its 64-byte seed), PKCS#8 PEM (mode 0600)

With a passphrase, the PEM files are ``ENCRYPTED PRIVATE KEY`` (PKCS#8 PBES2:
PBKDF2-HMAC-SHA256, AES-256-CBC — what ``cryptography``'s
``BestAvailableEncryption`` produces, readable by ``openssl pkey``). Security
note: that KDF uses only 2048 PBKDF2 iterations, so the passphrase must carry
the entropy itself (a generated passphrase of ≥ 128 bits, e.g. 24 random base32
characters), not a memorable password. Files re-encrypted by an operator with
stronger parameters (``openssl pkcs8 -topk8 -v2 aes-256-cbc -iter 1000000``)
are still read by :func:`load`.

Security notes
--------------
- :func:`load` refuses private key files readable by group or others (like
  OpenSSH), and refuses a directory whose private keys do not match its
  ``public.json`` (mixed-up files).
- Private key objects are never printed by ``repr``.
- :func:`canonical_json` is the one canonical encoding used for everything that
  is hashed or signed in this package: sorted keys, no whitespace, UTF-8, and
  only ``str``/``int``/``bool``/``None``/lists/dicts (no floats, whose textual
  form is not canonical).

Errors
------
:class:`KeyFileError` (files: missing, wrong passphrase, malformed, permissions)
and :class:`RegistryError` / :class:`UnknownOrganisation` (registry). ``str()``
of each is one line naming the file or the organisation.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import stat
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PrivateKey, MLKEM768PublicKey
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

ORG_PUBLIC_FORMAT = "tyst-org-public/1"
"""The ``format`` member of an :class:`OrgPublic` JSON document (covered by its fingerprint)."""

REGISTRY_FORMAT = "tyst-registry/1"
"""The ``format`` member of a :class:`Registry` JSON document."""

PUBLIC_FILE = "public.json"
SIGN_KEY_FILE = "sign.key.pem"
X25519_KEY_FILE = "x25519.key.pem"
MLKEM_KEY_FILE = "mlkem768.key.pem"
PRIVATE_FILES = (SIGN_KEY_FILE, X25519_KEY_FILE, MLKEM_KEY_FILE)
"""The private key files of a key directory, in the order they are written."""

ED25519_PUBLIC_SIZE = 32
X25519_PUBLIC_SIZE = 32
MLKEM768_PUBLIC_SIZE = 1184

_ORG_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}", re.ASCII)


class KeyFileError(Exception):
    """A key directory or key file that cannot be used; ``str()`` is one line naming the file."""


class RegistryError(Exception):
    """A registry that cannot be used (malformed, duplicate organisation); one line."""


class UnknownOrganisation(RegistryError, LookupError):
    """An ``org_id`` that is not in the registry."""


# ---------------------------------------------------------------------------
# Encoding helpers shared by the service modules


def canonical_json(value: Any) -> bytes:
    """The canonical UTF-8 JSON encoding of ``value``: what this package hashes and signs.

    Inputs: ``value`` built from ``dict`` (``str`` keys), ``list``/``tuple``,
    ``str``, ``int``, ``bool`` and ``None``.
    Output: sorted keys, separators ``,`` and ``:`` without spaces, non-ASCII
    characters as UTF-8 (not ``\\u`` escapes).
    Errors: :class:`TypeError` for floats, bytes, non-string keys or any other
    type; :class:`ValueError` for strings that are not valid Unicode (lone
    surrogates).
    Security: two values that differ in any way encode differently, so a hash of
    the encoding commits to the value.
    """
    _check_canonical(value)
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("canonical JSON: a string is not valid Unicode") from exc


def _check_canonical(value: Any) -> None:
    if value is None or isinstance(value, (str, bool, int)):
        return
    if isinstance(value, (list, tuple)):
        for item in value:
            _check_canonical(item)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"canonical JSON: key {key!r} is not a string")
            _check_canonical(item)
        return
    raise TypeError(f"canonical JSON: {type(value).__name__} values are not allowed")


def encode_b64(data: bytes) -> str:
    """Standard base64 (RFC 4648 §4, with padding) of ``data``, as ``str``."""
    return base64.b64encode(data).decode("ascii")


def decode_b64(text: str, *, what: str = "value") -> bytes:
    """Strictly decode standard base64 (with padding; no whitespace or other characters).

    Errors: :class:`ValueError` naming ``what`` if ``text`` is not a string or not
    canonical base64 (so that one byte string has exactly one accepted spelling).
    """
    if not isinstance(text, str):
        raise ValueError(f"{what} must be a base64 string")
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError(f"{what} is not valid base64") from exc
    if encode_b64(data) != text:
        raise ValueError(f"{what} is not canonical base64")
    return data


def check_org_id(org_id: object) -> str:
    """Return ``org_id`` if it is a valid organisation id, else raise :class:`ValueError`."""
    if not isinstance(org_id, str) or not _ORG_ID.fullmatch(org_id):
        raise ValueError(
            f"invalid organisation id {org_id!r}: expected 1-64 characters of "
            "[A-Za-z0-9_.-] starting with a letter, digit or underscore"
        )
    return org_id


# ---------------------------------------------------------------------------
# Public half


@dataclass(frozen=True)
class OrgPublic:
    """The public half of an organisation's keys: what the registry lists.

    Fields: ``org_id``; ``sign_public`` (raw 32-byte Ed25519 public key);
    ``x25519_public`` (raw 32 bytes); ``mlkem_public`` (raw 1184-byte ML-KEM-768
    encapsulation key). In JSON the keys are base64 (see :meth:`to_dict`).
    Errors: :class:`ValueError` on construction if the id is invalid, a key has
    the wrong length, or the ML-KEM key is not a valid encapsulation key.
    """

    org_id: str
    sign_public: bytes = field(repr=False)
    x25519_public: bytes = field(repr=False)
    mlkem_public: bytes = field(repr=False)

    def __post_init__(self) -> None:
        check_org_id(self.org_id)
        for name, size in (
            ("sign_public", ED25519_PUBLIC_SIZE),
            ("x25519_public", X25519_PUBLIC_SIZE),
            ("mlkem_public", MLKEM768_PUBLIC_SIZE),
        ):
            value = getattr(self, name)
            if not isinstance(value, bytes) or len(value) != size:
                raise ValueError(f"organisation {self.org_id!r}: {name} must be {size} bytes")
        try:
            Ed25519PublicKey.from_public_bytes(self.sign_public)
            MLKEM768PublicKey.from_public_bytes(self.mlkem_public)
        except ValueError as exc:
            raise ValueError(f"organisation {self.org_id!r}: invalid public key") from exc

    def sign_key(self) -> Ed25519PublicKey:
        """The Ed25519 verification key."""
        return Ed25519PublicKey.from_public_bytes(self.sign_public)

    def x25519_key(self) -> X25519PublicKey:
        """The X25519 public key."""
        return X25519PublicKey.from_public_bytes(self.x25519_public)

    def mlkem_key(self) -> MLKEM768PublicKey:
        """The ML-KEM-768 encapsulation key."""
        return MLKEM768PublicKey.from_public_bytes(self.mlkem_public)

    def to_dict(self) -> dict[str, str]:
        """JSON-able form: ``format``, ``org_id`` and the three keys in base64."""
        return {
            "format": ORG_PUBLIC_FORMAT,
            "org_id": self.org_id,
            "sign_public": encode_b64(self.sign_public),
            "x25519_public": encode_b64(self.x25519_public),
            "mlkem_public": encode_b64(self.mlkem_public),
        }

    @classmethod
    def from_dict(cls, data: object) -> OrgPublic:
        """Inverse of :meth:`to_dict`; exactly those members are accepted.

        Errors: :class:`ValueError` (one line) on a wrong format tag, missing or
        extra members, bad base64 or an invalid key.
        """
        if not isinstance(data, dict):
            raise ValueError("organisation public key: expected a JSON object")
        expected = {"format", "org_id", "sign_public", "x25519_public", "mlkem_public"}
        if set(data) != expected:
            extra = sorted(set(data) - expected)
            missing = sorted(expected - set(data))
            raise ValueError(
                f"organisation public key: missing members {missing}, unexpected {extra}"
            )
        if data["format"] != ORG_PUBLIC_FORMAT:
            raise ValueError(
                f"organisation public key: format must be {ORG_PUBLIC_FORMAT!r}, "
                f"got {data['format']!r}"
            )
        org_id = check_org_id(data["org_id"])
        return cls(
            org_id=org_id,
            sign_public=decode_b64(data["sign_public"], what=f"{org_id}: sign_public"),
            x25519_public=decode_b64(data["x25519_public"], what=f"{org_id}: x25519_public"),
            mlkem_public=decode_b64(data["mlkem_public"], what=f"{org_id}: mlkem_public"),
        )

    def canonical_json(self) -> bytes:
        """:func:`canonical_json` of :meth:`to_dict`."""
        return canonical_json(self.to_dict())

    def fingerprint(self) -> str:
        """SHA-256 (lowercase hex) of :meth:`canonical_json`: compare it out of band."""
        return hashlib.sha256(self.canonical_json()).hexdigest()


# ---------------------------------------------------------------------------
# Private keys


@dataclass(frozen=True)
class OrgKeys:
    """An organisation's private keys (never shown by ``repr``).

    Fields: ``org_id``, ``signing`` (Ed25519), ``x25519`` and ``mlkem`` (ML-KEM-768).
    Create with :func:`generate`, persist with :meth:`save`, read with :func:`load`.
    """

    org_id: str
    signing: Ed25519PrivateKey = field(repr=False)
    x25519: X25519PrivateKey = field(repr=False)
    mlkem: MLKEM768PrivateKey = field(repr=False)

    def __post_init__(self) -> None:
        check_org_id(self.org_id)

    def public(self) -> OrgPublic:
        """The public half, for the registry."""
        return OrgPublic(
            org_id=self.org_id,
            sign_public=self.signing.public_key().public_bytes_raw(),
            x25519_public=self.x25519.public_key().public_bytes_raw(),
            mlkem_public=self.mlkem.public_key().public_bytes_raw(),
        )

    def save(
        self,
        directory: str | os.PathLike[str],
        passphrase: bytes | None,
        *,
        overwrite: bool = False,
    ) -> Path:
        """Write the key directory; see :func:`save`."""
        return save(self, directory, passphrase, overwrite=overwrite)


def generate(org_id: str) -> OrgKeys:
    """Fresh keys for ``org_id`` from the operating system's CSPRNG (via OpenSSL).

    Errors: :class:`ValueError` if ``org_id`` is not a valid organisation id.
    """
    check_org_id(org_id)
    return OrgKeys(
        org_id=org_id,
        signing=Ed25519PrivateKey.generate(),
        x25519=X25519PrivateKey.generate(),
        mlkem=MLKEM768PrivateKey.generate(),
    )


def save(
    keys: OrgKeys,
    directory: str | os.PathLike[str],
    passphrase: bytes | None,
    *,
    overwrite: bool = False,
) -> Path:
    """Write ``keys`` to ``directory`` (created with mode 0700 if missing); return its path.

    Inputs: ``passphrase`` — ``None`` writes unencrypted PKCS#8 (for throwaway
    demo keys only); otherwise a non-empty byte string encrypting every private
    key file (see the module docstring for the KDF and the entropy it needs).
    ``overwrite`` — replace existing key files; by default existing keys are
    never clobbered.
    Output: the directory path. Private key files have mode 0600 from the moment
    they exist (created with ``O_EXCL`` under a temporary name, then renamed);
    ``public.json`` is written last.
    Errors: :class:`KeyFileError` if keys already exist (and not ``overwrite``)
    or the passphrase is empty; :class:`OSError` from the file system.
    """
    path = Path(directory)
    if passphrase is not None and (not isinstance(passphrase, bytes) or not passphrase):
        raise KeyFileError(f"{path}: the passphrase must be a non-empty byte string")
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not overwrite:
        existing = [n for n in (*PRIVATE_FILES, PUBLIC_FILE) if (path / n).exists()]
        if existing:
            raise KeyFileError(f"{path / existing[0]}: already exists (refusing to overwrite keys)")
    encryption: serialization.KeySerializationEncryption = (
        serialization.NoEncryption()
        if passphrase is None
        else serialization.BestAvailableEncryption(passphrase)
    )
    pems = {
        SIGN_KEY_FILE: keys.signing.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        ),
        X25519_KEY_FILE: keys.x25519.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        ),
        MLKEM_KEY_FILE: keys.mlkem.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        ),
    }
    for name in PRIVATE_FILES:
        _write_atomic(path / name, pems[name], 0o600)
    public_text = json.dumps(keys.public().to_dict(), indent=2, sort_keys=True) + "\n"
    _write_atomic(path / PUBLIC_FILE, public_text.encode("utf-8"), 0o644)
    return path


def load(directory: str | os.PathLike[str], passphrase: bytes | None) -> OrgKeys:
    """Read a key directory written by :func:`save`.

    Inputs: ``passphrase`` — the one used when saving, or ``None`` for
    unencrypted keys.
    Output: the :class:`OrgKeys`, with ``org_id`` from ``public.json``.
    Errors: :class:`KeyFileError` (one line naming the file) if a file is
    missing or malformed, the passphrase is wrong, missing or superfluous, a
    private key file is readable by group/others (POSIX), a file holds the
    wrong kind of key, or the private keys do not match ``public.json``.
    """
    path = Path(directory)
    public = load_public(path / PUBLIC_FILE)
    signing = _load_private(path / SIGN_KEY_FILE, passphrase)
    xkey = _load_private(path / X25519_KEY_FILE, passphrase)
    mkey = _load_private(path / MLKEM_KEY_FILE, passphrase)
    if not isinstance(signing, Ed25519PrivateKey):
        raise _wrong_kind(path / SIGN_KEY_FILE, "an Ed25519", signing)
    if not isinstance(xkey, X25519PrivateKey):
        raise _wrong_kind(path / X25519_KEY_FILE, "an X25519", xkey)
    if not isinstance(mkey, MLKEM768PrivateKey):
        raise _wrong_kind(path / MLKEM_KEY_FILE, "an ML-KEM-768", mkey)
    keys = OrgKeys(org_id=public.org_id, signing=signing, x25519=xkey, mlkem=mkey)
    if keys.public() != public:
        raise KeyFileError(f"{path}: the private keys do not match {PUBLIC_FILE}")
    return keys


def load_public(path: str | os.PathLike[str]) -> OrgPublic:
    """Read an :class:`OrgPublic` JSON file (e.g. another body's ``public.json``).

    Errors: :class:`KeyFileError` naming the file if it is missing or invalid.
    """
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
        return OrgPublic.from_dict(data)
    except FileNotFoundError as exc:
        raise KeyFileError(f"{p}: no such file") from exc
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise KeyFileError(f"{p}: {_one_line(exc)}") from exc


def _load_private(path: Path, passphrase: bytes | None) -> PrivateKeyTypes:
    try:
        st = path.stat()
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise KeyFileError(f"{path}: no such file") from exc
    except OSError as exc:
        raise KeyFileError(f"{path}: {_one_line(exc)}") from exc
    if os.name == "posix" and st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(
            f"{path}: private key is accessible by group or others "
            f"(mode {stat.S_IMODE(st.st_mode):04o}); run chmod 600"
        )
    encrypted = b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in data
    if encrypted and passphrase is None:
        raise KeyFileError(f"{path}: the key is encrypted; a passphrase is required")
    if not encrypted and passphrase is not None:
        raise KeyFileError(f"{path}: the key is not encrypted, but a passphrase was given")
    try:
        key = serialization.load_pem_private_key(data, passphrase)
    except ValueError as exc:
        if encrypted and "password" in str(exc).lower():
            raise KeyFileError(f"{path}: wrong passphrase") from exc
        raise KeyFileError(f"{path}: not a readable PKCS#8 PEM private key") from exc
    except (TypeError, UnsupportedAlgorithm) as exc:
        raise KeyFileError(f"{path}: not a readable PKCS#8 PEM private key") from exc
    return key


def _wrong_kind(path: Path, expected: str, key: object) -> KeyFileError:
    return KeyFileError(f"{path}: expected {expected} private key, found {type(key).__name__}")


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# ---------------------------------------------------------------------------
# Registry


class Registry:
    """The deployment's public registry: every organisation's :class:`OrgPublic`, by id.

    Construction and :meth:`add` reject a duplicate ``org_id`` and any public key
    already registered to another organisation (two ids sharing a key would let
    one body's signature count as another's). Iteration is in ``org_id`` order.

    Security: the registry is the root of trust for every signature check; load
    it only from a trusted source and compare :meth:`fingerprint` out of band.
    """

    def __init__(self, orgs: Iterable[OrgPublic] = ()) -> None:
        self._orgs: dict[str, OrgPublic] = {}
        for org in orgs:
            self.add(org)

    def add(self, org: OrgPublic) -> None:
        """Register ``org``.

        Errors: :class:`RegistryError` if its id or one of its keys is already registered.
        """
        if org.org_id in self._orgs:
            raise RegistryError(f"duplicate organisation id {org.org_id!r} in the registry")
        for other in self._orgs.values():
            shared = {org.sign_public, org.x25519_public, org.mlkem_public} & {
                other.sign_public,
                other.x25519_public,
                other.mlkem_public,
            }
            if shared:
                raise RegistryError(
                    f"organisation {org.org_id!r} reuses a public key of {other.org_id!r}"
                )
        self._orgs[org.org_id] = org

    def get(self, org_id: str) -> OrgPublic:
        """The organisation ``org_id``.

        Errors: :class:`UnknownOrganisation` if it is not registered.
        """
        try:
            return self._orgs[org_id]
        except KeyError:
            raise UnknownOrganisation(f"organisation {org_id!r} is not in the registry") from None

    def __contains__(self, org_id: object) -> bool:
        return org_id in self._orgs

    def __iter__(self) -> Iterator[OrgPublic]:
        return iter(sorted(self._orgs.values(), key=lambda o: o.org_id))

    def __len__(self) -> int:
        return len(self._orgs)

    def org_ids(self) -> list[str]:
        """The registered ids, sorted."""
        return sorted(self._orgs)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form: ``{"format": ..., "organisations": [OrgPublic dicts, by id]}``."""
        return {"format": REGISTRY_FORMAT, "organisations": [o.to_dict() for o in self]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | object) -> Registry:
        """Inverse of :meth:`to_dict`.

        Errors: :class:`RegistryError` (one line) on a wrong format, a malformed
        entry (naming its position) or a duplicate id or key.
        """
        if not isinstance(data, dict) or set(data) != {"format", "organisations"}:
            raise RegistryError("registry: expected an object with 'format' and 'organisations'")
        if data["format"] != REGISTRY_FORMAT:
            raise RegistryError(
                f"registry: format must be {REGISTRY_FORMAT!r}, got {data['format']!r}"
            )
        entries = data["organisations"]
        if not isinstance(entries, list):
            raise RegistryError("registry: 'organisations' must be a list")
        registry = cls()
        for i, entry in enumerate(entries):
            try:
                org = OrgPublic.from_dict(entry)
            except ValueError as exc:
                raise RegistryError(f"registry entry {i}: {_one_line(exc)}") from exc
            registry.add(org)
        return registry

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the registry as indented JSON (atomically, mode 0644)."""
        text = json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        _write_atomic(p, text.encode("utf-8"), 0o644)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Registry:
        """Read a registry file written by :meth:`save`.

        Errors: :class:`RegistryError` naming the file on any problem.
        """
        p = Path(path)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise RegistryError(f"{p}: no such file") from exc
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise RegistryError(f"{p}: {_one_line(exc)}") from exc
        try:
            return cls.from_dict(data)
        except RegistryError as exc:
            raise RegistryError(f"{p}: {exc}") from exc

    def canonical_json(self) -> bytes:
        """:func:`canonical_json` of :meth:`to_dict`."""
        return canonical_json(self.to_dict())

    def fingerprint(self) -> str:
        """SHA-256 (lowercase hex) of :meth:`canonical_json`: pin it out of band."""
        return hashlib.sha256(self.canonical_json()).hexdigest()
