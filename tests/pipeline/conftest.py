"""Helpers of the pipeline tests: an in-process build of a mixed raw folder, and its digests."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from papers import io
from tests.conftest import FIXTURES, SEED, build_local


def build(
    raw: Path, out: Path, cache: Path | None, target_rows: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The flow's steps in this process: (summary, partition results)."""
    summary = build_local(
        raw, out, cache_dir=str(cache) if cache else None, target_rows=target_rows
    )
    return summary, summary["partitions"]


def digests(folder: Path) -> dict[str, str]:
    return {f.name: io.sha256_file(f) for f in sorted(folder.iterdir()) if f.is_file()}


@pytest.fixture(scope="module")
def mixed_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every source kind with duplicates across them, rejects of each stage, and title-only
    records that must join arXiv papers (the seed page lists papers the HF API files hold)."""
    raw = tmp_path_factory.mktemp("mixed")
    for folder in ("pages", "hf_api", "scrapes", "arxiv"):
        shutil.copytree(FIXTURES / folder, raw / folder, ignore=shutil.ignore_patterns("*.md"))
    shutil.copy(SEED, raw / "seed.txt")
    return raw
