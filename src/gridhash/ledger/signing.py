"""Ed25519 keys of the parties to an agreement: generate, store as PEM, load, sign, verify.

Key directory layout
--------------------
One pair of files per party, named after the party id (letters, digits,
``_``, ``.``, ``-``; starting with a letter or digit)::

    keys/
      operator.key     private key, PKCS#8 PEM, unencrypted, mode 0600
      operator.pub     public key, SubjectPublicKeyInfo PEM, mode 0644
      ua-grid.pub      another party's public key, as they sent it

A party keeps its ``.key`` file to itself and gives its ``.pub`` file to every
other party; a verifier needs only ``.pub`` files.  Private key files are
created with ``os.open(..., O_CREAT | O_EXCL, 0o600)`` so they are never
readable by others, not even between creation and a later ``chmod``; a private
key file that others can read is refused on load (as ``ssh`` does), since the
key must be assumed leaked.  Files are written to a temporary name and renamed
into place, so a crash never leaves a half-written key.

Keys are made, stored and used for signing through ``cryptography`` (OpenSSL);
signatures are checked with libsodium through PyNaCl (both maintained by PyCA),
whose Ed25519 verification takes about half the time of OpenSSL's (63 against
113-120 us on the project's machine): a full ledger verification checks two
signatures per tree head.  libsodium is also the stricter of the two (it
refuses small-order keys and non-canonical encodings), so a signature it
accepts is one any RFC 8032 verifier accepts.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gridhash.ledger.errors import KeyFileError

__all__ = [
    "PARTY_PATTERN",
    "PRIVATE_SUFFIX",
    "PUBLIC_SUFFIX",
    "PartyKey",
    "PublicKey",
    "as_public_keys",
    "check_party",
    "fingerprint",
    "generate_key",
    "load_keys",
    "load_private_key",
    "load_public_key",
    "load_public_keys",
    "sign",
    "verify",
    "write_key",
]

PARTY_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
PRIVATE_SUFFIX = ".key"
PUBLIC_SUFFIX = ".pub"


def check_party(party: object) -> str:
    """Return ``party`` if it is a valid party id (usable as a file name), else raise."""
    if not isinstance(party, str) or not PARTY_PATTERN.fullmatch(party):
        raise KeyFileError(
            "invalid party id",
            field="party",
            value=party,
            expected="1-64 letters, digits, '_', '.' or '-', starting with a letter or digit",
        )
    return party


@dataclass(frozen=True)
class PublicKey:
    """A party's Ed25519 public key.

    Attributes
    ----------
    party : str
        The party id.
    key : Ed25519PublicKey
        The key itself.
    """

    party: str
    key: Ed25519PublicKey

    @classmethod
    def from_raw(cls, party: str, raw: bytes) -> PublicKey:
        """From the 32 raw key bytes (as stored beside each signature in the ledger)."""
        return cls(party, Ed25519PublicKey.from_public_bytes(bytes(raw)))

    @cached_property
    def raw(self) -> bytes:
        """The 32 raw key bytes."""
        return self.key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @property
    def fingerprint(self) -> str:
        """First 16 hex digits of SHA-256 over the raw key: a short, stable name for people."""
        return fingerprint(self.raw)

    def pem(self) -> bytes:
        """SubjectPublicKeyInfo PEM."""
        return self.key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def verify(self, signature: bytes, data: bytes) -> bool:
        """True when ``signature`` is this key's Ed25519 signature over ``data``."""
        return verify(self, signature, data)


@dataclass(frozen=True)
class PartyKey:
    """A party's Ed25519 private key.

    Attributes
    ----------
    party : str
        The party id.
    key : Ed25519PrivateKey
        The key itself.
    """

    party: str
    key: Ed25519PrivateKey

    @property
    def public(self) -> PublicKey:
        """The matching public key."""
        return PublicKey(self.party, self.key.public_key())

    def sign(self, data: bytes) -> bytes:
        """The 64-byte Ed25519 signature over ``data``."""
        return sign(self, data)

    def pem(self) -> bytes:
        """Unencrypted PKCS#8 PEM."""
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def fingerprint(raw: bytes) -> str:
    """First 16 hex digits of SHA-256 over the 32 raw public key bytes."""
    return hashlib.sha256(bytes(raw)).hexdigest()[:16]


def sign(key: PartyKey | Ed25519PrivateKey, data: bytes) -> bytes:
    """Sign ``data`` with ``key``: a 64-byte Ed25519 signature."""
    private = key.key if isinstance(key, PartyKey) else key
    return private.sign(bytes(data))


def verify(public_key: PublicKey | Ed25519PublicKey | bytes, signature: bytes, data: bytes) -> bool:
    """True when ``signature`` is a valid Ed25519 signature over ``data`` by ``public_key``.

    ``public_key`` may be a :class:`PublicKey`, a ``cryptography`` key or the 32
    raw key bytes.  Malformed keys or signatures are simply not valid.  Checked
    by libsodium (``crypto_sign_open``, see the module docstring).
    """
    from nacl.bindings import crypto_sign_BYTES, crypto_sign_open, crypto_sign_PUBLICKEYBYTES
    from nacl.exceptions import CryptoError

    try:
        if isinstance(public_key, PublicKey):
            raw = public_key.raw
        elif isinstance(public_key, Ed25519PublicKey):
            raw = public_key.public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw
            )
        else:
            raw = bytes(public_key)
        signature, data = bytes(signature), bytes(data)
        # Exact lengths first: libsodium reads the signature off the front of signature+data.
        if len(raw) != crypto_sign_PUBLICKEYBYTES or len(signature) != crypto_sign_BYTES:
            return False
        crypto_sign_open(signature + data, raw)
    except (CryptoError, ValueError, TypeError):
        return False
    return True


def _write_file(path: Path, data: bytes, mode: int, overwrite: bool) -> None:
    """Write ``data`` to ``path`` with permissions ``mode`` from the first byte, atomically.

    The bytes go to a temporary file created with ``mode`` (``O_EXCL``), are
    synced, then moved into place: renamed over ``path`` when overwriting,
    hard-linked otherwise, so an existing key is never clobbered by a race.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise KeyFileError(
                    "key file already exists",
                    source=str(path),
                    expected="a new file (pass overwrite=True to replace it)",
                ) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_key(directory: str | os.PathLike[str], key: PartyKey, *, overwrite: bool = False) -> Path:
    """Write ``<party>.key`` (mode 0600) and ``<party>.pub`` (mode 0644) into ``directory``.

    Returns
    -------
    Path
        The private key file.
    """
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    party = check_party(key.party)
    private = folder / f"{party}{PRIVATE_SUFFIX}"
    public = folder / f"{party}{PUBLIC_SUFFIX}"
    if not overwrite:
        for path in (private, public):
            if path.exists():
                raise KeyFileError(
                    "key file already exists",
                    source=str(path),
                    expected="a new file (pass overwrite=True to replace it)",
                )
    _write_file(private, key.pem(), 0o600, overwrite)
    _write_file(public, key.public.pem(), 0o644, overwrite)
    return private


def generate_key(
    directory: str | os.PathLike[str], party: str, *, overwrite: bool = False
) -> PartyKey:
    """Generate an Ed25519 key for ``party`` and store it in ``directory`` (see module docstring).

    Raises
    ------
    KeyFileError
        ``party`` is not a valid id, or its key files exist and ``overwrite`` is False.
    """
    key = PartyKey(check_party(party), Ed25519PrivateKey.generate())
    write_key(directory, key, overwrite=overwrite)
    return key


def _party_of(path: Path, party: str | None, suffix: str) -> str:
    if party is not None:
        return check_party(party)
    name = path.name[: -len(suffix)] if path.name.endswith(suffix) else path.stem
    if not PARTY_PATTERN.fullmatch(name):
        raise KeyFileError(
            "the file name is not a valid party id",
            source=str(path),
            value=name,
            expected=f"<party>{suffix} with party made of letters, digits, '_', '.' or '-'",
        )
    return name


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise KeyFileError("key file not found", source=str(path)) from None
    except OSError as exc:
        raise KeyFileError(f"cannot read key file: {exc.strerror}", source=str(path)) from None


def load_private_key(path: str | os.PathLike[str], party: str | None = None) -> PartyKey:
    """Load a party's private key from a PEM file (party id from the file name by default).

    Raises
    ------
    KeyFileError
        The file is missing, readable by group or others, not PEM, encrypted, or not Ed25519.
    """
    file = Path(path)
    name = _party_of(file, party, PRIVATE_SUFFIX)
    data = _read(file)
    if os.name == "posix":
        mode = stat.S_IMODE(file.stat().st_mode)
        if mode & 0o077:
            raise KeyFileError(
                "private key file can be read or written by others",
                source=str(file),
                value=f"mode {mode:04o}",
                expected=f"mode 0600 (run: chmod 600 {file})",
            )
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise KeyFileError(
            "private key is encrypted", source=str(file), expected="an unencrypted PKCS#8 PEM key"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise KeyFileError(
            "not a PEM private key", source=str(file), expected="a PKCS#8 PEM Ed25519 private key"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(
            "wrong key type",
            source=str(file),
            value=type(key).__name__,
            expected="an Ed25519 private key",
        )
    return PartyKey(name, key)


def load_public_key(path: str | os.PathLike[str], party: str | None = None) -> PublicKey:
    """Load a party's public key from a PEM file (a private key file gives its public half).

    Raises
    ------
    KeyFileError
        The file is missing, not PEM, or not an Ed25519 key.
    """
    file = Path(path)
    if file.name.endswith(PRIVATE_SUFFIX):
        return load_private_key(file, party).public
    name = _party_of(file, party, PUBLIC_SUFFIX)
    data = _read(file)
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise KeyFileError(
            "not a PEM public key",
            source=str(file),
            expected="a SubjectPublicKeyInfo PEM Ed25519 public key",
        ) from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(
            "wrong key type", source=str(file), value=type(key).__name__, expected="an Ed25519 key"
        )
    return PublicKey(name, key)


def _key_dir(directory: str | os.PathLike[str]) -> Path:
    folder = Path(directory)
    if not folder.is_dir():
        raise KeyFileError("key directory not found", source=str(folder))
    return folder


def load_keys(directory: str | os.PathLike[str]) -> dict[str, PartyKey]:
    """Every private key (``*.key``) in ``directory``, by party id."""
    folder = _key_dir(directory)
    return {
        key.party: key
        for key in (load_private_key(p) for p in sorted(folder.glob(f"*{PRIVATE_SUFFIX}")))
    }


def load_public_keys(directory: str | os.PathLike[str]) -> dict[str, PublicKey]:
    """Every party's public key in ``directory``, by party id.

    Each ``*.pub`` file counts, and each ``*.key`` file without a ``.pub``
    beside it gives its public half.  When both exist they must match.

    Raises
    ------
    KeyFileError
        The directory is missing or holds no keys, a file is malformed, or a
        ``.pub`` does not match its ``.key``.
    """
    folder = _key_dir(directory)
    keys: dict[str, PublicKey] = {
        k.party: k for k in (load_public_key(p) for p in sorted(folder.glob(f"*{PUBLIC_SUFFIX}")))
    }
    for path in sorted(folder.glob(f"*{PRIVATE_SUFFIX}")):
        derived = load_private_key(path).public
        known = keys.get(derived.party)
        if known is None:
            keys[derived.party] = derived
        elif known.raw != derived.raw:
            raise KeyFileError(
                "public key does not match the private key beside it",
                source=str(folder / f"{derived.party}{PUBLIC_SUFFIX}"),
                value=f"fingerprint {known.fingerprint}",
                expected=f"fingerprint {derived.fingerprint} (from {path.name})",
            )
    if not keys:
        raise KeyFileError(
            "no keys in directory",
            source=str(folder),
            expected=f"<party>{PUBLIC_SUFFIX} or <party>{PRIVATE_SUFFIX} PEM files",
        )
    return keys


def as_public_keys(keys: Iterable[PublicKey | PartyKey] | PublicKey | PartyKey) -> list[PublicKey]:
    """Normalise one key or many (public or private) to a list of public keys."""
    if isinstance(keys, PublicKey | PartyKey):
        keys = [keys]
    if isinstance(keys, dict):
        keys = keys.values()
    return [k.public if isinstance(k, PartyKey) else k for k in keys]
