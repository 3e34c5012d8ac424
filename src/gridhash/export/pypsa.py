"""The dispatch problem as a PyPSA network: the same LP, for energy modellers.

:func:`to_pypsa` maps a :class:`~gridhash.dispatch.problem.DispatchProblem` onto
PyPSA components so that ``n.optimize()`` solves exactly gridhash's LP, with
``gridhash objective = −(PyPSA objective)``:

=====================  ==============================================================
gridhash               PyPSA
=====================  ==============================================================
plant                  Bus ``plant``
unit u                 Generator ``u``: p_nom = max available, p_max_pu = avail/p_nom,
                       p_min_pu = min/p_nom, marginal_cost = cost (series),
                       ramp_limit_up/down = ramp/p_nom as series, NaN where gridhash
                       does not ramp-limit (hour 0, and either side of an outage)
house load             Load ``house`` (p_set)
imports                Generator ``import``: marginal_cost = import price,
                       p_max_pu = import_cap/p_nom
offtake o              Bus ``offtake:o``; Link ``lines:o`` from the plant
                       (p_max_pu = offtake_cap/p_nom: lines and demand as one limit);
                       Generator ``offtake:o`` with sign −1, marginal_cost = −price,
                       p ∈ [firm, max(cap, firm)]; Generator ``unserved:o`` with
                       marginal_cost = price + penalty, p ∈ [0, firm]
site s                 Bus ``site:s``; Link ``site:s`` from the plant (p_max_pu = cap),
                       or from bus ``mining`` when the safety envelope caps mining
safety envelope        Link ``mining`` from the plant to bus ``mining`` (p_max_pu =
                       the envelope's mining cap); Generator ``diesel`` (house load on
                       diesel, marginal_cost = diesel cost); Generator ``blackout``
                       (house load unsupplied, marginal_cost = blackout penalty);
                       the units' bounds and ramp NaNs already carry the envelope
miner class k          Generator ``mining:k`` at its site, sign −1,
                       marginal_cost = −value, p_max_pu = class_cap/p_nom
=====================  ==============================================================

Why the offtake works: on bus ``offtake:o`` the line flow ``f`` plus unserved
``uns`` equals the sink ``s``, so ``−price·s + (price + penalty)·uns = −price·f +
penalty·uns``: gridhash's objective with ``d = f``.  ``s ≥ firm`` is the firm
obligation ``d + uns ≥ firm``; its upper bound ``max(cap, firm)`` is never
binding at an optimum (unserved energy is only bought up to ``firm − d``) and
keeps the bounds consistent when an outage leaves ``cap < firm``.

PyPSA ramp limits (``pypsa/optimization/constraints.py``,
``define_ramp_limit_constraints``): an entry is skipped where the series is NaN
(and ``ramp_limit_start_up`` is NaN, as for non-committable generators); the
first snapshot is limited only against ``p_init``, which is left NaN, so it is
free, as in gridhash.

PyPSA is an optional dependency and is imported only inside the functions.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gridhash.errors import GridhashError

if TYPE_CHECKING:
    import pandas as pd
    import pypsa

    from gridhash.dispatch.problem import DispatchProblem
    from gridhash.scenario.load import LoadedScenario

#: How PyPSA's optimum relates to gridhash's (stored in ``n.meta``).
OBJECTIVE_RELATION = "gridhash_objective = -pypsa_objective"


def _import_pypsa() -> Any:
    try:
        import pypsa
    except ImportError:  # pragma: no cover - pypsa is installed in the test environment
        raise GridhashError(
            "exporting to PyPSA needs the pypsa package, which is not installed; "
            "install it with `pip install pypsa` (or gridhash's `pypsa` extra)"
        ) from None
    return pypsa


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence PyPSA's INFO logging and its FutureWarnings (pandas string dtype) for a block."""
    logger = logging.getLogger("pypsa")
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning, module="pypsa")
            yield
    finally:
        logger.setLevel(level)


def _snapshots(problem: DispatchProblem, index: Any) -> pd.Index:
    import pandas as pd

    idx = problem.index if index is None else index
    if idx is None:
        return pd.RangeIndex(problem.hours, name="snapshot")
    idx = pd.Index(idx)
    if len(idx) != problem.hours:
        raise GridhashError(
            f"the index has {len(idx)} entries but the problem has {problem.hours} hours"
        )
    if isinstance(idx, pd.DatetimeIndex) and idx.tz is not None:
        # PyPSA refuses time-zone-aware snapshots: store UTC wall-clock times.
        idx = idx.tz_convert("UTC").tz_localize(None)
    return idx


def _nominal(upper: np.ndarray) -> np.ndarray:
    """Per row, the largest value of a (N, T) array (0 for an empty or all-zero row)."""
    if upper.shape[1] == 0:
        return np.zeros(upper.shape[0])
    return np.maximum(upper.max(axis=1), 0.0)


def _per_unit(values: np.ndarray, p_nom: np.ndarray) -> np.ndarray:
    """(N, T) values / p_nom per row, 0 where p_nom is 0."""
    safe = np.where(p_nom > 0, p_nom, 1.0)
    return np.where(p_nom[:, None] > 0, values / safe[:, None], 0.0)


def _frame(values: np.ndarray, names: list[str], snapshots: pd.Index) -> pd.DataFrame:
    """(N, T) array → DataFrame indexed by snapshot with one column per name."""
    import pandas as pd

    return pd.DataFrame(np.asarray(values, dtype=float).T, index=snapshots, columns=names)


def to_pypsa(
    problem: DispatchProblem, index: Any = None, *, name: str | None = None
) -> pypsa.Network:
    """Build the dispatch problem as a PyPSA network that solves to the same optimum.

    Parameters
    ----------
    problem : DispatchProblem
        The arrays of the problem.
    index : pandas.Index, optional
        Snapshots (one per hour); defaults to ``problem.index`` (hourly UTC,
        stored time-zone naive since PyPSA refuses time zones) or a RangeIndex.
    name : str, optional
        The scenario's name, kept in ``n.name`` and ``n.meta``.

    Returns
    -------
    pypsa.Network
        Solve it with ``n.optimize(solver_name="highs")``; gridhash's objective
        is ``-n.objective``.
    """
    from gridhash.dispatch.problem import with_dispatch_rules

    pypsa = _import_pypsa()
    p = with_dispatch_rules(problem)  # the imports and grid-first rules, as the solvers see them
    sns = _snapshots(p, index)
    n = pypsa.Network(name=f"gridhash {name}" if name else "gridhash")
    n.set_snapshots(sns)
    n.add(
        "Carrier",
        ["AC", "unit", "import", "lines", "offtake", "unserved", "feeder", "mining", "diesel",
         "blackout"],
    )

    def frame(values: np.ndarray, names: list[str]) -> pd.DataFrame:
        return _frame(values, names, sns)

    n.add("Bus", "plant", carrier="AC")
    n.add("Load", ["house"], bus="plant", p_set=frame(p.house_load_mw[None, :], ["house"]))

    # Units.
    units = list(p.unit_names)
    if units:
        nom = _nominal(p.unit_available_mw)
        # Ramp limits per unit of p_nom where gridhash applies them, NaN (ignored) elsewhere.
        mask = p.ramp_mask
        safe = np.where(nom > 0, nom, 1.0)[:, None]

        def ramp(mw: np.ndarray) -> pd.DataFrame:
            pu = np.where(mask & np.isfinite(mw)[:, None], mw[:, None] / safe, np.nan)
            return frame(pu, units)

        n.add(
            "Generator",
            units,
            bus="plant",
            carrier="unit",
            p_nom=nom,
            p_max_pu=frame(_per_unit(p.unit_available_mw, nom), units),
            p_min_pu=frame(_per_unit(p.unit_min_mw, nom), units),
            marginal_cost=frame(p.unit_cost_usd_per_mwh, units),
            ramp_limit_up=ramp(p.unit_ramp_up_mw_per_h),
            ramp_limit_down=ramp(p.unit_ramp_down_mw_per_h),
        )

    # Imports for house load.
    imp_nom = _nominal(p.import_cap_mw[None, :])
    n.add(
        "Generator",
        ["import"],
        bus="plant",
        carrier="import",
        p_nom=imp_nom,
        p_max_pu=frame(_per_unit(p.import_cap_mw[None, :], imp_nom), ["import"]),
        marginal_cost=frame(p.import_price_usd_per_mwh[None, :], ["import"]),
    )

    # Offtakes: lines from the plant, the offtake as a sink, unserved firm energy.
    if p.offtake_names:
        names = list(p.offtake_names)
        buses = [f"offtake:{o}" for o in names]
        n.add("Bus", buses, carrier="AC")
        lines = [f"lines:{o}" for o in names]
        line_nom = _nominal(p.offtake_cap_mw)
        n.add(
            "Link",
            lines,
            bus0="plant",
            bus1=buses,
            carrier="lines",
            p_nom=line_nom,
            p_max_pu=frame(_per_unit(p.offtake_cap_mw, line_nom), lines),
        )
        firm = p.offtake_firm_mw
        sink_upper = np.maximum(p.offtake_cap_mw, firm)
        sink_nom = _nominal(sink_upper)
        n.add(
            "Generator",
            buses,
            bus=buses,
            carrier="offtake",
            sign=-1.0,
            p_nom=sink_nom,
            p_min_pu=frame(_per_unit(firm, sink_nom), buses),
            p_max_pu=frame(_per_unit(sink_upper, sink_nom), buses),
            marginal_cost=frame(-p.offtake_price_usd_per_mwh, buses),
        )
        uns = [f"unserved:{o}" for o in names]
        uns_nom = _nominal(firm)
        n.add(
            "Generator",
            uns,
            bus=buses,
            carrier="unserved",
            p_nom=uns_nom,
            p_max_pu=frame(_per_unit(firm, uns_nom), uns),
            marginal_cost=frame(p.offtake_price_usd_per_mwh + p.unserved_penalty, uns),
        )

    # Safety envelope: diesel and blackout as sources of house load, a cap on mining.
    for source, cap, cost in (
        ("diesel", p.diesel_cap_mw, p.diesel_cost),
        ("blackout", p.blackout_cap_mw, p.blackout_penalty),
    ):
        if cap is None:
            continue
        nom = _nominal(cap[None, :])
        n.add(
            "Generator",
            [source],
            bus="plant",
            carrier=source,
            p_nom=nom,
            p_max_pu=frame(_per_unit(cap[None, :], nom), [source]),
            marginal_cost=float(cost),
        )
    feeder_bus = "plant"
    if p.mining_cap_mw is not None and p.site_names:
        feeder_bus = "mining"
        n.add("Bus", "mining", carrier="AC")
        cap = np.minimum(p.mining_cap_mw, p.class_cap_mw.sum(axis=0))[None, :]
        nom = _nominal(cap)
        n.add(
            "Link",
            ["mining"],
            bus0="plant",
            bus1="mining",
            carrier="feeder",
            p_nom=nom,
            p_max_pu=frame(_per_unit(cap, nom), ["mining"]),
        )

    # Mining: a feeder per site, a sink per miner class.
    if p.site_names:
        sites = [f"site:{s}" for s in p.site_names]
        n.add("Bus", sites, carrier="AC")
        site_nom = _nominal(p.site_cap_mw)
        n.add(
            "Link",
            sites,
            bus0=feeder_bus,
            bus1=sites,
            carrier="feeder",
            p_nom=site_nom,
            p_max_pu=frame(_per_unit(p.site_cap_mw, site_nom), sites),
        )
    if p.class_names:
        classes = [f"mining:{k}" for k in p.class_names]
        class_nom = _nominal(p.class_cap_mw)
        n.add(
            "Generator",
            classes,
            bus=[f"site:{p.site_names[s]}" for s in p.class_site],
            carrier="mining",
            sign=-1.0,
            p_nom=class_nom,
            p_max_pu=frame(_per_unit(p.class_cap_mw, class_nom), classes),
            marginal_cost=frame(-p.class_value_usd_per_mwh, classes),
        )

    n.meta = {
        "generator": "gridhash",
        "scenario": name or "",
        "objective": OBJECTIVE_RELATION,
        "objective_note": (
            "gridhash maximises revenue minus costs and unserved penalty; PyPSA minimises "
            "cost, so gridhash's objective is the negative of n.objective"
        ),
        "snapshots": "hourly, UTC (stored time-zone naive)",
        "unserved_penalty_usd_per_mwh": float(p.unserved_penalty),
    }
    return n


def export_netcdf(scenario: str | Path | LoadedScenario | None, path: Path) -> Path:
    """Write a scenario's dispatch problem as a PyPSA network in netCDF.

    Loads, resolves and builds the problem within its safety envelope (it is not
    solved), converts it with
    :func:`to_pypsa` and writes ``path`` (creating its folder).  Returns ``path``.
    """
    from gridhash.dispatch.problem import build_problem
    from gridhash.scenario.load import LoadedScenario, load_scenario
    from gridhash.scenario.resolve import resolve

    # the scenario first: a bad file is refused without paying for PyPSA's import
    loaded = scenario if isinstance(scenario, LoadedScenario) else load_scenario(scenario)
    _import_pypsa()
    from gridhash.safety import envelope_for

    inputs = resolve(loaded)
    problem = build_problem(inputs, envelope_for(loaded, inputs))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _quiet():
        n = to_pypsa(problem, name=loaded.name)
        n.export_to_netcdf(path)
    return path
