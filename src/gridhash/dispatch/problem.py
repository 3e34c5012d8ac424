"""The dispatch problem as plain arrays: what every solver and exporter reads.

The problem, for T hours, U units, O offtakes, S sites and K miner classes::

    maximise   Σ_t [ Σ_o price[o,t]·d[o,t] + Σ_k value[k,t]·m[k,t]
                     − Σ_u cost[u,t]·g[u,t] − import_price_usd_per_mwh[t]·imp[t]
                     − penalty·Σ_o uns[o,t] − diesel_cost·dsl[t] − blackout_penalty·blk[t] ]
    subject to
      Σ_u g[u,t] + imp[t] + dsl[t] + blk[t]
                            = house[t] + Σ_o d[o,t] + Σ_k m[k,t]    (energy balance)
      d[o,t] + uns[o,t] ≥ firm[o,t]                                  (firm obligation)
      Σ_{k at s} m[k,t] ≤ site_cap[s,t]                               (site capacity)
      Σ_k m[k,t] ≤ mining_cap[t]                                      (safety envelope)
      −ramp_down[u] ≤ g[u,t] − g[u,t−1] ≤ ramp_up[u]                  (ramps, where the
                                                 unit is available in both hours)
      min[u,t] ≤ g[u,t] ≤ avail[u,t]        0 ≤ imp[t] ≤ import_cap[t]
      0 ≤ d[o,t] ≤ offtake_cap[o,t]         0 ≤ uns[o,t] ≤ firm[o,t]
      0 ≤ m[k,t] ≤ class_cap[k,t]
      0 ≤ dsl[t] ≤ diesel_cap[t]           0 ≤ blk[t] ≤ blackout_cap[t]

``offtake_cap`` is the smaller of the offtake's demand and the capacity of the
lines serving it; ``import_cap`` the smaller of the house load and the
capacity of all lines in service. The penalty on unserved firm energy exceeds
every mining value, so any MW that can reach a firm obligation is sent there
before any MW is mined.

Ramp limits do not bind across a unit's outage boundary: a trip is instantaneous,
and a unit returning to service starts from its minimum stable output.

Two rules shape what the solvers see (:func:`with_dispatch_rules`, applied by
both :func:`~gridhash.dispatch.lp.solve_lp` and the fast path, so both give the
same dispatch):

* *Imported power is not passed on.*  Imports serve only the house load the
  units cannot make in the hour: ``import_cap`` is lowered to
  ``max(0, house − Σ_u avail[u])`` (:func:`gridhash.scenario.grid.house_import_cap_mw`,
  beside the one import cap).  Otherwise an hour whose units are capped
  (by the envelope) could import for its house load and send every MW the units
  make to the grid: the grid (and mining) would in effect be served with
  imported power, above what the plant may generate.
* *Grid first* (an agreement's ``grid_first = true``; ``grid_first`` here): every
  offtake takes all it can, up to its demand and lines, before any MW is mined,
  whatever the prices.  The dispatch values a MWh delivered to an offtake at its
  price plus one premium per hour that lifts the cheapest offtake to
  ``top[t] + GRID_FIRST_MARGIN``, ``top[t]`` the highest value of a miner class
  that may draw that hour (:func:`grid_first_price`): every offtake is worth
  more than any mining use, so mining only gets what the offtakes cannot take,
  and the offtakes keep their order among themselves.  Settlement,
  reports and statements keep the real price; only the dispatch's ordering (and
  so its marginal values) sees the priority value: both solvers report the
  objective at the prices paid.  Without
  ``grid_first`` only the firm obligations come before mining, and above them
  mining outbids the grid whenever its value exceeds the hour's grid price.

With a safety envelope (:mod:`gridhash.safety`), the units' bounds, the lines,
the import cap, the diesel generators (``dsl``, house load only), the house load
left unsupplied in a station blackout (``blk``), the total mining cap and the
hours where ramps apply all come from the envelope.  Without one, ``dsl`` and
``blk`` are fixed at zero and mining is limited only by its sites.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, overload

import numpy as np

from gridhash.errors import ScenarioError
from gridhash.scenario.arrays import declare
from gridhash.scenario.base import UNIT_MAGNITUDE
from gridhash.scenario.grid import house_import_cap_mw, import_cap_mw
from gridhash.scenario.resolve import Inputs, offtake_caps

if TYPE_CHECKING:
    import pandas as pd

    from gridhash.dispatch.fast import BatchProblem
    from gridhash.safety.envelope import Envelope


@declare("problem", frozen=True, eq=False)
class DispatchProblem:
    """Arrays of one dispatch problem (see the module docstring for the model): names and
    scalars here, the arrays from the table (:mod:`gridhash.scenario.arrays`, ``problem``)."""

    unit_names: tuple[str, ...]
    offtake_names: tuple[str, ...]
    unserved_penalty: float  # [USD/MWh]
    site_names: tuple[str, ...]
    class_names: tuple[str, ...]
    index: pd.DatetimeIndex | None = None  # the hours, for messages
    diesel_cost: float = 0.0  # [USD/MWh]
    blackout_penalty: float = 0.0  # [USD/MWh]
    grid_first: bool = False  # strict priority of every offtake over mining (module docstring)

    def diesel(self) -> np.ndarray:
        """(T,) diesel cap (zeros without an envelope)."""
        return np.zeros(self.hours) if self.diesel_cap_mw is None else self.diesel_cap_mw

    def blackout(self) -> np.ndarray:
        """(T,) house load that may go unsupplied (zeros without an envelope)."""
        return np.zeros(self.hours) if self.blackout_cap_mw is None else self.blackout_cap_mw

    def when(self, t: int) -> str:
        """'hour 42 (2027-01-02T18:00Z)' — how messages name an hour."""
        if self.index is None:
            return f"hour {t}"
        return f"hour {t} ({self.index[t].strftime('%Y-%m-%dT%H:%MZ')})"

    @property
    def hours(self) -> int:
        return self.house_load_mw.shape[0]

    @property
    def ramp_mask(self) -> np.ndarray:
        """(U, T) True where g[u,t] − g[u,t−1] is ramp-limited (:func:`ramp_row_holds`)."""
        mask = np.zeros(self.unit_available_mw.shape, dtype=bool)
        allowed = None if self.ramp_allowed is None else self.ramp_allowed[:, 1:]
        mask[:, 1:] = ramp_row_holds(self.unit_available_mw[:, :-1],
                                     self.unit_available_mw[:, 1:], allowed)
        limited = (np.isfinite(self.unit_ramp_up_mw_per_h)
                   | np.isfinite(self.unit_ramp_down_mw_per_h))
        mask &= limited[:, None]
        return mask


#: How far above the best mining value a grid-first offtake is valued. [USD/MWh]
#: Small against every price, large against HiGHS's tolerances (1e-7).
GRID_FIRST_MARGIN = 0.01


def grid_first_price(
    offtake_price_usd_per_mwh: np.ndarray,
    class_value_usd_per_mwh: np.ndarray,
    class_cap_mw: np.ndarray,
) -> np.ndarray:
    """The value per MWh delivered that puts every offtake ahead of mining.

    Parameters
    ----------
    offtake_price_usd_per_mwh : numpy.ndarray
        (..., O, T) what each offtake pays. [USD/MWh]
    class_value_usd_per_mwh : numpy.ndarray
        (..., K, T) net value of a MWh drawn by each miner class. [USD/MWh]
    class_cap_mw : numpy.ndarray
        (..., K, T) what each class may draw; a class that may draw nothing
        cannot compete with the grid. [MW]

    Returns
    -------
    numpy.ndarray
        (..., O, T) ``price + B`` with one premium per hour,
        ``B = max(0, top + GRID_FIRST_MARGIN − min_o price)``: ``top`` the highest
        value of a class that may draw that hour (no premium where none may).  Every
        offtake is then worth more than any mining use, and the offtakes keep their
        order among themselves (the dearer one still comes first). [USD/MWh]
        Applying it twice gives the same array.
    """
    price = np.asarray(offtake_price_usd_per_mwh, dtype=float)
    if class_value_usd_per_mwh.shape[-2] == 0 or price.shape[-2] == 0:
        return price
    live = np.where(class_cap_mw > 0, class_value_usd_per_mwh, -np.inf)
    top = live.max(axis=-2)  # (..., T)
    gap = top + GRID_FIRST_MARGIN - price.min(axis=-2)
    premium = np.where(gap > 0, gap, 0.0)  # (−inf where no class may draw: none)
    return price + premium[..., None, :]


def with_dispatch_rules(p: DispatchProblem) -> DispatchProblem:
    """``p`` with the imports rule and, under grid first, the offtakes' priority value
    (module docstring).  Both solvers call it; it is idempotent, so problems built
    from its output (the fast path's windows) come back unchanged."""
    import dataclasses

    changes: dict[str, np.ndarray] = {
        "import_cap_mw": house_import_cap_mw(p.import_cap_mw, p.house_load_mw,
                                             p.unit_available_mw)
    }
    if p.grid_first:
        changes["offtake_price_usd_per_mwh"] = grid_first_price(
            p.offtake_price_usd_per_mwh, p.class_value_usd_per_mwh, p.class_cap_mw)
    return dataclasses.replace(p, **changes)


def ramp_row_holds(
    avail_before: np.ndarray, avail: np.ndarray, allowed: np.ndarray | None
) -> np.ndarray:
    """Whether a ramp row binds a unit between an hour and the one before it: the unit
    is available in both (a trip or a start is not a ramp) and the envelope allows
    ramps there (``allowed``: ``ramp_allowed`` at the later hour; None: everywhere).
    For whole (U, T) arrays (:attr:`DispatchProblem.ramp_mask`) or picked hours
    (the fast path's check of the steps that are too large)."""
    holds = (avail > 0) & (avail_before > 0)
    return holds if allowed is None else holds & allowed


def mining_values(
    inputs: Inputs,
    *,
    difficulty: np.ndarray | None = None,
    subsidy_btc_per_block: np.ndarray | None = None,
    fees_btc_per_block: np.ndarray | None = None,
    btc_price_usd: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per class and hour: BTC per MWh drawn, gross USD per MWh, net value USD per MWh.

    Gross is BTC at the hour's price, after the pool fee; the net value is
    :func:`gridhash.bitcoin.economics.mining_value_usd_per_mwh` (gross less the
    sites' opex), what the optimizer is paid for a MWh mined.  (K, T) each; with
    any of the Bitcoin series given per path, ``(N, T)`` in place of the
    scenario's, (N, K, T).
    """
    from gridhash.bitcoin.economics import btc_per_mwh, mining_value_usd_per_mwh

    d, s, f, price = (
        inputs.difficulty if difficulty is None else difficulty,
        inputs.subsidy_btc_per_block if subsidy_btc_per_block is None else subsidy_btc_per_block,
        inputs.fees_btc_per_block if fees_btc_per_block is None else fees_btc_per_block,
        inputs.btc_price_usd if btc_price_usd is None else btc_price_usd,
    )
    d, s, f, price = (np.asarray(x)[..., None, :] for x in (d, s, f, price))
    eff = inputs.class_efficiency[:, None]
    common = {"pool_fee": inputs.pool_fee, "cooling_overhead": inputs.cooling_overhead}
    btc = btc_per_mwh(eff, d, s, f, **common)
    value = mining_value_usd_per_mwh(eff, d, s, f, price,
                                     opex_usd_per_mwh=inputs.mining_opex_usd_per_mwh, **common)
    shape = (*np.broadcast_shapes(d.shape, s.shape, f.shape, price.shape)[:-2],
             len(inputs.class_names), inputs.hours)
    btc = np.broadcast_to(btc, shape)
    return btc, btc * price, np.broadcast_to(value, shape)


def check_penalties(
    inputs: Inputs,
    value: np.ndarray,
    offtake_price_usd_per_mwh: np.ndarray,
    blackout_penalty: float | None,
) -> None:
    """Raise unless the penalties order the model's priorities: house load before firm
    obligations before mining.  ``value`` (..., K, T) mining values and
    ``offtake_price_usd_per_mwh`` (..., O, T) may carry leading path axes;
    ``blackout_penalty`` None: no envelope."""
    top = float(value.max()) if value.size else None
    if top is not None:
        floor = float(offtake_price_usd_per_mwh.min()) if offtake_price_usd_per_mwh.size else 0.0
        most = UNIT_MAGNITUDE["USD/MWh"]  # no penalty can be set above this
        if inputs.unserved_penalty + floor <= top and top - floor >= most:
            raise ScenarioError(
                f"mining would be worth up to {top:.3g} USD/MWh, more than any penalty on "
                f"unserved firm energy may be ({most:,.0f} USD/MWh): the Bitcoin figures are "
                "far from any real network's",
                source=inputs.source,
                field="bitcoin",
                expected="price_usd, difficulty and fees_btc_per_block of the order of the "
                "real network's (for scale, the built-in znpp uses 85,000 USD, 1.4e14 and "
                "0.03 BTC per block)",
            )
        if inputs.unserved_penalty + floor <= top:
            raise ScenarioError(
                "the penalty on unserved firm energy does not exceed the value of mining "
                f"(up to {top:,.0f} USD/MWh), so mining could be preferred to a firm obligation",
                value=inputs.unserved_penalty,
                expected=f"more than {top - floor:,.0f} USD/MWh",
                source=inputs.source,
                field="grid.unserved_penalty_usd_per_mwh",
            )
    if blackout_penalty is None:
        return
    top_grid = float(offtake_price_usd_per_mwh.max()) if offtake_price_usd_per_mwh.size else 0.0
    floor_pen = inputs.unserved_penalty + top_grid
    if blackout_penalty <= max(floor_pen, top or 0):
        raise ScenarioError(
            "the penalty on a station blackout does not exceed the penalty on unserved "
            "firm energy plus the grid price, so the plant could leave its own safety "
            "loads unsupplied to serve the grid",
            value=blackout_penalty,
            expected=f"more than {floor_pen:,.0f} USD/MWh",
            source=inputs.source,
            field="safety.blackout_penalty_usd_per_mwh",
        )


def with_paths(base: DispatchProblem, inputs: Inputs, paths: Mapping[str, np.ndarray]
               ) -> BatchProblem:
    """``base`` (:func:`build_problem` of ``inputs``) for N paths: the arrays in
    ``paths`` replace the base's, with a leading path axis (any field of
    :data:`gridhash.dispatch.fast.PATH_FIELDS`; ``class_value_usd_per_mwh`` from
    :func:`mining_values` with the paths' Bitcoin series).  The penalties are
    checked against every path's prices and mining values."""
    from gridhash.dispatch.fast import BatchProblem

    check_penalties(
        inputs,
        np.asarray(paths.get("class_value_usd_per_mwh", base.class_value_usd_per_mwh)),
        np.asarray(paths.get("offtake_price_usd_per_mwh", base.offtake_price_usd_per_mwh)),
        None if base.blackout_cap_mw is None else base.blackout_penalty,
    )
    return BatchProblem.from_problem(base, **paths)


@overload
def build_problem(inputs: Inputs, envelope: Envelope | None = None) -> DispatchProblem: ...


@overload
def build_problem(inputs: Inputs, envelope: Envelope | None = None, *,
                  paths: Mapping[str, np.ndarray]) -> BatchProblem: ...


def build_problem(
    inputs: Inputs, envelope: Envelope | None = None, *,
    paths: Mapping[str, np.ndarray] | None = None,
) -> DispatchProblem | BatchProblem:
    """Assemble the dispatch problem of a resolved scenario, within its safety envelope.

    With ``paths`` (arrays with a leading path axis N, see :func:`with_paths`), the
    problems of N paths that differ in those arrays, as a
    :class:`~gridhash.dispatch.fast.BatchProblem`.
    """
    if paths is not None:
        return with_paths(build_problem(inputs, envelope), inputs, paths)
    T = inputs.hours
    offtake_cap = offtake_caps(inputs, inputs.line_capacity_mw)
    import_cap = import_cap_mw(inputs.house_load_mw, inputs.line_capacity_mw,
                               inputs.import_limit_mw)

    _, _, value = mining_values(inputs)
    site_of_class = (
        inputs.site_capacity_mw[inputs.class_site] if len(inputs.class_site) else (np.zeros((0, T)))
    )
    class_cap = np.minimum(inputs.class_max_mw[:, None], site_of_class)

    check_penalties(inputs, value, inputs.offtake_price_usd_per_mwh,
                    None if envelope is None else envelope.blackout_penalty)

    safety: dict = {}
    if envelope is not None:
        offtake_cap = envelope.offtake_cap_mw
        import_cap = envelope.import_cap_mw
        safety = {
            "unit_available_mw": envelope.unit_cap_mw,
            "unit_min_mw": envelope.unit_min_mw,
            "diesel_cap_mw": envelope.diesel_cap_mw,
            "diesel_cost": envelope.diesel_cost,
            "blackout_cap_mw": inputs.house_load_mw,
            "blackout_penalty": envelope.blackout_penalty,
            "mining_cap_mw": envelope.mining_cap_mw,
            "ramp_allowed": envelope.ramp_allowed,
        }

    return DispatchProblem(
        unit_names=inputs.unit_names,
        unit_available_mw=safety.get("unit_available_mw", inputs.unit_available_mw),
        unit_min_mw=safety.get("unit_min_mw", inputs.unit_min_mw),
        unit_ramp_up_mw_per_h=inputs.unit_ramp_up_mw_per_h,
        unit_ramp_down_mw_per_h=inputs.unit_ramp_down_mw_per_h,
        unit_cost_usd_per_mwh=inputs.unit_cost_usd_per_mwh,
        house_load_mw=inputs.house_load_mw,
        import_price_usd_per_mwh=inputs.import_price_usd_per_mwh,
        import_cap_mw=import_cap,
        offtake_names=inputs.offtake_names,
        offtake_price_usd_per_mwh=inputs.offtake_price_usd_per_mwh,
        offtake_cap_mw=offtake_cap,
        offtake_firm_mw=inputs.offtake_firm_mw,
        unserved_penalty=inputs.unserved_penalty,
        site_names=inputs.site_names,
        site_cap_mw=inputs.site_capacity_mw,
        class_names=inputs.class_names,
        class_site=inputs.class_site,
        class_cap_mw=class_cap,
        class_value_usd_per_mwh=np.ascontiguousarray(value),
        index=inputs.index,
        diesel_cap_mw=safety.get("diesel_cap_mw"),
        diesel_cost=safety.get("diesel_cost", 0.0),
        blackout_cap_mw=safety.get("blackout_cap_mw"),
        blackout_penalty=safety.get("blackout_penalty", 0.0),
        mining_cap_mw=safety.get("mining_cap_mw"),
        ramp_allowed=safety.get("ramp_allowed"),
        grid_first=inputs.grid_first,
    )
