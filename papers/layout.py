"""Where a published row lives: the partition key of a paper id and the file plan over it.

Design: docs/design/partitioned-versions.md §2. Both functions here are pure: the leaf of a row
depends on its paper_id alone (so it is known before any merge), and the node plan depends only
on the current row count of each leaf (so a from-scratch build and an incremental one give the
same files, whatever their history).

A leaf is a path of components joined by "/":
- new-style arXiv `YYMM.NNNNN` (or `YYMM.NNNN`) -> `arxiv/20YY/MM/b<NNNNN // 10000>` (arXiv
  numbers are dense within a month, so a leaf holds at most 10,000 papers);
- old-style arXiv `archive(.SC)?/YYMMNNN` -> `arxiv/<YYYY>/MM/<archive>`, YYYY = 20YY for
  YY <= 07 else 19YY (the subject class shares its archive's numbering: at most 999 per leaf);
- anything else (`doi:…`, `title:<hex>`) -> `other/<d1>/<d2>/<d3>`, the first three hex
  digits of sha256(paper_id): a stable hash (polars' own `hash` may change between versions), and
  deep enough that the plan can split the family into up to 4,096 files if it ever needs to.

provenance and rejected are keyed by the raw file instead (`source_leaf`): the tree is the
path components of `source_file`, a leaf is one raw file's range of `record_index // max_rows`
(`pages/x.txt/r00000000`), so a file bigger than max_rows splits into ranges and a day's new raw
file adds its own node. Their node names come from `source_node_name`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import polars as pl
import polars_hash as plh

ARXIV_BUCKET = 10_000
HASH_DEPTH = 3
ROOT = "all"  # the node name of a table that fits in one file
# the tables keyed by raw file (source_leaf) rather than by paper id (leaf_of)
SOURCE_KEYED = frozenset({"provenance", "rejected"})
# the paper id column a table's rows are placed by, where it is not `paper_id`: a pair by its
# newer paper, so a day's new papers and recent updates change the newest duplicates files only
# (by paper_id_a their older partners, anywhere in the id range, changed every file)
PAPER_KEY = {"duplicates": "paper_id_b"}
RANGE_DIGITS = 8
SOURCE_NAME_CHARS = 96
_NAME = re.compile(r"[^A-Za-z0-9._-]")
_NEW = r"^(\d{2})(\d{2})\.(\d{4,5})$"
_OLD = r"^([a-z-]+)(?:\.[A-Za-z]{2})?/(\d{2})(\d{2})\d{3}$"


def leaf_of(paper_id: pl.Expr) -> pl.Expr:
    """The leaf (see the module docstring) of each paper id, as a String expression."""
    new = paper_id.str.extract_groups(_NEW)
    old = paper_id.str.extract_groups(_OLD)
    old_yy = old.struct.field("2")
    old_year = (
        pl.when(old_yy.cast(pl.Int32, strict=False) <= 7).then(pl.lit("20")).otherwise(pl.lit("19"))
        + old_yy
    )
    bucket = new.struct.field("3").cast(pl.Int64) // ARXIV_BUCKET
    digest = plh.CryptographicHashingNameSpace(paper_id).sha2_256()
    hashed = pl.concat_str(
        [pl.lit("other")] + [digest.str.slice(i, 1) for i in range(HASH_DEPTH)], separator="/"
    )
    return (
        pl.when(new.struct.field("1").is_not_null())
        .then(pl.format("arxiv/20{}/{}/b{}", new.struct.field("1"), new.struct.field("2"), bucket))
        .when(old.struct.field("1").is_not_null())
        .then(pl.format("arxiv/{}/{}/{}", old_year, old.struct.field("3"), old.struct.field("1")))
        .otherwise(hashed)
        .alias("leaf")
    )


def source_leaf(source_file: pl.Expr, record_index: pl.Expr, max_rows: int) -> pl.Expr:
    """The leaf of a provenance or rejected row: its raw file's path, then its range of
    record_index // max_rows (`r` + 8 digits, so ranges sort in order). A whole-file reject
    (null record_index) is in range 0."""
    rng = (record_index.fill_null(0).cast(pl.Int64) // max_rows).cast(pl.String)
    return pl.concat_str(
        [source_file.fill_null("(none)"), pl.lit("/r"), rng.str.zfill(RANGE_DIGITS)]
    ).alias("leaf")


def source_node_name(path: tuple[str, ...], last: str | None = None) -> str:
    """A file-name-safe name for a node of the raw-file tree (or a run of its children).

    Components joined by `__` (`pages__2024__x.txt`, `big.jsonl__r00000003`), a run as
    `<first>_to_<last>`. When the name had to change to be safe ([A-Za-z0-9._-] only, not
    hidden), was cut to 96 characters, or could be read two ways (a component holding `__` or
    `_to_`), 8 hex of sha256 of the exact path are appended, so distinct nodes never share one.
    """
    if not path:
        return ROOT
    text = "__".join(path) + (f"_to_{last}" if last is not None else "")
    name = _NAME.sub("_", text)
    ambiguous = any("__" in part or "_to_" in part or not part for part in (*path, last or "x"))
    changed = name != text or name.startswith((".", "_")) or ambiguous
    if changed or len(name) > SOURCE_NAME_CHARS:
        exact = "/".join(path) + ("\0" + last if last is not None else "")
        digest = hashlib.sha256(exact.encode()).hexdigest()[:8]
        name = f"{name.lstrip('._')[:SOURCE_NAME_CHARS]}-{digest}"
    return name


def node_name(path: tuple[str, ...], last: str | None = None) -> str:
    """A file-name-safe name for a tree node, or for a run of its children (first..last).

    `arxiv/2015/01/b0` -> `arxiv-2015-01-b0`; hash levels are written as one `h` word
    (`other/5/c` -> `other-h5c`); the root is `all`. Components are fixed-width or from a fixed
    alphabet per level, so distinct nodes never share a name.
    """
    if not path:
        return ROOT
    parts = list(path)
    if parts[0] == "other" and len(parts) > 1:
        parts = ["other", "h" + "".join(parts[1:])]
    name = "-".join(parts)
    if last is not None:
        name += "_" + (f"h{last}" if path[0] == "other" else last)
    return _NAME.sub("_", name)


@dataclass
class _Tree:
    rows: int = 0
    children: dict[str, _Tree] = field(default_factory=dict)


def plan_files(
    leaf_rows: Mapping[str, int],
    max_rows: int,
    name: Callable[[tuple[str, ...], str | None], str] = node_name,
) -> dict[str, str]:
    """Which file (node name) holds each leaf, given every leaf's current row count.

    Top-down over root -> family -> year -> month -> leaf: a node with at most `max_rows` rows,
    or a leaf, is one file. A bigger node is split into its children, in sorted order, and
    consecutive children that each fit are packed greedily into runs of at most `max_rows` rows
    (so tiny months share a file instead of making many tiny files). Hence:
    - a file holds at most `max_rows` rows, unless it is a single leaf (at most 10,000 arXiv
      papers; a hash leaf only past 4,096 x max_rows);
    - two consecutive runs of one parent together exceed `max_rows`: every run but the last of a
      parent is more than half full on average, so files stay in range after many appends;
    - the plan is a pure function of the counts (no history, no hysteresis), local (a count
      change under a node re-plans only that node's subtree and its parent's runs after it),
      and a growing last month only changes the last run of its parent.
    `name` names a node (default node_name; source_node_name for the raw-file tree).
    """
    if max_rows <= 0:
        raise ValueError(f"max_rows must be positive, not {max_rows}")
    root = _Tree()
    for leaf, rows in leaf_rows.items():
        if rows <= 0:
            continue
        node = root
        node.rows += rows
        for part in leaf.split("/"):
            node = node.children.setdefault(part, _Tree())
            node.rows += rows
    plan: dict[str, str] = {}

    def leaves(path: tuple[str, ...], node: _Tree) -> list[str]:
        if not node.children:
            return ["/".join(path)]
        return [
            leaf
            for key in sorted(node.children)
            for leaf in leaves((*path, key), node.children[key])
        ]

    def assign(path: tuple[str, ...], node: _Tree) -> None:
        if node.rows <= max_rows or not node.children:
            for leaf in leaves(path, node):
                plan[leaf] = name(path, None)
            return
        run: list[str] = []
        held = 0

        def close() -> None:
            if not run:
                return
            named = name((*path, run[0]), None if len(run) == 1 else run[-1])
            for key in run:
                for leaf in leaves((*path, key), node.children[key]):
                    plan[leaf] = named
            run.clear()

        for key in sorted(node.children):
            child = node.children[key]
            if child.rows > max_rows:
                close()
                held = 0
                assign((*path, key), child)
                continue
            if held + child.rows > max_rows:
                close()
                held = 0
            run.append(key)
            held += child.rows
        close()

    if root.rows:
        assign((), root)
    return plan


def plan_frame(counts: pl.DataFrame, max_rows: int, by_source: bool = False) -> pl.DataFrame:
    """`plan_files` over a frame of (leaf, rows): a frame of (leaf, node), sorted by leaf."""
    plan = plan_files(
        dict(zip(counts["leaf"], counts["rows"], strict=True)),
        max_rows,
        source_node_name if by_source else node_name,
    )
    return pl.DataFrame(
        {"leaf": list(plan), "node": list(plan.values())},
        schema={"leaf": pl.String, "node": pl.String},
    ).sort("leaf")


def table_leaf(table: str, max_rows: int) -> pl.Expr:
    """The leaf expression of a published table's rows: by raw file for provenance and
    rejected (source_leaf), by paper id for the others (leaf_of)."""
    if table in SOURCE_KEYED:
        return source_leaf(pl.col("source_file"), pl.col("record_index"), max_rows)
    return leaf_of(pl.col(PAPER_KEY.get(table, "paper_id")))


def nodes_of(
    frame: pl.DataFrame, max_rows: int, key: str = "paper_id", table: str | None = None
) -> pl.DataFrame:
    """The frame with a `node` column: its rows' file under the plan for the frame's own counts.

    Rows are keyed by `key`'s paper id, or by raw file when `table` is provenance or rejected."""
    by_source = table in SOURCE_KEYED
    key = PAPER_KEY.get(table or "", key)
    if table is not None and by_source:
        with_leaf = frame.with_columns(table_leaf(table, max_rows).alias("_leaf"))
    else:
        # the leaf of each distinct paper id (the duplicates' 2.7M rows at 1M papers name 400k)
        ids = frame.select(pl.col(key).unique())
        leaves = ids.with_columns(leaf_of(pl.col(key)).alias("_leaf"))
        with_leaf = frame.join(leaves, on=key, how="left", maintain_order="left", nulls_equal=True)
    counts = with_leaf.group_by("_leaf").len("rows").rename({"_leaf": "leaf"})
    plan = plan_frame(counts, max_rows, by_source).rename({"leaf": "_leaf"})
    return with_leaf.join(plan, on="_leaf", how="left").drop("_leaf")
