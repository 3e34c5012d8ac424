"""The sweep's Dask cluster: worker settings, the preload hook, a local cluster.

Start the workers of an existing cluster with ``--preload gridhash.risk.cluster``
and the environment of :data:`gridhash.risk.allocator.ALLOCATOR_ENV`
(docs/risk.md).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
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
    and so that the client can resolve the scenario meanwhile (:func:`sweep`).

    A worker ignores SIGINT: Ctrl-C in a terminal signals the whole foreground
    process group, and a worker killed mid-task prints its tracebacks; the process
    that started the sweep gets the interrupt and closes the cluster in order."""
    import contextlib
    import importlib
    import logging
    import signal

    with contextlib.suppress(ValueError):  # not the main thread: leave it be
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A worker's own log is noise to the user of a sweep: a failing task reaches the
    # client as its exception, and when the sweep is interrupted the workers would
    # log every cancelled task and the closed connection to the scheduler.
    logging.getLogger("distributed").setLevel(logging.CRITICAL + 1)

    for name in _TASK_MODULES:
        importlib.import_module(name)
    from gridhash.dispatch.fast.driver import kernel_for

    if kernel_for() == "numba":  # numba and the cached compiled kernel: ~1 s of imports
        importlib.import_module("gridhash.dispatch.fast.compiled")


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


@contextmanager
def sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT while worker processes are spawned, so that they start ignoring it.

    Ctrl-C in a terminal signals the whole foreground process group; a worker
    still starting (before :func:`dask_setup` ignores SIGINT) would die printing
    tracebacks.  An ignored signal stays ignored across ``exec``, and Python keeps
    it so.  A Ctrl-C in the moment the processes are spawned is lost; the next one
    stops the sweep.  Only the main thread can set handlers; elsewhere this does
    nothing.
    """
    import signal

    try:
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def wait_for_spawn(starting: Any, workers: int) -> None:
    """Until ``workers`` child processes exist (or the cluster ``starting`` is done)."""
    import multiprocessing
    import time

    while not starting.done() and len(multiprocessing.active_children()) < workers:
        time.sleep(0.02)


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
            # The scheduler's HTTP server (health, and a dashboard where bokeh is
            # installed) on a free loopback port: with None it falls back to :8787
            # and warns on stderr when that port is taken.
            return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                dashboard_address="127.0.0.1:0", host="127.0.0.1")
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
