"""A published table as a directory of content-named Parquet files, one per node of the plan.

Design: docs/design/partitioned-versions.md §2 and §4. `write_table` writes each node's rows with
`io.write_parquet` (deterministic bytes) and names the file `<node>-<sha12 of its bytes>.parquet`,
so the same rows always give the same name and bytes, and a node whose rows did not change keeps
its file. The files carry no dataset version in their metadata: with it, every file would change
with every version.

**Staging never inside a table directory.** Readers glob the directory (`papers/*.parquet`,
`papers/**/*.parquet`) and DuckDB, polars and `datasets` read hidden (`.x.parquet`) and `_x.parquet`
files there too (tests/test_readers_partitioned.py). So a file is built outside the table
directory (in `tmp_dir`, a sibling) and renamed in only when complete.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandera.polars as pa
import polars as pl

from papers import io
from papers.config import WriteParams
from papers.layout import ROOT, nodes_of

# key-value metadata a partition file must not carry: it changes with every version
VERSION_KEYS = frozenset({"papers.dataset_version"})
SHA_CHARS = 12
_SAFE = re.compile(r"[A-Za-z0-9._-]+")


@dataclass(frozen=True)
class FileEntry:
    """One file of a table, as the manifest lists it (path relative to the dataset root)."""

    path: str
    node: str
    rows: int
    bytes: int
    sha256: str
    # the node's input key (a file whose key is unchanged is kept as it is), None when unkeyed
    key: str | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def file_name(node: str, sha256: str) -> str:
    return f"{node}-{sha256[:SHA_CHARS]}.parquet"


def node_of_file(name: str) -> str:
    """The node of a content-named file name (`arxiv-2015-01-b0-1a2b3c4d5e6f.parquet`)."""
    stem = name.removesuffix(".parquet")
    node, _, sha = stem.rpartition("-")
    if not node or len(sha) != SHA_CHARS:
        raise ValueError(f"not a partition file name: {name}")
    return node


def split_by_node(
    frame: pl.DataFrame, max_rows: int, key: str = "paper_id", table: str | None = None
) -> dict[str, pl.DataFrame]:
    """A table's rows grouped by their file under the plan for the table's own leaf counts
    (by raw file when `table` is provenance or rejected, layout.table_leaf)."""
    if frame.is_empty():
        return {ROOT: frame}
    planned = nodes_of(frame, max_rows, key, table)
    return {
        str(node): part.drop("node")
        for (node,), part in sorted(planned.partition_by("node", as_dict=True).items())
    }


def write_table(
    nodes: Mapping[str, pl.DataFrame | Iterable[pl.DataFrame]],
    model: type[pa.DataFrameModel],
    table_dir: Path,
    params: WriteParams,
    metadata: Mapping[str, str],
    sort_by: Iterable[str],
    tmp_dir: Path | None = None,
) -> list[FileEntry]:
    """Write each node's rows as one content-named file in table_dir; return their entries.

    `nodes` maps a node name to its rows (a frame, or its sorted parts in published order). A
    table with no node is written as one empty file named by the root node, so readers still see
    its columns. Each file is written in `tmp_dir` (default: a sibling `.tmp-<table>` folder,
    never inside table_dir), fsynced, then renamed in; a file already there under the same name
    has the same bytes and is kept as it is. Entries are sorted by node; paths are relative to
    table_dir's parent (the dataset root).
    """
    bad = VERSION_KEYS & set(metadata)
    if bad:
        raise ValueError(f"partition files must not carry {sorted(bad)}: it changes every file")
    order = list(sort_by)
    table_dir.mkdir(parents=True, exist_ok=True)
    scratch = tmp_dir or table_dir.parent / f".tmp-{table_dir.name}"
    scratch.mkdir(parents=True, exist_ok=True)
    items: dict[str, pl.DataFrame | Iterable[pl.DataFrame]] = dict(nodes) or {ROOT: []}
    entries: list[FileEntry] = []
    for node in sorted(items):
        if node_name_unsafe(node):
            raise ValueError(f"not a node name: {node!r}")
        tmp = scratch / f"{node}.{os.getpid()}-{threading.get_ident()}.parquet"
        rows = io.write_parquet(items[node], model, tmp, params, metadata, order)
        digest = io.sha256_file(tmp)
        name = file_name(node, digest)
        target = table_dir / name
        size = tmp.stat().st_size
        if target.exists():
            tmp.unlink()  # content-named: the same name is the same bytes
        else:
            io.fsync_file(tmp)
            os.replace(tmp, target)
        entries.append(FileEntry(f"{table_dir.name}/{name}", node, rows, size, digest))
    if tmp_dir is None:
        shutil.rmtree(scratch, ignore_errors=True)
    return entries


def node_name_unsafe(node: str) -> bool:
    """A node name that is empty, hidden to some readers, or not plain ASCII [A-Za-z0-9._-]."""
    return not _SAFE.fullmatch(node) or node.startswith((".", "_"))


def table_files(table_dir: Path) -> list[Path]:
    """The visible Parquet files of a table directory, sorted (what a `*.parquet` glob means)."""
    return sorted(p for p in table_dir.glob("*.parquet") if not p.name.startswith((".", "_")))


def scan_table(table_dir: Path) -> pl.LazyFrame:
    """One table from its directory, read as the published readers do (a glob of its files)."""
    return pl.scan_parquet(table_dir / "*.parquet")


def scan_entries(root: Path, entries: Iterable[FileEntry]) -> pl.LazyFrame:
    """Exactly the files a manifest lists (safe during a publish, unlike a glob)."""
    return pl.scan_parquet([root / e.path for e in entries])


def manifest_tables(manifest: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The files of each table a manifest lists, {table: [entry, …]} in listed order.

    Format 2 lists them under `tables.<name>.files`; format 1 (older versions, still read by
    `papers versions`/`diff` and restores) had one flat `outputs` list, where a table is
    `papers.parquet` or its node files `papers/<node>-<sha12>.parquet`. Each entry has at least
    path (relative to the dataset root), rows and sha256. (Implemented in io, which recovers
    and garbage-collects against a manifest from below this layer.)
    """
    return io.manifest_tables(manifest)


def scan_manifest_table(root: Path, manifest: Mapping[str, Any], name: str) -> pl.LazyFrame:
    """Table `name` of the dataset in root, read through exactly the files its manifest lists."""
    entries = manifest_tables(manifest).get(name)
    if not entries:
        raise KeyError(f"the manifest lists no table {name!r}")
    return pl.scan_parquet([root / str(e["path"]) for e in entries])
