"""The change feed: which papers a version added, updated or removed, and which columns changed.

Design: docs/design/partitioned-versions.md §5. A version's feed is computed from the papers files
of the two manifests. A file both versions list (same path and sha256) holds the same rows in
both, so it is skipped unread: a paper in it cannot be in any other file of either version (ids are
unique within a version). Only the files that differ are read, once, and their rows compared by
paper_id with one join, so memory is bounded by the changed files, not the table.

The feed is `changes/v<number:06d>-<sha12>.parquet` (schema `schemas.Changes`), sorted by
(op, paper_id). Applying it to the previous version's papers gives the new version's
(`apply_changes`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import polars as pl

from papers.config import WriteParams
from papers.dataset import FileEntry, node_of_file, table_files, write_table
from papers.tasks import TaskMap, one_by_one
from schemas import OPS, SCHEMA_VERSION, Changes, Papers, polars_schema

KEY = "paper_id"
FEED_DIR = "changes"
FEED_SORT = ("op", KEY)
_NEW = "__new"
_IN_OLD = "__in_old"
_IN_NEW = "__in_new"
CHANGES_SCHEMA = pl.Schema(
    [(KEY, pl.String()), ("op", pl.String()), ("fields", pl.List(pl.String))]
)


def _unshared(
    entries: Iterable[Mapping[str, Any]], others: Iterable[Mapping[str, Any]]
) -> list[str]:
    """Paths of the entries the other side does not list with the same path and sha256."""
    both = {(str(e["path"]), str(e["sha256"])) for e in others}
    return [str(e["path"]) for e in entries if (str(e["path"]), str(e["sha256"])) not in both]


def _by_node(paths: list[str]) -> dict[str, list[str]]:
    """Paths grouped by the node of their file name (a single-file table is node "")."""
    grouped: dict[str, list[str]] = {}
    for path in paths:
        try:
            node = node_of_file(Path(path).name)
        except ValueError:
            node = ""  # papers.parquet: the single layout
        grouped.setdefault(node, []).append(path)
    return grouped


def _read(root: Path | None, paths: list[str] | None) -> pl.DataFrame | None:
    return pl.read_parquet([root / p for p in paths]) if root is not None and paths else None


def version_changes(
    root_old: Path | None,
    old_entries: list[dict[str, Any]],
    root_new: Path,
    new_entries: list[dict[str, Any]],
    map_nodes: TaskMap[pl.DataFrame] | None = None,
) -> pl.DataFrame:
    """The papers added, updated and removed from one version to the next.

    old_entries / new_entries: the papers table's file entries of each manifest
    (`dataset.manifest_tables(manifest)["papers"]`: path relative to its root, sha256, ...).
    root_old None: there is no previous version (everything is added). Only files that are not in
    both lists (path and sha256) are read. Returns `CHANGES_SCHEMA` (paper_id, op, fields) as
    `frame_changes` does.

    Memory: the changed files are compared node by node (the old and new files of one node at a
    time); of a node on one side only just the ids are read. A paper found on one side only of
    its node may have moved to another node (the plan split or merged it, or the layout
    changed): only its id is kept, and the moved papers' rows are read back and compared at the
    end, 50,000 at a time, so they are reported as updated when they changed, else not at all.
    A move from one file per table to directories holds 50,000 papers' rows, not two tables.

    map_nodes(compare, [(node,), ...]) compares the nodes present on both sides, results in
    call order (default: one after the other; the publish passes its thread map, so two nodes
    are compared at once and memory holds two nodes' files).
    """
    if root_old is None and old_entries:
        raise ValueError("old file entries given without the folder they are in (root_old)")
    old_nodes = _by_node(_unshared(old_entries, new_entries))
    new_nodes = _by_node(_unshared(new_entries, old_entries))
    updated: list[pl.DataFrame] = []
    only_old: list[pl.DataFrame] = []
    only_new: list[pl.DataFrame] = []
    both: list[tuple[str]] = []
    for node in sorted(old_nodes.keys() | new_nodes.keys()):
        if node not in old_nodes or node not in new_nodes:
            # a node on one side only (a new month, or another layout): its ids alone
            side, root, paths = (
                (only_new, root_new, new_nodes[node])
                if node in new_nodes
                else (only_old, root_old, old_nodes[node])
            )
            side.append(_ids(root, paths, node))
        else:
            both.append((node,))

    def compare(node: str) -> pl.DataFrame:
        # one node's old and new files, read and compared, then dropped
        found = frame_changes(_read(root_old, old_nodes[node]), _read(root_new, new_nodes[node]))
        return found.with_columns(pl.lit(node).alias(_NODE))

    for found in (map_nodes or one_by_one)(compare, both):
        updated.append(found.filter(pl.col("op") == "updated").drop(_NODE))
        only_old.append(found.filter(op="removed").select(KEY, _NODE))
        only_new.append(found.filter(op="added").select(KEY, _NODE))
    gone = pl.concat(only_old) if only_old else pl.DataFrame(schema=_IDS)
    came = pl.concat(only_new) if only_new else pl.DataFrame(schema=_IDS)
    # a paper on one side only of its node may have moved to another node (the plan split or
    # merged it, or the layout changed): compared with its rows at the end, batch by batch
    moved = gone.join(came, on=KEY, how="semi").get_column(KEY).sort()
    for start in range(0, moved.len(), _MOVED_BATCH):
        batch = moved.slice(start, _MOVED_BATCH)
        updated.append(
            frame_changes(
                _rows(root_old, old_nodes, gone.filter(pl.col(KEY).is_in(batch.implode()))),
                _rows(root_new, new_nodes, came.filter(pl.col(KEY).is_in(batch.implode()))),
            )
        )
    simple = [
        frame.join(moved.to_frame(), on=KEY, how="anti").select(
            KEY, pl.lit(op).alias("op"), pl.lit([], pl.List(pl.String)).alias("fields")
        )
        for frame, op in ((came, "added"), (gone, "removed"))
    ]
    return pl.concat([*updated, *simple]).cast(CHANGES_SCHEMA).sort(FEED_SORT)


# the ids of the rows on one side only, with their node
_NODE = "__node"
_IDS = pl.Schema([(KEY, pl.String()), (_NODE, pl.String())])
# papers compared at once when they moved between nodes (their full rows, both sides)
_MOVED_BATCH = 50_000


def _ids(root: Path | None, paths: list[str], node: str) -> pl.DataFrame:
    assert root is not None  # old entries come with their root (checked above)
    return (
        pl.scan_parquet([root / p for p in paths])
        .select(KEY)
        .with_columns(pl.lit(node).alias(_NODE))
        .collect()
    )


def _rows(root: Path | None, nodes: Mapping[str, list[str]], wanted: pl.DataFrame) -> pl.DataFrame:
    """The full rows of the wanted (paper_id, node) pairs, read from their nodes' files."""
    assert root is not None
    frames = [
        pl.scan_parquet([root / p for p in nodes[node]])
        .filter(pl.col(KEY).is_in(ids[KEY].implode()))
        .collect()
        for (node,), ids in wanted.partition_by(_NODE, as_dict=True).items()
    ]
    return pl.concat(frames, how="diagonal_relaxed")


def frame_changes(old: pl.DataFrame | None, new: pl.DataFrame | None) -> pl.DataFrame:
    """Compare two sets of papers rows by paper_id: one row per paper added (only in new),
    removed (only in old) or updated (in both, some column differs), sorted by (op, paper_id).

    `fields` lists an update's differing columns in the new table's column order (then columns
    only the old one had): values compared null-aware (null == null), lists and structs exactly,
    element by element. A column on one side only, or whose dtype changed, differs for every
    paper in both. Added and removed rows have empty `fields`. None stands for no rows.
    """
    if old is None and new is None:
        return pl.DataFrame(schema=CHANGES_SCHEMA)
    papers_schema = polars_schema(Papers)
    old = (
        old
        if old is not None
        else pl.DataFrame(schema=new.schema if new is not None else papers_schema)
    )
    new = new if new is not None else pl.DataFrame(schema=old.schema)
    for side, frame in (("old", old), ("new", new)):
        if KEY not in frame.columns:
            raise ValueError(f"the {side} papers rows have no {KEY} column")
        if frame.get_column(KEY).is_duplicated().any():
            dup = frame.filter(pl.col(KEY).is_duplicated()).get_column(KEY).unique().sort()
            raise ValueError(f"{KEY} not unique in the {side} papers rows: {dup.head(3).to_list()}")
    columns = [c for c in new.columns if c != KEY] + [
        c for c in old.columns if c != KEY and c not in new.columns
    ]
    joined = old.with_columns(pl.lit(True).alias(_IN_OLD)).join(
        new.rename({c: f"{c}{_NEW}" for c in new.columns if c != KEY}).with_columns(
            pl.lit(True).alias(_IN_NEW)
        ),
        on=KEY,
        how="full",
        coalesce=True,
    )

    def differs(column: str) -> pl.Expr:
        if column not in old.columns or column not in new.columns:
            return pl.lit(True)
        if old.schema[column] != new.schema[column]:
            return pl.lit(True)
        return pl.col(column).ne_missing(pl.col(f"{column}{_NEW}"))

    fields = (
        pl.concat_list([pl.when(differs(c)).then(pl.lit(c)) for c in columns]).list.drop_nulls()
        if columns
        else pl.lit([], pl.List(pl.String))
    )
    op = (
        pl.when(pl.col(_IN_OLD).is_null())
        .then(pl.lit("added"))
        .when(pl.col(_IN_NEW).is_null())
        .then(pl.lit("removed"))
        .otherwise(pl.lit("updated"))
    )
    return (
        joined.select(
            pl.col(KEY),
            op.alias("op"),
            pl.when(pl.col(_IN_OLD) & pl.col(_IN_NEW))
            .then(fields)
            .otherwise(pl.lit([], pl.List(pl.String)))
            .alias("fields"),
        )
        .filter((pl.col("op") != "updated") | (pl.col("fields").list.len() > 0))
        .sort(FEED_SORT)
        .cast(CHANGES_SCHEMA)
    )


def feed_frame(version_number: int, dataset_version: str, changes: pl.DataFrame) -> pl.DataFrame:
    """A version's feed (`schemas.Changes`): its changes with the version number and id.

    previous_paper_id is null for now (re-identification is reported as removed + added).
    """
    schema = polars_schema(Changes)
    return (
        changes.with_columns(
            pl.lit(version_number, pl.Int64).alias("version"),
            pl.lit(dataset_version, pl.String).alias("dataset_version"),
            pl.lit(None, pl.String).alias("previous_paper_id"),
        )
        .select(schema.names())
        .cast(schema)
        .sort(FEED_SORT)
    )


def feed_node(number: int) -> str:
    return f"v{number:06d}"


def write_feed(
    frame: pl.DataFrame, changes_dir: Path, number: int, params: WriteParams | None = None
) -> FileEntry:
    """Write a version's feed as `changes_dir/v<number:06d>-<sha12>.parquet` (deterministic
    bytes: the same feed gives the same name and bytes); return its entry (path relative to
    changes_dir's parent, the dataset root)."""
    [entry] = write_table(
        {feed_node(number): frame},
        Changes,
        changes_dir,
        params or WriteParams(),
        {"papers.schema_version": SCHEMA_VERSION, "papers.table": FEED_DIR},
        FEED_SORT,
    )
    return entry


def totals(changes: pl.DataFrame) -> dict[str, int]:
    """Papers per op, every op present ({"added": n, "updated": n, "removed": n})."""
    counts = dict(changes.group_by("op").len().iter_rows())
    return {op: int(counts.get(op, 0)) for op in OPS}


def manifest_changes(entry: FileEntry, changes: pl.DataFrame) -> dict[str, Any]:
    """What a manifest records of its feed: `{"path", "added", "updated", "removed"}`."""
    return {"path": entry.path, **totals(changes)}


def field_counts(changes: pl.DataFrame) -> pl.DataFrame:
    """Per changed column of the updated papers: how many papers, and the first 3 ids.

    Sorted by papers (most first), then column name.
    """
    return (
        changes.filter(pl.col("op") == "updated")
        .select(KEY, pl.col("fields").alias("column"))
        .explode("column")
        .sort(KEY)
        .group_by("column")
        .agg(pl.len().cast(pl.Int64).alias("papers"), pl.col(KEY).head(3).alias("examples"))
        .sort(["papers", "column"], descending=[True, False])
    )


def apply_changes(
    previous: pl.DataFrame, feed: pl.DataFrame, current_rows: pl.DataFrame
) -> pl.DataFrame:
    """The new version's papers from the previous version's and the feed, sorted by paper_id.

    previous minus the removed and updated ids, plus the rows of the added and updated ids taken
    from current_rows (the new version's rows: the whole table or just its changed files).
    """
    take = feed.filter(pl.col("op").is_in(["added", "updated"])).select(KEY)
    drop = feed.filter(pl.col("op").is_in(["removed", "updated"])).select(KEY)
    rows = current_rows.join(take, on=KEY, how="semi")
    if rows.height != take.height:
        missing = take.join(rows, on=KEY, how="anti").get_column(KEY).sort()
        raise ValueError(
            f"{missing.len()} added or updated papers are not in the current rows, "
            f"e.g. {missing.head(3).to_list()}"
        )
    kept = previous.join(drop, on=KEY, how="anti")
    return pl.concat([kept.select(rows.columns), rows]).sort(KEY)


MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
COMPACT_SORT = ("version", *FEED_SORT)


def compact_feeds(
    changes_dir: Path, month: str, numbers: Iterable[int], params: WriteParams | None = None
) -> tuple[FileEntry, list[str]]:
    """Merge one calendar month's daily feed files (versions `numbers`) into
    `changes_dir/<month>-<sha12>.parquet`, rows in version order (design §5: about 12 feed files
    a year plus the current month). Returns the merged file's entry and the daily files it
    replaces (paths relative to the dataset root), which the caller removes only after the
    manifest that no longer needs them is committed: nothing is deleted here.

    The same feeds give the same bytes. The month is the caller's (the versions' publish month).
    """
    if not MONTH.fullmatch(month):
        raise ValueError(f"not a month (YYYY-MM): {month!r}")
    wanted = sorted(set(numbers))
    daily = {node_of_file(p.name): p for p in table_files(changes_dir) if p.name.startswith("v")}
    missing = [n for n in wanted if feed_node(n) not in daily]
    if missing:
        raise ValueError(f"{changes_dir}: no feed file for versions {missing}")
    paths = [daily[feed_node(n)] for n in wanted]
    [entry] = write_table(
        {month: [pl.read_parquet(p) for p in paths]},
        Changes,
        changes_dir,
        params or WriteParams(),
        {"papers.schema_version": SCHEMA_VERSION, "papers.table": FEED_DIR},
        COMPACT_SORT,
    )
    return entry, [f"{changes_dir.name}/{p.name}" for p in paths]
