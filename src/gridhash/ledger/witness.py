"""A witness: keeps every checkpoint of a ledger it has seen, cosigns only consistent ones.

A party (or anyone the parties agree on) runs ``gridhash ledger witness``
against a ledger file or a service URL.  Each run:

1. fetches the ledger's latest checkpoint (a C2SP signed note, see
   :mod:`gridhash.ledger.note`) and, given a keyring, checks the parties'
   signatures on it meet the rule;
2. compares it with the last checkpoint it cosigned: the same origin, never a
   smaller tree (rollback), the same root at the same size (fork), and for a
   larger tree an RFC 9162 consistency proof fetched from the ledger and
   verified against both roots;
3. if consistent, adds its own cosignature line (https://c2sp.org/tlog-cosignature,
   Ed25519) and stores the checkpoint in its state directory; otherwise it
   raises :class:`WitnessAlarmError` (exit code 1) naming the sizes and both roots,
   and stores nothing.

State directory: ``checkpoints/<size>.txt`` for every checkpoint cosigned and
``latest.txt``.  Two witnesses shown two diverging copies of one ledger catch
the split view by comparing their states (:func:`compare_states`): any size
both have seen must have one root, and their latest checkpoints must be
consistent (proved from this witness's ledger when its tree is the larger).
"""

from __future__ import annotations

import json
import os
import struct
import time
import urllib.parse
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gridhash.ledger import merkle
from gridhash.ledger.errors import LedgerError, LedgerFileError
from gridhash.ledger.keyring import Keyring
from gridhash.ledger.note import (
    COSIGNATURE_TYPE,
    Checkpoint,
    NoteSignature,
    SignedNote,
    cosignature_message,
    key_id,
)
from gridhash.ledger.signing import PartyKey

__all__ = [
    "FileSource",
    "LogSource",
    "UrlSource",
    "WitnessAlarmError",
    "WitnessResult",
    "compare_states",
    "cosign",
    "open_source",
    "witness",
]


class WitnessAlarmError(LedgerError):
    """The ledger showed a checkpoint inconsistent with one the witness saw: exit code 1."""

    exit_code = 1


class LogSource(ABC):
    """Where a witness reads a ledger's checkpoints and consistency proofs (a file or
    the service's endpoints)."""

    name: str

    @abstractmethod
    def checkpoint(self) -> str:
        """The latest checkpoint note's text."""

    @abstractmethod
    def consistency(self, first: int, second: int) -> list[bytes]:
        """RFC 9162 consistency proof between two tree sizes."""


@dataclass
class FileSource(LogSource):
    """A ledger file on this machine (opened read-only for each request)."""

    path: Path
    keyring: Keyring | None = None

    @property
    def name(self) -> str:  # type: ignore[override]
        return str(self.path)

    def checkpoint(self) -> str:
        from gridhash.ledger.store import Ledger

        with Ledger.open(self.path, readonly=True) as ledger:
            return ledger.checkpoint_head(self.keyring).checkpoint().render()

    def consistency(self, first: int, second: int) -> list[bytes]:
        from gridhash.ledger.store import Ledger

        with Ledger.open(self.path, readonly=True) as ledger:
            return ledger.consistency_proof(first, second)


@dataclass
class UrlSource(LogSource):
    """A gridhash service: ``GET /api/ledger/checkpoint`` and ``GET /api/ledger/consistency``."""

    url: str
    timeout_s: float = 10.0

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.url

    def _get(self, path: str) -> bytes:
        url = self.url.rstrip("/") + path
        try:
            with urllib.request.urlopen(url, timeout=self.timeout_s) as resp:
                return resp.read(1 << 20)
        except OSError as exc:
            raise LedgerFileError(f"cannot fetch {url}: {exc}", source=url) from None

    def checkpoint(self) -> str:
        return self._get("/api/ledger/checkpoint").decode()

    def consistency(self, first: int, second: int) -> list[bytes]:
        query = urllib.parse.urlencode({"first": first, "second": second})
        data = json.loads(self._get(f"/api/ledger/consistency?{query}"))
        return [bytes.fromhex(h) for h in data["proof"]]


def open_source(where: str, keyring: Keyring | None = None) -> LogSource:
    """A :class:`UrlSource` for ``http(s)://...``, else a :class:`FileSource`."""
    if where.startswith(("http://", "https://")):
        return UrlSource(where)
    return FileSource(Path(where), keyring)


@dataclass(frozen=True)
class WitnessResult:
    """What one witness run did."""

    checkpoint: Checkpoint
    previous: Checkpoint | None
    action: str  # "first" | "extended" | "unchanged"
    note: str  # the cosigned checkpoint as stored


def _state_files(state: Path) -> dict[int, Path]:
    folder = state / "checkpoints"
    out = {}
    if folder.is_dir():
        for p in folder.glob("*.txt"):
            if p.stem.isdigit():
                out[int(p.stem)] = p
    return out


def load_state(state: Path) -> dict[int, Checkpoint]:
    """Every checkpoint a witness stored, by size."""
    return {
        size: Checkpoint.parse(p.read_text(encoding="utf-8"), source=str(p))
        for size, p in sorted(_state_files(state).items())
    }


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def cosign(cp: Checkpoint, key: PartyKey, when: int | None = None) -> SignedNote:
    """``cp``'s note with ``key``'s cosignature line added (an old one by ``key`` replaced)."""
    ts = int(time.time()) if when is None else when
    raw = key.public.raw
    kid = key_id(key.party, raw, COSIGNATURE_TYPE)
    sig = key.sign(cosignature_message(cp.note.text, ts))
    keep = tuple(s for s in cp.note.signatures if not (s.name == key.party and s.key_id == kid))
    line = NoteSignature(key.party, kid, struct.pack(">Q", ts) + sig)
    return SignedNote(cp.note.text, (*keep, line))


def _alarm(kind: str, old: Checkpoint, new: Checkpoint, detail: str) -> WitnessAlarmError:
    return WitnessAlarmError(
        f"ALARM ({kind}): {detail}: seen size {old.size} root {old.root.hex()}, now shown "
        f"size {new.size} root {new.root.hex()} (origin {new.origin})"
    )


def check_signatures(cp: Checkpoint, keyring: Keyring) -> None:
    """Raise :class:`WitnessAlarmError` unless the parties' signatures on ``cp`` meet the rule."""
    data = cp.note.text.encode()
    valid = set()
    for sig in cp.note.signatures:
        key = keyring.keys.get(sig.name)
        if key is not None and sig.key_id == key_id(sig.name, key.raw):
            if not key.verify(sig.signature, data):
                raise WitnessAlarmError(
                    f"ALARM (bad signature): checkpoint size {cp.size} root {cp.root.hex()}: "
                    f"{sig.name}'s signature does not verify"
                )
            valid.add(sig.name)
    if any(p not in valid for p in keyring.required) or len(valid) < keyring.threshold:
        raise WitnessAlarmError(
            f"checkpoint size {cp.size} root {cp.root.hex()} is not signed as the keyring "
            f"requires ({keyring.describe_rule()}); signed by {', '.join(sorted(valid)) or 'none'}"
        )


def witness(
    source: LogSource,
    state: Path,
    key: PartyKey,
    keyring: Keyring | None = None,
    *,
    now: Callable[[], float] = time.time,
) -> WitnessResult:
    """One witness run (see the module docstring).

    Raises
    ------
    WitnessAlarmError
        Rollback, fork, a failed consistency proof, another ledger, or bad signatures.
    """
    text = source.checkpoint()
    new = Checkpoint.parse(text, source=source.name)
    if keyring is not None:
        check_signatures(new, keyring)
    seen = load_state(state)
    old = seen[max(seen)] if seen else None
    if old is None:
        action = "first"
    elif new.origin != old.origin:
        raise _alarm("another ledger", old, new, "the origin changed")
    elif new.size < old.size:
        raise _alarm("rollback", old, new, "the tree is smaller than one already seen")
    elif new.size == old.size:
        if new.root != old.root:
            raise _alarm("fork", old, new, "two roots for one tree size")
        action = "unchanged"
    else:
        earlier = seen.get(new.size)
        if earlier is not None and earlier.root != new.root:
            raise _alarm("fork", earlier, new, "two roots for one tree size")
        try:
            proof = source.consistency(old.size, new.size)
        except (LedgerError, KeyError, ValueError) as exc:
            raise _alarm("unproven", old, new, f"no consistency proof ({exc})") from None
        if not merkle.verify_consistency(old.size, new.size, old.root, new.root, proof):
            raise _alarm("fork", old, new, "the consistency proof does not verify")
        action = "extended"
    note = cosign(new, key, int(now())).render()
    folder = state / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    _write(folder / f"{new.size}.txt", note)
    _write(state / "latest.txt", note)
    return WitnessResult(new, old, action, note)


def compare_states(
    mine: Path, other: Path, source: LogSource | None = None
) -> list[str]:
    """Compare two witnesses' states; returns what was compared.

    Raises
    ------
    WitnessAlarmError
        A split view: one size with two roots, or latest checkpoints that the
        ledger cannot prove consistent.
    """
    a, b = load_state(mine), load_state(other)
    if not a or not b:
        empty = mine if not a else other
        raise LedgerFileError("no checkpoints in witness state", source=str(empty))
    done = []
    for size in sorted(set(a) & set(b)):
        if a[size].origin == b[size].origin and a[size].root != b[size].root:
            raise WitnessAlarmError(
                f"ALARM (split view): at size {size} this witness saw root "
                f"{a[size].root.hex()} and the other saw {b[size].root.hex()} "
                f"(origin {a[size].origin})"
            )
        done.append(f"size {size}: same root {a[size].root.hex()}")
    la, lb = a[max(a)], b[max(b)]
    if la.origin != lb.origin:
        raise LedgerFileError(
            "the two witnesses watch different ledgers",
            source=str(other),
            value=lb.origin,
            expected=la.origin,
        )
    if la.size > lb.size and source is not None:
        try:
            proof = source.consistency(lb.size, la.size)
        except (LedgerError, KeyError, ValueError) as exc:
            raise WitnessAlarmError(
                f"ALARM (split view): no consistency proof from the other witness's size "
                f"{lb.size} (root {lb.root.hex()}) to ours {la.size} (root {la.root.hex()}): {exc}"
            ) from None
        if not merkle.verify_consistency(lb.size, la.size, lb.root, la.root, proof):
            raise WitnessAlarmError(
                f"ALARM (split view): the other witness's size {lb.size} (root "
                f"{lb.root.hex()}) is not a prefix of ours {la.size} (root {la.root.hex()})"
            )
        done.append(f"sizes {lb.size} -> {la.size}: consistency proven")
    elif la.size < lb.size:
        done.append(
            f"the other witness is ahead ({lb.size} > {la.size}): run the comparison from its "
            "side (or after this witness catches up) to prove the larger tree extends ours"
        )
    return done
