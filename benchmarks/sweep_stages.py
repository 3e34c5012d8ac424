"""Benchmark: where a risk-sweep path's CPU time goes, stage by stage.

Runs the sweep's unit of work (:func:`gridhash.risk.sweep.path_columns`, blocks
of 25 paths) in this process, with the allocator settings of the sweep's Dask
workers (:func:`gridhash.risk.allocator.tune_allocator`), after a warm-up block,
and times each stage with ``time.process_time`` (CPU time of this process:
steadier than wall time on a shared machine).  Stages: sampling, line
quantities, envelope, mining values, the problem's arrays, the dispatch rules,
the merit order, the ramp certificate, LP windows, accounts (per-path totals and
months), the rest of the block.  The reference in the same run is the time
numpy takes to draw as many normal variates as the sampling uses (4 per
path-hour).  The Dask sweep's own overhead (cluster start, imports, scheduling)
is what ``risk_sweep.py`` measures on top of this.

    python benchmarks/sweep_stages.py [--paths 500] [--kernel numpy|numba]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections import defaultdict
from unittest import mock


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kernel", choices=("numpy", "numba"), default="numpy")
    args = parser.parse_args(argv)

    import numpy as np

    import gridhash.accounts.book as book
    import gridhash.dispatch.fast.driver as driver
    import gridhash.dispatch.problem as problem
    import gridhash.pipeline as pipeline
    import gridhash.risk.models as models
    import gridhash.safety.envelope as envelope
    import gridhash.safety.state as state
    from gridhash.dispatch.fast.driver import KERNEL_ENV
    from gridhash.risk.allocator import tune_allocator
    from gridhash.risk.sweep import context_for, path_columns
    from gridhash.scenario.load import load_scenario

    os.environ[KERNEL_ENV] = args.kernel
    tuned = tune_allocator()
    ctx = context_for(load_scenario("znpp"), None)
    T = ctx.inputs.hours
    path_columns(ctx, range(10_000, 10_025), seed=args.seed)  # warm-up: imports, caches

    spent: dict[str, float] = defaultdict(float)
    stack: list[str] = []

    def timed(name: str, fn):
        def wrapper(*a, **k):
            stack.append(name)
            t0 = time.process_time()
            try:
                return fn(*a, **k)
            finally:
                dt = time.process_time() - t0
                stack.pop()
                spent[name] += dt
                if stack:  # a stage inside another: not the outer one's own time
                    spent[stack[-1]] -= dt
        return wrapper

    stages = [
        (models, "sample_paths", "sampling"),
        (state.PlantState, "with_lines", "line quantities"),
        (envelope, "envelope_arrays", "envelope"),
        (problem, "mining_values", "mining values"),
        (problem, "with_paths", "problem arrays"),
        (driver, "_with_dispatch_rules", "dispatch rules"),
        (driver, "_merit_order", "merit order"),
        (driver, "_merit_order_compiled", "merit order"),
        (driver, "_ramp_violations", "ramp certificate"),
        (driver, "_repair", "LP windows"),
        (pipeline, "accounts_for", "accounts"),
        (book.Accounts, "totals", "accounts"),
        (book.Accounts, "by", "accounts"),
        (book.Accounts, "party_revenue_usd", "accounts"),
    ]
    with contextlib.ExitStack() as patches:
        for owner, attr, name in stages:
            patches.enter_context(mock.patch.object(owner, attr,
                                                    timed(name, getattr(owner, attr))))
        t0, w0 = time.process_time(), time.perf_counter()
        cols = path_columns(ctx, range(args.paths), seed=args.seed)
        total, wall = time.process_time() - t0, time.perf_counter() - w0

    rng = np.random.default_rng(1)
    t0 = time.process_time()
    for _ in range(args.paths // 25):
        rng.standard_normal(4 * 25 * T)
    normals = time.process_time() - t0

    n = args.paths
    print(f"scenario znpp: {n:,} paths x {T:,} h in process, blocks of 25, {args.kernel} "
          f"kernel, allocator tuned: {tuned}; {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}")
    print(f"{'stage':<22}{'ms/path':>9}{'ns/h':>8}{'share':>8}")
    for name, s in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(f"{name:<22}{s / n * 1e3:9.3f}{s / (n * T) * 1e9:8.1f}{s / total:8.1%}")
    rest = total - sum(spent.values())
    print(f"{'rest of the block':<22}{rest / n * 1e3:9.3f}{rest / (n * T) * 1e9:8.1f}"
          f"{rest / total:8.1%}")
    print(f"{'total (CPU)':<22}{total / n * 1e3:9.3f}{total / (n * T) * 1e9:8.1f}"
          f"   wall {wall / n * 1e3:.2f} ms/path")
    print(f"reference: 4 normal draws a path-hour {normals / n * 1e3:.3f} ms/path")
    certified = int(np.sum(cols["certified"]))
    print(f"certified {certified:,} of {n:,} paths; "
          f"10,000 paths at this CPU rate: {total / n * 1e4:.1f} s of CPU "
          f"({total / n * 1e4 / 2:.1f} s on 2 cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
