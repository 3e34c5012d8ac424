"""Moved: agreements resolve in :mod:`gridhash.scenario.resolve_agreement`.

Kept only so that callers not yet updated (the service's plant) keep working;
new code imports from the scenario package.
"""

from gridhash.scenario.resolve_agreement import apply_agreement, find_agreement

__all__ = ["apply_agreement", "find_agreement"]
