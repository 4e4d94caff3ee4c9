"""Readers see one table, on a real published build (docs/design/partitioned-versions.md §7).

The seed plus a few fixture files (arXiv ids, rejects) is built twice with the pipeline: `write.layout: single` and `partitioned` with tiny
`partition_max_rows`, so each table written as a directory has several node files. For all seven
tables, polars (`*.parquet` and `**/*.parquet`), DuckDB `read_parquet`, `pyarrow.dataset` and
Hugging Face `datasets` (a `parquet` glob, and the dataset card's own config by name, offline)
each return exactly the table's schema columns and, sorted, the single-file build's rows, as
does the strict read through the manifest's file list.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as arrow
import pyarrow.dataset as pads
import pytest
import yaml

from papers import io
from papers.card import CARD
from papers.dataset import scan_manifest_table
from schemas import PUBLISHED, arrow_schema
from tests.conftest import FIXTURES, SEED, build_local, params_file

TABLES = list(PUBLISHED)
# Beside the seed (57 papers, all `title:` ids: hash nodes): arXiv ids of both styles and six
# rejects from three files (an empty table is one file `datasets` cannot load: "no data").
# Real arXiv records holding near-duplicate pairs in four arXiv months fill `duplicates`.
EXTRA = ["arxiv/snapshot.jsonl", "arxiv/snapshot_broken.jsonl", "arxiv/atom_api_error.xml",
         "hf_api/2024-06-17-one-bad.json", "arxiv/snapshot_neardup.jsonl"]  # fmt: skip
# small enough that each table makes several files: 77 papers, 21 links, 202+ tags, 77
# provenance rows, 6 rejects, 9 near-duplicate pairs, 20 related rows a paper
MAX_ROWS = {"papers": 20, "links": 5, "tags": 40, "provenance": 20, "rejected": 2,
            "duplicates": 2, "related": 400}  # fmt: skip
# The same checks on a build of another raw folder (e.g. the real records the project was
# measured on): PAPERS_READERS_RAW=../shared/realdata pytest tests/test_readers_published.py
OTHER_RAW = os.environ.get("PAPERS_READERS_RAW")
OTHER_MAX_ROWS = {"papers": 2000, "links": 2000, "tags": 10000, "provenance": 2000, "rejected": 20,
                  "duplicates": 10, "related": 40000}  # fmt: skip


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the seed built with one file per table, the seed built partitioned)."""
    work = tmp_path_factory.mktemp("published")
    raw = work / "raw"
    limits = MAX_ROWS
    if OTHER_RAW:
        shutil.copytree(OTHER_RAW, raw)
        limits = OTHER_MAX_ROWS
    else:
        raw.mkdir()
        shutil.copy(SEED, raw / SEED.name)
        for name in EXTRA:
            shutil.copy(FIXTURES / name, raw / Path(name).name)
    for layout in ("single", "partitioned"):
        folder = work / f"{layout}-params"  # beside raw/: the build reads every file in raw/
        folder.mkdir()
        build_local(
            raw, work / layout, params_file(folder, layout=layout, partition_max_rows=limits)
        )
    return work / "single", work / "partitioned"


def _card_paths(out: Path) -> dict[str, str]:
    """Each config of the card's YAML header -> its data_files path (relative to out)."""
    header = yaml.safe_load((out / CARD).read_text("utf-8").split("---\n")[1])
    return {c["config_name"]: c["data_files"][0]["path"] for c in header["configs"]}


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows in one order whatever the reader: by every column that is not nested."""
    flat = [n for n, t in frame.schema.items() if not t.is_nested()]
    return frame.sort(flat, nulls_last=True)


def _expected(single: Path, name: str) -> pl.DataFrame:
    return _sorted(pl.read_parquet(single / f"{name}.parquet"))


def _columns(name: str) -> list[str]:
    return arrow_schema(PUBLISHED[name][0]).names


def test_the_partitioned_build_has_several_files_per_directory(builds: tuple[Path, Path]) -> None:
    single, out = builds
    paths = _card_paths(out)
    for name in ("papers", "links", "tags"):
        assert paths[name] == f"{name}/*.parquet"
    for name in TABLES:
        assert (single / f"{name}.parquet").is_file()
        if (out / name).is_dir():  # provenance and rejected too, once they are written as dirs
            assert paths[name] == f"{name}/*.parquet"
            assert not (out / f"{name}.parquet").exists()
            assert len(list((out / name).glob("*.parquet"))) >= 2, name
        else:
            assert paths[name] == f"{name}.parquet"


@pytest.mark.parametrize("name", TABLES)
def test_strict_read_through_the_manifest(builds: tuple[Path, Path], name: str) -> None:
    single, out = builds
    got = scan_manifest_table(out, io.read_json(out / io.MANIFEST), name).collect()
    assert got.columns == _columns(name)
    assert _sorted(got).equals(_expected(single, name))


@pytest.mark.parametrize("name", TABLES)
def test_polars_glob(builds: tuple[Path, Path], name: str) -> None:
    single, out = builds
    expected = _expected(single, name)
    path = _card_paths(out)[name]
    patterns = [path, f"{name}/**/*.parquet"] if (out / name).is_dir() else [path]
    for pattern in patterns:
        got = pl.read_parquet(out / pattern)
        assert got.columns == _columns(name), pattern
        assert got.schema == expected.schema, pattern
        assert _sorted(got).equals(expected), pattern
        assert _sorted(pl.scan_parquet(out / pattern).collect()).equals(expected), pattern


@pytest.mark.parametrize("name", TABLES)
def test_duckdb_read_parquet_glob(builds: tuple[Path, Path], name: str) -> None:
    """DuckDB's read of the glob equals its read of the single file (it gives `published_at`
    the `Etc/UTC` zone for either, so the comparison is DuckDB against DuckDB)."""
    single, out = builds
    con = duckdb.connect()

    def read(path: Path) -> arrow.Table:
        return con.sql(f"select * from read_parquet('{path}')").to_arrow_table()

    got = read(out / _card_paths(out)[name])
    expected = read(single / f"{name}.parquet")
    assert got.column_names == _columns(name)
    assert got.schema == expected.schema
    as_frame = pl.from_arrow(got)
    assert isinstance(as_frame, pl.DataFrame)
    assert _sorted(as_frame).equals(_sorted(pl.from_arrow(expected)))  # type: ignore[arg-type]
    if (out / name).is_dir():
        deep = read(out / name / "**" / "*.parquet")
        assert deep.num_rows == expected.num_rows


@pytest.mark.parametrize("name", TABLES)
def test_pyarrow_dataset(builds: tuple[Path, Path], name: str) -> None:
    single, out = builds
    expected = _expected(single, name)
    source = out / name if (out / name).is_dir() else out / f"{name}.parquet"
    for dataset in (pads.dataset(source), pads.dataset(source, format="parquet")):
        table = dataset.to_table()
        assert table.column_names == _columns(name)
        got = pl.from_arrow(table)
        assert isinstance(got, pl.DataFrame)
        assert _sorted(got).equals(expected)


def _hf_frame(loaded: Any) -> pl.DataFrame:
    train = loaded["train"]
    frame = pl.from_arrow(train.with_format("arrow")[:])
    assert isinstance(frame, pl.DataFrame)
    return frame


@pytest.mark.parametrize("name", TABLES)
def test_hf_datasets_parquet_glob(
    builds: tuple[Path, Path], name: str, hf_offline: Any, tmp_path: Path
) -> None:
    single, out = builds
    glob = str(out / _card_paths(out)[name])
    loaded = hf_offline.load_dataset("parquet", data_files={"train": glob}, cache_dir=str(tmp_path))
    got = _hf_frame(loaded)
    assert got.columns == _columns(name)
    assert _sorted(got).equals(_expected(single, name))


@pytest.mark.parametrize("name", TABLES)
def test_hf_datasets_card_config(
    builds: tuple[Path, Path], name: str, hf_offline: Any, tmp_path: Path
) -> None:
    """`load_dataset(folder, config)`: `datasets` reads the card's `configs` itself."""
    single, out = builds
    got = _hf_frame(hf_offline.load_dataset(str(out), name, cache_dir=str(tmp_path)))
    assert got.columns == _columns(name)
    assert _sorted(got).equals(_expected(single, name))
