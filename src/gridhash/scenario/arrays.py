"""Every array of the model, declared once: name, axes, unit, dtype, stage, description.

As the scenario schema declares each scenario field once (:mod:`gridhash.scenario.models`),
this table declares each array derived from it, the way PyPSA's component attribute
tables do.  The dataclasses that carry the arrays take their array fields from it
(:func:`declare`): :class:`~gridhash.scenario.resolve.Inputs` (stage ``inputs``),
:class:`~gridhash.safety.envelope.Envelope` (``envelope``),
:class:`~gridhash.dispatch.problem.DispatchProblem` (``problem``) and the dispatch
results (``result``: :class:`~gridhash.dispatch.result.DispatchResult`, the fast
path's results); so do the fast path's field lists (:func:`path_fields`,
:func:`outputs`).  ``docs/arrays.md`` is generated from it:

    python -m gridhash.scenario.arrays > docs/arrays.md

Axes: U units, O offtakes, L lines, S sites, K miner classes, T hours (a leading
path axis N where a batch holds many paths).  An array without T is *static*: one
value for the whole horizon.
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

#: The stages, in the order the data flows, and the classes that carry them.
STAGES: dict[str, str] = {
    "inputs": "`gridhash.scenario.resolve.Inputs`: the scenario resolved onto its hours",
    "envelope": "`gridhash.safety.envelope.Envelope`: the safety envelope's hourly limits",
    "problem": "`gridhash.dispatch.problem.DispatchProblem`: what every solver reads",
    "result": "`gridhash.dispatch.result.DispatchResult`, `gridhash.dispatch.fast.FastResult` "
    "and (with a leading path axis N) `FastBatchResult`: the optimal dispatch",
}


@dataclass(frozen=True)
class Array:
    """One declared array."""

    name: str
    dims: str  # axes, e.g. "UT"; "" for a scalar
    unit: str
    dtype: str  # numpy dtype name
    stages: tuple[str, ...]
    description: str
    #: Stages where the array may be absent (None), and what an absent array means.
    optional_in: tuple[str, ...] = ()
    absent: float | bool | None = None

    @property
    def static(self) -> bool:
        """No hour axis: one value for the whole horizon."""
        return "T" not in self.dims

    def shape_text(self, leading: str = "") -> str:
        axes = leading + self.dims
        return f"({', '.join(axes)})" if len(axes) > 1 else f"({axes},)" if axes else "()"


def is_static(a: Any) -> bool:
    """True when the array holds one value for the whole horizon along its last (hour)
    axis by its layout: a broadcast view with stride 0 there (how resolution keeps a
    value given as one number), or at most one hour.  Read from the layout, not the
    values: an array that merely happens to be constant is not static.  (Pickling
    copies an array into plain layout, so the mark does not cross processes.)"""
    shape, strides = getattr(a, "shape", ()), getattr(a, "strides", ())
    return bool(shape) and (shape[-1] <= 1 or strides[-1] == 0)


def _a(name: str, dims: str, unit: str, stages: str, description: str, dtype: str = "float64",
       optional_in: str = "", absent: float | bool | None = None) -> Array:
    return Array(name, dims, unit, dtype, tuple(stages.split()), description,
                 tuple(optional_in.split()), absent)


INF = float("inf")

#: The table.  Order: the order the fields appear in their classes and documents.
ARRAYS: tuple[Array, ...] = (
    # Plant ------------------------------------------------------------------------------
    _a("unit_capacity_mw", "U", "MW", "inputs", "Net electrical capacity of each unit."),
    _a("unit_available_mw", "UT", "MW", "inputs problem",
       "What each unit can make: capacity × availability, 0 in outages; in the problem, "
       "within the safety envelope (its `unit_cap_mw`)."),
    _a("unit_min_mw", "UT", "MW", "inputs envelope problem",
       "Minimum stable output where the unit runs, else 0."),
    _a("unit_ramp_up_mw_per_h", "U", "MW/h", "inputs problem",
       "Largest rise of output from one hour to the next (inf: unlimited)."),
    _a("unit_ramp_down_mw_per_h", "U", "MW/h", "inputs problem",
       "Largest fall of output from one hour to the next (inf: unlimited)."),
    _a("unit_cost_usd_per_mwh", "UT", "USD/MWh", "inputs problem",
       "Marginal cost of each unit's output."),
    _a("house_load_mw", "T", "MW", "inputs problem", "The plant's own load."),
    # Grid -------------------------------------------------------------------------------
    _a("offtake_price_usd_per_mwh", "OT", "USD/MWh", "inputs problem",
       "What each offtake pays for energy delivered (an agreement's price where it sets one)."),
    _a("offtake_demand_mw", "OT", "MW", "inputs", "Most each offtake takes."),
    _a("offtake_firm_mw", "OT", "MW", "inputs problem",
       "Firm obligation: served before any mining, or penalised as unserved."),
    _a("line_offtake", "L", "-", "inputs", "Index of the offtake each line serves.",
       dtype="int64"),
    _a("line_capacity_mw", "LT", "MW", "inputs", "Capacity of each line, 0 in outages."),
    _a("import_price_usd_per_mwh", "T", "USD/MWh", "inputs problem",
       "Price of energy imported for house load."),
    _a("import_limit_mw", "T", "MW", "inputs",
       "Most the plant may import whatever the lines allow (`grid.imports_allowed`, "
       "`grid.import_cap_mw`); None: no such cap.", optional_in="inputs"),
    # Mining -----------------------------------------------------------------------------
    _a("site_capacity_mw", "ST", "MW", "inputs",
       "Largest draw of each mining site, cooling included, 0 in outages and in the hours "
       "its demand-response rule curtails."),
    _a("site_capacity_before_dr_mw", "ST", "MW", "inputs",
       "Largest draw of each mining site before its demand-response rule (0 in outages): "
       "what a path's own prices curtail from (`gridhash.scenario.resolve.site_curtailment`)."),
    _a("class_count", "K", "-", "inputs", "Machines in each miner class."),
    _a("class_site", "K", "-", "inputs problem", "Index of the site of each miner class.",
       dtype="int64"),
    _a("mining_opex_usd_per_mwh", "T", "USD/MWh", "inputs",
       "Operating cost of the sites per MWh drawn."),
    _a("site_dr_codes", "ST", "-", "inputs",
       "Why each site is curtailed by its demand-response rule in each hour (0: not; "
       "`gridhash.demand_response.REASONS`).", dtype="int8"),
    _a("site_dr_price_usd_per_mwh", "ST", "USD/MWh", "inputs",
       "The reference price each site's demand-response rule read (its `price_offtake`'s "
       "market price; NaN at a site without a programme)."),
    _a("site_dr_called", "ST", "-", "inputs",
       "Hours the grid operator calls each site's demand-response programme.", dtype="bool"),
    _a("site_dr_availability_usd", "ST", "USD", "inputs",
       "Demand-response payment for the capacity each site holds available."),
    _a("site_dr_energy_usd", "ST", "USD", "inputs",
       "Demand-response payment for the energy each site does not draw when curtailed."),
    # Bitcoin ----------------------------------------------------------------------------
    _a("btc_price_usd", "T", "USD", "inputs", "Price of one bitcoin."),
    _a("difficulty", "T", "-", "inputs", "Network difficulty (hashes per block / 2^32)."),
    _a("fees_btc_per_block", "T", "BTC", "inputs", "Transaction fees per block."),
    _a("subsidy_btc_per_block", "T", "BTC", "inputs",
       "Mean block subsidy of the blocks expected in each hour."),
    # Safety envelope --------------------------------------------------------------------
    _a("unit_mode", "UT", "-", "envelope", "Operating mode of each unit (index into MODES).",
       dtype="int64"),
    _a("unit_cap_mw", "UT", "MW", "envelope",
       "Most each unit may make: at power and within every rule's cap."),
    _a("ramp_allowed", "UT", "-", "envelope problem",
       "Whether the unit's ramp limits apply between the hour before and this one.",
       dtype="bool", optional_in="problem", absent=True),
    _a("line_in_service", "LT", "-", "envelope", "Whether each line is in service.",
       dtype="bool"),
    _a("offtake_cap_mw", "OT", "MW", "envelope problem",
       "Most each offtake can take: its demand and the lines in service serving it."),
    _a("import_cap_mw", "T", "MW", "envelope problem",
       "Most the plant can import: its house load and the lines in service; 0 while mining. "
       "The solvers lower it to the house load the units cannot make "
       "(`gridhash.scenario.grid.house_import_cap_mw`)."),
    _a("diesel_cap_mw", "T", "MW", "envelope problem",
       "What the diesel generators can supply (house load only).",
       optional_in="problem", absent=0.0),
    _a("blackout_cap_mw", "T", "MW", "problem",
       "House load that may go unsupplied (a station blackout, heavily penalised).",
       optional_in="problem", absent=0.0),
    _a("mining_blocked", "T", "-", "envelope", "Whether a rule blocks mining.", dtype="bool"),
    _a("mining_cap_mw", "T", "MW", "envelope problem",
       "Most mining may draw in all (≤ the fleet); without an envelope, the sites only.",
       optional_in="problem", absent=INF),
    _a("max_net_output_mw", "T", "MW", "envelope",
       "Maximum net output: what the envelope lets the units make less house load "
       "(`max_gross_output_mw`, a property, is the units' allowed output itself)."),
    _a("restricted", "T", "-", "envelope",
       "Whether a rule, approach, start-up, runback or shed limits the plant.", dtype="bool"),
    # Dispatch problem ---------------------------------------------------------------------
    _a("site_cap_mw", "ST", "MW", "problem", "Largest draw of each mining site."),
    _a("class_cap_mw", "KT", "MW", "problem",
       "Largest draw of each miner class: its machines and its site."),
    _a("class_value_usd_per_mwh", "KT", "USD/MWh", "problem",
       "What a MWh drawn by each class earns: BTC at the hour's price, after pool fee, "
       "less opex."),
    # Dispatch result ------------------------------------------------------------------------
    _a("unit_mw", "UT", "MW", "result", "Output of each unit."),
    _a("imported_mw", "T", "MW", "result", "Energy imported over the lines for house load."),
    _a("delivered_mw", "OT", "MW", "result", "Energy delivered to each offtake."),
    _a("unserved_mw", "OT", "MW", "result", "Firm obligation not served."),
    _a("mining_mw", "KT", "MW", "result", "Power drawn by each miner class, cooling included."),
    _a("diesel_mw", "T", "MW", "result", "House load supplied by the diesel generators."),
    _a("blackout_mw", "T", "MW", "result", "House load left unsupplied (station blackout)."),
    _a("marginal_value_usd_per_mwh", "T", "USD/MWh", "result",
       "A dual of the hour's energy balance: the value of one more MW at the plant."),
    _a("objective_hourly_usd", "T", "USD", "result",
       "The optimizer's objective, hour by hour (money and penalties together: not money)."),
)

#: Unit suffix of an array's name → the unit it must then have (names carry their unit).
NAME_UNITS: dict[str, str] = {"_usd_per_mwh": "USD/MWh", "_mw_per_h": "MW/h", "_mw": "MW",
                              "_usd": "USD",
                              "_btc_per_block": "BTC"}


def arrays(stage: str) -> tuple[Array, ...]:
    """The arrays of ``stage``, in table order."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
    return tuple(a for a in ARRAYS if stage in a.stages)


def series_fields(stage: str) -> dict[str, str]:
    """{name: axes} of the arrays of ``stage`` with an hour axis (what may vary by path)."""
    return {a.name: a.dims for a in arrays(stage) if not a.static}


def absent_values(stage: str) -> dict[str, float | bool]:
    """{name: what an absent array means} of the optional arrays of ``stage``."""
    return {a.name: a.absent for a in arrays(stage)
            if stage in a.optional_in and a.absent is not None}


C = TypeVar("C", bound=type)


def declare(stage: str, *, leading: str = "", optional: bool | tuple[str, ...] = False,
            **options: Any) -> Callable[[C], C]:
    """A class decorator: the class becomes a keyword-only dataclass whose array fields are
    those of ``stage`` in the table, ahead of the fields the class declares itself.

    ``optional``: every array may be None (True), or these names may; the table's
    ``optional_in`` adds its own.  ``leading``: a path axis before the table's axes
    (documentation only).  ``options`` go to :func:`dataclasses.dataclass`.
    """
    specs = arrays(stage)

    def wrap(cls: C) -> C:
        own = dict(inspect.get_annotations(cls))
        annotations: dict[str, Any] = {}
        lines = []
        for a in specs:
            may_lack = (optional is True or (optional and a.name in optional)
                        or stage in a.optional_in)
            annotations[a.name] = "np.ndarray | None" if may_lack else "np.ndarray"
            if may_lack:
                setattr(cls, a.name, None)
            lines.append(f"    {a.name} : {a.shape_text(leading)} {a.description} [{a.unit}]"
                         + (" (may be None)" if may_lack else ""))
        annotations.update(own)
        cls.__annotations__ = annotations
        doc = (cls.__doc__ or "").rstrip()
        cls.__doc__ = (doc + "\n\n    Arrays (declared in :data:`gridhash.scenario.arrays.ARRAYS`)"
                       "\n    ---------------------------------------------------------\n"
                       + "\n".join(lines) + "\n")
        return dataclass(kw_only=True, **options)(cls)

    return wrap


def field_names(cls: type) -> tuple[str, ...]:
    """The fields of a dataclass, in order."""
    return tuple(f.name for f in dataclasses.fields(cls))


HEADER = """# Array reference

*Generated from `gridhash.scenario.arrays.ARRAYS` by `python -m gridhash.scenario.arrays`;
do not edit by hand.*

Every array the model passes from one step to the next, declared once.  The
classes that carry them take their array fields from this table, and so do the
fast path's lists of per-path fields and outputs.  Axes: U units, O offtakes,
L lines, S sites, K miner classes, T hours; a batch of paths adds a leading
axis N.  An array without T is static: one value for the whole horizon.
"""


def reference_markdown() -> str:
    """docs/arrays.md."""
    out = [HEADER]
    for stage, what in STAGES.items():
        out.append(f"## {stage}\n\n{what}.\n")
        out.append("| name | axes | unit | dtype | static or series | description |")
        out.append("|---|---|---|---|---|---|")
        for a in arrays(stage):
            note = ""
            if stage in a.optional_in:
                note = f" Optional: absent means {a.absent!r} every hour."
            out.append(f"| `{a.name}` | {a.shape_text()} | {a.unit} | {a.dtype} | "
                       f"{'static' if a.static else 'series'} | {a.description}{note} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":  # pragma: no cover
    sys.stdout.write(reference_markdown())
