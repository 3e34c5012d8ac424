"""The dispatch problem as plain arrays: what every solver and exporter reads.

The problem, for T hours, U units, O offtakes, S sites and K miner classes::

    maximise   Σ_t [ Σ_o price[o,t]·d[o,t] + Σ_k value[k,t]·m[k,t]
                     − Σ_u cost[u,t]·g[u,t] − import_price[t]·imp[t]
                     − penalty·Σ_o uns[o,t] ]
    subject to
      Σ_u g[u,t] + imp[t] = house[t] + Σ_o d[o,t] + Σ_k m[k,t]    (energy balance)
      d[o,t] + uns[o,t] ≥ firm[o,t]                                  (firm obligation)
      Σ_{k at s} m[k,t] ≤ site_cap[s,t]                               (site capacity)
      −ramp_down[u] ≤ g[u,t] − g[u,t−1] ≤ ramp_up[u]                  (ramps, where the
                                                 unit is available in both hours)
      min[u,t] ≤ g[u,t] ≤ avail[u,t]        0 ≤ imp[t] ≤ import_cap[t]
      0 ≤ d[o,t] ≤ offtake_cap[o,t]         0 ≤ uns[o,t] ≤ firm[o,t]
      0 ≤ m[k,t] ≤ class_cap[k,t]

``offtake_cap`` is the smaller of the offtake's demand and the capacity of the
lines serving it; ``import_cap`` the smaller of the house load and the
capacity of all lines in service. The penalty on unserved firm energy exceeds
every mining value, so any MW that can reach a firm obligation is sent there
before any MW is mined.

Ramp limits do not bind across a unit's outage boundary: a trip is instantaneous,
and a unit returning to service starts from its minimum stable output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from gridhash.errors import ScenarioError
from gridhash.scenario.resolve import Inputs

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True, eq=False)
class DispatchProblem:
    """Arrays of one dispatch problem (see the module docstring for the model)."""

    unit_names: tuple[str, ...]
    unit_available_mw: np.ndarray  # (U, T)
    unit_min_mw: np.ndarray  # (U, T)
    unit_ramp_up_mw: np.ndarray  # (U,)
    unit_ramp_down_mw: np.ndarray  # (U,)
    unit_cost: np.ndarray  # (U, T)
    house_load_mw: np.ndarray  # (T,)
    import_price: np.ndarray  # (T,)
    import_cap_mw: np.ndarray  # (T,)
    offtake_names: tuple[str, ...]
    offtake_price: np.ndarray  # (O, T)
    offtake_cap_mw: np.ndarray  # (O, T)
    offtake_firm_mw: np.ndarray  # (O, T)
    unserved_penalty: float
    site_names: tuple[str, ...]
    site_cap_mw: np.ndarray  # (S, T)
    class_names: tuple[str, ...]
    class_site: np.ndarray  # (K,)
    class_cap_mw: np.ndarray  # (K, T)
    class_value: np.ndarray  # (K, T) USD per MWh drawn, net of pool fee and opex
    index: pd.DatetimeIndex | None = None  # the hours, for messages

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
        """(U, T) True where g[u,t] − g[u,t−1] is ramp-limited (t ≥ 1, available both hours)."""
        a = self.unit_available_mw > 0
        mask = np.zeros_like(a)
        mask[:, 1:] = a[:, 1:] & a[:, :-1]
        limited = np.isfinite(self.unit_ramp_up_mw) | np.isfinite(self.unit_ramp_down_mw)
        return mask & limited[:, None]


def mining_values(inputs: Inputs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per class and hour: BTC per MWh drawn, gross USD per MWh, net value USD per MWh.

    Gross is after the pool fee; net also subtracts the sites' opex.  (K, T) each.
    """
    from gridhash.bitcoin.economics import btc_per_mwh

    eff = inputs.class_efficiency[:, None]
    btc = btc_per_mwh(
        eff,
        inputs.difficulty[None, :],
        inputs.subsidy_btc_per_block[None, :],
        inputs.fees_btc_per_block[None, :],
        pool_fee=inputs.pool_fee,
        cooling_overhead=inputs.cooling_overhead,
    )
    btc = np.broadcast_to(btc, (len(inputs.class_names), inputs.hours))
    gross = btc * inputs.btc_price_usd[None, :]
    return btc, gross, gross - inputs.mining_opex[None, :]


def build_problem(inputs: Inputs) -> DispatchProblem:
    """Assemble the dispatch problem of a resolved scenario."""
    O, T = inputs.offtake_price.shape
    line_to_offtake = np.zeros((O, T))
    np.add.at(line_to_offtake, inputs.line_offtake, inputs.line_capacity_mw)
    offtake_cap = np.minimum(inputs.offtake_demand_mw, line_to_offtake)
    import_cap = np.minimum(inputs.house_load_mw, inputs.line_capacity_mw.sum(axis=0))

    _, _, value = mining_values(inputs)
    site_of_class = (
        inputs.site_capacity_mw[inputs.class_site] if len(inputs.class_site) else (np.zeros((0, T)))
    )
    class_cap = np.minimum(inputs.class_max_mw[:, None], site_of_class)

    if value.size:
        top = float(value.max())
        floor = float((inputs.offtake_price.min(axis=0)).min())
        if inputs.unserved_penalty + floor <= top:
            raise ScenarioError(
                "the penalty on unserved firm energy does not exceed the value of mining "
                f"(up to {top:,.0f} USD/MWh), so mining could be preferred to a firm obligation",
                value=inputs.unserved_penalty,
                expected=f"more than {top - floor:,.0f} USD/MWh",
                source=inputs.source,
                field="grid.unserved_penalty_usd_per_mwh",
            )

    return DispatchProblem(
        unit_names=inputs.unit_names,
        unit_available_mw=inputs.unit_available_mw,
        unit_min_mw=inputs.unit_min_mw,
        unit_ramp_up_mw=inputs.unit_ramp_up_mw,
        unit_ramp_down_mw=inputs.unit_ramp_down_mw,
        unit_cost=inputs.unit_cost,
        house_load_mw=inputs.house_load_mw,
        import_price=inputs.import_price,
        import_cap_mw=import_cap,
        offtake_names=inputs.offtake_names,
        offtake_price=inputs.offtake_price,
        offtake_cap_mw=offtake_cap,
        offtake_firm_mw=inputs.offtake_firm_mw,
        unserved_penalty=inputs.unserved_penalty,
        site_names=inputs.site_names,
        site_cap_mw=inputs.site_capacity_mw,
        class_names=inputs.class_names,
        class_site=inputs.class_site,
        class_cap_mw=class_cap,
        class_value=np.ascontiguousarray(value),
        index=inputs.index,
    )
