"""The daily flow: fetch-listings, then build-dataset, then the Great Expectations gate.

`papers serve` serves it as a Prefect deployment on the cron schedule in params.yaml; prefect.yaml
declares the same deployment for a work pool. A failed build (a quality gate between versions
tripped, an unreadable input folder) or a failed validation ends the run in a Failed state whose
message is the reason, so the Prefect UI says why without opening the logs.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE
from prefect.client.schemas.objects import State
from prefect.runtime import flow_run
from prefect.states import Failed

from flows.build import build_dataset
from flows.fetch import fetch_listings
from papers.config import Params
from papers.quality import validate_published

# Failures quoted in the state message (the full list is in the validation report).
MESSAGE_FAILURES = 3


def listing_day(scheduled: dt.datetime, timezone: str, days_back: int) -> dt.date:
    """The day whose listing a run fetches: its scheduled time, in the schedule's timezone,
    minus days_back (a 06:30 run fetches yesterday's complete listing)."""
    return scheduled.astimezone(ZoneInfo(timezone)).date() - dt.timedelta(days=days_back)


@task(name="validate", cache_policy=NONE)
def validate(out_dir: str, reports_dir: str) -> dict[str, Any]:
    result = validate_published(Path(out_dir), Path(reports_dir))
    return {
        "success": result.success,
        "checks_run": result.checks_run,
        "failures": list(result.failures),
        "report": str(result.result_json),
        "data_docs": None if result.data_docs_index is None else str(result.data_docs_index),
    }


@flow(name="daily", validate_parameters=True)
def daily(
    raw_dir: str = "data/raw",
    out_dir: str = "data/processed",
    params_path: str = "params.yaml",
    reports_dir: str = "reports",
    cache_dir: str | None = "data/interim/parse-cache",
    hf_base_url: str | None = None,
    day: str | None = None,
    days_back: int = 1,
    timezone: str = "UTC",
    fetch_retries: int = 2,
    fetch_retry_delay_seconds: float = 300.0,
    fetch: bool = True,
    build: bool = True,
    gates: bool = True,
) -> dict[str, Any] | State[Any]:
    """Fetch a day's listing into raw_dir, rebuild out_dir from all of raw_dir, validate it.

    day (YYYY-MM-DD) defaults to the scheduled day minus days_back in `timezone`. fetch=False
    rebuilds from what raw_dir already holds; build=False only re-validates the published data;
    gates=False publishes even when the build fails a quality gate.
    """
    logger = get_run_logger()
    summary: dict[str, Any] = {}
    if fetch:
        when = day or listing_day(flow_run.scheduled_start_time, timezone, days_back).isoformat()
        summary["day"] = when
        fetch_flow = fetch_listings.with_options(
            retries=fetch_retries, retry_delay_seconds=fetch_retry_delay_seconds
        )
        kwargs: dict[str, Any] = {"raw_dir": raw_dir, "day": when}
        if hf_base_url:
            kwargs["hf_base_url"] = hf_base_url
        summary["fetched"] = fetch_flow(**kwargs)
    if build:
        state = build_dataset(
            raw_dir=raw_dir, out_dir=out_dir, params_path=params_path, cache_dir=cache_dir,
            gates=gates, return_state=True,
        )  # fmt: skip
        if not state.is_completed():
            error = state.result(raise_on_failure=False)
            reason = str(error) if isinstance(error, BaseException) else state.message
            return Failed(message=f"build-dataset failed: {reason}")
        built: dict[str, Any] = state.result()
        summary["dataset_version"] = built["dataset_version"]
        summary["counts"] = built["counts"]
    checked = validate(out_dir, reports_dir)
    summary["validation"] = checked
    if not checked["success"]:
        failures = checked["failures"]
        shown = "; ".join(failures[:MESSAGE_FAILURES])
        extra = len(failures) - MESSAGE_FAILURES
        more = f" (and {extra} more)" if extra > 0 else ""
        return Failed(
            message=f"validation failed, {len(failures)} of {checked['checks_run']} checks: "
            f"{shown}{more}; report: {checked['report']}"
        )
    logger.info("validation passed: %d checks", checked["checks_run"])
    return summary


def deployment_parameters(
    params: Params,
    *,
    raw_dir: str,
    out_dir: str,
    params_path: str,
    reports_dir: str,
    cache_dir: str | None,
    hf_base_url: str | None = None,
) -> dict[str, Any]:
    """The daily flow's parameters for a deployment, from params.yaml's schedule section."""
    fetch_params = params.schedule.fetch
    return {
        "raw_dir": raw_dir,
        "out_dir": out_dir,
        "params_path": params_path,
        "reports_dir": reports_dir,
        "cache_dir": cache_dir,
        "hf_base_url": hf_base_url or fetch_params.hf_base_url,
        "days_back": fetch_params.days_back,
        "timezone": params.schedule.timezone,
        "fetch_retries": fetch_params.retries,
        "fetch_retry_delay_seconds": fetch_params.retry_delay_seconds,
    }


def serve_daily(params: Params, parameters: dict[str, Any]) -> None:
    """Register the deployment with the Prefect API and run its scheduled runs until stopped."""
    from prefect.schedules import Cron

    daily.serve(
        name=params.schedule.deployment,
        schedules=[Cron(params.schedule.cron, timezone=params.schedule.timezone)],
        parameters=parameters,
        description="Fetch the day's listing, rebuild the curated dataset, validate it.",
        tags=["papers"],
    )
