"""The operations service without HTTP: set-up, clock, callers, and shared views.

:class:`OperationsService` owns the database, the plant (scenario + agreement +
cached dispatch) and the ledger.  The API (:mod:`gridhash.service.app`) and
the dashboard call the functions of :mod:`~gridhash.service.plans`,
:mod:`~gridhash.service.meters`, :mod:`~gridhash.service.setpoints`,
:mod:`~gridhash.service.safety` and :mod:`~gridhash.service.statements` with it.

First start on an empty database: the scenario and agreement are recorded,
every party of the agreement and every mining site gets a principal and a
token (returned once, by :attr:`OperationsService.issued_tokens`), and the
ledger receives ``scenario`` and ``agreement`` entries.  Later starts check
that the database belongs to the same scenario and agreement.  In demo mode
every start issues fresh tokens and the service holds an Ed25519 key for each
signing party (owners and offtakers) and signs statements for them on request.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from gridhash import __version__
from gridhash.errors import GridhashError
from gridhash.ledger.signing import PartyKey
from gridhash.service.auth import Caller, new_token, same_digest, token_hash
from gridhash.service.config import ServiceConfig, plant_clock_offset, utcnow
from gridhash.service.db import Checkpointer, Database, Meta, Principal, from_db, to_db
from gridhash.service.errors import NotFoundError, UnauthorizedError
from gridhash.service.ledgerlog import LedgerLog, load_or_create_key, queue_event
from gridhash.service.plant import Plant


class SetupError(GridhashError):
    """The database or ledger does not fit the scenario and agreement asked for."""


def freeze_heap() -> None:
    """Collect, then move every object alive now to the collector's permanent generation."""
    gc.collect()
    gc.freeze()


def site_principal(site: str) -> str:
    return f"site:{site}"


class OperationsService:
    """One running service: database, plant, ledger, clock and callers."""

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self.plant = Plant(config.scenario, config.agreement)
        self.db = Database(config.sqlalchemy_url)
        self.db.migrate()
        if config.clock is not None:
            self.clock_offset = timedelta(0)
            self._clock: Callable[[], datetime] = config.clock
        else:
            self.clock_offset = plant_clock_offset(self.plant.start, self.plant.hours)
            offset = self.clock_offset
            self._clock = lambda: utcnow() + offset
        self._callers: dict[str, tuple[Caller, datetime | None]] = {}
        self.token_ttl = timedelta(days=config.token_ttl_days)
        self._callers_lock = threading.Lock()
        self.demo_keys: dict[str, PartyKey] = {}
        self.issued_tokens: dict[str, str] = self._bootstrap()
        self.log = LedgerLog(
            self.db, config.ledger_path(), config.keys_path(), config.head_interval_s
        )
        self.log.recover()
        files = [self.log.path]
        database = self.db.engine.url.database
        if self.db.is_sqlite and database:
            files.append(Path(database))
        self.checkpointer = Checkpointer(files).start()
        if config.demo:
            self._demo_keys()

    # ------------------------------------------------------------------ basics
    def start_serving(self) -> None:
        """Called when the server starts: keep the heap built so far out of the collector.

        A full collection walks every live object (the scenario, the dispatch, the
        libraries: ~200,000 objects, ~100 ms on 2 cores), pausing every request in
        flight.  Objects that live as long as the process are frozen
        (:func:`gc.freeze`) at start-up and again once the dispatch is computed.
        """
        self.plant.after_run = freeze_heap
        freeze_heap()

    def now(self) -> datetime:
        """Plant time (aware UTC)."""
        now = self._clock()
        return now if now.tzinfo else now.replace(tzinfo=UTC)

    @property
    def agreement(self) -> Any:
        return self.plant.agreement

    def close(self) -> None:
        self.checkpointer.stop()
        try:
            self.log.close()
        finally:
            self.db.dispose()

    # ------------------------------------------------------------------ set-up
    def _agreement_payload(self, keys: dict[str, str]) -> dict[str, Any]:
        return {"agreement": self.agreement.model_dump(mode="json"), "party_keys": keys}

    def signer_keys(self, session: Any) -> dict[str, str]:
        """{party: raw public key hex} of the signing parties that registered a key."""
        rows = session.execute(
            select(Principal.id, Principal.public_key).where(Principal.kind == "party")
        ).all()
        keys = {pid: key for pid, key in rows if key}
        return {pid: keys[pid] for pid in self.plant.signers if pid in keys}

    def _bootstrap(self) -> dict[str, str]:
        """Set an empty database up (or check it); returns the tokens issued now."""
        now = self.now()
        tokens: dict[str, str] = {}
        with self.db.write() as s:
            meta = {m.key: m.value for m in s.scalars(select(Meta))}
            if meta:
                if (meta.get("scenario"), meta.get("agreement")) != (
                    self.plant.name, self.agreement.name
                ):
                    raise SetupError(
                        f"{self.config.db}: the database runs scenario {meta.get('scenario')!r} "
                        f"under agreement {meta.get('agreement')!r}, not {self.plant.name!r} "
                        f"under {self.agreement.name!r}; use another --db"
                    )
                if self.config.demo:  # demo: fresh tokens at every start
                    for (pid,) in s.execute(select(Principal.id)).all():
                        tokens[pid] = new_token()
                        s.execute(update(Principal).where(Principal.id == pid)
                                  .values(token_hash=token_hash(tokens[pid]),
                                          token_expires_at=to_db(now + self.token_ttl)))
                return tokens
            s.add_all([
                Meta(key="scenario", value=self.plant.name),
                Meta(key="agreement", value=self.agreement.name),
                Meta(key="created", value=now.isoformat()),
                Meta(key="gridhash", value=__version__),
            ])
            for p in self.agreement.parties:
                tokens[p.id] = new_token()
                s.add(Principal(id=p.id, kind="party", role=p.role, name=p.name, site=None,
                                token_hash=token_hash(tokens[p.id]), created_at=to_db(now),
                                token_expires_at=to_db(now + self.token_ttl)))
            for site in self.plant.sites:
                pid = site_principal(site)
                tokens[pid] = new_token()
                s.add(Principal(id=pid, kind="site", role="site", name=f"mining site {site}",
                                site=site, token_hash=token_hash(tokens[pid]),
                                created_at=to_db(now),
                                token_expires_at=to_db(now + self.token_ttl)))
            loaded = self.plant.loaded
            queue_event(s, "scenario", {
                "name": loaded.name, "source": loaded.source or "", "text": loaded.text or "",
                "agreement": self.agreement.name, "gridhash": __version__,
            }, now)
            queue_event(s, "agreement", self._agreement_payload({}), now)
        return tokens

    def _demo_keys(self) -> None:
        """Demo mode: an Ed25519 key per signing party, held by the service."""
        from gridhash.service.statements import register_key

        folder = self.config.keys_path()
        for pid in self.plant.signers:
            key = load_or_create_key(folder, pid)
            self.demo_keys[pid] = key
            caller = self.caller_by_id(pid)
            register_key(self, caller, pid, key.public.raw.hex())

    # ------------------------------------------------------------------ callers
    def authenticate(self, token: str | None) -> Caller:
        """The caller a token belongs to, or 401."""
        if not token:
            raise UnauthorizedError("missing API token: send 'Authorization: Bearer <token>'")
        digest = token_hash(token)
        with self._callers_lock:
            cached = self._callers.get(digest)
        if cached is None:
            with self.db.read() as s:
                row = s.scalar(select(Principal).where(Principal.token_hash == digest))
            if row is None or not same_digest(row.token_hash, digest):
                raise UnauthorizedError("unknown API token")
            cached = (Caller(row.id, row.kind, row.role, row.name, row.site),
                      from_db(row.token_expires_at))
            with self._callers_lock:
                self._callers[digest] = cached
        caller, expires = cached
        if expires is not None and self.now() >= expires:
            raise UnauthorizedError(
                f"the API token of {caller.id} expired at {expires:%Y-%m-%dT%H:%M:%SZ} "
                "(plant time); rotate tokens before they expire (POST /api/tokens/rotate)")
        return caller

    def forget_callers(self) -> None:
        """Drop every cached token → caller (after a rotation: the old token fails at once)."""
        with self._callers_lock:
            self._callers.clear()

    def caller_by_id(self, pid: str) -> Caller:
        with self.db.read() as s:
            row = s.get(Principal, pid)
        if row is None:
            raise NotFoundError(f"no party or site {pid!r}", field="party")
        return Caller(row.id, row.kind, row.role, row.name, row.site)

    def parties(self) -> list[dict[str, Any]]:
        with self.db.read() as s:
            rows = {p.id: p for p in s.scalars(select(Principal))}
        out = []
        for p in self.agreement.parties:
            row = rows.get(p.id)
            key = row.public_key if row else None
            out.append({
                "id": p.id, "name": p.name, "role": p.role,
                "signs_statements": p.id in self.plant.signers,
                "may_veto": p.id in self.agreement.approval.vetoes,
                "public_key": key,
                "since": None if row is None else from_db(row.created_at).isoformat(),
            })
        return out

    def agreement_view(self) -> dict[str, Any]:
        a = self.agreement
        return {
            "scenario": self.plant.name,
            "agreement": a.name,
            "description": a.description,
            "parties": self.parties(),
            "approval": {"role": a.approval.role, "required": a.approval.required,
                         "vetoes": list(a.approval.vetoes)},
            "settlement_period_hours": a.settlement_period_hours,
            "horizon": {"start": self.plant.start.isoformat(), "hours": self.plant.hours},
            "sites": self.plant.sites,
            "meters": sorted(self.plant.meters),
            "plant_time": self.now().isoformat(),
            "clock_offset_days": self.clock_offset.days,
        }
