"""The ledger file: one SQLite database holding an append-only log and its signed tree heads.

Schema (``PRAGMA application_id`` = 0x47484C47, "GHLG"; ``user_version`` = 1)::

    meta(key TEXT PRIMARY KEY, value TEXT)            -- format, ledger_id, created
    entries(seq INTEGER PRIMARY KEY, kind TEXT, payload TEXT,
            timestamp TEXT, leaf_hash BLOB)           -- the log; seq = Merkle leaf index
    nodes(id INTEGER PRIMARY KEY, hash BLOB)          -- perfect interior nodes, every
                                                      -- ``node_stride``-th level
    tree_heads(id INTEGER PRIMARY KEY, size INTEGER, root BLOB, timestamp TEXT)
    signatures(head_id, party, public_key BLOB, signature BLOB,
               PRIMARY KEY (head_id, party))

Triggers refuse ``UPDATE`` and ``DELETE`` on every table but ``meta``.  They
guard against accidents, not against someone who edits the file: that is what
:func:`gridhash.ledger.verify.verify_ledger` and the signatures are for.

Appends are O(log n)
    The writer keeps the tree's *frontier* (the roots of its perfect subtrees,
    one per set bit of the size).  Appending leaf ``i`` hashes it into the
    frontier and writes the perfect nodes it completes at the stored levels
    (see below) to ``nodes`` in the same transaction as the entry.  Node
    ``(level, index)``, covering leaves ``[index * 2**level, (index + 1) *
    2**level)``, is stored under ``id = (last_leaf << 6) | level`` with
    ``last_leaf = (index + 1) * 2**level - 1``: ids grow in the order nodes are
    made, so a verifier reads the table in one ordered scan beside the entries.

Interior nodes are kept at every ``node_stride``-th level
    Leaf hashes (level 0) are kept with their entries; interior nodes only at
    the levels that are multiples of ``node_stride`` (meta key
    ``node_stride``: 4 for a ledger made by this version, so about ``n / 15``
    nodes for ``n`` entries; 1, every level, for a ledger made before the key
    existed, which has no such key).  A node between stored levels is the
    Merkle root of at most ``2**(node_stride - 1)`` stored nodes (or leaf
    hashes) below it.  This is the layout of C2SP tlog-tiles, whose tiles keep
    every 8th level: the nodes are a cache that proofs are served from,
    derived from the entries and checked in full by the verifier.  Why 4: the
    verifier reads every stored node, and at 4 it reads a fifteenth of them
    (a million-entry ledger's verification drops by about a sixth), while a
    proof still needs at most 8 stored hashes per proof node, read in the
    same single query.

Proofs are O(log n) look-ups
    Every subtree an RFC 9162 proof needs is a perfect node or a fold of
    ``O(log n)`` perfect nodes (:func:`gridhash.ledger.merkle.subtree_from_perfect`),
    so an inclusion or consistency proof never rereads the log.

Durability: WAL with ``synchronous=FULL``
    Each append is one ``BEGIN IMMEDIATE`` ... ``COMMIT`` transaction.  In WAL
    mode with ``synchronous=FULL`` the WAL is fsynced at every commit, so an
    acknowledged append survives a crash or power loss, and an interrupted one
    leaves no trace (SQLite ignores WAL frames after the last commit).  WAL was
    chosen over a rollback journal because a commit costs one fsync of one
    sequential file instead of syncing the journal and the database (appends
    are several times faster), and because parties can verify a ledger while
    it is being appended to: readers see the last commit and never block the
    writer.  The price is the ``-wal`` / ``-shm`` files beside the database
    while it is open; :meth:`Ledger.close` checkpoints so a closed ledger is
    one file, and :meth:`Ledger.backup` makes a consistent single-file copy of
    a live one.  (``synchronous=NORMAL`` would be faster still, but in WAL mode
    it may lose the last commits on power loss, and an acknowledged entry
    must never go missing.)
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gridhash.ledger import merkle
from gridhash.ledger.canonical import (
    canonical_json,
    check_kind,
    entry_leaf_bytes,
    format_timestamp,
    now_timestamp,
)
from gridhash.ledger.errors import LedgerError, LedgerFileError, ProofError
from gridhash.ledger.records import Entry, Signature, TreeHead
from gridhash.ledger.signing import PartyKey

if TYPE_CHECKING:
    from gridhash.ledger.bundle import ProofBundle
    from gridhash.ledger.keyring import Keyring

__all__ = ["APPLICATION_ID", "FORMAT", "NODE_STRIDE", "SCHEMA_VERSION", "Ledger", "node_id"]

APPLICATION_ID = 0x47484C47  # "GHLG"
SCHEMA_VERSION = 1
FORMAT = "gridhash-ledger/1"
NODE_STRIDE = 4  # interior nodes kept at levels 4, 8, 12, ... (see the module docstring)
_MAX_STRIDE = 63  # a node id keeps the level in 6 bits

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE entries (
    seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    leaf_hash BLOB NOT NULL
);
CREATE TABLE nodes (id INTEGER PRIMARY KEY, hash BLOB NOT NULL);
CREATE TABLE tree_heads (
    id INTEGER PRIMARY KEY,
    size INTEGER NOT NULL,
    root BLOB NOT NULL,
    timestamp TEXT NOT NULL
);
CREATE TABLE signatures (
    head_id INTEGER NOT NULL REFERENCES tree_heads(id),
    party TEXT NOT NULL,
    public_key BLOB NOT NULL,
    signature BLOB NOT NULL,
    PRIMARY KEY (head_id, party)
) WITHOUT ROWID;
"""
_APPEND_ONLY = ("entries", "nodes", "tree_heads", "signatures")

_NODE_CACHE_LIMIT = 1 << 16


def node_id(level: int, index: int) -> int:
    """Key of perfect node ``(level, index)`` in the ``nodes`` table (``level >= 1``)."""
    return ((((index + 1) << level) - 1) << 6) | level


def _connect(path: Path, mode: str) -> sqlite3.Connection:
    uri = f"{path.resolve().as_uri()}?mode={mode}"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 10000")
    return conn


class Ledger:
    """An append-only, verifiable log in one SQLite file.

    Use :meth:`create` or :meth:`open` (also as a context manager); one
    ``Ledger`` object is for one thread.  Several processes may open the same
    file: appends serialise on SQLite's write lock and each append rereads the
    size inside its transaction, so none is lost or misnumbered.

    Examples
    --------
    >>> with Ledger.create("ledger.db") as ledger:          # doctest: +SKIP
    ...     ledger.append("meter", {"hour": "2027-01-01T00Z", "mwh": 812.5})
    ...     head = ledger.sign_head(load_keys("keys/"))
    """

    def __init__(self, conn: sqlite3.Connection, path: Path, *, readonly: bool) -> None:
        self._conn = conn
        self.path = path
        self.readonly = readonly
        meta = dict(conn.execute("SELECT key, value FROM meta"))
        self.ledger_id: str = meta["ledger_id"]
        self.created: str = meta.get("created", "")
        stride = meta.get("node_stride", "1")  # absent: a ledger that kept every level
        if not (stride.isdigit() and 1 <= int(stride) <= _MAX_STRIDE):
            raise KeyError(f"meta node_stride {stride!r}: expected an integer in 1..{_MAX_STRIDE}")
        self.node_stride: int = int(stride)
        """Interior nodes are stored at the levels that are multiples of this."""
        self._size = 0
        self._frontier_cache: merkle.Frontier | None = merkle.Frontier()
        self._last_ts = ""
        self._node_cache: dict[tuple[int, int], bytes] = {}
        self._sync()

    # ------------------------------------------------------------------ opening
    @classmethod
    def create(cls, path: str | os.PathLike[str], *, node_stride: int = NODE_STRIDE) -> Ledger:
        """Create a new, empty ledger file.

        Parameters
        ----------
        path : path-like
            The new file.
        node_stride : int
            Keep interior nodes at every ``node_stride``-th level (default
            :data:`NODE_STRIDE`; 1 keeps every level, as ledgers made before
            this option did).

        Raises
        ------
        LedgerFileError
            The file already exists or cannot be created.
        """
        file = Path(path)
        if file.exists():
            raise LedgerFileError(
                "file already exists", source=str(file), expected="a path for a new ledger"
            )
        if not (type(node_stride) is int and 1 <= node_stride <= _MAX_STRIDE):
            raise LedgerError(
                f"node_stride {node_stride!r}: expected an integer in 1..{_MAX_STRIDE}"
            )
        try:
            conn = _connect(file, "rwc")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            for table in _APPEND_ONLY:
                for action in ("UPDATE", "DELETE"):
                    conn.execute(
                        f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
                    )
            conn.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [
                    ("format", FORMAT),
                    ("ledger_id", str(uuid.uuid4())),
                    ("created", now_timestamp()),
                    ("node_stride", str(node_stride)),
                ],
            )
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise LedgerFileError(f"cannot create ledger: {exc}", source=str(file)) from None
        return cls(conn, file, readonly=False)

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, readonly: bool = False) -> Ledger:
        """Open an existing ledger file.

        Parameters
        ----------
        path : path-like
            The ledger file.
        readonly : bool
            Open for reading only (verification); appends and signing then raise.

        Raises
        ------
        LedgerFileError
            The file does not exist, is not a SQLite database, or is not a gridhash ledger.
        """
        file = Path(path)
        if not file.is_file():
            raise LedgerFileError("ledger file not found", source=str(file))
        # A read-only SQLite connection to a WAL database leaves -wal and -shm
        # files behind (it may create them but not remove them), so a reader
        # that can write opens read-write with query_only set: no statement
        # can change the ledger, and the last connection to close tidies up.
        mode = "rw"
        if readonly and not (os.access(file, os.W_OK) and os.access(file.parent, os.W_OK)):
            mode = "ro"
        try:
            conn = _connect(file, mode)
            if readonly:
                conn.execute("PRAGMA query_only = ON")
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.Error as exc:
            raise LedgerFileError(
                f"cannot read as SQLite: {exc}",
                source=str(file),
                expected="a gridhash ledger (SQLite database)",
            ) from None
        if app_id != APPLICATION_ID:
            conn.close()
            raise LedgerFileError(
                "not a gridhash ledger",
                source=str(file),
                value=f"application_id {app_id:#x}",
                expected=f"application_id {APPLICATION_ID:#x} (made by Ledger.create)",
            )
        if version != SCHEMA_VERSION:
            conn.close()
            raise LedgerFileError(
                "unsupported ledger version",
                source=str(file),
                value=version,
                expected=str(SCHEMA_VERSION),
            )
        if not readonly:
            conn.execute("PRAGMA synchronous = FULL")
        try:
            return cls(conn, file, readonly=readonly)
        except (sqlite3.Error, KeyError) as exc:
            conn.close()
            raise LedgerFileError(f"damaged ledger: {exc}", source=str(file)) from None

    def close(self) -> None:
        """Checkpoint the WAL into the database file (when writable) and close."""
        if self._conn is None:
            return
        try:
            if not self.readonly:
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass  # another connection is reading; SQLite checkpoints when the last one closes
        finally:
            self._conn.close()
            self._conn = None  # type: ignore[assignment]

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def backup(self, destination: str | os.PathLike[str]) -> Path:
        """A consistent single-file copy of the ledger (safe while others append)."""
        dest = Path(destination)
        if dest.exists():
            raise LedgerFileError(
                "file already exists", source=str(dest), expected="a path for the copy"
            )
        target = sqlite3.connect(dest)
        try:
            self._conn.backup(target)
            target.execute("PRAGMA journal_mode = DELETE")
        finally:
            target.close()
        return dest

    # ------------------------------------------------------------------ state
    def _sync(self) -> None:
        """Bring the cached size, frontier and last timestamp up to what the file holds."""
        row = self._conn.execute(
            "SELECT seq, timestamp FROM entries ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        size = 0 if row is None else row[0] + 1
        if size != self._size:
            self._size = size
            self._frontier_cache = None  # rebuilt from stored nodes when next needed
        head = self._conn.execute(
            "SELECT timestamp FROM tree_heads ORDER BY id DESC LIMIT 1"
        ).fetchone()
        self._last_ts = max(row[1] if row else "", head[0] if head else "")

    @property
    def _frontier(self) -> merkle.Frontier:
        """The tree's frontier, read from the stored nodes (``O(log n)``) when not cached."""
        if self._frontier_cache is None or self._frontier_cache.size != self._size:
            size = self._size
            keys = merkle.perfect_subtrees(0, size)
            self._prefetch(keys)
            hashes = [self._node(level, index) for level, index in keys]
            self._frontier_cache = merkle.Frontier(size, hashes)
        return self._frontier_cache

    @property
    def connection(self) -> sqlite3.Connection:
        """The SQLite connection (the verifier streams the tables through it)."""
        if self._conn is None:
            raise LedgerError(f"{self.path}: ledger is closed")
        return self._conn

    @property
    def size(self) -> int:
        """Number of entries (as of this object's last read or write)."""
        return self._size

    def __len__(self) -> int:
        return self.size

    def refresh(self) -> int:
        """Reread the size from the file (another process may have appended); returns it."""
        self._sync()
        return self.size

    def stores(self, level: int) -> bool:
        """Whether perfect nodes of ``level`` are kept in the file (level 0: the leaf hashes)."""
        return level % self.node_stride == 0

    def _node(self, level: int, index: int) -> bytes:
        """Hash of perfect subtree ``(level, index)``: a stored leaf hash or interior node, or
        the root of the stored ones below it (between stored levels)."""
        key = (level, index)
        cached = self._node_cache.get(key)
        if cached is not None:
            return cached
        below = level % self.node_stride
        if below:
            self._prefetch([key])
            first = index << below
            under = [self._node(level - below, i) for i in range(first, first + (1 << below))]
            h = merkle.root(under)
            self._cache(key, h)
            return h
        if level == 0:
            row = self._conn.execute(
                "SELECT leaf_hash FROM entries WHERE seq = ?", (index,)
            ).fetchone()
        else:
            row = self._conn.execute(
                "SELECT hash FROM nodes WHERE id = ?", (node_id(level, index),)
            ).fetchone()
        if row is None:
            first = index << level
            raise LedgerError(
                f"{self.path}: the ledger's node index is damaged: no hash for entries "
                f"{first}..{first + (1 << level) - 1} (level {level}, index {index})"
            )
        self._cache(key, row[0])
        return row[0]

    def _cache(self, key: tuple[int, int], h: bytes) -> None:
        if len(self._node_cache) >= _NODE_CACHE_LIMIT:
            self._node_cache.clear()
        self._node_cache[key] = h

    # ------------------------------------------------------------------ writing
    def _writable(self) -> None:
        if self.readonly:
            raise LedgerError(f"{self.path}: opened read-only")
        if self._conn is None:
            raise LedgerError(f"{self.path}: ledger is closed")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._writable()
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            self._sync()
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            self._node_cache.clear()
            self._sync()
            raise

    def _timestamp(self, when: datetime | None) -> str:
        if when is None:
            # Never go backwards, even if the clock does: verification checks the order.
            return max(now_timestamp(), self._last_ts)
        ts = format_timestamp(when)
        if ts < self._last_ts:
            raise LedgerError(
                f"{self.path}: timestamp {ts} is earlier than the ledger's last ({self._last_ts}); "
                "ledger timestamps never go backwards"
            )
        return ts

    def append(self, kind: str, payload: Any, *, timestamp: datetime | None = None) -> Entry:
        """Append one entry in its own transaction; durable when this returns.

        Parameters
        ----------
        kind : str
            Lower-case identifier (``meter``, ``plan``, ``safety_event``, ...).
        payload : Any
            A JSON value; recorded as canonical JSON.
        timestamp : datetime, optional
            Record time (aware); default now.  Must not precede the last entry's.

        Returns
        -------
        Entry
            The entry as recorded, with its ``seq`` and leaf hash.
        """
        return self.append_many([(kind, payload)], timestamp=timestamp)[0]

    def append_many(
        self,
        items: Iterable[tuple[str, Any]],
        *,
        timestamp: datetime | None = None,
        sign: Mapping[str, PartyKey] | Iterable[PartyKey] | PartyKey | None = None,
    ) -> list[Entry]:
        """Append several ``(kind, payload)`` entries in ONE transaction (all or none).

        They share one timestamp.  See :meth:`append`.  With ``sign``, a tree
        head over everything (these entries included) is signed with those keys
        in the same transaction: the entries are never committed without it.
        """
        prepared = [(check_kind(kind), canonical_json(payload)) for kind, payload in items]
        if not prepared:
            return []
        parties = None if sign is None else _key_list(sign)
        with self._transaction() as conn:
            ts = self._timestamp(timestamp)
            frontier = self._frontier.copy()
            seq = frontier.size
            entries: list[Entry] = []
            rows = []
            nodes: list[tuple[int, bytes]] = []
            stores = self.stores

            def record(level: int, index: int, h: bytes) -> None:
                if stores(level):
                    nodes.append((node_id(level, index), h))

            for kind, payload in prepared:
                leaf = merkle.leaf_hash(entry_leaf_bytes(seq, kind, payload, ts))
                text = payload.decode()
                rows.append((seq, kind, text, ts, leaf))
                entries.append(Entry(seq, kind, text, ts, leaf))
                frontier.append(leaf, record)
                seq += 1
            conn.executemany(
                "INSERT INTO entries (seq, kind, payload, timestamp, leaf_hash) "
                "VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            conn.executemany("INSERT INTO nodes (id, hash) VALUES (?, ?)", nodes)
            if parties is not None:
                self._insert_head(conn, frontier.size, frontier.root(), ts, parties)
        self._frontier_cache = frontier
        self._size = frontier.size
        self._last_ts = ts
        return entries

    def _insert_head(
        self, conn: sqlite3.Connection, size: int, root: bytes, ts: str, parties: list[PartyKey]
    ) -> TreeHead:
        index = conn.execute("SELECT COALESCE(MAX(id) + 1, 0) FROM tree_heads").fetchone()[0]
        head = TreeHead(self.ledger_id, size, root, ts, index=index)
        sigs = tuple(head.sign(k) for k in parties)
        conn.execute(
            "INSERT INTO tree_heads (id, size, root, timestamp) VALUES (?, ?, ?, ?)",
            (index, size, root, ts),
        )
        conn.executemany(
            "INSERT INTO signatures (head_id, party, public_key, signature) VALUES (?, ?, ?, ?)",
            [(index, s.party, s.public_key, s.signature) for s in sigs],
        )
        return TreeHead(self.ledger_id, size, root, ts, sigs, index)

    def sign_head(
        self,
        keys: Mapping[str, PartyKey] | Iterable[PartyKey] | PartyKey,
        *,
        timestamp: datetime | None = None,
    ) -> TreeHead:
        """Sign a tree head over every entry now in the ledger, with each key given.

        Parameters
        ----------
        keys : PartyKey, or a mapping or iterable of them
            Every party signing now (others can add theirs with :meth:`cosign`).
        timestamp : datetime, optional
            Signing time; default now.

        Returns
        -------
        TreeHead
            The head as stored, with its signatures and ``index``.
        """
        parties = _key_list(keys)
        with self._transaction() as conn:
            ts = self._timestamp(timestamp)
            head = self._insert_head(conn, self.size, self._frontier.root(), ts, parties)
        self._last_ts = ts
        return head

    def entries_of_kind(self, kind: str) -> Iterator[Entry]:
        """Every entry of ``kind``, in order (streamed)."""
        for row in self.connection.execute(
            "SELECT seq, kind, payload, timestamp, leaf_hash FROM entries WHERE kind = ? "
            "ORDER BY seq",
            (kind,),
        ):
            yield Entry(*row)

    def cosign(
        self,
        keys: Mapping[str, PartyKey] | Iterable[PartyKey] | PartyKey,
        head_index: int | None = None,
    ) -> TreeHead:
        """Add signatures to an existing tree head (default: the latest).

        Before signing, the head's root is recomputed from the ledger's stored
        hashes; run :func:`gridhash.ledger.verify.verify_ledger` first to check
        the entries themselves.  A party that already signed with the same key
        is skipped; with a different key, it is an error.
        """
        parties = _key_list(keys)
        with self._transaction() as conn:
            head = self._head_at(head_index)
            if head.size > self.size or self.root(head.size) != head.root:
                raise LedgerError(
                    f"{self.path}: tree head {head.index} (size {head.size}) does not match "
                    "the ledger's entries; verify the ledger before signing"
                )
            new = []
            for key in parties:
                old = head.signature_by(key.party)
                if old is None:
                    new.append(head.sign(key))
                elif old.public_key != key.public.raw:
                    raise LedgerError(
                        f"{self.path}: party {key.party!r} already signed tree head {head.index} "
                        f"with another key"
                    )
            conn.executemany(
                "INSERT INTO signatures (head_id, party, public_key, signature) "
                "VALUES (?, ?, ?, ?)",
                [(head.index, s.party, s.public_key, s.signature) for s in new],
            )
        return TreeHead(
            head.ledger_id,
            head.size,
            head.root,
            head.timestamp,
            head.signatures + tuple(new),
            head.index,
        )

    # ------------------------------------------------------------------ reading
    def entries(self, start: int = 0, stop: int | None = None) -> Iterator[Entry]:
        """Entries with ``start <= seq < stop``, in order (streamed)."""
        sql = "SELECT seq, kind, payload, timestamp, leaf_hash FROM entries WHERE seq >= ?"
        args: tuple[int, ...] = (start,)
        if stop is not None:
            sql += " AND seq < ?"
            args = (start, stop)
        for row in self._conn.execute(sql + " ORDER BY seq", args):
            yield Entry(*row)

    def entry(self, seq: int) -> Entry:
        """The entry at ``seq``.

        Raises
        ------
        LedgerError
            No such entry.
        """
        row = self._conn.execute(
            "SELECT seq, kind, payload, timestamp, leaf_hash FROM entries WHERE seq = ?", (seq,)
        ).fetchone()
        if row is None:
            raise LedgerError(f"{self.path}: no entry {seq} (the ledger has {self.size} entries)")
        return Entry(*row)

    def heads(self) -> list[TreeHead]:
        """Every signed tree head, oldest first, with its signatures."""
        sigs: dict[int, list[Signature]] = {}
        for head_id, party, key, sig in self._conn.execute(
            "SELECT head_id, party, public_key, signature FROM signatures ORDER BY head_id, party"
        ):
            sigs.setdefault(head_id, []).append(Signature(party, key, sig))
        return [
            TreeHead(self.ledger_id, size, root, ts, tuple(sigs.get(i, ())), i)
            for i, size, root, ts in self._conn.execute(
                "SELECT id, size, root, timestamp FROM tree_heads ORDER BY id"
            )
        ]

    def _head_at(self, index: int | None) -> TreeHead:
        heads = self.heads()
        if not heads:
            raise LedgerError(f"{self.path}: the ledger has no signed tree head yet")
        if index is None:
            return heads[-1]
        if not 0 <= index < len(heads):
            raise LedgerError(f"{self.path}: no tree head {index} (the ledger has {len(heads)})")
        return heads[index]

    def head(self) -> TreeHead | None:
        """The latest signed tree head, or None before the first."""
        heads = self.heads()
        return heads[-1] if heads else None

    def head_covering(self, seq: int, size: int | None = None) -> TreeHead:
        """The latest signed head that covers entry ``seq`` (of exactly ``size``, if given).

        Raises
        ------
        LedgerError
            No signed head covers the entry (or none has that size).
        """
        heads = [h for h in self.heads() if h.size > seq and (size is None or h.size == size)]
        if not heads:
            latest = self.head()
            got = "no signed tree head" if latest is None else f"latest head has size {latest.size}"
            want = f" of size {size}" if size is not None else ""
            raise LedgerError(
                f"{self.path}: entry {seq} is not covered by a signed tree head{want} ({got}); "
                "sign a tree head first"
            )
        return heads[-1]

    def checkpoint_head(self, keyring: Keyring | None = None) -> TreeHead:
        """The head a checkpoint is served from: the latest one (the latest *complete* one,
        given a keyring), after checking its root is the entries' root at its size.

        Raises
        ------
        LedgerError
            No such head.
        ProofError
            The entries no longer hash to its root (exit code 1).
        """
        heads = self.heads()
        if keyring is not None:
            heads = [h for h in heads if keyring.check_head(h).complete]
        if not heads:
            rule = f" signed as the keyring requires ({keyring.describe_rule()})" if keyring else ""
            raise LedgerError(f"{self.path}: no tree head{rule} yet")
        head = heads[-1]
        now = self.root(head.size) if head.size <= self.size else None
        if now != head.root:
            raise ProofError(
                f"{self.path}: tree head {head.index} (size {head.size}): root: expected "
                f"{head.root.hex()} (signed), found "
                f"{now.hex() if now else f'only {self.size} entries'}: refusing to serve it"
            )
        return head

    def root(self, size: int | None = None) -> bytes:
        """RFC 9162 root of the first ``size`` entries (default all), from stored nodes."""
        size = self.size if size is None else size
        self._check_size(size)
        if size == self.size:
            return self._frontier.root()
        self._prefetch(merkle.perfect_subtrees(0, size))
        return merkle.subtree_from_perfect(self._node)(0, size)

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise LedgerError(
                f"{self.path}: tree size {size} is outside 0..{self.size} (entries in the ledger)"
            )

    def inclusion_proof(self, seq: int, tree_size: int | None = None) -> list[bytes]:
        """RFC 9162 audit path of entry ``seq`` in a tree of ``tree_size`` entries (default all)."""
        tree_size = self.size if tree_size is None else tree_size
        self._check_size(tree_size)
        if not 0 <= seq < tree_size:
            raise LedgerError(f"{self.path}: entry {seq} is not in a tree of size {tree_size}")
        return self._proof(merkle.inclusion_proof_from, seq, tree_size)

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        """RFC 9162 consistency proof from tree size ``first`` to ``second`` (default all)."""
        second = self.size if second is None else second
        self._check_size(second)
        if not 0 <= first <= second:
            raise LedgerError(f"{self.path}: need 0 <= first <= second, got {first}, {second}")
        return self._proof(merkle.consistency_proof_from, first, second)

    def _proof(self, make: Any, a: int, b: int) -> list[bytes]:
        """``make(a, b, subtree)`` over the stored nodes, read in two queries: a first pass
        of the RFC's recursion only lists the perfect nodes it needs."""
        needed: list[tuple[int, int]] = []

        def listing(start: int, end: int) -> bytes:
            needed.extend(merkle.perfect_subtrees(start, end))
            return merkle.EMPTY_ROOT

        make(a, b, listing)
        self._prefetch(needed)
        return make(a, b, merkle.subtree_from_perfect(self._node))

    def _prefetch(self, keys: Iterable[tuple[int, int]]) -> None:
        """Cache the stored hashes that perfect nodes ``keys`` (``(level, index)``; level 0: a
        leaf hash) need and the cache lacks: the node itself at a stored level, else the
        stored ones below it.  One missing from the file stays uncached (``_node`` names it)."""
        cache = self._node_cache
        stride = self.node_stride
        stored: set[tuple[int, int]] = set()
        for level, index in keys:
            if (level, index) in cache:
                continue
            below = level % stride
            if below:
                first = index << below
                stored.update((level - below, i) for i in range(first, first + (1 << below)))
            else:
                stored.add((level, index))
        missing = {k for k in stored if k not in cache}
        if not missing:
            return
        if len(cache) + len(missing) > _NODE_CACHE_LIMIT:
            cache.clear()
            missing = stored
        by_id = {node_id(level, index): (level, index) for level, index in missing if level}
        leaves = [index for level, index in missing if not level]
        for sql, wanted, key in (
            ("SELECT id, hash FROM nodes WHERE id IN ({})", list(by_id), by_id.__getitem__),
            ("SELECT seq, leaf_hash FROM entries WHERE seq IN ({})", leaves, lambda s: (0, s)),
        ):
            if wanted:
                query = sql.format(",".join("?" * len(wanted)))
                for found, h in self._conn.execute(query, wanted):
                    cache[key(found)] = h

    def proof_bundle(self, seq: int, tree_size: int | None = None) -> ProofBundle:
        """A self-contained inclusion proof of entry ``seq`` under a signed tree head.

        Uses the latest signed head covering the entry, or the one of exactly
        ``tree_size`` entries.  See :class:`gridhash.ledger.bundle.ProofBundle`.
        """
        from gridhash.ledger.bundle import ProofBundle

        entry = self.entry(seq)
        head = self.head_covering(seq, tree_size)
        roots = {h.root for h in self.heads() if h.size == head.size}
        now = self.root(head.size)
        if roots != {now}:
            signed = ", ".join(sorted(r.hex() for r in roots))
            raise ProofError(
                f"{self.path}: tree head of size {head.size}: root: expected {signed} "
                f"(signed), found {now.hex()} (the ledger's entries now hash to another root "
                "at that size, or heads of that size disagree): refusing to serve a proof"
            )
        return ProofBundle(entry, head, tuple(self.inclusion_proof(seq, head.size)))


def _key_list(keys: Mapping[str, PartyKey] | Iterable[PartyKey] | PartyKey) -> list[PartyKey]:
    if isinstance(keys, PartyKey):
        out = [keys]
    elif isinstance(keys, Mapping):
        out = list(keys.values())
    else:
        out = list(keys)
    if not out:
        raise LedgerError("no signing keys given: a tree head needs at least one signature")
    parties = [k.party for k in out]
    if len(set(parties)) != len(parties):
        raise LedgerError(f"a party appears twice among the signing keys: {sorted(parties)}")
    return out
