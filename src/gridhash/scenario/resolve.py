"""Resolve a validated scenario into arrays on one hourly UTC index.

This is the seam between I/O and the pure core: everything downstream
(economics, dispatch, reports) reads :class:`Inputs`, a frozen bundle of numpy
arrays and names, and never a file.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import numpy as np

from gridhash.demand_response import Programme, SiteCurtailment, site_programmes
from gridhash.scenario.arrays import declare, is_static
from gridhash.scenario.load import LoadedScenario
from gridhash.scenario.models import Model
from gridhash.scenario.series import hourly_index, resolve_series, window_mask

if TYPE_CHECKING:
    import pandas as pd

    from gridhash.bitcoin.catalogue import AsicModel


@declare("inputs", frozen=True, eq=False)
class Inputs:
    """A scenario's inputs on one hourly UTC index (T hours): names and scalars here,
    the arrays from the table (:mod:`gridhash.scenario.arrays`, stage ``inputs``)."""

    name: str
    source: str  # the scenario file (or "<built-in NAME>"), for messages
    index: pd.DatetimeIndex
    # plant
    unit_names: tuple[str, ...]
    # grid
    offtake_names: tuple[str, ...]
    line_names: tuple[str, ...]
    unserved_penalty: float
    # mining
    site_names: tuple[str, ...]
    class_names: tuple[str, ...]
    class_models: tuple[AsicModel, ...]
    cooling_overhead: float
    pool_fee: float
    # bitcoin
    start_height: int
    blocks_per_hour: float
    # the agreement's rule (gridhash.scenario.resolve_agreement): every offtake before
    # any mining
    grid_first: bool = False
    # each site's demand-response programme (None: none), rerun on a path's own prices
    # by :func:`site_curtailment`
    site_dr_programmes: tuple[Programme | None, ...] = ()

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


def offtake_caps(inputs: Inputs, line_cap: np.ndarray) -> np.ndarray:
    """(..., O, T) what each offtake can take: its demand, and the lines serving it.

    ``line_cap`` is (..., L, T): the lines' capacity in service (leading path axes allowed).
    """
    serves = np.zeros((len(inputs.offtake_names), len(inputs.line_offtake)))
    serves[inputs.line_offtake, np.arange(len(inputs.line_offtake))] = 1.0
    return np.minimum(inputs.offtake_demand_mw, np.einsum("ol,...lt->...ot", serves, line_cap))


@functools.lru_cache(maxsize=8)
def fleet_cap(inputs: Inputs) -> np.ndarray:
    """(T,) the most the fleet can draw: classes limited by their sites before any
    demand-response curtailment (a site limit of the dispatch, which depends on a path's
    prices, not a limit of the plant's safety envelope) (read only; remembered for the
    last few ``Inputs``, which compare by identity)."""
    T = inputs.hours
    if not len(inputs.class_names):
        cap = np.zeros(T)
        cap.flags.writeable = False
        return cap
    site_cap = inputs.site_capacity_before_dr_mw
    per_class = np.minimum(inputs.class_max_mw[:, None], site_cap[inputs.class_site])
    per_site = np.zeros_like(site_cap)
    np.add.at(per_site, inputs.class_site, per_class)
    cap = np.minimum(per_site, site_cap).sum(axis=0)
    cap.flags.writeable = False
    return cap


def static_series(value: float, hours: int) -> np.ndarray:
    """(T,) one value for every hour, as a read-only broadcast view (stride 0 along the
    hours): a value given as one number for the horizon stays one number, and whoever
    reads it can tell from its layout (:func:`gridhash.scenario.arrays.is_static`)."""
    return np.broadcast_to(np.float64(value), (hours,))


def stack_rows(rows: list[np.ndarray], hours: int) -> np.ndarray:
    """(X, T) the rows stacked: a read-only broadcast of their values when every row is
    one value for the horizon (:func:`static_series`), else a new array."""
    if rows and all(is_static(r) for r in rows):
        values = np.array([float(r[0]) for r in rows]) if hours else np.zeros(len(rows))
        return np.broadcast_to(values[:, None], (len(rows), hours))
    return np.array(rows, dtype=float).reshape(len(rows), hours)


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
        spec = getattr(owner, name)
        values = resolve_series(
            spec,
            self.index,
            field=f"{path}.{name}",
            source=self.loaded.source,
            base_dir=self.loaded.base_dir,
            bounds=bounds,
        )
        if isinstance(spec, int | float) and len(values):
            return static_series(values[0], len(values))
        return values

    def windows(self, windows: list[Any], path: str) -> np.ndarray:
        return window_mask(windows, self.index, field=path, source=self.loaded.source)


def scenario_models(loaded: LoadedScenario) -> dict[str, AsicModel]:
    """The ASIC models a scenario can use: the catalogue and its ``mining.models``.

    Raises
    ------
    ScenarioError
        If a ``mining.models`` name is a catalogue model's; the message names both.
    """
    from gridhash.bitcoin.catalogue import user_model, with_user_models
    from gridhash.errors import CatalogueError, ScenarioError

    user = loaded.scenario.mining.models
    try:
        return with_user_models([
            user_model(m.name, hashrate_th=m.hashrate_th_s, power_w=m.power_w,
                       price_usd=m.price_usd, source=m.source, release=m.release)
            for m in user
        ])
    except CatalogueError as exc:
        i = next(k for k, m in enumerate(user) if m.name == exc.value)
        raise ScenarioError(exc.detail, value=exc.value, expected=exc.expected,
                            source=loaded.source, field=f"mining.models[{i}].name") from None


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
    import_limit = None
    if not g.imports_allowed:
        import_limit = np.zeros(T)
    elif g.import_cap_mw is not None:
        import_limit = r.series(g, "import_cap_mw", "grid")

    # mining -----------------------------------------------------------------
    m = sc.mining
    site_cap = np.zeros((len(m.sites), T))
    for i, s in enumerate(m.sites):
        p = f"mining.sites[{i}]"
        site_cap[i] = r.series(s, "capacity_mw", p)
        site_cap[i, r.windows(s.outages, f"{p}.outages")] = 0.0
    site_names = [s.name for s in m.sites]
    programmes, called = _demand_response(loaded, r, names)
    dr = site_programmes(programmes, np.array(price).reshape(len(price), T), called, site_cap)
    known = scenario_models(loaded) if m.models else None
    models = []
    for i, e in enumerate(m.fleet):
        try:
            models.append(get_model(e.model, known))
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
        unit_ramp_up_mw_per_h=ramp_up,
        unit_ramp_down_mw_per_h=ramp_dn,
        unit_cost_usd_per_mwh=stack_rows(costs, T),
        house_load_mw=r.series(sc.plant, "house_load_mw", "plant"),
        offtake_names=tuple(names),
        offtake_price_usd_per_mwh=stack_rows(price, T),
        offtake_demand_mw=stack_rows(demand, T),
        offtake_firm_mw=stack_rows(firm, T),
        line_names=tuple(line.name for line in g.lines),
        line_offtake=line_offtake,
        line_capacity_mw=line_cap,
        import_price_usd_per_mwh=r.series(g, "import_price_usd_per_mwh", "grid"),
        unserved_penalty=g.unserved_penalty_usd_per_mwh,
        site_names=tuple(site_names),
        site_capacity_mw=dr.site_capacity_mw,
        site_capacity_before_dr_mw=site_cap,
        class_names=tuple(e.label for e in m.fleet),
        class_models=tuple(models),
        class_count=np.array([e.count for e in m.fleet], dtype=float),
        class_site=np.array([site_names.index(e.site) for e in m.fleet], dtype=np.int64),
        cooling_overhead=m.cooling_overhead,
        pool_fee=m.pool_fee,
        mining_opex_usd_per_mwh=r.series(m, "opex_usd_per_mwh", "mining"),
        btc_price_usd=r.series(b, "price_usd", "bitcoin"),
        difficulty=r.series(b, "difficulty", "bitcoin"),
        fees_btc_per_block=r.series(b, "fees_btc_per_block", "bitcoin"),
        subsidy_btc_per_block=np.asarray(subsidy, dtype=float),
        start_height=b.start_height,
        blocks_per_hour=b.blocks_per_hour,
        site_dr_codes=dr.codes,
        site_dr_called=called,
        site_dr_price_usd_per_mwh=_dr_prices(programmes, np.array(price).reshape(len(price), T)),
        site_dr_availability_usd=dr.availability_usd,
        site_dr_energy_usd=dr.energy_usd,
        site_dr_programmes=programmes,
        import_limit_mw=import_limit,
    )


def _demand_response(loaded: LoadedScenario, r: Any, offtakes: list[str]
                     ) -> tuple[tuple[Programme | None, ...], np.ndarray]:
    """Each site's demand-response programme (None: none) and its called hours (S, T)."""
    from gridhash.demand_response import CurtailmentRule
    from gridhash.errors import ScenarioError

    sites = loaded.scenario.mining.sites
    called = np.zeros((len(sites), len(r.index)), dtype=bool)
    programmes: list[Programme | None] = []
    for i, site in enumerate(sites):
        dr = site.demand_response
        if dr is None:
            programmes.append(None)
            continue
        p = f"mining.sites[{i}].demand_response"
        ref = dr.price_offtake or offtakes[0]
        if ref not in offtakes:
            raise ScenarioError("unknown offtake", value=ref, source=loaded.source,
                                field=f"{p}.price_offtake", expected=f"one of {offtakes}")
        rule = CurtailmentRule(strike=dr.strike_usd_per_mwh, hours_above=dr.hours_above,
                               hours_below=dr.hours_below, min_hold_hours=dr.min_hold_hours,
                               high_strike=dr.high_strike_usd_per_mwh,
                               resume=dr.resume_usd_per_mwh)
        called[i] = r.windows(dr.calls, f"{p}.calls")
        programmes.append(Programme(rule=rule, price_offtake=offtakes.index(ref),
                                    enrolled_mw=dr.enrolled_mw,
                                    availability_usd_per_mw_h=dr.availability_usd_per_mw_h,
                                    curtailed_usd_per_mwh=dr.curtailed_usd_per_mwh))
    return tuple(programmes), called


def _dr_prices(programmes: tuple[Programme | None, ...], prices: np.ndarray) -> np.ndarray:
    """(S, T) the reference price each site's rule reads (NaN without a programme)."""
    out = np.full((len(programmes), prices.shape[-1]), np.nan)
    for s, prog in enumerate(programmes):
        if prog is not None:
            out[s] = prices[prog.price_offtake]
    return out


def site_limits(inputs: Inputs, start: int = 0, stop: int | None = None
                ) -> dict[str, list[dict[str, object] | None]]:
    """Why each site may draw nothing in each hour [start, stop): None where nothing
    holds it at 0, else ``{"constraint", "code", "reason", "detail"}``: the site's
    outage or capacity of 0 (``site_capacity``), or its demand-response rule
    (``demand_response``, with :func:`gridhash.demand_response.explain`'s code,
    reason and detail: which rule, at which levels, for how many hours)."""
    from gridhash.demand_response import explain

    stop = inputs.hours if stop is None else stop
    out: dict[str, list[dict[str, object] | None]] = {}
    for s, name in enumerate(inputs.site_names):
        prog = (inputs.site_dr_programmes[s] if s < len(inputs.site_dr_programmes)
                else None)
        why: list[dict[str, object] | None] = [None] * (stop - start)
        if prog is not None:
            codes = inputs.site_dr_codes[s]
            for k, x in enumerate(explain(codes, inputs.site_dr_price_usd_per_mwh[s],
                                          prog.rule)[start:stop]):
                if x is not None:
                    why[k] = {"constraint": "demand_response", **x,
                              "detail": f"demand response at {name}: {x['detail']}"}
        out_cap = inputs.site_capacity_before_dr_mw[s, start:stop] <= 0
        for k in np.flatnonzero(out_cap):
            why[k] = {"constraint": "site_capacity", "code": "site_out",
                      "reason": "site out",
                      "detail": f"site {name} has no capacity (an outage in "
                                "mining.sites[].outages, or capacity_mw 0)"}
        out[name] = why
    return out


def site_curtailment(inputs: Inputs, offtake_price_usd_per_mwh: np.ndarray
                     ) -> SiteCurtailment | None:
    """The sites' demand-response rules rerun on other prices (a sampled path's, or N).

    Parameters
    ----------
    inputs : Inputs
        The resolved scenario: its sites' programmes, called hours and capacity before
        demand response.
    offtake_price_usd_per_mwh : numpy.ndarray
        (..., O, T) each offtake's price, leading path axes allowed. [USD/MWh]

    Returns
    -------
    SiteCurtailment or None
        Codes, site capacity and payments with the prices' leading axes
        (:func:`gridhash.demand_response.site_programmes`, the function :func:`resolve`
        runs on the scenario's own prices); None where no site has a programme.
    """
    if not any(p is not None for p in inputs.site_dr_programmes):
        return None
    return site_programmes(inputs.site_dr_programmes, offtake_price_usd_per_mwh,
                            inputs.site_dr_called, inputs.site_capacity_before_dr_mw)


def with_market_prices(inputs: Inputs, offtake_price_usd_per_mwh: np.ndarray) -> Inputs:
    """``inputs`` with other offtake prices (O, T), its demand-response hours, site
    capacity and payments rerun on them (:func:`site_curtailment`)."""
    import dataclasses

    prices = np.asarray(offtake_price_usd_per_mwh, dtype=float)
    dr = site_curtailment(inputs, prices)
    changes: dict[str, Any] = {"offtake_price_usd_per_mwh": prices}
    if dr is not None:
        changes |= {"site_capacity_mw": dr.site_capacity_mw, "site_dr_codes": dr.codes,
                    "site_dr_price_usd_per_mwh": _dr_prices(inputs.site_dr_programmes, prices),
                    "site_dr_availability_usd": dr.availability_usd,
                    "site_dr_energy_usd": dr.energy_usd}
    return dataclasses.replace(inputs, **changes)
