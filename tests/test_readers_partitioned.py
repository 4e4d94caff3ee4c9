"""Readers see one table: a table written as a directory of node files (papers/dataset.py) reads,
through polars, DuckDB, pyarrow.dataset and Hugging Face `datasets`, as exactly the columns and
rows of the same table written as one file. No reader adds a hive column: the directory is flat.
Also the rule the writer follows: nothing but published files inside a table directory, because
several readers read hidden and underscore files there.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as arrow
import pyarrow.dataset as pads
import pytest

from papers import io
from papers.config import WriteParams
from papers.dataset import split_by_node, table_files, write_table
from schemas import PUBLISHED, Papers, polars_schema
from tests.conftest import SEED, build_local, read_table

MAX_ROWS = 8
# arXiv ids of every form, so the 57 seed papers spread over arXiv month, bucket, archive and
# hash nodes (the seed itself only has title: ids)
ARXIV = [
    *(f"2401.{n:05d}" for n in range(1, 12)), *(f"2401.{n:05d}" for n in range(10_001, 10_005)),
    *(f"2312.{n:05d}" for n in range(1, 6)), *(f"hep-th/99010{n:02d}" for n in range(1, 6)),
    "math.AG/0601001", "0704.0001",
]  # fmt: skip
META = {"papers.dataset": "t", "papers.schema_version": "1", "papers.table": "papers"}


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the papers table as one file, its directory of node files), from the seed build."""
    work = tmp_path_factory.mktemp("readers")
    raw = work / "raw"
    raw.mkdir()
    shutil.copy(SEED, raw / SEED.name)
    build_local(raw, work / "built")
    papers = read_table(work / "built", "papers")
    ids = papers["paper_id"].to_list()
    papers = papers.with_columns(pl.Series("paper_id", ARXIV + ids[len(ARXIV) :]))
    _, sort_by = PUBLISHED["papers"]
    single = work / "single.parquet"
    io.write_parquet(papers, Papers, single, WriteParams(), META, sort_by)
    root = work / "dataset"
    entries = write_table(
        split_by_node(papers, MAX_ROWS), Papers, root / "papers", WriteParams(), META, sort_by
    )
    nodes = {e.node for e in entries}
    assert len(nodes) >= 5, nodes
    assert any(n.startswith("arxiv") for n in nodes)
    assert any(n.startswith("other") for n in nodes)
    return single, root / "papers"


COLUMNS = polars_schema(Papers).names()


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort("paper_id")


def test_polars_glob(tables: tuple[Path, Path]) -> None:
    single, table = tables
    expected = pl.read_parquet(single)
    for pattern in ("**/*.parquet", "*.parquet"):
        got = pl.read_parquet(table / pattern)
        assert got.columns == COLUMNS == expected.columns
        assert got.schema == expected.schema
        assert _sorted(got).equals(_sorted(expected))
    lazy = pl.scan_parquet(str(table.parent) + "/papers/**/*.parquet").collect()
    assert _sorted(lazy).equals(_sorted(expected))


def test_duckdb_read_parquet_glob(tables: tuple[Path, Path]) -> None:
    single, table = tables
    con = duckdb.connect()

    def read(path: str) -> arrow.Table:
        return con.sql(f"select * from read_parquet('{path}') order by paper_id").to_arrow_table()

    got = read(f"{table}/**/*.parquet")
    expected = read(str(single))
    assert got.column_names == COLUMNS
    assert got.schema == expected.schema
    assert got.equals(expected)
    assert con.execute(f"select count(*) from '{table}/*.parquet'").fetchone() == (
        expected.num_rows,
    )


def test_pyarrow_dataset(tables: tuple[Path, Path]) -> None:
    single, table = tables
    expected = pl.read_parquet(single)
    for dataset in (pads.dataset(table), pads.dataset(table, format="parquet", partitioning=None)):
        got = dataset.to_table()
        assert got.column_names == COLUMNS
        assert _sorted(pl.from_arrow(got)).equals(_sorted(expected))  # type: ignore[arg-type]


def test_hf_datasets_parquet_glob(
    tables: tuple[Path, Path], hf_offline: Any, tmp_path: Path
) -> None:
    single, table = tables

    def load(files: str) -> pl.DataFrame:
        loaded = hf_offline.load_dataset(
            "parquet", data_files={"train": files}, cache_dir=str(tmp_path)
        )
        train = loaded["train"]
        assert train.column_names == COLUMNS
        return pl.from_arrow(train.with_format("arrow")[:])  # type: ignore[return-value]

    expected = load(str(single))
    for pattern in ("*.parquet", "**/*.parquet"):
        assert _sorted(load(f"{table}/{pattern}")).equals(_sorted(expected))


def test_stray_files_in_a_table_directory_are_read(
    tables: tuple[Path, Path], tmp_path: Path
) -> None:
    """Why staging never happens inside a table directory: polars and DuckDB read a hidden
    (`.x.parquet`) and an underscore (`_x.parquet`) file there, `datasets` the underscore one;
    only pyarrow.dataset skips both. A table directory holds published files only."""
    _, table = tables
    copy = tmp_path / "papers"
    shutil.copytree(table, copy)
    rows = pl.read_parquet(copy / "*.parquet").height
    first = table_files(copy)[0]
    extra = pl.read_parquet(first).height
    shutil.copy(first, copy / ".staging-part.parquet")
    shutil.copy(first, copy / "_tmp-part.parquet")
    assert pl.read_parquet(copy / "*.parquet").height == rows + 2 * extra
    query = f"select count(*) from read_parquet('{copy}/**/*.parquet')"
    assert duckdb.connect().execute(query).fetchall() == [(rows + 2 * extra,)]
    assert pads.dataset(copy).count_rows() == rows
    assert len(table_files(copy)) == len(table_files(table))  # what the dataset module lists
