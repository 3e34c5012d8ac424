"""The accounts: flows and rates of N paths × T hours in, lines by hour, period and path out.

Every hourly MW value is held for one hour, so it is also the hour's MWh.  Arrays
carry a leading path axis N (1 where every path shares them).  An account line is
defined once, hourly (:meth:`Accounts.hourly`); its total over a path, a day or a
month is the sum of its hours.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from gridhash.scenario.agreement import Agreement

#: Energy lines (MWh): what the units could make within the envelope, what they made,
#: imports and diesel for house load, house load left unsupplied (a station blackout),
#: deliveries to the grid, mining, curtailment and firm obligations left unserved.
#: Balance: generated + imported + diesel + house_load_unsupplied
#: = house_load + grid + mining; curtailed = available − generated.
ENERGY_LINES = (
    "available",
    "generated",
    "imported",
    "diesel",
    "house_load",
    "house_load_unsupplied",
    "grid",
    "mining",
    "curtailed",
    "unserved_firm",
)

#: Cost categories (USD): variable (generation, imports, diesel, mining opex) and
#: fixed, spread evenly over the hours (the fleet's capital, fixed O&M).
COST_CATEGORIES = ("generation", "imports", "diesel", "mining_opex", "fleet_capital",
                   "fixed_om")

#: Penalties (USD): the optimizer's price on unserved firm energy and on house load
#: left unsupplied.  Not money: never added to revenue or costs.
PENALTIES = ("unserved_firm", "station_blackout")

#: Hour counts: a safety rule limits the plant, mining may draw nothing, the house
#: load runs on diesel, house load goes unsupplied.
HOUR_FLAGS = ("restricted", "mining_blocked", "on_diesel", "station_blackout")

#: Lines where more is worse (the rest: less is worse).
_BAD_WHEN_HIGH = ("penalty_usd", "cost_usd", "unserved_firm_mwh", "house_load_unsupplied_mwh",
                  "diesel_mwh", "curtailed_mwh", "hours_", "mining_opex_usd",
                  "mining_power_cost_usd", "fleet_capital_usd", "imported_mwh")


def bad_end(name: str) -> str:
    """``"high"`` where more of line ``name`` is worse (penalties, costs, unserved or
    unsupplied energy, diesel, curtailment, hours restricted), else ``"low"`` (money,
    energy delivered, BTC, capacity factor): the tail a risk report marks."""
    return "high" if name.startswith(_BAD_WHEN_HIGH) else "low"


HOURS_PER_YEAR = 8760.0
#: Below this an hourly MW value is numerical noise (the solvers' tolerances). [MW]
EPS_MW = 1e-6


@dataclass(frozen=True, eq=False)
class Flows:
    """What was dispatched, MWh in each hour; leading path axis N (or 1 where shared).

    Attributes
    ----------
    unit_available : (N, U, T) what each unit could make within the envelope. [MWh]
    unit : (N, U, T) what each unit made. [MWh]
    imported : (N, T) imported for house load. [MWh]
    diesel : (N, T) house load supplied by the diesel generators. [MWh]
    house_load : (N, T) the plant's own consumption. [MWh]
    house_load_unsupplied : (N, T) house load left unsupplied. [MWh]
    delivered : (N, O, T) to each grid offtake. [MWh]
    unserved : (N, O, T) firm obligation left unserved. [MWh]
    mining : (N, K, T) drawn by each miner class, cooling included. [MWh]
    restricted, mining_blocked, on_diesel : (N, T) bool, from the safety envelope.
    """

    unit_available: np.ndarray
    unit: np.ndarray
    imported: np.ndarray
    diesel: np.ndarray
    house_load: np.ndarray
    house_load_unsupplied: np.ndarray
    delivered: np.ndarray
    unserved: np.ndarray
    mining: np.ndarray
    restricted: np.ndarray
    mining_blocked: np.ndarray
    on_diesel: np.ndarray


@dataclass(frozen=True, eq=False)
class Rates:
    """What each MWh was worth or cost; leading path axis N (or 1 where shared).

    Attributes
    ----------
    offtake_price : (N, O, T) grid price. [USD/MWh]
    unit_cost : (N, U, T) marginal cost of generation. [USD/MWh]
    import_price : (N, T) price of imports. [USD/MWh]
    diesel_cost : cost of diesel generation. [USD/MWh]
    btc_per_mwh : (N, K, T) BTC earned per MWh mined, after the pool fee. [BTC/MWh]
    mining_usd_per_mwh : (N, K, T) that BTC at the hour's price. [USD/MWh]
    mining_opex : (N, T) the sites' operating cost. [USD/MWh]
    unserved_penalty : penalty on unserved firm energy. [USD/MWh]
    blackout_penalty : penalty on house load left unsupplied. [USD/MWh]
    fixed_usd_per_year : fixed costs by category (``fleet_capital``, ``fixed_om``). [USD/yr]
    mining_power_price : what mining pays the plant for its power (an agreement's
        price; a transfer inside the plant's account, not a cost of it). [USD/MWh]
    """

    offtake_price: np.ndarray
    unit_cost: np.ndarray
    import_price: np.ndarray
    diesel_cost: float
    btc_per_mwh: np.ndarray
    mining_usd_per_mwh: np.ndarray
    mining_opex: np.ndarray
    unserved_penalty: float
    blackout_penalty: float
    fixed_usd_per_year: dict[str, float] = field(default_factory=dict)
    mining_power_price: float = 0.0


@dataclass(frozen=True, eq=False)
class Accounts:
    """The accounts of N paths × T hours (build with :func:`account`).

    :meth:`hourly` holds every line hour by hour; :meth:`totals` per path,
    :meth:`by` per day or month.  Line names:

    * energy (MWh): ``<line>_mwh`` for :data:`ENERGY_LINES`, ``grid_mwh:<offtake>``,
      ``mining_mwh:<class>``, ``generated_mwh:<unit>``;
    * money (USD): ``grid_revenue_usd`` (and ``:<offtake>``), ``mining_revenue_usd``
      (and ``:<class>``), ``revenue_usd``, ``cost_usd:<category>``
      (:data:`COST_CATEGORIES`; ``cost_usd:generation:<unit>``), ``cost_usd``,
      ``net_usd`` = revenue − costs;
    * penalties (USD, not money): ``penalty_usd:<name>`` (:data:`PENALTIES`);
    * BTC: ``btc_mined`` (and ``:<class>``);
    * the mining business: ``mining_opex_usd`` (and ``:<class>``), ``mining_power_cost_usd``,
      ``fleet_capital_usd``, ``mining_net_usd`` = mining revenue − opex − power
      bought from the plant − fleet capital;
    * hours: ``hours_<flag>`` (:data:`HOUR_FLAGS`).

    :meth:`totals` adds ``capacity_factor`` (and ``:<unit>``) and, where the
    optimizer's figure was given, ``objective_usd``.
    """

    flows: Flows
    rates: Rates
    unit_names: tuple[str, ...]
    offtake_names: tuple[str, ...]
    class_names: tuple[str, ...]
    unit_capacity_mw: np.ndarray  # (U,)
    plant_capacity_mw: float  # every unit of the plant, dispatched here or not
    index: pd.DatetimeIndex | None = None
    objective_usd: np.ndarray | None = None  # (N,) the optimizer's figure

    @property
    def n_paths(self) -> int:
        return int(self.flows.imported.shape[0])

    @property
    def hours(self) -> int:
        return int(self.flows.imported.shape[-1])

    # ------------------------------------------------------------------ hourly
    @cached_property
    def _products(self) -> dict[str, np.ndarray]:
        """Hourly (N, X, T) products of rates and flows, each computed once."""
        f, r = self.flows, self.rates
        return {
            "grid_revenue": r.offtake_price * f.delivered,
            "mining_revenue": r.mining_usd_per_mwh * f.mining,
            "btc": r.btc_per_mwh * f.mining,
            "generation_cost": r.unit_cost * f.unit,
            "mining_opex": r.mining_opex[:, None] * f.mining,
        }

    def _n(self, a: np.ndarray) -> np.ndarray:
        """``a`` (1 or N, T) as (N, T) (a view)."""
        return np.broadcast_to(a, (self.n_paths, self.hours))

    @cached_property
    def _lines(self) -> dict[str, np.ndarray]:
        f, r, p = self.flows, self.rates, self._products
        n = self._n
        e: dict[str, np.ndarray] = {}
        e["available_mwh"] = f.unit_available.sum(axis=1)
        e["generated_mwh"] = f.unit.sum(axis=1)
        e["imported_mwh"] = n(f.imported)
        e["diesel_mwh"] = n(f.diesel)
        e["house_load_mwh"] = n(f.house_load)
        e["house_load_unsupplied_mwh"] = n(f.house_load_unsupplied)
        e["grid_mwh"] = f.delivered.sum(axis=1)
        e["mining_mwh"] = f.mining.sum(axis=1)
        e["curtailed_mwh"] = e["available_mwh"] - e["generated_mwh"]
        e["unserved_firm_mwh"] = f.unserved.sum(axis=1)
        for o, name in enumerate(self.offtake_names):
            e[f"grid_mwh:{name}"] = f.delivered[:, o]
        for k, name in enumerate(self.class_names):
            e[f"mining_mwh:{name}"] = f.mining[:, k]
        for u, name in enumerate(self.unit_names):
            e[f"generated_mwh:{name}"] = f.unit[:, u]

        m: dict[str, np.ndarray] = {}
        m["grid_revenue_usd"] = p["grid_revenue"].sum(axis=1)
        for o, name in enumerate(self.offtake_names):
            m[f"grid_revenue_usd:{name}"] = p["grid_revenue"][:, o]
        m["mining_revenue_usd"] = p["mining_revenue"].sum(axis=1)
        for k, name in enumerate(self.class_names):
            m[f"mining_revenue_usd:{name}"] = p["mining_revenue"][:, k]
        m["revenue_usd"] = m["grid_revenue_usd"] + m["mining_revenue_usd"]
        cost = {
            "generation": p["generation_cost"].sum(axis=1),
            "imports": n(r.import_price * f.imported),
            "diesel": n(r.diesel_cost * f.diesel),
            "mining_opex": n(r.mining_opex * e["mining_mwh"]),
        }
        for cat in ("fleet_capital", "fixed_om"):
            per_hour = r.fixed_usd_per_year.get(cat, 0.0) / HOURS_PER_YEAR
            cost[cat] = n(np.full((1, self.hours), per_hour))
        for cat in COST_CATEGORIES:
            m[f"cost_usd:{cat}"] = cost[cat]
        for u, name in enumerate(self.unit_names):
            m[f"cost_usd:generation:{name}"] = p["generation_cost"][:, u]
        m["cost_usd"] = sum((cost[c] for c in COST_CATEGORIES[1:]), cost[COST_CATEGORIES[0]])
        m["net_usd"] = m["revenue_usd"] - m["cost_usd"]
        m["penalty_usd:unserved_firm"] = r.unserved_penalty * e["unserved_firm_mwh"]
        m["penalty_usd:station_blackout"] = n(r.blackout_penalty * f.house_load_unsupplied)
        m["btc_mined"] = p["btc"].sum(axis=1)
        for k, name in enumerate(self.class_names):
            m[f"btc_mined:{name}"] = p["btc"][:, k]
        m["mining_opex_usd"] = cost["mining_opex"]
        for k, name in enumerate(self.class_names):
            m[f"mining_opex_usd:{name}"] = p["mining_opex"][:, k]
        m["mining_power_cost_usd"] = r.mining_power_price * e["mining_mwh"]
        m["fleet_capital_usd"] = cost["fleet_capital"]
        m["mining_net_usd"] = (m["mining_revenue_usd"] - m["mining_opex_usd"]
                               - m["mining_power_cost_usd"] - m["fleet_capital_usd"])
        h = {
            "hours_restricted": n(f.restricted),
            "hours_mining_blocked": n(f.mining_blocked),
            "hours_on_diesel": n(f.on_diesel),
            "hours_station_blackout": n(f.house_load_unsupplied > EPS_MW),
        }
        return e | m | h

    @property
    def lines(self) -> tuple[str, ...]:
        """Every line's name, in order."""
        return tuple(self._lines)

    def hourly(self, name: str | None = None) -> np.ndarray | dict[str, np.ndarray]:
        """Line ``name`` hour by hour, (N, T) (hour lines are bool); or every line."""
        if name is None:
            return dict(self._lines)
        try:
            return self._lines[name]
        except KeyError:
            raise KeyError(f"no account line {name!r}; expected one of "
                           f"{', '.join(self._lines)}") from None

    # ------------------------------------------------------------------ per path
    def totals(self, names: Iterable[str] | None = None) -> dict[str, np.ndarray]:
        """Per path: each line summed over the hours (N,), hours as integers; with
        ``capacity_factor`` (the plant's: generated / (every unit's capacity ×
        hours)), ``capacity_factor:<unit>`` and ``objective_usd`` (when known)."""
        lines = self._lines
        out: dict[str, np.ndarray] = {}
        for name in lines if names is None else names:
            a = lines[name]
            out[name] = a.sum(axis=-1, dtype=np.int64 if a.dtype == bool else None)
        if names is None:
            T = self.hours
            gen = out["generated_mwh"]
            out["capacity_factor"] = (gen / (self.plant_capacity_mw * T)
                                      if self.plant_capacity_mw > 0 else np.zeros_like(gen))
            for u, name in enumerate(self.unit_names):
                cap = float(self.unit_capacity_mw[u])
                g = out[f"generated_mwh:{name}"]
                out[f"capacity_factor:{name}"] = g / (cap * T) if cap > 0 else np.zeros_like(g)
            if self.objective_usd is not None:
                out["objective_usd"] = np.asarray(self.objective_usd, dtype=float)
        return out

    # ------------------------------------------------------------------ periods
    def periods(self, freq: str) -> tuple[list[str], np.ndarray]:
        """Labels and first hours of the ``day``s (``YYYY-MM-DD``) or ``month``s
        (``YYYY-MM``) of the horizon (UTC)."""
        if self.index is None:
            raise ValueError("the accounts have no hours' index to group by")
        idx = self.index
        if freq == "month":
            keys = np.asarray(idx.year, dtype=np.int64) * 12 + np.asarray(idx.month)
            fmt = "%Y-%m"
        elif freq == "day":
            keys = (np.asarray(idx.year, dtype=np.int64) * 10_000
                    + np.asarray(idx.month) * 100 + np.asarray(idx.day))
            fmt = "%Y-%m-%d"
        else:
            raise ValueError(f"freq must be 'day' or 'month' (got {freq!r})")
        start = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
        return [str(x) for x in idx[start].strftime(fmt)], start

    def by(self, freq: str, names: Iterable[str] | None = None
           ) -> tuple[list[str], dict[str, np.ndarray]]:
        """Each line summed by ``day`` or ``month``: labels and (N, P) arrays."""
        labels, start = self.periods(freq)
        lines = self._lines
        out = {}
        for name in lines if names is None else names:
            a = lines[name]
            out[name] = np.add.reduceat(a.astype(np.int64) if a.dtype == bool else a, start,
                                        axis=-1)
        return labels, out

    def hour_slice(self, start: int, stop: int) -> Accounts:
        """The hours [start, stop) as accounts of their own (views)."""
        sl = slice(start, stop)

        def cut(a: np.ndarray) -> np.ndarray:
            return a[..., sl]

        flows = Flows(**{k: cut(getattr(self.flows, k)) for k in Flows.__dataclass_fields__})
        r = self.rates
        rates = Rates(
            offtake_price=cut(r.offtake_price), unit_cost=cut(r.unit_cost),
            import_price=cut(r.import_price), diesel_cost=r.diesel_cost,
            btc_per_mwh=cut(r.btc_per_mwh), mining_usd_per_mwh=cut(r.mining_usd_per_mwh),
            mining_opex=cut(r.mining_opex), unserved_penalty=r.unserved_penalty,
            blackout_penalty=r.blackout_penalty, fixed_usd_per_year=r.fixed_usd_per_year,
            mining_power_price=r.mining_power_price,
        )
        return Accounts(flows=flows, rates=rates, unit_names=self.unit_names,
                        offtake_names=self.offtake_names, class_names=self.class_names,
                        unit_capacity_mw=self.unit_capacity_mw,
                        plant_capacity_mw=self.plant_capacity_mw,
                        index=None if self.index is None else self.index[sl])

    # ------------------------------------------------------------------ parties
    def party_revenue_usd(self, agreement: Agreement) -> dict[str, np.ndarray]:
        """Per party and path (N,): grid sales and power sold to mining by entitlement,
        mining revenue by fleet ownership (before costs)."""
        t = self.totals(("grid_revenue_usd", "mining_power_cost_usd", "mining_revenue_usd"))
        plant = t["grid_revenue_usd"] + t["mining_power_cost_usd"]
        return {
            p.id: (agreement.entitlements.get(p.id, 0.0) * plant
                   + agreement.mining.owners.get(p.id, 0.0) * t["mining_revenue_usd"])
            for p in agreement.parties
        }


def account(
    flows: Flows,
    rates: Rates,
    *,
    unit_names: tuple[str, ...],
    offtake_names: tuple[str, ...],
    class_names: tuple[str, ...],
    unit_capacity_mw: np.ndarray,
    plant_capacity_mw: float | None = None,
    index: pd.DatetimeIndex | None = None,
    objective_usd: np.ndarray | float | None = None,
) -> Accounts:
    """The accounts of a solved batch (see :class:`Accounts`).

    Parameters
    ----------
    flows : Flows
        The dispatch, MWh per hour, leading path axis.
    rates : Rates
        Prices, costs, BTC yields and penalties, leading path axis (or 1).
    unit_names, offtake_names, class_names : tuple of str
        Names along the U, O and K axes.
    unit_capacity_mw : numpy.ndarray
        (U,) net capacity of each unit in ``flows``. [MW]
    plant_capacity_mw : float, optional
        Net capacity of the whole plant, units not dispatched included (default:
        the sum of ``unit_capacity_mw``). [MW]
    index : pandas.DatetimeIndex, optional
        The T hours (UTC), for days and months.
    objective_usd : array_like, optional
        (N,) the optimizer's objective, kept as its figure. [USD]
    """
    cap = np.asarray(unit_capacity_mw, dtype=float)
    return Accounts(
        flows=flows,
        rates=rates,
        unit_names=tuple(unit_names),
        offtake_names=tuple(offtake_names),
        class_names=tuple(class_names),
        unit_capacity_mw=cap,
        plant_capacity_mw=float(cap.sum() if plant_capacity_mw is None else plant_capacity_mw),
        index=index,
        objective_usd=None if objective_usd is None else np.atleast_1d(
            np.asarray(objective_usd, dtype=float)),
    )
