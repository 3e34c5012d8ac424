"""Seeded, vectorised stochastic input models; paths on the leading axis.

Each model is a small frozen dataclass of parameters (units in the
docstrings, calibration in ``docs/risk.md``) with a
``sample(paths, hours_or_index, seed, *, key=0)`` method returning arrays of
shape ``(N, T)`` (or ``(N, U, T)``, ``(N, L, T)``).  Path ``p`` depends only
on ``(seed, model, key, p)``, so work can be split across workers or chunks
and the rows are identical to one big run.

=========================  =====================================================
model                      what
=========================  =====================================================
:class:`GbmPrice`          BTC price: GBM with drift and volatility, normal or
                           Student-t innovations
:class:`BootstrapPrice`    BTC price: block bootstrap of a price history at any
                           regular frequency
:class:`DifficultyModel`   difficulty retargets every 2,016 blocks (4× clamp);
                           hashrate follows lagged hashprice
:class:`FeeModel`          fees per block: lognormal AR(1)
:class:`GridPriceAR1`      offtake prices: shape × lognormal AR(1), floor and cap
:class:`GridPriceBootstrap`  offtake prices: calendar-aligned block bootstrap
:class:`UnitOutageModel`   unit forced outages: two-state Markov chains
:class:`LineCutModel`      line cuts: Poisson events, lognormal or empirical
                           repair durations, common-mode (LOOP) events
:class:`RiskModel`         all of the above for one scenario;
                           :func:`sample_paths` gives :class:`RiskPaths`
=========================  =====================================================
"""

from __future__ import annotations

from gridhash.risk.models._base import HOURS_PER_YEAR, PathsLike
from gridhash.risk.models.btc_price import BootstrapPrice, GbmPrice
from gridhash.risk.models.bundle import RiskModel, RiskPaths, sample_paths
from gridhash.risk.models.calibration import (
    BTC_VOLATILITY_PER_YEAR,
    ZNPP_LOOPS,
    LoopRecord,
    znpp_line_cut_model,
    znpp_loop_duration,
    znpp_loop_rate_per_year,
    znpp_single_line_rate_per_year,
)
from gridhash.risk.models.difficulty import (
    MAX_ADJUSTMENT,
    RETARGET_INTERVAL_BLOCKS,
    TARGET_SPACING_S,
    TARGET_TIMESPAN_S,
    DifficultyModel,
    DifficultyPaths,
)
from gridhash.risk.models.fees import FeeModel
from gridhash.risk.models.grid_price import (
    GridPriceAR1,
    GridPriceBootstrap,
    ukraine_dam_cap_usd_per_mwh,
)
from gridhash.risk.models.lines import (
    EmpiricalDuration,
    LineCutEvents,
    LineCutModel,
    LogNormalDuration,
)
from gridhash.risk.models.outages import UnitOutageModel
from gridhash.risk.models.seeding import Stream

__all__ = [
    "BTC_VOLATILITY_PER_YEAR",
    "HOURS_PER_YEAR",
    "MAX_ADJUSTMENT",
    "RETARGET_INTERVAL_BLOCKS",
    "TARGET_SPACING_S",
    "TARGET_TIMESPAN_S",
    "ZNPP_LOOPS",
    "BootstrapPrice",
    "DifficultyModel",
    "DifficultyPaths",
    "EmpiricalDuration",
    "FeeModel",
    "GbmPrice",
    "GridPriceAR1",
    "GridPriceBootstrap",
    "LineCutEvents",
    "LineCutModel",
    "LogNormalDuration",
    "LoopRecord",
    "PathsLike",
    "RiskModel",
    "RiskPaths",
    "Stream",
    "UnitOutageModel",
    "sample_paths",
    "ukraine_dam_cap_usd_per_mwh",
    "znpp_line_cut_model",
    "znpp_loop_duration",
    "znpp_loop_rate_per_year",
    "znpp_single_line_rate_per_year",
]
