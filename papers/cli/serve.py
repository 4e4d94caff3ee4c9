"""`papers serve`: the daily deployment (fetch, build, validate) on its schedule."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from papers.cli.app import OutOpt, ParamsOpt, RawOpt, ReportsOpt, app, guard
from papers.config import DEFAULT_CACHE, DEFAULT_OUT, DEFAULT_PARAMS, DEFAULT_RAW, DEFAULT_REPORTS
from papers.errors import PapersError


@app.command()
def serve(
    raw: RawOpt = DEFAULT_RAW,
    out: OutOpt = DEFAULT_OUT,
    params: ParamsOpt = DEFAULT_PARAMS,
    reports: ReportsOpt = DEFAULT_REPORTS,
    cache_dir: Annotated[
        Path, typer.Option("--cache-dir", help="Parse cache of the scheduled builds.")
    ] = DEFAULT_CACHE,
    hf_base_url: Annotated[
        str | None,
        typer.Option("--hf-base-url", help="HF API root (default: params.yaml, else the public)."),
    ] = None,
) -> None:
    """Serve the daily deployment (fetch, build, validate) on the cron schedule in params.yaml."""

    def action() -> tuple[Any, dict[str, Any]]:
        from prefect.settings import PREFECT_API_URL

        from flows.daily import deployment_parameters
        from papers.config import load_params

        loaded = load_params(params)
        if not PREFECT_API_URL.value():
            raise PapersError(
                "papers serve needs a Prefect server that stays up: start one with "
                "`prefect server start` and set PREFECT_API_URL=http://127.0.0.1:4200/api"
            )
        # absolute paths: the scheduled runs must not depend on where they are started from
        parameters = deployment_parameters(
            loaded, raw_dir=str(raw.resolve()), out_dir=str(out.resolve()),
            params_path=str(params.resolve()), reports_dir=str(reports.resolve()),
            cache_dir=str(cache_dir.resolve()), hf_base_url=hf_base_url,
        )  # fmt: skip
        return loaded, parameters

    loaded, parameters = guard(action)
    schedule = loaded.schedule
    typer.echo(
        f"serving daily/{schedule.deployment}: cron {schedule.cron!r} in {schedule.timezone} "
        "(Ctrl-C stops it and pauses the schedule)"
    )
    from flows.daily import serve_daily

    guard(lambda: serve_daily(loaded, parameters))
