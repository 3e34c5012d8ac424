"""Optimal dispatch: who gets each MW of the plant, hour by hour.

Two exact solvers of the same problem: :func:`solve_lp` (HiGHS) and the
vectorized fast path :func:`gridhash.dispatch.fast.solve_fast` /
:func:`~gridhash.dispatch.fast.solve_fast_batch` (merit order per hour with a
ramp certificate, the LP where the certificate fails), for many paths at once.
"""

from typing import Any

from gridhash.dispatch.problem import DispatchProblem, build_problem, mining_values
from gridhash.dispatch.result import DispatchResult

__all__ = [
    "BatchProblem",
    "DispatchProblem",
    "DispatchResult",
    "build_problem",
    "mining_values",
    "solve_fast",
    "solve_fast_batch",
    "solve_lp",
]


def solve_lp(problem: DispatchProblem, *, explain: bool = True) -> DispatchResult:
    """Solve with HiGHS (imported on first use); see :func:`gridhash.dispatch.lp.solve_lp`."""
    from gridhash.dispatch.lp import solve_lp as _solve

    return _solve(problem, explain=explain)


def __getattr__(name: str) -> Any:
    """The fast path's names, imported on first use."""
    if name in ("BatchProblem", "solve_fast", "solve_fast_batch"):
        from gridhash.dispatch import fast

        return getattr(fast, name)
    raise AttributeError(f"module 'gridhash.dispatch' has no attribute {name!r}")
