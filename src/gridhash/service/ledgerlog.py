"""Every state change on the ledger, exactly once: a transactional outbox.

A state change and its ledger event are written in the **same** database
transaction (:meth:`LedgerLog.record` adds a row to ``ledger_outbox`` holding
the entry's kind and canonical JSON payload).  After the commit,
:meth:`LedgerLog.flush` appends every pending event to the ledger in one
transaction.  A request returns only after its events are on the ledger.

The entry's ``seq`` is then stored beside the event, not in a transaction of
its own but in the next write transaction that records an event (or at
shutdown): one durable commit less per request.  Until then the service
remembers, in memory, which pending events are already appended.  A crash in
between leaves entries on the ledger that the database still lists as
pending; :meth:`LedgerLog.recover` (run at start-up) matches the ledger's tail
to pending events by kind and payload, so nothing is appended twice and
nothing is lost.

Tree heads are signed with the service's own Ed25519 key (``service.key`` in
the keys folder) after every change other than a meter batch, and at least
every ``head_interval_s`` while meter batches arrive; parties countersign with
``gridhash ledger sign`` on the same file.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from gridhash.ledger.canonical import canonical_json
from gridhash.ledger.signing import PRIVATE_SUFFIX, PartyKey, generate_key, load_private_key
from gridhash.ledger.store import Ledger
from gridhash.service.db import Database, LedgerEvent, to_db

SERVICE_KEY = "service"
#: Entry kinds that carry statement payloads: withheld from roles that may not read them.
STATEMENT_KINDS = frozenset({"statement", "statement_signature"})
#: Kinds that do not force a signed head on their own.
QUIET_KINDS = frozenset({"meter_batch"})


class LedgerMismatchError(RuntimeError):
    """The ledger's tail does not match the database's pending events."""


def queue_event(session: Session, kind: str, payload: Any, now: datetime) -> LedgerEvent:
    """Add a ledger event to the caller's transaction (appended after the commit)."""
    event = LedgerEvent(kind=kind, payload=canonical_json(payload).decode(), created_at=to_db(now))
    session.add(event)
    return event


def load_or_create_key(folder: Path, party: str) -> PartyKey:
    path = folder / f"{party}{PRIVATE_SUFFIX}"
    if path.exists():
        return load_private_key(path)
    folder.mkdir(parents=True, exist_ok=True)
    return generate_key(folder, party)


class LedgerLog:
    """The service's ledger file and the outbox that feeds it."""

    def __init__(self, db: Database, path: Path, keys: Path,
                 head_interval_s: float = 60.0) -> None:
        self.db = db
        self.path = path
        self.keys = keys
        self.head_interval_s = head_interval_s
        self._lock = threading.RLock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.ledger = Ledger.open(path) if path.exists() else Ledger.create(path)
        self.service_key = load_or_create_key(keys, SERVICE_KEY)
        head = self.ledger.head()
        self._head_size = head.size if head else 0
        self._head_time = time.monotonic()
        self._unsaved: dict[int, int] = {}  # event id → ledger seq, not yet stored
        self._unsaved_lock = threading.Lock()

    # ------------------------------------------------------------------ writing
    def record(self, session: Session, kind: str, payload: Any, now: datetime) -> LedgerEvent:
        """Queue a ledger entry in the caller's transaction (appended by :meth:`flush`).

        The same transaction stores the ``seq`` of events appended earlier.
        """
        with self._unsaved_lock:  # a leaf lock: the caller holds the database's write lock
            unsaved = sorted(self._unsaved.items())  # one row-lock order for every transaction
        if unsaved:
            session.execute(update(LedgerEvent), [
                {"id": event_id, "ledger_seq": seq} for event_id, seq in unsaved
            ])
        return queue_event(session, kind, payload, now)

    def flush(self) -> int:
        """Append every pending event to the ledger; returns how many were appended."""
        with self._lock:
            with self.db.read() as s:
                rows = s.execute(
                    select(LedgerEvent.id, LedgerEvent.kind, LedgerEvent.payload)
                    .where(LedgerEvent.ledger_seq.is_(None))
                    .order_by(LedgerEvent.id)
                ).all()
            # Appended events whose seq a committed transaction has stored are no longer
            # pending; the others are still waiting for their seq to be stored.
            with self._unsaved_lock:
                self._unsaved = {r[0]: self._unsaved[r[0]] for r in rows
                                 if r[0] in self._unsaved}
            pending = [r for r in rows if r[0] not in self._unsaved]
            if not pending:
                return 0
            entries = self.ledger.append_many((k, json.loads(p)) for _, k, p in pending)
            with self._unsaved_lock:
                for row, entry in zip(pending, entries, strict=True):
                    self._unsaved[row[0]] = entry.seq
            force = any(k not in QUIET_KINDS for _, k, _ in pending)
            self.sign_head(force=force)
            return len(entries)

    def save_seqs(self) -> None:
        """Store the seq of every appended event now (at shutdown)."""
        with self._lock:
            with self._unsaved_lock:
                pairs = sorted(self._unsaved.items())
            if pairs:
                self._store_seqs(pairs)
                with self._unsaved_lock:
                    self._unsaved = {}

    def _store_seqs(self, pairs: list[tuple[int, int]]) -> None:
        with self.db.write() as s:
            s.execute(
                update(LedgerEvent),
                [{"id": event_id, "ledger_seq": seq} for event_id, seq in pairs],
            )

    def sign_head(self, *, force: bool = True) -> None:
        """Sign a tree head over everything appended, when something is not yet covered."""
        with self._lock:
            size = self.ledger.size
            due = time.monotonic() - self._head_time >= self.head_interval_s
            if size > self._head_size and (force or due):
                self.ledger.sign_head({SERVICE_KEY: self.service_key})
                self._head_size = size
                self._head_time = time.monotonic()

    # ------------------------------------------------------------------ recovery
    def recover(self) -> int:
        """Match entries appended before a crash to their events; append what is left.

        Returns the number of events found already on the ledger.
        """
        with self._lock:
            self.ledger.refresh()
            with self.db.read() as s:
                known = s.scalar(select(func.max(LedgerEvent.ledger_seq)))
                pending = s.execute(
                    select(LedgerEvent.id, LedgerEvent.kind, LedgerEvent.payload)
                    .where(LedgerEvent.ledger_seq.is_(None))
                    .order_by(LedgerEvent.id)
                ).all()
            start = 0 if known is None else known + 1
            unmatched = list(pending)
            found: list[tuple[int, int]] = []
            for entry in self.ledger.entries(start):
                match = next(
                    (row for row in unmatched
                     if row[1] == entry.kind and row[2] == entry.payload_json),
                    None,
                )
                if match is None:
                    raise LedgerMismatchError(
                        f"{self.path}: entry {entry.seq} ({entry.kind}) is not an event of this "
                        "service's database; the ledger belongs to another database or was "
                        "written by something else"
                    )
                unmatched.remove(match)
                found.append((match[0], entry.seq))
            if found:
                self._store_seqs(found)
            with self._unsaved_lock:
                self._unsaved = {}
        self.flush()
        self.save_seqs()
        return len(found)

    # ------------------------------------------------------------------ reading
    def status(self) -> dict[str, Any]:
        with self._lock:
            self.ledger.refresh()
            head = self.ledger.head()
            size = self.ledger.size
            return {
                "path": str(self.path),
                "ledger_id": self.ledger.ledger_id,
                "size": size,
                "root": self.ledger.root().hex() if size else None,
                "head": None if head is None else {
                    "index": head.index,
                    "size": head.size,
                    "root": head.root.hex(),
                    "timestamp": head.timestamp,
                    "signatures": [s.party for s in head.signatures],
                },
                "unsigned_entries": size - (head.size if head else 0),
                "service_key": self.service_key.public.raw.hex(),
            }

    def entries(self, start: int, limit: int, *, reveal: bool = True) -> list[dict[str, Any]]:
        """Entries ``start ..`` (at most ``limit``); without ``reveal``, the payload of each
        statement-kind entry is withheld (its leaf hash stays, to check inclusion)."""
        with self._lock:
            self.ledger.refresh()
            stop = min(self.ledger.size, start + limit)
            if start >= stop:
                return []
            out = []
            for e in self.ledger.entries(start, stop):
                if reveal or e.kind not in STATEMENT_KINDS:
                    out.append(e.to_dict())
                else:
                    out.append({"seq": e.seq, "kind": e.kind, "timestamp": e.timestamp,
                                "payload": None, "redacted": True,
                                "leaf_hash": e.leaf_hash.hex()})
            return out

    def proof(self, seq: int, *, reveal: bool = True, role: str = "") -> dict[str, Any]:
        """An inclusion proof bundle; refused (403) for a statement-kind entry without
        ``reveal`` (a bundle carries the payload)."""
        from gridhash.service.errors import ForbiddenError

        with self._lock:
            self.ledger.refresh()
            if not reveal and self.ledger.entry(seq).kind in STATEMENT_KINDS:
                raise ForbiddenError(
                    f"entry {seq} is a statement; role {role} may not read statements",
                    role=role)
            return self.ledger.proof_bundle(seq).to_dict()

    def checkpoint(self) -> str:
        """The latest signed head as a C2SP checkpoint note (409 before the first head)."""
        from gridhash.ledger.errors import LedgerError
        from gridhash.service.errors import ConflictError

        with self._lock:
            self.ledger.refresh()
            try:
                return self.ledger.checkpoint_head().checkpoint().render()
            except LedgerError as exc:
                raise ConflictError(str(exc)) from None

    def consistency(self, first: int, second: int) -> dict[str, Any]:
        """RFC 9162 consistency proof between two tree sizes, with both roots."""
        from gridhash.service.errors import ConflictError

        with self._lock:
            self.ledger.refresh()
            size = self.ledger.size
            if not 0 <= first <= second <= size:
                raise ConflictError(
                    f"need 0 <= first <= second <= {size} (the ledger's size), got first={first}, "
                    f"second={second}", field="second")
            proof = self.ledger.consistency_proof(first, second)
            return {"first": first, "second": second,
                    "first_root": self.ledger.root(first).hex(),
                    "second_root": self.ledger.root(second).hex(),
                    "proof": [h.hex() for h in proof]}

    def close(self) -> None:
        with self._lock:
            try:
                self.flush()
                self.save_seqs()
                self.sign_head(force=True)
            finally:
                self.ledger.close()
