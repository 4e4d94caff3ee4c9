"""normalize: clean text, identities (arXiv id, title key, paper id) and the merge of duplicates."""

from __future__ import annotations

import polars as pl
import polars_hash as plh

from papers.config import NormalizeParams
from papers.stages.latex import to_unicode_series
from papers.stages.text import runs_outside
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
    # each run of other characters -> one space (text.runs_outside)
    return (
        title.str.to_lowercase().str.replace_all(runs_outside(r"\p{L}\p{N}"), " ").str.strip_chars()
    )


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


def with_own_paper_id(records: pl.DataFrame, params: NormalizeParams) -> pl.DataFrame:
    """records (arxiv_id, doi, title_key, abstract) with `paper_id`, the record's own id: its
    arXiv id, else `doi:<doi>`, else params.title_id_prefix + params.title_id_hex_chars hex
    digits of sha256(title_key) (with the abstract for generic titles)."""
    generic = pl.col("title_key").is_in(list(GENERIC_TITLES))
    return (
        records.with_columns(
            pl.when(generic)
            .then(pl.col("title_key") + pl.lit("\u0000") + title_key(pl.col("abstract")))
            .otherwise(pl.col("title_key"))
            .alias("_id_text")
        )
        .with_columns(
            pl.coalesce(
                pl.col("arxiv_id"),
                pl.lit("doi:") + pl.col("doi"),
                pl.lit(params.title_id_prefix)
                + plh.col("_id_text").chash.sha2_256().str.head(params.title_id_hex_chars),
            ).alias("paper_id")
        )
        .drop("_id_text")
    )


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
    out = with_own_paper_id(out, params)
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


# the first eight words of a text (in its first 200 characters), and the first and the last
# four of a title key (words joined by single spaces)
_FIRST_WORDS = r"^[^\p{L}\p{N}]*((?:[\p{L}\p{N}]+[^\p{L}\p{N}]+){7}[\p{L}\p{N}]+)"
_KEY_HEAD = r"^((?:\S+ ){3}\S+)(?: |$)"
_KEY_TAIL = r"(?:^| )((?:\S+ ){3}\S+)$"


def content_blocks(title_key: pl.Expr, abstract: pl.Expr) -> list[pl.Expr]:
    """Blocking keys of a record for the content match: the first and the last four words of
    its title key and the first eight words of its abstract (each null when there are fewer).
    Two records of one paper share one of them unless the title changed at both ends and the
    abstract's opening too. Cheap enough to compute for every arXiv record at identity time:
    three regex extractions, the abstract's only on its first 200 characters and the words
    normalised only on the extracted few (100k records: 0.2 s CPU; as word lists 0.9 s)."""
    return [
        (pl.lit("t<") + title_key.str.extract(_KEY_HEAD, 1)).alias("_block_head"),
        (pl.lit("t>") + title_key.str.extract(_KEY_TAIL, 1)).alias("_block_tail"),
        (pl.lit("a<") + _key_words(abstract.str.head(200).str.extract(_FIRST_WORDS, 1))).alias(
            "_block_abstract"
        ),
    ]


def _jaccard(words: pl.Expr, other: pl.Expr) -> pl.Expr:
    return words.list.set_intersection(other).list.len() / words.list.set_union(
        other
    ).list.len().clip(lower_bound=1)


def resolve_identity(normalized: pl.DataFrame, params: NormalizeParams) -> pl.DataFrame:
    """NormalizedRecords -> the same rows, paper_id linked across sources, with `matched_by`
    (schemas.tables.MATCHED_BY: the record's own arXiv id; linked to an arXiv paper by DOI, by
    title key or by content; `none`: not linked, its own DOI or title id) and `match_score` (the
    abstracts' word-set overlap of a title or content link).

    A record with no arXiv id joins the paper of a record that has one when their DOIs match
    (and that DOI names one arXiv paper only), or else when their title keys match one arXiv
    paper only, no DOI disagrees, the title is not generic, and the abstracts agree (word-set
    overlap >= params.abstract_agreement, or one abstract is empty), or else by content
    (content_links: the abstracts alone, when params.content_match is set).
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
    linked = (
        normalized.join(by_doi, on="doi", how="left")
        .join(by_title, on="title_key", how="left")
        .with_row_index("_row")
    )
    # word sets only for the records that a title match alone would link: computed on every
    # row (most of them arXiv records that never need one) they were the identity step's
    # largest memory cost, 3.3 GB of its peak at 5M records (now 2.3 GB); and once each
    by_title_only = (
        pl.col("arxiv_id").is_null()
        & pl.col("_via_doi").is_null()
        & pl.col("_via_title").is_not_null()
    )
    words, ref_words = pl.col("_words"), pl.col("_ref_words")
    both = (words.list.len() > 0) & (ref_words.list.len() > 0)
    agree = (~both | (pl.col("_overlap") >= params.abstract_agreement)) & (
        pl.col("doi").is_null()
        | pl.col("_ref_doi").is_null()
        | (pl.col("doi") == pl.col("_ref_doi"))
    )
    agreed = (
        linked.filter(by_title_only)
        .select(
            "_row",
            "doi",
            "_ref_doi",
            _abstract_words(pl.col("abstract")).alias("_words"),
            _abstract_words(pl.col("_ref_abstract").fill_null("")).alias("_ref_words"),
        )
        .with_columns(_jaccard(words, ref_words).alias("_overlap"))
        .filter(agree)
        .select(
            "_row",
            pl.lit(True).alias("_by_title"),
            # an empty abstract agrees with any: no score then
            pl.when(both).then(pl.col("_overlap")).alias("_title_score"),
        )
    )
    linked = linked.join(agreed, on="_row", how="left")
    unlinked = linked.filter(
        pl.col("arxiv_id").is_null() & pl.col("_via_doi").is_null() & pl.col("_by_title").is_null()
    )
    linked = linked.join(content_links(unlinked, known, params), on="_row", how="left")
    own = pl.col("arxiv_id").is_not_null()
    via_doi = pl.col("_via_doi").is_not_null()
    via_title = pl.col("_by_title").is_not_null()
    via_content = pl.col("_via_content").is_not_null()
    return linked.select(
        *[
            pl.when(own)
            .then(pl.col("paper_id"))
            .when(via_doi)
            .then(pl.col("_via_doi"))
            .when(via_title)
            .then(pl.col("_via_title"))
            .when(via_content)
            .then(pl.col("_via_content"))
            .otherwise(pl.col("paper_id"))
            .alias("paper_id")
            if c == "paper_id"
            else pl.col(c)
            for c in normalized.columns
        ],
        pl.when(own)
        .then(pl.lit("arxiv_id"))
        .when(via_doi)
        .then(pl.lit("doi"))
        .when(via_title)
        .then(pl.lit("title"))
        .when(via_content)
        .then(pl.lit("content"))
        .otherwise(pl.lit("none"))
        .alias("matched_by"),
        pl.when(own | via_doi)
        .then(pl.lit(None, pl.Float64))
        .when(via_title)
        .then(pl.col("_title_score"))
        .otherwise(pl.col("_content_score"))
        .round(4)
        .alias("match_score"),
    )


def content_links(
    unlinked: pl.DataFrame, known: pl.DataFrame, params: NormalizeParams
) -> pl.DataFrame:
    """(_row, _via_content, _content_score): the arXiv paper each unlinked record (no arXiv id,
    no DOI or title link; `_row` identifies it) is the same work as, by its abstract alone.

    Candidates are the arXiv records sharing a blocking key (content_blocks; a key shared by
    more than params.content_block_cap arXiv papers is dropped, it names a phrase, not a
    paper). A candidate is verified by the word-set overlap (Jaccard) of the two abstracts,
    both of at least params.content_min_words distinct words; its best record's overlap must be
    >= params.content_match, no DOI may disagree, and the titles must share at least
    params.content_title_overlap of the shorter one's words. A record whose passing candidates
    are more than one arXiv paper stays unlinked. params.content_match None: no content links.
    """
    schema = {"_row": pl.UInt32, "_via_content": pl.String, "_content_score": pl.Float64}
    if params.content_match is None or not unlinked.height or not known.height:
        return pl.DataFrame(schema=schema)
    block = pl.concat_list(content_blocks(pl.col("title_key"), pl.col("abstract"))).alias("_block")
    words = _abstract_words(pl.col("abstract")).alias("_words")
    mine = (
        unlinked.select("_row", "doi", "abstract", "title_key")
        .with_columns(words)
        .filter(pl.col("_words").list.len() >= params.content_min_words)
    )
    mine_blocks = mine.select("_row", block).explode("_block").drop_nulls("_block").unique()
    theirs = known.select("arxiv_id", "doi", "abstract", "title_key").with_row_index("_k")
    theirs_blocks = (
        theirs.select("_k", "arxiv_id", block)
        .explode("_block")
        .filter(pl.col("_block").is_in(mine_blocks["_block"].unique().implode()))
    )
    # a key many arXiv papers share names a phrase ("a survey of large"), not a paper
    wide = (
        theirs_blocks.group_by("_block")
        .agg(pl.col("arxiv_id").n_unique().alias("_papers"))
        .filter(pl.col("_papers") > params.content_block_cap)
    )
    pairs = (
        mine_blocks.join(theirs_blocks.join(wide, on="_block", how="anti"), on="_block")
        .select("_row", "_k", "arxiv_id")
        .unique()
    )
    if not pairs.height:
        return pl.DataFrame(schema=schema)
    their_words = (
        theirs.join(pairs.select("_k").unique(), on="_k", how="semi")
        .select(
            "_k",
            pl.col("doi").alias("_their_doi"),
            words.alias("_their_words"),
            pl.col("title_key").str.split(" ").list.unique().alias("_their_title"),
        )
        .filter(pl.col("_their_words").list.len() >= params.content_min_words)
    )
    scored = (
        pairs.join(
            mine.select("_row", "doi", "_words", pl.col("title_key").str.split(" ").list.unique()),
            on="_row",
        )
        .join(their_words, on="_k")
        .filter(
            pl.col("doi").is_null()
            | pl.col("_their_doi").is_null()
            | (pl.col("doi") == pl.col("_their_doi"))
        )
        .with_columns(_jaccard(pl.col("_words"), pl.col("_their_words")).alias("_score"))
        .filter(pl.col("_score") >= params.content_match)
        # a sequel or a companion paper can reuse its abstract (WebSailor, WebSailor-V2): the
        # titles must share a part of the shorter one's words (a subtitle or a retitled v2 do)
        .filter(
            pl.col("title_key").list.set_intersection("_their_title").list.len()
            >= params.content_title_overlap
            * pl.min_horizontal(pl.col("title_key").list.len(), pl.col("_their_title").list.len())
        )
    )
    return (
        scored.group_by("_row")
        .agg(
            pl.col("arxiv_id").n_unique().alias("_papers"),
            pl.col("arxiv_id").min().alias("_via_content"),
            pl.col("_score").max().alias("_content_score"),
        )
        .filter(pl.col("_papers") == 1)
        .select(list(schema))
        .sort("_row")
        .cast(schema)  # type: ignore[arg-type]
    )


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
