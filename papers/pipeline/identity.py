"""The identity step: paper ids of the records without an arXiv id, and the partition boundaries
(ranges of paper ids) that the shuffle and partition steps cut by."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from papers import io
from papers.config import Params
from papers.stages.normalize import resolve_identity


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
    listing's worth otherwise) are read with five columns, and of the others only those sharing
    one of their DOIs or title keys. `resolve_identity` on that subset gives exactly what it
    gives on the whole (its DOI and title groups are complete for every key looked up).
    """
    columns = ["source_file", "record_index", "arxiv_id", "doi", "title_key", "abstract",
               "paper_id"]  # fmt: skip
    mapping = pl.DataFrame(
        schema={"source_file": pl.String, "record_index": pl.Int64, "paper_id": pl.String}
    )
    open_paths = [n["normalized"] for n in normalized if n["unresolved"]]
    if open_paths:
        unresolved = (
            pl.scan_parquet(open_paths)
            .filter(pl.col("arxiv_id").is_null())
            .select(columns)
            .collect()
        )
        dois = unresolved["doi"].drop_nulls().unique().implode()
        keys = unresolved["title_key"].unique().implode()
        known = (
            pl.scan_parquet([n["normalized"] for n in normalized])
            .filter(
                pl.col("arxiv_id").is_not_null()
                & (pl.col("doi").is_in(dois) | pl.col("title_key").is_in(keys))
            )
            .select(columns)
            .collect()
        )
        resolved = resolve_identity(pl.concat([unresolved, known]), params.normalize)
        mapping = (
            resolved.filter(pl.col("arxiv_id").is_null())
            .select("source_file", "record_index", "paper_id")
            .sort("source_file", "record_index")
        )
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
    }


def _boundaries(sample: pl.DataFrame, rows: int, target: int, cache_dir: str | None) -> list[str]:
    """Paper ids cutting the id space into ranges of about `target` records each.

    sample: paper ids, each standing for `weight` records. The previous build's boundaries
    (kept in the cache) are reused while no range holds over twice the target: new records
    then land in few partitions and the others stay cached. Outputs never depend on the
    boundaries, only the work does.
    """
    sample = sample.sort("paper_id")
    state = Path(cache_dir) / "partitions.json" if cache_dir else None
    if state is not None and state.exists():
        previous: dict[str, Any] = io.read_json(state)
        cuts = pl.Series("cut", previous.get("boundaries", []), dtype=pl.String)
        if previous.get("target") == target:
            ranges = cuts.search_sorted(sample["paper_id"], side="right").alias("range")
            heaviest = sample.group_by(ranges).agg(pl.col("weight").sum())["weight"].max()
            if int(heaviest or 0) <= 2 * target:  # type: ignore[arg-type]
                return list(cuts.to_list())
    parts = max(1, -(-rows // target))
    total = int(sample["weight"].sum())
    cuts_list: list[str] = []
    if total:
        at = (
            sample["weight"]
            .cum_sum()
            .search_sorted(pl.Series([total * i // parts for i in range(1, parts)], dtype=pl.Int64))
        )
        cuts_list = sorted(set(sample["paper_id"].gather(at.clip(0, sample.height - 1)).to_list()))
    if state is not None:
        io.replace_json({"target": target, "boundaries": cuts_list}, state)
    return cuts_list
