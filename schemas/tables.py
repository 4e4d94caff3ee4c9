"""Pandera models for every stage boundary; the published tables' pyarrow schemas come from them."""

from __future__ import annotations

from typing import Any, Final

import pandera.polars as pa
import polars as pl
import pyarrow as arrow

from schemas.similarity import Duplicates, Related

# Bump on any change to a published table: minor for added columns, major for removed or renamed.
SCHEMA_VERSION: Final = "1.2.0"  # 1.2.0: the duplicates and related tables, provenance.matched_by

LINK_KINDS: Final = ("code", "dataset", "model", "demo", "project", "paper", "docs", "other")
LINK_ORIGINS: Final = ("abstract", "title", "curated")
STAGES: Final = ("read", "parse", "normalize", "links", "tags", "validate")

# arXiv ids: new style 2401.01234 (4 or 5 digit suffix), old style hep-th/9901001, math.AG/0301001.
ARXIV_ID_PATTERN: Final = r"^(\d{4}\.\d{4,5}|[a-z-]+(\.[A-Z]{2})?/\d{7})$"
URL_PATTERN: Final = r"^https?://[^\s/$.?#][^\s]*$"

UTC_DATETIME: Final = pl.Datetime("us", "UTC")
LINK_STRUCT: Final = pl.Struct({"url": pl.String, "kind": pl.String, "origin": pl.String})
# A link a source curates (HF API githubRepo / projectPage), as given, with the field it came from.
CURATED_LINK_STRUCT: Final = pl.Struct({"url": pl.String, "field": pl.String})


class RawRecords(pa.DataFrameModel):
    """Output of every reader: one row per raw record, with its lineage.

    Readers fill what their source has and leave the rest null (or an empty list).
    """

    source_file: str  # path relative to the raw folder
    source: str  # reader name: hf_papers_page, hf_daily_papers, arxiv_snapshot, ...
    record_index: int = pa.Field(ge=0)  # 0-based position of the record in its file
    line: int = pa.Field(nullable=True, ge=1)  # 1-based line where it starts, when meaningful
    title_raw: str = pa.Field(nullable=True)
    abstract_raw: str = pa.Field(nullable=True)
    arxiv_id_raw: str = pa.Field(nullable=True)  # as written: 2401.01234v2, arXiv:..., a URL
    doi: str = pa.Field(nullable=True)
    authors: pl.List(pl.String)  # type: ignore[valid-type]
    categories: pl.List(pl.String)  # type: ignore[valid-type]  # arXiv categories, primary first
    published_at: UTC_DATETIME = pa.Field(nullable=True)  # type: ignore[valid-type]
    updated_at: UTC_DATETIME = pa.Field(nullable=True)  # type: ignore[valid-type]
    listing_date: pl.Date = pa.Field(nullable=True)  # the daily listing that showed it
    upvotes: int = pa.Field(nullable=True, ge=0)
    comments: str = pa.Field(nullable=True)  # arXiv comments ("12 pages, 3 figures")
    journal_ref: str = pa.Field(nullable=True)
    license: str = pa.Field(nullable=True)
    hf_keywords: pl.List(pl.String)  # type: ignore[valid-type]  # HF API ai_keywords
    curated_links: pl.List(CURATED_LINK_STRUCT)  # type: ignore[valid-type]
    raw: str  # the record as it came in (JSON text, XML element, text block)

    class Config:
        strict = True


class NormalizedRecords(RawRecords):
    """Output of normalize (before the merge): cleaned text, keys and the paper id."""

    title: str = pa.Field(str_matches=r"\S")
    abstract: str
    title_key: str = pa.Field(str_length={"min_value": 1})
    arxiv_id: str = pa.Field(nullable=True, str_matches=ARXIV_ID_PATTERN)
    paper_id: str

    class Config:
        strict = True


class Papers(pa.DataFrameModel):
    """Published: one row per paper."""

    paper_id: str = pa.Field(
        unique=True,
        description="arXiv id without version when known, else doi:<doi> or title:<hash>",
    )
    arxiv_id: str = pa.Field(
        nullable=True,
        str_matches=ARXIV_ID_PATTERN,
        description="arXiv id without version (2401.01234, hep-th/9901001)",
    )
    title: str = pa.Field(
        str_matches=r"\S",
        description="readable title: Unicode NFC, whitespace collapsed, LaTeX turned into Unicode",
    )
    title_raw: str = pa.Field(description="the title exactly as listed")
    abstract: str = pa.Field(
        description="readable abstract: NFC, whitespace collapsed, LaTeX turned into Unicode"
    )
    abstract_raw: str = pa.Field(description="the abstract exactly as listed")
    title_key: str = pa.Field(
        str_length={"min_value": 1},
        description="case-folded title without accents or punctuation (identity key)",
    )
    authors: pl.List(pl.String) = pa.Field(  # type: ignore[valid-type]
        description="author names (empty for listings that carry none)"
    )
    published_at: UTC_DATETIME = pa.Field(  # type: ignore[valid-type]
        nullable=True, description="publication time (UTC) when a source gives one; the earliest"
    )
    listing_dates: pl.List(pl.Date) = pa.Field(  # type: ignore[valid-type]
        description="dates of the daily listings the paper appeared in"
    )
    sources: pl.List(pl.String) = pa.Field(description="the sources (readers) that listed it")  # type: ignore[valid-type]
    links: pl.List(LINK_STRUCT) = pa.Field(  # type: ignore[valid-type]
        description="the paper's links in text order: url, kind, origin (as links.parquet)"
    )
    code_url: str = pa.Field(
        nullable=True,
        str_matches=URL_PATTERN,
        description="the paper's own code repository, when it names one",
    )
    tags: pl.List(pl.String) = pa.Field(  # type: ignore[valid-type]
        description="topic ids from the vocabulary, strongest first"
    )
    keyphrases: pl.List(pl.String) = pa.Field(  # type: ignore[valid-type]
        description="up to 5 TF-IDF keyphrases, never a vocabulary term"
    )
    # 1.1.0: fields real sources bring
    doi: str = pa.Field(nullable=True, description="DOI, lower case, without resolver prefix")
    categories: pl.List(pl.String) = pa.Field(description="arXiv categories, primary first")  # type: ignore[valid-type]
    upvotes: int = pa.Field(
        nullable=True, ge=0, description="Hugging Face upvotes in the latest daily listing"
    )
    comments: str = pa.Field(nullable=True, description='arXiv comments ("12 pages, 3 figures")')
    license: str = pa.Field(nullable=True, description="license URL the source gives for the paper")
    hf_keywords: pl.List(pl.String) = pa.Field(  # type: ignore[valid-type]
        description="the HF API's ai_keywords, kept apart from our own tags"
    )

    class Config:
        strict = True


class Links(pa.DataFrameModel):
    """Published: one row per (paper, canonical link)."""

    paper_id: str = pa.Field(description="the paper the link belongs to (papers.paper_id)")
    url: str = pa.Field(
        str_matches=URL_PATTERN,
        description="canonical URL: https, lower-case host, mirrors mapped, repository root",
    )
    url_raw: str = pa.Field(description="the URL as written, after trimming sentence punctuation")
    kind: str = pa.Field(
        isin=list(LINK_KINDS),
        description="code, dataset, model, demo, project, paper, docs or other",
    )
    host: str = pa.Field(str_length={"min_value": 1}, description="host of the canonical URL")
    origin: str = pa.Field(
        isin=list(LINK_ORIGINS),
        description="where it was found: abstract, title, or curated (a source's field only)",
    )
    rule: str = pa.Field(
        description="the classification rule in params.yaml that matched (default when none)"
    )
    start: int = pa.Field(
        nullable=True,
        ge=0,
        description="start of url_raw in the normalised abstract or title (null for curated links)",
    )
    end: int = pa.Field(
        nullable=True,
        ge=1,
        description="end of url_raw in the normalised abstract or title (null for curated links)",
    )
    curated: bool = pa.Field(
        description="a source's curated field (HF githubRepo or projectPage) names this link"
    )  # 1.1.0

    class Config:
        strict = True
        unique = ["paper_id", "url"]


class Tags(pa.DataFrameModel):
    """Published: one row per (paper, topic tag) with its score and evidence."""

    paper_id: str = pa.Field(description="the tagged paper (papers.paper_id)")
    tag: str = pa.Field(description="topic id from the vocabulary")
    score: float = pa.Field(
        gt=0,
        description="title hits x title_weight + abstract hits x abstract_weight",
    )
    evidence: str = pa.Field(description="the vocabulary term matched most often")

    class Config:
        strict = True
        unique = ["paper_id", "tag"]


class Rejected(pa.DataFrameModel):
    """Published: every raw record (or derived row) that did not make it, with where and why."""

    source_file: str = pa.Field(
        description="raw file the record came from (relative to the raw folder)"
    )
    record_index: int = pa.Field(
        nullable=True,
        ge=0,
        description="0-based position in its file (null when the whole file was rejected)",
    )
    stage: str = pa.Field(
        isin=list(STAGES),
        description="stage that rejected it: read, parse, normalize, links, tags, validate",
    )
    reason: str = pa.Field(str_length={"min_value": 1}, description="why it was rejected")
    raw: str = pa.Field(nullable=True, description="the record as it came in")

    class Config:
        strict = True


# how a record was joined to its paper (provenance.matched_by, papers/stages/normalize.py)
MATCHED_BY: Final = ("arxiv_id", "doi", "title", "content", "none")


class Provenance(pa.DataFrameModel):
    """Published: which raw record contributed to which paper (one row per contributing record)."""

    paper_id: str = pa.Field(description="the paper the record contributed to (papers.paper_id)")
    source_file: str = pa.Field(
        description="raw file the record came from (relative to the raw folder)"
    )
    source: str = pa.Field(
        description="the reader that read it (hf_papers_page, arxiv_snapshot, ...)"
    )
    record_index: int = pa.Field(ge=0, description="0-based position of the record in its file")
    line: int = pa.Field(
        nullable=True, ge=1, description="1-based line where the record starts, when meaningful"
    )
    matched_by: str = pa.Field(
        isin=list(MATCHED_BY),
        description="how the record was joined to its paper: its own arXiv id; linked to an arXiv "
        "paper by DOI, by title key (and agreeing abstracts) or by content (abstracts alone); "
        "none: its own DOI or title id (1.2.0)",
    )
    match_score: float = pa.Field(
        nullable=True,
        ge=0,
        le=1,
        description="abstract word-set overlap (Jaccard) of a title or content link (1.2.0)",
    )

    class Config:
        strict = True
        unique = ["source_file", "record_index"]


OPS: Final = ("added", "updated", "removed")


class Changes(pa.DataFrameModel):
    """The change feed of one version (changes/v<number>-<sha12>.parquet): one row per paper that
    was added, updated or removed since the parent version. Not a table of `PUBLISHED`: it is
    per version, the tables are the version."""

    version: int = pa.Field(ge=1, description="the version number (manifest dataset.number)")
    dataset_version: str = pa.Field(description="the version's content id (dataset.version)")
    paper_id: str = pa.Field(description="the paper (papers.paper_id)")
    op: str = pa.Field(isin=OPS, description="added, updated or removed")
    fields: pl.List(pl.String) = pa.Field(  # type: ignore[valid-type]
        description="for updated: the papers columns that differ, in table order; else empty"
    )
    previous_paper_id: str = pa.Field(
        nullable=True, description="on an added row: the id the paper had before re-identification"
    )

    class Config:
        strict = True


# Published tables in write order, with the columns they are sorted by (determinism).
PUBLISHED: Final[dict[str, tuple[type[pa.DataFrameModel], tuple[str, ...]]]] = {
    "papers": (Papers, ("paper_id",)),
    "links": (Links, ("paper_id", "start", "url")),
    "tags": (Tags, ("paper_id", "tag")),
    "provenance": (Provenance, ("source_file", "record_index")),
    "rejected": (Rejected, ("source_file", "record_index", "stage", "reason")),
    "duplicates": (Duplicates, ("paper_id_a", "paper_id_b")),
    "related": (Related, ("paper_id", "method", "rank")),
}


def polars_schema(model: type[pa.DataFrameModel]) -> pl.Schema:
    """The polars schema (column order and dtypes) a model describes."""
    schema = model.to_schema()
    return pl.Schema({name: col.dtype.type for name, col in schema.columns.items()})


def _arrow_type(dtype: Any) -> arrow.DataType:
    # Explicit mapping (not polars' own export) so the files use the most widely read Arrow types:
    # plain string and list, not large_string/string_view, whatever the polars version.
    if isinstance(dtype, type):
        dtype = dtype()
    if dtype == pl.String:
        return arrow.string()
    if dtype == pl.Int64:
        return arrow.int64()
    if dtype == pl.Int32:
        return arrow.int32()
    if dtype == pl.UInt8:
        return arrow.uint8()
    if dtype == pl.Float32:
        return arrow.float32()
    if dtype == pl.Float64:
        return arrow.float64()
    if dtype == pl.Boolean:
        return arrow.bool_()
    if dtype == pl.Date:
        return arrow.date32()
    if isinstance(dtype, pl.Datetime):
        return arrow.timestamp(dtype.time_unit or "us", tz=dtype.time_zone)
    if isinstance(dtype, pl.List):
        return arrow.list_(_arrow_type(dtype.inner))
    if isinstance(dtype, pl.Struct):
        return arrow.struct([arrow.field(f.name, _arrow_type(f.dtype)) for f in dtype.fields])
    msg = f"no Arrow mapping for polars dtype {dtype}"
    raise TypeError(msg)


def arrow_schema(model: type[pa.DataFrameModel]) -> arrow.Schema:
    """The pyarrow schema of a published table, derived from its Pandera model."""
    schema = model.to_schema()
    fields = [
        arrow.field(name, _arrow_type(col.dtype.type), nullable=bool(col.nullable))
        for name, col in schema.columns.items()
    ]
    return arrow.schema(fields)


def conform(frame: pl.DataFrame, model: type[pa.DataFrameModel]) -> pl.DataFrame:
    """`frame` with exactly the model's columns, in order, cast to its dtypes.

    Columns the frame lacks are added as null, or as empty lists for list columns (a reader fills
    only what its source has).
    """
    schema = polars_schema(model)
    missing = [
        (pl.lit([], dtype) if isinstance(dtype, pl.List) else pl.lit(None, dtype)).alias(name)
        for name, dtype in schema.items()
        if name not in frame.columns
    ]
    return frame.with_columns(missing).select(schema.names()).cast(schema)


def empty_frame(model: type[pa.DataFrameModel]) -> pl.DataFrame:
    """An empty frame with exactly the model's columns and dtypes."""
    return pl.DataFrame(schema=polars_schema(model))
