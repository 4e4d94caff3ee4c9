"""partition: the partitioned build gives the same bytes however it is partitioned, and a
re-listed paper is re-enriched alone (the memo keeps the others' links, tags and keyphrases)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq
import pytest

from papers import io
from papers.config import load_build_config, load_params, load_vocabulary, resolve_vocabulary
from papers.layout import leaf_of
from papers.pipeline import local
from papers.pipeline.local import run_local
from papers.pipeline.partition import _enrich, leaf_stats, partition_step
from papers.pipeline.terms import compiled_terms
from papers.stages.neardup import paper_signatures
from papers.stages.related import text_hashes
from tests.conftest import REPO
from tests.pipeline.conftest import build, digests


def same_version(out: Path, fresh: Path) -> None:
    """out (built incrementally, over earlier versions) holds the same version as fresh (built
    from scratch): the same bytes in every file, except the lineage: the manifest's number,
    parent and change feed count the versions published into out before, and the card quotes
    the feed."""
    lineage_files = (io.MANIFEST, "README.md")
    files, again = digests(out), digests(fresh)
    assert {k: v for k, v in files.items() if k not in lineage_files} == {
        k: v for k, v in again.items() if k not in lineage_files
    }
    manifest, scratch = io.read_json(out / io.MANIFEST), io.read_json(fresh / io.MANIFEST)
    for found in (manifest, scratch):
        found["dataset"].pop("number")
        found["dataset"].pop("parent")
        found.pop("changes")
    assert manifest == scratch


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


def test_a_re_listing_re_enriches_only_its_paper(mixed_raw: Path, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(mixed_raw, raw)
    cache, out = tmp_path / "cache", tmp_path / "out"
    build(raw, out, cache, target_rows=40)
    known = (
        pl.read_parquet(io.table_path(out, "papers") or out / "papers.parquet")
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
    same_version(out, fresh)
    # the signatures (and pair features) kept from the memo and the one signed again are each
    # paper's own
    kept = pl.concat([pl.read_ipc(p["signatures"]) for p in second]).sort("paper_id")
    published = pl.read_parquet(io.table_path(out, "papers") or out / "papers.parquet")
    signed = paper_signatures(published.sort("paper_id"), load_params(REPO / "params.yaml").neardup)
    assert kept.select(signed.columns).equals(signed)  # the pair features too
    # with their paper hashes, which the similarity step's cached state compares
    hashed = text_hashes(published.sort("paper_id"))
    assert kept["paper_hash"].equals(hashed["paper_hash"])
    # a damaged memo costs a full re-enrichment of the partition, never a wrong table
    for memo in cache.rglob("memo-links.parquet"):
        memo.write_bytes(b"damaged")
    (raw / "day" / "2030-01-03.json").write_text(json.dumps([{"paper": {**listing, "upvotes": 9}}]))
    _, third = build(raw, out, cache, target_rows=40)
    recomputed = [p for p in third if not p["cached"]]
    assert [p["enriched"] for p in recomputed] == [p["papers_in"] for p in recomputed]
    build(raw, fresh, None, target_rows=40)
    same_version(out, fresh)


def test_enrichment_of_no_papers_has_the_schemas_of_some(mixed_raw: Path, tmp_path: Path) -> None:
    """A recomputed partition whose papers are all unchanged enriches zero papers; the kept rows
    are concatenated with that result, so its frames must have the same columns and types."""
    build(mixed_raw, tmp_path / "out", None, target_rows=10**9)
    params = load_params(REPO / "params.yaml")
    vocabulary = load_vocabulary(resolve_vocabulary(params, REPO / "params.yaml"))
    terms = compiled_terms(vocabulary)
    out = tmp_path / "out"
    papers = pl.read_parquet(io.table_path(out, "papers") or out / "papers.parquet").drop(
        "links", "code_url", "tags", "keyphrases"
    )
    some = _enrich(papers, params, vocabulary, terms)
    none = _enrich(papers.head(0), params, vocabulary, terms)
    assert all(some[name].height for name in ("links", "tags", "candidates", "signatures"))
    assert {k: f.schema for k, f in none.items()} == {k: f.schema for k, f in some.items()}


def test_a_partition_deletes_the_pieces_in_its_work_folder_only(
    mixed_raw: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build without a cache shuffles into its work folder: once a partition is committed
    its pieces there are deleted (the publish reads the shards' provenance files). Pieces
    elsewhere (a cache's) are kept."""
    calls: list[tuple[Any, ...]] = []

    def spy(*args: Any) -> dict[str, Any]:
        calls.append(args)
        return partition_step(*args)

    monkeypatch.setattr(local, "partition_step", spy)
    build(mixed_raw, tmp_path / "out", tmp_path / "cache", target_rows=10**9)
    pieces = calls[0][0]
    config = load_build_config(REPO / "params.yaml")
    args = (config.params, config.vocabulary)
    work = tmp_path / "work"
    (work / "shuffled").mkdir(parents=True)
    scratch = []
    for number, (key, path) in enumerate(pieces):
        copy = work / "shuffled" / f"part-{number}.parquet"
        shutil.copy(path, copy)
        scratch.append((key, str(copy)))
    kept = partition_step(pieces, *args, str(tmp_path / "elsewhere"), None, config.idf)
    assert all(Path(path).exists() for _, path in pieces)
    deleted = partition_step(scratch, *args, str(work), None, config.idf)
    assert not any(Path(path).exists() for _, path in scratch)
    assert pl.read_parquet(deleted["papers"]).equals(pl.read_parquet(kept["papers"]))


def test_a_ranked_partition_keeps_candidates_for_the_memo_only(
    mixed_raw: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ranked against the pinned IDF, a partition's candidates and their counts are read by no
    publish: the counts are written empty, the candidates only with a cache (the memo's)."""
    calls: list[tuple[Any, ...]] = []

    def spy(*args: Any) -> dict[str, Any]:
        calls.append(args)
        return partition_step(*args)

    monkeypatch.setattr(local, "partition_step", spy)
    # with a cache the shuffled pieces outlive the build, so they can be partitioned again
    _, parts = build(mixed_raw, tmp_path / "out", tmp_path / "cache", target_rows=10**9)
    config = load_build_config(REPO / "params.yaml")
    assert config.idf is not None
    assert parts[0]["ranked"]
    assert pl.read_parquet(parts[0]["candidates"]).height > 0
    assert pl.read_parquet(parts[0]["df"]).height == 0
    pieces = calls[0][0]
    args = (config.params, config.vocabulary)
    ranked = partition_step(pieces, *args, str(tmp_path / "ranked"), None, config.idf)
    unranked = partition_step(pieces, *args, str(tmp_path / "unranked"), None, None)
    assert pl.read_parquet(ranked["candidates"]).height == 0
    assert pl.read_parquet(ranked["df"]).height == 0
    candidates = pl.read_parquet(unranked["candidates"])
    assert candidates.height > 0
    counts = pl.read_parquet(unranked["df"])
    assert counts["df"].sum() == candidates.height
    assert pl.read_parquet(ranked["papers"])["keyphrases"].list.len().sum() > 0
    # read once by the publish: written uncompressed (the abstracts' lz4 cost 3x the write)
    written = pq.ParquetFile(ranked["papers"]).metadata.row_group(0)
    assert {written.column(i).compression for i in range(written.num_columns)} == {"UNCOMPRESSED"}


def test_leaf_stats_sum_the_rows_of_each_leaf() -> None:
    """Summed per paper, then per leaf: the same figures as summing each row into its leaf."""
    ids = ["2401.00001", "2401.00001", "2401.00002", "hep-th/9901001", "x:1", "x:1", "x:2"]
    frame = pl.DataFrame({"paper_id": ids, "tag": ["a", "b", "a", "c", "a", "b", "z"]})
    hashes = [frame.hash_rows(seed=seed) for seed in (11, 12)]
    halves = [part for h in hashes for part in (h % 2**32, h // 2**32)]
    each_row = (
        frame.select(leaf_of(pl.col("paper_id")))
        .with_columns([half.alias(f"h{i}") for i, half in enumerate(halves)])
        .group_by("leaf")
        .agg(pl.len().cast(pl.UInt64).alias("rows"), *[pl.col(f"h{i}").sum() for i in range(4)])
        .sort("leaf")
    )
    expected = {str(row[0]): [int(v) for v in row[1:]] for row in each_row.iter_rows()}
    assert len(expected) >= 3
    assert leaf_stats(frame) == expected
    assert leaf_stats(frame.head(0)) == {}


def test_a_rule_change_re_runs_only_the_stages_that_read_it(
    mixed_raw: Path, tmp_path: Path
) -> None:
    config = load_build_config(REPO / "params.yaml")
    cache, out = str(tmp_path / "cache"), tmp_path / "out"

    def run(target: Path, vocabulary: dict[str, Any], params: Any, cache_dir: str | None) -> Any:
        return run_local(str(mixed_raw), str(target), params, vocabulary, idf=config.idf,
                         cache_dir=cache_dir, target_rows=40)["partitions"]  # fmt: skip

    first = run(out, config.vocabulary, config.params, cache)
    assert {tuple(p["rerun"]) for p in first} == {("links", "tags", "candidates", "signatures")}
    # a topic dropped from the vocabulary (a new vocabulary version): the tags and the keyphrase
    # candidates read it
    topics = config.vocabulary["topics"][1:]
    vocabulary = {**config.vocabulary, "version": "9.9.9", "topics": topics}
    second = run(out, vocabulary, config.params, cache)
    assert all(not p["cached"] for p in second)
    assert {tuple(p["rerun"]) for p in second} == {("tags", "candidates")}
    fresh = tmp_path / "fresh"
    run(fresh, vocabulary, config.params, None)
    same_version(out, fresh)
    # a link rule changed: the links alone
    links = config.params.links.model_copy(update={"own_code_cue_window": 7})
    params = config.params.model_copy(update={"links": links})
    third = run(out, vocabulary, params, cache)
    assert {tuple(p["rerun"]) for p in third} == {("links",)}
    assert [p["enriched"] for p in third] == [p["papers_in"] for p in third]
    run(fresh, vocabulary, params, None)
    same_version(out, fresh)
    # the number of keyphrases (ranked in the partition against the pinned IDF): no stage
    # re-runs, and the partitions still give what a build from scratch gives
    assert config.idf is not None
    tags = params.tags.model_copy(update={"keyphrases_top_k": params.tags.keyphrases_top_k + 2})
    more = params.model_copy(update={"tags": tags})
    assert {tuple(p["rerun"]) for p in run(out, vocabulary, more, cache)} == {()}
    run(fresh, vocabulary, more, None)
    same_version(out, fresh)
    # a topic dropped without a version bump is still a change: not "already published"
    unbumped = {**vocabulary, "topics": topics[1:]}
    fourth = run(out, unbumped, params, cache)
    assert {tuple(p["rerun"]) for p in fourth} == {("tags", "candidates")}
