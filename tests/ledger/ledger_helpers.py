"""Shared helpers of the ledger tests: keys, small ledgers, an attacker's SQL, the CLI."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from gridhash.errors import GridhashError
from gridhash.ledger import merkle
from gridhash.ledger.canonical import entry_leaf_bytes
from gridhash.ledger.signing import PartyKey, generate_key
from gridhash.ledger.store import Ledger, node_id

PARTIES = ("operator", "ua-grid")
T0 = datetime(2027, 1, 1, tzinfo=UTC)


def make_keys(folder: Path, parties: tuple[str, ...] = PARTIES) -> dict[str, PartyKey]:
    """A key pair per party in ``folder``."""
    return {p: generate_key(folder, p) for p in parties}


def meter(i: int) -> dict[str, Any]:
    """A small, realistic payload."""
    return {"hour": i, "meter": "ZNPP-U1-export", "mwh": round(812.5 + 0.25 * i, 3)}


def build(
    path: Path,
    keys: dict[str, PartyKey],
    n: int = 40,
    every: int = 10,
    tail: int = 0,
    node_stride: int | None = None,
) -> Ledger:
    """A ledger of ``n`` entries, heads signed by every key each ``every`` entries,
    then ``tail`` unsigned entries; one entry per simulated hour.  ``node_stride``:
    the store's (default: the current layout's)."""
    ledger = Ledger.create(path) if node_stride is None else Ledger.create(
        path, node_stride=node_stride
    )
    for i in range(n + tail):
        ledger.append("meter", meter(i), timestamp=T0 + timedelta(hours=i))
        if i < n and (i + 1) % every == 0:
            ledger.sign_head(keys, timestamp=T0 + timedelta(hours=i, minutes=30))
    return ledger


def tamper(path: Path, *statements: str | tuple[str, tuple[Any, ...]]) -> None:
    """Edit the file as an attacker would: drop the append-only triggers and run SQL."""
    conn = sqlite3.connect(path)
    try:
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"):
            conn.execute(f"DROP TRIGGER {name}")
        for st in statements:
            sql, args = (st, ()) if isinstance(st, str) else st
            conn.execute(sql, args)
        conn.commit()
    finally:
        conn.close()


def rows(path: Path) -> list[tuple[int, str, str, str, bytes]]:
    conn = sqlite3.connect(path)
    try:
        return list(
            conn.execute(
                "SELECT seq, kind, payload, timestamp, leaf_hash FROM entries ORDER BY seq"
            )
        )
    finally:
        conn.close()


def leaf_of(seq: int, kind: str, payload: str, ts: str) -> bytes:
    return merkle.leaf_hash(entry_leaf_bytes(seq, kind, payload.encode(), ts))


def stored_nodes(path: Path, leaves: list[bytes]) -> list[tuple[int, bytes]]:
    """``(id, hash)`` of every interior node the ledger at ``path`` keeps for ``leaves``
    (the levels its ``node_stride`` names), as its own appends would have written them."""
    with Ledger.open(path, readonly=True) as ledger:
        stores = ledger.stores
    frontier = merkle.Frontier()
    nodes = []
    for h in leaves:
        nodes += [(node_id(lv, ix), nh) for lv, ix, nh in frontier.append(h) if stores(lv)]
    return nodes


def rebuild_hashes(path: Path) -> None:
    """What a careful attacker does after editing entries: recompute every leaf hash and
    every interior node so the file is self-consistent (only signatures can still tell)."""
    entries = rows(path)
    leaves = [leaf_of(s, k, p, t) for s, k, p, t, _ in entries]
    nodes = stored_nodes(path, leaves)
    tamper(
        path,
        "DELETE FROM nodes",
        *[
            ("UPDATE entries SET leaf_hash = ? WHERE seq = ?", (h, s))
            for (s, *_), h in zip(entries, leaves, strict=True)
        ],
        *[("INSERT INTO nodes (id, hash) VALUES (?, ?)", n) for n in nodes],
    )


@dataclass
class CliResult:
    exit_code: int
    output: str


def run_ledger(*args: str) -> CliResult:
    """Invoke ``ledger_app`` as the main CLI would: GridhashError becomes its exit code."""
    from gridhash.ledger.cli import ledger_app

    result = CliRunner().invoke(ledger_app, list(args))
    exc = result.exception
    if isinstance(exc, GridhashError):
        return CliResult(exc.exit_code, result.output + f"error: {exc}\n")
    if exc is not None and not isinstance(exc, SystemExit):
        raise exc
    return CliResult(result.exit_code, result.output)
