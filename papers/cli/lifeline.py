"""lifeline: the temporary Prefect server a run starts dies with the run, even on SIGKILL.

Without PREFECT_API_URL, Prefect starts a temporary API server (a uvicorn subprocess) and stops
it from an atexit hook. A SIGKILLed run never runs atexit hooks, so the server lived on as an
orphan, holding a port and its SQLite database. Here the run starts that server itself, from the
main thread, with the Linux parent-death signal set in the child (prctl PR_SET_PDEATHSIG,
SIGKILL): the kernel kills it the moment the run's main thread ends, however it ends.

It is started first thing (`launch`), with Prefect's own uvicorn command (see
prefect.server.api.server.SubprocessASGIServer) but without importing Prefect's server package in
this process: the child boots on another core while the run imports the flow and reads its
inputs. `serving` then waits for it to answer and points this process's Prefect settings
(PREFECT_API_URL, which Prefect also ships to Dask workers) at it for the run.

Elsewhere than Linux this is a no-op (Prefect starts its own server, its atexit hook covers normal
exits); there, or to keep runs visible, point PREFECT_API_URL at a long-running server, which
always wins: from the environment, a profile or Prefect's settings files.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

from papers.errors import PapersError

_PR_SET_PDEATHSIG = 1
_UVICORN_PORT_IN_USE = 3  # uvicorn's exit status when it cannot bind (Prefect retries on it)


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _configured_api_url() -> str | None:
    """PREFECT_API_URL as this process sees it, without importing Prefect when it is not yet
    (then only the environment is known; `serving` asks Prefect's settings again)."""
    if "prefect.settings" in sys.modules:
        from prefect.settings import PREFECT_API_URL

        return PREFECT_API_URL.value() or None
    return os.environ.get("PREFECT_API_URL") or None


# What a server living for one run has no use for: the block types (this project saves no
# blocks): neither registering them at start nor the memo of that registration, whose check
# imports every installed Prefect collection first, prefect-dask's Dask and numpy among them
# (~0.7 s before the server answers, even with registration off); the automations (triggers
# and their actions) and the event persister (the event feed of a UI this server does not
# serve). The task-run recorder, which the run's stage table reads, stays. A user's own value
# (environment, profile, settings file) wins.
_ONE_RUN_SETTINGS = {
    "PREFECT_SERVER_REGISTER_BLOCKS_ON_START": "false",
    "PREFECT_SERVER_MEMOIZE_BLOCK_AUTO_REGISTRATION": "false",
    "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED": "false",
}


def _server_env() -> dict[str, str]:
    """What SubprocessASGIServer gives its child: this environment, no UI, ephemeral, without
    what a one-run server has no use for (_ONE_RUN_SETTINGS); plus the settings set in this
    process when Prefect is already imported (else the child reads the same environment, profile
    and settings files as this process would)."""
    env = {**_ONE_RUN_SETTINGS, **os.environ, "PREFECT_UI_ENABLED": "0"}
    env.update({"PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"})
    if "prefect.settings" in sys.modules:
        from prefect.settings import get_current_settings

        env.update(get_current_settings().to_environment_variables(exclude_unset=True))
    return env


class TemporaryServer:
    """Prefect's API server in a uvicorn child that dies with this process's main thread."""

    def __init__(self) -> None:
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._start()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def _start(self) -> None:
        spec = importlib.util.find_spec("prefect")
        if spec is None or not spec.submodule_search_locations:  # pragma: no cover
            raise PapersError("prefect is not installed")
        app_dir = Path(next(iter(spec.submodule_search_locations))).parent
        self.port = _free_port()
        # Prefect's own command (SubprocessASGIServer._run_uvicorn_command)
        argv = [
            sys.executable, "-m", "uvicorn", "--app-dir", str(app_dir),
            "--factory", "prefect.server.api.server:create_app",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--log-level", "error", "--lifespan", "on",
        ]  # fmt: skip
        # preexec_fn only calls prctl (async-signal-safe); `papers run` forks before its threads
        env = _server_env()
        self.process = subprocess.Popen(argv, env=env, preexec_fn=_die_with_parent)  # noqa: PLW1509

    def wait_healthy(self, timeout: float) -> str:
        """Poll the server's health endpoint until it answers 200; its API URL."""
        deadline = time.monotonic() + timeout
        while True:
            assert self.process is not None
            code = self.process.poll()
            if code == _UVICORN_PORT_IN_USE:  # the free port was taken meanwhile: another one
                self._start()
                continue
            if code is not None:
                raise PapersError(f"Prefect's temporary server exited with code {code}")
            health = f"{self.api_url}/health"
            with contextlib.suppress(OSError), urllib.request.urlopen(health, timeout=2) as answer:
                if answer.status == 200:
                    return self.api_url
            if time.monotonic() > deadline:
                self.stop()
                raise PapersError(
                    f"Prefect's temporary server did not answer within {timeout:.0f} s "
                    "(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS)"
                )
            time.sleep(0.05)

    def stop(self) -> None:
        """Terminate the child (as SubprocessASGIServer.stop does); safe to call again."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def launch() -> TemporaryServer | None:
    """Start the temporary server now, tied to this process, and return it; None when
    PREFECT_API_URL is set, outside Linux, or when not called from the main thread (the signal
    follows the thread that forks): Prefect then does as it always does."""
    if _configured_api_url() or not sys.platform.startswith("linux"):
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    server = TemporaryServer()
    atexit.register(server.stop)  # after Prefect's exit hooks, registered later, have run
    return server


def _quietly(work: Callable[[], object]) -> None:
    with contextlib.suppress(Exception):
        work()


@contextlib.contextmanager
def serving(
    server: TemporaryServer | None, meanwhile: Callable[[], object] | None = None
) -> Iterator[str | None]:
    """Point this process's Prefect at `server` for the duration; yield its API URL (None with
    no server: Prefect's own settings apply). A PREFECT_API_URL found only now (a profile, a
    settings file) wins: the server is stopped unused.

    `meanwhile` runs in a thread while this waits for the server to answer (finished before the
    run goes on): what the run would load on first use, loaded while there is nothing else to
    do (flows.build.warm_up). Whatever it fails on, the run meets again and reports; it is not
    run when there is no wait (no server of the run's own).

    On the run's own server the flow sends no heartbeats. They are how a long-running server
    tells a crashed flow run from a live one, and this server dies with the run, so none would
    ever be read; and Prefect's heartbeat thread sleeps in one-second steps that the flow's end
    waits out (0.5 s on average, up to 1 s, of every `papers run`). A configured server keeps
    Prefect's setting."""
    if server is None:
        yield None
        return
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
        temporary_settings,
    )

    from flows.runners import drain_to_api

    if PREFECT_API_URL.value():
        server.stop()
        yield PREFECT_API_URL.value()
        return
    ahead = None
    if meanwhile is not None:
        ahead = threading.Thread(target=_quietly, args=(meanwhile,), daemon=True, name="warm-up")
        ahead.start()
    try:
        url = server.wait_healthy(float(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()))
    finally:
        if ahead is not None:
            ahead.join()
    with temporary_settings(
        updates={PREFECT_API_URL: url, PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}
    ):
        try:
            yield url
        finally:
            drain_to_api()
