"""Verify a ledger alone, from its file and the parties' public keys, trusting nothing in it.

:func:`verify_ledger` reads the file once, in order, and checks:

entries
    ``seq`` runs 0, 1, 2, ... without gaps (a dropped, inserted or renumbered
    entry shows as a gap or as a leaf hash that no longer matches); ``kind`` is
    well formed; timestamps never go backwards; every entry's leaf hash,
    recomputed from its ``seq``, ``kind``, ``payload`` and ``timestamp``, equals
    the one recorded when it was appended.
nodes
    every interior node the store recorded at append time equals the node
    recomputed from the entries (an entry edited together with its leaf hash
    still shows here, to within the pair of entries under the node); these
    are also what inclusion and consistency proofs are built from.
tree heads
    at each signed head of size ``N``: every expected party (each public key
    given) has signed it with *that* key, and the signature verifies over
    ``(ledger_id, size, root, timestamp)``; the root recomputed from entries
    ``0 .. N-1`` equals the signed root; sizes and timestamps never decrease;
    no head covers more entries than the ledger holds (entries removed from
    the end).  Between successive heads, the RFC 9162 consistency proof the
    ledger serves is verified against both signed roots, as a party holding
    only the older head would.
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
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from hashlib import sha256
from typing import Any

from gridhash.ledger import merkle
from gridhash.ledger.canonical import KIND_PATTERN, TIMESTAMP_PATTERN
from gridhash.ledger.errors import LedgerError, LedgerFileError, ProofError
from gridhash.ledger.records import Entry, TreeHead
from gridhash.ledger.signing import PartyKey, PublicKey, as_public_keys, fingerprint
from gridhash.ledger.signing import verify as verify_signature
from gridhash.ledger.store import Ledger

__all__ = [
    "CheckContext",
    "Checker",
    "Discrepancy",
    "VerifyReport",
    "verify_inclusion",
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
    state : dict
        Scratch space kept for the whole run and shared by all checkers (e.g.
        meter totals accumulated for a later statement).
    """

    ledger: Ledger
    heads: list[TreeHead]
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
        Largest tree size covered by a signed head (0 if none).
    parties : tuple of str
        Parties whose signatures were required (from the keys given, or the
        parties recorded in the ledger when no keys were given).
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
    latest_head: TreeHead | None = None
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
        """Entries after the largest signed head (not yet covered by any signature)."""
        return max(0, self.entries - self.signed_size)


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


def _expected_keys(
    public_keys: Mapping[str, PublicKey] | Iterable[PublicKey | PartyKey] | None,
) -> list[PublicKey] | None:
    if public_keys is None:
        return None
    keys = as_public_keys(public_keys)
    if not keys:
        raise LedgerError("no public keys given: pass None to check against the ledger's own keys")
    return keys


def _check_head(
    head: TreeHead,
    prev: TreeHead | None,
    recomputed: bytes,
    last_ts: str,
    keys: list[PublicKey] | None,
    out: _Collector,
    report: VerifyReport,
) -> None:
    """Signatures, root, size order and time of one head whose entries have all been read."""
    where = {"head": head.index, "size": head.size}
    signed = head.signed_bytes()
    sig_ok = []
    problems = []
    if keys is None:
        for sig in head.signatures:
            ok = verify_signature(sig.public_key, sig.signature, signed)
            report.signatures_checked += 1
            sig_ok.append(ok)
            if not ok:
                problems.append(
                    Discrepancy(
                        f"signature[{sig.party}]",
                        "a valid Ed25519 signature over (ledger_id, size, root, timestamp)",
                        "a signature that does not verify with the key recorded beside it",
                        "the tree head was changed after it was signed",
                        **where,
                    )
                )
        if not head.signatures:
            problems.append(
                Discrepancy(
                    "signatures",
                    "at least one signature",
                    "none",
                    "the tree head is not signed",
                    **where,
                )
            )
    else:
        for key in keys:
            sig = head.signature_by(key.party)
            if sig is None:
                sig_ok.append(False)
                problems.append(
                    Discrepancy(
                        f"signature[{key.party}]",
                        f"a signature by {key.party} (key {key.fingerprint})",
                        "none",
                        f"{key.party} has not signed this tree head",
                        **where,
                    )
                )
                continue
            if sig.public_key != key.raw:
                sig_ok.append(False)
                found = fingerprint(sig.public_key)
                problems.append(
                    Discrepancy(
                        f"signature[{key.party}].key",
                        f"key {key.fingerprint}",
                        f"key {found}",
                        f"the tree head was signed in {key.party}'s name with a different key "
                        "(re-signed by someone else)",
                        **where,
                    )
                )
                continue
            ok = key.verify(sig.signature, signed)
            report.signatures_checked += 1
            sig_ok.append(ok)
            if not ok:
                problems.append(
                    Discrepancy(
                        f"signature[{key.party}]",
                        f"a valid Ed25519 signature by {key.party} (key {key.fingerprint}) "
                        "over (ledger_id, size, root, timestamp)",
                        "a signature that does not verify",
                        "the tree head was changed after it was signed",
                        **where,
                    )
                )
    if recomputed != head.root:
        if sig_ok and not any(sig_ok):
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


def verify_ledger(
    path: str | os.PathLike[str],
    public_keys: Mapping[str, PublicKey] | Iterable[PublicKey | PartyKey] | None = None,
    checkers: Mapping[str, Checker] | None = None,
    *,
    limit: int = 100,
) -> VerifyReport:
    """Check a ledger file from scratch (see the module docstring for every check).

    Parameters
    ----------
    path : path-like
        The ledger file.  It is opened read-only.
    public_keys : mapping or iterable of PublicKey, optional
        The parties whose signature every tree head must carry.  ``None``:
        check each signature against the key recorded beside it (shows the
        heads were not altered since signing, not who signed them).
    checkers : mapping of kind to callable, optional
        ``checker(entry, context) -> list[Discrepancy]`` run on every entry of
        that kind (``"*"``: every entry), in order.
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
    keys = _expected_keys(public_keys)
    checkers = dict(checkers or {})
    ledger = Ledger.open(path, readonly=True)
    try:
        report = VerifyReport(str(path), ledger.ledger_id)
        heads = ledger.heads()
        report.tree_heads = len(heads)
        report.latest_head = heads[-1] if heads else None
        report.keys_given = keys is not None
        if keys is not None:
            report.parties = tuple(k.party for k in keys)
        else:
            report.parties = tuple(sorted({s.party for h in heads for s in h.signatures}))
        out = _Collector(report, max(1, limit))
        context = CheckContext(ledger, heads)
        try:
            _stream(ledger, heads, keys, checkers, context, out, report)
            _consistency(ledger, heads, out, report)
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


def _stream(
    ledger: Ledger,
    heads: list[TreeHead],
    keys: list[PublicKey] | None,
    checkers: dict[str, Checker],
    context: CheckContext,
    out: _Collector,
    report: VerifyReport,
) -> None:
    """One ordered pass over entries and nodes, checking heads as their size is reached."""
    conn = ledger._conn
    by_size: dict[int, list[TreeHead]] = {}
    for h in heads:
        by_size.setdefault(h.size, []).append(h)
    previous = {h.index: (heads[i - 1] if i else None, i) for i, h in enumerate(heads)}
    verified_heads: set[int] = set()

    stack: list[bytes] = []  # frontier: perfect subtree roots, largest first
    last_ts = ""  # entries' latest timestamp, for the heads' time check

    def root_now() -> bytes:
        if not stack:
            return merkle.EMPTY_ROOT
        r = stack[-1]
        for left in reversed(stack[:-1]):
            r = sha256(b"\x01" + left + r).digest()
        return r

    def heads_at(size: int) -> None:
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
            _check_head(head, before, root_now(), last_ts, keys, out, report)
            verified_heads.add(head.index)
            report.signed_size = max(report.signed_size, head.size)

    heads_at(0)

    nodes = conn.execute("SELECT id, hash FROM nodes ORDER BY id")
    stored = next(nodes, None)
    add = out.add
    h256 = sha256
    kind_ok = KIND_PATTERN.fullmatch
    ts_ok = TIMESTAMP_PATTERN.fullmatch
    any_checker = checkers.get("*")
    position = 0  # Merkle leaf index of the row being read
    expected_seq = 0
    nodes_checked = 0
    found = report.discrepancies
    last_bad = -1  # position of the latest entry or node already reported
    last_kind: Any = None
    last_ts = ""  # latest well-formed timestamp
    seen_ts: Any = None  # timestamp of the previous row (batches share one)
    rows = conn.execute("SELECT seq, kind, payload, timestamp, leaf_hash FROM entries ORDER BY seq")
    for seq, kind, payload, ts, recorded in rows:
        reported = len(found)
        if seq != expected_seq:
            if seq > expected_seq:
                gone = (
                    f"entries {expected_seq}..{seq - 1} are missing"
                    if seq - expected_seq > 1
                    else f"entry {expected_seq} is missing"
                )
            else:
                gone = "sequence numbers must start at 0"
            add(Discrepancy("seq", str(expected_seq), str(seq), gone, seq=seq))
        expected_seq = seq + 1
        if kind != last_kind:  # runs of one kind are checked once
            last_kind = kind
            if type(kind) is not str or not kind_ok(kind):
                add(
                    Discrepancy(
                        "kind",
                        "a lower-case identifier",
                        repr(kind),
                        "malformed entry kind",
                        seq=seq,
                    )
                )
        if ts != seen_ts:  # runs of one timestamp (one append_many) are checked once
            seen_ts = ts
            if type(ts) is not str or not ts_ok(ts):
                add(
                    Discrepancy(
                        "timestamp",
                        "YYYY-MM-DDTHH:MM:SS.ffffffZ",
                        repr(ts),
                        "malformed timestamp",
                        seq=seq,
                    )
                )
            elif ts < last_ts:
                add(
                    Discrepancy(
                        "timestamp",
                        f">= {last_ts} (entry {seq - 1})",
                        ts,
                        "timestamps never go backwards: entries reordered or edited",
                        seq=seq,
                    )
                )
            else:
                last_ts = ts
        try:
            data = b"".join(
                (
                    b'\x00{"kind":"',
                    kind.encode(),
                    b'","payload":',
                    payload.encode(),
                    b',"seq":',
                    str(seq).encode(),
                    b',"timestamp":"',
                    ts.encode(),
                    b'"}',
                )
            )
        except AttributeError:  # a field that is not text: hash what there is
            data = repr((kind, payload, seq, ts)).encode()
        leaf = h256(data).digest()
        if leaf != recorded:
            add(
                Discrepancy(
                    "leaf_hash",
                    _hex(recorded),
                    leaf.hex(),
                    "the entry's seq, kind, payload and timestamp no longer hash to the leaf "
                    "hash recorded when it was appended: the entry was changed, moved or inserted",
                    seq=seq,
                )
            )
        checker = checkers.get(kind) if checkers and type(kind) is str else None
        if checker is not None or any_checker is not None:
            _run_checkers(
                Entry(seq, kind, payload, ts, recorded),
                (("*", any_checker), (kind, checker)),
                context,
                report,
                add,
            )
        if len(found) != reported:
            last_bad = position
        # Frontier update, comparing each interior node made with the one recorded.  Node
        # (level, position >> level) ends at this leaf, so its id is (position << 6) | level.
        # A node over an entry or node already reported differs as a consequence: skipped.
        h = leaf
        level = 0
        n = position
        while n & 1:
            h = h256(b"\x01" + stack.pop() + h).digest()
            level += 1
            n >>= 1
            want = (position << 6) | level
            while stored is not None and stored[0] < want:
                add(_node_discrepancy(stored[0], None, None))
                stored = next(nodes, None)
            if stored is None or stored[0] != want:
                add(_node_discrepancy(want, None, h))
            else:
                if stored[1] != h and last_bad < position + 1 - (1 << level):
                    add(_node_discrepancy(want, stored[1], h))
                    last_bad = position
                nodes_checked += 1
                stored = next(nodes, None)
        stack.append(h)
        position += 1
        report.entries = position
        report.nodes_checked = nodes_checked
        if position in by_size:
            heads_at(position)
    report.entries = position
    report.nodes_checked = nodes_checked
    if stored is not None:
        add(_node_discrepancy(stored[0], None, None))
    for head in heads:
        if head.index not in verified_heads:
            add(
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


def verify_inclusion(
    leaf: bytes,
    index: int,
    audit_path: Sequence[bytes],
    tree_head: TreeHead,
    public_key: PublicKey | PartyKey | Iterable[PublicKey | PartyKey],
    *,
    prehashed: bool = False,
) -> None:
    """Check, with nothing but a tree head and public key(s), that a leaf is in the ledger.

    Parameters
    ----------
    leaf : bytes
        The entry's leaf bytes (``Entry.leaf_bytes()``), or its leaf hash when
        ``prehashed`` is True.
    index : int
        The entry's ``seq``.
    audit_path : sequence of bytes
        RFC 9162 inclusion proof for ``index`` in a tree of ``tree_head.size``.
    tree_head : TreeHead
        The signed tree head, with its signatures.
    public_key : PublicKey, or several
        Each must have a valid signature on ``tree_head`` (matched by key).
    prehashed : bool
        ``leaf`` is already the 32-byte leaf hash.

    Raises
    ------
    ProofError
        The path does not lead to the head's root, or a key has not (validly)
        signed the head.  The message says which.
    """
    keys = as_public_keys(public_key)
    if not keys:
        raise ProofError("no public key given: a tree head is only as good as who signed it")
    lh = bytes(leaf) if prehashed else merkle.leaf_hash(bytes(leaf))
    got = merkle.root_from_inclusion_proof(lh, index, tree_head.size, audit_path)
    if got is None:
        raise ProofError(
            f"entry {index}: audit path: expected {_expected_path_len(index, tree_head.size)} "
            f"hashes for a tree of size {tree_head.size}, found {len(audit_path)} "
            "(or a malformed hash or index)"
        )
    if got != tree_head.root:
        raise ProofError(
            f"entry {index}: root: expected {tree_head.root.hex()} (signed), found {got.hex()} "
            "(the audit path from this leaf leads elsewhere: the entry or path was changed)"
        )
    signed = tree_head.signed_bytes()
    for key in keys:
        sig = tree_head.signed_with(key)
        if sig is None:
            parties = ", ".join(
                f"{s.party} ({fingerprint(s.public_key)})" for s in tree_head.signatures
            )
            raise ProofError(
                f"tree head (size {tree_head.size}): signature: expected one by {key.party} "
                f"(key {key.fingerprint}), found {parties or 'no signatures'}"
            )
        if not key.verify(sig.signature, signed):
            raise ProofError(
                f"tree head (size {tree_head.size}): signature[{sig.party}]: expected a valid "
                f"signature by key {key.fingerprint}, found one that does not verify (the tree "
                "head was changed after it was signed)"
            )


def _expected_path_len(index: int, size: int) -> str:
    if not 0 <= index < size:
        return f"none (index {index} is outside the tree)"
    return str(len(merkle.inclusion_proof_from(index, size, lambda a, b: b"")))
