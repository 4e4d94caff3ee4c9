"""normalize: clean text, identities (arXiv id, title key, paper id) and the merge of duplicates."""

from __future__ import annotations

import polars as pl
import polars_hash as plh

from papers.config import NormalizeParams
from papers.stages.latex import to_unicode
from schemas import NormalizedRecords, Rejected, polars_schema

# arXiv ids as they appear in listings: bare, with an "arXiv:" prefix, or as an abs/pdf URL,
# optionally with a version suffix. Group 1 is the id without version.
_ARXIV_ID = (
    r"(?i)^(?:arxiv:|https?://(?:export\.|www\.)?arxiv\.org/(?:abs|pdf)/)?"
    r"(\d{4}\.\d{4,5}|[a-z-]+(?:\.[a-z]{2})?/\d{7})(?:v\d+)?(?:\.pdf)?$"
)


def title_key(title: pl.Expr) -> pl.Expr:
    """Case-folded title without accents or punctuation: identifies a paper when no id is known."""
    return (
        title.str.normalize("NFKD")
        .str.replace_all(r"\p{M}+", "")
        .str.to_lowercase()
        .str.replace_all(r"[^\p{L}\p{N}]+", " ")
        .str.strip_chars()
    )


def arxiv_id(raw: pl.Expr) -> pl.Expr:
    """The arXiv id without version from any of its written forms; null when it is not one."""
    found = raw.str.strip_chars().str.extract(_ARXIV_ID, 1)
    archive = found.str.extract(r"^([A-Za-z-]+)", 1).str.to_lowercase()
    subject = found.str.extract(r"^[A-Za-z-]+\.([A-Za-z]{2})/", 1).str.to_uppercase()
    number = found.str.extract(r"/(\d{7})$", 1)
    # old-style ids: lower-case archive, upper-case subject class (math.AG/0301001)
    old_style = pl.format("{}{}/{}", archive, pl.format(".{}", subject).fill_null(""), number)
    return pl.when(found.str.contains("/")).then(old_style).otherwise(found)


def normalize_records(
    records: pl.DataFrame, params: NormalizeParams
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """RawRecords -> (NormalizedRecords, Rejected).

    Adds title and abstract as readable Unicode, title_key, arxiv_id and paper_id (the arXiv id
    when known, else params.title_id_prefix + the first params.title_id_hex_chars hex digits of
    sha256(title_key)). Records with no usable title are rejected.
    """
    out = records.with_columns(
        to_unicode(pl.col("title_raw").fill_null("")).alias("title"),
        to_unicode(pl.col("abstract_raw").fill_null("")).alias("abstract"),
        arxiv_id(pl.col("arxiv_id_raw")).alias("arxiv_id"),
    ).with_columns(title_key(pl.col("title")).alias("title_key"))
    out = out.with_columns(
        pl.coalesce(
            pl.col("arxiv_id"),
            pl.lit(params.title_id_prefix)
            + plh.col("title_key").chash.sha2_256().str.head(params.title_id_hex_chars),
        ).alias("paper_id")
    )
    bad = pl.col("title_key") == ""
    rejects = out.filter(bad).select(
        "source_file",
        "record_index",
        pl.lit("normalize").alias("stage"),
        pl.format(
            "title is empty after normalisation (title_raw: {})",
            pl.col("title_raw").fill_null("null").str.head(80),
        ).alias("reason"),
        "raw",
    )
    normalized = out.filter(~bad).select(polars_schema(NormalizedRecords).names())
    return normalized, rejects.cast(polars_schema(Rejected))


def merge_duplicates(normalized: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """NormalizedRecords -> (one row per paper_id, provenance rows).

    Records sharing a paper_id are one paper. The representative record (whose text is kept) is
    the one with the longest abstract, ties broken by source file and record index, so the result
    does not depend on input order. Sources and listing dates are the sorted union over records.
    """
    ordered = normalized.sort(
        pl.col("paper_id"),
        pl.col("abstract").str.len_chars(),
        pl.col("source_file"),
        pl.col("record_index"),
        descending=[False, True, False, False],
    )
    papers = ordered.group_by("paper_id", maintain_order=True).agg(
        pl.col("arxiv_id").drop_nulls().first(),
        pl.col("title").first(),
        pl.col("title_raw").first().fill_null(""),
        pl.col("abstract").first(),
        pl.col("abstract_raw").first().fill_null(""),
        pl.col("title_key").first(),
        # the first record that names authors (a page listing names none)
        pl.col("authors").filter(pl.col("authors").list.len() > 0).first(),
        pl.col("published_at").min(),
        pl.col("listing_date").drop_nulls().unique().sort().alias("listing_dates"),
        pl.col("source").unique().sort().alias("sources"),
    )
    papers = papers.with_columns(pl.col("authors").fill_null(pl.lit([], pl.List(pl.String))))
    provenance = normalized.select("paper_id", "source_file", "source", "record_index", "line")
    return papers.sort("paper_id"), provenance.sort("source_file", "record_index")
