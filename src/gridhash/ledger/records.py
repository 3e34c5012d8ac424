"""What the ledger records: entries, signed tree heads and their signatures, and their encodings.

Entry
    ``seq`` (0-based leaf index), ``kind``, ``payload`` (canonical JSON text),
    ``timestamp`` and ``leaf_hash = SHA-256(0x00 || leaf bytes)`` where the leaf
    bytes are ``canonical_json({"kind", "payload", "seq", "timestamp"})``
    (:func:`gridhash.ledger.canonical.entry_leaf_bytes`).

Tree head
    ``(ledger_id, size, root, timestamp)``: the RFC 9162 root of the first
    ``size`` entries.  Each party signs, with Ed25519, the head's C2SP
    checkpoint text (:func:`gridhash.ledger.note.checkpoint_text`)::

        gridhash.ledger/<ledger_id>
        <size>
        <base64 root>
        timestamp <timestamp>

    so the parties' head signatures are, unchanged, the signature lines of the
    checkpoint any transparency-log tool reads (:meth:`TreeHead.checkpoint`).
    The origin line (with the ledger id, a random UUID made when the ledger is
    created) keeps a head of one ledger from being passed off as a head of
    another.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from gridhash.ledger.canonical import entry_leaf_bytes
from gridhash.ledger.merkle import leaf_hash
from gridhash.ledger.note import ORIGIN_PREFIX, NoteSignature, SignedNote, checkpoint_text, key_id
from gridhash.ledger.signing import PartyKey, PublicKey, verify

__all__ = ["Entry", "Signature", "TreeHead"]


@dataclass(frozen=True)
class Entry:
    """One record of the ledger.

    Attributes
    ----------
    seq : int
        0-based position (the Merkle leaf index).
    kind : str
        What it records: ``scenario``, ``plan``, ``approval``, ``meter``,
        ``safety_event``, ``statement``, ``tree_head``, ...
    payload_json : str
        The payload as canonical JSON text, exactly as hashed.
    timestamp : str
        When it was appended (UTC, ``YYYY-MM-DDTHH:MM:SS.ffffffZ``).
    leaf_hash : bytes
        ``SHA-256(0x00 || leaf_bytes())`` as recorded at append time.
    """

    seq: int
    kind: str
    payload_json: str
    timestamp: str
    leaf_hash: bytes

    @cached_property
    def payload(self) -> Any:
        """The payload, parsed (computed once)."""
        return json.loads(self.payload_json)

    def leaf_bytes(self) -> bytes:
        """The canonical bytes the leaf hash is taken over."""
        return entry_leaf_bytes(self.seq, self.kind, self.payload_json.encode(), self.timestamp)

    def computed_leaf_hash(self) -> bytes:
        """The leaf hash recomputed from ``seq``, ``kind``, ``payload`` and ``timestamp``."""
        return leaf_hash(self.leaf_bytes())

    def to_dict(self) -> dict[str, Any]:
        """``{"seq", "kind", "payload", "timestamp"}`` with the payload parsed."""
        return {
            "seq": self.seq,
            "kind": self.kind,
            "payload": self.payload,
            "timestamp": self.timestamp,
        }


@dataclass(frozen=True)
class Signature:
    """One party's Ed25519 signature over a tree head.

    Attributes
    ----------
    party : str
        Who signed.
    public_key : bytes
        The 32 raw bytes of the key that signed (recorded so a verifier can
        tell a wrong key from a wrong signature).
    signature : bytes
        64 bytes.
    """

    party: str
    public_key: bytes
    signature: bytes

    def to_dict(self) -> dict[str, str]:
        """JSON form: hex strings."""
        return {
            "party": self.party,
            "public_key": self.public_key.hex(),
            "signature": self.signature.hex(),
        }


@dataclass(frozen=True)
class TreeHead:
    """A signed tree head (STH): the ledger's first ``size`` entries hash to ``root``.

    Attributes
    ----------
    ledger_id : str
        The ledger's id (random UUID made at creation).
    size : int
        Number of entries covered.
    root : bytes
        RFC 9162 Merkle tree hash of entries ``0 .. size - 1``.
    timestamp : str
        When it was signed (UTC).
    signatures : tuple of Signature
        One per signing party.
    index : int or None
        Position among the ledger's tree heads (0-based), when read from a ledger.
    """

    ledger_id: str
    size: int
    root: bytes
    timestamp: str
    signatures: tuple[Signature, ...] = field(default=())
    index: int | None = None

    @property
    def origin(self) -> str:
        """The checkpoint's origin line: ``gridhash.ledger/<ledger_id>``."""
        return ORIGIN_PREFIX + self.ledger_id

    def checkpoint_text(self) -> str:
        """The C2SP checkpoint text of this head (what every party signs)."""
        return checkpoint_text(self.ledger_id, self.size, self.root, self.timestamp)

    def signed_bytes(self) -> bytes:
        """The exact bytes every party signs: the checkpoint text, UTF-8."""
        return self.checkpoint_text().encode()

    def checkpoint(self) -> SignedNote:
        """The head as a C2SP checkpoint: one signature line per party (key name = party id)."""
        return SignedNote(
            self.checkpoint_text(),
            tuple(
                NoteSignature(s.party, key_id(s.party, s.public_key), s.signature)
                for s in self.signatures
            ),
        )

    def signature_by(self, party: str) -> Signature | None:
        """The signature of ``party``, if it signed."""
        for sig in self.signatures:
            if sig.party == party:
                return sig
        return None

    def signed_with(self, key: PublicKey) -> Signature | None:
        """The signature made with exactly ``key`` (matched by key bytes), if any."""
        raw = key.raw
        for sig in self.signatures:
            if sig.public_key == raw:
                return sig
        return None

    def sign(self, key: PartyKey) -> Signature:
        """``key``'s signature over this head (not added to it)."""
        return Signature(key.party, key.public.raw, key.sign(self.signed_bytes()))

    def check_signature(self, sig: Signature) -> bool:
        """True when ``sig`` verifies over this head with the key recorded in it."""
        return verify(sig.public_key, sig.signature, self.signed_bytes())

    def head_dict(self) -> dict[str, Any]:
        """The signed fields as JSON (root in hex)."""
        return {
            "ledger_id": self.ledger_id,
            "size": self.size,
            "root": self.root.hex(),
            "timestamp": self.timestamp,
        }

    def to_dict(self) -> dict[str, Any]:
        """The signed fields plus ``signatures``."""
        return {**self.head_dict(), "signatures": [s.to_dict() for s in self.signatures]}
