"""Scenario in, decisions and money out: the one pipeline, for one path or many.

    load → resolve (agreement applied) → safety envelope → problem (paths × hours)
         → dispatch → accounts

``gridhash run`` is a batch of one path (:func:`run_scenario`: the envelope with
its explanations, the exact fast path with its marginal values); the risk sweep
runs the same steps over sampled paths (:func:`run_batch`: per-path arrays from
its samplers and vectorised envelope, the same fast path).  Both end in
:func:`accounts_for`, the one place a dispatch is added up (:mod:`gridhash.accounts`).
``solver="lp"`` solves a single path's whole horizon as one HiGHS LP instead:
the same optimum and marginal values; only how output is split between sources
or uses of equal cost or value may differ (docs/architecture.md, "Which solver,
and how ties are split").

Each step is a pure function of the previous one's output; the ``progress``
callback lets the CLI show where it is without the core printing anything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gridhash.dispatch.problem import DispatchProblem
from gridhash.dispatch.result import DispatchResult
from gridhash.scenario.load import LoadedScenario, load_scenario
from gridhash.scenario.resolve import Inputs, resolve

if TYPE_CHECKING:
    from gridhash.accounts import Accounts
    from gridhash.demand_response import SiteCurtailment
    from gridhash.dispatch.fast import BatchProblem, FastBatchResult
    from gridhash.safety.envelope import Envelope
    from gridhash.scenario.agreement import Agreement

#: The steps reported to ``progress``, in order.
STEPS = ("load", "resolve", "safety", "economics", "dispatch", "accounts")

#: Single-path solvers (:func:`run_scenario`, :func:`run_problem`): the exact fast path
#: (merit order per hour, ramp certificate, exact LP windows where it fails; the risk
#: sweep's) and the whole horizon as one HiGHS LP.
SOLVERS = ("fast", "lp")

#: Bitcoin series a path may replace ((N, T) each; :func:`run_batch`).
BITCOIN_SERIES = ("difficulty", "subsidy_btc_per_block", "fees_btc_per_block", "btc_price_usd")


@dataclass(frozen=True, eq=False)
class Run:
    """Everything one run produced, from the scenario to the accounts."""

    loaded: LoadedScenario
    inputs: Inputs
    problem: DispatchProblem
    result: DispatchResult  # its ``solver``, ``certified`` and ``lp_hours`` say how it was found
    accounts: Accounts
    envelope: Envelope | None = None
    agreement: Agreement | None = None

    @property
    def name(self) -> str:
        return self.loaded.name


@dataclass(frozen=True, eq=False)
class Batch:
    """N paths through the pipeline: their problems, dispatch and accounts."""

    problem: BatchProblem
    result: FastBatchResult
    accounts: Accounts


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
        from gridhash.scenario.resolve_agreement import apply_agreement, find_agreement

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
    solver: str = "fast",
) -> Run:
    """Load (or take) a scenario, resolve it, price mining, dispatch it optimally and
    add it up.

    With ``agreement`` (a name from the scenario's ``agreements``), its obligations
    and price terms apply (see :mod:`gridhash.scenario.resolve_agreement`).
    ``solver``: one of :data:`SOLVERS` (see :func:`run_problem`).
    """

    def step(name: str) -> None:
        if progress is not None:
            progress(name)

    check_solver(solver)
    step("load")
    loaded = ref if isinstance(ref, LoadedScenario) else load_scenario(ref)
    step("resolve")
    inputs, chosen, envelope, problem = prepare_problem(loaded, agreement, step=step)
    return run_problem(loaded, inputs, envelope, problem, agreement=chosen, step=step,
                       solver=solver)


def check_solver(solver: str) -> None:
    """Refuse a solver name not in :data:`SOLVERS`."""
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {', '.join(SOLVERS)} (got {solver!r})")


def run_problem(
    loaded: LoadedScenario,
    inputs: Inputs,
    envelope: Envelope | None,
    problem: DispatchProblem | None = None,
    *,
    agreement: Agreement | None = None,
    step: Callable[[str], None] | None = None,
    solver: str = "fast",
) -> Run:
    """Dispatch one path's problem and add it up: the tail of :func:`run_scenario`,
    for inputs resolved elsewhere (one path of a sweep).

    ``solver``: ``"fast"`` (default; the risk sweep's exact fast path: the merit
    order of each hour, certified optimal when it meets every ramp row, else
    repaired by exact LP windows; HiGHS is imported only then) or ``"lp"`` (the
    whole horizon as one HiGHS LP).  Both give the optimum and its marginal values;
    the result's ``solver``, ``certified`` and ``lp_hours`` say how it was found.
    """
    from gridhash.dispatch import build_problem

    check_solver(solver)
    if problem is None:
        problem = build_problem(inputs, envelope)
    if step is not None:
        step("dispatch")
    if solver == "lp":
        from gridhash.dispatch import solve_lp

        result = solve_lp(problem)
    else:
        from gridhash.dispatch.fast import solve_fast

        result = solve_fast(problem).to_dispatch_result()
    if step is not None:
        step("accounts")
    acc = accounts_for(inputs, problem, result, flags=envelope_flags(envelope, inputs.hours),
                       agreement=agreement)
    return Run(loaded=loaded, inputs=inputs, problem=problem, result=result, accounts=acc,
               envelope=envelope, agreement=agreement)


def revalue(run: Run, result: DispatchResult) -> Run:
    """``run`` with another dispatch of the same problem's shape (for example a plan
    made with other prices) in place of its own, added up at ``run``'s inputs and
    prices: what that dispatch earns in ``run``'s world."""
    acc = accounts_for(run.inputs, run.problem, result,
                       flags=envelope_flags(run.envelope, run.inputs.hours),
                       agreement=run.agreement)
    return Run(loaded=run.loaded, inputs=run.inputs, problem=run.problem, result=result,
               accounts=acc, envelope=run.envelope, agreement=run.agreement)


def envelope_flags(envelope: Envelope | None, hours: int) -> dict[str, np.ndarray]:
    """(T,) bool ``restricted``, ``mining_blocked`` and ``on_diesel`` of an envelope
    (all False without one): the hour flags the accounts count."""
    if envelope is None:
        return _no_flags(hours)
    return {"restricted": envelope.restricted, "mining_blocked": ~envelope.mining_allowed,
            "on_diesel": envelope.on_diesel}


def run_batch(
    inputs: Inputs,
    base: DispatchProblem,
    *,
    paths: Mapping[str, np.ndarray],
    flags: Mapping[str, np.ndarray],
    agreement: Agreement | None = None,
    plant_capacity_mw: float | None = None,
    demand_response: SiteCurtailment | None = None,
) -> Batch:
    """N paths of one scenario: ``base`` (:func:`~gridhash.dispatch.build_problem` of
    ``inputs``) with per-path arrays, dispatched by the fast path and added up.

    Parameters
    ----------
    inputs : Inputs
        The scenario's resolved inputs (the units of ``base``).
    base : DispatchProblem
        What every path shares.
    paths : mapping of str to numpy.ndarray
        Per-path arrays with a leading path axis N: fields of the dispatch problem
        (``unit_available_mw``, ``offtake_price_usd_per_mwh``, the envelope's caps, ...) and the
        Bitcoin series of :data:`BITCOIN_SERIES` ((N, T); the mining values follow
        from them).
    flags : mapping of str to numpy.ndarray
        (N, T) bool ``restricted``, ``mining_blocked``, ``on_diesel`` (the paths'
        envelopes).
    agreement : Agreement, optional
        Its fixed costs and mining power price enter the accounts.
    plant_capacity_mw : float, optional
        The plant's capacity where ``base`` has only some of its units. [MW]
    demand_response : SiteCurtailment, optional
        The sites' demand-response rules run on each path's prices ((N, S, T) arrays,
        :func:`gridhash.scenario.resolve.site_curtailment`): its site capacities enter
        the paths' problems (``site_cap_mw``, ``class_cap_mw``), its payments their
        accounts.  Default: the scenario's own hours and payments for every path.
    """
    from gridhash.dispatch.fast import solve_fast_batch
    from gridhash.dispatch.problem import mining_values, with_paths

    series = {k: paths[k] for k in BITCOIN_SERIES if k in paths}
    fields = {k: v for k, v in paths.items() if k not in BITCOIN_SERIES}
    btc, gross, value = mining_values(inputs, **series)
    if series:
        fields["class_value_usd_per_mwh"] = value
    if demand_response is not None:
        site_cap = demand_response.site_capacity_mw
        fields["site_cap_mw"] = site_cap
        fields["class_cap_mw"] = np.minimum(inputs.class_max_mw[:, None],
                                            site_cap[:, inputs.class_site])
    batch = with_paths(base, inputs, fields)
    N = batch.n_paths
    # The whole batch in one merit-order pass (the sweep's blocks of 25 paths: 10 %
    # faster than the fast path's own default of three paths a pass).
    res = solve_fast_batch(batch, chunk_size=N, workers=1,
                           outputs=("unit_mw", "imported_mw", "delivered_mw", "unserved_mw",
                                    "mining_mw", "diesel_mw", "blackout_mw"))
    acc = accounts_for(inputs, batch, res, flags=flags, agreement=agreement,
                       mining=(btc, gross), plant_capacity_mw=plant_capacity_mw,
                       demand_response=demand_response)
    return Batch(problem=batch, result=res, accounts=acc)


def _no_flags(hours: int) -> dict[str, np.ndarray]:
    off = np.zeros(hours, dtype=bool)
    return {"restricted": off, "mining_blocked": off, "on_diesel": off}


def accounts_for(
    inputs: Inputs,
    problem: DispatchProblem | BatchProblem,
    result: DispatchResult | FastBatchResult,
    *,
    flags: Mapping[str, np.ndarray],
    agreement: Agreement | None = None,
    mining: tuple[np.ndarray, np.ndarray] | None = None,
    plant_capacity_mw: float | None = None,
    demand_response: SiteCurtailment | None = None,
) -> Accounts:
    """The accounts of a solved problem (one path) or batch (N paths).

    ``mining``: the BTC and gross USD per MWh of each class (:func:`mining_values`),
    when already computed for the paths.  ``demand_response``: the sites' programmes
    on each path's prices (default: ``inputs``' own payments).
    """
    from gridhash.accounts import Flows, Rates, account
    from gridhash.accounts.fixed import fixed_costs_usd_per_year
    from gridhash.dispatch.problem import mining_values

    if isinstance(problem, DispatchProblem):
        base = problem
        arrays: dict[str, Any] = {name: getattr(problem, name)[None] for name in
                                  ("unit_available_mw", "unit_cost_usd_per_mwh",
                                   "import_price_usd_per_mwh", "house_load_mw",
                                   "offtake_price_usd_per_mwh")}

        def out(name: str) -> np.ndarray:
            return getattr(result, name)[None]
    else:
        base, arrays = problem.base, problem.arrays

        def out(name: str) -> np.ndarray:
            return getattr(result, name)
    btc, gross = mining_values(inputs)[:2] if mining is None else mining
    # Demand-response payments of the sites with a programme, (N|1, D, T).
    dr_sites = [s for s, p in enumerate(inputs.site_dr_programmes) if p is not None]
    if demand_response is None:
        dr_avail = inputs.site_dr_availability_usd[None, dr_sites]
        dr_energy = inputs.site_dr_energy_usd[None, dr_sites]
    else:
        dr_avail = demand_response.availability_usd[:, dr_sites]
        dr_energy = demand_response.energy_usd[:, dr_sites]
    btc, gross = (a if a.ndim == 3 else a[None] for a in (btc, gross))

    def lead(a: np.ndarray) -> np.ndarray:
        a = np.asarray(a)
        return a if a.ndim == 2 else a[None]

    flows = Flows(
        unit_available=arrays["unit_available_mw"],
        unit=out("unit_mw"),
        imported=out("imported_mw"),
        diesel=out("diesel_mw"),
        house_load=arrays["house_load_mw"],
        house_load_unsupplied=out("blackout_mw"),
        delivered=out("delivered_mw"),
        unserved=out("unserved_mw"),
        mining=out("mining_mw"),
        restricted=lead(flags["restricted"]),
        mining_blocked=lead(flags["mining_blocked"]),
        on_diesel=lead(flags["on_diesel"]),
    )
    rates = Rates(
        offtake_price_usd_per_mwh=arrays["offtake_price_usd_per_mwh"],
        unit_cost_usd_per_mwh=arrays["unit_cost_usd_per_mwh"],
        import_price_usd_per_mwh=arrays["import_price_usd_per_mwh"],
        diesel_cost=float(base.diesel_cost),
        btc_per_mwh=btc,
        mining_usd_per_mwh=gross,
        mining_opex_usd_per_mwh=inputs.mining_opex_usd_per_mwh[None],
        unserved_penalty=float(base.unserved_penalty),
        blackout_penalty=float(base.blackout_penalty),
        fixed_usd_per_year=fixed_costs_usd_per_year(inputs, agreement),
        mining_power_price=(agreement.mining.energy_price_usd_per_mwh
                            if agreement is not None else 0.0),
        demand_response_availability_usd=dr_avail,
        demand_response_energy_usd=dr_energy,
    )
    return account(
        flows, rates,
        unit_names=base.unit_names, offtake_names=base.offtake_names,
        class_names=base.class_names,
        unit_capacity_mw=inputs.unit_capacity_mw,
        plant_capacity_mw=plant_capacity_mw,
        index=inputs.index,
        objective_usd=result.objective_usd,
        demand_response_sites=tuple(inputs.site_names[s] for s in dr_sites),
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
        mv = r.marginal_value_usd_per_mwh
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
    from gridhash.bitcoin import economics as ec

    i = run.inputs
    use = fleet_use(run)
    years = max(1, round(ec.ASIC_LIFETIME_YEARS if lifetime_years is None else lifetime_years))
    rate = ec.DISCOUNT_RATE if discount_rate is None else discount_rate
    resale = ec.RESALE_FRACTION if resale_fraction is None else resale_fraction
    factors = ec.revenue_factors(i.start_height, i.blocks_per_hour,
                                 float(np.mean(i.fees_btc_per_block)),
                                 ec.revenue_growth_per_year(i.btc_price_usd, i.difficulty), years)
    opex = float(np.mean(i.mining_opex_usd_per_mwh))
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
            "cooling": m.cooling, "released": m.released,
            "runs_as": basis, "uptime": float(np.mean(running)),
            "power_price_usd_per_mwh": price,
            "first_year_revenue_usd": float(revenue), "first_year_energy_mwh": float(energy),
            "npv_usd": float(v.npv_usd), "payback_years": float(v.payback_years),
            "breakeven_power_usd_per_mwh": float(v.breakeven_power_usd_per_mwh),
            "breakeven_hashprice_usd_per_ph_day": scale * hashprice0,
            "breakeven_btc_usd": scale * float(i.btc_price_usd[0]),
        })
    return rows
