"""Steps of one stage side by side: threads in this process, or worker processes for the
enrichment of a large build; results in call order."""

from __future__ import annotations

import ctypes
import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_EXCEPTION, Executor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from papers.errors import PapersError

IN_FLIGHT = 2
"""Steps of one stage running at once in one process (run_local, and the flow on its local
thread-pool runner). Polars runs most string expressions of one column on one core, so two
shards or partitions side by side keep both cores of a small machine busy; memory holds two
partitions' frames, which the partition size (params parse.partition_rows) bounds."""

T = TypeVar("T")


PROCESS_MIN_BYTES = 48 * 2**20
"""Input bytes (the partitions' piece files still to enrich) from which the enrich stage runs
its partitions in worker processes rather than threads (papers.pipeline.partition.
enrich_workers). Two partitions side by side in threads of one process spend a quarter of
their CPU time waiting on each other (polars' one thread pool shared by both, the GIL between
the compiled passes): 8 partitions of ~24k papers took 18.3 s in two threads, 13.2 s in two
processes, 23.3 s one after another. A worker process costs ~1.5 CPU s to start (its imports,
the compiled passes loaded from numba's cache), paid back from about two partitions a worker
(enrich_workers asks for both): a 100k-record build's pieces are ~290 MB in 4 partitions, the
seed's and the tests' a few MB."""


def parallel_map(
    work: Callable[..., T],
    calls: list[tuple[Any, ...]],
    in_flight: int = IN_FLIGHT,
    pool: Executor | None = None,
) -> list[T]:
    """work(*args) for each argument tuple, at most in_flight at once in threads (or in `pool`,
    worker_processes'); results in call order (the outputs do not depend on which finishes
    first). The first failure is raised once the calls already running end; the calls not yet
    started are cancelled.

    When the threads are done, the heap they freed is handed back (return_freed_memory), so the
    next stage starts from what the results hold, not from the threads' high-water mark."""
    if pool is None and (in_flight <= 1 or len(calls) <= 1):
        return [work(*args) for args in calls]
    try:
        if pool is not None:
            return _gather(pool, work, calls)
        with ThreadPoolExecutor(max_workers=in_flight) as threads:
            return _gather(threads, work, calls)
    finally:
        return_freed_memory()


def _gather(pool: Executor, work: Callable[..., T], calls: list[tuple[Any, ...]]) -> list[T]:
    futures = [pool.submit(work, *args) for args in calls]
    done, _ = wait(futures, return_when=FIRST_EXCEPTION)
    if any(f.exception() is not None for f in done):
        for future in futures:
            future.cancel()
    return [future.result() for future in futures]


@contextmanager
def worker_processes(n: int) -> Iterator[ProcessPoolExecutor]:
    """n worker processes for one stage's steps, ended (and reaped: their CPU time counts in
    the build's) when the stage is. Started by `spawn`, not `fork`: polars' threads are running
    in this process, and a fork copies its locks held. A step runs there as it would here: its
    arguments and result are pickled (paths, params, the vocabulary: small), its files written
    where this process's would be. A worker that dies (killed for memory) fails the stage with
    WorkerDiedError rather than hanging it."""
    pool = ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn"))
    try:
        yield pool
    except BrokenProcessPool as error:
        raise WorkerDiedError(
            f"a worker process ended abruptly ({error}); the system may have stopped it for "
            "lack of memory: try a smaller params parse.partition_rows"
        ) from error
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class WorkerDiedError(PapersError):
    """A stage's worker process ended without a result (see worker_processes)."""


def in_pool(pool: Executor | None, work: Callable[..., T], *args: Any) -> T:
    """work(*args) in `pool` (worker_processes'), or here when there is none."""
    if pool is None:
        return work(*args)
    return pool.submit(work, *args).result()


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
