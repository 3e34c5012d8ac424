"""Optimal dispatch: who gets each MW of the plant, hour by hour."""

from gridhash.dispatch.problem import DispatchProblem, build_problem, mining_values
from gridhash.dispatch.result import DispatchResult

__all__ = ["DispatchProblem", "DispatchResult", "build_problem", "mining_values", "solve_lp"]


def solve_lp(problem: DispatchProblem, *, explain: bool = True) -> DispatchResult:
    """Solve with HiGHS (imported on first use); see :func:`gridhash.dispatch.lp.solve_lp`."""
    from gridhash.dispatch.lp import solve_lp as _solve

    return _solve(problem, explain=explain)
