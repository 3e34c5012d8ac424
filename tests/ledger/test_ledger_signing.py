"""Ed25519 keys: files and modes, loading, signing, and errors that name the file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from gridhash.errors import InputError
from gridhash.ledger.errors import KeyFileError
from gridhash.ledger.signing import (
    generate_key,
    load_keys,
    load_private_key,
    load_public_key,
    load_public_keys,
    sign,
    verify,
)


def test_generate_writes_private_0600_and_public_pem(tmp_path: Path) -> None:
    old = os.umask(0)  # even with a permissive umask the private key is never group/world-readable
    try:
        key = generate_key(tmp_path / "keys", "operator")
    finally:
        os.umask(old)
    private, public = tmp_path / "keys" / "operator.key", tmp_path / "keys" / "operator.pub"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE(public.stat().st_mode) == 0o644
    assert private.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert public.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    assert [p.name for p in sorted((tmp_path / "keys").iterdir())] == [
        "operator.key",
        "operator.pub",
    ]
    loaded = load_private_key(private)
    assert loaded.party == "operator" and loaded.public.raw == key.public.raw
    assert load_public_key(public).raw == key.public.raw


def test_private_key_is_created_with_mode_0600_not_chmodded_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file is opened with mode 0o600 and O_EXCL: there is no moment it is readable."""
    calls = []
    real_open = os.open

    def spy(path, flags, mode=0o777, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append((str(path), flags, mode))
        return real_open(path, flags, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    monkeypatch.setattr(os, "chmod", lambda *a, **k: pytest.fail("chmod should not be needed"))
    generate_key(tmp_path, "operator")
    private = [c for c in calls if ".operator.key." in c[0]]
    assert private and private[0][2] == 0o600
    assert private[0][1] & os.O_EXCL and private[0][1] & os.O_CREAT


def test_sign_and_verify(tmp_path: Path) -> None:
    key = generate_key(tmp_path, "operator")
    sig = sign(key, b"tree head")
    assert len(sig) == 64
    assert verify(key.public, sig, b"tree head")
    assert verify(key.public.raw, sig, b"tree head")
    assert key.public.verify(sig, b"tree head")
    assert not verify(key.public, sig, b"tree heaD")
    assert not verify(key.public, sig[:-1] + bytes([sig[-1] ^ 1]), b"tree head")
    other = generate_key(tmp_path, "ua-grid")
    assert not verify(other.public, sig, b"tree head")
    assert not verify(b"short", sig, b"tree head")


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300), st.integers(0, 63), st.integers(0, 7), st.data())
def test_verify_agrees_with_openssl(
    message: bytes, byte: int, bit: int, data: st.DataObject
) -> None:
    """libsodium (what verify uses) and OpenSSL (what signs) agree on valid signatures,
    on flipped bits of the signature or the message, and on another key."""
    private = Ed25519PrivateKey.generate()
    public = private.public_key()
    sig = private.sign(message)

    def openssl(s: bytes, m: bytes) -> bool:
        try:
            public.verify(s, m)
        except InvalidSignature:
            return False
        return True

    flipped = bytearray(sig)
    flipped[byte] ^= 1 << bit
    tampered = bytearray(message or b"x")
    tampered[data.draw(st.integers(0, len(tampered) - 1))] ^= 1 << bit
    for s_, m in ((sig, message), (bytes(flipped), message), (sig, bytes(tampered))):
        assert verify(public, s_, m) is openssl(s_, m)
    assert not verify(Ed25519PrivateKey.generate().public_key(), sig, message)


def test_verify_takes_a_signature_of_exactly_64_bytes(tmp_path: Path) -> None:
    """A signature of another length is refused before libsodium reads signature + message
    as one buffer (where a longer "signature" could carry part of a message)."""
    key = generate_key(tmp_path, "operator")
    sig = sign(key, b"head")
    assert verify(key.public, sig, b"head")
    assert not verify(key.public, sig + b"head", b"")
    assert not verify(key.public, sig[:63], sig[63:] + b"head")
    assert not verify(key.public, b"", b"head")
    assert not verify(key.public, "not bytes", b"head")  # type: ignore[arg-type]


def test_load_directory(tmp_path: Path) -> None:
    a = generate_key(tmp_path, "operator")
    b = generate_key(tmp_path, "ua-grid")
    (tmp_path / "ua-grid.key").unlink()  # we only hold the other party's public key
    assert set(load_keys(tmp_path)) == {"operator"}
    public = load_public_keys(tmp_path)
    assert {p: k.raw for p, k in public.items()} == {
        "operator": a.public.raw,
        "ua-grid": b.public.raw,
    }
    (tmp_path / "operator.pub").unlink()  # a private key alone gives its public half
    assert load_public_keys(tmp_path)["operator"].raw == a.public.raw


def test_existing_key_is_not_overwritten(tmp_path: Path) -> None:
    first = generate_key(tmp_path, "operator")
    with pytest.raises(KeyFileError, match="already exists"):
        generate_key(tmp_path, "operator")
    assert load_private_key(tmp_path / "operator.key").public.raw == first.public.raw
    second = generate_key(tmp_path, "operator", overwrite=True)
    assert load_private_key(tmp_path / "operator.key").public.raw == second.public.raw


def test_malformed_key_file_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "operator.pub"
    bad.write_text("not a key\n")
    with pytest.raises(KeyFileError) as info:
        load_public_keys(tmp_path)
    err = info.value
    assert isinstance(err, InputError) and err.exit_code == 2
    assert err.source == str(bad) and str(bad) in str(err)
    assert "not a PEM public key" in str(err)

    priv = tmp_path / "x.key"
    fd = os.open(priv, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n")
    os.close(fd)
    with pytest.raises(KeyFileError, match="not a PEM private key") as info:
        load_private_key(priv)
    assert str(priv) in str(info.value)


def test_world_readable_private_key_is_refused(tmp_path: Path) -> None:
    generate_key(tmp_path, "operator")
    path = tmp_path / "operator.key"
    path.chmod(0o644)
    with pytest.raises(KeyFileError, match="read or written by others") as info:
        load_private_key(path)
    assert "chmod 600" in str(info.value) and str(path) in str(info.value)


def test_wrong_key_type_and_mismatched_pair(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    (tmp_path / "ec.pub").write_bytes(
        other.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    with pytest.raises(KeyFileError, match="wrong key type"):
        load_public_key(tmp_path / "ec.pub")
    (tmp_path / "ec.pub").unlink()

    generate_key(tmp_path, "operator")
    impostor = generate_key(tmp_path / "other", "operator")
    (tmp_path / "operator.pub").write_bytes(impostor.public.pem())
    with pytest.raises(KeyFileError, match="does not match the private key"):
        load_public_keys(tmp_path)


def test_bad_party_ids_and_missing_things(tmp_path: Path) -> None:
    for party in ("", "../evil", "a b", ".hidden", "x" * 65):
        with pytest.raises(KeyFileError, match="invalid party id"):
            generate_key(tmp_path, party)
    with pytest.raises(KeyFileError, match="key directory not found"):
        load_public_keys(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(KeyFileError, match="no keys"):
        load_public_keys(tmp_path / "empty")
    with pytest.raises(KeyFileError, match="key file not found"):
        load_public_key(tmp_path / "ghost.pub")
