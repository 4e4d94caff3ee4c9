"""The shuffle step: a normalized shard's final paper ids, split by paper-id range."""

from __future__ import annotations

import hashlib
from typing import Any

import polars as pl

from papers import io
from papers.pipeline.cache import (
    build_entry,
    cache_entry,
    cache_key,
    commit_entry,
    drop_scratch,
    read_meta,
)
from schemas import Provenance, polars_schema


def shuffle_step(
    normalized: dict[str, Any],
    identity_path: str,
    boundaries: list[str],
    work: str,
    cache_dir: str | None,
) -> dict[str, Any]:
    """Give one normalized shard its final paper ids and split it by paper-id range. Its
    records, when in `work` (a build without a cache), are deleted once split.

    Returns the cache key, the parts by partition number, the shard's provenance rows (the
    Provenance table's columns, all its rows in one file: all the publish reads of its records,
    so a build without a cache can delete each part once its partition is built) and
    `rows_key`: the key of the rows alone (the same across boundaries)."""
    own = (
        pl.scan_parquet(identity_path)
        .filter(
            (pl.col("source_file") == normalized["source_file"])
            & pl.col("record_index").is_between(normalized["first"], normalized["last"])
        )
        .collect()
        if normalized["unresolved"]
        else None
    )
    mapped = hashlib.sha256(own.write_ndjson().encode()).hexdigest() if own is not None else ""
    key = cache_key("shuffle", normalized["key"], boundaries, mapped)
    entry, done = cache_entry(cache_dir, work, "shuffled", key)
    if not done:
        target = build_entry(entry, cache_dir)
        frame = pl.read_parquet(normalized["normalized"])
        if own is not None and own.height:
            frame = (
                frame.join(
                    own.rename({"paper_id": "_resolved"}),
                    on=["source_file", "record_index"],
                    how="left",
                )
                .with_columns(pl.coalesce("_resolved", "paper_id").alias("paper_id"))
                .drop("_resolved")
            )
        frame = with_matched_by(frame)
        cuts = pl.Series("cut", boundaries, dtype=pl.String)
        part = pl.Series("_part", cuts.search_sorted(frame["paper_id"], side="right"))
        files: dict[str, str] = {}
        for (number,), rows in (
            frame.with_columns(part)
            .partition_by("_part", as_dict=True, maintain_order=True)
            .items()
        ):
            name = f"part-{int(number):05d}.parquet"
            io.write_frame(rows.drop("_part"), target / name)
            files[str(number)] = name
        provenance = frame.select(polars_schema(Provenance).names())
        io.write_frame(provenance, target / "provenance.parquet")
        commit_entry(target, entry, {"parts": files})
        drop_scratch([normalized["normalized"]], work)  # the publish reads the shard's rejects
    parts = read_meta(entry)["parts"]
    return {
        "key": key,
        # what the shard's rows are (its records and their final paper ids), whatever the
        # boundaries that split them: provenance node keys hash it (publish.provenance_nodes)
        "rows_key": cache_key("shuffle-rows", normalized["key"], mapped),
        "parts": {number: str(entry / name) for number, name in parts.items()},
        "provenance": str(entry / "provenance.parquet"),
    }


def partition_inputs(
    shuffled: list[dict[str, Any]], boundaries: list[str]
) -> list[list[tuple[str, str]]]:
    """For each paper-id range, its (piece key, file) pieces in shard order.

    A piece's key names what it holds: the shard's rows (`rows_key`: its records and their
    final paper ids) between the range's two cuts. It does not depend on the other cuts, so a
    range that a split elsewhere left as it was keeps its pieces' keys, and its partition stays
    cached (partition_step keys a partition by its pieces).
    """
    bounds = list(zip([None, *boundaries], [*boundaries, None], strict=True))
    pieces: list[list[tuple[str, str]]] = [[] for _ in bounds]
    for shard in shuffled:
        for number, path in shard["parts"].items():
            low, high = bounds[int(number)]
            pieces[int(number)].append((cache_key("piece", shard["rows_key"], low, high), path))
    return pieces


def with_matched_by(frame: pl.DataFrame) -> pl.DataFrame:
    """A shard's records with provenance's `matched_by` and `match_score`: as the identity step
    resolved them (its mapping joined in), else `arxiv_id` (a record with its own arXiv id)."""
    if "matched_by" not in frame.columns:
        frame = frame.with_columns(
            pl.lit(None, pl.String).alias("matched_by"),
            pl.lit(None, pl.Float64).alias("match_score"),
        )
    return frame.with_columns(
        pl.col("matched_by").fill_null(
            pl.when(pl.col("arxiv_id").is_not_null())
            .then(pl.lit("arxiv_id"))
            .otherwise(pl.lit("none"))
        )
    )
