"""The safety envelope: plant state, events and rules decide what dispatch may do.

    state (scenario ``safety`` part + events) ─┐
    rules (shipped + scenario)  ───────────────┴─> envelope (hourly limits + reasons)

:func:`envelope_for` is the one call the pipeline makes; the parts are
:mod:`~gridhash.safety.state` (hourly quantities), :mod:`~gridhash.safety.rules`
(the condition grammar, the shipped rules, checks) and
:mod:`~gridhash.safety.envelope` (the engine).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gridhash.safety.envelope import Envelope
    from gridhash.scenario.load import LoadedScenario
    from gridhash.scenario.resolve import Inputs


def envelope_for(loaded: LoadedScenario, inputs: Inputs) -> Envelope | None:
    """The operating envelope of a scenario, or None when it has no ``safety`` part."""
    safety = loaded.scenario.safety
    if safety is None:
        return None
    from gridhash.safety.envelope import compute_envelope
    from gridhash.safety.rules import build_ruleset
    from gridhash.safety.state import resolve_state

    state = resolve_state(loaded, inputs)
    rules = build_ruleset(
        safety,
        lines=inputs.line_names,
        provided=set(state.provided),
        source=loaded.source,
    )
    return compute_envelope(inputs, state, rules)
