"""The accounts: flows and rates of N paths × T hours in, lines by hour, period and path out.

Every hourly MW value is held for one hour, so it is also the hour's MWh.  Arrays
carry a leading path axis N (1 where every path shares them).  An account line is
defined once, hourly (:meth:`Accounts.hourly`); its total over a path, a day or a
month is the sum of its hours.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

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
    offtake_price_usd_per_mwh : (N, O, T) grid price. [USD/MWh]
    unit_cost_usd_per_mwh : (N, U, T) marginal cost of generation. [USD/MWh]
    import_price_usd_per_mwh : (N, T) price of imports. [USD/MWh]
    diesel_cost : cost of diesel generation. [USD/MWh]
    btc_per_mwh : (N, K, T) BTC earned per MWh mined, after the pool fee. [BTC/MWh]
    mining_usd_per_mwh : (N, K, T) that BTC at the hour's price. [USD/MWh]
    mining_opex_usd_per_mwh : (N, T) the sites' operating cost. [USD/MWh]
    unserved_penalty : penalty on unserved firm energy. [USD/MWh]
    blackout_penalty : penalty on house load left unsupplied. [USD/MWh]
    fixed_usd_per_year : fixed costs by category (``fleet_capital``, ``fixed_om``). [USD/yr]
    mining_power_price : what mining pays the plant for its power (an agreement's
        price; a transfer inside the plant's account, not a cost of it). [USD/MWh]
    demand_response_availability_usd, demand_response_energy_usd : (N, D, T) what
        the demand-response programmes of the D sites that have one pay in each hour,
        for capacity held available and for energy curtailed on call (fixed by each
        programme's rule on the path's prices, not by the dispatch); None: no
        programme. [USD]
    """

    offtake_price_usd_per_mwh: np.ndarray
    unit_cost_usd_per_mwh: np.ndarray
    import_price_usd_per_mwh: np.ndarray
    diesel_cost: float
    btc_per_mwh: np.ndarray
    mining_usd_per_mwh: np.ndarray
    mining_opex_usd_per_mwh: np.ndarray
    unserved_penalty: float
    blackout_penalty: float
    fixed_usd_per_year: dict[str, float] = field(default_factory=dict)
    mining_power_price: float = 0.0
    demand_response_availability_usd: np.ndarray | None = None
    demand_response_energy_usd: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class Accounts:
    """The accounts of N paths × T hours (build with :func:`account`).

    :meth:`hourly` holds every line hour by hour; :meth:`totals` per path,
    :meth:`by` per day or month.  Line names:

    * energy (MWh): ``<line>_mwh`` for :data:`ENERGY_LINES`, ``grid_mwh:<offtake>``,
      ``mining_mwh:<class>``, ``generated_mwh:<unit>``;
    * money (USD): ``grid_revenue_usd`` (and ``:<offtake>``), ``mining_revenue_usd``
      (and ``:<class>``), ``demand_response_revenue_usd`` (the sites' programmes:
      ``demand_response_availability_usd`` and ``demand_response_energy_usd``, each
      also ``:<site>``),
      ``revenue_usd``, ``cost_usd:<category>``
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
    demand_response_sites: tuple[str, ...] = ()  # the D sites with a programme

    @property
    def n_paths(self) -> int:
        return int(self.flows.imported.shape[0])

    @property
    def hours(self) -> int:
        return int(self.flows.imported.shape[-1])

    # ------------------------------------------------------------------ the lines
    def _n(self, a: np.ndarray) -> np.ndarray:
        """``a`` (1 or N, ...) with N paths (a view)."""
        n = self.n_paths
        return a if a.shape[0] == n else np.broadcast_to(a, (n, *a.shape[1:]))

    @cached_property
    def _blocks(self) -> dict[str, tuple[np.ndarray | None, np.ndarray]]:
        """(rate, energy) pairs over an axis of units, offtakes or classes, (N|1, X, T):
        a line of a block is Σ_x rate·energy (rate None: 1), of one item or all."""
        f, r = self.flows, self.rates
        return {
            "generated": (None, f.unit),
            "available": (None, f.unit_available),
            "grid": (None, f.delivered),
            "unserved": (None, f.unserved),
            "mining": (None, f.mining),
            "grid_revenue": (r.offtake_price_usd_per_mwh, f.delivered),
            "mining_revenue": (r.mining_usd_per_mwh, f.mining),
            "btc": (r.btc_per_mwh, f.mining),
            "generation_cost": (r.unit_cost_usd_per_mwh, f.unit),
            "mining_opex": (r.mining_opex_usd_per_mwh[:, None], f.mining),
        }

    @cached_property
    def _spec(self) -> dict[str, tuple[Any, ...]]:
        """Every line: ``("block", block, item or None)``, ``("series", rate or None,
        energy)`` ((N|1, T) each), ``("fixed", USD per hour)``, ``("combo", ((coef,
        line), ...))`` or ``("flag", (N|1, T) bool)``.  The one definition of each."""
        f, r = self.flows, self.rates
        spec: dict[str, tuple[Any, ...]] = {
            "available_mwh": ("block", "available", None),
            "generated_mwh": ("block", "generated", None),
            "imported_mwh": ("series", None, f.imported),
            "diesel_mwh": ("series", None, f.diesel),
            "house_load_mwh": ("series", None, f.house_load),
            "house_load_unsupplied_mwh": ("series", None, f.house_load_unsupplied),
            "grid_mwh": ("block", "grid", None),
            "mining_mwh": ("block", "mining", None),
            "curtailed_mwh": ("combo", ((1.0, "available_mwh"), (-1.0, "generated_mwh"))),
            "unserved_firm_mwh": ("block", "unserved", None),
        }
        items = (("grid", "grid_mwh", self.offtake_names),
                 ("mining", "mining_mwh", self.class_names),
                 ("generated", "generated_mwh", self.unit_names),
                 ("grid_revenue", "grid_revenue_usd", self.offtake_names),
                 ("mining_revenue", "mining_revenue_usd", self.class_names))
        for block, line, names in items[:3]:
            spec |= {f"{line}:{x}": ("block", block, i) for i, x in enumerate(names)}
        for block, line, names in items[3:]:
            spec[line] = ("block", block, None)
            spec |= {f"{line}:{x}": ("block", block, i) for i, x in enumerate(names)}
        for kind in ("availability", "energy"):
            line = f"demand_response_{kind}_usd"
            per_site = getattr(r, line)
            if per_site is None or not self.demand_response_sites:
                spec[line] = ("series", None, np.zeros((1, self.hours)))
                continue
            spec |= {f"{line}:{x}": ("series", None, per_site[:, d])
                     for d, x in enumerate(self.demand_response_sites)}
            spec[line] = ("combo", tuple((1.0, f"{line}:{x}")
                                         for x in self.demand_response_sites))
        spec["demand_response_revenue_usd"] = ("combo", (
            (1.0, "demand_response_availability_usd"), (1.0, "demand_response_energy_usd")))
        spec["revenue_usd"] = ("combo", ((1.0, "grid_revenue_usd"), (1.0, "mining_revenue_usd"),
                                         (1.0, "demand_response_revenue_usd")))
        spec["cost_usd:generation"] = ("block", "generation_cost", None)
        spec["cost_usd:imports"] = ("series", r.import_price_usd_per_mwh, f.imported)
        spec["cost_usd:diesel"] = ("combo", ((r.diesel_cost, "diesel_mwh"),))
        spec["cost_usd:mining_opex"] = ("block", "mining_opex", None)
        for cat in ("fleet_capital", "fixed_om"):
            spec[f"cost_usd:{cat}"] = ("fixed", r.fixed_usd_per_year.get(cat, 0.0)
                                       / HOURS_PER_YEAR)
        spec |= {f"cost_usd:generation:{x}": ("block", "generation_cost", i)
                 for i, x in enumerate(self.unit_names)}
        spec["cost_usd"] = ("combo", tuple((1.0, f"cost_usd:{c}") for c in COST_CATEGORIES))
        spec["net_usd"] = ("combo", ((1.0, "revenue_usd"), (-1.0, "cost_usd")))
        spec["penalty_usd:unserved_firm"] = ("combo", ((r.unserved_penalty,
                                                        "unserved_firm_mwh"),))
        spec["penalty_usd:station_blackout"] = ("combo", ((r.blackout_penalty,
                                                           "house_load_unsupplied_mwh"),))
        spec["btc_mined"] = ("block", "btc", None)
        spec |= {f"btc_mined:{x}": ("block", "btc", i) for i, x in enumerate(self.class_names)}
        spec["mining_opex_usd"] = ("combo", ((1.0, "cost_usd:mining_opex"),))
        spec |= {f"mining_opex_usd:{x}": ("block", "mining_opex", i)
                 for i, x in enumerate(self.class_names)}
        spec["mining_power_cost_usd"] = ("combo", ((r.mining_power_price, "mining_mwh"),))
        spec["fleet_capital_usd"] = ("combo", ((1.0, "cost_usd:fleet_capital"),))
        spec["mining_net_usd"] = ("combo", ((1.0, "mining_revenue_usd"),
                                            (-1.0, "mining_opex_usd"),
                                            (-1.0, "mining_power_cost_usd"),
                                            (-1.0, "fleet_capital_usd")))
        spec["hours_restricted"] = ("flag", f.restricted)
        spec["hours_mining_blocked"] = ("flag", f.mining_blocked)
        spec["hours_on_diesel"] = ("flag", f.on_diesel)
        spec["hours_station_blackout"] = ("flag", f.house_load_unsupplied > EPS_MW)
        return spec

    @cached_property
    def _cache(self) -> dict[tuple[str, str], np.ndarray]:
        return {}

    def _kind(self, name: str) -> tuple[Any, ...]:
        try:
            return self._spec[name]
        except KeyError:
            raise KeyError(f"no account line {name!r}; expected one of "
                           f"{', '.join(self._spec)}") from None

    def _block_total(self, block: str) -> np.ndarray:
        """(N, X): the block's items summed over the hours."""
        key = ("block", block)
        if key not in self._cache:
            rate, energy = self._blocks[block]
            self._cache[key] = self._n(energy.sum(axis=-1) if rate is None
                                       else _dot_hours(rate, energy))
        return self._cache[key]

    @property
    def lines(self) -> tuple[str, ...]:
        """Every line's name, in order."""
        return tuple(self._spec)

    def hourly(self, name: str | None = None) -> np.ndarray | dict[str, np.ndarray]:
        """Line ``name`` hour by hour, (N, T) (hour lines are bool); or every line."""
        if name is None:
            return {n: self.hourly(n) for n in self._spec}
        key = ("hourly", name)
        if key in self._cache:
            return self._cache[key]
        kind = self._kind(name)
        if kind[0] == "block":
            rate, energy = self._blocks[kind[1]]
            i = kind[2]
            if i is None:
                h = _dot_items(rate, energy)
            else:
                # a rate shared by every item has an item axis of 1 (mining opex)
                h = (energy[:, i] if rate is None
                     else rate[:, i if rate.shape[1] > 1 else 0] * energy[:, i])
        elif kind[0] == "series":
            h = kind[2] if kind[1] is None else kind[1] * kind[2]
        elif kind[0] == "fixed":
            h = np.full((1, self.hours), kind[1])
        elif kind[0] == "combo":
            h = sum((c * self.hourly(n) for c, n in kind[1][1:]),
                    kind[1][0][0] * self.hourly(kind[1][0][1]))
        else:  # flag
            h = kind[1]
        self._cache[key] = h = self._n(np.asarray(h).reshape(-1, self.hours))
        return h

    def _total(self, name: str) -> np.ndarray:
        key = ("total", name)
        if key in self._cache:
            return self._cache[key]
        kind = self._kind(name)
        if kind[0] == "block":
            t = self._block_total(kind[1])
            t = t.sum(axis=-1) if kind[2] is None else t[:, kind[2]]
        elif kind[0] == "series":
            t = kind[2].sum(axis=-1) if kind[1] is None else _dot_hours(kind[1], kind[2])
        elif kind[0] == "fixed":
            t = np.full(1, kind[1] * self.hours)
        elif kind[0] == "combo":
            t = sum((c * self._total(n) for c, n in kind[1][1:]),
                    kind[1][0][0] * self._total(kind[1][0][1]))
        else:  # flag
            t = np.count_nonzero(kind[1], axis=-1).astype(np.int64)
        self._cache[key] = t = self._n(np.asarray(t).reshape(-1))
        return t

    # ------------------------------------------------------------------ per path
    def totals(self, names: Iterable[str] | None = None) -> dict[str, np.ndarray]:
        """Per path: each line summed over the hours (N,), hours as integers; with
        ``capacity_factor`` (the plant's: generated / (every unit's capacity ×
        hours)), ``capacity_factor:<unit>`` and ``objective_usd`` (when known)."""
        out = {name: self._total(name) for name in (self._spec if names is None else names)}
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
        if freq not in ("day", "month"):
            raise ValueError(f"freq must be 'day' or 'month' (got {freq!r})")
        import pandas as pd

        idx = self.index
        hourly = len(idx) < 2 or (idx[-1] - idx[0]) == pd.Timedelta(hours=len(idx) - 1)
        if hourly:  # consecutive hours (every horizon): the same periods for the same span
            labels, start = _periods(int(idx[0].value), len(idx), str(idx.tz), freq)
            return list(labels), start.copy()
        return _group(idx, freq)

    def by(self, freq: str, names: Iterable[str] | None = None
           ) -> tuple[list[str], dict[str, np.ndarray]]:
        """Each line summed by ``day`` or ``month``: labels and (N, P) arrays."""
        labels, start = self.periods(freq)
        out = {}
        for name in self._spec if names is None else names:
            a = self.hourly(name)
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
            offtake_price_usd_per_mwh=cut(r.offtake_price_usd_per_mwh),
            unit_cost_usd_per_mwh=cut(r.unit_cost_usd_per_mwh),
            import_price_usd_per_mwh=cut(r.import_price_usd_per_mwh), diesel_cost=r.diesel_cost,
            btc_per_mwh=cut(r.btc_per_mwh), mining_usd_per_mwh=cut(r.mining_usd_per_mwh),
            mining_opex_usd_per_mwh=cut(r.mining_opex_usd_per_mwh),
            unserved_penalty=r.unserved_penalty,
            blackout_penalty=r.blackout_penalty, fixed_usd_per_year=r.fixed_usd_per_year,
            mining_power_price=r.mining_power_price,
            demand_response_availability_usd=(
                None if r.demand_response_availability_usd is None
                else cut(r.demand_response_availability_usd)),
            demand_response_energy_usd=(
                None if r.demand_response_energy_usd is None
                else cut(r.demand_response_energy_usd)),
        )
        return Accounts(flows=flows, rates=rates, unit_names=self.unit_names,
                        offtake_names=self.offtake_names, class_names=self.class_names,
                        unit_capacity_mw=self.unit_capacity_mw,
                        plant_capacity_mw=self.plant_capacity_mw,
                        index=None if self.index is None else self.index[sl],
                        demand_response_sites=self.demand_response_sites)

    # ------------------------------------------------------------------ parties
    def party_revenue_usd(self, agreement: Agreement) -> dict[str, np.ndarray]:
        """Per party and path (N,): grid sales and power sold to mining by entitlement,
        mining revenue and the sites' demand-response payments by fleet ownership (the
        fleet's owners stand ready to curtail; as settlement shares them), before costs."""
        t = self.totals(("grid_revenue_usd", "mining_power_cost_usd", "mining_revenue_usd",
                         "demand_response_revenue_usd"))
        plant = t["grid_revenue_usd"] + t["mining_power_cost_usd"]
        fleet = t["mining_revenue_usd"] + t["demand_response_revenue_usd"]
        return {
            p.id: (agreement.entitlements.get(p.id, 0.0) * plant
                   + agreement.mining.owners.get(p.id, 0.0) * fleet)
            for p in agreement.parties
        }


def _dot_items(rate: np.ndarray | None, energy: np.ndarray) -> np.ndarray:
    """(N, T): Σ_x rate[x, t]·energy[x, t] (rate None: 1) over a short item axis."""
    X = energy.shape[-2]
    if X == 0:
        return np.zeros((energy.shape[0], energy.shape[-1]))
    if rate is not None:
        rate = np.broadcast_to(rate, (rate.shape[0], X, rate.shape[-1]))

    def term(x: int) -> np.ndarray:
        return energy[:, x] if rate is None else rate[:, x] * energy[:, x]

    out = np.array(term(0))
    for x in range(1, X):
        t = term(x)
        if t.shape == out.shape:
            out += t
        else:
            out = out + t
    return out


def _dot_hours(rate: np.ndarray, energy: np.ndarray) -> np.ndarray:
    """(..., X) or (...): Σ_t rate·energy over the last axis (a matrix product).

    A rate held as a broadcast view (one value for the horizon) is made contiguous
    first: the product then takes the same (BLAS) path, and the same sums, as for any
    other rate."""
    if rate.ndim and rate.strides[-1] == 0 and rate.shape[-1] > 1:
        rate = np.ascontiguousarray(rate)
    return (energy[..., None, :] @ rate[..., :, None])[..., 0, 0]


def _group(idx: pd.DatetimeIndex, freq: str) -> tuple[list[str], np.ndarray]:
    """Labels and first positions of the days or months of ``idx``."""
    if freq == "month":
        keys = np.asarray(idx.year, dtype=np.int64) * 12 + np.asarray(idx.month)
        fmt = "%Y-%m"
    else:
        keys = (np.asarray(idx.year, dtype=np.int64) * 10_000
                + np.asarray(idx.month) * 100 + np.asarray(idx.day))
        fmt = "%Y-%m-%d"
    start = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return [str(x) for x in idx[start].strftime(fmt)], start


@functools.lru_cache(maxsize=64)
def _periods(first_ns: int, hours: int, tz: str, freq: str) -> tuple[tuple[str, ...], np.ndarray]:
    """:func:`_group` of ``hours`` consecutive hours from ``first_ns`` (cached: a sweep
    asks for the same months in every block)."""
    import pandas as pd

    idx = pd.date_range(pd.Timestamp(first_ns, tz=None if tz == "None" else tz),
                        periods=hours, freq="h")
    labels, start = _group(idx, freq)
    return tuple(labels), start


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
    demand_response_sites: tuple[str, ...] = (),
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
    demand_response_sites : tuple of str, optional
        The D sites of ``rates``' demand-response arrays.
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
        demand_response_sites=tuple(demand_response_sites),
    )
