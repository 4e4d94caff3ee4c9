"""The `papers` command line: one module per group of commands, all on one Typer app.

app (the app, the error guard, the shared options) · run (run, inspect) · check (validate,
evaluate, report) · serve · versions (versions, diff) · fetch (fetch hf, fetch arxiv) · idf (idf
refresh). terminal
and lifeline are the run command's console and its temporary Prefect server's lifeline.
"""

from __future__ import annotations

import importlib
import os
import sys

# Before Prefect or Great Expectations are imported: no telemetry, no analytics (no network).
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

from papers.cli.app import app

# Each module registers its commands on `app` when imported: this order is the help's order.
for _module in ("run", "check", "serve", "versions", "fetch", "idf"):
    importlib.import_module(f"papers.cli.{_module}")

__all__ = ["app", "main"]


def main() -> None:  # pragma: no cover - console-script shim
    app(prog_name="papers")
    sys.exit(0)
