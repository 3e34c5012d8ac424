"""Many futures of one scenario: sample paths, build each path's envelope, then the pipeline.

A path is a function of ``(scenario, agreement, seed, path id)`` only: its random
inputs come from its own seed stream (:mod:`gridhash.risk.models`), its safety
envelope from its own line cuts and forced outages
(:func:`gridhash.safety.envelope.envelope_arrays` with a leading path axis), its
dispatch and accounts from the same pipeline as ``gridhash run``
(:func:`gridhash.pipeline.run_batch`: the exact fast path, then the accounts).
So the results are identical however the paths are split into chunks, processes
or Dask workers; :func:`run_paths` is the one unit of work, and it returns one row
per path.

Per-path outputs (columns of ``risk.parquet``): every line of the path's accounts
(:class:`gridhash.accounts.Accounts`, the same lines ``gridhash run`` reports for
its one path), and:

* money apart from penalties: ``net_usd`` = ``revenue_usd`` − ``cost_usd`` (by
  category in ``cost_usd:<category>``); ``penalty_usd:unserved_firm`` and
  ``penalty_usd:station_blackout``, never added into money;
* the mining business: ``mining_revenue_usd``, ``mining_opex_usd``,
  ``mining_power_cost_usd`` (the agreement's power price × MWh mined; 0 without an
  agreement), ``fleet_capital_usd`` (the agreement's yearly fleet capital, else the
  fleet's catalogue price over :data:`gridhash.accounts.fixed.FLEET_LIFETIME_YEARS`,
  for the horizon's share of a year), ``mining_net_usd``;
* the sites' demand-response payments (``demand_response_availability_usd`` and
  ``demand_response_energy_usd``, each also by site): each path's curtailment hours,
  site capacity and payments come from the sites' rules run on that path's own
  sampled prices (:func:`gridhash.scenario.resolve.site_curtailment`, the code
  ``gridhash run`` and the site agent run);
* ``hours_restricted``, ``hours_mining_blocked``, ``hours_on_diesel``,
  ``hours_station_blackout``; ``capacity_factor``;
* ``objective_usd`` (the optimizer's figure, penalties included: not money),
  ``certified``, ``lp_hours``, ``btc_price_end_usd``;
* ``party_revenue_usd:<party>`` with an agreement: grid sales and power sold to
  mining by entitlement, mining revenue by fleet ownership;
* ``monthly_mining_revenue_usd:<YYYY-MM>`` and ``monthly_btc_price_usd:<YYYY-MM>``
  for the fan charts.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from gridhash.scenario.arrays import ARRAYS

if TYPE_CHECKING:
    import pandas as pd

    from gridhash.dispatch.problem import DispatchProblem
    from gridhash.risk.models import RiskModel
    from gridhash.safety.rules import RuleSet
    from gridhash.safety.state import PlantState
    from gridhash.scenario.agreement import Agreement
    from gridhash.scenario.load import LoadedScenario
    from gridhash.scenario.resolve import Inputs

#: Paths computed together (one block of arrays).  About 25 keeps a block's
#: (paths, units, hours) arrays near the CPU caches; smaller blocks pay their
#: per-block Python more often (benchmarks/README.md, "Figures behind the code").
BLOCK_PATHS = 25

#: Most paths in one task of a sweep (a task computes its paths in blocks of
#: :data:`BLOCK_PATHS`).  Each task costs the Dask scheduler and client CPU on the
#: same machine; larger tasks spread that over more paths, while the last task
#: still ends soon after the others (benchmarks/README.md, "Figures behind the code").
TASK_PATHS = 100


@dataclass(frozen=True, eq=False)
class Context:
    """What every path of a sweep shares: the resolved scenario, its rules, the base problem."""

    loaded: LoadedScenario
    inputs: Inputs
    agreement: Agreement | None
    state: PlantState | None
    rules: RuleSet | None
    agreed_price: np.ndarray  # (O,) True where the agreement fixes the offtake's price
    # Units with some capacity in some hour (outages and cuts only take capacity away,
    # so the others make nothing in any path: znpp's units 4-6).  Paths are
    # enveloped and dispatched on these units only.
    units_on: np.ndarray  # (U,) bool
    unit_inputs: Inputs  # ``inputs`` restricted to ``units_on``
    unit_base: DispatchProblem  # the base problem restricted to ``units_on``
    risk_model: RiskModel  # the scenario's default stochastic models


def without_line_cuts(loaded: LoadedScenario) -> LoadedScenario:
    """The scenario without its own ``line_cut`` safety events (the same object when it
    has none)."""
    import dataclasses

    safety = loaded.scenario.safety
    if safety is None or not any(e.kind == "line_cut" for e in safety.events):
        return loaded
    events = [e for e in safety.events if e.kind != "line_cut"]
    scenario = loaded.scenario.model_copy(
        update={"safety": safety.model_copy(update={"events": events})}
    )
    return dataclasses.replace(loaded, scenario=scenario)


def prepare(
    loaded: LoadedScenario, agreement: str | None = None, *, scenario_line_cuts: bool = False,
    model_file: str | None = None,
) -> Context:
    """Resolve the scenario once (agreement applied) and build its base problem.

    Where the paths sample off-site line cuts (the default risk model of ``znpp``),
    the scenario's own ``line_cut`` events are left out unless ``scenario_line_cuts``:
    they are one illustrative year of the same record the line-cut model is
    calibrated on, and both together would count those cuts twice.
    """
    from gridhash.pipeline import prepare_problem
    from gridhash.risk.models import RiskModel

    # The safety events do not enter the resolved inputs the risk model is built from,
    # so the scenario is prepared once, without its cuts, unless nothing replaces them.
    own = loaded if scenario_line_cuts else without_line_cuts(loaded)
    inputs, chosen, env, base = prepare_problem(own, agreement)
    risk_model = RiskModel.default_for(inputs, scenario=loaded)
    if risk_model.line_cuts is None and own is not loaded:
        inputs, chosen, env, base = prepare_problem(loaded, agreement)
    if model_file is not None:  # a fit from `gridhash calibrate` replaces the defaults
        from pathlib import Path

        from gridhash.risk.models.fitted import apply_fitted, load_fitted

        risk_model = apply_fitted(risk_model, load_fitted(Path(model_file)), inputs, loaded)
    agreed = np.zeros(len(inputs.offtake_names), dtype=bool)
    for term in chosen.prices if chosen is not None else []:
        if term.price_usd_per_mwh is not None:
            agreed[list(inputs.offtake_names).index(term.offtake)] = True
    on = (inputs.unit_available_mw > 0).any(axis=1)
    return Context(
        loaded=loaded,
        inputs=inputs,
        agreement=chosen,
        state=None if env is None else env.state,
        rules=None if env is None else env.rules,
        agreed_price=agreed,
        units_on=on,
        unit_inputs=_select_units(inputs, on),
        unit_base=_select_units(base, on),
        risk_model=risk_model,
    )


@functools.lru_cache(maxsize=4)
def _cached_context(text: str, source: str, base_dir: str | None, agreement: str | None,
                    scenario_line_cuts: bool, model_file: str | None = None) -> Context:
    from pathlib import Path

    from gridhash.scenario.load import parse_scenario

    loaded = parse_scenario(text, source=source, base_dir=Path(base_dir) if base_dir else None)
    return prepare(loaded, agreement, scenario_line_cuts=scenario_line_cuts,
                   model_file=model_file)


def context_for(
    loaded: LoadedScenario, agreement: str | None, *, scenario_line_cuts: bool = False,
    model_file: str | None = None,
) -> Context:
    """The shared context (:func:`prepare`), built once per process for a scenario text
    (``model_file``: a risk-model.toml whose fits replace the default models)."""
    if not loaded.text:
        return prepare(loaded, agreement, scenario_line_cuts=scenario_line_cuts,
                       model_file=model_file)
    return _cached_context(loaded.text, loaded.source or "", None if loaded.base_dir is None
                           else str(loaded.base_dir), agreement, scenario_line_cuts,
                           model_file)


def run_paths(
    loaded: LoadedScenario,
    path_ids: np.ndarray | range | list[int],
    *,
    seed: int,
    agreement: str | None = None,
    scenario_line_cuts: bool = False,
) -> pd.DataFrame:
    """Sample, envelope, dispatch and sum up the given paths: one row per path id
    (``scenario_line_cuts``: see :func:`prepare`)."""
    import pandas as pd

    ctx = context_for(loaded, agreement, scenario_line_cuts=scenario_line_cuts)
    return pd.DataFrame(path_columns(ctx, path_ids, seed=seed))


def path_columns(
    ctx: Context, path_ids: np.ndarray | range | list[int], *, seed: int
) -> dict[str, np.ndarray]:
    """The columns of :func:`run_paths` for the given paths, computed in blocks of
    :data:`BLOCK_PATHS` (a path's row does not depend on the blocks)."""
    ids = np.asarray(list(path_ids), dtype=np.int64)
    blocks = [_block_columns(ctx, ids[a:a + BLOCK_PATHS], seed)
              for a in range(0, len(ids), BLOCK_PATHS)]
    return _concat(blocks) if blocks else _block_columns(ctx, ids, seed)


def _concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Columns of several blocks, one after the other."""
    if len(parts) == 1:
        return parts[0]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _block_columns(ctx: Context, ids: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """One block of paths: sample, envelope, then the pipeline (problem, dispatch,
    accounts) on the sampled arrays."""
    from gridhash.pipeline import run_batch
    from gridhash.risk.models import sample_paths
    from gridhash.safety.envelope import envelope_arrays
    from gridhash.scenario.grid import import_cap_mw
    from gridhash.scenario.resolve import offtake_caps, site_curtailment
    from gridhash.scenario.safety import MODES

    i = ctx.inputs
    rp = sample_paths(i, ids, seed=seed, model=ctx.risk_model)
    N, T = len(ids), i.hours

    # Each path's plant: forced outages, line cuts, and its safety envelope.
    on, sub = ctx.units_on, ctx.unit_inputs
    avail = sub.unit_available_mw[None] * rp.unit_availability[:, on]
    umin = np.where(avail > 0, sub.unit_min_mw, 0.0)
    paths: dict[str, np.ndarray] = {}
    off = np.zeros((N, T), dtype=bool)
    flags = {"restricted": off, "mining_blocked": off, "on_diesel": off}
    if ctx.state is not None and ctx.rules is not None:
        st = ctx.state
        lines = st.line_in_service[None] & rp.line_in_service
        q, diesel = st.with_lines(lines, i.house_load_mw, only=ctx.rules.quantities)
        base_depth = st.unit_outage_depth[on][None].astype(np.int8)
        forced = (avail <= 0) & (base_depth == 0)
        depth = np.where(forced, np.int8(MODES.index("cold_shutdown")), base_depth)
        arr, _ = envelope_arrays(
            sub, ctx.rules, quantities=q, unit_available_mw=avail, unit_min_mw=umin,
            outage_depth=depth, initial_depth=st.unit_initial_depth[on],
            line_in_service=lines, margin_mw=st.margin_mw,
        )
        paths |= {
            "unit_available_mw": arr["unit_cap_mw"],
            "unit_min_mw": arr["unit_min_mw"],
            "ramp_allowed": arr["ramp_allowed"],
            "offtake_cap_mw": arr["offtake_cap_mw"],
            "import_cap_mw": arr["import_cap_mw"],
            "mining_cap_mw": arr["mining_cap_mw"],
            "diesel_cap_mw": diesel,
        }
        flags = {"restricted": arr["restricted"],
                 "mining_blocked": arr["mining_cap_mw"] <= 1e-9,
                 "on_diesel": q["on_diesel"] > 0}
    else:  # no safety part: the plant's own limits with the path's outages and cuts
        line_cap = i.line_capacity_mw[None] * rp.line_in_service
        paths |= {
            "unit_available_mw": avail,
            "unit_min_mw": umin,
            "offtake_cap_mw": offtake_caps(i, line_cap),
            "import_cap_mw": import_cap_mw(i.house_load_mw, line_cap, i.import_limit_mw),
        }

    # Each path's markets: grid prices (unless agreed), Bitcoin.
    paths["offtake_price_usd_per_mwh"] = (
        np.where(ctx.agreed_price[None, :, None], i.offtake_price_usd_per_mwh[None],
                 rp.offtake_price_usd_per_mwh)
        if ctx.agreed_price.any() else rp.offtake_price_usd_per_mwh)
    paths |= {k: getattr(rp, k) for k in ("difficulty", "subsidy_btc_per_block",
                                          "fees_btc_per_block", "btc_price_usd")}
    # Each path's demand response: the sites' rules on the path's sampled prices (None
    # where no site has a programme).
    dr = site_curtailment(i, rp.offtake_price_usd_per_mwh)
    batch = run_batch(sub, ctx.unit_base, paths=paths, flags=flags, agreement=ctx.agreement,
                      plant_capacity_mw=float(i.unit_capacity_mw.sum()), demand_response=dr)
    acc, res = batch.accounts, batch.result
    cols: dict[str, np.ndarray] = {"path": ids, **acc.totals()}
    cols |= {"certified": res.certified, "lp_hours": res.lp_hours,
             "btc_price_end_usd": rp.btc_price_usd[:, -1]}
    if ctx.agreement is not None:
        for pid, v in acc.party_revenue_usd(ctx.agreement).items():
            cols[f"party_revenue_usd:{pid}"] = v
    # Months of the horizon (YYYY-MM): mining revenue from the accounts (one line: its
    # hourly values cost time), and the mean BTC price.
    _, start = acc.periods("month")
    months, monthly = acc.by("month", ("mining_revenue_usd",))
    price = np.add.reduceat(rp.btc_price_usd, start, axis=1) / np.diff(np.r_[start, T])
    for m, label in enumerate(months):
        cols[f"monthly_mining_revenue_usd:{label}"] = monthly["mining_revenue_usd"][:, m]
        cols[f"monthly_btc_price_usd:{label}"] = price[:, m]
    return cols


#: The per-unit arrays (units on the first axis) of ``Inputs`` and ``DispatchProblem``.
_UNIT_FIELDS = tuple(a.name for a in ARRAYS if a.dims.startswith("U")
                     and {"inputs", "problem"} & set(a.stages))


def _select_units(obj: Any, on: np.ndarray) -> Any:
    """``Inputs`` or a ``DispatchProblem`` restricted to the units where ``on``."""
    import dataclasses

    if on.all():
        return obj
    names = {f.name for f in dataclasses.fields(obj)}
    changes = {name: getattr(obj, name)[on] for name in _UNIT_FIELDS
               if name in names and getattr(obj, name) is not None}
    names_on = tuple(n for n, k in zip(obj.unit_names, on, strict=True) if k)
    return dataclasses.replace(obj, unit_names=names_on, **changes)


def chunks(n_paths: int, size: int) -> list[range]:
    """Path ids 0..n−1 in consecutive ranges of ``size``."""
    return [range(s, min(s + size, n_paths)) for s in range(0, n_paths, size)]


def task_size(n_paths: int, slots: int) -> int:
    """Paths per task by default: :data:`TASK_PATHS`, fewer where that would give
    fewer than four tasks per worker thread (``slots``), at least :data:`BLOCK_PATHS`."""
    per_slot = -(-n_paths // (4 * max(1, slots)))
    return max(1, min(TASK_PATHS, max(BLOCK_PATHS, per_slot)))


def task_chunks(n_paths: int, size: int, slots: int) -> list[range]:
    """Path ids in tasks of ``size``, the last ones smaller: the paths of about two
    tasks per worker thread (``slots``) go in tasks of :data:`BLOCK_PATHS`, so that
    the workers run out of work at about the same time."""
    if size <= BLOCK_PATHS:
        return chunks(n_paths, size)
    tail = min(n_paths, 2 * max(1, slots) * size)
    head = chunks(n_paths - tail, size)
    return head + [range(n_paths - tail + r.start, n_paths - tail + r.stop)
                   for r in chunks(tail, BLOCK_PATHS)]


def sweep(
    loaded: LoadedScenario,
    n_paths: int,
    *,
    seed: int = 0,
    agreement: str | None = None,
    chunk_size: int | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Any = None,
    scenario_line_cuts: bool = False,
    model_file: str | None = None,
) -> pd.DataFrame:
    """Run ``n_paths`` paths in process, on a local Dask cluster (``workers``) or on an
    existing one (``scheduler``); rows sorted by path id.

    ``chunk_size``: paths per task (default :func:`task_size`).  The shared
    :class:`Context` is built once, here, and sent to each worker once, so the
    workers need neither the scenario's files nor the time to resolve it.
    ``scenario_line_cuts``: keep the scenario's own line cuts on top of the sampled
    ones (see :func:`prepare`).  ``model_file``: a risk-model.toml from ``gridhash
    calibrate`` whose fitted models replace the defaults.
    """
    import pandas as pd

    if n_paths < 1:
        raise ValueError(f"n_paths must be at least 1 (got {n_paths})")

    def shared_context() -> Context:
        return context_for(loaded, agreement, scenario_line_cuts=scenario_line_cuts,
                           model_file=model_file)

    parts: list[dict[str, np.ndarray]] = []
    if workers is None and scheduler is None:
        ctx = shared_context()
        for r in chunks(n_paths, chunk_size or task_size(n_paths, 1)):
            parts.append(path_columns(ctx, r, seed=seed))
            if progress:
                progress(len(r))
    else:
        import logging
        from concurrent.futures import ThreadPoolExecutor

        from dask.distributed import Client, as_completed

        from gridhash.risk.cluster import local_cluster, sigint_ignored, wait_for_spawn

        cluster = client = None
        # A Ctrl-C that lands inside one of Dask's blocking calls (distributed.utils.sync)
        # makes its cancel callback fail on the event loop (a NameError in distributed)
        # and tornado logs that traceback. Task errors still reach this process as
        # exceptions, so the event loop's own log stays quiet for the sweep.
        loop_log = logging.getLogger("tornado.application")
        loop_level = loop_log.level
        loop_log.setLevel(logging.CRITICAL + 1)
        try:
            if scheduler is None:
                # The workers start (and import, :func:`dask_setup`) while this process
                # resolves the scenario.
                with ThreadPoolExecutor(1) as pool:
                    with sigint_ignored():
                        starting = pool.submit(local_cluster, int(workers or 1))
                        wait_for_spawn(starting, int(workers or 1))
                    try:
                        ctx = shared_context()
                    finally:
                        cluster = starting.result()
                client = Client(cluster)
            else:
                ctx = shared_context()
                client = Client(scheduler, timeout="30s")
            slots = sum(client.nthreads().values())
            shared = client.scatter(ctx, broadcast=True, hash=False)
            futures = [client.submit(path_columns, shared, r, seed=seed, pure=False)
                       for r in task_chunks(n_paths, chunk_size or task_size(n_paths, slots),
                                            slots)]
            for fut in as_completed(futures):
                cols = fut.result()
                parts.append(cols)
                if progress:
                    progress(len(cols["path"]))
        finally:
            import sys

            # Closing after Ctrl-C or an error cancels tasks in flight: the scheduler's
            # log of each cancelled task would only bury the cause.
            log = logging.getLogger("distributed")
            level = log.level
            if sys.exc_info()[0] is not None:
                log.setLevel(logging.CRITICAL + 1)
            try:
                if client is not None:
                    client.close()
                if cluster is not None:
                    cluster.close()
            finally:
                log.setLevel(level)
                loop_log.setLevel(loop_level)
    return pd.DataFrame(_concat(parts)).sort_values("path").reset_index(drop=True)


#: Metrics of :func:`summarise`'s distributions (lines of the accounts; which end of
#: each is bad: :func:`gridhash.accounts.bad_end`).
RISK_METRICS = (
    "net_usd", "revenue_usd", "cost_usd", "penalty_usd:unserved_firm",
    "penalty_usd:station_blackout", "unserved_firm_mwh", "house_load_unsupplied_mwh",
    "hours_station_blackout", "diesel_mwh", "hours_on_diesel", "btc_mined",
    "mining_revenue_usd", "mining_net_usd", "grid_mwh", "capacity_factor",
    "hours_restricted", "hours_mining_blocked",
)


def summarise(df: pd.DataFrame, alpha: float = 0.05) -> dict[str, Any]:
    """What a risk analyst asks of the paths: distributions of net money and of each
    penalty apart (each with its bad tail), VaR and CVaR of net money at ``alpha``,
    the probability of any station blackout and its hours, unserved firm energy,
    and the probability that mining loses money.  The optimizer's objective
    (money less penalties) is in ``risk.parquet`` only: it is not money."""

    def dist(x: np.ndarray, tail: str) -> dict[str, Any]:
        q = np.quantile(x, [0.05, 0.25, 0.5, 0.75, 0.95])
        return {"mean": float(np.mean(x)), "p5": float(q[0]), "p25": float(q[1]),
                "median": float(q[2]), "p75": float(q[3]), "p95": float(q[4]),
                "min": float(np.min(x)), "max": float(np.max(x)), "bad": tail}

    def var_cvar(x: np.ndarray) -> dict[str, float]:
        """Value at risk: the alpha-quantile of the money (a low figure is a loss);
        conditional: the mean of the paths at or below it."""
        v = float(np.quantile(x, alpha))
        tail = x[x <= v]
        return {"var": v, "cvar": float(tail.mean()) if len(tail) else v}

    from gridhash.accounts import bad_end

    keys = [k for k in RISK_METRICS if k in df.columns]
    # a demand-response programme's payments, where a site has one (its own rule on
    # each path's prices): what standing ready for the grid earns, path by path
    dr = "demand_response_revenue_usd"
    if dr in df.columns and df[dr].to_numpy(dtype=float).any():
        keys.append(dr)
    keys += [c for c in df.columns if c.startswith("party_revenue_usd:")]
    hours = df["hours_station_blackout"].to_numpy(dtype=float)
    hit = hours > 0
    unserved = df["unserved_firm_mwh"].to_numpy(dtype=float)
    return {
        "paths": len(df),
        "alpha": alpha,
        "distributions": {k: dist(df[k].to_numpy(dtype=float), bad_end(k)) for k in keys},
        "net_usd": var_cvar(df["net_usd"].to_numpy(dtype=float)),
        "mining_net_usd": var_cvar(df["mining_net_usd"].to_numpy(dtype=float)),
        "station_blackout": {
            "probability": float(hit.mean()),
            "paths": int(hit.sum()),
            "mean_hours": float(hours.mean()),
            "mean_hours_when_any": float(hours[hit].mean()) if hit.any() else 0.0,
            "p95_hours": float(np.quantile(hours, 0.95)),
            "max_hours": float(hours.max()),
            "mean_unsupplied_mwh": float(df["house_load_unsupplied_mwh"].mean()),
        },
        "unserved_firm": {
            "probability": float((unserved > 1e-3).mean()),
            "mean_mwh": float(unserved.mean()),
            "p95_mwh": float(np.quantile(unserved, 0.95)),
        },
        "probability_mining_loses_money": float((df["mining_net_usd"] < 0).mean()),
        "certified_paths": int(df["certified"].sum()),
        "lp_hours": int(df["lp_hours"].sum()),
    }
