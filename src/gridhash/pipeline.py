"""Scenario in, decisions and money out: the steps of `gridhash run`, in order.

Each step is a pure function of the previous one's output; the ``progress``
callback lets the CLI show where it is without the core printing anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gridhash.dispatch.problem import DispatchProblem
from gridhash.dispatch.result import DispatchResult
from gridhash.scenario.load import LoadedScenario, load_scenario
from gridhash.scenario.resolve import Inputs, resolve

if TYPE_CHECKING:
    from gridhash.safety.envelope import Envelope
    from gridhash.scenario.agreement import Agreement

#: The steps reported to ``progress``, in order.
STEPS = ("load", "resolve", "safety", "economics", "dispatch")


@dataclass(frozen=True, eq=False)
class Run:
    """Everything one run produced, from the scenario to the optimum."""

    loaded: LoadedScenario
    inputs: Inputs
    problem: DispatchProblem
    result: DispatchResult
    envelope: Envelope | None = None
    agreement: Agreement | None = None

    @property
    def name(self) -> str:
        return self.loaded.name


def prepare_problem(
    loaded: LoadedScenario,
    agreement: str | None = None,
    *,
    step: Callable[[str], None] | None = None,
) -> tuple[Inputs, Agreement | None, Envelope | None, DispatchProblem]:
    """Resolve a loaded scenario, apply an agreement, build its envelope and problem."""
    from gridhash.dispatch import build_problem
    from gridhash.safety import envelope_for

    inputs = resolve(loaded)
    chosen = None
    if agreement is not None:
        from gridhash.settlement.apply import apply_agreement, find_agreement

        chosen = find_agreement(loaded, agreement)[1]
        inputs = apply_agreement(loaded, inputs, agreement)
    if step is not None:
        step("safety")
    envelope = envelope_for(loaded, inputs)
    if step is not None:
        step("economics")
    return inputs, chosen, envelope, build_problem(inputs, envelope)


def run_scenario(
    ref: str | Path | LoadedScenario | None = None,
    *,
    progress: Callable[[str], None] | None = None,
    agreement: str | None = None,
) -> Run:
    """Load (or take) a scenario, resolve it, price mining, and dispatch it optimally.

    With ``agreement`` (a name from the scenario's ``agreements``), its obligations
    and price terms apply (see :mod:`gridhash.settlement.apply`).
    """
    from gridhash.dispatch import solve_lp

    def step(name: str) -> None:
        if progress is not None:
            progress(name)

    step("load")
    loaded = ref if isinstance(ref, LoadedScenario) else load_scenario(ref)
    step("resolve")
    inputs, chosen, envelope, problem = prepare_problem(loaded, agreement, step=step)
    step("dispatch")
    result = solve_lp(problem)
    return Run(
        loaded=loaded,
        inputs=inputs,
        problem=problem,
        result=result,
        envelope=envelope,
        agreement=chosen,
    )


# --------------------------------------------------------------------------- #
# Valuing machines as the dispatch runs them (gridhash economics and size)
# --------------------------------------------------------------------------- #


def fleet_use(run: Run) -> dict[str, Any]:
    """How the dispatch runs the fleet, and what its power costs it.

    * ``running`` (K, T): fraction of each hour each miner class runs;
      ``fleet_running`` (T,): that of the whole fleet (for a model not in it);
    * ``power_price`` (K,) and ``fleet_power_price`` [USD/MWh]: what the fleet pays
      for a MWh: the agreement's ``mining.energy_price_usd_per_mwh`` when the run is
      under an agreement; otherwise the value of power at the plant in the hours
      the class runs (the marginal value of a MW, weighted by the MWh it draws),
      which is what mining a MWh gives up there; ``power_basis`` says which.
    """
    import numpy as np

    i, r = run.inputs, run.result
    cap = i.class_max_mw[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        running = np.where(cap > 0, r.mining_mw / np.where(cap > 0, cap, 1.0), 0.0)
        total_cap = float(i.class_max_mw.sum())
        fleet_running = (r.mining_mw.sum(axis=0) / total_cap if total_cap > 0
                         else np.zeros(i.hours))
    running = np.clip(running, 0.0, 1.0)
    fleet_running = np.clip(fleet_running, 0.0, 1.0)
    if run.agreement is not None:
        price = float(run.agreement.mining.energy_price_usd_per_mwh)
        per_class = np.full(len(i.class_names), price)
        fleet_price = price
        basis = f"agreement {run.agreement.name}'s power price"
    else:
        mv = r.marginal_value
        mwh = r.mining_mw.sum(axis=1)

        def weighted(weights: np.ndarray) -> float:
            total = float(weights.sum())
            return float((mv * weights).sum() / total) if total > 0 else float(np.median(mv))

        per_class = np.array([weighted(r.mining_mw[k]) for k in range(len(mwh))])
        fleet_price = weighted(r.mining_mw.sum(axis=0))
        basis = "value of power at the plant in the hours the fleet mines"
    return {"running": running, "fleet_running": fleet_running, "power_price": per_class,
            "fleet_power_price": fleet_price, "power_basis": basis}


def value_models(run: Run, models: list[Any], *, power_price: float | None = None,
                 lifetime_years: float | None = None, discount_rate: float | None = None,
                 resale_fraction: float | None = None) -> list[dict[str, Any]]:
    """Each ASIC model's value over its life as the dispatch runs it: one row per model.

    A model in the fleet runs as its classes do (their hours and their power price);
    any other model as the whole fleet does.  ``power_price`` [USD/MWh] replaces the
    power price of every model.  Revenue per hash follows the
    scenario's BTC price and difficulty growth and the halvings over the life
    (:func:`gridhash.bitcoin.economics.revenue_factors`); the valuation is
    :func:`gridhash.bitcoin.economics.lifetime_value`, the one ``gridhash size`` uses.
    """
    import numpy as np

    from gridhash.bitcoin import economics as ec

    i = run.inputs
    use = fleet_use(run)
    years = max(1, round(ec.ASIC_LIFETIME_YEARS if lifetime_years is None else lifetime_years))
    rate = ec.DISCOUNT_RATE if discount_rate is None else discount_rate
    resale = ec.RESALE_FRACTION if resale_fraction is None else resale_fraction
    factors = ec.revenue_factors(i.start_height, i.blocks_per_hour,
                                 float(np.mean(i.fees_btc_per_block)),
                                 ec.revenue_growth_per_year(i.btc_price_usd, i.difficulty), years)
    opex = float(np.mean(i.mining_opex))
    hashprice0 = float(ec.hashprice_usd_per_ph_day(i.difficulty[0], i.subsidy_btc_per_block[0],
                                                   i.fees_btc_per_block[0], i.btc_price_usd[0],
                                                   i.pool_fee))
    rows = []
    for m in models:
        ks = [k for k, cm in enumerate(i.class_models) if cm.name == m.name]
        if ks:
            weight = i.class_max_mw[ks]
            running = (use["running"][ks] * weight[:, None]).sum(axis=0) / max(weight.sum(), 1e-12)
            mwh = np.array([run.result.mining_mw[k].sum() for k in ks])
            price = (float((use["power_price"][ks] * mwh).sum() / mwh.sum()) if mwh.sum() > 0
                     else float(use["power_price"][ks].mean()))
            basis = "its fleet classes"
        else:
            running, price, basis = use["fleet_running"], use["fleet_power_price"], "the fleet"
        if power_price is not None:
            price = float(power_price)
        revenue, energy = ec.first_year(m.hashrate_th, m.power_w, running, i.difficulty,
                                        i.subsidy_btc_per_block, i.fees_btc_per_block,
                                        i.btc_price_usd, i.pool_fee, i.cooling_overhead)
        v = ec.lifetime_value(revenue, energy, m.price_usd, power_price_usd_per_mwh=price,
                              factors=factors, opex_usd_per_mwh=opex, discount_rate=rate,
                              resale_fraction=resale)
        scale = float(v.breakeven_revenue_scale)
        rows.append({
            "model": m.name, "hashrate_th": m.hashrate_th, "power_w": m.power_w,
            "efficiency_j_per_th": m.efficiency_j_per_th, "price_usd": m.price_usd,
            "runs_as": basis, "uptime": float(np.mean(running)),
            "power_price_usd_per_mwh": price,
            "first_year_revenue_usd": float(revenue), "first_year_energy_mwh": float(energy),
            "npv_usd": float(v.npv_usd), "payback_years": float(v.payback_years),
            "breakeven_power_usd_per_mwh": float(v.breakeven_power_usd_per_mwh),
            "breakeven_hashprice_usd_per_ph_day": scale * hashprice0,
            "breakeven_btc_usd": scale * float(i.btc_price_usd[0]),
        })
    return rows
