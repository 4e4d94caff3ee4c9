"""lifeline: the temporary Prefect server a run starts, started early and dying with the run.

Without PREFECT_API_URL, Prefect starts a temporary API server (a uvicorn subprocess) when the
flow first needs it, after this process has imported the flow, and stops it from an atexit hook.
Two things are wrong with that for `papers run`:

- a SIGKILLed run never runs atexit hooks, so the server lived on as an orphan, holding a port
  and its SQLite database;
- the server's ~4 s start came after the flow's imports (~2.5 s), one after the other, and the
  parent also imported Prefect's server package (~3 s) only to launch it.

So `papers run` launches the server itself, first thing after its inputs are checked: Prefect's
own uvicorn command and environment (prefect.server.api.server.SubprocessASGIServer), with the
Linux parent-death signal set in the child (prctl PR_SET_PDEATHSIG, SIGKILL: the kernel kills it
the moment the run's main thread ends, however it ends). The parent imports the flow while the
child boots on the other core, then waits for its health check and points PREFECT_API_URL at it
for the run (`TemporaryServer.serving`). When the run ends the server's queued logs and events
are sent and it is stopped.

Elsewhere than Linux, off the main thread, or with PREFECT_API_URL set, nothing is started here
(Prefect's own temporary server, or the configured one, is used as before).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

_PR_SET_PDEATHSIG = 1
# Prefect's own startup timeout is 20 s; a loaded machine (or a new PREFECT_HOME, whose
# database is created and migrated first) can need more
STARTUP_TIMEOUT_S = 90.0
_LAUNCHES = 3  # a port taken between choosing it and binding it: try another


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TemporaryServer:
    """Prefect's temporary API server in a child process tied to this one (see the module)."""

    def __init__(self) -> None:
        self.port = 0
        self.process: subprocess.Popen[Any] | None = None
        self._launches = 0
        self._launch()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def _launch(self) -> None:
        import prefect
        from prefect.settings import get_current_settings

        self.port = _free_port()
        self._launches += 1
        env = {
            **os.environ,
            # what SubprocessASGIServer._run_uvicorn_command gives its server
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT__SERVER_FINAL": "1",
            **get_current_settings().to_environment_variables(exclude_unset=True),
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--app-dir", str(prefect.__module_path__.parent),
             "--factory", "prefect.server.api.server:create_app", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "error", "--lifespan", "on"],
            env=env,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - the point: set between fork and exec
        )  # fmt: skip

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT_S) -> str:
        """Wait until the server answers its health check; its API URL."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                if self._launches >= _LAUNCHES:
                    break
                self._launch()  # the port was taken meanwhile: another one
            with (
                contextlib.suppress(urllib.error.URLError, OSError),
                urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as answer,
            ):
                if answer.status == 200:
                    return self.api_url
            time.sleep(0.05)
        code = self.process.poll() if self.process is not None else None
        self.stop()
        raise RuntimeError(
            f"the temporary Prefect server did not start within {timeout:.0f} s"
            + (f" (it exited with code {code})" if code is not None else "")
            + "; set PREFECT_API_URL to a running Prefect server to use that one instead"
        )

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    @contextlib.contextmanager
    def serving(self) -> Iterator[str]:
        """PREFECT_API_URL set to this server while the block runs; then its queued logs and
        events are sent and it is stopped."""
        from prefect.settings import PREFECT_API_URL, temporary_settings

        url = self.wait_ready()
        try:
            with temporary_settings(updates={PREFECT_API_URL: url}):
                try:
                    yield url
                finally:
                    _drain_to_api()
        finally:
            self.stop()


def _drain_to_api() -> None:
    """Send the logs and events still queued in this process before the server goes away."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for service in (APILogWorker, EventsWorker):
        service.drain_all(timeout=5, at_exit=False)


def start_temporary_server() -> TemporaryServer | None:
    """Launch Prefect's temporary server now, without waiting for it, tied to this process; None
    when PREFECT_API_URL is set, outside Linux, or when not called from the main thread (the
    parent-death signal follows the thread that forks)."""
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value() or not sys.platform.startswith("linux"):
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    return TemporaryServer()


@contextlib.contextmanager
def serving(server: TemporaryServer | None) -> Iterator[str | None]:
    """`server.serving()`, or nothing to do when no server was started here."""
    if server is None:
        yield None
        return
    with server.serving() as url:
        yield url
