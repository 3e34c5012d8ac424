"""Benchmark: gridhash's dispatch LP against the same problem solved through PyPSA.

Times gridhash (safety envelope + ``build_problem`` + ``solve_lp``, best of
``--repeat``) and the
exported network (``to_pypsa`` + ``n.optimize`` with HiGHS) on the default
scenario's year, checks that both reach the same optimum (relative 1e-6) and
prints both times and their ratio.  Exits 1 if the objectives disagree.

    python benchmarks/dispatch_vs_pypsa.py [--hours 8760] [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
import time
import tomllib
import warnings

REL = 1e-6
TARGET = 3.0  # gridhash should be at least this many times faster


def load(name: str, hours: int):  # -> LoadedScenario
    """The scenario, cut to its first ``hours`` hours when fewer than its horizon."""
    from gridhash.scenario import builtin_text, load_scenario
    from gridhash.scenario.load import LoadedScenario, validate

    loaded = load_scenario(name)
    if hours >= loaded.scenario.horizon.hours:
        return loaded
    data = tomllib.loads(builtin_text(name))
    data["horizon"]["hours"] = hours
    end = data["horizon"]["start"] + dt.timedelta(hours=hours)
    for group in (data["plant"]["units"], data["grid"]["lines"], data["mining"]["sites"]):
        for item in group:  # windows wholly after the cut do not validate
            item["outages"] = [w for w in item.get("outages", []) if w["start"] < end]
    if "safety" in data:  # events after the cut do not validate; shorten those running past it
        events = [e for e in data["safety"].get("events", []) if e["start"] < end]
        for e in events:
            if "hours" in e:
                e["hours"] = min(e["hours"], int((end - e["start"]).total_seconds() // 3600))
        data["safety"]["events"] = events
    return LoadedScenario(validate(data, source=name), loaded.source, loaded.base_dir, "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="znpp", help="built-in scenario [znpp]")
    parser.add_argument("--hours", type=int, default=8760, help="hours to plan [8760]")
    parser.add_argument("--repeat", type=int, default=3, help="gridhash runs, best kept [3]")
    parser.add_argument("--pypsa-repeat", type=int, default=1, help="PyPSA runs, best kept [1]")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)  # PyPSA and linopy log every step
    warnings.filterwarnings("ignore", category=FutureWarning)
    import pypsa  # noqa: F401  (imported before timing: import time is not build time)

    from gridhash.dispatch import build_problem, solve_lp
    from gridhash.export.pypsa import to_pypsa
    from gridhash.safety import envelope_for
    from gridhash.scenario.resolve import resolve

    loaded = load(args.scenario, args.hours)
    inputs = resolve(loaded)

    gh_best = float("inf")
    for _ in range(max(1, args.repeat)):
        t0 = time.perf_counter()  # gridhash: safety envelope + build + solve
        problem = build_problem(inputs, envelope_for(loaded, inputs))
        result = solve_lp(problem)
        gh_best = min(gh_best, time.perf_counter() - t0)
    gh_objective = result.objective_usd

    ps_best = ps_build = ps_solve = float("inf")
    for _ in range(max(1, args.pypsa_repeat)):
        t0 = time.perf_counter()
        n = to_pypsa(problem, name=args.scenario)
        t1 = time.perf_counter()
        status = n.optimize(
            solver_name="highs",
            include_objective_constant=False,
            log_to_console=False,
            progress=False,
        )
        t2 = time.perf_counter()
        if t2 - t0 < ps_best:
            ps_best, ps_build, ps_solve = t2 - t0, t1 - t0, t2 - t1
    if tuple(status) != ("ok", "optimal"):
        print(f"PyPSA did not reach an optimum: {status}", file=sys.stderr)
        return 1
    ps_objective = -float(n.objective)

    rel = abs(ps_objective - gh_objective) / max(1.0, abs(gh_objective))
    ratio = ps_best / gh_best
    T = problem.hours
    print(
        f"scenario {args.scenario}: {T} h, {len(problem.unit_names)} units, "
        f"{len(problem.offtake_names)} offtakes, {len(problem.class_names)} miner classes"
    )
    print(f"{'':<24}{'seconds':>10}  {'objective [USD]':>20}")
    print(
        f"{'gridhash (best of ' + str(max(1, args.repeat)) + ')':<24}{gh_best:>10.3f}  "
        f"{gh_objective:>20,.2f}"
    )
    print(f"{'PyPSA + linopy':<24}{ps_best:>10.3f}  {ps_objective:>20,.2f}")
    print(f"{'  to_pypsa':<24}{ps_build:>10.3f}")
    print(f"{'  n.optimize':<24}{ps_solve:>10.3f}")
    met = "met" if ratio >= TARGET else "MISSED"
    print(f"speed-up: {ratio:.1f}x (target {TARGET:.0f}x: {met})")
    print(
        f"objectives: relative difference {rel:.1e} "
        f"({'agree' if rel <= REL else 'DISAGREE'} at {REL:.0e})"
    )
    return 0 if rel <= REL else 1


if __name__ == "__main__":
    sys.exit(main())
