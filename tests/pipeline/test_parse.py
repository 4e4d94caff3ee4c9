"""parse: the parse cache is keyed by content and never trusted when incomplete."""

from __future__ import annotations

from pathlib import Path

from papers.config import load_params
from papers.pipeline.parse import parse_step
from tests.conftest import REPO, SEED


def parse(raw: Path, work: Path, cache: Path) -> dict[str, object]:
    params = load_params(REPO / "params.yaml")
    return parse_step(str(raw), SEED.name, params, str(work), str(cache))


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


def test_parse_without_a_cache_hashes_the_file_as_it_parses(tmp_path: Path) -> None:
    import polars as pl

    from papers.io import sha256_file

    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / SEED.name).write_bytes(SEED.read_bytes())
    params = load_params(REPO / "params.yaml")
    cached = parse(raw, tmp_path / "work-a", tmp_path / "cache")
    (tmp_path / "work-b").mkdir()
    uncached = parse_step(str(raw), SEED.name, params, str(tmp_path / "work-b"), None)
    given = parse_step(str(raw), SEED.name, params, str(tmp_path / "work-c"), None, "f" * 64)
    # the same hash, key and shards as when the hash is taken first (the cache's way)
    assert uncached["sha256"] == cached["sha256"] == sha256_file(raw / SEED.name)
    assert uncached["key"] == cached["key"]
    assert given["sha256"] == "f" * 64  # a hash the caller took is used as it is
    for a, b in zip(uncached["records"], cached["records"], strict=True):  # type: ignore[call-overload]
        assert pl.read_parquet(a).equals(pl.read_parquet(b))
    # each batch's raw text apart from its fields, in the same order
    for fields, text in zip(uncached["records"], uncached["raw"], strict=True):  # type: ignore[call-overload]
        assert "raw" not in pl.read_parquet_schema(fields)
        keys = pl.read_parquet(text)
        assert keys.columns == ["source_file", "record_index", "raw"]
        assert keys.drop("raw").equals(pl.read_parquet(fields, columns=keys.columns[:2]))
