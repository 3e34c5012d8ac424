"""Resolve a validated scenario into arrays on one hourly UTC index.

This is the seam between I/O and the pure core: everything downstream
(economics, dispatch, reports) reads :class:`Inputs`, a frozen bundle of numpy
arrays and names, and never a file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from gridhash.scenario.load import LoadedScenario
from gridhash.scenario.models import Model
from gridhash.scenario.series import hourly_index, resolve_series, window_mask

if TYPE_CHECKING:
    import pandas as pd

    from gridhash.bitcoin.catalogue import AsicModel


@dataclass(frozen=True, eq=False)
class Inputs:
    """A scenario's inputs on one hourly UTC index (T hours).

    Shapes: U units, O offtakes, L lines, S sites, K miner classes.
    Powers in MW, prices in USD/MWh, energy over one hour in MWh.
    """

    name: str
    source: str  # the scenario file (or "<built-in NAME>"), for messages
    index: pd.DatetimeIndex
    # plant
    unit_names: tuple[str, ...]
    unit_capacity_mw: np.ndarray  # (U,)
    unit_available_mw: np.ndarray  # (U, T): capacity × availability, 0 in outages
    unit_min_mw: np.ndarray  # (U, T): min stable output where available, else 0
    unit_ramp_up_mw: np.ndarray  # (U,) inf = unlimited
    unit_ramp_down_mw: np.ndarray  # (U,)
    unit_cost: np.ndarray  # (U, T) USD/MWh
    house_load_mw: np.ndarray  # (T,)
    # grid
    offtake_names: tuple[str, ...]
    offtake_price: np.ndarray  # (O, T)
    offtake_demand_mw: np.ndarray  # (O, T)
    offtake_firm_mw: np.ndarray  # (O, T)
    line_names: tuple[str, ...]
    line_offtake: np.ndarray  # (L,) index of the offtake each line serves
    line_capacity_mw: np.ndarray  # (L, T), 0 in outages
    import_price: np.ndarray  # (T,)
    unserved_penalty: float
    # mining
    site_names: tuple[str, ...]
    site_capacity_mw: np.ndarray  # (S, T), 0 in outages
    class_names: tuple[str, ...]
    class_models: tuple[AsicModel, ...]
    class_count: np.ndarray  # (K,)
    class_site: np.ndarray  # (K,) index into sites
    cooling_overhead: float
    pool_fee: float
    mining_opex: np.ndarray  # (T,) USD/MWh
    # bitcoin
    btc_price_usd: np.ndarray  # (T,)
    difficulty: np.ndarray  # (T,)
    fees_btc_per_block: np.ndarray  # (T,)
    subsidy_btc_per_block: np.ndarray  # (T,) mean subsidy of blocks found in each hour
    start_height: int
    blocks_per_hour: float
    # the agreement's rule (gridhash.settlement.apply): every offtake before any mining
    grid_first: bool = False

    @property
    def hours(self) -> int:
        return len(self.index)

    @property
    def class_max_mw(self) -> np.ndarray:
        """Largest draw of each miner class at the site, cooling included. (K,) [MW]"""
        power = np.array([m.power_w for m in self.class_models], dtype=float)
        return self.class_count * power * (1.0 + self.cooling_overhead) / 1e6

    @property
    def class_efficiency(self) -> np.ndarray:
        """ASIC efficiency of each class. (K,) [J/TH]"""
        return np.array([m.efficiency_j_per_th for m in self.class_models], dtype=float)


class _Resolver:
    def __init__(self, loaded: LoadedScenario, index: pd.DatetimeIndex) -> None:
        self.loaded = loaded
        self.index = index

    def series(self, owner: Model, name: str, path: str) -> np.ndarray:
        info = type(owner).model_fields[name]
        extra: dict[str, Any] = (
            info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        )
        bounds = {k: extra[k] for k in ("ge", "gt", "le") if k in extra}
        return resolve_series(
            getattr(owner, name),
            self.index,
            field=f"{path}.{name}",
            source=self.loaded.source,
            base_dir=self.loaded.base_dir,
            bounds=bounds,
        )

    def windows(self, windows: list[Any], path: str) -> np.ndarray:
        return window_mask(windows, self.index, field=path, source=self.loaded.source)


def resolve(loaded: LoadedScenario) -> Inputs:
    """Resolve every series, window and catalogue reference of a loaded scenario."""
    from gridhash.bitcoin.catalogue import get_model
    from gridhash.bitcoin.subsidy import mean_subsidy_btc_per_block
    from gridhash.errors import CatalogueError, ScenarioError

    sc = loaded.scenario
    index = hourly_index(sc.horizon.start, sc.horizon.hours)
    r = _Resolver(loaded, index)
    T = len(index)

    # plant ------------------------------------------------------------------
    avail, mins, costs = [], [], []
    for i, u in enumerate(sc.plant.units):
        p = f"plant.units[{i}]"
        a = u.capacity_mw * r.series(u, "availability", p)
        a[r.windows(u.outages, f"{p}.outages")] = 0.0
        avail.append(a)
        mins.append(np.where(a > 0, np.minimum(u.min_stable_mw, a), 0.0))
        costs.append(r.series(u, "marginal_cost_usd_per_mwh", p))
    inf = np.inf
    ramp_up = np.array([u.ramp_up_mw_per_h or inf for u in sc.plant.units], dtype=float)
    ramp_dn = np.array([u.ramp_down_mw_per_h or inf for u in sc.plant.units], dtype=float)

    # grid -------------------------------------------------------------------
    g = sc.grid
    price, demand, firm = [], [], []
    for i, o in enumerate(g.offtakes):
        p = f"grid.offtakes[{i}]"
        price.append(r.series(o, "price_usd_per_mwh", p))
        d = r.series(o, "demand_mw", p)
        f = r.series(o, "firm_mw", p)
        over = f > d + 1e-9
        if over.any():
            h = int(np.argmax(over))
            raise ScenarioError(
                f"firm obligation exceeds the offtake's demand at hour {h} "
                f"({index[h].strftime('%Y-%m-%dT%H:%MZ')})",
                value=float(f[h]),
                expected=f"firm_mw ≤ demand_mw ({d[h]:g} MW)",
                source=loaded.source,
                field=f"{p}.firm_mw",
            )
        demand.append(d)
        firm.append(f)
    names = [o.name for o in g.offtakes]
    line_cap = np.zeros((len(g.lines), T))
    for i, line in enumerate(g.lines):
        line_cap[i] = line.capacity_mw
        line_cap[i, r.windows(line.outages, f"grid.lines[{i}].outages")] = 0.0
    line_offtake = np.array([names.index(line.serves) for line in g.lines], dtype=np.int64)

    # mining -----------------------------------------------------------------
    m = sc.mining
    site_cap = np.zeros((len(m.sites), T))
    for i, s in enumerate(m.sites):
        p = f"mining.sites[{i}]"
        site_cap[i] = r.series(s, "capacity_mw", p)
        site_cap[i, r.windows(s.outages, f"{p}.outages")] = 0.0
    site_names = [s.name for s in m.sites]
    models = []
    for i, e in enumerate(m.fleet):
        try:
            models.append(get_model(e.model))
        except CatalogueError as exc:  # re-anchor it to the scenario's field
            raise ScenarioError(
                exc.detail,
                value=e.model,
                expected=exc.expected,
                source=loaded.source,
                field=f"mining.fleet[{i}].model",
            ) from None

    # bitcoin ----------------------------------------------------------------
    b = sc.bitcoin
    subsidy = mean_subsidy_btc_per_block(b.start_height, T, b.blocks_per_hour)

    return Inputs(
        name=sc.name,
        source=loaded.source,
        index=index,
        unit_names=tuple(u.name for u in sc.plant.units),
        unit_capacity_mw=np.array([u.capacity_mw for u in sc.plant.units], dtype=float),
        unit_available_mw=np.array(avail).reshape(len(avail), T),
        unit_min_mw=np.array(mins).reshape(len(mins), T),
        unit_ramp_up_mw=ramp_up,
        unit_ramp_down_mw=ramp_dn,
        unit_cost=np.array(costs).reshape(len(costs), T),
        house_load_mw=r.series(sc.plant, "house_load_mw", "plant"),
        offtake_names=tuple(names),
        offtake_price=np.array(price).reshape(len(price), T),
        offtake_demand_mw=np.array(demand).reshape(len(demand), T),
        offtake_firm_mw=np.array(firm).reshape(len(firm), T),
        line_names=tuple(line.name for line in g.lines),
        line_offtake=line_offtake,
        line_capacity_mw=line_cap,
        import_price=r.series(g, "import_price_usd_per_mwh", "grid"),
        unserved_penalty=g.unserved_penalty_usd_per_mwh,
        site_names=tuple(site_names),
        site_capacity_mw=site_cap,
        class_names=tuple(e.label for e in m.fleet),
        class_models=tuple(models),
        class_count=np.array([e.count for e in m.fleet], dtype=float),
        class_site=np.array([site_names.index(e.site) for e in m.fleet], dtype=np.int64),
        cooling_overhead=m.cooling_overhead,
        pool_fee=m.pool_fee,
        mining_opex=r.series(m, "opex_usd_per_mwh", "mining"),
        btc_price_usd=r.series(b, "price_usd", "bitcoin"),
        difficulty=r.series(b, "difficulty", "bitcoin"),
        fees_btc_per_block=r.series(b, "fees_btc_per_block", "bitcoin"),
        subsidy_btc_per_block=np.asarray(subsidy, dtype=float),
        start_height=b.start_height,
        blocks_per_hour=b.blocks_per_hour,
    )
