"""papers/pipeline/identity.py: with the cache, a build that adds shards resolves only the open
records the new shards can affect, and gets the mapping a build without the cache gets."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from papers.config import Params
from papers.pipeline.identity import identity_step

ROWS = ["source_file", "record_index", "arxiv_id", "doi", "title_key", "abstract", "paper_id"]


def shard(folder: Path, name: str, rows: list[tuple[Any, ...]]) -> dict[str, Any]:
    """A normalized shard entry as normalize_shard_step returns it, its key the rows' text."""
    frame = pl.DataFrame(
        rows, schema={**dict.fromkeys(ROWS, pl.String), "record_index": pl.Int64}, orient="row"
    )
    path = folder / f"{name}.parquet"
    frame.write_parquet(path)
    ids = frame["paper_id"].sort()
    return {
        "key": f"{name}-{hashlib.sha256(frame.write_csv().encode()).hexdigest()[:12]}",
        "normalized": str(path),
        "source_file": name,
        "rows": frame.height,
        "unresolved": int(frame["arxiv_id"].null_count()),
        "sample": ids.to_list(),
        "sample_step": 1,
    }


SPARSE = "we propose sparse attention for long documents and measure its memory"
GRAPHS = "graph networks learn message passing over molecules with few labels"


@pytest.fixture
def shards(tmp_path: Path) -> dict[str, dict[str, Any]]:
    a = shard(tmp_path, "a", [
        ("a", 0, "2401.00001", "10.1/x", "sparse attention", SPARSE, "2401.00001"),
        ("a", 1, None, None, "graph nets", GRAPHS, "title:graph-nets"),  # no arXiv twin yet
        ("a", 2, None, "10.1/x", "sparse attention v1", "", "doi:10.1/x"),  # by DOI
        ("a", 3, None, None, "unrelated", "nothing shared", "title:unrelated"),
    ])  # fmt: skip
    b = shard(tmp_path, "b", [
        ("b", 0, "2402.00002", None, "graph nets", GRAPHS, "2402.00002"),  # a's record 1's twin
        ("b", 1, None, None, "sparse attention", SPARSE, "title:sparse-attention"),
    ])  # fmt: skip
    return {"a": a, "b": b}


def mapping(result: dict[str, Any]) -> list[tuple[Any, ...]]:
    return (
        pl.read_parquet(result["identity"]).select("source_file", "record_index", "paper_id").rows()
    )


# a record without ids whose title differs from its arXiv twin's (a subtitle dropped): only
# the abstract (>= content_min_words distinct words) can join them
LONG = (
    "we introduce a retrieval augmented decoder that reads scanned invoices receipts and forms "
    "then answers questions about totals vendors dates and currencies across twelve languages"
)


def test_a_content_twin_in_a_new_shard_re_resolves_the_old_open_record(
    params: Params, tmp_path: Path
) -> None:
    a = shard(tmp_path, "a", [("a", 0, None, None, "docreader", LONG, "title:docreader")])
    b = shard(tmp_path, "b", [
        ("b", 0, "2403.00003", None, "docreader reading documents in twelve languages", LONG,
         "2403.00003"),
    ])  # fmt: skip
    cache = str(tmp_path / "cache")
    first = identity_step([a], params, str(tmp_path / "w1"), cache)
    assert mapping(first) == [("a", 0, "title:docreader")]
    again = identity_step([a, b], params, str(tmp_path / "w2"), cache)
    whole = identity_step([a, b], params, str(tmp_path / "w3"), None)
    assert again["resolved"] == 1  # a's record: b shares its abstract's blocking key
    rows = pl.read_parquet(whole["identity"]).rows()
    assert rows == [("a", 0, "2403.00003", "content", 1.0)]
    assert pl.read_parquet(again["identity"]).rows() == rows
    off = params.model_copy(
        update={"normalize": params.normalize.model_copy(update={"content_match": None})}
    )
    blind = identity_step([a, b], off, str(tmp_path / "w4"), None)
    assert pl.read_parquet(blind["identity"]).rows() == [("a", 0, "title:docreader", "none", None)]


def test_a_new_shard_re_resolves_only_what_it_touches(
    shards: dict[str, dict[str, Any]], params: Params, tmp_path: Path
) -> None:
    cache = str(tmp_path / "cache")
    first = identity_step([shards["a"]], params, str(tmp_path / "w1"), cache)
    assert first["resolved"] == 3
    assert mapping(first) == [
        ("a", 1, "title:graph-nets"), ("a", 2, "2401.00001"), ("a", 3, "title:unrelated"),
    ]  # fmt: skip

    both = [shards["a"], shards["b"]]
    again = identity_step(both, params, str(tmp_path / "w2"), cache)
    whole = identity_step(both, params, str(tmp_path / "w3"), None)
    assert whole["resolved"] == 4
    assert (
        mapping(again)
        == mapping(whole)
        == [
            ("a", 1, "2402.00002"),  # its arXiv twin arrived with b
            ("a", 2, "2401.00001"),
            ("a", 3, "title:unrelated"),
            ("b", 1, "2401.00001"),
        ]
    )
    # b's open record, and of a's the ones sharing a key with b (record 1; record 2 and 3 not)
    assert again["resolved"] == 2
    # nothing new: nothing resolved, the same mapping
    same = identity_step(both, params, str(tmp_path / "w4"), cache)
    assert (same["resolved"], mapping(same)) == (0, mapping(whole))


def test_a_lost_shard_resolves_everything(
    shards: dict[str, dict[str, Any]], params: Params, tmp_path: Path
) -> None:
    cache = str(tmp_path / "cache")
    identity_step([shards["a"], shards["b"]], params, str(tmp_path / "w1"), cache)
    only_a = identity_step([shards["a"]], params, str(tmp_path / "w2"), cache)
    assert only_a["resolved"] == 3
    assert mapping(only_a) == mapping(
        identity_step([shards["a"]], params, str(tmp_path / "w3"), None)
    )


def test_an_unreadable_state_is_a_full_resolution(
    shards: dict[str, dict[str, Any]], params: Params, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    identity_step([shards["a"]], params, str(tmp_path / "w1"), str(cache))
    (cache / "identity.json").write_text("{not json")
    both = identity_step([shards["a"], shards["b"]], params, str(tmp_path / "w2"), str(cache))
    assert both["resolved"] == 4


def ids(first: int, last: int) -> pl.DataFrame:
    return pl.DataFrame(
        {"paper_id": [f"2401.{i:05d}" for i in range(first, last)], "weight": 1},
        schema={"paper_id": pl.String, "weight": pl.Int64},
    )


def test_a_range_grown_over_twice_the_target_is_split_and_the_other_cuts_stay(
    tmp_path: Path,
) -> None:
    from papers.pipeline.identity import _boundaries

    cache = str(tmp_path)
    first = _boundaries(ids(0, 100), 100, 25, cache)
    assert len(first) == 3  # four ranges of about 25
    # up to twice the target in the last range (from the last cut on): the same cuts
    assert _boundaries(ids(0, 120), 120, 25, cache) == first
    # over twice: the last range is split in ranges of about 25; the first cuts stay, so
    # their ranges' partitions stay cached
    grown = _boundaries(ids(0, 176), 176, 25, cache)
    assert grown[:3] == first
    assert len(grown) > 3
    assert all(first[-1] < cut for cut in grown[3:])
    ranges = pl.Series(grown, dtype=pl.String).search_sorted(ids(0, 176)["paper_id"], side="right")
    sizes = ranges.value_counts()["count"]
    assert sizes.max() <= 2 * 25
    # without the cache: even cuts over the whole
    assert _boundaries(ids(0, 176), 176, 25, None) != grown


def test_a_piece_key_names_its_rows_and_its_range_not_the_other_cuts() -> None:
    from papers.pipeline.shuffle import partition_inputs

    def shard(rows_key: str, parts: int) -> dict[str, Any]:
        return {"rows_key": rows_key, "parts": {str(i): f"{rows_key}-{i}" for i in range(parts)}}

    before = partition_inputs([shard("s1", 2), shard("s2", 2)], ["2401.5"])
    after = partition_inputs([shard("s1", 3), shard("s2", 3)], ["2401.5", "2401.8"])
    assert before[0] == after[0]  # the first range kept its cuts: the same pieces, cached
    assert {k for k, _ in before[1]}.isdisjoint(k for k, _ in after[1])  # split: new ranges
    assert [p for _, p in after[2]] == ["s1-2", "s2-2"]
