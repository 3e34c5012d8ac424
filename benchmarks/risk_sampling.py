"""Benchmark: sampling the default scenario's stochastic inputs, per model and in total.

Generates ``--paths`` paths of a scenario's default :class:`RiskModel`
(``znpp`` unless ``--scenario`` says otherwise) in chunks of ``--chunk``
paths, and times, per chunk:

- each model's own public ``sample`` call, fed as in :meth:`RiskModel.sample`
  (difficulty gets the chunk's sampled price and fee paths, and checks them,
  which the bundle skips for paths it sampled itself);
- the whole bundle, :func:`sample_paths` with the same model (what a
  Monte-Carlo driver calls; it is not the sum of the rows above, which run
  separately with their own allocations);
- the *reference*, measured in the same run: drawing as many float64
  standard normals per path as the default model does (one BTC return per
  hour, one fee and one offtake-price innovation per hour and offtake) from a
  single ``numpy.random.Generator`` into a preallocated array.  No sampler of
  these models can be faster than drawing its normals, so the ratio
  bundle / reference says how much work is left besides the random numbers.

Times are the best of ``--repeat`` rounds, in ms per path; peak resident
memory of the process is printed at the end.

    python benchmarks/risk_sampling.py [--paths 1000] [--chunk 250] [--repeat 3]
"""

from __future__ import annotations

import argparse
import platform
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np


def _best(fn: Callable[[], Any], repeat: int) -> float:
    """Best wall time of ``repeat`` calls, seconds (results dropped at once)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
        del out
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", default="znpp")
    parser.add_argument("--paths", type=int, default=1000, help="paths in all")
    parser.add_argument("--chunk", type=int, default=250, help="paths per sample call")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per chunk; best is kept")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    from gridhash.risk.models import (
        FeeModel,
        GbmPrice,
        GridPriceAR1,
        RiskModel,
        sample_paths,
    )
    from gridhash.scenario.load import load_scenario
    from gridhash.scenario.resolve import resolve

    t0 = time.perf_counter()
    loaded = load_scenario(args.scenario)
    inputs = resolve(loaded)
    t_resolve = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = RiskModel.default_for(inputs, scenario=loaded)
    t_default = time.perf_counter() - t0
    T, seed = inputs.hours, args.seed

    normals = 0
    if isinstance(model.btc_price, GbmPrice):
        normals += T - 1
    if isinstance(model.fees, FeeModel):
        normals += T
    normals += T * sum(isinstance(m, GridPriceAR1) for m in model.grid_prices)

    rows: dict[str, float] = {}

    def add(name: str, seconds: float) -> None:
        rows[name] = rows.get(name, 0.0) + seconds

    rng = np.random.default_rng(seed)

    def chunk(ids: np.ndarray) -> None:
        price: Any
        fees: Any
        if model.btc_price is not None:
            add("btc_price", _best(lambda: model.btc_price.sample(ids, T, seed), args.repeat))
            price = model.btc_price.sample(ids, T, seed)
        else:
            price = inputs.btc_price_usd
        if model.fees is not None:
            add("fees", _best(lambda: model.fees.sample(ids, T, seed), args.repeat))
            fees = model.fees.sample(ids, T, seed)
        else:
            fees = inputs.fees_btc_per_block
        if model.difficulty is not None:
            add(
                "difficulty",
                _best(
                    lambda: model.difficulty.sample(
                        ids, T, seed, btc_price_usd=price, fees_btc_per_block=fees
                    ),
                    args.repeat,
                ),
            )
        for o, m in enumerate(model.grid_prices):
            if m is not None:
                add(
                    f"grid_price[{o}]",
                    _best(lambda m=m, o=o: m.sample(ids, inputs.index, seed, key=o), args.repeat),
                )
        if model.unit_outages is not None:
            add("unit_outages", _best(lambda: model.unit_outages.sample(ids, T, seed), args.repeat))
        if model.line_cuts is not None:
            add("line_cuts", _best(lambda: model.line_cuts.sample(ids, T, seed), args.repeat))
        add(
            "bundle",
            _best(lambda: sample_paths(inputs, ids, seed=seed, model=model), args.repeat),
        )
        if normals:
            buf = np.empty((ids.size, normals))
            add("reference", _best(lambda: rng.standard_normal(out=buf), args.repeat))
            del buf

    for start in range(0, args.paths, args.chunk):
        chunk(np.arange(start, min(start + args.chunk, args.paths)))

    n = args.paths
    per_path = {k: v / n * 1e3 for k, v in rows.items()}
    print(
        f"scenario {args.scenario}: {T} h, {len(inputs.unit_names)} units, "
        f"{len(inputs.offtake_names)} offtakes, {len(inputs.line_names)} lines; "
        f"{n} paths in chunks of {args.chunk}, best of {args.repeat}"
    )
    print(
        f"python {platform.python_version()}, numpy {np.__version__}; "
        f"load+resolve {t_resolve:.2f} s, RiskModel.default_for {t_default:.2f} s"
    )
    print(f"{'':28s}{'ms/path':>10s}")
    models = [k for k in per_path if k not in ("bundle", "reference")]
    for k in models:
        print(f"  {k:26s}{per_path[k]:10.3f}")
    print(f"  {'sum of the models':26s}{sum(per_path[k] for k in models):10.3f}")
    bundle = per_path["bundle"]
    print(f"{'sample_paths (bundle)':28s}{bundle:10.3f}   {1e3 / bundle:,.0f} paths/s")
    if "reference" in per_path:
        ref = per_path["reference"]
        print(f"{f'reference: {normals:,} normals':28s}{ref:10.3f}   (float64, one Generator)")
        print(f"ratio bundle / reference: {bundle / ref:.2f}")
    print(f"10,000 paths at this rate: {bundle * 10:.1f} s on one core")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory: {peak:,.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
