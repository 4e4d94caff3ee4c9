"""normalize: clean text, identities (arXiv id, title key, paper id) and the merge of duplicates."""

from __future__ import annotations

import polars as pl
import polars_hash as plh

from papers.config import NormalizeParams
from papers.stages.latex import to_unicode_series
from schemas import NormalizedRecords, Rejected, polars_schema

# arXiv ids as they appear in listings: bare, with an "arXiv:" prefix, or as an abs/pdf URL,
# optionally with a version suffix. Group 1 is the id without version.
_ARXIV_ID = (
    r"(?i)^(?:arxiv:\s*|https?://(?:export\.|www\.)?arxiv\.org/(?:abs|pdf)/"
    r"|https?://(?:www\.)?(?:huggingface|hf)\.co/papers/)?"
    r"(\d{4}\.\d{4,5}|[a-z-]+(?:\.[a-z]{2})?/\d{7})(?:v\d+)?(?:\.pdf)?$"
)


def _fold_accents(title: pl.Expr) -> pl.Expr:
    return title.str.normalize("NFKD").str.replace_all(r"\p{M}+", "")


def _key_words(title: pl.Expr) -> pl.Expr:
    return title.str.to_lowercase().str.replace_all(r"[^\p{L}\p{N}]+", " ").str.strip_chars()


def title_key(title: pl.Expr) -> pl.Expr:
    """Case-folded title without accents or punctuation: identifies a paper when no id is known."""
    return _key_words(_fold_accents(title))


def title_key_series(title: pl.Series) -> pl.Series:
    """`title_key` of a Series, the accent folding (NFKD, then marks dropped) only on the rows
    that are not ASCII, the only ones it can change (100k titles: 0.21 -> 0.1 s CPU)."""
    wide = (title.str.len_bytes() != title.str.len_chars()).fill_null(False)
    if wide.any():
        rows = wide.arg_true()
        folded = title.gather(rows).to_frame().select(_fold_accents(pl.first())).to_series()
        title = title.clone().scatter(rows, folded)
    return title.to_frame().select(_key_words(pl.first())).to_series()


def arxiv_id(raw: pl.Expr) -> pl.Expr:
    """The arXiv id without version from any of its written forms; null when it is not one."""
    found = raw.str.strip_chars().str.extract(_ARXIV_ID, 1)
    archive = found.str.extract(r"^([A-Za-z-]+)", 1).str.to_lowercase()
    subject = found.str.extract(r"^[A-Za-z-]+\.([A-Za-z]{2})/", 1).str.to_uppercase()
    number = found.str.extract(r"/(\d{7})$", 1)
    # old-style ids: lower-case archive, upper-case subject class (math.AG/0301001)
    old_style = pl.format("{}{}/{}", archive, pl.format(".{}", subject).fill_null(""), number)
    return pl.when(found.str.contains("/")).then(old_style).otherwise(found)


# Titles that many different papers share ("Preface", "Editorial"): the title alone never
# identifies such a paper, so their title-based id includes the abstract.
GENERIC_TITLES = (
    "preface", "foreword", "editorial", "introduction", "erratum", "corrigendum", "errata",
    "index", "contents", "table of contents", "reply", "discussion", "comment", "comments",
    "rejoinder", "obituary", "in memoriam", "acknowledgments", "acknowledgements", "untitled",
)  # fmt: skip
_DOI = r"(?i)^(?:doi:\s*|https?://(?:dx\.)?doi\.org/)?(10\.\d{4,9}/\S+)$"


def doi(raw: pl.Expr) -> pl.Expr:
    """A DOI in its canonical form (lower case, no resolver prefix); null when it is not one."""
    return raw.str.strip_chars().str.extract(_DOI, 1).str.to_lowercase()


def _abstract_words(abstract: pl.Expr) -> pl.Expr:
    # the set of words of an abstract: formatting differences between sources (wrapping, LaTeX,
    # punctuation) do not change it much, so set overlap tells the same abstract from another
    return abstract.str.to_lowercase().str.extract_all(r"\p{L}{3,}").list.unique()


def normalize_records(
    records: pl.DataFrame, params: NormalizeParams
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """RawRecords -> (NormalizedRecords, Rejected).

    Adds title and abstract as readable Unicode, title_key, arxiv_id, doi, authors without LaTeX,
    and the record's own paper_id: its arXiv id, else `doi:<doi>`, else
    params.title_id_prefix + params.title_id_hex_chars hex digits of sha256(title_key) (with the
    abstract for generic titles). `resolve_identity` later links records across sources.
    Records with no usable title are rejected.
    """
    # Author names repeat across papers: each distinct name is converted once and mapped back
    # (100k generated snapshot records: 29k distinct of 973k listed names, 2.9 s -> 0.3 s CPU).
    names = records["authors"].explode().drop_nulls().unique()
    # One conversion for titles, abstracts and names: the literal table's automaton is built
    # once (6 ms: most of the time for a small shard; the real data has 865 shards).
    rows = records.height
    text = to_unicode_series(
        pl.concat(
            [
                records["title_raw"].fill_null("").rename("text"),
                records["abstract_raw"].fill_null("").rename("text"),
                names.rename("text"),
            ]
        )
    )
    readable = text.slice(2 * rows)
    out = records.with_columns(
        text.slice(0, rows).alias("title"),
        text.slice(rows, rows).alias("abstract"),
        arxiv_id(pl.col("arxiv_id_raw")).alias("arxiv_id"),
        doi(pl.col("doi")).alias("doi"),
        pl.col("authors").list.eval(pl.element().replace(names, readable)),
    ).with_columns(title_key_series(text.slice(0, rows)).alias("title_key"))
    generic = pl.col("title_key").is_in(list(GENERIC_TITLES))
    out = out.with_columns(
        pl.when(generic)
        .then(pl.col("title_key") + pl.lit("\u0000") + title_key(pl.col("abstract")))
        .otherwise(pl.col("title_key"))
        .alias("_id_text")
    ).with_columns(
        pl.coalesce(
            pl.col("arxiv_id"),
            pl.lit("doi:") + pl.col("doi"),
            pl.lit(params.title_id_prefix)
            + plh.col("_id_text").chash.sha2_256().str.head(params.title_id_hex_chars),
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


def resolve_identity(normalized: pl.DataFrame, params: NormalizeParams) -> pl.DataFrame:
    """NormalizedRecords -> the same rows, paper_id linked across sources.

    A record with no arXiv id joins the paper of a record that has one when their DOIs match
    (and that DOI names one arXiv paper only), or else when their title keys match one arXiv
    paper only, no DOI disagrees, the title is not generic, and the abstracts agree (word-set
    overlap >= params.abstract_agreement, or one abstract is empty).
    """
    known = normalized.filter(pl.col("arxiv_id").is_not_null())
    by_doi = (
        known.filter(pl.col("doi").is_not_null())
        .group_by("doi")
        .agg(pl.col("arxiv_id").unique().alias("ids"))
        .filter(pl.col("ids").list.len() == 1)
        .select("doi", pl.col("ids").list.first().alias("_via_doi"))
    )
    by_title = (
        known.filter(~pl.col("title_key").is_in(list(GENERIC_TITLES)))
        .sort("arxiv_id", "source_file", "record_index")
        .group_by("title_key", maintain_order=True)
        .agg(
            pl.col("arxiv_id").unique().alias("ids"),
            pl.col("doi").drop_nulls().first().alias("_ref_doi"),
            pl.col("abstract").filter(pl.col("abstract") != "").first().alias("_ref_abstract"),
        )
        .filter(pl.col("ids").list.len() == 1)
        .select(
            "title_key", pl.col("ids").list.first().alias("_via_title"), "_ref_doi", "_ref_abstract"
        )
    )
    words = _abstract_words(pl.col("abstract"))
    ref_words = _abstract_words(pl.col("_ref_abstract").fill_null(""))
    overlap = words.list.set_intersection(ref_words).list.len() / words.list.set_union(
        ref_words
    ).list.len().clip(lower_bound=1)
    agree = (
        (words.list.len() == 0)
        | (ref_words.list.len() == 0)
        | (overlap >= params.abstract_agreement)
    ) & (
        pl.col("doi").is_null()
        | pl.col("_ref_doi").is_null()
        | (pl.col("doi") == pl.col("_ref_doi"))
    )
    linked = (
        normalized.join(by_doi, on="doi", how="left")
        .join(by_title, on="title_key", how="left")
        .with_row_index("_row")
    )
    # word sets only for the records that a title match alone would link: computed on every
    # row (most of them arXiv records that never need one) they were the identity step's
    # largest memory cost, 3.3 GB of its peak at 5M records (now 2.3 GB)
    by_title_only = (
        pl.col("arxiv_id").is_null()
        & pl.col("_via_doi").is_null()
        & pl.col("_via_title").is_not_null()
    )
    agreed = linked.filter(by_title_only).filter(agree)["_row"].implode()
    linked = linked.with_columns(
        pl.when(pl.col("arxiv_id").is_not_null())
        .then(pl.col("paper_id"))
        .when(pl.col("_via_doi").is_not_null())
        .then(pl.col("_via_doi"))
        .when(pl.col("_row").is_in(agreed))
        .then(pl.col("_via_title"))
        .otherwise(pl.col("paper_id"))
        .alias("paper_id")
    )
    return linked.select(normalized.columns)


def _rank(precedence: tuple[str, ...]) -> pl.Expr:
    # sources not listed come after the listed ones, in name order (a stable, documented rule)
    return pl.col("source").replace_strict(
        {name: i for i, name in enumerate(precedence)},
        default=len(precedence),
        return_dtype=pl.Int64,
    )


def merge_duplicates(
    normalized: pl.DataFrame, params: NormalizeParams
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """NormalizedRecords (identity resolved) -> (one row per paper_id, provenance rows).

    Each field comes from the first record that has it, records ordered by
    params.source_precedence (then longest abstract, latest update, file, index), so the result
    does not depend on input order. `upvotes` and `hf_keywords` come from the latest listing;
    `published_at` is the earliest; sources, listing dates and curated links are unions.
    """
    ordered = normalized.with_columns(_rank(params.source_precedence).alias("_rank")).sort(
        pl.col("paper_id"),
        pl.col("_rank"),
        pl.col("source"),
        pl.col("abstract").str.len_chars(),
        pl.col("updated_at"),
        pl.col("source_file"),
        pl.col("record_index"),
        descending=[False, False, False, True, True, False, False],
        nulls_last=True,
    )
    nonempty_text = pl.col("abstract") != ""
    latest = {"by": "listing_date", "descending": True, "nulls_last": True}
    papers = ordered.group_by("paper_id", maintain_order=True).agg(
        pl.col("arxiv_id").drop_nulls().first(),
        pl.col("title").first(),
        pl.col("title_raw").first().fill_null(""),
        pl.col("abstract").filter(nonempty_text).first().fill_null(""),
        pl.col("abstract_raw").filter(nonempty_text).first().fill_null(""),
        pl.col("title_key").first(),
        pl.col("authors").filter(pl.col("authors").list.len() > 0).first(),
        pl.col("published_at").min(),
        pl.col("listing_date").drop_nulls().unique().sort().alias("listing_dates"),
        pl.col("source").unique().sort().alias("sources"),
        pl.col("doi").drop_nulls().first(),
        pl.col("categories").filter(pl.col("categories").list.len() > 0).first(),
        pl.col("upvotes").sort_by(**latest).drop_nulls().first(),  # type: ignore[arg-type]
        pl.col("comments").drop_nulls().first(),
        pl.col("license").drop_nulls().first(),
        pl.col("hf_keywords")
        .sort_by(**latest)  # type: ignore[arg-type]
        .filter(pl.col("hf_keywords").sort_by(**latest).list.len() > 0)  # type: ignore[arg-type]
        .first(),
        pl.col("curated_links")
        .list.explode(keep_nulls=False, empty_as_null=False)
        .unique()
        .sort()
        .alias("curated_links"),
    )
    empty = pl.lit([], pl.List(pl.String))
    papers = papers.with_columns(
        pl.col("authors").fill_null(empty),
        pl.col("categories").fill_null(empty),
        pl.col("hf_keywords").fill_null(empty),
    )
    provenance = normalized.select("paper_id", "source_file", "source", "record_index", "line")
    return papers.sort("paper_id"), provenance.sort("source_file", "record_index")
