"""The identity step: paper ids of the records without an arXiv id, and the partition boundaries
(ranges of paper ids) that the shuffle and partition steps cut by."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from papers import io
from papers.config import Params
from papers.pipeline.cache import cache_key
from papers.stages.normalize import content_blocks, resolve_identity

_COLUMNS = ["source_file", "record_index", "arxiv_id", "doi", "title_key", "abstract", "paper_id"]
_MAPPING = {"source_file": pl.String, "record_index": pl.Int64, "paper_id": pl.String,
            "matched_by": pl.String, "match_score": pl.Float64}  # fmt: skip
# what the cache keeps of the last build's records without an arXiv id: their shard, keys
# (DOI, title key, content blocking keys), resolved paper id, and what resolve_identity reads of
# them (abstract, own_id: the record's paper_id before resolution), so that re-resolving one
# reads no shard again (papers/pipeline/identity.py: _resolve)
_STATE: dict[str, Any] = {"shard": pl.String, "source_file": pl.String, "record_index": pl.Int64,
          "doi": pl.String, "title_key": pl.String, "blocks": pl.List(pl.String),
          "paper_id": pl.String, "matched_by": pl.String, "match_score": pl.Float64,
          "abstract": pl.String, "own_id": pl.String}  # fmt: skip


def identity_step(
    normalized: list[dict[str, Any]],
    params: Params,
    work: str,
    cache_dir: str | None,
    target_rows: int | None = None,
) -> dict[str, Any]:
    """Resolve the identity of records without an arXiv id; place the partition boundaries.

    Partitions hold about target_rows records (default: params.parse.partition_rows).

    Global but narrow: the records without an arXiv id (few in an arXiv snapshot; a daily
    listing's worth otherwise) are read with seven columns, and of the others only those sharing
    one of their DOIs, title keys or content blocking keys (stages.normalize.content_blocks).
    `resolve_identity` on that subset gives exactly what it gives on the whole (its DOI, title
    and block groups are complete for every key looked up).

    Incremental with a cache: see _resolve.
    """
    mapping, redone = _resolve(normalized, params, cache_dir)
    rows = sum(int(n["rows"]) for n in normalized)
    sample = pl.DataFrame(
        {
            "paper_id": [i for n in normalized for i in n["sample"]],
            "weight": [n["sample_step"] for n in normalized for _ in n["sample"]],
        },
        schema={"paper_id": pl.String, "weight": pl.Int64},
    )
    boundaries = _boundaries(sample, rows, target_rows or params.parse.partition_rows, cache_dir)
    return {
        "identity": io.write_frame(mapping, Path(work) / "identity.parquet"),
        "boundaries": boundaries,
        "records": rows,
        # records without an arXiv id resolved by this build (the others kept their last id)
        "resolved": redone,
    }


def _boundaries(sample: pl.DataFrame, rows: int, target: int, cache_dir: str | None) -> list[str]:
    """Paper ids cutting the id space into ranges of about `target` records each.

    sample: paper ids, each standing for `weight` records. The previous build's boundaries
    (kept in the cache) are reused; a range that grew over twice the target is split into
    ranges of about the target, and the other cuts stay. New papers (arXiv ids grow at the
    end of the id space) then land in few partitions, and a split leaves the other ranges, and
    so their cached partitions, as they were. Outputs never depend on the boundaries, only the
    work does.
    """
    sample = sample.sort("paper_id")
    state = Path(cache_dir) / "partitions.json" if cache_dir else None
    cuts_list: list[str] | None = None
    if state is not None and state.exists():
        previous: dict[str, Any] = io.read_json(state)
        if previous.get("target") == target:
            cuts_list = _split_heavy(sample, list(previous.get("boundaries", [])), target)
    if cuts_list is None:
        cuts_list = _even_cuts(sample, max(1, -(-rows // target)))
    if state is not None and (
        not state.exists() or io.read_json(state).get("boundaries") != cuts_list
    ):
        io.replace_json({"target": target, "boundaries": cuts_list}, state)
    return cuts_list


def _even_cuts(sample: pl.DataFrame, parts: int) -> list[str]:
    """Sample ids cutting the sorted sample into `parts` ranges of about equal weight."""
    total = int(sample["weight"].sum())
    if not total or parts < 2:
        return []
    at = (
        sample["weight"]
        .cum_sum()
        .search_sorted(pl.Series([total * i // parts for i in range(1, parts)], dtype=pl.Int64))
    )
    return sorted(set(sample["paper_id"].gather(at.clip(0, sample.height - 1)).to_list()))


def _split_heavy(sample: pl.DataFrame, cuts: list[str], target: int) -> list[str]:
    """The cuts, plus even cuts inside every range holding over twice the target."""
    ranges = pl.Series("cut", cuts, dtype=pl.String).search_sorted(sample["paper_id"], side="right")
    added: list[str] = []
    for (_,), rows in (
        sample.with_columns(ranges.alias("_range"))
        .partition_by("_range", as_dict=True, maintain_order=True)
        .items()
    ):
        weight = int(rows["weight"].sum())
        if weight > 2 * target:
            added += _even_cuts(rows.drop("_range"), -(-weight // target))
    return sorted(set(cuts) | set(added))


def _resolve(
    normalized: list[dict[str, Any]], params: Params, cache_dir: str | None
) -> tuple[pl.DataFrame, int]:
    """(source_file, record_index, paper_id) of every record without an arXiv id, sorted; and
    how many of them this build resolved.

    A record's resolution reads only the arXiv records sharing its DOI or title key. So, given
    the last build's state (its shard keys and each open record's keys and paper id, kept in
    the cache), a build whose shards are the last ones plus new ones re-resolves only the open
    records of the new shards and the old open records whose DOI or title key occurs in a new
    shard: every other open record sees the same arXiv records, hence the same answer. A build
    that lost or changed a shard (a shard's key holds its records, the normalize parameters and
    the code) resolves everything, as without a cache. Either way the mapping is the same.
    """
    shards = {str(n["key"]): n for n in normalized}
    previous = _load_state(cache_dir)
    fresh = [k for k in sorted(shards) if previous is None or k not in previous["shards"]]
    if previous is not None and set(previous["shards"]) <= set(shards):
        old: pl.DataFrame = previous["open"]
        if fresh:
            added = pl.scan_parquet([shards[k]["normalized"] for k in fresh]).select(
                "doi", "title_key", _blocks()
            )
            touched = added.collect()
            dois = touched["doi"].drop_nulls().unique().implode()
            keys = touched["title_key"].drop_nulls().unique().implode()
            blocks = touched["_blocks"].explode().drop_nulls().unique().implode()
            again = old.filter(
                pl.col("doi").is_in(dois)
                | pl.col("title_key").is_in(keys)
                | pl.col("blocks").list.eval(pl.element().is_in(blocks)).list.any()
            )
        else:
            again = old.clear()
        # the touched open records as their shards hold them (the state keeps what is read)
        reread = again.select(
            "source_file",
            "record_index",
            pl.lit(None, pl.String).alias("arxiv_id"),
            "doi",
            "title_key",
            "abstract",
            pl.col("own_id").alias("paper_id"),
            "shard",
        )
        opened = [
            pl.scan_parquet(shards[k]["normalized"])
            .filter(pl.col("arxiv_id").is_null())
            .select(_COLUMNS)
            .with_columns(pl.lit(k).alias("shard"))
            for k in fresh
            if shards[k]["unresolved"]
        ]
        redo = _open_records([reread.lazy(), *opened])
        kept = old.join(again, on=["source_file", "record_index"], how="anti")
    else:
        redo = _open_records(
            [
                pl.scan_parquet(n["normalized"])
                .filter(pl.col("arxiv_id").is_null())
                .select(_COLUMNS)
                .with_columns(pl.lit(k).alias("shard"))
                for k, n in sorted(shards.items())
                if n["unresolved"]
            ]
        )
        kept = pl.DataFrame(schema=_STATE)
    resolved = _resolve_open(redo, normalized, params)
    state = pl.concat([kept, resolved.select(list(_STATE))]).sort("source_file", "record_index")
    _save_state(cache_dir, sorted(shards), state, previous)
    return state.select(list(_MAPPING)), redo.height


def _open_records(frames: list[pl.LazyFrame]) -> pl.DataFrame:
    """The open records to resolve, with the columns resolve_identity reads and their shard."""
    if not frames:
        return pl.DataFrame(schema={**dict.fromkeys(_COLUMNS, pl.String), "record_index": pl.Int64,
                                    "shard": pl.String})  # fmt: skip
    return pl.concat(frames, how="vertical").collect()


def _resolve_open(
    open_records: pl.DataFrame, normalized: list[dict[str, Any]], params: Params
) -> pl.DataFrame:
    """resolve_identity on the open records and the arXiv records sharing one of their keys.

    Two reads: the arXiv records sharing a DOI or title key, then, only when some open records
    are left unlinked by those and the content match is on, the arXiv records sharing one of
    the leftovers' blocking keys (content_blocks). The second read is the costly one (the
    abstracts' openings of every arXiv record: 100k records 0.45 s CPU), and most builds skip
    it: an arXiv snapshot has no leftovers, a daily listing few."""
    if not open_records.height:
        return pl.DataFrame(schema=_STATE)
    open_records = open_records.with_columns(_blocks().alias("blocks"))
    dois = open_records["doi"].drop_nulls().unique().implode()
    keys = open_records["title_key"].unique().implode()
    scan = pl.scan_parquet([n["normalized"] for n in normalized]).filter(
        pl.col("arxiv_id").is_not_null()
    )
    known = scan.filter(pl.col("doi").is_in(dois) | pl.col("title_key").is_in(keys))
    subset = pl.concat([open_records.select(_COLUMNS), known.select(_COLUMNS).collect()])
    resolved = resolve_identity(subset, params.normalize)
    if params.normalize.content_match is not None:
        left = resolved.filter(pl.col("matched_by") == "none").join(
            open_records.select("source_file", "record_index", "blocks"),
            on=["source_file", "record_index"],
        )
        blocks = left["blocks"].explode().drop_nulls().unique().implode()
        if left.height and blocks.list.len().item():
            # the blocking keys as three string columns: a hash-set lookup each
            shares = pl.lit(False)
            for block in content_blocks(pl.col("title_key"), pl.col("abstract")):
                shares = shares | block.is_in(blocks).fill_null(False)
            more = scan.filter(shares).select(_COLUMNS).collect()
            if more.height:
                wider = pl.concat([subset, more]).unique(
                    ["source_file", "record_index"], keep="first", maintain_order=True
                )
                resolved = resolve_identity(wider, params.normalize)
    shard = open_records.select(
        "source_file",
        "record_index",
        "shard",
        "blocks",
        "abstract",
        pl.col("paper_id").alias("own_id"),
    )
    return (
        resolved.filter(pl.col("arxiv_id").is_null())
        .drop("abstract")  # the state's comes with its shard columns
        .join(shard, on=["source_file", "record_index"])
        .select(list(_STATE))
        .cast(_STATE)  # type: ignore[arg-type]
    )


def _blocks() -> pl.Expr:
    """A record's content blocking keys, as a list (nulls dropped)."""
    return (
        pl.concat_list(content_blocks(pl.col("title_key"), pl.col("abstract")))
        .list.drop_nulls()
        .alias("_blocks")
    )


def _load_state(cache_dir: str | None) -> dict[str, Any] | None:
    """The last build's identity state from the cache, or None (no cache, none yet, unreadable)."""
    if not cache_dir:
        return None
    pointer = Path(cache_dir) / "identity.json"
    try:
        about = io.read_json(pointer)
        table = pl.read_parquet(Path(cache_dir) / str(about["open"]))
    except (OSError, ValueError, KeyError, TypeError, pl.exceptions.PolarsError):
        return None
    if table.schema != pl.Schema(_STATE):
        return None
    return {"shards": list(about["shards"]), "open": table, "file": str(about["open"])}


def _save_state(
    cache_dir: str | None, shards: list[str], table: pl.DataFrame, previous: dict[str, Any] | None
) -> None:
    """The state for the next build: a content-named table, then the pointer (replaced whole)."""
    if not cache_dir:
        return
    name = f"identity-{cache_key('identity-state', shards, len(table))[:16]}.parquet"
    path = Path(cache_dir) / name
    if not path.exists():
        io.write_frame(table, path)
    io.replace_json({"shards": shards, "open": name}, Path(cache_dir) / "identity.json")
    if previous is not None and previous["file"] != name:
        (Path(cache_dir) / previous["file"]).unlink(missing_ok=True)
