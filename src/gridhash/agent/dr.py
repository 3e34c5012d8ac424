"""The agent's side of demand response: the site's rule over a live price file.

``miners.toml``'s ``[demand_response]`` holds the same rule as the scenario
(:class:`gridhash.demand_response.CurtailmentRule`) and ``prices``: a CSV with
``hour_start`` (UTC, plant time, on the hour) and ``usd_per_mwh``, which a price
feed rewrites as prices become known.  At each poll :class:`PriceRule` runs
:func:`gridhash.demand_response.curtailment` (the planner's code) over the last
seven days of known hours up to the current one (a missing hour is an unknown
price: it changes nothing), so a restarted agent is in the same state as one
that never stopped.  While the rule curtails, the agent's cap is 0 MW whatever
the setpoint allows.
"""

from __future__ import annotations

import csv
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from gridhash.demand_response import REASONS, CurtailmentRule, curtailment

LOOKBACK = timedelta(days=7)


class PriceRule:
    """The rule and its price file; :meth:`code_at` is the current hour's code (0: mine)."""

    def __init__(self, rule: CurtailmentRule, prices: Path) -> None:
        self.rule, self.path = rule, prices
        self._mtime: float | None = None
        self._prices: dict[datetime, float] = {}
        self.error: str | None = None

    def _load(self) -> None:
        try:
            mtime = self.path.stat().st_mtime
        except OSError as exc:
            self.error = f"price file {self.path}: {exc.strerror or exc}"
            return
        if mtime == self._mtime:
            return
        prices: dict[datetime, float] = {}
        try:
            with self.path.open(newline="", encoding="utf-8") as f:
                for row in csv.DictReader(f):
                    t = datetime.fromisoformat(row["hour_start"].replace("Z", "+00:00"))
                    t = t if t.tzinfo else t.replace(tzinfo=UTC)
                    prices[t.astimezone(UTC)] = float(row["usd_per_mwh"])
        except (OSError, KeyError, ValueError, TypeError) as exc:
            self.error = (f"price file {self.path}: {type(exc).__name__} {exc}; expected "
                          "columns hour_start,usd_per_mwh")
            return
        self._prices, self._mtime, self.error = prices, mtime, None

    def code_at(self, plant_now: datetime) -> int:
        """The rule's code for the hour holding ``plant_now`` (0 when mining is allowed)."""
        self._load()
        hour = plant_now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        known = [t for t in self._prices if hour - LOOKBACK <= t <= hour]
        if not known:
            return 0
        start = min(known)
        n = int((hour - start) / timedelta(hours=1)) + 1
        series = np.array([self._prices.get(start + timedelta(hours=k), math.nan)
                           for k in range(n)])
        codes, _ = curtailment(series, self.rule)
        return int(codes[-1])

    @staticmethod
    def reason(code: int) -> str:
        return REASONS[code]
