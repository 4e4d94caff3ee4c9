"""dataset: a table written as content-named files by node, byte-identical for the same rows."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from papers import dataset, io
from papers.config import WriteParams
from papers.dataset import (
    FileEntry,
    node_of_file,
    scan_entries,
    scan_table,
    split_by_node,
    table_files,
    write_table,
)
from schemas import Tags, polars_schema

META = {"papers.dataset": "t", "papers.schema_version": "1", "papers.table": "tags"}
SORT = ("paper_id", "tag")
IDS = [
    "2401.00001", "2401.00002", "2401.10001", "2402.00001", "0704.0001", "hep-th/9901001",
    "math.AG/0601001", "doi:10.1000/xyz", "title:0123456789abcdef", "title:fedcba9876543210",
]  # fmt: skip
NAME = re.compile(r"^[A-Za-z0-9._-]+-[0-9a-f]{12}\.parquet$")


def tags(ids: list[str], tag: str = "x") -> pl.DataFrame:
    rows = [(p, t, 1.0, "keyword") for p in ids for t in (tag, "z")]
    return pl.DataFrame(rows, schema=polars_schema(Tags), orient="row")


def write(frame: pl.DataFrame, table_dir: Path, max_rows: int = 4) -> list[FileEntry]:
    return write_table(split_by_node(frame, max_rows), Tags, table_dir, WriteParams(), META, SORT)


def test_entries_describe_the_files(tmp_path: Path) -> None:
    frame = tags(IDS)
    entries = write(frame, tmp_path / "tags")
    assert len(entries) > 3  # several nodes
    assert [e.node for e in entries] == sorted(e.node for e in entries)
    assert sum(e.rows for e in entries) == frame.height
    for entry in entries:
        path = tmp_path / entry.path
        assert entry.path.startswith("tags/")
        assert NAME.match(path.name), path.name
        assert node_of_file(path.name) == entry.node
        assert entry.sha256 == io.sha256_file(path)
        assert entry.sha256[:12] in path.name
        assert entry.bytes == path.stat().st_size
        assert entry.rows == pq.read_metadata(path).num_rows
        assert set(entry.as_json()) == {"path", "node", "rows", "bytes", "sha256", "key"}
    # nothing else in or beside the table directory: the scratch folder is gone
    assert sorted(p.name for p in (tmp_path / "tags").iterdir()) == sorted(
        Path(e.path).name for e in entries
    )
    assert [p.name for p in tmp_path.iterdir()] == ["tags"]
    back = scan_table(tmp_path / "tags").collect().sort(SORT)
    assert back.equals(frame.sort(SORT))
    assert scan_entries(tmp_path, entries).collect().sort(SORT).equals(back)
    assert [p.name for p in table_files(tmp_path / "tags")] == sorted(
        Path(e.path).name for e in entries
    )


def test_same_rows_same_names_and_bytes(tmp_path: Path) -> None:
    frame = tags(IDS)
    one = write(frame, tmp_path / "a" / "tags")
    two = write(frame.reverse(), tmp_path / "b" / "tags")  # any row order
    # a node's rows given as several parts in published order give the same file too
    parts = {
        node: [part.slice(0, 1), part.slice(1)]
        for node, part in split_by_node(frame.sort(SORT), 4).items()
    }
    three = write_table(parts, Tags, tmp_path / "c" / "tags", WriteParams(), META, SORT)
    assert one == two == three
    for entry in one:
        assert (tmp_path / "a" / entry.path).read_bytes() == (
            tmp_path / "c" / entry.path
        ).read_bytes()


def test_no_dataset_version_in_files(tmp_path: Path) -> None:
    entries = write(tags(IDS), tmp_path / "tags")
    kv = pq.read_metadata(tmp_path / entries[0].path).metadata
    assert kv[b"papers.table"] == b"tags"
    assert not any(b"dataset_version" in key for key in kv)
    with pytest.raises(ValueError, match="dataset_version"):
        write_table(
            split_by_node(tags(IDS), 4), Tags, tmp_path / "x", WriteParams(),
            {**META, "papers.dataset_version": "v1"}, SORT,
        )  # fmt: skip


def test_a_changed_node_changes_only_its_file(tmp_path: Path) -> None:
    before = {e.node: e for e in write(tags(IDS), tmp_path / "v1" / "tags")}
    changed = tags(IDS).with_columns(
        pl.when(pl.col("paper_id") == "hep-th/9901001")
        .then(pl.lit(2.0))
        .otherwise(pl.col("score"))
        .alias("score")
    )
    after = {e.node: e for e in write(changed, tmp_path / "v2" / "tags")}
    assert set(before) == set(after)
    differ = {n for n in before if before[n] != after[n]}
    assert len(differ) == 1
    (node,) = differ
    assert "hep-th/9901001" in pl.read_parquet(tmp_path / "v2" / after[node].path)["paper_id"]


def test_rewrite_into_the_same_directory_keeps_unchanged_files(tmp_path: Path) -> None:
    first = write(tags(IDS), tmp_path / "tags")
    stamps = {e.path: (tmp_path / e.path).stat().st_ino for e in first}
    again = write(tags(IDS), tmp_path / "tags")
    assert again == first
    assert {e.path: (tmp_path / e.path).stat().st_ino for e in again} == stamps


def test_empty_table_is_one_file_with_the_columns(tmp_path: Path) -> None:
    empty = tags([])
    (entry,) = write(empty, tmp_path / "tags")
    assert entry.node == "all"
    assert entry.rows == 0
    back = pl.read_parquet(tmp_path / entry.path)
    assert back.schema == polars_schema(Tags)
    (same,) = write_table({}, Tags, tmp_path / "t2", WriteParams(), META, SORT)
    assert same.sha256 == entry.sha256


@pytest.mark.parametrize("node", ["", ".hidden", "_x", "a/b", "a b", "é"])
def test_unsafe_node_names_are_refused(tmp_path: Path, node: str) -> None:
    with pytest.raises(ValueError, match="node name"):
        write_table({node: tags(IDS[:1])}, Tags, tmp_path / "tags", WriteParams(), META, SORT)


def test_node_of_file_refuses_other_names() -> None:
    assert node_of_file("arxiv-2015-01-b0-0123456789ab.parquet") == "arxiv-2015-01-b0"
    with pytest.raises(ValueError, match="partition file"):
        node_of_file("papers.parquet")


def test_scratch_folder_is_outside_the_table(tmp_path: Path) -> None:
    scratch = tmp_path / ".staging" / "tmp"
    entries = write_table(
        split_by_node(tags(IDS), 4), Tags, tmp_path / "tags", WriteParams(), META, SORT, scratch
    )
    assert scratch.is_dir()  # given by the caller: kept, and left empty
    assert not list(scratch.iterdir())
    assert len(list((tmp_path / "tags").iterdir())) == len(entries)


def test_manifest_tables_reads_both_formats() -> None:
    v1 = {
        "outputs": [
            {"path": "papers/arxiv-2015-ab12ab12ab12.parquet", "rows": 2, "sha256": "a"},
            {"path": "papers/other-cd34cd34cd34.parquet", "rows": 1, "sha256": "b"},
            {"path": "links.parquet", "rows": 5, "sha256": "c"},
            {"path": "metrics.json", "sha256": "d"},
        ]
    }
    grouped = dataset.manifest_tables(v1)
    assert [e["rows"] for e in grouped["papers"]] == [2, 1]
    assert grouped["links"] == [v1["outputs"][2]]
    v2 = {"tables": {"papers": {"rows": 3, "files": v1["outputs"][:2]}}}
    assert dataset.manifest_tables(v2) == {"papers": v1["outputs"][:2]}
