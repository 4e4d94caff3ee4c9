"""steps: the parse cache is keyed by content and never trusted when incomplete; the partitioned
build gives the same bytes however it is partitioned, and a rerun recomputes only what changed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from papers import io, steps
from tests.conftest import FIXTURES, REPO, SEED


def parse(raw: Path, work: Path, cache: Path) -> dict[str, object]:
    return steps.parse_step(str(raw), SEED.name, str(REPO / "params.yaml"), str(work), str(cache))


def test_parse_cache_hits_and_survives_damage(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / SEED.name).write_bytes(SEED.read_bytes())
    work, cache = tmp_path / "work", tmp_path / "cache"
    work.mkdir()
    first = parse(raw, work, cache)
    assert first["cached"] is False
    assert first["raw_records"] == 57
    second = parse(raw, work, cache)
    assert second["cached"] is True
    assert second["records"] == first["records"]
    # a damaged entry (a shard lost, e.g. by a partial copy) is rebuilt, not trusted
    Path(str(second["records"][0])).unlink()  # type: ignore[index]
    third = parse(raw, work, cache)
    assert third["cached"] is False
    assert third["raw_records"] == 57
    assert all(Path(p).exists() for p in third["records"])  # type: ignore[attr-defined]
    # a changed file is a different key
    (raw / SEED.name).write_bytes(SEED.read_bytes() + b"\n\nNew Title\n\nNew abstract.")
    assert parse(raw, work, cache)["raw_records"] == 58


# --- the partitioned build ---------------------------------------------------------------------


def build(
    raw: Path, out: Path, cache: Path | None, target_rows: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The flow's steps in this process: (summary, partition results)."""
    summary = steps.run_local(
        str(raw), str(out), str(REPO / "params.yaml"), str(cache) if cache else None,
        target_rows=target_rows,
    )  # fmt: skip
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


def test_partitions_do_not_change_a_byte(mixed_raw: Path, tmp_path: Path) -> None:
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    _, one = build(mixed_raw, whole, None, target_rows=10**9)
    summary, many = build(mixed_raw, parts, None, target_rows=7)
    assert len(one) == 1
    assert len(many) > 10
    assert digests(whole) == digests(parts)
    counts = summary["counts"]
    assert counts["raw_records"] == counts["records_in_papers"] + counts["rejected"]
    assert counts["merged_duplicates"] > 0


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
    assert digests(out) == digests(fresh)
    papers = pl.read_parquet(out / "papers.parquet").filter(pl.col("paper_id") == "2912.99999")
    assert papers["sources"].to_list() == [["hf_daily_papers", "hf_title_pdf_summary"]]
    # nothing changed: the published version is recognised, no stage needs to run
    assert steps.unchanged(out, summary["dataset_version"]) is not None
    (out / "tags.parquet").write_bytes(b"damaged")
    assert steps.unchanged(out, summary["dataset_version"]) is None


def test_a_re_listing_re_enriches_only_its_paper(mixed_raw: Path, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(mixed_raw, raw)
    cache, out = tmp_path / "cache", tmp_path / "out"
    build(raw, out, cache, target_rows=40)
    known = (
        pl.read_parquet(out / "papers.parquet")
        .filter(pl.col("arxiv_id").is_not_null() & pl.col("abstract").str.contains("http"))
        .row(0, named=True)
    )
    # a later listing of that paper: its merged row changes (a new date and source)
    listing = {"id": known["arxiv_id"], "title": known["title"], "summary": known["abstract"]}
    (raw / "day").mkdir()
    (raw / "day" / "2030-01-02.json").write_text(json.dumps([{"paper": {**listing, "upvotes": 7}}]))
    _, second = build(raw, out, cache, target_rows=40)
    recomputed = [p for p in second if not p["cached"]]
    assert len(recomputed) == 1
    assert recomputed[0]["papers_in"] > 1
    assert recomputed[0]["enriched"] == 1  # the others kept their links, tags and keyphrases
    fresh = tmp_path / "fresh"
    build(raw, fresh, None, target_rows=40)
    assert digests(out) == digests(fresh)
    # a damaged memo costs a full re-enrichment of the partition, never a wrong table
    for memo in cache.rglob("memo-links.parquet"):
        memo.write_bytes(b"damaged")
    (raw / "day" / "2030-01-03.json").write_text(json.dumps([{"paper": {**listing, "upvotes": 9}}]))
    _, third = build(raw, out, cache, target_rows=40)
    recomputed = [p for p in third if not p["cached"]]
    assert [p["enriched"] for p in recomputed] == [p["papers_in"] for p in recomputed]
    build(raw, fresh, None, target_rows=40)
    assert digests(out) == digests(fresh)


def test_enrichment_of_no_papers_has_the_schemas_of_some(mixed_raw: Path, tmp_path: Path) -> None:
    """A recomputed partition whose papers are all unchanged enriches zero papers; the kept rows
    are concatenated with that result, so its frames must have the same columns and types."""
    build(mixed_raw, tmp_path / "out", None, target_rows=10**9)
    params = steps.load_params(REPO / "params.yaml")
    vocabulary = steps.load_vocabulary(steps.resolve_vocabulary(params, REPO / "params.yaml"))
    terms = steps._terms(vocabulary)
    papers = pl.read_parquet(tmp_path / "out" / "papers.parquet").drop(
        "links", "code_url", "tags", "keyphrases"
    )
    some = steps._enrich(papers, params, vocabulary, terms)
    none = steps._enrich(papers.head(0), params, vocabulary, terms)
    assert all(some[name].height for name in ("links", "tags", "candidates"))
    assert {k: f.schema for k, f in none.items()} == {k: f.schema for k, f in some.items()}
