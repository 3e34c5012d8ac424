"""The verifiable ledger: an append-only log that parties who distrust each other check alone.

Every record of a joint agreement (scenario, plan, approvals, meter readings,
safety events, statements) is appended as an entry to one SQLite file.  The
entries are the leaves of a Certificate-Transparency Merkle tree (RFC 6962 /
RFC 9162); each party signs tree heads with its own Ed25519 key.  Any party can
then, with nothing but the file and the others' public keys, recompute
everything (:func:`verify_ledger`), or check a single entry against a signed
tree head with an inclusion proof bundle (:class:`ProofBundle`).

Modules: :mod:`~gridhash.ledger.merkle` (RFC 9162 trees and proofs: the one
hasher, frontier and inclusion check), :mod:`~gridhash.ledger.signing` (keys),
:mod:`~gridhash.ledger.keyring` (each party's trust root),
:mod:`~gridhash.ledger.note` (C2SP signed notes and checkpoints),
:mod:`~gridhash.ledger.store` (the SQLite file), :mod:`~gridhash.ledger.verify`
(the full check), :mod:`~gridhash.ledger.bundle` (proof bundles),
:mod:`~gridhash.ledger.witness` (a witness that cosigns consistent
checkpoints), :mod:`~gridhash.ledger.cli` (``gridhash ledger ...``).  The
ledger knows nothing of what it records: callers hand payload checkers to
:func:`verify_ledger`.  The names below are imported on first use, so
importing the CLI stays fast.  See ``docs/ledger.md``.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = [
    "CheckContext",
    "Checkpoint",
    "Discrepancy",
    "Entry",
    "Keyring",
    "Ledger",
    "PartyKey",
    "ProofBundle",
    "PublicKey",
    "Signature",
    "TreeHead",
    "VerifyReport",
    "canonical_json",
    "generate_key",
    "load_private_key",
    "load_public_key",
    "load_public_keys",
    "verify_inclusion",
    "verify_ledger",
]

_WHERE = {
    "CheckContext": "verify",
    "Discrepancy": "verify",
    "VerifyReport": "verify",
    "verify_inclusion": "merkle",
    "verify_ledger": "verify",
    "Keyring": "keyring",
    "Checkpoint": "note",
    "Entry": "records",
    "Signature": "records",
    "TreeHead": "records",
    "Ledger": "store",
    "ProofBundle": "bundle",
    "PartyKey": "signing",
    "PublicKey": "signing",
    "generate_key": "signing",
    "load_private_key": "signing",
    "load_public_key": "signing",
    "load_public_keys": "signing",
    "canonical_json": "canonical",
}


#: Submodules: ``gridhash.ledger.verify`` is always the module, whatever was imported first.
_SUBMODULES = frozenset(
    {"bundle", "canonical", "cli", "errors", "keyring", "merkle", "note", "records", "signing",
     "store", "verify", "witness"}
)


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return import_module(f"gridhash.ledger.{name}")
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'gridhash.ledger' has no attribute {name!r}")
    value = getattr(import_module(f"gridhash.ledger.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
