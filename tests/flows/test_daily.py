"""The daily flow in process (temporary Prefect server): the fetched day, Failed states with their
reason, and prefect.yaml agreeing with params.yaml. `papers serve` itself: test_serve.py."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml

from flows.daily import deployment_parameters, listing_day
from papers.config import load_params

REPO = Path(__file__).resolve().parents[2]
SEED = REPO / "data" / "raw" / "hf_papers_page" / "daily-papers.txt"


@pytest.mark.parametrize(
    ("scheduled", "timezone", "days_back", "day"),
    [
        (dt.datetime(2025, 1, 22, 6, 30, tzinfo=dt.UTC), "UTC", 1, dt.date(2025, 1, 21)),
        (dt.datetime(2025, 1, 22, 6, 30, tzinfo=dt.UTC), "UTC", 0, dt.date(2025, 1, 22)),
        # 02:00 UTC is still the 21st in New York: its yesterday is the 20th
        (
            dt.datetime(2025, 1, 22, 2, 0, tzinfo=dt.UTC),
            "America/New_York",
            1,
            dt.date(2025, 1, 20),
        ),
        (dt.datetime(2025, 3, 1, 23, 30, tzinfo=dt.UTC), "Asia/Tokyo", 1, dt.date(2025, 3, 1)),
    ],
)
def test_listing_day_is_the_scheduled_day_minus_days_back_in_the_timezone(
    scheduled: dt.datetime, timezone: str, days_back: int, day: dt.date
) -> None:
    assert listing_day(scheduled, timezone, days_back) == day


def test_prefect_yaml_matches_params_yaml() -> None:
    """The work-pool deployment and `papers serve` schedule the same flow the same way."""
    params = load_params(REPO / "params.yaml")
    [deployment] = yaml.safe_load((REPO / "prefect.yaml").read_text())["deployments"]
    assert deployment["name"] == params.schedule.deployment
    assert deployment["entrypoint"] == "flows/daily.py:daily"
    [schedule] = deployment["schedules"]
    assert schedule["cron"] == params.schedule.cron
    assert schedule["timezone"] == params.schedule.timezone
    assert deployment["parameters"] == deployment_parameters(
        params, raw_dir="data/raw", out_dir="data/processed", params_path="params.yaml",
        reports_dir="reports", cache_dir="data/interim/parse-cache",
    )  # fmt: skip


def test_an_unknown_timezone_is_a_readable_params_error(tmp_path: Path) -> None:
    from papers.errors import PapersError

    bad = tmp_path / "params.yaml"
    bad.write_text("schedule:\n  timezone: Mars/Olympus\n")
    with pytest.raises(PapersError, match=r"schedule\.timezone: .*unknown timezone 'Mars/Olympus'"):
        load_params(bad)


def run_daily(tmp_path: Path, **kwargs: object) -> object:
    from flows.daily import daily

    return daily(
        out_dir=str(tmp_path / "out"), reports_dir=str(tmp_path / "reports"),
        params_path=str(REPO / "params.yaml"), cache_dir=None, fetch=False,
        return_state=True, **kwargs,
    )  # fmt: skip


def test_daily_run_fails_with_the_validation_failures_as_its_message(
    prefect_harness: None, tmp_path: Path
) -> None:
    raw = tmp_path / "raw" / "hf_papers_page"
    raw.mkdir(parents=True)
    shutil.copy(SEED, raw / SEED.name)
    built = run_daily(tmp_path, raw_dir=str(tmp_path / "raw"))
    assert built.is_completed(), built  # type: ignore[attr-defined]
    # the published papers change behind the pipeline's back: a duplicated paper
    papers_path = sorted((tmp_path / "out" / "papers").glob("*.parquet"))[0]
    papers = pl.read_parquet(papers_path)
    pl.concat([papers, papers.head(1)]).write_parquet(papers_path)
    state = run_daily(tmp_path, raw_dir=str(tmp_path / "raw"), build=False)
    assert state.is_failed()  # type: ignore[attr-defined]
    message = state.message  # type: ignore[attr-defined]
    assert message.startswith("validation failed, ")
    assert f"papers/{papers_path.name}: paper_id has 1 duplicated value(s)" in message
    assert "report: " in message


def test_daily_run_fails_with_the_build_error_as_its_message(
    prefect_harness: None, tmp_path: Path
) -> None:
    (tmp_path / "raw").mkdir()
    state = run_daily(tmp_path, raw_dir=str(tmp_path / "raw"))
    assert state.is_failed()  # type: ignore[attr-defined]
    assert state.message == f"build-dataset failed: no input files under {tmp_path / 'raw'}"  # type: ignore[attr-defined]
    assert not (tmp_path / "reports").exists()  # validation never ran


def test_serve_without_a_prefect_server_is_one_readable_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "papers"), "serve", "--out", str(tmp_path / "out")],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        "error: papers serve needs a Prefect server that stays up: start one with "
        "`prefect server start` and set PREFECT_API_URL=http://127.0.0.1:4200/api"
    )
