"""Tests for papers.pipeline.parallel: results in call order; a failure stops what has not started;
worker processes run steps elsewhere, and one that dies fails the stage with a reason."""

from __future__ import annotations

import os
import threading
import time

import pytest

from papers.pipeline.parallel import WorkerDiedError, in_pool, parallel_map, worker_processes


def test_results_come_in_call_order() -> None:
    def work(i: int) -> int:
        time.sleep(0.01 * (5 - i))  # the later calls end first
        return i * i

    assert parallel_map(work, [(i,) for i in range(5)]) == [0, 1, 4, 9, 16]


def test_a_failure_raises_and_the_calls_not_started_never_run() -> None:
    started: list[int] = []
    lock = threading.Lock()

    def work(i: int) -> int:
        with lock:
            started.append(i)
        if i == 1:
            raise OSError("disk full")
        time.sleep(0.05)
        return i

    with pytest.raises(OSError, match="disk full"):
        parallel_map(work, [(i,) for i in range(20)], in_flight=2)
    assert len(started) <= 4  # the two running, at most one more each before the failure is seen


def _square_in(i: int) -> tuple[int, int]:
    return i * i, os.getpid()


def _die(i: int) -> int:
    if i == 1:
        os._exit(3)  # as a process killed for memory: no exception, no result
    return i


def test_worker_processes_run_the_steps_elsewhere_and_keep_call_order() -> None:
    with worker_processes(2) as pool:
        results = parallel_map(_square_in, [(i,) for i in range(6)], pool=pool)
        assert in_pool(pool, _square_in, 7)[0] == 49
        workers = {pid for _, pid in results}
    assert [square for square, _ in results] == [0, 1, 4, 9, 16, 25]
    assert os.getpid() not in workers
    assert 1 <= len(workers) <= 2
    assert in_pool(None, _square_in, 3) == (9, os.getpid())  # no pool: here


def test_a_worker_that_dies_fails_the_stage_readably() -> None:
    with (
        pytest.raises(WorkerDiedError, match=r"worker process ended abruptly.*partition_rows"),
        worker_processes(2) as pool,
    ):
        parallel_map(_die, [(i,) for i in range(4)], pool=pool)
