"""Verify a ledger alone, from its file, the verifier's keyring and its saved checkpoint.

Nothing the file says about keys is trusted: signatures (on tree heads, and,
through the checkers, on payloads) are checked against the verifier's own
:class:`~gridhash.ledger.keyring.Keyring`, and rollback or fork is caught
against a checkpoint the verifier saved earlier.

:func:`verify_ledger` reads the file once, in order, and checks:

entries
    ``seq`` runs 0, 1, 2, ... without gaps (a dropped, inserted or renumbered
    entry shows as a gap or as a leaf hash that no longer matches); ``kind`` is
    well formed; timestamps never go backwards; every entry's leaf hash,
    recomputed from its ``seq``, ``kind``, ``payload`` and ``timestamp``, equals
    the one recorded when it was appended.
nodes
    every interior node the store recorded at append time (at the levels its
    ``node_stride`` keeps) equals the node recomputed from the entries, and the
    file holds no other (an entry edited together with its leaf hash still
    shows here, to within the entries under the lowest stored node above it;
    the last entries, under no stored node yet, are held by the signed roots
    alone); these are also what inclusion and consistency proofs are built from.
tree heads
    at each signed head of size ``N``: every signature in a keyring party's
    name is by that party's keyring key and verifies over the head's
    checkpoint text; the root recomputed from entries ``0 .. N-1`` equals the
    signed root; sizes and timestamps never decrease; no head covers more
    entries than the ledger holds (entries removed from the end).  A head is
    *complete* when, besides, its valid signatures meet the keyring's rule.
    Between successive heads, the RFC 9162 consistency proof the ledger serves
    is verified against both signed roots, as a party holding only the older
    head would.
coverage
    a ledger without a tree head fails; every entry must be covered by a
    complete head, else the unsigned tail (named by its size) fails unless
    ``allow_unsigned_tail``.
checkpoint
    given a checkpoint saved earlier (signatures meeting the rule): the
    ledger's origin is the checkpoint's, it holds at least the checkpoint's
    size (else: rollback), its entries hash at that size to the checkpoint's
    root (else: fork or rewrite), and the ledger's consistency proof from the
    checkpoint to the latest complete head verifies.
checkers
    optional callables per entry kind (``"*"`` for every kind), e.g. a
    settlement checker that recomputes a statement from the meter readings
    recorded before it.

Discrepancies are reported in the order the file is read, so the first one
is the earliest point at which the ledger stops being what was signed.  For
each: where (entry ``seq`` or tree head), the field, what was expected (what
the more authoritative record commits to: the signature, the signed root, the
hash recorded at append time) and what was found (what the data now gives).

A ledger whose last append was interrupted verifies: SQLite's transaction
discards the incomplete append, so the file ends at its last complete entry.
"""

from __future__ import annotations

import itertools
import operator
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gridhash.ledger import merkle
from gridhash.ledger.canonical import (
    KIND_PATTERN,
    TIMESTAMP_PATTERN,
    entry_leaf_bytes,
    entry_leaf_bytes_many,
)
from gridhash.ledger.errors import LedgerError, LedgerFileError
from gridhash.ledger.keyring import Keyring
from gridhash.ledger.note import ORIGIN_PREFIX, Checkpoint, key_id
from gridhash.ledger.records import Entry, TreeHead
from gridhash.ledger.signing import PartyKey, PublicKey, as_public_keys, fingerprint
from gridhash.ledger.signing import verify as verify_signature
from gridhash.ledger.store import Ledger

__all__ = [
    "CheckContext",
    "Checker",
    "Discrepancy",
    "VerifyReport",
    "verify_ledger",
]


@dataclass(frozen=True)
class Discrepancy:
    """One way the ledger differs from what was recorded or signed.

    Attributes
    ----------
    field : str
        What differs: ``seq``, ``kind``, ``timestamp``, ``leaf_hash``, ``node``,
        ``root``, ``size``, ``signature[<party>]``, ``signature[<party>].key``,
        ``consistency``, or a checker's own field name.
    expected : str
        What the authoritative record (signature, signed root, hash recorded at
        append time, contiguous numbering, a checker's recomputation) requires.
    found : str
        What the ledger now holds or gives.
    message : str
        A sentence for people.
    seq : int or None
        The entry, when the discrepancy is an entry's (the first of a span).
    head : int or None
        The tree head's index, when it is a tree head's.
    size : int or None
        That tree head's size.
    last : int or None
        Last entry of a span (an interior node covers several entries).
    """

    field: str
    expected: str
    found: str
    message: str
    seq: int | None = None
    head: int | None = None
    size: int | None = None
    last: int | None = None

    @property
    def where(self) -> str:
        """``entry 3``, ``entries 6..7``, ``tree head 2 (size 300)`` or ``ledger``."""
        if self.head is not None:
            return f"tree head {self.head} (size {self.size})"
        if self.seq is not None and self.last is not None and self.last != self.seq:
            return f"entries {self.seq}..{self.last}"
        if self.seq is not None:
            return f"entry {self.seq}"
        return "ledger"

    def __str__(self) -> str:
        return (
            f"{self.where}: {self.field}: expected {self.expected}, found {self.found} "
            f"({self.message})"
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly view."""
        return {
            "where": self.where,
            "seq": self.seq,
            "head": self.head,
            "size": self.size,
            "last": self.last,
            "field": self.field,
            "expected": self.expected,
            "found": self.found,
            "message": self.message,
        }


@dataclass
class CheckContext:
    """What a checker gets beside the entry.

    Attributes
    ----------
    ledger : Ledger
        The ledger, open read-only: look up earlier entries with
        ``ledger.entry(seq)`` or ``ledger.entries(start, stop)``.
    heads : list of TreeHead
        The ledger's signed tree heads.
    keyring : Keyring or None
        The verifier's keyring: payload signatures are checked against it
        (``None`` in integrity-only mode).
    state : dict
        Scratch space kept for the whole run and shared by all checkers (e.g.
        meter totals accumulated for a later statement).
    """

    ledger: Ledger
    heads: list[TreeHead]
    keyring: Keyring | None = None
    state: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def discrepancy(
        entry: Entry, field: str, expected: Any, found: Any, message: str
    ) -> Discrepancy:
        """A discrepancy located at ``entry``."""
        return Discrepancy(field, str(expected), str(found), message, seq=entry.seq)


Checker = Callable[[Entry, CheckContext], Sequence[Discrepancy]]
"""``checker(entry, context) -> discrepancies`` (empty when the entry holds)."""


@dataclass
class VerifyReport:
    """The outcome of :func:`verify_ledger`.

    Attributes
    ----------
    path : str
        The ledger file.
    ledger_id : str
        Its id.
    entries : int
        Entries read.
    tree_heads : int
        Signed tree heads in the file.
    signed_size : int
        Largest tree size of any signed head (0 if none).
    complete_size : int
        Largest tree size of a *complete* head: root right and signatures
        meeting the keyring's rule (0 if none).
    complete_heads : set of int
        Indexes of the complete heads.
    pending : tuple of str
        Parties whose signatures the latest head still needs.
    parties : tuple of str
        The keyring's parties (or, without one, the parties recorded in the ledger).
    keyring : Keyring or None
        The keyring verified against.
    checkpoint : Checkpoint or None
        The saved checkpoint the ledger was checked against.
    root_at_checkpoint : bytes or None
        The entries' root at the checkpoint's size (recomputed).
    checkpoint_proven : bool
        An RFC 9162 consistency proof from the checkpoint to the latest
        complete head verified.
    latest_root : bytes or None
        Root of every entry (recomputed).
    keys_given : bool
        False when no public keys were given and signatures were checked
        against the keys recorded in the ledger, which shows integrity but not
        who signed.
    signatures_checked, nodes_checked, consistency_checked : int
        Counts of what was checked.
    checked : dict
        Entries passed to a checker, per kind.
    discrepancies : list of Discrepancy
        In the order found; at most ``limit``.
    truncated : bool
        True when verification stopped at ``limit`` discrepancies.
    seconds : float
        Wall time.
    """

    path: str
    ledger_id: str
    entries: int = 0
    tree_heads: int = 0
    signed_size: int = 0
    complete_size: int = 0
    complete_heads: set[int] = field(default_factory=set)
    pending: tuple[str, ...] = ()
    latest_head: TreeHead | None = None
    keyring: Keyring | None = None
    checkpoint: Checkpoint | None = None
    root_at_checkpoint: bytes | None = None
    checkpoint_proven: bool = False
    latest_root: bytes | None = None
    parties: tuple[str, ...] = ()
    keys_given: bool = True
    signatures_checked: int = 0
    nodes_checked: int = 0
    consistency_checked: int = 0
    checked: dict[str, int] = field(default_factory=dict)
    discrepancies: list[Discrepancy] = field(default_factory=list)
    truncated: bool = False
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when nothing differs."""
        return not self.discrepancies

    @property
    def first(self) -> Discrepancy | None:
        """The first discrepancy found, or None."""
        return self.discrepancies[0] if self.discrepancies else None

    @property
    def unsigned(self) -> int:
        """Entries after the largest complete head (the unsigned tail)."""
        return max(0, self.entries - self.complete_size)


class _LimitReachedError(Exception):
    pass


class _Collector:
    def __init__(self, report: VerifyReport, limit: int) -> None:
        self.report = report
        self.limit = limit

    def add(self, d: Discrepancy) -> None:
        self.report.discrepancies.append(d)
        if len(self.report.discrepancies) >= self.limit:
            self.report.truncated = True
            raise _LimitReachedError


def _hex(value: Any) -> str:
    return value.hex() if isinstance(value, bytes | bytearray) else repr(value)


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _as_keyring(
    keys: Keyring | Mapping[str, PublicKey] | Iterable[PublicKey | PartyKey] | None,
) -> Keyring | None:
    if keys is None or isinstance(keys, Keyring):
        return keys
    public = as_public_keys(keys)
    if not public:
        raise LedgerError("no public keys given: pass None to check against the ledger's own keys")
    return Keyring.of(public)


def _check_head(
    head: TreeHead,
    prev: TreeHead | None,
    recomputed: bytes,
    last_ts: str,
    keyring: Keyring | None,
    out: _Collector,
    report: VerifyReport,
) -> bool:
    """Signatures, root, size order and time of one head whose entries have all been read.

    Returns True when the head is *complete*: its root is the entries' root and
    its valid keyring signatures meet the keyring's rule (without a keyring: at
    least one signature, each valid with the key recorded beside it).
    """
    where = {"head": head.index, "size": head.size}
    problems = []
    if keyring is None:
        signed = head.signed_bytes()
        valid = 0
        for sig in head.signatures:
            ok = verify_signature(sig.public_key, sig.signature, signed)
            report.signatures_checked += 1
            valid += ok
            if not ok:
                problems.append(
                    Discrepancy(
                        f"signature[{sig.party}]",
                        "a valid Ed25519 signature over the head's checkpoint text",
                        "a signature that does not verify with the key recorded beside it",
                        "the tree head was changed after it was signed",
                        **where,
                    )
                )
        complete = valid > 0 and valid == len(head.signatures)
        any_valid = valid > 0
    else:
        check = keyring.check_head(head)
        report.signatures_checked += len(check.valid) + len(check.invalid)
        for party in check.wrong_key:
            sig = head.signature_by(party)
            assert sig is not None
            problems.append(
                Discrepancy(
                    f"signature[{party}].key",
                    f"key {keyring.keys[party].fingerprint} (keyring)",
                    f"key {fingerprint(sig.public_key)}",
                    f"the tree head was signed in {party}'s name with a key that is not "
                    f"{party}'s in the keyring (re-signed by someone else)",
                    **where,
                )
            )
        for party in check.invalid:
            problems.append(
                Discrepancy(
                    f"signature[{party}]",
                    f"a valid Ed25519 signature by {party} (key "
                    f"{keyring.keys[party].fingerprint}) over the head's checkpoint text",
                    "a signature that does not verify",
                    "the tree head was changed after it was signed",
                    **where,
                )
            )
        complete = check.complete
        any_valid = bool(check.valid)
        if head is report.latest_head:
            report.pending = check.missing
    if recomputed != head.root:
        complete = False
        if not any_valid:
            why = (
                "the recorded root differs from the entries and no valid signature covers it: "
                "the tree head was edited"
            )
        else:
            why = f"entries 0..{head.size - 1} no longer hash to the root the parties signed"
        out.add(Discrepancy("root", _hex(head.root), recomputed.hex(), why, **where))
    for d in problems:
        out.add(d)
    if prev is not None and head.size < prev.size:
        out.add(
            Discrepancy(
                "size",
                f">= {prev.size} (tree head {prev.index})",
                str(head.size),
                "tree heads must never shrink",
                **where,
            )
        )
    if prev is not None and head.timestamp < prev.timestamp:
        out.add(
            Discrepancy(
                "timestamp",
                f">= {prev.timestamp} (tree head {prev.index})",
                head.timestamp,
                "tree heads must not go back in time",
                **where,
            )
        )
    if head.size and head.timestamp < last_ts:
        out.add(
            Discrepancy(
                "timestamp",
                f">= {last_ts} (entry {head.size - 1})",
                head.timestamp,
                "a tree head cannot predate the entries it covers",
                **where,
            )
        )
    return complete and not problems


def _check_checkpoint_signatures(
    cp: Checkpoint, keyring: Keyring | None, out: _Collector
) -> None:
    """The saved checkpoint must carry valid keyring signatures meeting the rule."""
    if keyring is None:
        return
    data = cp.note.text.encode()
    valid: set[str] = set()
    for sig in cp.note.signatures:
        key = keyring.keys.get(sig.name)
        if key is None or sig.key_id != key_id(sig.name, key.raw):
            continue  # a witness's cosignature or an unknown signer: ignored
        if not key.verify(sig.signature, data):
            out.add(
                Discrepancy(
                    f"checkpoint.signature[{sig.name}]",
                    f"a valid signature by {sig.name} (key {key.fingerprint})",
                    "a signature that does not verify",
                    "the saved checkpoint was changed after it was signed",
                    size=cp.size,
                )
            )
            return
        valid.add(sig.name)
    missing = [p for p in keyring.required if p not in valid]
    if missing or len(valid) < keyring.threshold:
        out.add(
            Discrepancy(
                "checkpoint.signatures",
                f"signatures meeting the rule ({keyring.describe_rule()})",
                ", ".join(sorted(valid)) or "none",
                "the saved checkpoint is not signed as the keyring's rule requires",
                size=cp.size,
            )
        )


def verify_ledger(
    path: str | os.PathLike[str],
    keyring: Keyring | Mapping[str, PublicKey] | Iterable[PublicKey | PartyKey] | None = None,
    checkers: Mapping[str, Checker] | None = None,
    *,
    checkpoint: Checkpoint | None = None,
    allow_unsigned_tail: bool = False,
    limit: int = 100,
) -> VerifyReport:
    """Check a ledger file from scratch (see the module docstring for every check).

    Parameters
    ----------
    path : path-like
        The ledger file.  It is opened read-only.
    keyring : Keyring, or public keys, optional
        The verifier's trust root: every signature is checked against it, and
        every entry must be covered by a head whose signatures meet its rule.
        Bare public keys make a keyring in which every party is required.
        ``None`` (integrity only): check each signature against the key
        recorded beside it, which shows the heads were not altered since
        signing but not who signed them.
    checkers : mapping of kind to callable, optional
        ``checker(entry, context) -> list[Discrepancy]`` run on every entry of
        that kind (``"*"``: every entry), in order.  They get the keyring in
        ``context.keyring``.
    checkpoint : Checkpoint, optional
        A checkpoint the verifier saved earlier: the ledger must be an
        append-only extension of it (same root at its size, and an RFC 9162
        consistency proof from it to the latest complete head).
    allow_unsigned_tail : bool
        Accept entries after the latest complete head (they are reported in
        ``report.unsigned``); a ledger without any tree head still fails.
    limit : int
        Stop after this many discrepancies.

    Returns
    -------
    VerifyReport
        ``report.ok`` when everything holds, else ``report.first``.

    Raises
    ------
    LedgerFileError
        The file is missing or not a gridhash ledger.
    """
    t0 = time.perf_counter()
    ring = _as_keyring(keyring)
    checkers = dict(checkers or {})
    ledger = Ledger.open(path, readonly=True)
    try:
        report = VerifyReport(str(path), ledger.ledger_id)
        heads = ledger.heads()
        report.tree_heads = len(heads)
        report.latest_head = heads[-1] if heads else None
        report.keys_given = ring is not None
        report.keyring = ring
        report.checkpoint = checkpoint
        if ring is not None:
            report.parties = ring.parties
        else:
            report.parties = tuple(sorted({s.party for h in heads for s in h.signatures}))
        out = _Collector(report, max(1, limit))
        context = CheckContext(ledger, heads, keyring=ring)
        try:
            if checkpoint is not None:
                _check_checkpoint_signatures(checkpoint, ring, out)
                if checkpoint.origin != ORIGIN_PREFIX + ledger.ledger_id:
                    out.add(
                        Discrepancy(
                            "checkpoint.origin",
                            checkpoint.origin,
                            ORIGIN_PREFIX + ledger.ledger_id,
                            "the checkpoint is of another ledger: this file is not the "
                            "ledger it was saved from (a replacement)",
                            size=checkpoint.size,
                        )
                    )
            _stream(ledger, heads, ring, checkers, context, out, report)
            _consistency(ledger, heads, out, report)
            _coverage(report, allow_unsigned_tail, out)
            if checkpoint is not None:
                _extends_checkpoint(ledger, heads, checkpoint, out, report)
        except _LimitReachedError:
            pass
    except sqlite3.DatabaseError as exc:  # a table dropped or the file corrupted
        raise LedgerFileError(
            f"damaged ledger: {exc}", source=str(path), expected="a readable gridhash ledger"
        ) from None
    finally:
        ledger.close()
    report.seconds = time.perf_counter() - t0
    return report


def _coverage(report: VerifyReport, allow_unsigned_tail: bool, out: _Collector) -> None:
    """Every entry must be covered by a complete head (the unsigned tail is named)."""
    rule = report.keyring.describe_rule() if report.keyring else "at least one valid signature"
    if report.tree_heads == 0:
        out.add(
            Discrepancy(
                "tree_heads",
                "at least one signed tree head",
                "none",
                f"no tree head covers any of the {report.entries:,} entries: nothing in this "
                "file is signed (heads deleted, or never signed)",
            )
        )
        return
    if report.complete_size < report.entries and not allow_unsigned_tail:
        latest = report.latest_head
        pending = ""
        if latest is not None and report.pending:
            pending = (
                f"; the latest head (size {latest.size:,}) still needs "
                f"{', '.join(report.pending)}"
            )
        out.add(
            Discrepancy(
                "unsigned_tail",
                f"every entry covered by a tree head signed per the rule ({rule})",
                f"{report.unsigned:,} entries after size {report.complete_size:,}",
                f"an unsigned tail of {report.unsigned:,} entries (entries "
                f"{report.complete_size}..{report.entries - 1}) is covered by no complete head"
                f"{pending}; pass --allow-unsigned-tail to accept it",
                seq=report.complete_size,
                last=report.entries - 1,
            )
        )


def _extends_checkpoint(
    ledger: Ledger,
    heads: list[TreeHead],
    cp: Checkpoint,
    out: _Collector,
    report: VerifyReport,
) -> None:
    """The ledger must be an append-only extension of the saved checkpoint ``cp``."""
    if report.entries < cp.size:
        now = report.latest_root.hex() if report.latest_root else merkle.EMPTY_ROOT.hex()
        out.add(
            Discrepancy(
                "checkpoint",
                f"at least {cp.size:,} entries with root {cp.root.hex()} at size {cp.size:,} "
                "(saved checkpoint)",
                f"{report.entries:,} entries with root {now}",
                f"rollback: the ledger is shorter than the checkpoint saved at size {cp.size:,}; "
                "entries (and the heads over them) were removed",
                size=cp.size,
            )
        )
        return
    if report.root_at_checkpoint is not None and report.root_at_checkpoint != cp.root:
        out.add(
            Discrepancy(
                "checkpoint",
                f"root {cp.root.hex()} at size {cp.size:,} (saved checkpoint)",
                f"root {report.root_at_checkpoint.hex()} at size {cp.size:,}",
                f"fork or rewrite: the first {cp.size:,} entries are not the ones the saved "
                "checkpoint committed to",
                size=cp.size,
            )
        )
        return
    target = next((h for h in reversed(heads) if h.index in report.complete_heads), None)
    if target is None or target.size < cp.size:
        return  # nothing signed beyond the checkpoint: the root comparison above is the proof
    try:
        proof = ledger.consistency_proof(cp.size, target.size)
    except LedgerError as exc:
        proof, why = None, str(exc)
    ok = proof is not None and merkle.verify_consistency(
        cp.size, target.size, cp.root, target.root, proof
    )
    report.checkpoint_proven = ok
    if not ok:
        out.add(
            Discrepancy(
                "checkpoint.consistency",
                f"an RFC 9162 consistency proof from size {cp.size:,} (root {cp.root.hex()}) "
                f"to size {target.size:,} (root {target.root.hex()})",
                "a proof that does not verify" if proof is not None else why,
                "the latest complete head does not extend the saved checkpoint",
                head=target.index,
                size=target.size,
            )
        )


_CHUNK = 4096
_SEQ, _KIND, _PAYLOAD, _STAMP, _RECORDED = map(operator.itemgetter, range(5))  # entry columns


def _stream(
    ledger: Ledger,
    heads: list[TreeHead],
    keyring: Keyring | None,
    checkers: dict[str, Checker],
    context: CheckContext,
    out: _Collector,
    report: VerifyReport,
) -> None:
    """One ordered pass over entries and nodes, checking heads as their size is reached.

    Rows are read in chunks that end at every head's size.  A chunk is first
    checked whole (sequence numbers, kinds, timestamps, leaf hashes, interior
    nodes: list comparisons at C speed); only a chunk in which something
    differs is re-read row by row (:class:`_RowChecker`), which reports each
    discrepancy in file order exactly where it is.
    """
    conn = ledger.connection
    by_size: dict[int, list[TreeHead]] = {}
    for h in heads:
        by_size.setdefault(h.size, []).append(h)
    previous = {h.index: (heads[i - 1] if i else None, i) for i, h in enumerate(heads)}
    verified_heads: set[int] = set()
    frontier = merkle.Frontier()
    cp = report.checkpoint
    cp_size = -1 if cp is None else cp.size
    rowcheck = _RowChecker(frontier, checkers, context, report, out, ledger.node_stride)

    def heads_at(size: int) -> None:
        root = frontier.root()
        if size == cp_size:
            report.root_at_checkpoint = root
        for head in by_size.get(size, ()):
            # Heads are checked when their entries have all been read; the
            # order checks compare with the head signed just before this one.
            before, position_in_file = previous[head.index]
            if head.index != position_in_file:
                out.add(
                    Discrepancy(
                        "index",
                        str(position_in_file),
                        str(head.index),
                        "tree heads are numbered from 0 without gaps: a tree head was removed",
                        head=head.index,
                        size=head.size,
                    )
                )
            if _check_head(head, before, root, rowcheck.last_ts, keyring, out, report):
                report.complete_heads.add(head.index)
                report.complete_size = max(report.complete_size, head.size)
            verified_heads.add(head.index)
            report.signed_size = max(report.signed_size, head.size)

    heads_at(0)
    if cp_size == 0:
        report.root_at_checkpoint = merkle.EMPTY_ROOT
    stops = sorted({s for s in by_size if s > 0} | ({cp_size} if cp_size > 0 else set()))
    stop_i = 0
    rows = conn.execute("SELECT seq, kind, payload, timestamp, leaf_hash FROM entries ORDER BY seq")
    node_sql = "SELECT id, hash FROM nodes WHERE id >= ? AND id < ? ORDER BY id"
    while True:
        position = frontier.size
        while stop_i < len(stops) and stops[stop_i] <= position:
            stop_i += 1
        want = _CHUNK if stop_i == len(stops) else min(_CHUNK, stops[stop_i] - position)
        chunk = rows.fetchmany(want)
        if not chunk:
            break
        stored = conn.execute(node_sql, (position << 6, (position + len(chunk)) << 6)).fetchall()
        if not rowcheck.chunk_ok(chunk, stored):
            rowcheck.rows(chunk, stored)
        report.entries = frontier.size
        report.nodes_checked = rowcheck.nodes_checked
        if frontier.size in by_size or frontier.size == cp_size:
            heads_at(frontier.size)
    position = frontier.size
    report.entries = position
    report.nodes_checked = rowcheck.nodes_checked
    report.latest_root = frontier.root()
    for (nid,) in conn.execute("SELECT id FROM nodes WHERE id >= ? ORDER BY id", (position << 6,)):
        out.add(_node_discrepancy(nid, None, None))
    for head in heads:
        if head.index not in verified_heads:
            out.add(
                Discrepancy(
                    "size",
                    f"<= {position} (entries in the ledger)",
                    str(head.size),
                    f"the tree head covers {head.size} entries but the ledger holds {position}: "
                    "entries were removed",
                    head=head.index,
                    size=head.size,
                )
            )


class _RowChecker:
    """The entry and node checks of :func:`_stream`: whole chunks, or row by row."""

    def __init__(
        self,
        frontier: merkle.Frontier,
        checkers: dict[str, Checker],
        context: CheckContext,
        report: VerifyReport,
        out: _Collector,
        stride: int,
    ) -> None:
        self.frontier = frontier
        self.stride = stride  # interior nodes are stored at the levels that are multiples of it
        self.checkers = checkers
        self.any_checker = checkers.get("*")
        self.context = context
        self.report = report
        self.out = out
        self.expected_seq = 0
        self.last_ts = ""  # latest well-formed timestamp
        self.nodes_checked = 0
        self.last_bad = -1  # position of the latest entry or node already reported

    def _run_checkers(self, chunk: Sequence[tuple[Any, ...]]) -> None:
        checkers, any_checker = self.checkers, self.any_checker
        if not checkers:
            return
        for seq, kind, payload, ts, recorded in chunk:
            checker = checkers.get(kind) if type(kind) is str else None
            if checker is not None or any_checker is not None:
                _run_checkers(
                    Entry(seq, kind, payload, ts, recorded),
                    (("*", any_checker), (kind, checker)),
                    self.context,
                    self.report,
                    self.out.add,
                )

    def chunk_ok(self, chunk: list[tuple[Any, ...]], stored: list[tuple[int, bytes]]) -> bool:
        """Check a whole chunk at once; False (nothing changed) when anything differs.

        The same checks as :meth:`rows`, in bulk: the columns compared as
        tuples, each distinct kind and timestamp matched once, the leaf hashes
        recomputed in one comprehension, the interior nodes level by level
        (:meth:`merkle.Frontier.extend_levels`) and each level's list compared
        with the stored nodes looked up by id.
        """
        first = self.expected_seq
        n = len(chunk)
        # Each column taken out on its own (map over itemgetter): transposing the chunk with
        # zip(*chunk) cost 0.3 s a million rows, more than these checks themselves.
        if list(map(_SEQ, chunk)) != list(range(first, first + n)):
            return False
        for kind in set(map(_KIND, chunk)):
            if type(kind) is not str or not KIND_PATTERN.fullmatch(kind):
                return False
        stamps = list(map(_STAMP, chunk))
        for ts in set(stamps):
            if type(ts) is not str or not TIMESTAMP_PATTERN.fullmatch(ts):
                return False
        if stamps[0] < self.last_ts or stamps != sorted(stamps):
            return False
        try:
            "".join(map(_PAYLOAD, chunk))  # every payload is text (TypeError otherwise)
        except TypeError:
            return False
        leaves = merkle.leaf_hashes(entry_leaf_bytes_many(chunk))
        if leaves != list(map(_RECORDED, chunk)):
            return False
        by_id = dict(stored)
        if len(by_id) != len(stored):  # an id twice: only possible in a rebuilt table
            return False
        trial = self.frontier.copy()
        made = 0
        stride = self.stride
        for level, index, hashes in trial.extend_levels(leaves):
            if level % stride:
                continue  # not a stored level
            # Node (level, index + i) is filed under ((last leaf) << 6) | level.
            step = 1 << (level + 6)
            start = ((((index + 1) << level) - 1) << 6) | level
            if list(map(by_id.get, range(start, start + step * len(hashes), step))) != hashes:
                return False
            made += len(hashes)
        if made != len(by_id):  # a stored node no entry made
            return False
        # Everything holds: commit the chunk's state, then run the payload checkers in order.
        self.frontier.restore(trial)
        self.expected_seq = first + n
        self.last_ts = stamps[-1]
        self.nodes_checked += made
        self._run_checkers(chunk)
        return True

    def rows(self, chunk: list[tuple[Any, ...]], stored_nodes: list[tuple[int, bytes]]) -> None:
        """Row by row, reporting each discrepancy where it is (file order)."""
        add = self.out.add
        found = self.report.discrepancies
        nodes = iter(stored_nodes)
        stored = next(nodes, None)
        last_kind: Any = None
        seen_ts: Any = None
        for seq, kind, payload, ts, recorded in chunk:
            position = self.frontier.size
            reported = len(found)
            if seq != self.expected_seq:
                if seq > self.expected_seq:
                    gone = (
                        f"entries {self.expected_seq}..{seq - 1} are missing"
                        if seq - self.expected_seq > 1
                        else f"entry {self.expected_seq} is missing"
                    )
                else:
                    gone = "sequence numbers must start at 0"
                add(Discrepancy("seq", str(self.expected_seq), str(seq), gone, seq=seq))
            self.expected_seq = seq + 1
            if kind != last_kind:
                last_kind = kind
                if type(kind) is not str or not KIND_PATTERN.fullmatch(kind):
                    add(
                        Discrepancy(
                            "kind", "a lower-case identifier", repr(kind),
                            "malformed entry kind", seq=seq,
                        )
                    )
            if ts != seen_ts:
                seen_ts = ts
                if type(ts) is not str or not TIMESTAMP_PATTERN.fullmatch(ts):
                    add(
                        Discrepancy(
                            "timestamp", "YYYY-MM-DDTHH:MM:SS.ffffffZ", repr(ts),
                            "malformed timestamp", seq=seq,
                        )
                    )
                elif ts < self.last_ts:
                    add(
                        Discrepancy(
                            "timestamp",
                            f">= {self.last_ts} (entry {seq - 1})",
                            ts,
                            "timestamps never go backwards: entries reordered or edited",
                            seq=seq,
                        )
                    )
                else:
                    self.last_ts = ts
            try:
                leaf = merkle.leaf_hash(entry_leaf_bytes(seq, kind, payload.encode(), ts))
            except (AttributeError, TypeError):  # a field that is not text: hash what there is
                leaf = merkle.leaf_hash(repr((kind, payload, seq, ts)).encode())
            if leaf != recorded:
                add(
                    Discrepancy(
                        "leaf_hash",
                        _hex(recorded),
                        leaf.hex(),
                        "the entry's seq, kind, payload and timestamp no longer hash to the leaf "
                        "hash recorded when it was appended: the entry was changed, moved or "
                        "inserted",
                        seq=seq,
                    )
                )
            self._run_checkers([(seq, kind, payload, ts, recorded)])
            if len(found) != reported:
                self.last_bad = position
            # Compare each interior node the frontier makes with the one recorded.  Node
            # (level, index) ends at this leaf, so its id is (position << 6) | level.  A node
            # over an entry or node already reported differs as a consequence: skipped.
            for level, _index, h in self.frontier.append(leaf):
                if level % self.stride:
                    continue  # not a stored level
                want = (position << 6) | level
                while stored is not None and stored[0] < want:
                    add(_node_discrepancy(stored[0], None, None))
                    stored = next(nodes, None)
                if stored is None or stored[0] != want:
                    add(_node_discrepancy(want, None, h))
                else:
                    if stored[1] != h and self.last_bad < position + 1 - (1 << level):
                        add(_node_discrepancy(want, stored[1], h))
                        self.last_bad = position
                    self.nodes_checked += 1
                    stored = next(nodes, None)
        while stored is not None:
            add(_node_discrepancy(stored[0], None, None))
            stored = next(nodes, None)


def _run_checkers(
    entry: Entry,
    fns: tuple[tuple[str, Checker | None], ...],
    context: CheckContext,
    report: VerifyReport,
    add: Callable[[Discrepancy], None],
) -> None:
    for name, fn in fns:
        if fn is None:
            continue
        report.checked[name] = report.checked.get(name, 0) + 1
        try:
            result = list(fn(entry, context))
        except Exception as exc:  # a checker that crashes is a failed check
            result = [
                Discrepancy(
                    f"checker[{name}]",
                    "the checker to run",
                    f"{type(exc).__name__}: {_short(str(exc), 200)}",
                    "the checker raised an exception",
                    seq=entry.seq,
                )
            ]
        for d in result:
            add(d)


def _node_discrepancy(nid: int, recorded: bytes | None, found: bytes | None) -> Discrepancy:
    level = nid & 63
    last = nid >> 6
    first = last + 1 - (1 << level)
    span = f"entries {first}..{last}"
    if recorded is None and found is None:
        return Discrepancy(
            "node",
            "no node",
            f"a stored node for {span}",
            "the node index holds a node no entry made (entries were removed)",
            seq=first,
            last=last,
        )
    if recorded is None:
        return Discrepancy(
            "node",
            f"a stored node for {span}",
            "none",
            "the node index lacks a node: it was damaged",
            seq=first,
            last=last,
        )
    return Discrepancy(
        "node",
        recorded.hex(),
        _hex(found),
        f"{span} no longer hash to the interior node recorded at append time: one was "
        "changed, inserted or moved along with its leaf hash, or the node index is damaged",
        seq=first,
        last=last,
    )


def _consistency(
    ledger: Ledger, heads: list[TreeHead], out: _Collector, report: VerifyReport
) -> None:
    """Verify the ledger's consistency proof between each pair of successive heads."""
    for older, newer in itertools.pairwise(heads):
        if newer.size < older.size or newer.size > ledger.size:
            continue  # already reported
        try:
            proof = ledger.consistency_proof(older.size, newer.size)
        except LedgerError as exc:
            out.add(
                Discrepancy(
                    "consistency",
                    "a consistency proof",
                    str(exc),
                    "the ledger cannot prove this head extends the previous one",
                    head=newer.index,
                    size=newer.size,
                )
            )
            continue
        report.consistency_checked += 1
        if not merkle.verify_consistency(older.size, newer.size, older.root, newer.root, proof):
            out.add(
                Discrepancy(
                    "consistency",
                    f"tree head {older.index} (size {older.size}) to be a prefix of this one",
                    "a consistency proof that does not verify against the two signed roots",
                    "a party holding only the older head could not confirm this one extends it",
                    head=newer.index,
                    size=newer.size,
                )
            )
