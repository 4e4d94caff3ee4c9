"""Steps of one stage side by side in this process: threads, results in call order."""

from __future__ import annotations

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
    raised once the calls already running end; the calls not yet started are cancelled."""
    if in_flight <= 1 or len(calls) <= 1:
        return [work(*args) for args in calls]
    with ThreadPoolExecutor(max_workers=in_flight) as pool:
        futures = [pool.submit(work, *args) for args in calls]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        if any(f.exception() is not None for f in done):
            for future in futures:
                future.cancel()
        return [future.result() for future in futures]
