"""Scenario in, decisions and money out: the steps of `gridhash run`, in order.

Each step is a pure function of the previous one's output; the ``progress``
callback lets the CLI show where it is without the core printing anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

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
) -> Run:
    """Load (or take) a scenario, resolve it, price mining, and dispatch it optimally.

    With ``agreement`` (a name from the scenario's ``agreements``), its obligations
    and price terms apply (see :mod:`gridhash.scenario.resolve_agreement`).
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
