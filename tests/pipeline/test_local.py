"""run_local with a cache: a rerun recomputes only what changed, and an unchanged dataset is
recognised (publish.unchanged) so no stage runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl

from papers import io
from papers.pipeline.publish import unchanged
from tests.conftest import read_table
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
