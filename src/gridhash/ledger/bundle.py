"""Inclusion proof bundles: one JSON file a party can check with nothing but a public key.

Format (``"format": "gridhash-ledger-inclusion-proof/1"``)::

    {
      "format": "gridhash-ledger-inclusion-proof/1",
      "entry": {"seq": 3, "kind": "meter", "payload": {...}, "timestamp": "..."},
      "leaf": "<canonical JSON of the entry: the exact bytes hashed, as text>",
      "leaf_hash": "<hex SHA-256(0x00 || leaf)>",
      "index": 3,
      "tree_size": 1000,
      "audit_path": ["<hex>", ...],
      "tree_head": {"ledger_id": "...", "size": 1000, "root": "<hex>", "timestamp": "..."},
      "signed_text": "<the head's checkpoint text: the exact text every signature covers>",
      "signatures": [{"party": "...", "public_key": "<hex>", "signature": "<hex>"}],
      "algorithm": "..."
    }

Checking it (:meth:`ProofBundle.check`, ``gridhash ledger check-proof``):

1. ``leaf`` is the canonical JSON of ``entry`` and hashes to ``leaf_hash``;
   ``index`` is the entry's ``seq`` and ``tree_size`` the head's ``size``;
2. the audit path leads from ``leaf_hash`` at ``index`` to the head's ``root``
   (RFC 9162 §2.1.3.2);
3. the head's signatures satisfy the keyring's rule (or, given bare public
   keys, each has signed), each an Ed25519 signature over the head's C2SP
   checkpoint text (see :mod:`gridhash.ledger.note`).

``leaf`` is carried so a checker in another language can hash the exact bytes
without re-implementing canonical JSON, then compare the parsed ``leaf`` with
``entry``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gridhash.ledger import merkle
from gridhash.ledger.canonical import TIMESTAMP_PATTERN, canonical_json
from gridhash.ledger.errors import BundleError, PayloadError, ProofError
from gridhash.ledger.keyring import Keyring
from gridhash.ledger.records import Entry, Signature, TreeHead
from gridhash.ledger.signing import PartyKey, PublicKey, as_public_keys, fingerprint

__all__ = ["BUNDLE_FORMAT", "ProofBundle", "check_head_signatures"]

BUNDLE_FORMAT = "gridhash-ledger-inclusion-proof/1"
ALGORITHM = (
    "RFC 9162 section 2.1 Merkle tree, SHA-256; leaf = canonical JSON (sorted keys, no "
    "whitespace, UTF-8) of {kind, payload, seq, timestamp}; heads signed with Ed25519 over "
    "the C2SP checkpoint text 'gridhash.ledger/<ledger_id>\\n<size>\\n<base64 root>\\n"
    "timestamp <timestamp>\\n'"
)
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX128 = re.compile(r"[0-9a-f]{128}")


@dataclass(frozen=True)
class ProofBundle:
    """An entry, the signed tree head it is included in, and the audit path between them.

    Attributes
    ----------
    entry : Entry
        The entry proven.
    tree_head : TreeHead
        The signed head (with its signatures).
    audit_path : tuple of bytes
        RFC 9162 inclusion proof of ``entry.seq`` in a tree of ``tree_head.size``.
    signed_text : str or None
        The exact text the head's signatures cover, as the bundle carried it
        (checked against the head's fields).
    """

    entry: Entry
    tree_head: TreeHead
    audit_path: tuple[bytes, ...]
    signed_text: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (see the module docstring)."""
        return {
            "format": BUNDLE_FORMAT,
            "entry": self.entry.to_dict(),
            "leaf": self.entry.leaf_bytes().decode(),
            "leaf_hash": self.entry.leaf_hash.hex(),
            "index": self.entry.seq,
            "tree_size": self.tree_head.size,
            "audit_path": [h.hex() for h in self.audit_path],
            "tree_head": self.tree_head.head_dict(),
            "signed_text": self.tree_head.checkpoint_text(),
            "signatures": [s.to_dict() for s in self.tree_head.signatures],
            "algorithm": ALGORITHM,
        }

    def to_json(self) -> str:
        """Indented JSON text, ending with a newline."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, data: Any, *, source: str | None = None) -> ProofBundle:
        """Parse the JSON form; checks its shape, not the proof.

        Raises
        ------
        BundleError
            A field is missing or has the wrong form (named with ``source``).
        """
        return _parse(data, source)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ProofBundle:
        """Read a bundle file.

        Raises
        ------
        BundleError
            The file is missing, is not JSON, or is not a bundle.
        """
        file = Path(path)
        try:
            text = file.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise BundleError("proof file not found", source=str(file)) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise BundleError(f"cannot read proof file: {exc}", source=str(file)) from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BundleError(
                f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                source=str(file),
                expected="a proof bundle written by `gridhash ledger proof --json`",
            ) from None
        return _parse(data, str(file))

    def check(
        self, keyring: Keyring | Iterable[PublicKey | PartyKey] | PublicKey | PartyKey
    ) -> None:
        """Verify the bundle alone: leaf, audit path, and the head's signatures.

        Parameters
        ----------
        keyring : Keyring, or public key(s)
            The verifier's keyring (the head's valid signatures must meet its
            rule), or bare keys, each of which must have validly signed.

        Raises
        ------
        ProofError
            Any step fails (the message says which).
        """
        entry, head = self.entry, self.tree_head
        if self.signed_text is not None and self.signed_text != head.checkpoint_text():
            raise ProofError(
                f"tree head (size {head.size}): signed_text: expected the head's checkpoint "
                f"text {head.checkpoint_text()!r}, found {self.signed_text!r} (the head or the "
                "text was changed)"
            )
        if entry.computed_leaf_hash() != entry.leaf_hash:
            raise ProofError(
                f"entry {entry.seq}: leaf_hash: expected {entry.leaf_hash.hex()}, "
                f"found {entry.computed_leaf_hash().hex()} (the entry does not hash to "
                "the bundle's leaf hash: it was changed)"
            )
        got = merkle.root_from_inclusion_proof(
            entry.computed_leaf_hash(), entry.seq, head.size, self.audit_path
        )
        if got is None:
            want = len(merkle.inclusion_proof_from(entry.seq, head.size, lambda a, b: b""))
            raise ProofError(
                f"entry {entry.seq}: audit path: expected {want} hashes for a tree of size "
                f"{head.size}, found {len(self.audit_path)} (or a malformed hash)"
            )
        if not merkle.verify_inclusion(
            entry.computed_leaf_hash(), entry.seq, head.size, self.audit_path, head.root
        ):
            raise ProofError(
                f"entry {entry.seq}: root: expected {head.root.hex()} (signed), found "
                f"{got.hex()} (the audit path from this leaf leads elsewhere: the entry or "
                "path was changed)"
            )
        check_head_signatures(head, keyring)


def check_head_signatures(
    head: TreeHead, keyring: Keyring | Iterable[PublicKey | PartyKey] | PublicKey | PartyKey
) -> None:
    """Raise :class:`ProofError` unless ``head``'s signatures satisfy ``keyring``.

    Bare public keys form a keyring in which each of them is required.
    """
    ring = keyring if isinstance(keyring, Keyring) else Keyring.of(as_public_keys(keyring))
    check = ring.check_head(head)
    where = f"tree head (size {head.size})"
    for party in check.wrong_key:
        sig = head.signature_by(party)
        assert sig is not None
        raise ProofError(
            f"{where}: signature[{party}]: expected key {ring.keys[party].fingerprint} "
            f"(keyring), found key {fingerprint(sig.public_key)} (signed in {party}'s name "
            "by someone else)"
        )
    for party in check.invalid:
        raise ProofError(
            f"{where}: signature[{party}]: expected a valid signature by key "
            f"{ring.keys[party].fingerprint}, found one that does not verify (the tree "
            "head was changed after it was signed)"
        )
    if not check.complete:
        found = ", ".join(check.valid) or "no valid keyring signatures"
        raise ProofError(
            f"{where}: signatures: expected {ring.describe_rule()}, found {found} "
            f"(missing {', '.join(check.missing)})"
        )


def _get(
    data: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str, src: str | None
):
    if key not in data:
        raise BundleError("missing field", source=src, field=f"{where}{key}")
    value = data[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise BundleError(
            "wrong type", source=src, field=f"{where}{key}", value=value, expected=names
        )
    return value


def _hex(value: Any, pattern: re.Pattern[str], field: str, src: str | None) -> bytes:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        size = 32 if pattern is _HEX64 else 64
        raise BundleError(
            "malformed hash",
            source=src,
            field=field,
            value=value,
            expected=f"{size * 2} lower-case hex digits ({size} bytes)",
        )
    return bytes.fromhex(value)


def _timestamp(value: Any, field: str, src: str | None) -> str:
    if not isinstance(value, str) or not TIMESTAMP_PATTERN.fullmatch(value):
        raise BundleError(
            "malformed timestamp",
            source=src,
            field=field,
            value=value,
            expected="YYYY-MM-DDTHH:MM:SS.ffffffZ",
        )
    return value


def _parse(data: Any, src: str | None) -> ProofBundle:
    if not isinstance(data, dict):
        raise BundleError(
            "not a proof bundle", source=src, value=type(data).__name__, expected="a JSON object"
        )
    fmt = data.get("format")
    if fmt != BUNDLE_FORMAT:
        raise BundleError(
            "unknown format", source=src, field="format", value=fmt, expected=BUNDLE_FORMAT
        )
    e = _get(data, "entry", dict, "", src)
    seq = _get(e, "seq", int, "entry.", src)
    kind = _get(e, "kind", str, "entry.", src)
    if "payload" not in e:
        raise BundleError("missing field", source=src, field="entry.payload")
    try:
        payload = canonical_json(e["payload"], where="entry.payload").decode()
    except PayloadError as exc:
        raise BundleError(
            exc.detail, source=src, field=exc.field, value=exc.value, expected=exc.expected
        ) from None
    ts = _timestamp(_get(e, "timestamp", str, "entry.", src), "entry.timestamp", src)
    leaf_hash = _hex(_get(data, "leaf_hash", str, "", src), _HEX64, "leaf_hash", src)
    entry = Entry(seq, kind, payload, ts, leaf_hash)
    if "leaf" in data and data["leaf"] != entry.leaf_bytes().decode():
        raise BundleError(
            "the leaf text is not the canonical JSON of the entry",
            source=src,
            field="leaf",
            value=data["leaf"],
            expected=entry.leaf_bytes().decode(),
        )
    index = _get(data, "index", int, "", src)
    if index != seq:
        raise BundleError(
            "index is not the entry's seq",
            source=src,
            field="index",
            value=index,
            expected=str(seq),
        )
    th = _get(data, "tree_head", dict, "", src)
    head_size = _get(th, "size", int, "tree_head.", src)
    tree_size = _get(data, "tree_size", int, "", src)
    if tree_size != head_size:
        raise BundleError(
            "tree_size is not the tree head's size",
            source=src,
            field="tree_size",
            value=tree_size,
            expected=str(head_size),
        )
    path = _get(data, "audit_path", list, "", src)
    audit = tuple(_hex(h, _HEX64, f"audit_path[{i}]", src) for i, h in enumerate(path))
    sigs = []
    for i, s in enumerate(_get(data, "signatures", list, "", src)):
        where = f"signatures[{i}]."
        if not isinstance(s, dict):
            raise BundleError(
                "wrong type", source=src, field=where[:-1], value=s, expected="an object"
            )
        sigs.append(
            Signature(
                _get(s, "party", str, where, src),
                _hex(_get(s, "public_key", str, where, src), _HEX64, where + "public_key", src),
                _hex(_get(s, "signature", str, where, src), _HEX128, where + "signature", src),
            )
        )
    head = TreeHead(
        _get(th, "ledger_id", str, "tree_head.", src),
        head_size,
        _hex(_get(th, "root", str, "tree_head.", src), _HEX64, "tree_head.root", src),
        _timestamp(_get(th, "timestamp", str, "tree_head.", src), "tree_head.timestamp", src),
        tuple(sigs),
    )
    signed_text = data.get("signed_text")
    if signed_text is not None and not isinstance(signed_text, str):
        raise BundleError("wrong type", source=src, field="signed_text", value=signed_text,
                          expected="str")
    return ProofBundle(entry, head, audit, signed_text)
