"""Pandera models for every stage boundary; the published tables' pyarrow schemas come from them."""

from __future__ import annotations

from typing import Any, Final

import pandera.polars as pa
import polars as pl
import pyarrow as arrow

# Bump on any change to a published table: minor for added columns, major for removed or renamed.
SCHEMA_VERSION: Final = "1.1.0"

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

    paper_id: str = pa.Field(unique=True)
    arxiv_id: str = pa.Field(nullable=True, str_matches=ARXIV_ID_PATTERN)
    title: str = pa.Field(str_matches=r"\S")
    title_raw: str
    abstract: str
    abstract_raw: str
    title_key: str = pa.Field(str_length={"min_value": 1})
    authors: pl.List(pl.String)  # type: ignore[valid-type]
    published_at: UTC_DATETIME = pa.Field(nullable=True)  # type: ignore[valid-type]
    listing_dates: pl.List(pl.Date)  # type: ignore[valid-type]
    sources: pl.List(pl.String)  # type: ignore[valid-type]
    links: pl.List(LINK_STRUCT)  # type: ignore[valid-type]
    code_url: str = pa.Field(nullable=True, str_matches=URL_PATTERN)
    tags: pl.List(pl.String)  # type: ignore[valid-type]
    keyphrases: pl.List(pl.String)  # type: ignore[valid-type]
    # 1.1.0: fields real sources bring
    doi: str = pa.Field(nullable=True)
    categories: pl.List(pl.String)  # type: ignore[valid-type]
    upvotes: int = pa.Field(nullable=True, ge=0)
    comments: str = pa.Field(nullable=True)
    license: str = pa.Field(nullable=True)
    hf_keywords: pl.List(pl.String)  # type: ignore[valid-type]

    class Config:
        strict = True


class Links(pa.DataFrameModel):
    """Published: one row per (paper, canonical link)."""

    paper_id: str
    url: str = pa.Field(str_matches=URL_PATTERN)
    url_raw: str
    kind: str = pa.Field(isin=list(LINK_KINDS))
    host: str = pa.Field(str_length={"min_value": 1})
    origin: str = pa.Field(isin=list(LINK_ORIGINS))
    rule: str
    start: int = pa.Field(nullable=True, ge=0)  # null for curated links (no text span)
    end: int = pa.Field(nullable=True, ge=1)
    curated: bool  # 1.1.0: a source's curated field (HF githubRepo/projectPage) names this link

    class Config:
        strict = True
        unique = ["paper_id", "url"]


class Tags(pa.DataFrameModel):
    """Published: one row per (paper, topic tag) with its score and evidence."""

    paper_id: str
    tag: str
    score: float = pa.Field(gt=0)
    evidence: str

    class Config:
        strict = True
        unique = ["paper_id", "tag"]


class Rejected(pa.DataFrameModel):
    """Published: every raw record (or derived row) that did not make it, with where and why."""

    source_file: str
    record_index: int = pa.Field(nullable=True, ge=0)
    stage: str = pa.Field(isin=list(STAGES))
    reason: str = pa.Field(str_length={"min_value": 1})
    raw: str = pa.Field(nullable=True)

    class Config:
        strict = True


class Provenance(pa.DataFrameModel):
    """Published: which raw record contributed to which paper (one row per contributing record)."""

    paper_id: str
    source_file: str
    source: str
    record_index: int = pa.Field(ge=0)
    line: int = pa.Field(nullable=True, ge=1)

    class Config:
        strict = True
        unique = ["source_file", "record_index"]


# Published tables in write order, with the columns they are sorted by (determinism).
PUBLISHED: Final[dict[str, tuple[type[pa.DataFrameModel], tuple[str, ...]]]] = {
    "papers": (Papers, ("paper_id",)),
    "links": (Links, ("paper_id", "start", "url")),
    "tags": (Tags, ("paper_id", "tag")),
    "provenance": (Provenance, ("source_file", "record_index")),
    "rejected": (Rejected, ("source_file", "record_index", "stage", "reason")),
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
