"""The outcome of a dispatch: hourly arrays for every unit, offtake and miner class."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from gridhash.scenario.arrays import declare

if TYPE_CHECKING:
    from gridhash.dispatch.problem import DispatchProblem


@declare("result", frozen=True, eq=False)
class DispatchResult:
    """Hourly decisions (MW, each held for one hour) and the solver's report; the arrays
    from the table (:mod:`gridhash.scenario.arrays`, stage ``result``).

    ``objective_usd`` is the optimum: revenue − marginal costs − penalties. [USD]
    ``solver``: ``"highs"`` (the whole horizon as one LP), ``"fast"`` (the per-hour
    merit order, certified optimal by the ramp rows) or ``"fast+highs"`` (the merit
    order with exact LP windows where it broke a ramp row).  ``certified``: no LP was
    solved (the merit order met every ramp row); ``lp_hours``: hours taken from LP
    solutions (None: every hour, the whole-horizon LP).
    """

    objective_usd: float
    status: str
    solver: str
    build_seconds: float
    solve_seconds: float
    certified: bool = False
    lp_hours: int | None = None

    @property
    def generation_mw(self) -> np.ndarray:
        """(T,) total generation. [MW]"""
        return self.unit_mw.sum(axis=0)

    @property
    def grid_mw(self) -> np.ndarray:
        """(T,) total delivered to the grid. [MW]"""
        return self.delivered_mw.sum(axis=0)

    @property
    def total_mining_mw(self) -> np.ndarray:
        """(T,) total drawn by mining. [MW]"""
        return self.mining_mw.sum(axis=0)

    @property
    def seconds(self) -> float:
        """Model build plus solve. [s]"""
        return self.build_seconds + self.solve_seconds


def hourly_objective(p: DispatchProblem, **x: np.ndarray) -> np.ndarray:
    """(T,) the objective's terms hour by hour for decisions ``x`` (the result's arrays:
    ``unit_mw``, ``imported_mw``, ``delivered_mw``, ``unserved_mw``, ``mining_mw``,
    ``diesel_mw``, ``blackout_mw``). [USD]"""
    return (
        (p.offtake_price_usd_per_mwh * x["delivered_mw"]).sum(axis=0)
        + (p.class_value_usd_per_mwh * x["mining_mw"]).sum(axis=0)
        - (p.unit_cost_usd_per_mwh * x["unit_mw"]).sum(axis=0)
        - p.import_price_usd_per_mwh * x["imported_mw"]
        - p.unserved_penalty * x["unserved_mw"].sum(axis=0)
        - p.diesel_cost * x["diesel_mw"]
        - p.blackout_penalty * x["blackout_mw"]
    )
