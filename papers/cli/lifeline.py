"""lifeline: the temporary Prefect server a run starts dies with the run, even on SIGKILL.

Without PREFECT_API_URL, Prefect starts a temporary API server (a uvicorn subprocess) and stops
it from an atexit hook. A SIGKILLed run never runs atexit hooks, so the server lived on as an
orphan, holding a port and its SQLite database. Here the server is started up front, from the
main thread, with the Linux parent-death signal set in the child (prctl PR_SET_PDEATHSIG,
SIGKILL): the kernel kills it the moment the run's main thread ends, however it ends. Prefect
keeps one temporary server per process, so every later client uses this one.

Elsewhere than Linux this is a no-op (the atexit hook still covers normal exits); there, or to
keep runs visible, point PREFECT_API_URL at a long-running server.
"""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys
import threading
import types
from collections.abc import Callable
from typing import Any

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def temporary_server_dies_with_us() -> str | None:
    """Start Prefect's temporary server now, tied to this process; its API URL, or None when
    PREFECT_API_URL is set, outside Linux, or when not called from the main thread (the signal
    follows the thread that forks)."""
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value() or not sys.platform.startswith("linux"):
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    from prefect.server.api import server as server_module

    server = server_module.SubprocessASGIServer()
    if server.running:
        return server.api_url
    launch = type(server)._run_uvicorn_command

    def tied_launch() -> subprocess.Popen[Any]:
        # Prefect's own command, with the parent-death signal set between fork and exec
        shim = types.ModuleType("subprocess")
        shim.__dict__.update(vars(subprocess))
        real_popen: Callable[..., subprocess.Popen[Any]] = subprocess.Popen

        def popen(*args: Any, **kwargs: Any) -> subprocess.Popen[Any]:
            return real_popen(*args, preexec_fn=_die_with_parent, **kwargs)

        shim.__dict__["Popen"] = popen
        namespace = vars(server_module)
        real = namespace["subprocess"]
        namespace["subprocess"] = shim
        try:
            return launch(server)
        finally:
            namespace["subprocess"] = real

    server._run_uvicorn_command = tied_launch  # type: ignore[method-assign]
    server.start()
    return server.api_url
