"""Meter data: idempotent ingestion of hourly interval readings, and gaps.

A reading is ``(meter, interval_start, value)``: the MWh a meter recorded in
the hour starting at ``interval_start`` (UTC, on the hour, inside the horizon,
already ended by plant time).  The pair ``(meter, interval_start)`` is the key:

* the same reading sent again is stored once (counted as a duplicate);
* a reading that contradicts the stored one (another value for the same key),
  or two in one batch, is rejected with **409** naming the meter and interval,
  and nothing of that batch is stored;
* a batch is stored in one transaction, with its ledger entry queued in the
  same transaction: acknowledged means stored and on the ledger.

:func:`gaps` lists, per meter, the intervals without a reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from gridhash.service.auth import Caller
from gridhash.service.db import MeterBatch, Reading, from_db, to_db
from gridhash.service.errors import ConflictError, InvalidError
from gridhash.service.plant import HOUR, stamp

MAX_BATCH = 10_000
MAX_GAP_HOURS = 24 * 62


@dataclass(frozen=True)
class ReadingIn:
    meter: str
    interval_start: datetime
    value: float


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _check(svc: Any, readings: list[ReadingIn], now: datetime) -> dict[tuple[str, datetime], float]:
    """Validate a batch; returns {(meter, naive UTC start): value} without in-batch repeats."""
    plant = svc.plant
    out: dict[tuple[str, datetime], tuple[float, int]] = {}
    for n, r in enumerate(readings):
        where = f"readings[{n}]"
        if r.meter not in plant.meters:
            raise InvalidError(f"unknown meter {r.meter!r}", field=f"{where}.meter",
                          expected="one of " + ", ".join(sorted(plant.meters)))
        start = _utc(r.interval_start)
        if start.minute or start.second or start.microsecond:
            raise InvalidError(f"interval {start.isoformat()} of meter {r.meter} does not start on "
                          "the hour", field=f"{where}.interval_start",
                          expected="an hourly interval start, HH:00:00Z")
        if not plant.in_horizon(start):
            raise InvalidError(f"interval {stamp(start)} of meter {r.meter} is outside the "
                          f"scenario's horizon ({stamp(plant.start)} to {stamp(plant.end)})",
                          field=f"{where}.interval_start")
        if start + HOUR > now:
            raise InvalidError(f"interval {stamp(start)} of meter {r.meter} has not ended yet "
                          f"(plant time {stamp(now)})", field=f"{where}.interval_start")
        key = (r.meter, to_db(start))
        seen = out.get(key)
        if seen is not None and seen[0] != r.value:
            raise ConflictError(
                f"meter {r.meter}, interval {stamp(start)}: the batch holds two values "
                f"({seen[0]!r} in readings[{seen[1]}] and {r.value!r} in {where})",
                field=f"{where}.value", meter=r.meter, interval_start=stamp(start),
            )
        out.setdefault(key, (r.value, n))
    return {k: v for k, (v, _) in out.items()}


def ingest(svc: Any, caller: Caller, readings: list[ReadingIn]) -> dict[str, Any]:
    caller.require("meters:write", "post meter data")
    now = svc.now()
    batch = _check(svc, readings, now)
    for attempt in range(3):
        try:
            result = _store(svc, caller, batch, len(readings), now)
            break
        except IntegrityError:
            # Another request stored some of the same keys between our read and our
            # insert: read again (they are now duplicates or conflicts).
            if attempt == 2:
                raise ConflictError("meter readings are being stored concurrently; send the batch "
                               "again", field="readings") from None
    svc.log.flush()
    return result


def _store(svc: Any, caller: Caller, batch: dict[tuple[str, datetime], float], received: int,
           now: datetime) -> dict[str, Any]:
    meters = sorted({m for m, _ in batch})
    starts = [t for _, t in batch]
    with svc.db.write() as s:
        existing = {
            (m, t): v
            for m, t, v in s.execute(
                select(Reading.meter, Reading.interval_start, Reading.value).where(
                    Reading.meter.in_(meters),
                    Reading.interval_start >= min(starts),
                    Reading.interval_start <= max(starts),
                )
            )
            if (m, t) in batch
        }
        conflicts = [
            {"meter": m, "interval_start": stamp(_utc(t)), "stored": existing[(m, t)],
             "sent": v}
            for (m, t), v in batch.items()
            if (m, t) in existing and existing[(m, t)] != v
        ]
        if conflicts:
            first = conflicts[0]
            raise ConflictError(
                f"meter {first['meter']}, interval {first['interval_start']}: a different value "
                f"is already stored ({first['stored']!r}, sent {first['sent']!r}); readings are "
                f"never overwritten ({len(conflicts)} conflicting reading(s), nothing stored)",
                field="readings", meter=first["meter"], interval_start=first["interval_start"],
                conflicts=conflicts[:50],
            )
        new = sorted((k, v) for k, v in batch.items() if k not in existing)
        duplicates = received - len(new)
        if not new:
            return {"batch": None, "received": received, "stored": 0, "duplicates": duplicates}
        row = MeterBatch(submitted_by=caller.id, received_at=to_db(now), received=received,
                         stored=len(new), duplicates=duplicates)
        s.add(row)
        s.flush()
        s.connection().execute(insert(Reading.__table__), [
            {"meter": m, "interval_start": t, "value": v, "batch_id": row.id} for (m, t), v in new
        ])
        svc.log.record(s, "meter_batch", {
            "batch": row.id, "by": caller.id,
            "readings": [[m, stamp(_utc(t)), v] for (m, t), v in new],
        }, now)
        return {"batch": row.id, "received": received, "stored": len(new),
                "duplicates": duplicates}


def _window(svc: Any, start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    plant = svc.plant
    now = svc.now()
    if start is None:
        start = datetime(now.year, now.month, now.day, tzinfo=UTC)
    if end is None:
        end = plant.hour_start(plant.hour_index(now))  # intervals that have ended
    start, end = _utc(start), _utc(end)
    start = max(start, plant.start)
    end = min(end, plant.end)
    if end - start > timedelta(hours=MAX_GAP_HOURS):
        raise InvalidError(f"the window spans more than {MAX_GAP_HOURS} hours", field="end",
                      expected=f"at most {MAX_GAP_HOURS // 24} days after start")
    return start, end


def gaps(svc: Any, caller: Caller, start: datetime | None = None, end: datetime | None = None,
         ) -> dict[str, Any]:
    """Missing intervals per meter in [start, end) (default: today, up to the last ended hour)."""
    caller.require("read", "read meter data")
    plant = svc.plant
    lo, hi = _window(svc, start, end)
    first = plant.hour_index(lo) if lo < hi else 0
    stop = plant.hour_index(hi) if lo < hi else 0
    if lo < hi and plant.hour_start(first) < lo:
        first += 1
    expected = list(range(first, stop))
    with svc.db.read() as s:
        have: dict[str, set[int]] = {m: set() for m in plant.meters}
        if expected:
            for m, t in s.execute(select(Reading.meter, Reading.interval_start).where(
                    Reading.interval_start >= to_db(plant.hour_start(first)),
                    Reading.interval_start < to_db(plant.hour_start(stop)))):
                if m in have:
                    have[m].add(plant.hour_index(_utc(t)))
    meters = {}
    total = 0
    for m in sorted(plant.meters):
        missing = [t for t in expected if t not in have[m]]
        total += len(missing)
        ranges: list[list[str]] = []
        run_start = prev = None
        for t in [*missing, None]:
            if t is not None and prev is not None and t == prev + 1:
                prev = t
                continue
            if run_start is not None and prev is not None:
                ranges.append([stamp(plant.hour_start(run_start)),
                               stamp(plant.hour_start(prev + 1))])
            run_start = prev = t
        meters[m] = {"missing": len(missing), "ranges": ranges}
    return {
        "from": stamp(plant.hour_start(first)) if expected else stamp(lo),
        "to": stamp(plant.hour_start(stop)) if expected else stamp(hi),
        "intervals_per_meter": len(expected),
        "missing": total,
        "complete": total == 0,
        "meters": meters,
    }


def list_readings(svc: Any, caller: Caller, meter: str | None, start: datetime | None,
                  end: datetime | None, after: int, limit: int) -> dict[str, Any]:
    caller.require("read", "read meter data")
    with svc.db.read() as s:
        q = select(Reading.meter, Reading.interval_start, Reading.value, Reading.batch_id)
        if meter is not None:
            q = q.where(Reading.meter == meter)
        if start is not None:
            q = q.where(Reading.interval_start >= to_db(_utc(start)))
        if end is not None:
            q = q.where(Reading.interval_start < to_db(_utc(end)))
        q = q.order_by(Reading.interval_start, Reading.meter).offset(after).limit(limit)
        rows = s.execute(q).all()
    return {"readings": [{"meter": m, "interval_start": stamp(from_db(t)), "value": v,
                          "batch": b} for m, t, v, b in rows],
            "next": after + len(rows) if len(rows) == limit else None}


def summary(svc: Any, caller: Caller) -> dict[str, Any]:
    caller.require("read", "read meter data")
    with svc.db.read() as s:
        per = s.execute(select(Reading.meter, func.count(), func.max(Reading.interval_start))
                        .group_by(Reading.meter)).all()
        batches = s.scalar(select(func.count()).select_from(MeterBatch)) or 0
    return {
        "readings": sum(n for _, n, _ in per),
        "batches": batches,
        "meters": {m: {"readings": n, "latest": stamp(from_db(t))} for m, n, t in per},
        "known_meters": sorted(svc.plant.meters),
    }


def period_readings(svc: Any, first: int, stop: int) -> dict[tuple[str, int], float]:
    """{(meter, hour index): MWh} stored for hours [first, stop)."""
    plant = svc.plant
    with svc.db.read() as s:
        rows = s.execute(select(Reading.meter, Reading.interval_start, Reading.value).where(
            Reading.interval_start >= to_db(plant.hour_start(first)),
            Reading.interval_start < to_db(plant.hour_start(stop)))).all()
    return {(m, plant.hour_index(_utc(t))): v for m, t, v in rows}
