"""validate: failing rows become rejects with readable reasons; schema bugs raise."""

from __future__ import annotations

import polars as pl
import pytest

from papers.stages.validate import SchemaBugError, row_failures, split_valid, validate_papers
from schemas import Papers, Tags, conform, empty_frame, polars_schema


def papers_frame(ids: list[str], titles: list[str | None]) -> pl.DataFrame:
    n = len(ids)
    data = {
        "paper_id": ids,
        "arxiv_id": [None] * n,
        "title": titles,
        "title_raw": ["t"] * n,
        "abstract": ["a"] * n,
        "abstract_raw": ["a"] * n,
        "title_key": ["k"] * n,
        "authors": [[]] * n,
        "published_at": [None] * n,
        "listing_dates": [[]] * n,
        "sources": [["hf_papers_page"]] * n,
        "links": [[]] * n,
        "code_url": [None] * n,
        "tags": [[]] * n,
        "keyphrases": [[]] * n,
    }
    schema = polars_schema(Papers)
    return conform(pl.DataFrame(data, schema={k: schema[k] for k in data}), Papers)


def test_row_failures_name_the_column_and_check() -> None:
    frame = papers_frame(["a", "a", "b"], ["ok", "ok", None])
    failures = row_failures(frame, Papers)
    reasons = dict(zip(failures["row"].to_list(), failures["reason"].to_list(), strict=True))
    assert set(reasons) == {0, 1, 2}
    assert "paper_id" in reasons[0]
    assert "title" in reasons[2]
    assert "not_nullable" in reasons[2]


def test_schema_bug_raises() -> None:
    frame = papers_frame(["a"], ["t"]).drop("keyphrases")
    with pytest.raises(SchemaBugError, match="keyphrases"):
        row_failures(frame, Papers)


def test_split_valid_keeps_good_rows() -> None:
    tags = pl.DataFrame(
        {"paper_id": ["a", "b"], "tag": ["x", "y"], "score": [1.0, -1.0], "evidence": ["e", "e"]}
    )
    good, bad = split_valid(tags, Tags)
    assert good["paper_id"].to_list() == ["a"]
    assert bad["paper_id"].to_list() == ["b"]
    assert "score" in bad["reason"].item()


def test_split_valid_with_no_failure_gives_the_frame_and_the_same_empty_rejects() -> None:
    tags = pl.DataFrame(
        {"paper_id": ["b", "a"], "tag": ["x", "y"], "score": [1.0, 0.5], "evidence": ["e", "e"]}
    )
    good, bad = split_valid(tags, Tags)
    assert good.equals(tags)  # the same rows in the same order
    with_failure = split_valid(tags.with_columns(score=pl.Series([1.0, -1.0])), Tags)[1]
    assert bad.is_empty()
    assert bad.schema == with_failure.schema  # callers concatenate the two kinds


def test_validate_papers_rejects_every_record_of_a_bad_paper() -> None:
    frame = papers_frame(["good", "bad"], ["Title", " "])
    provenance = pl.DataFrame(
        {
            "paper_id": ["good", "bad", "bad"],
            "source_file": ["f", "f", "g"],
            "source": ["s"] * 3,
            "record_index": [0, 1, 0],
            "line": [1, 5, 1],
        }
    )
    raw = pl.DataFrame(
        {"source_file": ["f", "f", "g"], "record_index": [0, 1, 0], "raw": ["r0", "r1", "g0"]}
    )
    good, kept, rejected = validate_papers(frame, provenance, raw, Papers)
    assert good["paper_id"].to_list() == ["good"]
    assert kept["paper_id"].to_list() == ["good"]
    assert sorted(rejected["raw"].to_list()) == ["g0", "r1"]
    assert (rejected["stage"] == "validate").all()
    assert rejected["reason"].str.starts_with("paper bad: title").all()


def test_empty_frames_validate() -> None:
    assert row_failures(empty_frame(Papers), Papers).height == 0
