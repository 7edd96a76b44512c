"""Hybrid public-key encryption ("sealing") of bytes to one recipient organisation.

Contract
--------
:func:`seal` encrypts ``plaintext`` to a recipient's :class:`~tyst.service.keys.OrgPublic`
so that only the holder of the matching :class:`~tyst.service.keys.OrgKeys` can
:func:`open_sealed` it, and only under the same ``context`` (e.g.
``b"result/<job>/<node>/<recipient>"``). Any modification of the blob, a wrong
recipient key or a wrong context raises :class:`SealError` with a one-line
message; nothing about the plaintext is returned in that case.

Construction (suite 1: X25519 + ML-KEM-768, HKDF-SHA256, AES-256-GCM)
---------------------------------------------------------------------
A KEM combiner in the style of X-Wing [XWING] and the hybrid-KEM drafts
[HYBRID-KEMS, TLS-HYBRID], applied as a KEM/DEM hybrid (as in HPKE [RFC9180]
base mode)::

    esk, epk      <- fresh X25519 key pair                      (RFC 7748)
    ss_X          =  X25519(esk, pk_X)                           32 bytes
    ss_M, ct_M    <- ML-KEM-768.Encaps(pk_M)                     (FIPS 203)
    okm           =  HKDF-SHA256(                                (RFC 5869)
                        IKM  = ss_M || ss_X,
                        salt = epk || ct_M || pk_X || pk_M,
                        info = b"tyst seal v1" || context,
                        L    = 44)
    key, nonce    =  okm[:32], okm[32:44]
    body          =  AES-256-GCM(key, nonce, plaintext, AAD = context)

- Both shared secrets enter the key derivation (concatenated, as in
  [TLS-HYBRID] and NIST SP 800-56C Rev. 2 §2), so the key is secret as long as
  *either* X25519 or ML-KEM-768 is unbroken — confidentiality survives a
  future quantum computer ("harvest now, decrypt later") and a flaw in the
  young ML-KEM implementations alike.
- As in X-Wing, the X25519 ciphertext (``epk``) and the recipient's X25519
  public key are bound into the derivation, because X25519 alone is not
  ciphertext-binding (e.g. the ignored top bit of ``epk``). Unlike X-Wing we
  also bind ``ct_M`` and ``pk_M`` (the generic combiner of Giacon, Heuer and
  Poettering [KEMCOMB]) — it costs one hash and makes the IND-CCA argument not
  depend on ML-KEM's ciphertext-binding property. HMAC hashes the long salt
  to 32 bytes first, so the binding rests on SHA-256's collision resistance.
- The recipient's keys in the salt bind the blob to the recipient: a blob
  re-targeted at another key yields another AES key.
- ``context`` is in HKDF ``info`` (domain separation: a blob sealed for one
  purpose cannot be opened as another) and is also the AES-GCM AAD.
- Each key is used for exactly one message (fresh ``esk`` and ML-KEM
  randomness), so the derived nonce never repeats under a key. Decapsulation
  failures of ML-KEM are implicit (a pseudo-random ``ss_M``), which then fails
  the GCM tag: every kind of tampering ends in the same :class:`SealError`.
- Sealing is anonymous (like HPKE base mode): it does not authenticate the
  sender. Where the sender matters (a node's result shares), sign the
  plaintext or the blob with :mod:`tyst.service.signing` as well.

Wire format (all integers big-endian; every field is covered by the tag,
either through the key derivation or as a fixed value checked on parsing)::

    offset  size   field
    0       4      magic  b"TYSL"
    4       1      version = 1
    5       1      suite   = 1 (X25519 + ML-KEM-768, HKDF-SHA256, AES-256-GCM)
    6       2      len(epk)  = 32
    8       32     epk
    40      2      len(ct_M) = 1088
    42      1088   ct_M
    1130    4      len(body) = len(plaintext) + 16
    1134    ...    body (AES-GCM ciphertext || 16-byte tag)

A blob is exactly :data:`OVERHEAD` (1150) bytes longer than its plaintext.

References
----------
- [XWING] M. Barbosa, D. Connolly, J. D. Duarte, A. Kaiser, P. Schwabe,
  K. Varner, B. Westerbaan: "X-Wing: The Hybrid KEM You've Been Looking For",
  IACR Communications in Cryptology 1(1), 2024 (ePrint 2024/039);
  draft-connolly-cfrg-xwing-kem.
- [HYBRID-KEMS] D. Connolly, R. Barnes, P. Grubbs: "Hybrid PQ/T Key
  Encapsulation Mechanisms", draft-irtf-cfrg-hybrid-kems.
- [TLS-HYBRID] D. Stebila, S. Fluhrer, S. Gueron: "Hybrid key exchange in
  TLS 1.3", draft-ietf-tls-hybrid-design.
- [KEMCOMB] F. Giacon, F. Heuer, B. Poettering: "KEM Combiners", PKC 2018.
- FIPS 203 (ML-KEM), RFC 7748 (X25519), RFC 5869 (HKDF), NIST SP 800-38D
  (GCM), RFC 9180 (HPKE).
"""

from __future__ import annotations

import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tyst.service.keys import OrgKeys, OrgPublic

MAGIC = b"TYSL"
VERSION = 1
SUITE_X25519_MLKEM768 = 1
LABEL = b"tyst seal v1"
"""Prefix of the HKDF ``info``; the caller's context follows it."""

EPK_SIZE = 32
MLKEM768_CIPHERTEXT_SIZE = 1088
TAG_SIZE = 16
KEY_SIZE = 32
NONCE_SIZE = 12

HEADER_SIZE = 4 + 1 + 1 + 2 + EPK_SIZE + 2 + MLKEM768_CIPHERTEXT_SIZE + 4
OVERHEAD = HEADER_SIZE + TAG_SIZE
"""Bytes a sealed blob adds to its plaintext (1150)."""

MAX_PLAINTEXT = 2**31 - 1 - TAG_SIZE
"""Largest plaintext :func:`seal` accepts (AES-GCM in ``cryptography`` takes < 2**31 bytes)."""


class SealError(Exception):
    """A blob that does not open (tampered, wrong recipient or context, malformed); one line."""


def _derive(
    ss_m: bytes,
    ss_x: bytes,
    epk: bytes,
    ct_m: bytes,
    recipient: OrgPublic,
    context: bytes,
) -> tuple[bytes, bytes]:
    okm = HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_SIZE + NONCE_SIZE,
        salt=epk + ct_m + recipient.x25519_public + recipient.mlkem_public,
        info=LABEL + context,
    ).derive(ss_m + ss_x)
    return okm[:KEY_SIZE], okm[KEY_SIZE:]


def seal(recipient: OrgPublic, plaintext: bytes, context: bytes) -> bytes:
    """Encrypt ``plaintext`` so that only ``recipient`` can open it, under ``context``.

    Inputs: ``recipient`` — from the deployment's registry (never from the party
    that asks you to seal); ``plaintext`` — at most :data:`MAX_PLAINTEXT` bytes;
    ``context`` — bytes naming the purpose and binding (job, sender, recipient).
    Output: the blob (see the module docstring), ``len(plaintext) + OVERHEAD`` bytes.
    Errors: :class:`SealError` if the recipient's X25519 key is degenerate (a
    low-order point); :class:`ValueError` if the plaintext is too large;
    :class:`TypeError` for non-bytes inputs.
    Security: fresh randomness per call; the same plaintext sealed twice gives
    unrelated blobs. The blob's length reveals the plaintext's length.
    """
    if not isinstance(plaintext, bytes) or not isinstance(context, bytes):
        raise TypeError("seal: plaintext and context must be bytes")
    if len(plaintext) > MAX_PLAINTEXT:
        raise ValueError(f"seal: plaintext of {len(plaintext)} bytes is too large")
    esk = X25519PrivateKey.generate()
    epk = esk.public_key().public_bytes_raw()
    try:
        ss_x = esk.exchange(recipient.x25519_key())
    except ValueError:
        raise SealError(
            f"seal: the X25519 key of {recipient.org_id!r} is invalid (low-order point)"
        ) from None
    ss_m, ct_m = recipient.mlkem_key().encapsulate()
    key, nonce = _derive(ss_m, ss_x, epk, ct_m, recipient, context)
    body = AESGCM(key).encrypt(nonce, plaintext, context)
    return b"".join(
        (
            MAGIC,
            bytes((VERSION, SUITE_X25519_MLKEM768)),
            struct.pack(">H", len(epk)),
            epk,
            struct.pack(">H", len(ct_m)),
            ct_m,
            struct.pack(">I", len(body)),
            body,
        )
    )


def _parse(blob: bytes) -> tuple[bytes, bytes, bytes]:
    if len(blob) < OVERHEAD:
        raise SealError(f"sealed blob is malformed: {len(blob)} bytes is too short")
    if blob[:4] != MAGIC:
        raise SealError("sealed blob is malformed: bad magic (not a tyst sealed blob)")
    if blob[4] != VERSION:
        raise SealError(f"sealed blob is malformed: unsupported version {blob[4]}")
    if blob[5] != SUITE_X25519_MLKEM768:
        raise SealError(f"sealed blob is malformed: unsupported suite {blob[5]}")
    pos = 6
    (n_epk,) = struct.unpack_from(">H", blob, pos)
    if n_epk != EPK_SIZE:
        raise SealError(f"sealed blob is malformed: ephemeral key length {n_epk}")
    pos += 2
    epk = blob[pos : pos + EPK_SIZE]
    pos += EPK_SIZE
    (n_ct,) = struct.unpack_from(">H", blob, pos)
    if n_ct != MLKEM768_CIPHERTEXT_SIZE:
        raise SealError(f"sealed blob is malformed: ML-KEM ciphertext length {n_ct}")
    pos += 2
    ct_m = blob[pos : pos + MLKEM768_CIPHERTEXT_SIZE]
    pos += MLKEM768_CIPHERTEXT_SIZE
    (n_body,) = struct.unpack_from(">I", blob, pos)
    pos += 4
    if n_body != len(blob) - pos:
        raise SealError(
            f"sealed blob is malformed: body length {n_body}, but {len(blob) - pos} bytes follow"
        )
    return epk, ct_m, blob[pos:]


def open_sealed(keys: OrgKeys, blob: bytes, context: bytes) -> bytes:
    """Decrypt a blob made by :func:`seal` for ``keys``' organisation under ``context``.

    Output: the plaintext.
    Errors: :class:`SealError` (one line) if the blob is malformed or truncated,
    was sealed to another recipient or under another context, or any byte was
    changed; :class:`TypeError` for non-bytes inputs.
    Security: all cryptographic failures give the same message; nothing is
    released before the GCM tag has been checked.
    """
    if not isinstance(blob, bytes) or not isinstance(context, bytes):
        raise TypeError("open_sealed: blob and context must be bytes")
    epk, ct_m, body = _parse(blob)
    failure = SealError(
        "sealed blob does not open: wrong recipient, wrong context, or modified data"
    )
    try:
        ss_x = keys.x25519.exchange(X25519PublicKey.from_public_bytes(epk))
        ss_m = keys.mlkem.decapsulate(ct_m)
    except ValueError:
        raise failure from None
    key, nonce = _derive(ss_m, ss_x, epk, ct_m, keys.public(), context)
    try:
        return AESGCM(key).decrypt(nonce, body, context)
    except InvalidTag:
        raise failure from None
