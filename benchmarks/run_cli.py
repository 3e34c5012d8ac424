"""Benchmark: ``gridhash run`` of the default year, as a user runs it, end to end.

Runs ``gridhash run [scenario] --out TMP`` as a subprocess (a fresh interpreter:
imports, the scenario, its safety envelope, the dispatch, summary.json,
hourly.parquet, report.html; ``--solver lp`` to time the whole-year LP instead of
the default fast path) ``--repeat`` times and prints the median wall time, CPU time (user +
system) and peak memory (max RSS) of the process.  The reference, measured in
the same run and the same way: a fresh interpreter that only imports numpy,
pandas and pyarrow (which any run needs), so the ratio says how much more than
its unavoidable imports a run costs, whatever the load on the machine.

    python benchmarks/run_cli.py [--repeat 5] [--scenario znpp] [--csv] [--solver lp]

Target (issue "Instant answers"): under 1 s wall on the project's 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 1.0


#: The environment of every timed process: as a user's, whose installed gridhash has its
#: bytecode cached.  ``PYTHONDONTWRITEBYTECODE`` (set in some sandboxes and CI images)
#: would make every run compile gridhash's ~130 modules from source again, about 0.2 s
#: of CPU that no installed copy pays; without it the warm-up run writes the cache.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _measure(cmd: list[str]) -> tuple[float, float, float]:
    """(wall [s], CPU user+system [s], peak RSS [MB]) of one run of ``cmd``."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def _row(name: str, runs: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    wall, cpu, rss = (statistics.median(r[i] for r in runs) for i in range(3))
    print(f"{name:32s} {wall:7.3f} s wall  {cpu:7.3f} s CPU  {rss:7.0f} MB peak RSS   "
          f"(walls: {', '.join(f'{r[0]:.2f}' for r in runs)})")
    return wall, cpu, rss


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs of each (median shown)")
    parser.add_argument("--scenario", default="znpp")
    parser.add_argument("--csv", action="store_true", help="also write hourly.csv")
    parser.add_argument("--solver", choices=("fast", "lp"), default="fast",
                        help="gridhash run's --solver (default: fast, as a user runs it)")
    args = parser.parse_args(argv)

    exe = shutil.which("gridhash", path=str(Path(sys.executable).parent)) or shutil.which(
        "gridhash")
    if exe is None:
        raise SystemExit("gridhash is not installed here (pip install -e .)")
    ref_cmd = [sys.executable, "-c", "import numpy, pandas, pyarrow"]
    with tempfile.TemporaryDirectory(prefix="gridhash-bench-") as tmp:
        run_cmd = [exe, "run", args.scenario, "--out", str(Path(tmp) / "out"),
                   "--solver", args.solver, *(["--csv"] if args.csv else [])]
        _measure(run_cmd)  # warm the file cache and any bytecode compilation
        _measure(ref_cmd)
        runs, refs = [], []
        for _ in range(max(1, args.repeat)):  # interleaved: both see the same load
            refs.append(_measure(ref_cmd))
            runs.append(_measure(run_cmd))
        load = os.getloadavg()
    print(f"gridhash run {args.scenario} --solver {args.solver}"
          f"{' --csv' if args.csv else ''}: median of "
          f"{len(runs)} (load average {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f}; "
          f"{os.cpu_count()} CPUs)")
    wall, cpu, rss = _row("gridhash run", runs)
    rwall, rcpu, rrss = _row("import numpy, pandas, pyarrow", refs)
    print(f"ratio run / imports              {wall / rwall:7.2f}x wall  {cpu / rcpu:7.2f}x CPU"
          f"  {rss / rrss:7.2f}x RSS")
    print(f"target {TARGET_S:.0f} s wall: {'met' if wall < TARGET_S else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
