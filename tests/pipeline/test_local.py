"""run_local with a cache: a rerun recomputes only what changed, and an unchanged dataset is
recognised (publish.unchanged) so no stage runs."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from papers import io
from papers.config import load_params
from papers.pipeline import partition
from papers.pipeline.parse import parse_step
from papers.pipeline.publish import unchanged
from papers.stages.validate import validate_papers
from tests.conftest import REPO, read_table
from tests.pipeline.conftest import build, digests


def test_incremental_rerun_recomputes_only_touched_partitions(
    mixed_raw: Path, tmp_path: Path
) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(mixed_raw, raw)
    cache, out = tmp_path / "cache", tmp_path / "out"
    _, first = build(raw, out, cache, target_rows=7)
    assert not any(p["cached"] for p in first)
    # a new day's listing: one new paper (its id sorts last) and a title-only copy of it
    (raw / "day").mkdir()
    (raw / "day" / "2030-01-02.json").write_text(
        '[{"paper": {"id": "2912.99999", "title": "A Paper From The Future",'
        ' "summary": "We study time travel with code at https://github.com/acme/future."}}]'
    )
    (raw / "day" / "paper_metadata_2030-01-03.txt").write_text(
        "Title: A Paper From The Future\nPDF: \nSummary: We study time travel with code.\n---\n"
    )
    summary, second = build(raw, out, cache, target_rows=7)
    recomputed = [p for p in second if not p["cached"]]
    assert 1 <= len(recomputed) <= 2 < len(second)
    fresh = tmp_path / "fresh"
    build(raw, fresh, None, target_rows=10**9)
    # the same bytes but for the lineage: version 2 (parent, change feed; the card quotes the
    # feed) vs a first version
    lineage_files = ("manifest.json", "README.md")
    assert {k: v for k, v in digests(out).items() if k not in lineage_files} == {
        k: v for k, v in digests(fresh).items() if k not in lineage_files
    }
    lineage = [io.read_json(folder / "manifest.json") for folder in (out, fresh)]
    for manifest in lineage:
        manifest["dataset"].pop("number")
        manifest["dataset"].pop("parent")
        manifest.pop("changes")
    assert lineage[0] == lineage[1]
    papers = read_table(out, "papers").filter(pl.col("paper_id") == "2912.99999")
    assert papers["sources"].to_list() == [["hf_daily_papers", "hf_title_pdf_summary"]]
    # nothing changed: the published version is recognised, no stage needs to run
    assert unchanged(out, summary["dataset_version"]) is not None
    next((out / "tags").glob("*.parquet")).write_bytes(b"damaged")
    assert unchanged(out, summary["dataset_version"]) is None


def test_a_record_rejected_at_validation_keeps_its_raw_text(
    mixed_raw: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a cache the parse shards' fields are gone by the publish; the raw text of a
    record rejected at validation comes from the shard's raw-text file, as the parse wrote it.
    (One paper's arXiv id is broken before Pandera sees it: real input does not fail there.)"""

    def breaking_one(papers: pl.DataFrame, *args: Any) -> Any:
        first = pl.col("paper_id") == papers["paper_id"].sort()[0]
        broken = papers.with_columns(
            pl.when(first).then(pl.lit("not an id")).otherwise("arxiv_id").alias("arxiv_id")
        )
        return validate_papers(broken, *args)

    monkeypatch.setattr(partition, "validate_papers", breaking_one)
    summary, _ = build(mixed_raw, tmp_path / "out", None, target_rows=10**9)
    rejected = read_table(tmp_path / "out", "rejected").filter(pl.col("stage") == "validate")
    assert rejected.height >= 1
    assert summary["counts"]["raw_records"] == (
        summary["counts"]["records_in_papers"] + summary["counts"]["rejected"]
    )
    parsed = [
        parse_step(str(mixed_raw), f, load_params(REPO / "params.yaml"), str(tmp_path / "w"))
        for f in sorted(rejected["source_file"].unique())
    ]
    raw_text = pl.concat([pl.read_parquet(path) for p in parsed for path in p["raw"]])
    expected = rejected.select("source_file", "record_index").join(
        raw_text, on=["source_file", "record_index"], how="left"
    )
    assert expected["raw"].null_count() == 0
    assert (
        rejected.sort("source_file", "record_index")["raw"].to_list()
        == expected.sort("source_file", "record_index")["raw"].to_list()
    )
