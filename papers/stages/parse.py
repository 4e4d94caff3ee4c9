"""parse: the Hugging Face papers-page text layout into raw records with lineage, plus rejects.

The page is a few navigation lines, then for each paper a title line and an abstract paragraph,
separated by blank lines. Parsing is one vectorised pass: lines become a frame, consecutive
non-blank lines become blocks, blocks are classified as title-like or not, and each title-like
block starts a record whose following blocks form its abstract.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from schemas import RawRecords, Rejected, conform, polars_schema

if TYPE_CHECKING:  # the config imports the readers, which import this module
    from papers.config import ParseParams

SOURCE_PAGE = "hf_papers_page"

# A date in the file name (…/2024-05-27.json) is the listing date of every record in it.
_DATE_IN_NAME = r"(\d{4}-\d{2}-\d{2})[^/]*$"
# Sentence-final punctuation: a block ending like this reads as prose, not as a title.
_SENTENCE_END = r"[.;:,]$"


def listing_date_from_name(source_file: str) -> pl.Expr:
    """The YYYY-MM-DD date in a file's name as a Date literal expression (null when absent)."""
    return (
        pl.lit(source_file)
        .str.extract(_DATE_IN_NAME, 1)
        .str.to_date("%Y-%m-%d", strict=False)
        .alias("listing_date")
    )


def _lines(text: str) -> pl.DataFrame:
    """One row per physical line: 1-based line number, stripped text."""
    return (
        pl.DataFrame({"text": [text]})
        .select(pl.col("text").str.split("\n"))
        .explode("text")
        .with_row_index("line", offset=1)
        .with_columns(
            pl.col("line").cast(pl.Int64),
            # \r from CRLF files, NBSP and other padding are not content.
            pl.col("text").str.strip_chars(" \t\r\n\u00a0\ufeff"),
        )
    )


def parse_page_text(
    text: str, source_file: str, params: ParseParams
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Page text -> (records: RawRecords, rejects: Rejected).

    Reads params.parse.boilerplate (navigation lines, recognised and skipped) and
    params.parse.title_max_chars (longest one-line block that can be a title).
    """
    lines = _lines(text)
    content = (pl.col("text") != "") & ~pl.col("text").is_in(list(params.boilerplate))
    blocks = (
        lines.with_columns(content.alias("content"))
        .with_columns(
            # A block starts at a content line whose previous line is not content.
            (pl.col("content") & ~pl.col("content").shift(1, fill_value=False))
            .cum_sum()
            .alias("block")
        )
        .filter(pl.col("content"))
        .group_by("block", maintain_order=True)
        .agg(
            pl.col("line").first(),
            pl.col("text").str.join("\n"),
            pl.len().alias("n_lines"),
        )
        .with_columns(
            (
                (pl.col("n_lines") == 1)
                & (pl.col("text").str.len_chars() <= params.title_max_chars)
                & ~pl.col("text").str.contains(_SENTENCE_END)
            ).alias("is_title")
        )
        # Each title starts a record; blocks before the first title fall into record 0 untitled.
        .with_columns(pl.col("is_title").cum_sum().alias("group"))
    )
    groups = (
        blocks.group_by("group", maintain_order=True)
        .agg(
            pl.col("line").first(),
            pl.col("is_title").first().alias("has_title"),
            pl.col("text").first().alias("first_text"),
            pl.col("text").slice(1).str.join("\n\n").alias("rest_text"),
            pl.col("text").str.join("\n\n").alias("raw"),
            pl.len().alias("n_blocks"),
        )
        .with_row_index("record_index")
        .with_columns(
            pl.col("record_index").cast(pl.Int64),
            pl.lit(source_file).alias("source_file"),
            pl.when(~pl.col("has_title"))
            .then(pl.lit("abstract paragraph without a title line"))
            .when(pl.col("n_blocks") == 1)
            .then(pl.lit("title line without an abstract paragraph"))
            .alias("reason"),
        )
    )

    records = (
        groups.filter(pl.col("reason").is_null())
        .select(
            "source_file",
            pl.lit(SOURCE_PAGE).alias("source"),
            "record_index",
            "line",
            pl.col("first_text").alias("title_raw"),
            pl.col("rest_text").alias("abstract_raw"),
            listing_date_from_name(source_file),
            "raw",
        )
        .pipe(conform, RawRecords)
    )
    rejects = groups.filter(pl.col("reason").is_not_null()).select(
        "source_file",
        "record_index",
        pl.lit("parse").alias("stage"),
        pl.format("{} (line {})", "reason", "line").alias("reason"),
        "raw",
    )
    if records.height == 0 and rejects.height == 0:
        rejects = pl.DataFrame(
            {
                "source_file": [source_file],
                "record_index": [None],
                "stage": ["parse"],
                "reason": ["no paper records found in the page text"],
                "raw": [text[:2000]],
            }
        )
    return records, rejects.cast(polars_schema(Rejected))
