"""Where the build flow's tasks run: in the flow's process (threads) or on a Dask cluster.

The flow itself does not know: `papers run --executor ...` picks a task runner here and applies
it with `build_dataset.with_options(task_runner=...)`. Tasks pass only file paths and small
counts, so on a cluster every worker must see the same paths (a shared folder) and have the same
`papers` package installed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

from papers.errors import PapersError

if TYPE_CHECKING:  # Prefect when a runner is made: `papers run` checks its options first
    from prefect.task_runners import TaskRunner

Executor = Literal["local", "dask"]
EXECUTORS: tuple[str, ...] = ("local", "dask")


def make_task_runner(
    executor: str = "local", address: str | None = None, workers: int | None = None
) -> TaskRunner[Any]:
    """A Prefect task runner for `executor`; `address` xor `workers` choose the Dask cluster.

    - local: Prefect's default thread pool in this process.
    - dask + address: an existing cluster's scheduler (`tcp://host:8786`); nothing is started.
    - dask + workers: a temporary `distributed.LocalCluster` of that many single-threaded worker
      processes, stopped when the flow ends (dashboard on a free port: no collisions).
    """
    check_executor(executor, address, workers)
    if executor == "local":
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner()
    try:
        from prefect_dask.task_runners import DaskTaskRunner
    except ImportError as exc:  # pragma: no cover - prefect-dask is a dependency
        raise PapersError("--executor dask needs the prefect-dask package") from exc
    if address is not None:
        if "://" not in address:
            address = f"tcp://{address}"
        return DaskTaskRunner(address=address)
    n = workers or 2
    return DaskTaskRunner(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs={
            "n_workers": n,
            "threads_per_worker": 1,
            "processes": True,
            "dashboard_address": ":0",
            # polars sizes its thread pool to every core in each process: N workers on one
            # machine share the cores instead of each claiming all of them.
            "env": {"POLARS_MAX_THREADS": str(max(1, (os.cpu_count() or 1) // n))},
        },
    )


def check_executor(executor: str, address: str | None, workers: int | None) -> None:
    """A PapersError for options make_task_runner cannot use (without importing Prefect)."""
    if executor not in EXECUTORS:
        raise PapersError(f"unknown executor {executor!r} (choose one of {', '.join(EXECUTORS)})")
    if executor == "local":
        if address is not None or workers is not None:
            raise PapersError("--address and --workers need --executor dask")
        return
    if address is not None and workers is not None:
        raise PapersError("give either --address (an existing cluster) or --workers, not both")
    if workers is not None and workers < 1:
        raise PapersError(f"--workers must be at least 1, not {workers}")


@contextmanager
def shared_api(executor: str) -> Iterator[str | None]:
    """Make sure tasks on Dask workers report to the flow's Prefect API; yield its URL.

    Without PREFECT_API_URL every process starts its own temporary Prefect server, so each Dask
    worker would record its task runs on a private server that dies with it. For the dask
    executor we start the temporary server here and put its URL in the settings Prefect ships
    to the workers with every task. It listens on 127.0.0.1: workers on other machines need
    PREFECT_API_URL set to a server they can reach. The local executor needs nothing.
    """
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
        temporary_settings,
    )

    configured = PREFECT_API_URL.value()
    if executor != "dask" or configured:
        yield configured or None
        return
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()
    # A loaded machine can take longer than Prefect's 20 s default to bring the server up.
    server.start(timeout=max(int(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()), 90))
    try:
        with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
            try:
                yield server.api_url
            finally:
                drain_to_api()
    finally:
        server.stop()


def drain_to_api() -> None:
    """Send the logs and events still queued in this process before the server goes away."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for service in (APILogWorker, EventsWorker):
        service.drain_all(timeout=5, at_exit=False)
