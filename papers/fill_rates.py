"""fill_rates: how often each source's records fill each papers column, so a reader's gap shows.

A source's fill rate for a column is the share of its records in the dataset (the records the
provenance table lists) whose normalised value, before the merge, is filled: not null, not blank
text, not an empty list. It is measured on the records, not on the merged papers, because a merged
paper takes a field from whichever source has it: an arXiv listing would hide an HF scrape that
drops its authors. The merged papers get a row of their own (`papers`): what the dataset holds.
"""

from __future__ import annotations

from typing import Any, Final

import polars as pl

# The papers column each figure is about -> the record column (NormalizedRecords) that fills it.
# Every column a reader can fill, except the title (every record has one) and the fields with no
# papers column (updated_at, journal_ref). curated_links feed papers.links and papers.code_url.
RECORD_COLUMNS: Final = {
    "abstract": "abstract",
    "arxiv_id": "arxiv_id",
    "authors": "authors",
    "published_at": "published_at",
    "listing_dates": "listing_date",
    "doi": "doi",
    "categories": "categories",
    "upvotes": "upvotes",
    "comments": "comments",
    "license": "license",
    "hf_keywords": "hf_keywords",
    "curated_links": "curated_links",
}
PAPERS_ROW: Final = "papers"


def filled(column: str, dtype: pl.DataType) -> pl.Expr:
    """Whether `column` holds a value: a non-empty list, non-blank text, or any other non-null."""
    col = pl.col(column)
    if isinstance(dtype, pl.List):
        return col.list.len().fill_null(0) > 0
    if dtype == pl.String:
        return col.str.strip_chars().str.len_chars().fill_null(0) > 0
    return col.is_not_null()


def _rates(columns: dict[str, pl.Expr]) -> list[pl.Expr]:
    return [expr.mean().round(4).alias(name) for name, expr in columns.items()]


def fill_rates(
    records: pl.LazyFrame | None, provenance: pl.LazyFrame, papers: pl.LazyFrame
) -> dict[str, Any]:
    """Per source and column, the share of its published records that fill it; and of papers.

    records: normalised records before the merge (source, source_file, record_index and the
    RECORD_COLUMNS), None when there are none; provenance: the published provenance table
    (source_file, record_index), which names the records that made it into the dataset; papers:
    the published papers. Returns {"by_source": {source: {"records": n, column: rate, ...}},
    "papers": {"rows": n, column: rate, ...}}, sources sorted, rates rounded to 4 places (null
    for no papers).
    """
    by_source: dict[str, Any] = {}
    if records is not None:
        schema = records.collect_schema()
        frame = (
            records.join(
                provenance.select("source_file", "record_index"),
                on=["source_file", "record_index"],
                how="semi",
            )
            .group_by("source")
            .agg(
                pl.len().alias("records"),
                *_rates({name: filled(c, schema[c]) for name, c in RECORD_COLUMNS.items()}),
            )
            .sort("source")
            .collect(engine="streaming")
        )
        by_source = {row.pop("source"): row for row in frame.iter_rows(named=True)}
    schema = papers.collect_schema()
    on_papers = {
        name: filled(name, schema[name]) for name in RECORD_COLUMNS if name != "curated_links"
    }
    # a curated link is in papers.links with origin "curated"
    on_papers["curated_links"] = (
        pl.col("links")
        .list.eval(pl.element().struct.field("origin") == "curated")
        .list.any()
        .fill_null(False)
    )
    whole = (
        papers.select(pl.len().alias("rows"), *_rates(on_papers))
        .collect(engine="streaming")
        .row(0, named=True)
    )
    return {"by_source": by_source, PAPERS_ROW: whole}


def fill_rate_table(fill: dict[str, Any]) -> pl.DataFrame:
    """metrics.json's `fill_rates` -> one row per source, then the papers row: records and rates.

    Rates are percentages as text ("98.5%", "" where the figure is missing), ready to show.
    """
    rows = [{"source": s, **v} for s, v in fill.get("by_source", {}).items()]
    if PAPERS_ROW in fill:
        papers = dict(fill[PAPERS_ROW])
        rows.append({"source": "(merged papers)", "records": papers.pop("rows", None), **papers})
    schema: dict[str, Any] = {"source": pl.String, "records": pl.Int64}
    schema.update(dict.fromkeys(RECORD_COLUMNS, pl.Float64))
    frame = pl.DataFrame(
        [{c: row.get(c) for c in schema} for row in rows], schema=schema, orient="row"
    )
    return frame.with_columns(
        ((pl.col(c) * 100).round(1).cast(pl.String) + "%").fill_null("") for c in RECORD_COLUMNS
    )


__all__ = ["PAPERS_ROW", "RECORD_COLUMNS", "fill_rate_table", "fill_rates", "filled"]
