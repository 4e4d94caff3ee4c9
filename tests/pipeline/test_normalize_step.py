"""The normalize step: a parse shard read without its raw text, rejects given it back."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal

from papers import io
from papers.config import Params
from papers.pipeline.normalize import normalize_shard_step
from papers.pipeline.shuffle import shuffle_step
from papers.stages.normalize import normalize_records
from tests.stages.test_normalize import raw


def test_rejects_keep_their_raw_text(params: Params, tmp_path: Path) -> None:
    records = raw(
        title_raw=["Good title", "", "Another", "{}", "Third one"],
        # the same record_index twice in one shard: raw text is found by position, not by key
        record_index=[0, 1, 2, 1, 4],
        raw=["r0", "r1 empty", "r2", "r3 braces", "r4"],
    )
    path = tmp_path / "records-00000.parquet"
    io.write_frame(records, path)
    shard = {"key": "k", "records": str(path), "source_file": "a.txt"}
    step = normalize_shard_step(shard, params, str(tmp_path / "work"), None)
    expected, expected_rejects = normalize_records(records, params.normalize)
    assert expected_rejects["raw"].to_list() == ["r1 empty", "r3 braces"]
    assert_frame_equal(pl.read_parquet(step["rejects"]), expected_rejects)
    assert_frame_equal(pl.read_parquet(step["normalized"]), expected.drop("raw"))


def test_normalized_records_are_deleted_by_the_shuffle_only_without_a_cache(
    params: Params, tmp_path: Path
) -> None:
    records = raw(title_raw=["Good title", ""], record_index=[0, 1], raw=["r0", "r1"])
    path = tmp_path / "records-00000.parquet"
    io.write_frame(records, path)
    shard = {"key": "k", "records": str(path), "source_file": "a.txt"}
    cache, w1, w2 = (str(tmp_path / name) for name in ("cache", "w1", "w2"))
    identity = tmp_path / "identity.parquet"  # no record resolved to another paper
    io.write_frame(
        pl.DataFrame(schema={"source_file": pl.String, "record_index": pl.Int64,
                             "paper_id": pl.String}),
        identity,
    )  # fmt: skip
    cached = normalize_shard_step(shard, params, w1, cache)
    shuffle_step(cached, str(identity), [], w1, cache)
    assert Path(cached["normalized"]).exists()  # a later build reads it
    work = normalize_shard_step(shard, params, w2, None)
    split = shuffle_step(work, str(identity), [], w2, None)
    assert not Path(work["normalized"]).exists()
    assert pl.read_parquet(work["rejects"])["raw"].to_list() == ["r1"]  # the publish reads these
    assert pl.read_parquet(split["provenance"])["record_index"].to_list() == [0]
