"""The fetch-listings flow: save the day's raw listings under data/raw before build-dataset runs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE

from papers import fetch


@task(name="fetch-hf-daily", cache_policy=NONE, retries=2, retry_delay_seconds=60)
def fetch_hf(base_url: str, since: str, until: str, raw_dir: str) -> list[dict[str, Any]]:
    with fetch.Fetcher(fetch.FetchPolicy()) as fetcher:
        saved = fetch.fetch_hf_range(
            fetcher, base_url, dt.date.fromisoformat(since), dt.date.fromisoformat(until),
            Path(raw_dir),
        )  # fmt: skip
    return [{"path": str(s.path), "status": s.status, "sha256": s.sha256} for s in saved]


@task(name="fetch-arxiv-atom", cache_policy=NONE, retries=2, retry_delay_seconds=60)
def fetch_arxiv(base_url: str, query: str, max_results: int, raw_dir: str) -> list[dict[str, Any]]:
    with fetch.Fetcher(fetch.FetchPolicy()) as fetcher:
        saved = fetch.fetch_arxiv_atom(
            fetcher, base_url, Path(raw_dir), query=query, max_results=max_results
        )
    return [{"path": str(s.path), "status": s.status, "sha256": s.sha256} for s in saved]


@flow(name="fetch-listings")
def fetch_listings(
    raw_dir: str = "data/raw",
    day: str | None = None,
    hf_base_url: str = fetch.HF_BASE_URL,
    arxiv_query: str | None = None,
    arxiv_base_url: str = fetch.ARXIV_API_BASE_URL,
    arxiv_max_results: int = 200,
) -> list[dict[str, Any]]:
    """Fetch a day's Hugging Face listing (default: yesterday, UTC), optionally an arXiv query."""
    logger = get_run_logger()
    when = day or (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)).isoformat()
    saved = fetch_hf(hf_base_url, when, when, raw_dir)
    if arxiv_query:
        saved += fetch_arxiv(arxiv_base_url, arxiv_query, arxiv_max_results, raw_dir)
    for entry in saved:
        logger.info("%s %s", entry["status"], entry["path"])
    return saved
