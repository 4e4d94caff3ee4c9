"""The `papers` command line: one module per group of commands, all on one Typer app.

app (the app, the error guard, the shared options) · run (run, inspect) · check (validate,
evaluate, report) · serve · versions (versions, diff) · fetch (fetch hf, fetch arxiv) · idf (idf
refresh). terminal
and lifeline are the run command's console and its temporary Prefect server's lifeline.
"""

from __future__ import annotations

import atexit
import importlib
import os
import sys
import threading

# Before Prefect or Great Expectations are imported: no telemetry, no analytics (no network).
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

from papers.cli.app import app

# Each module registers its commands on `app` when imported: this order is the help's order.
for _module in ("run", "check", "serve", "versions", "fetch", "idf"):
    importlib.import_module(f"papers.cli.{_module}")

__all__ = ["app", "main"]


def main() -> None:
    """The `papers` console script (and `python -m papers`): the app, then a quick exit."""
    try:
        app(prog_name="papers")
        code: str | int | None = 0
    except SystemExit as stop:
        code = stop.code
    quick_exit(code)


def quick_exit(code: str | int | None) -> None:
    """End the process as an ordinary exit with `code` would, without the interpreter's teardown.

    After its exit hooks an ordinary exit frees every module's objects one by one: ~0.85 s after
    `papers run` (0.4 s for Prefect's imports alone), memory the process hands back to the
    system anyway. Here the exit does what comes before that, in the same order: threads that
    are not daemons first (while one still runs this is the ordinary exit, which waits for it),
    then the exit hooks (the temporary server's stop, logging's flush), then stdout and stderr
    flushed; then the process ends with the status `sys.exit(code)` gives."""
    if any(
        t.is_alive() and not t.daemon
        for t in threading.enumerate()
        if t is not threading.main_thread()
    ):
        sys.exit(code)
    atexit._run_exitfuncs()  # what an ordinary exit runs, last registered first
    status = 0
    if code is None:
        pass
    elif isinstance(code, int):
        status = code
    else:  # sys.exit("message"): the message on stderr, status 1
        print(code, file=sys.stderr)
        status = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: as an ordinary exit, status 120
            status = status or 120
    os._exit(status & 0xFF)
