"""The service's database: SQLAlchemy 2 models, the engine, and migrations.

SQLite (the default) runs in WAL mode with ``synchronous=FULL``: an
acknowledged write survives a crash of the process or of the machine.  Write
transactions start with ``BEGIN IMMEDIATE`` so concurrent writers queue on the
lock (``busy_timeout``) instead of failing when a read turns into a write.
PostgreSQL runs at its default READ COMMITTED; the few read-modify-write steps
lock their row (``SELECT ... FOR UPDATE``) or rely on a primary key and retry.

Times are stored as naive UTC; :func:`to_db` and :func:`from_db` convert.
The schema is created and upgraded by Alembic (``migrations/``), never by
``create_all``; :func:`migrate` runs it programmatically.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Double,
    Engine,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

MIGRATIONS = Path(__file__).with_name("migrations")
#: WAL pages after which a committing connection checkpoints itself (~40 MB).
BACKSTOP_PAGES = 10_000


def to_db(dt: datetime) -> datetime:
    """Aware → naive UTC (as stored)."""
    if dt.tzinfo is None:
        return dt
    return dt.astimezone(UTC).replace(tzinfo=None)


def from_db(dt: datetime | None) -> datetime | None:
    """Naive UTC (as stored) → aware UTC."""
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Meta(Base):
    """Key-value facts about the deployment: scenario, agreement, creation time."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Principal(Base):
    """Who may call the API: a party of the agreement or a mining site's agent."""

    __tablename__ = "principals"
    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # party | site
    role: Mapped[str] = mapped_column(String(16))  # operator, owner, ..., or site
    name: Mapped[str] = mapped_column(Text)
    site: Mapped[str | None] = mapped_column(String(80), nullable=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    public_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # issue 17 (migration 0002_agent_ops): token expiry; NULL = a token from before expiry
    token_expires_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Plan(Base):
    """A day-ahead plan: 24 hourly setpoints per mining site plus grid deliveries."""

    __tablename__ = "plans"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    proposed_by: Mapped[str] = mapped_column(ForeignKey("principals.id"))
    proposed_at: Mapped[datetime] = mapped_column(DateTime)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class Decision(Base):
    """A party's approval, rejection or veto of a plan (one vote and one veto each)."""

    __tablename__ = "decisions"
    __table_args__ = (UniqueConstraint("plan_id", "party", "kind", name="uq_decision"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), index=True)
    party: Mapped[str] = mapped_column(ForeignKey("principals.id"))
    kind: Mapped[str] = mapped_column(String(8))  # vote | veto
    decision: Mapped[str] = mapped_column(String(8))  # approve | reject | veto
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(DateTime)


class Hold(Base):
    """A monitor's safety hold: while not lifted, every mining setpoint is zero."""

    __tablename__ = "holds"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    raised_by: Mapped[str] = mapped_column(ForeignKey("principals.id"))
    raised_at: Mapped[datetime] = mapped_column(DateTime)
    reason: Mapped[str] = mapped_column(Text)
    lifted_by: Mapped[str | None] = mapped_column(ForeignKey("principals.id"), nullable=True)
    lifted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    lift_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class PlantState(Base):
    """The operator's report of the plant's state (off-site lines, diesel, units)."""

    __tablename__ = "plant_states"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reported_by: Mapped[str] = mapped_column(ForeignKey("principals.id"))
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    offsite_lines: Mapped[int] = mapped_column(Integer)
    on_diesel: Mapped[bool] = mapped_column(Boolean)
    units: Mapped[dict[str, Any]] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(Text, default="")


class MeterBatch(Base):
    """One accepted POST of meter readings."""

    __tablename__ = "meter_batches"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    submitted_by: Mapped[str] = mapped_column(ForeignKey("principals.id"))
    received_at: Mapped[datetime] = mapped_column(DateTime)
    received: Mapped[int] = mapped_column(Integer)
    stored: Mapped[int] = mapped_column(Integer)
    duplicates: Mapped[int] = mapped_column(Integer)


class Reading(Base):
    """One interval reading of one meter (MWh); the key makes ingestion idempotent."""

    __tablename__ = "readings"
    meter: Mapped[str] = mapped_column(String(128), primary_key=True)
    interval_start: Mapped[datetime] = mapped_column(DateTime, primary_key=True)
    value: Mapped[float] = mapped_column(Double)
    batch_id: Mapped[int] = mapped_column(ForeignKey("meter_batches.id"), index=True)


class Statement(Base):
    """A settlement period's statements (``settle_period``'s output) and its meter record."""

    __tablename__ = "statements"
    period: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    start: Mapped[datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(24))  # awaiting_signatures | signed
    created_by: Mapped[str] = mapped_column(ForeignKey("principals.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    signed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    meter_record: Mapped[dict[str, Any]] = mapped_column(JSON)


class StatementSignature(Base):
    """A party's Ed25519 signature over a period's statements."""

    __tablename__ = "statement_signatures"
    period: Mapped[int] = mapped_column(ForeignKey("statements.period"), primary_key=True)
    party: Mapped[str] = mapped_column(ForeignKey("principals.id"), primary_key=True)
    signature: Mapped[str] = mapped_column(String(128))
    public_key: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime)


class LedgerEvent(Base):
    """Transactional outbox: a state change waiting for (or recorded at) its ledger entry."""

    __tablename__ = "ledger_outbox"
    __table_args__ = (Index("ix_ledger_outbox_pending", "ledger_seq", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON, exactly as appended
    created_at: Mapped[datetime] = mapped_column(DateTime)
    ledger_seq: Mapped[int | None] = mapped_column(Integer, nullable=True)


# ---- issue 17: site agents' telemetry (migration 0002_agent_ops) ---------- #


class SiteTelemetry(Base):
    """What a site's agent reported: measured MW and hashrate, machines, time to its cap."""

    __tablename__ = "site_telemetry"
    __table_args__ = (Index("ix_site_telemetry_site_at", "site", "received_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site: Mapped[str] = mapped_column(String(80))
    received_at: Mapped[datetime] = mapped_column(DateTime)
    mw: Mapped[float] = mapped_column(Double)
    hashrate_th_s: Mapped[float] = mapped_column(Double)
    cap_mw: Mapped[float] = mapped_column(Double)
    awake: Mapped[int] = mapped_column(Integer)
    asleep: Mapped[int] = mapped_column(Integer)
    unreachable: Mapped[int] = mapped_column(Integer)
    disobeying: Mapped[int] = mapped_column(Integer)
    seconds_to_under_cap: Mapped[float | None] = mapped_column(Double, nullable=True)
    failsafe: Mapped[str | None] = mapped_column(Text, nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


# --------------------------------------------------------------------------- #
# Engine, sessions, migrations
# --------------------------------------------------------------------------- #


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, FULL sync, foreign keys and IMMEDIATE writes."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=16,
            max_overflow=16,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = FULL")
            cur.execute("PRAGMA foreign_keys = ON")
            cur.execute("PRAGMA busy_timeout = 30000")
            # Checkpoints run in the background (Checkpointer); this is only a backstop.
            cur.execute(f"PRAGMA wal_autocheckpoint = {BACKSTOP_PAGES}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            conn.exec_driver_sql(conn.get_execution_options().get("sqlite_begin", "BEGIN"))

        return engine
    return create_engine(url, pool_size=16, max_overflow=16, pool_pre_ping=True)


class Database:
    """Session factories: :meth:`read` for queries, :meth:`write` for changes."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        writer = self.engine.execution_options(sqlite_begin="BEGIN IMMEDIATE")
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(writer, expire_on_commit=False)
        # SQLite has one writer at a time; a waiting connection polls with growing sleeps
        # (its busy handler).  Queuing the process's own writers on a lock instead hands
        # the database over the moment it is free.
        self._write_lock = threading.Lock() if self.is_sqlite else None

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as session, session.begin():
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction: committed when the block ends, rolled back on error."""
        if self._write_lock is None:
            with self._write() as session, session.begin():
                yield session
            return
        with self._write_lock, self._write() as session, session.begin():
            yield session

    def migrate(self) -> None:
        migrate(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()


class Checkpointer:
    """Checkpoints SQLite WAL files in a background thread, off the requests' path.

    A WAL checkpoint copies committed pages into the database file and syncs it.
    Left to SQLite, it runs inside whichever commit crosses 1,000 pages and adds
    tens of milliseconds to that request; here a thread runs a ``PASSIVE``
    checkpoint (it never waits for readers or writers) every ``interval``
    seconds on its own connection, with ``synchronous=FULL``.
    """

    def __init__(self, paths: list[Path], interval: float = 1.0) -> None:
        self.paths = [p for p in paths if p.exists()]
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gridhash-checkpoint",
                                        daemon=True)

    def start(self) -> Checkpointer:
        if self.paths:
            self._thread.start()
        return self

    def _run(self) -> None:
        conns = []
        try:
            for path in self.paths:
                conn = sqlite3.connect(path, timeout=5, check_same_thread=False)
                conn.execute("PRAGMA synchronous = FULL")
                conns.append(conn)
            while not self._stop.wait(self.interval):
                for conn in conns:
                    try:
                        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    except sqlite3.Error:
                        continue  # busy or closing: the next round, or SQLite's backstop
        finally:
            for conn in conns:
                conn.close()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)


def alembic_config() -> Any:
    """The Alembic configuration of the service's migrations (no ini file needed)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database to ``revision`` (default: the latest)."""
    from alembic import command

    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    """Downgrade the database to ``revision`` (default: no service tables at all)."""
    from alembic import command

    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
