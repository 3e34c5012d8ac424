"""Scenarios: TOML files validated by pydantic, resolved to hourly arrays."""

from gridhash.scenario.load import (
    DEFAULT_SCENARIO,
    LoadedScenario,
    builtin_names,
    builtin_text,
    load_scenario,
    parse_scenario,
)

__all__ = [
    "DEFAULT_SCENARIO",
    "LoadedScenario",
    "builtin_names",
    "builtin_text",
    "load_scenario",
    "parse_scenario",
]
