"""Hybrid sealing (X25519 + ML-KEM-768, HKDF-SHA256, AES-256-GCM) to one recipient."""

from __future__ import annotations

import dataclasses
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tyst.service import sealing as S
from tyst.service.keys import generate
from tyst.service.sealing import OVERHEAD, SealError, open_sealed, seal

ALICE = generate("alice")
BOB = generate("bob")
CTX = b"result/job-1/node-a/alice"
MESSAGE = b"result shares \x00\x01\x02 for alice"

# Byte regions of a blob (start, end) for the tampering tests; the body covers the
# AES-GCM ciphertext and its tag.
REGIONS = {
    "magic": (0, 4),
    "version": (4, 5),
    "suite": (5, 6),
    "epk_len": (6, 8),
    "epk": (8, 40),
    "ct_len": (40, 42),
    "mlkem_ct": (42, 1130),
    "body_len": (1130, 1134),
    "ciphertext": (1134, 1134 + len(MESSAGE)),
    "tag": (1134 + len(MESSAGE), 1134 + len(MESSAGE) + 16),
}


def _flip(blob: bytes, pos: int, mask: int = 1) -> bytes:
    out = bytearray(blob)
    out[pos] ^= mask
    return bytes(out)


def test_round_trip_and_size() -> None:
    blob = seal(ALICE.public(), MESSAGE, CTX)
    assert len(blob) == len(MESSAGE) + OVERHEAD == S.HEADER_SIZE + len(MESSAGE) + 16
    assert blob[:4] == b"TYSL"
    assert struct.unpack(">I", blob[1130:1134])[0] == len(MESSAGE) + 16
    assert open_sealed(ALICE, blob, CTX) == MESSAGE
    assert MESSAGE not in blob


def test_sealing_is_randomised() -> None:
    a = seal(ALICE.public(), MESSAGE, CTX)
    b = seal(ALICE.public(), MESSAGE, CTX)
    assert a != b
    assert a[8:40] != b[8:40]  # fresh ephemeral key
    assert open_sealed(ALICE, a, CTX) == open_sealed(ALICE, b, CTX) == MESSAGE


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=3000), st.binary(max_size=64))
def test_round_trip_any_plaintext_and_context(plaintext: bytes, context: bytes) -> None:
    blob = seal(BOB.public(), plaintext, context)
    assert open_sealed(BOB, blob, context) == plaintext


def test_every_single_byte_change_is_detected() -> None:
    blob = seal(ALICE.public(), MESSAGE, CTX)
    for pos in range(len(blob)):
        with pytest.raises(SealError):
            open_sealed(ALICE, _flip(blob, pos), CTX)


@pytest.mark.parametrize("region", sorted(REGIONS))
def test_tampering_in_each_region_is_detected(region: str) -> None:
    start, end = REGIONS[region]
    blob = seal(ALICE.public(), MESSAGE, CTX)

    @settings(max_examples=25, deadline=None)
    @given(st.integers(start, end - 1), st.integers(1, 255))
    def check(pos: int, mask: int) -> None:
        with pytest.raises(SealError) as err:
            open_sealed(ALICE, _flip(blob, pos, mask), CTX)
        assert "\n" not in str(err.value)

    check()


def test_ignored_x25519_bit_is_still_bound() -> None:
    # X25519 ignores the top bit of a public key, so the ECDH secret is unchanged;
    # the ephemeral key is in the HKDF salt, which catches it.
    blob = seal(ALICE.public(), MESSAGE, CTX)
    with pytest.raises(SealError, match="does not open"):
        open_sealed(ALICE, _flip(blob, 8 + 31, 0x80), CTX)


def test_truncation_and_extension_are_detected() -> None:
    blob = seal(ALICE.public(), MESSAGE, CTX)
    for n in [0, 3, 6, 40, 1130, 1133, 1134, len(blob) - 16, len(blob) - 1]:
        with pytest.raises(SealError, match="malformed"):
            open_sealed(ALICE, blob[:n], CTX)
    with pytest.raises(SealError, match="malformed"):
        open_sealed(ALICE, blob + b"\x00", CTX)
    # a consistent length field with a shortened body still fails the tag
    short = blob[:1130] + struct.pack(">I", len(MESSAGE) + 15) + blob[1134:-1]
    with pytest.raises(SealError, match="does not open"):
        open_sealed(ALICE, short, CTX)


def test_wrong_recipient() -> None:
    blob = seal(ALICE.public(), MESSAGE, CTX)
    with pytest.raises(SealError, match="wrong recipient, wrong context, or modified data"):
        open_sealed(BOB, blob, CTX)


def test_recipient_with_only_one_matching_key_cannot_open() -> None:
    # Holding alice's X25519 key alone (or her ML-KEM key alone) is not enough.
    blob = seal(ALICE.public(), MESSAGE, CTX)
    half_x = dataclasses.replace(BOB, x25519=ALICE.x25519)
    half_m = dataclasses.replace(BOB, mlkem=ALICE.mlkem)
    for keys in (half_x, half_m):
        with pytest.raises(SealError):
            open_sealed(keys, blob, CTX)


@pytest.mark.parametrize("other", [b"", b"result/job-1/node-a/bob", CTX + b"\x00", CTX[:-1]])
def test_wrong_context(other: bytes) -> None:
    blob = seal(ALICE.public(), MESSAGE, CTX)
    with pytest.raises(SealError, match="does not open"):
        open_sealed(ALICE, blob, other)


def test_splicing_parts_of_two_blobs_is_detected() -> None:
    a = seal(ALICE.public(), MESSAGE, CTX)
    b = seal(ALICE.public(), MESSAGE, CTX)
    for cut in (40, 1130):
        with pytest.raises(SealError):
            open_sealed(ALICE, a[:cut] + b[cut:], CTX)


def test_degenerate_keys() -> None:
    low_order = dataclasses.replace(ALICE.public(), x25519_public=bytes(32))
    with pytest.raises(SealError, match="low-order"):
        seal(low_order, MESSAGE, CTX)
    blob = bytearray(seal(ALICE.public(), MESSAGE, CTX))
    blob[8:40] = bytes(32)  # an all-zero ephemeral key
    with pytest.raises(SealError, match="does not open"):
        open_sealed(ALICE, bytes(blob), CTX)


def test_unsupported_versions_are_named() -> None:
    blob = seal(ALICE.public(), MESSAGE, CTX)
    with pytest.raises(SealError, match="unsupported version 2"):
        open_sealed(ALICE, blob[:4] + b"\x02" + blob[5:], CTX)
    with pytest.raises(SealError, match="bad magic"):
        open_sealed(ALICE, b"XXXX" + blob[4:], CTX)


def test_type_errors() -> None:
    with pytest.raises(TypeError):
        seal(ALICE.public(), "text", CTX)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        open_sealed(ALICE, bytearray(b"x"), CTX)  # type: ignore[arg-type]
