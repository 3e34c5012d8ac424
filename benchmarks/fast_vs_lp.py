"""Benchmark: the fast exact dispatch against the HiGHS LP, and a batch of stochastic years.

Part 1 solves one year of a built-in scenario (the default ``znpp``: 8,760 h with
its safety envelope) with :func:`gridhash.dispatch.solve_lp` and with
:func:`gridhash.dispatch.fast.solve_fast`, best of ``--repeat`` each, checks
that both reach the same optimum (relative 1e-6), and prints both times, the
ratio (target ≥ 50×) and whether the certificate held.

Part 2 dispatches ``--paths`` years (default 1,000 × 8,760 h) whose grid
prices, mining values and unit availability are perturbed per path by a seeded
generator, ``--block`` paths per :func:`solve_fast_batch` call (what a risk
sweep does: draw a block, dispatch it, keep the figures it needs), and prints
scenario-hours per second, LP fallbacks, and peak memory (resident set size).
A few paths are checked against the LP.  Exits 1 if an objective disagrees.

    python benchmarks/fast_vs_lp.py [--scenario znpp] [--paths 1000] [--block 100]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

import numpy as np

REL = 1e-6
TARGET = 50.0  # the fast path should be at least this many times faster than the LP


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far. [MiB]"""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def perturbed(base, n: int, rng: np.random.Generator, outages: bool):  # -> BatchProblem
    """n paths of ``base``: grid prices ±, mining values (BTC price) and unit derates."""
    from gridhash.dispatch.fast import BatchProblem

    U, T = base.unit_available_mw.shape
    O = base.offtake_price_usd_per_mwh.shape[0]
    # grid prices: a level per path and offtake, and hourly noise (5 %)
    price = base.offtake_price_usd_per_mwh[None] * rng.lognormal(0.0, 0.15, (n, O, 1))
    price *= 1.0 + 0.05 * rng.standard_normal((n, O, T))
    # mining values follow the BTC price: one level per path
    value = base.class_value_usd_per_mwh[None] * rng.lognormal(0.0, 0.3, (n, 1, 1))
    overrides = {"offtake_price_usd_per_mwh": price, "class_value_usd_per_mwh": value}
    if outages:
        # a derate per path and unit (cooling water, a weaker unit): availability and the
        # minimum stable output scale together, so every hour stays feasible
        derate = rng.uniform(0.85, 1.0, (n, U, 1))
        overrides["unit_available_mw"] = base.unit_available_mw[None] * derate
        overrides["unit_min_mw"] = base.unit_min_mw[None] * derate
    return BatchProblem.from_problem(base, n, **overrides)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="znpp", help="built-in scenario [znpp]")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each, best kept [3]")
    parser.add_argument("--paths", type=int, default=1000, help="stochastic years [1000]")
    parser.add_argument("--block", type=int, default=100, help="paths per batch call [100]")
    parser.add_argument("--workers", type=int, default=1, help="threads per batch call [1]")
    parser.add_argument("--check", type=int, default=3, help="paths checked by the LP [3]")
    parser.add_argument("--seed", type=int, default=2027, help="perturbation seed [2027]")
    parser.add_argument("--no-outages", action="store_true", help="leave availability alone")
    args = parser.parse_args(argv)

    from gridhash.dispatch import build_problem, solve_lp
    from gridhash.dispatch.fast import solve_fast, solve_fast_batch
    from gridhash.safety import envelope_for
    from gridhash.scenario import load_scenario
    from gridhash.scenario.resolve import resolve

    loaded = load_scenario(args.scenario)
    inputs = resolve(loaded)
    problem = build_problem(inputs, envelope_for(loaded, inputs))
    T = problem.hours
    print(
        f"scenario {args.scenario}: {T} h, {len(problem.unit_names)} units, "
        f"{len(problem.offtake_names)} offtakes, {len(problem.class_names)} miner classes, "
        f"{int(problem.ramp_mask.sum())} ramp rows; {os.cpu_count()} CPUs"
    )

    # ---- part 1: one year, LP vs fast, same optimum ----
    lp_best = fast_best = float("inf")
    for _ in range(max(1, args.repeat)):
        t0 = time.perf_counter()
        lp = solve_lp(problem)
        lp_best = min(lp_best, time.perf_counter() - t0)
        t0 = time.perf_counter()
        fast = solve_fast(problem)
        fast_best = min(fast_best, time.perf_counter() - t0)
    rel = abs(fast.objective_usd - lp.objective_usd) / max(1.0, abs(lp.objective_usd))
    ratio = lp_best / fast_best
    print(f"{'':<26}{'seconds':>10}  {'objective [USD]':>20}")
    print(f"{'solve_lp (HiGHS)':<26}{lp_best:>10.4f}  {lp.objective_usd:>20,.2f}")
    print(f"{'solve_fast':<26}{fast_best:>10.4f}  {fast.objective_usd:>20,.2f}")
    print(
        f"certificate: {'holds' if fast.certified else 'fails'} "
        f"({fast.lp_hours} h from {fast.lp_solves} LP solves)"
    )
    print(
        f"speed-up: {ratio:.0f}x (target {TARGET:.0f}x: {'met' if ratio >= TARGET else 'MISSED'})"
    )
    print(
        f"objectives: relative difference {rel:.1e} "
        f"({'agree' if rel <= REL else 'DISAGREE'} at {REL:.0e})"
    )
    ok = rel <= REL

    # ---- part 2: many stochastic years ----
    rng = np.random.default_rng(args.seed)
    n_done = fallbacks = solves = certified = 0
    objectives: list[np.ndarray] = []
    solve_s = draw_s = cpu_s = 0.0
    checks: list[float] = []
    while n_done < args.paths:
        n = min(args.block, args.paths - n_done)
        t0 = time.perf_counter()
        batch = perturbed(problem, n, rng, outages=not args.no_outages)
        t1, c1 = time.perf_counter(), time.process_time()
        r = solve_fast_batch(batch, outputs=(), workers=args.workers)
        t2, c2 = time.perf_counter(), time.process_time()
        draw_s += t1 - t0
        solve_s += t2 - t1
        cpu_s += c2 - c1
        objectives.append(r.objective_usd)
        fallbacks += r.lp_fallbacks
        solves += r.lp_solves
        certified += int(r.certified.sum())
        if n_done == 0:  # spot-check the first paths against the LP
            for i in range(min(args.check, n)):
                ref = solve_lp(batch.path(i)).objective_usd
                checks.append(abs(r.objective_usd[i] - ref) / max(1.0, abs(ref)))
        n_done += n
    hours = args.paths * T
    obj = np.concatenate(objectives)
    print(
        f"batch: {args.paths} paths x {T} h = {hours:,} scenario-hours "
        f"in blocks of {args.block}, workers={args.workers}"
    )
    print(
        f"  dispatch {solve_s:.2f} s: {hours / solve_s / 1e6:.2f} M scenario-hours/s "
        f"({solve_s / args.paths * 1e3:.1f} ms per year; drawing inputs {draw_s:.2f} s)"
    )
    print(
        f"  certified {certified}/{args.paths} paths; LP fallbacks {fallbacks} ({solves} LP solves)"
    )
    print(
        f"  objective over paths: mean {obj.mean():,.0f} USD, 5 % {np.quantile(obj, 0.05):,.0f}, "
        f"95 % {np.quantile(obj, 0.95):,.0f}"
    )
    if checks:
        worst = max(checks)
        print(
            f"  {len(checks)} paths checked against solve_lp: max relative difference "
            f"{worst:.1e} ({'agree' if worst <= REL else 'DISAGREE'})"
        )
        ok &= worst <= REL
    print(
        f"  CPU time {cpu_s:.2f} s: {cpu_s / hours * 1e9:.0f} ns per scenario-hour "
        f"({hours / cpu_s / 1e6:.2f} M scenario-hours per CPU-second)"
    )
    print(
        f"  10,000 years: {10_000 * T * solve_s / hours:.0f} s at this wall-clock rate; "
        f"{10_000 * T * cpu_s / hours / 2:.0f} s of CPU time spread over 2 cores"
    )
    print(f"peak memory (RSS): {peak_rss_mib():,.0f} MiB")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
