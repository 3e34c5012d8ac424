"""How a service instance is set up: database, ledger, scenario, agreement, clock.

The service runs on **plant time**: the scenario's hours.  When the real date
lies outside the scenario's horizon (the default ``znpp`` is a hypothetical
2027), the clock is shifted by whole days so that today maps onto the same
calendar day of the horizon (:func:`plant_clock_offset`); the time of day is
kept, so setpoints change on the real hour.  Tests pass a fixed clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from gridhash.scenario.load import LoadedScenario

DEFAULT_DB = "sqlite:///gridhash-service.sqlite"


def utcnow() -> datetime:
    return datetime.now(UTC)


def plant_clock_offset(start: datetime, hours: int, now: datetime | None = None) -> timedelta:
    """Whole days to add to real time so that ``now`` falls inside the horizon.

    Zero when it already does; otherwise the same month and day in the horizon's
    year (or the next year, when that is before the start); the horizon's first
    day when neither fits.
    """
    now = now or utcnow()
    end = start + timedelta(hours=hours)
    if start <= now < end:
        return timedelta(0)
    today = now.date()
    for year in (start.year, start.year + 1):
        day = 28 if (today.month, today.day) == (2, 29) else today.day
        target = date(year, today.month, day)
        moment = datetime.combine(target, now.timetz())
        if start <= moment < end:
            return timedelta(days=(target - today).days)
    return timedelta(days=(start.date() - today).days)


@dataclass
class ServiceConfig:
    """Everything :func:`gridhash.service.app.create_app` needs.

    Attributes
    ----------
    db : SQLAlchemy URL: ``sqlite:///path`` (WAL) or ``postgresql://user@host/db``.
    ledger : the ledger file; default beside a SQLite database
        (``<db>.ledger.sqlite``), else ``gridhash-service.ledger.sqlite`` here.
    keys : the service's signing key and, in demo mode, the parties' demo keys;
        default ``<ledger stem>-keys/`` beside the ledger.
    scenario : a built-in name, a TOML path or a loaded scenario (default ``znpp``).
    agreement : the agreement's name (default: the scenario's first).
    demo : hold the parties' keys and sign for them; issue fresh tokens at each start.
    clock : returns plant time (aware UTC); default real time shifted onto the horizon.
    setpoint_ttl_s : how long a setpoint stays valid after it is issued.
    head_interval_s : sign a tree head at least this often while entries arrive.
    token_ttl_days : API tokens expire this long after they are issued (plant time).
    head_max_age_s : ``/api/ready`` fails when the newest signed tree head is older.
    """

    db: str = DEFAULT_DB
    ledger: Path | None = None
    keys: Path | None = None
    scenario: str | Path | LoadedScenario | None = None
    agreement: str | None = None
    demo: bool = False
    clock: Callable[[], datetime] | None = None
    setpoint_ttl_s: int = 60
    head_interval_s: float = 60.0
    token_ttl_days: int = 365
    head_max_age_s: float = 900.0

    @property
    def sqlalchemy_url(self) -> str:
        """The URL with the driver made explicit (``postgresql`` → ``postgresql+psycopg``)."""
        url = make_url(self.db)
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")
        return url.render_as_string(hide_password=False)

    @property
    def is_sqlite(self) -> bool:
        return make_url(self.db).get_backend_name() == "sqlite"

    def ledger_path(self) -> Path:
        if self.ledger is not None:
            return Path(self.ledger)
        url = make_url(self.db)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            db = Path(url.database)
            return db.with_name(db.stem + ".ledger.sqlite")
        return Path("gridhash-service.ledger.sqlite")

    def keys_path(self) -> Path:
        if self.keys is not None:
            return Path(self.keys)
        ledger = self.ledger_path()
        return ledger.with_name(ledger.name.removesuffix(".sqlite") + "-keys")
