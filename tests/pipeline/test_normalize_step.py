"""The normalize step: a parse shard's fields read without its raw text, rejects given it back
from the shard's raw-text file; scratch deleted as the build goes when there is no cache."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal

from papers import io
from papers.config import Params
from papers.pipeline.normalize import normalize_shard_step
from papers.pipeline.parse import RAW_COLUMNS
from papers.pipeline.shuffle import shuffle_step
from papers.stages.normalize import normalize_records
from tests.stages.test_normalize import raw


def shard_files(records: pl.DataFrame, folder: Path) -> dict[str, str]:
    """A parse shard of records, as the parse step writes one: fields and raw text apart."""
    folder.mkdir(parents=True, exist_ok=True)
    fields, raw_text = folder / "records-00000.parquet", folder / "raw-00000.parquet"
    io.write_frame(records.drop("raw"), fields)
    io.write_frame(records.select(RAW_COLUMNS), raw_text)
    return {"key": "k", "records": str(fields), "raw": str(raw_text), "source_file": "a.txt"}


def test_rejects_keep_their_raw_text(params: Params, tmp_path: Path) -> None:
    records = raw(
        title_raw=["Good title", "", "Another", "{}", "Third one"],
        # the same record_index twice in one shard: raw text is found by position, not by key
        record_index=[0, 1, 2, 1, 4],
        raw=["r0", "r1 empty", "r2", "r3 braces", "r4"],
    )
    shard = shard_files(records, tmp_path / "parsed")
    step = normalize_shard_step(shard, params, str(tmp_path / "work"), None)
    expected, expected_rejects = normalize_records(records, params.normalize)
    assert expected_rejects["raw"].to_list() == ["r1 empty", "r3 braces"]
    assert_frame_equal(pl.read_parquet(step["rejects"]), expected_rejects)
    assert_frame_equal(pl.read_parquet(step["normalized"]), expected.drop("raw"))


def test_without_a_cache_records_are_deleted_once_normalized_and_once_shuffled(
    params: Params, tmp_path: Path
) -> None:
    records = raw(title_raw=["Good title", ""], record_index=[0, 1], raw=["r0", "r1"])
    cache, w1, w2 = (str(tmp_path / name) for name in ("cache", "w1", "w2"))
    shard = shard_files(records, tmp_path / "cache-parsed")  # as a cache's parse entry
    identity = tmp_path / "identity.parquet"  # no record resolved to another paper
    io.write_frame(
        pl.DataFrame(schema={"source_file": pl.String, "record_index": pl.Int64,
                             "paper_id": pl.String}),
        identity,
    )  # fmt: skip
    cached = normalize_shard_step(shard, params, w1, cache)
    assert Path(shard["records"]).exists()  # a later build reads them
    shuffle_step(cached, str(identity), [], w1, cache)
    assert Path(cached["normalized"]).exists()
    shard = shard_files(records, tmp_path / "w2" / "parsed-a")  # the build's own parse
    work = normalize_shard_step(shard, params, w2, None)
    assert not Path(shard["records"]).exists()
    assert Path(shard["raw"]).exists()  # the publish reads the validation rejects' raw text
    split = shuffle_step(work, str(identity), [], w2, None)
    assert not Path(work["normalized"]).exists()
    assert pl.read_parquet(work["rejects"])["raw"].to_list() == ["r1"]  # the publish reads these
    assert pl.read_parquet(split["provenance"])["record_index"].to_list() == [0]
