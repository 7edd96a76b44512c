"""Organisation keys: generation, key directories (optionally passphrase-protected), registry."""

from __future__ import annotations

import dataclasses
import json
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import given, settings
from hypothesis import strategies as st

from tyst.service import keys as K
from tyst.service.keys import (
    KeyFileError,
    OrgKeys,
    OrgPublic,
    Registry,
    RegistryError,
    UnknownOrganisation,
    canonical_json,
    decode_b64,
    encode_b64,
    generate,
    load,
    load_public,
)

FK = generate("fk")
MALMO = generate("malmo")
NODE = generate("node-a")


def _raw_private(keys: OrgKeys) -> tuple[bytes, bytes, bytes]:
    return (
        keys.signing.private_bytes_raw(),
        keys.x25519.private_bytes_raw(),
        keys.mlkem.private_bytes_raw(),
    )


def test_generate_gives_distinct_well_formed_keys() -> None:
    pub = FK.public()
    assert pub.org_id == "fk"
    assert len(pub.sign_public) == 32
    assert len(pub.x25519_public) == 32
    assert len(pub.mlkem_public) == 1184
    assert pub != MALMO.public()
    assert "PrivateKey" not in repr(FK)


@pytest.mark.parametrize("bad", ["", "-x", "a b", "å", "x" * 65, "a/b", ".hidden"])
def test_invalid_org_ids_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid organisation id"):
        generate(bad)


def test_public_json_round_trip_and_fingerprint() -> None:
    pub = FK.public()
    data = json.loads(json.dumps(pub.to_dict()))
    assert OrgPublic.from_dict(data) == pub
    fp = pub.fingerprint()
    assert len(fp) == 64
    assert int(fp, 16) >= 0
    assert fp == OrgPublic.from_dict(data).fingerprint()
    assert fp != MALMO.public().fingerprint()
    # the fingerprint covers the id as well as the keys
    renamed = dataclasses.replace(pub, org_id="fk2")
    assert renamed.fingerprint() != fp


def test_public_json_is_strict() -> None:
    data = FK.public().to_dict()
    with pytest.raises(ValueError, match="unexpected"):
        OrgPublic.from_dict({**data, "extra": "1"})
    with pytest.raises(ValueError, match="missing"):
        OrgPublic.from_dict({k: v for k, v in data.items() if k != "mlkem_public"})
    with pytest.raises(ValueError, match="format"):
        OrgPublic.from_dict({**data, "format": "tyst-org-public/2"})
    with pytest.raises(ValueError, match="base64"):
        OrgPublic.from_dict({**data, "sign_public": data["sign_public"] + "\n"})
    with pytest.raises(ValueError, match="32 bytes"):
        OrgPublic.from_dict({**data, "x25519_public": encode_b64(bytes(31))})
    with pytest.raises(ValueError, match="invalid public key"):
        OrgPublic.from_dict({**data, "mlkem_public": encode_b64(b"\xff" * 1184)})


def test_save_load_without_passphrase(tmp_path: Path) -> None:
    d = FK.save(tmp_path / "fk", None)
    for name in K.PRIVATE_FILES:
        assert stat.S_IMODE((d / name).stat().st_mode) == 0o600
        assert b"-----BEGIN PRIVATE KEY-----" in (d / name).read_bytes()
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    loaded = load(d, None)
    assert loaded.org_id == "fk"
    assert loaded.public() == FK.public()
    assert _raw_private(loaded) == _raw_private(FK)
    assert load_public(d / K.PUBLIC_FILE) == FK.public()


def test_mlkem_private_key_is_standard_pkcs8(tmp_path: Path) -> None:
    d = MALMO.save(tmp_path / "m", None)
    key = serialization.load_pem_private_key((d / K.MLKEM_KEY_FILE).read_bytes(), None)
    assert key.public_key().public_bytes_raw() == MALMO.public().mlkem_public  # type: ignore[union-attr]


def test_passphrase_protected_keys(tmp_path: Path) -> None:
    d = FK.save(tmp_path / "fk", b"correct horse battery staple")
    for name in K.PRIVATE_FILES:
        text = (d / name).read_bytes()
        assert b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in text
        assert stat.S_IMODE((d / name).stat().st_mode) == 0o600
    assert _raw_private(load(d, b"correct horse battery staple")) == _raw_private(FK)
    with pytest.raises(KeyFileError, match="wrong passphrase") as err:
        load(d, b"wrong")
    assert K.SIGN_KEY_FILE in str(err.value)
    assert "\n" not in str(err.value)
    with pytest.raises(KeyFileError, match="passphrase is required"):
        load(d, None)


def test_passphrase_given_for_unencrypted_keys(tmp_path: Path) -> None:
    d = FK.save(tmp_path / "fk", None)
    with pytest.raises(KeyFileError, match="not encrypted"):
        load(d, b"secret")


def test_empty_passphrase_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="non-empty"):
        FK.save(tmp_path / "fk", b"")


def test_existing_keys_are_not_overwritten(tmp_path: Path) -> None:
    d = FK.save(tmp_path / "k", None)
    with pytest.raises(KeyFileError, match="already exists"):
        MALMO.save(d, None)
    assert load(d, None).org_id == "fk"
    MALMO.save(d, None, overwrite=True)
    assert load(d, None).public() == MALMO.public()


def test_group_readable_private_key_is_refused(tmp_path: Path) -> None:
    d = FK.save(tmp_path / "fk", None)
    (d / K.X25519_KEY_FILE).chmod(0o640)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load(d, None)


def test_mixed_up_key_files_are_detected(tmp_path: Path) -> None:
    d = FK.save(tmp_path / "fk", None)
    other = MALMO.save(tmp_path / "malmo", None)
    (d / K.MLKEM_KEY_FILE).write_bytes((other / K.MLKEM_KEY_FILE).read_bytes())
    with pytest.raises(KeyFileError, match=r"do not match public\.json"):
        load(d, None)


def test_wrong_kind_of_key_is_detected(tmp_path: Path) -> None:
    d = FK.save(tmp_path / "fk", None)
    (d / K.SIGN_KEY_FILE).write_bytes((d / K.X25519_KEY_FILE).read_bytes())
    with pytest.raises(KeyFileError, match="expected an Ed25519 private key"):
        load(d, None)


def test_missing_and_garbled_files(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="no such file"):
        load(tmp_path / "nothing", None)
    d = FK.save(tmp_path / "fk", None)
    (d / K.SIGN_KEY_FILE).write_bytes(b"garbage")
    with pytest.raises(KeyFileError, match="not a readable PKCS#8"):
        load(d, None)
    (d / K.PUBLIC_FILE).write_text("{", encoding="utf-8")
    with pytest.raises(KeyFileError, match=r"public\.json"):
        load(d, None)


def test_registry_lookup_and_round_trip(tmp_path: Path) -> None:
    reg = Registry([MALMO.public(), FK.public()])
    assert len(reg) == 2
    assert "fk" in reg
    assert "node-a" not in reg
    assert reg.get("malmo") == MALMO.public()
    assert [o.org_id for o in reg] == ["fk", "malmo"]
    with pytest.raises(UnknownOrganisation, match="'node-a' is not in the registry"):
        reg.get("node-a")
    reg.add(NODE.public())
    reg.save(tmp_path / "registry.json")
    again = Registry.load(tmp_path / "registry.json")
    assert again.org_ids() == ["fk", "malmo", "node-a"]
    assert again.fingerprint() == reg.fingerprint()
    assert Registry([FK.public()]).fingerprint() != reg.fingerprint()


def test_registry_rejects_duplicates(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="duplicate organisation id 'fk'"):
        Registry([FK.public(), FK.public()])
    same_keys = dataclasses.replace(FK.public(), org_id="fk-alias")
    with pytest.raises(RegistryError, match="reuses a public key of 'fk'"):
        Registry([FK.public(), same_keys])
    doc = {"format": K.REGISTRY_FORMAT, "organisations": [FK.public().to_dict()] * 2}
    path = tmp_path / "dup.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(RegistryError, match="duplicate organisation id") as err:
        Registry.load(path)
    assert str(path) in str(err.value)


def test_registry_malformed_entries(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="format"):
        Registry.from_dict({"format": "x", "organisations": []})
    with pytest.raises(RegistryError, match="registry entry 1"):
        Registry.from_dict(
            {"format": K.REGISTRY_FORMAT, "organisations": [FK.public().to_dict(), {"x": 1}]}
        )
    with pytest.raises(RegistryError, match="no such file"):
        Registry.load(tmp_path / "missing.json")


def test_canonical_json_rules() -> None:
    assert (
        canonical_json({"b": 1, "a": [True, None, "å"]}) == '{"a":[true,null,"å"],"b":1}'.encode()
    )
    with pytest.raises(TypeError):
        canonical_json({"x": 1.5})
    with pytest.raises(TypeError):
        canonical_json({"x": b"bytes"})
    with pytest.raises(TypeError):
        canonical_json({1: "x"})
    with pytest.raises(ValueError, match="not valid Unicode"):
        canonical_json("\ud800")


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet=st.characters(codec="utf-8")),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(alphabet=st.characters(codec="utf-8")), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(_json_values)
def test_canonical_json_round_trips(value: object) -> None:
    encoded = canonical_json(value)
    assert json.loads(encoded) == value
    assert canonical_json(json.loads(encoded)) == encoded


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=64))
def test_base64_is_strict_and_round_trips(data: bytes) -> None:
    text = encode_b64(data)
    assert decode_b64(text) == data
    with pytest.raises(ValueError, match="base64"):
        decode_b64(text + " ")
    if len(data) % 3:  # padded: the unpadded spelling is refused
        with pytest.raises(ValueError, match="base64"):
            decode_b64(text.rstrip("="))
