"""The C allocator of processes that run risk sweeps (glibc's malloc settings).

:data:`ALLOCATOR_ENV` is set in the environment of the sweep's Dask workers
(:func:`gridhash.risk.cluster.local_cluster`) and applied with ``mallopt`` to a
process that runs the sweep itself (:func:`tune_allocator`).
"""

from __future__ import annotations

#: glibc allocator settings for processes that run sweeps.  A chunk allocates and
#: frees arrays of a few MB; with glibc's defaults many of them are mapped afresh
#: and their pages faulted in again for every chunk, and Dask's nannies make it
#: worse: they start workers with ``MALLOC_TRIM_THRESHOLD_=65536``
#: (``distributed.nanny.pre-spawn-environ``), which switches glibc's dynamic mmap
#: threshold off, so every array above 128 KiB is mapped anew.  Arrays below
#: 32 MiB (glibc's largest mmap threshold) come from the heap, and up to 1 GiB of
#: freed heap is kept for the next chunk: no page faults after the first chunk, at
#: the price of a worker holding on to its peak memory.  A Dask worker runs its
#: tasks in a thread other than the main one, and glibc gives such a thread its own
#: arena: heaps of at most 64 MiB, grown and shrunk with mmap and madvise; one arena
#: for every thread (``MALLOC_ARENA_MAX=1``) takes that back to the main heap.
#: benchmarks/README.md ("Figures behind the code") has the measurements;
#: docs/risk.md says how to start the workers of an existing cluster the same way.
ALLOCATOR_ENV: dict[str, str] = {
    "MALLOC_MMAP_THRESHOLD_": str(32 << 20),
    "MALLOC_TRIM_THRESHOLD_": str(1 << 30),
    "MALLOC_ARENA_MAX": "1",
}


def tune_allocator() -> bool:
    """Apply :data:`ALLOCATOR_ENV` to this process (glibc's ``mallopt``); False where
    the C library is not glibc.  For command-line sweeps run in process."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
    except (OSError, TypeError):
        return False
    if not hasattr(libc, "gnu_get_libc_version"):  # mallopt's parameters are glibc's
        return False
    mallopt = libc.mallopt
    m_trim_threshold, m_mmap_threshold, m_arena_max = -1, -3, -8  # <malloc.h>
    ok = mallopt(m_mmap_threshold, int(ALLOCATOR_ENV["MALLOC_MMAP_THRESHOLD_"]))
    ok &= mallopt(m_trim_threshold, int(ALLOCATOR_ENV["MALLOC_TRIM_THRESHOLD_"]))
    ok &= mallopt(m_arena_max, int(ALLOCATOR_ENV["MALLOC_ARENA_MAX"]))
    return bool(ok)
