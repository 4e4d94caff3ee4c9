"""Fixtures shared by the stage tests."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

# real records' files whose titles and abstracts the compiled passes' tests read
REAL_TEXT_FILES = (
    "arxiv/snapshot.jsonl",
    "arxiv/snapshot_neardup.jsonl",
    "latex/math_abstracts.jsonl",
    "bench/arxiv-snapshot-excerpt.jsonl",
)


@pytest.fixture(scope="session")
def real_fields() -> list[str | None]:
    """Every title and abstract (nulls kept) of the real-record fixtures, in file order."""
    texts: list[str | None] = []
    for name in REAL_TEXT_FILES:
        frame = pl.read_ndjson(FIXTURES / name, infer_schema_length=None)
        for column in ("title", "abstract"):
            if column in frame.columns:
                texts += frame[column].cast(pl.String).to_list()
    assert len(texts) > 60
    return texts
