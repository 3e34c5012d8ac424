"""Signed notes and checkpoints as C2SP defines them, so any transparency-log tool can read them.

A *signed note* (https://c2sp.org/signed-note) is UTF-8 text ending in a
newline, a blank line, then one signature line per signer::

    — <key name> <base64(4-byte key ID || signature)>

(``—`` is U+2014, the em dash).  For Ed25519 the key ID is
``SHA-256(<key name> || 0x0A || 0x01 || 32-byte public key)[:4]`` and the
signature covers the note text, final newline included.  A verifier ignores
lines whose (name, key ID) it does not know; a known line that does not verify
condemns the note.  A *verifier key* (vkey) is
``<name>+<hex key ID>+<base64(0x01 || public key)>``.

A *checkpoint* (https://c2sp.org/tlog-checkpoint) is a signed note whose text is
the log's origin line, the tree size in decimal, the base64 root hash, then
optional extension lines.  A gridhash ledger's checkpoint text is::

    gridhash.ledger/<ledger id>
    <size>
    <base64 RFC 9162 root>
    timestamp <YYYY-MM-DDTHH:MM:SS.ffffffZ>

and *these are the bytes every party signs for a tree head*: the parties'
head signatures are the checkpoint's signature lines (key name = party id), so
``gridhash ledger checkpoint`` only renders what is stored.

A *cosignature* (https://c2sp.org/tlog-cosignature, Ed25519 type) is a witness's
note signature with key ID type byte 0x04 over ``"cosignature/v1\\n" + "time "
+ <POSIX seconds> + "\\n" + <checkpoint text>``; its signature field is the
8-byte big-endian timestamp followed by the 64-byte signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from dataclasses import dataclass

from gridhash.ledger.errors import BundleError

__all__ = [
    "COSIGNATURE_TYPE",
    "ED25519_TYPE",
    "ORIGIN_PREFIX",
    "Checkpoint",
    "NoteSignature",
    "SignedNote",
    "checkpoint_text",
    "cosignature_message",
    "key_id",
    "vkey",
]

ED25519_TYPE = 0x01
COSIGNATURE_TYPE = 0x04
ORIGIN_PREFIX = "gridhash.ledger/"
_DASH = "\u2014 "
_NAME = re.compile(r"[^\s+]+")
MAX_SIGNATURES = 100


def key_id(name: str, public_key: bytes, sig_type: int = ED25519_TYPE) -> bytes:
    """``SHA-256(name || 0x0A || type || public key)[:4]``."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public_key).digest()[:4]


def vkey(name: str, public_key: bytes, sig_type: int = ED25519_TYPE) -> str:
    """The verifier key text ``<name>+<hex key ID>+<base64(type || key)>``."""
    return (
        f"{name}+{key_id(name, public_key, sig_type).hex()}+"
        f"{base64.b64encode(bytes([sig_type]) + public_key).decode()}"
    )


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: key name, 4-byte key ID, signature bytes (after the key ID)."""

    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        """``— <name> <base64(key ID || signature)>`` without the newline."""
        return f"{_DASH}{self.name} {base64.b64encode(self.key_id + self.signature).decode()}"


@dataclass(frozen=True)
class SignedNote:
    """A note's text (ending in a newline) and its signature lines."""

    text: str
    signatures: tuple[NoteSignature, ...]

    def render(self) -> str:
        """The note as a file holds it."""
        return self.text + "\n" + "".join(s.line() + "\n" for s in self.signatures)

    @classmethod
    def parse(cls, data: str, *, source: str | None = None) -> SignedNote:
        """Parse a signed note (checks its form, not its signatures).

        Raises
        ------
        BundleError
            Not a signed note: no blank line, a malformed signature line, too many lines.
        """
        cut = data.rfind("\n\n")
        if cut < 0 or not data.endswith("\n"):
            raise BundleError(
                "not a signed note",
                source=source,
                expected="text, a blank line, then '\u2014 <name> <base64>' signature lines",
            )
        text = data[: cut + 1]
        sigs = []
        for n, line in enumerate(data[cut + 2 : -1].split("\n"), start=1):
            parts = line[len(_DASH) :].split(" ") if line.startswith(_DASH) else []
            raw = b""
            if len(parts) == 2 and _NAME.fullmatch(parts[0]):
                try:
                    raw = base64.b64decode(parts[1], validate=True)
                except (binascii.Error, ValueError):
                    raw = b""
            if len(raw) < 5:
                raise BundleError(
                    "malformed signature line",
                    source=source,
                    field=f"signature line {n}",
                    value=line,
                    expected="'\u2014 <key name> <base64(4-byte key ID || signature)>'",
                )
            sigs.append(NoteSignature(parts[0], raw[:4], raw[4:]))
        if len(sigs) > MAX_SIGNATURES:
            raise BundleError(
                "too many signature lines",
                source=source,
                value=len(sigs),
                expected=f"at most {MAX_SIGNATURES}",
            )
        return cls(text, tuple(sigs))


def checkpoint_text(ledger_id: str, size: int, root: bytes, timestamp: str) -> str:
    """The checkpoint text of a ledger's tree head: what every party signs."""
    return (
        f"{ORIGIN_PREFIX}{ledger_id}\n{size}\n{base64.b64encode(root).decode()}\n"
        f"timestamp {timestamp}\n"
    )


def cosignature_message(text: str, timestamp: int) -> bytes:
    """What a witness signs: ``cosignature/v1``, ``time <t>``, then the checkpoint text."""
    return f"cosignature/v1\ntime {timestamp}\n{text}".encode()


@dataclass(frozen=True)
class Checkpoint:
    """A parsed ledger checkpoint.

    Attributes
    ----------
    note : SignedNote
        The note (text and every signature line, parties' and witnesses').
    origin : str
        First line.
    size : int
        Tree size.
    root : bytes
        32-byte root hash.
    extensions : tuple of str
        Lines after the root (a gridhash ledger's: ``timestamp ...``).
    """

    note: SignedNote
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...]

    @property
    def ledger_id(self) -> str | None:
        """The ledger id named by the origin, when it is a gridhash ledger's."""
        if self.origin.startswith(ORIGIN_PREFIX):
            return self.origin[len(ORIGIN_PREFIX) :]
        return None

    @property
    def timestamp(self) -> str | None:
        """The head's timestamp extension line, if any."""
        for line in self.extensions:
            if line.startswith("timestamp "):
                return line[len("timestamp ") :]
        return None

    @classmethod
    def parse(cls, data: str, *, source: str | None = None) -> Checkpoint:
        """Parse a checkpoint (a signed note whose text is origin, size, root, extensions).

        Raises
        ------
        BundleError
            The note or its text is malformed (exit code 2: bad input).
        """
        note = SignedNote.parse(data, source=source)
        lines = note.text[:-1].split("\n")
        if len(lines) < 3:
            raise BundleError(
                "a checkpoint needs an origin, a tree size and a root hash line",
                source=source,
                value=note.text,
            )
        origin, size_text, root_text = lines[:3]
        if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
            raise BundleError(
                "malformed tree size",
                source=source,
                field="line 2",
                value=size_text,
                expected="a decimal number without leading zeros",
            )
        try:
            root = base64.b64decode(root_text, validate=True)
        except (binascii.Error, ValueError):
            root = b""
        if len(root) != 32:
            raise BundleError(
                "malformed root hash",
                source=source,
                field="line 3",
                value=root_text,
                expected="the base64 of 32 bytes",
            )
        return cls(note, origin, int(size_text), root, tuple(lines[3:]))

    def cosignatures(self, name: str, public_key: bytes) -> list[int]:
        """Timestamps of the valid cosignatures by witness ``(name, public_key)``."""
        from gridhash.ledger.signing import verify

        want = key_id(name, public_key, COSIGNATURE_TYPE)
        out = []
        for sig in self.note.signatures:
            if sig.name == name and sig.key_id == want and len(sig.signature) == 72:
                (ts,) = struct.unpack(">Q", sig.signature[:8])
                if verify(public_key, sig.signature[8:], cosignature_message(self.note.text, ts)):
                    out.append(ts)
        return out
