"""Blocks → an hourly network series (``gridhash fetch bitcoin``), resumable.

A :class:`BlockSource` (Bitcoin Core's RPC, a mempool.space-compatible API) yields
:class:`Block` records; :func:`hourly_rows` turns the blocks of some hours into one
row per UTC hour; :func:`fetch_network` walks the range a day at a time and
rewrites the output file after each day, so a stopped fetch leaves a valid file
that the next run with the same ``--out`` continues.

Columns (one row per hour in ``[start, end)``, hours without a block included):

* ``blocks``: blocks whose header time falls in the hour;
* ``height``: the lowest height among them (carried forward through empty hours);
* ``difficulty``, ``subsidy_btc`` (and the exact ``subsidy_sat``): of that block,
  carried forward through empty hours;
* ``fees_btc_per_block``: total fees of the hour's blocks / their number; in an
  hour without a block, the last hour's value, with ``fees_carried`` True;
* ``fees_sat``: the hour's total fees (0 in an empty hour).

Amounts stay integer satoshis until ``fees_btc_per_block`` and ``subsidy_btc``
are formed, the last step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from gridhash.feeds.errors import FeedError
from gridhash.feeds.store import (
    HourRange,
    check_resume,
    library_versions,
    provenance,
    read_series,
    redact_url,
    stamp,
    write_series,
)

if TYPE_CHECKING:
    import pandas as pd

SAT_PER_BTC = 100_000_000

#: ASSUMPTION: no block carries a header time more than this far ahead of the median
#: time of the blocks before it, so the scan may start where the median time reaches
#: ``start - MARGIN_S``.  Consensus lets a header run at most 2 h ahead of the
#: network's clock, and the median of 11 blocks trails the clock by about an hour.
MARGIN_S = 12 * 3600

#: Hours fetched and written at a time.
WINDOW_H = 24

COLUMNS = {
    "time": "UTC hour start",
    "blocks": "blocks with a header time in the hour [-]",
    "height": "height of the hour's lowest block (carried forward when none) [-]",
    "difficulty": "difficulty of that block (carried forward when none) [-]",
    "fees_btc_per_block": "mean total fee per block in the hour [BTC/block]",
    "fees_carried": "True where the hour had no block and the fee is carried forward",
    "fees_sat": "total fees of the hour's blocks [sat]",
    "subsidy_btc": "subsidy of the hour's lowest block (carried forward when none) [BTC]",
    "subsidy_sat": "the same in satoshis [sat]",
}


@dataclass(frozen=True)
class Block:
    """What the hourly series needs of one block."""

    height: int
    time: int  # header time [s since 1970, UTC]
    mediantime: int  # median time of the 11 blocks ending here [s]
    difficulty: float
    subsidy_sat: int
    fee_sat: int  # total fee [sat]


@dataclass(frozen=True)
class Tip:
    """The source's best block."""

    height: int
    mediantime: int  # [s]
    pruneheight: int = 0  # lowest height with full block data


class BlockSource(Protocol):
    """What :func:`fetch_network` needs of a source of blocks."""

    source: str  # "core" or "mempool"
    url: str

    def tip(self) -> Tip: ...

    def first_height_at(self, t: int) -> int:
        """A height at or below that of every block whose median time is ≥ ``t``."""
        ...

    def blocks(self, heights: Sequence[int]) -> list[Block]: ...

    def libraries(self) -> dict[str, str]: ...


@dataclass
class Carry:
    """What an empty hour carries forward: the last hour with blocks."""

    height: int
    difficulty: float
    subsidy_sat: int
    fee_sat: int
    blocks: int


def hourly_rows(blocks: Sequence[Block], hours: pd.DatetimeIndex,
                carry: Carry | None) -> tuple[pd.DataFrame, Carry | None]:
    """One row per hour of ``hours`` from the blocks whose time falls in them.

    Parameters
    ----------
    blocks : sequence of Block
        Blocks with a header time inside ``hours`` (others are ignored).
    hours : pandas.DatetimeIndex
        Consecutive UTC hours.
    carry : Carry or None
        The last hour with blocks before ``hours`` (None: none known; an empty first
        hour is then an error).

    Returns
    -------
    (pandas.DataFrame, Carry or None)
        The rows (columns :data:`COLUMNS`) and the carry after the last hour.
    """
    import pandas as pd

    n = len(hours)
    h0 = int(hours[0].timestamp()) // 3600
    count = np.zeros(n, dtype=np.int64)
    fee = np.zeros(n, dtype=np.int64)
    first = np.full(n, -1, dtype=np.int64)  # index into blocks of the lowest height
    for j, b in enumerate(blocks):
        k = b.time // 3600 - h0
        if 0 <= k < n:
            count[k] += 1
            fee[k] += b.fee_sat
            if first[k] < 0 or b.height < blocks[first[k]].height:
                first[k] = j
    height = np.zeros(n, dtype=np.int64)
    diff = np.zeros(n)
    sub = np.zeros(n, dtype=np.int64)
    fee_num = np.zeros(n, dtype=np.int64)  # fees and blocks the mean is formed from
    fee_den = np.ones(n, dtype=np.int64)
    for k in range(n):  # a day of hours per call: the loop is over 24 items
        if count[k]:
            b = blocks[first[k]]
            carry = Carry(b.height, b.difficulty, b.subsidy_sat, int(fee[k]), int(count[k]))
        elif carry is None:
            raise FeedError("no block before the first empty hour to carry forward",
                            value=stamp(hours[k]), expected="a block before --start")
        height[k], diff[k], sub[k] = carry.height, carry.difficulty, carry.subsidy_sat
        fee_num[k], fee_den[k] = carry.fee_sat, carry.blocks
    frame = pd.DataFrame({
        "time": hours,
        "blocks": count.astype(np.int32),
        "height": height,
        "difficulty": diff,
        "fees_btc_per_block": fee_num / fee_den / SAT_PER_BTC,  # the last step: sat → BTC
        "fees_carried": count == 0,
        "fees_sat": fee,
        "subsidy_btc": sub / SAT_PER_BTC,
        "subsidy_sat": sub,
    })
    return frame, carry


def _carry_from(frame: pd.DataFrame) -> Carry | None:
    full = frame[frame["blocks"] > 0]
    if full.empty:
        return None
    r = full.iloc[-1]
    return Carry(int(r["height"]), float(r["difficulty"]), int(r["subsidy_sat"]),
                 int(r["fees_sat"]), int(r["blocks"]))


def fetch_network(src: BlockSource, rng: HourRange, out: Path, *, batch: int = 400,
                  progress: Callable[[pd.Timestamp], None] | None = None) -> dict[str, Any]:
    """Fetch ``rng`` from ``src`` into ``out`` (continuing it if it exists).

    Returns the provenance written (``rows`` added: rows fetched in this call).
    """
    import pandas as pd

    kind = "bitcoin-network"
    old = None
    first_fetched = None
    carry: Carry | None = None
    nxt = rng.start
    if out.exists():
        old, prov = read_series(out)
        nxt = check_resume(out, prov, kind=kind, source=src.source, rng=rng)
        first_fetched = prov.get("first_fetched_at")
        carry = _carry_from(old)
        old = old[old["time"] < nxt]
    if nxt >= rng.end:
        return {"rows": 0, "complete_until": stamp(nxt)}
    tip = src.tip()
    end_s = int(rng.end.timestamp())
    if tip.mediantime < end_s:
        last = pd.Timestamp(tip.mediantime, unit="s", tz="UTC").floor("h")
        raise FeedError(
            f"the range goes beyond the chain tip: the best block (height {tip.height}) has "
            f"median time {stamp(pd.Timestamp(tip.mediantime, unit='s', tz='UTC'))}, so "
            "blocks stamped before --end may still be found",
            source=redact_url(src.url), field="--end", value=stamp(rng.end),
            expected=f"--end at or before {stamp(last)}")
    h = src.first_height_at(int(nxt.timestamp()) - MARGIN_S)
    lowest = h - 1 if carry is None and h > 0 else h  # the seed block comes first
    if tip.pruneheight and lowest < tip.pruneheight:
        raise FeedError(
            f"the node is pruned: full blocks start at height {tip.pruneheight}, the range "
            f"needs blocks from height {lowest} (fees and subsidy come from "
            "getblockstats, which needs the full block)",
            source=redact_url(src.url), field="--start", value=stamp(rng.start),
            expected=f"a later --start, or a node without pruning (prune=0) or with "
            f"blocks from height {lowest}")
    if carry is None and h > 0:
        carry = Carry(*_seed(src.blocks([h - 1])[0]))
    frames = [] if old is None else [old]
    pending: list[Block] = []
    seen_median = -1
    added = 0
    prov: dict[str, Any] = {}
    for a in pd.date_range(nxt, rng.end, freq=f"{WINDOW_H}h", inclusive="left"):
        b = min(a + pd.Timedelta(hours=WINDOW_H), rng.end)
        b_s = int(b.timestamp())
        while seen_median < b_s and h <= tip.height:
            got = src.blocks(range(h, min(h + batch, tip.height + 1)))
            h += len(got)
            pending += got
            seen_median = max([seen_median] + [x.mediantime for x in got])
        a_s = int(a.timestamp())
        inside = [x for x in pending if a_s <= x.time < b_s]
        pending = [x for x in pending if x.time >= b_s]
        hours = pd.date_range(a, b, freq="h", inclusive="left")
        rows, carry = hourly_rows(inside, hours, carry)
        frames.append(rows)
        added += len(rows)
        frame = pd.concat(frames, ignore_index=True)
        frames = [frame]
        prov = provenance(
            kind=kind, source=src.source, url=src.url, rng=rng, complete_until=b,
            columns=COLUMNS, libraries=library_versions("httpx") | src.libraries(),
            assumptions=[
                "Blocks are assigned to the UTC hour of their header time (miners set it; "
                "it may run up to 2 h ahead and is not monotonic).",
                f"The scan starts where the median time reaches start - {MARGIN_S // 3600} h: "
                "no header time is assumed to run further ahead of the median time.",
                "Hours without a block carry the last height, difficulty, subsidy and mean "
                "fee forward (fees_carried marks them).",
            ],
            first_fetched_at=first_fetched, tip_height=tip.height)
        write_series(out, frame, prov)
        if progress is not None:
            progress(b)
    return prov | {"rows": added}


def _seed(b: Block) -> tuple[int, float, int, int, int]:
    return (b.height, b.difficulty, b.subsidy_sat, b.fee_sat, 1)
