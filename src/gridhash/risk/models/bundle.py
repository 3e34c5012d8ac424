"""All stochastic inputs of a scenario together, and the per-path arrays they give.

:class:`RiskModel` bundles one model per uncertain input (``None`` keeps the
scenario's deterministic series); :meth:`RiskModel.default_for` builds
sensible defaults from a resolved scenario; :func:`sample_paths` returns a
:class:`RiskPaths`, a frozen bundle of ``(N, ...)`` arrays to overlay on the
scenario's :class:`~gridhash.scenario.resolve.Inputs` (which is never
modified; :meth:`RiskPaths.inputs_for` builds a new ``Inputs`` for one path).

Every model draws from its own stream per path (``gridhash.risk.models._base``),
so any chunk of path ids gives exactly the rows the full run would.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

from gridhash.risk.models._base import (
    HOURS_PER_YEAR,
    PathsLike,
    as_path_ids,
    check_seed,
    fail,
    one_block,
)
from gridhash.risk.models.btc_price import BootstrapPrice, GbmPrice
from gridhash.risk.models.calibration import BTC_VOLATILITY_PER_YEAR, znpp_line_cut_model
from gridhash.risk.models.difficulty import DifficultyModel
from gridhash.risk.models.fees import FeeModel
from gridhash.risk.models.grid_price import GridPriceAR1, GridPriceBootstrap
from gridhash.risk.models.lines import LineCutModel
from gridhash.risk.models.outages import UnitOutageModel

if TYPE_CHECKING:
    from gridhash.scenario.load import LoadedScenario
    from gridhash.scenario.models import Scenario
    from gridhash.scenario.resolve import Inputs

__all__ = ["RiskModel", "RiskPaths", "sample_paths"]

PriceModel = GbmPrice | BootstrapPrice
GridModel = GridPriceAR1 | GridPriceBootstrap


def _log_growth_per_year(x: NDArray[np.float64]) -> float:
    """Continuously compounded growth per year between the first and last hour."""
    if x.size < 2 or x[0] <= 0 or x[-1] <= 0:
        return 0.0
    return math.log(x[-1] / x[0]) / ((x.size - 1) / HOURS_PER_YEAR)


@dataclass(frozen=True, eq=False)
class RiskPaths:
    """Per-path arrays for N paths of a T-hour scenario (U units, O offtakes, L lines).

    Arrays of inputs without a stochastic model are read-only broadcasts of
    the scenario's own series.  Masks are booleans that multiply as 0/1.  The
    sampled arrays are carved out of a few shared allocations
    (:func:`~gridhash.risk.models._base.one_block`): keeping one keeps the
    memory of its neighbours too, so copy an array to keep it alone.
    """

    paths: NDArray[np.int64]  # (N,) path ids
    seed: int
    btc_price_usd: NDArray[np.float64]  # (N, T) [USD/BTC]
    difficulty: NDArray[np.float64]  # (N, T) [-]
    blocks_per_hour: NDArray[np.float64]  # (N, T) expected blocks found [blocks/h]
    subsidy_btc_per_block: NDArray[np.float64]  # (N, T) [BTC/block]
    fees_btc_per_block: NDArray[np.float64]  # (N, T) [BTC/block]
    offtake_price_usd_per_mwh: NDArray[np.float64]  # (N, O, T) [USD/MWh]
    unit_availability: NDArray[np.bool_]  # (N, U, T) forced-outage multipliers
    line_in_service: NDArray[np.bool_]  # (N, L, T)

    @property
    def n_paths(self) -> int:
        """Number of paths N. [-]"""
        return int(self.paths.size)

    @property
    def hours(self) -> int:
        """Number of hours T. [h]"""
        return int(self.btc_price_usd.shape[1])

    def unit_available_mw(self, inputs: Inputs) -> NDArray[np.float64]:
        """Available capacity with forced outages, ``(N, U, T)``. [MW]"""
        return inputs.unit_available_mw[None, :, :] * self.unit_availability

    def line_capacity_mw(self, inputs: Inputs) -> NDArray[np.float64]:
        """Line capacity with cuts, ``(N, L, T)``. [MW]"""
        return inputs.line_capacity_mw[None, :, :] * self.line_in_service

    def inputs_for(self, inputs: Inputs, i: int) -> Inputs:
        """A new :class:`Inputs` for the ``i``-th generated path (not path id ``i``).

        Units in a forced outage get no capacity and no minimum output; cut
        lines get no capacity; Bitcoin and offtake series are the path's, and the
        sites' demand-response rules run on the path's prices
        (:func:`gridhash.scenario.resolve.with_market_prices`).
        """
        from gridhash.scenario.resolve import with_market_prices

        if not 0 <= i < self.n_paths:
            raise fail("no such path in this batch", "i", i, f"0 ≤ i < {self.n_paths}")
        up = self.unit_availability[i]
        return dataclasses.replace(
            with_market_prices(inputs, np.array(self.offtake_price_usd_per_mwh[i])),
            unit_available_mw=inputs.unit_available_mw * up,
            unit_min_mw=np.where(up, inputs.unit_min_mw, 0.0),
            line_capacity_mw=inputs.line_capacity_mw * self.line_in_service[i],
            btc_price_usd=np.array(self.btc_price_usd[i]),
            difficulty=np.array(self.difficulty[i]),
            fees_btc_per_block=np.array(self.fees_btc_per_block[i]),
            subsidy_btc_per_block=np.array(self.subsidy_btc_per_block[i]),
        )


@dataclass(frozen=True, eq=False)
class RiskModel:
    """One stochastic model per uncertain input; ``None`` keeps the scenario's series.

    Parameters
    ----------
    btc_price : GbmPrice or BootstrapPrice or None
    difficulty : DifficultyModel or None
        Driven by the sampled price and fee paths.
    fees : FeeModel or None
    grid_prices : tuple of GridPriceAR1, GridPriceBootstrap or None
        One per offtake, in the scenario's order (empty: all deterministic).
    unit_outages : UnitOutageModel or None
        One chain per unit, in the scenario's order.
    line_cuts : LineCutModel or None
        One line per scenario line, in order.
    """

    btc_price: PriceModel | None = None
    difficulty: DifficultyModel | None = None
    fees: FeeModel | None = None
    grid_prices: tuple[GridModel | None, ...] = ()
    unit_outages: UnitOutageModel | None = None
    line_cuts: LineCutModel | None = None

    @classmethod
    def default_for(
        cls,
        inputs: Inputs,
        *,
        scenario: Scenario | LoadedScenario | None = None,
        line_calibration: Literal["auto", "znpp", "none"] = "auto",
    ) -> RiskModel:
        """Sensible defaults for a resolved scenario (see ``docs/risk.md``).

        * BTC price: GBM from ``inputs.btc_price_usd[0]``, drift = the
          scenario's growth per year (so the mean path follows it), 50 %
          volatility (sourced).
        * Fees: lognormal AR(1) around the scenario's mean fee.
        * Difficulty: from ``inputs.difficulty[0]`` at ``inputs.start_height``,
          hashrate on schedule at ``inputs.blocks_per_hour``, trend and
          reference hashprice drift such that the scenario's own price,
          fee and difficulty series are the no-noise equilibrium.
        * Offtake prices: shaped AR(1) around each offtake's price; with
          ``scenario`` given, a ``profile`` price uses its noise-free shape and
          its ``min``/``max`` as floor and cap.
        * Units: the MTTF/MTTR ASSUMPTIONs of :mod:`.outages`.
        * Lines: ZNPP's wartime record when ``line_calibration`` is "znpp"
          (or "auto" and the scenario is ``znpp``), else none.

        Parameters
        ----------
        inputs : Inputs
            The resolved scenario.
        scenario : Scenario or LoadedScenario, optional
            The scenario ``inputs`` came from, for the offtake price shapes.
        line_calibration : {"auto", "znpp", "none"}, default "auto"

        Returns
        -------
        RiskModel
        """
        from gridhash.bitcoin.economics import HASHES_PER_DIFFICULTY, hashprice_usd_per_ph_day
        from gridhash.scenario.models import ProfileSeries

        price = np.asarray(inputs.btc_price_usd, dtype=float)
        fees = np.asarray(inputs.fees_btc_per_block, dtype=float)
        diff = np.asarray(inputs.difficulty, dtype=float)
        btc = GbmPrice(
            start_price_usd=float(price[0]),
            drift_per_year=_log_growth_per_year(price),
            volatility_per_year=BTC_VOLATILITY_PER_YEAR,
        )
        fee_model = FeeModel(float(fees.mean())) if fees.mean() > 0 else None
        hp = np.asarray(
            hashprice_usd_per_ph_day(diff, inputs.subsidy_btc_per_block, fees, price), dtype=float
        )
        trend = _log_growth_per_year(diff)
        difficulty = DifficultyModel(
            start_difficulty=float(diff[0]),
            start_height=int(inputs.start_height),
            reference_hashprice_usd_per_ph_day=float(hp[0]),
            trend_per_year=trend,
            reference_drift_per_year=_log_growth_per_year(hp),
            start_hashrate_ehs=float(diff[0])
            * HASHES_PER_DIFFICULTY
            * inputs.blocks_per_hour
            / 3600.0
            / 1e18,
        )
        sc = getattr(scenario, "scenario", scenario)
        specs: list[Any] = [None] * len(inputs.offtake_names)
        if sc is not None:
            by_name = {o.name: o.price_usd_per_mwh for o in sc.grid.offtakes}
            specs = [by_name.get(name) for name in inputs.offtake_names]
        grid: list[GridModel | None] = []
        for o, spec in enumerate(specs):
            if isinstance(spec, ProfileSeries):
                grid.append(GridPriceAR1.from_profile(spec, inputs.index))
            else:
                grid.append(GridPriceAR1(np.maximum(inputs.offtake_price_usd_per_mwh[o], 0.0)))
        U, L = len(inputs.unit_names), len(inputs.line_names)
        if line_calibration not in ("auto", "znpp", "none"):
            raise fail(
                "unknown line calibration",
                "line_calibration",
                line_calibration,
                "auto, znpp or none",
            )
        use_znpp = line_calibration == "znpp" or (
            line_calibration == "auto" and inputs.name == "znpp"
        )
        return cls(
            btc_price=btc,
            difficulty=difficulty,
            fees=fee_model,
            grid_prices=tuple(grid),
            unit_outages=UnitOutageModel.uniform(U) if U else None,
            line_cuts=znpp_line_cut_model(L) if use_znpp and L else None,
        )

    def _check_against(self, inputs: Inputs) -> None:
        O, U, L = len(inputs.offtake_names), len(inputs.unit_names), len(inputs.line_names)
        if self.grid_prices and len(self.grid_prices) != O:
            raise fail(
                "one grid price model per offtake",
                "RiskModel.grid_prices",
                len(self.grid_prices),
                f"{O} (the scenario's offtakes {list(inputs.offtake_names)}) or ()",
            )
        if self.unit_outages is not None and self.unit_outages.n_units != U:
            raise fail(
                "one outage chain per unit",
                "RiskModel.unit_outages",
                self.unit_outages.n_units,
                f"{U} (the scenario's units)",
            )
        if self.line_cuts is not None and self.line_cuts.n_lines != L:
            raise fail(
                "one line per scenario line",
                "RiskModel.line_cuts",
                self.line_cuts.n_lines,
                f"{L} (the scenario's lines)",
            )

    def sample(self, inputs: Inputs, paths: PathsLike, seed: int) -> RiskPaths:
        """Per-path arrays for ``paths``; see :func:`sample_paths`."""
        self._check_against(inputs)
        ids = as_path_ids(paths)
        seed = check_seed(seed)
        N, T = len(ids), inputs.hours
        O, U, L = len(inputs.offtake_names), len(inputs.unit_names), len(inputs.line_names)
        models = self.grid_prices or (None,) * O
        f8 = np.float64

        # Every sampled array is written into one block (see _base.one_block).
        wanted: dict[str, tuple[tuple[int, ...], Any]] = {}
        if self.btc_price is not None:
            wanted["price"] = ((N, T), f8)
        if self.fees is not None:
            wanted["fees"] = ((N, T), f8)
        if self.difficulty is not None:
            wanted["difficulty"] = ((N, T), f8)
            wanted["bph"] = ((N, T), f8)
        if any(m is not None for m in models):
            wanted["offtake"] = ((N, O, T), f8)
        if self.unit_outages is not None:
            wanted["units"] = ((N, U, T), bool)
        if self.line_cuts is not None:
            wanted["lines"] = ((N, L, T), bool)
        out = dict(zip(wanted, one_block(*wanted.values()), strict=True))

        def fixed(a: NDArray[Any], shape: tuple[int, ...]) -> NDArray[Any]:
            return np.broadcast_to(np.asarray(a), shape)

        price = (
            self.btc_price.sample(ids, T, seed, out=out["price"])
            if self.btc_price is not None
            else fixed(inputs.btc_price_usd, (N, T))
        )
        fees = (
            self.fees.sample(ids, T, seed, out=out["fees"])
            if self.fees is not None
            else fixed(inputs.fees_btc_per_block, (N, T))
        )
        if self.difficulty is not None:
            pair = (out["difficulty"], out["bph"])
            if self.btc_price is not None and self.fees is not None:
                # Sampled here: positive and finite by construction, no need to check.
                d = self.difficulty._simulate(ids, T, seed, price, fees, out=pair)
            else:
                d = self.difficulty.sample(
                    ids, T, seed, btc_price_usd=price, fees_btc_per_block=fees, out=pair
                )
            difficulty, bph, subsidy = d.difficulty, d.blocks_per_hour, d.subsidy_btc_per_block
        else:
            difficulty = fixed(inputs.difficulty, (N, T))
            bph = fixed(np.full(T, float(inputs.blocks_per_hour)), (N, T))
            subsidy = fixed(inputs.subsidy_btc_per_block, (N, T))
        if "offtake" in out:
            offtake = out["offtake"]
            for o, m in enumerate(models):
                if isinstance(m, GridPriceAR1):
                    m.sample(ids, inputs.index, seed, key=o, out=offtake[:, o])
                elif m is not None:
                    offtake[:, o] = m.sample(ids, inputs.index, seed, key=o)
                else:
                    offtake[:, o] = inputs.offtake_price_usd_per_mwh[o]
        else:
            offtake = fixed(inputs.offtake_price_usd_per_mwh, (N, O, T))
        units = (
            self.unit_outages.sample(ids, T, seed, out=out["units"])
            if self.unit_outages is not None
            else fixed(np.ones((U, T), dtype=bool), (N, U, T))
        )
        lines = (
            self.line_cuts.sample(ids, T, seed, out=out["lines"])
            if self.line_cuts is not None
            else fixed(np.ones((L, T), dtype=bool), (N, L, T))
        )
        return RiskPaths(
            paths=ids,
            seed=seed,
            btc_price_usd=price,
            difficulty=difficulty,
            blocks_per_hour=bph,
            subsidy_btc_per_block=subsidy,
            fees_btc_per_block=fees,
            offtake_price_usd_per_mwh=offtake,
            unit_availability=units,
            line_in_service=lines,
        )


def sample_paths(
    inputs: Inputs,
    paths: PathsLike,
    *,
    seed: int,
    model: RiskModel | None = None,
    scenario: Scenario | LoadedScenario | None = None,
) -> RiskPaths:
    """Per-path arrays to overlay on ``inputs``, for the given path ids.

    Parameters
    ----------
    inputs : Inputs
        The resolved scenario (not modified).
    paths : int or array_like of int
        ``n`` for paths ``0..n-1``, or the path ids (e.g. ``range(500, 1000)``
        on a second worker).  Path ``p`` is the same whichever batch it is in.
    seed : int
        Master seed (≥ 0).
    model : RiskModel, optional
        Defaults to ``RiskModel.default_for(inputs, scenario=scenario)``.
    scenario : Scenario or LoadedScenario, optional
        Passed to :meth:`RiskModel.default_for` when ``model`` is None.

    Returns
    -------
    RiskPaths
    """
    m = model if model is not None else RiskModel.default_for(inputs, scenario=scenario)
    return m.sample(inputs, paths, seed)
