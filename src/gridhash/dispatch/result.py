"""The outcome of a dispatch: hourly arrays for every unit, offtake and miner class."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class DispatchResult:
    """Hourly decisions (MW, each held for one hour) and the solver's report.

    Attributes
    ----------
    unit_mw : (U, T) generation of each unit. [MW]
    imported_mw : (T,) energy imported over the lines for house load. [MW]
    delivered_mw : (O, T) energy delivered to each offtake. [MW]
    unserved_mw : (O, T) firm obligation not served. [MW]
    mining_mw : (K, T) power drawn by each miner class, cooling included. [MW]
    marginal_value : (T,) value of one more MW at the plant in each hour. [USD/MWh]
    objective_usd : the optimum: revenue − marginal costs − unserved penalty. [USD]
    diesel_mw : (T,) house load supplied by the diesel generators. [MW]
    blackout_mw : (T,) house load left unsupplied (station blackout). [MW]
    """

    unit_mw: np.ndarray
    imported_mw: np.ndarray
    delivered_mw: np.ndarray
    unserved_mw: np.ndarray
    mining_mw: np.ndarray
    marginal_value: np.ndarray
    objective_usd: float
    status: str
    solver: str
    build_seconds: float
    solve_seconds: float
    diesel_mw: np.ndarray
    blackout_mw: np.ndarray

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
