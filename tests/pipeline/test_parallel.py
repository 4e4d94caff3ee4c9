"""Tests for papers.pipeline.parallel: results in call order; a failure stops what has not started."""

from __future__ import annotations

import threading
import time

import pytest

from papers.pipeline.parallel import parallel_map


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
