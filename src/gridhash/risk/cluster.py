"""The sweep's Dask cluster: worker settings, the preload hook, a local cluster.

Start the workers of an existing cluster with ``--preload gridhash.risk.cluster``
and the environment of :data:`gridhash.risk.allocator.ALLOCATOR_ENV`
(docs/risk.md).
"""

from __future__ import annotations

import os
from typing import Any

from gridhash.risk.allocator import ALLOCATOR_ENV

#: What a task imports (with numpy, pandas, scipy's sparse matrices and special
#: functions, and HiGHS): a noticeable time the first time in a process.
_TASK_MODULES = (
    "pandas",
    "scipy.special",
    "gridhash.bitcoin.economics",
    "gridhash.dispatch.fast",
    "gridhash.dispatch.lp",
    "gridhash.risk.models",
    "gridhash.safety.envelope",
)


def dask_setup(worker: Any = None) -> None:
    """Dask's preload hook (``distributed.worker.preload``: ``gridhash.risk.sweep``):
    import what a task needs while the worker starts, so that its first task does not,
    and so that the client can resolve the scenario meanwhile (:func:`sweep`)."""
    import importlib

    for name in _TASK_MODULES:
        importlib.import_module(name)


#: Dask settings for the sweep's own workers.  There is no dashboard, so the
#: statistical profiler (a stack sample every 10 ms) and the frequent event-loop
#: ticks and monitors only take the GIL from the thread running the chunk
#: (benchmarks/README.md, "Figures behind the code").
WORKER_CONFIG: dict[str, Any] = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.preload": [__name__],  # dask_setup below
}


def local_cluster(workers: int) -> Any:
    """A Dask cluster of ``workers`` single-threaded processes on loopback, their
    allocator set by :data:`ALLOCATOR_ENV` instead of Dask's default and quiet
    (:data:`WORKER_CONFIG`)."""
    import dask
    from dask.distributed import LocalCluster

    env: dict[str, Any] = {
        f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in ALLOCATOR_ENV.items()
    }
    env |= WORKER_CONFIG
    # The nanny prefers values already in os.environ (and leaves its own there): hide
    # and afterwards restore them, so the workers get exactly ALLOCATOR_ENV.
    saved = {k: os.environ.pop(k, None) for k in ALLOCATOR_ENV}
    try:
        with dask.config.set(env):
            return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                dashboard_address=None, host="127.0.0.1")
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
