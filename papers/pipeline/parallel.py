"""Steps of one stage side by side in this process: threads, results in call order."""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any, TypeVar

IN_FLIGHT = 2
"""Steps of one stage running at once in one process (run_local, and the flow on its local
thread-pool runner). Polars runs most string expressions of one column on one core, so two
shards or partitions side by side keep both cores of a small machine busy; memory holds two
partitions' frames, which the partition size (params parse.partition_rows) bounds."""

T = TypeVar("T")


def parallel_map(
    work: Callable[..., T], calls: list[tuple[Any, ...]], in_flight: int = IN_FLIGHT
) -> list[T]:
    """work(*args) for each argument tuple, at most in_flight at once in threads; results in
    call order (the outputs do not depend on which finishes first). The first failure is
    raised once the calls already running end; the calls not yet started are cancelled.

    When the threads are done, the heap they freed is handed back (return_freed_memory), so the
    next stage starts from what the results hold, not from the threads' high-water mark."""
    if in_flight <= 1 or len(calls) <= 1:
        return [work(*args) for args in calls]
    try:
        with ThreadPoolExecutor(max_workers=in_flight) as pool:
            futures = [pool.submit(work, *args) for args in calls]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            if any(f.exception() is not None for f in done):
                for future in futures:
                    future.cancel()
            return [future.result() for future in futures]
    finally:
        return_freed_memory()


def return_freed_memory() -> None:
    """Hand the blocks glibc keeps in its per-thread arenas after they were freed back to the
    system (malloc_trim). Polars' allocator returns its own; numpy's and the signing library's
    temporaries go through glibc, whose worker-thread arenas otherwise stay at their peak: 174
    MiB at the end of the enrich stage at the 1M generated records, held through the similarity
    step, where the corpus's signature matrix sets the build's peak. Nothing where the C library
    is not glibc."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.malloc_trim(0)
