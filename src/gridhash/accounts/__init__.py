"""The accounts of a solved batch: energy, money, penalties, BTC and hours.

The one place where a dispatch is added up.  :func:`account` takes what was
dispatched (paths × hours) and the rates it was dispatched at, and gives an
:class:`Accounts` that every view reads — ``summary.json``, the terminal,
``report.html``, ``risk.parquet``, ``compare``, the settlement statements and the
service's plans — by hour, day, month or path.

Money (``revenue − costs = net``) and penalties (unserved firm energy, station
blackout) are kept apart: a penalty is the optimizer's price on a failure, not a
payment, so it is never added into money.  The optimizer's objective (revenue −
variable costs − penalties) is kept only as the solver's figure.
"""

from gridhash.accounts.book import (
    COST_CATEGORIES,
    ENERGY_LINES,
    HOUR_FLAGS,
    PENALTIES,
    Accounts,
    Flows,
    Rates,
    account,
    bad_end,
)

__all__ = [
    "COST_CATEGORIES",
    "ENERGY_LINES",
    "HOUR_FLAGS",
    "PENALTIES",
    "Accounts",
    "Flows",
    "Rates",
    "account",
    "bad_end",
]
