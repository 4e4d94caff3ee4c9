"""generic: JSON, JSON lines, CSV and Parquet records mapped to raw records by a per-source map."""

from __future__ import annotations

import datetime as dt
import fnmatch
import io
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import polars as pl

from papers.config import DATE_TARGETS, TEXT_TARGETS, GenericSource
from papers.stages.parse import listing_date_from_name
from schemas import RawRecords, Rejected, conform, empty_frame, polars_schema
from schemas.tables import CURATED_LINK_STRUCT

# Rejected.raw and RawRecords.raw keep at most this many characters of the original text.
RAW_MAX_CHARS: Final = 2000


# arXiv abs/pdf pages and Hugging Face paper pages: URLs that name an arXiv paper. Kept as written
# in arxiv_id_raw; the normaliser extracts the id.
PAPER_URL: Final = (
    r"(?i)^https?://(?:(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/"
    r"(?:\d{4}\.\d{4,5}|[a-z-]+(?:\.[a-z]{2})?/\d{7})"
    r"|(?:www\.)?(?:huggingface\.co|hf\.co)/papers/\d{4}\.\d{4,5})"
    r"(?:v\d+)?(?:\.pdf)?/?(?:[?#]\S*)?$"
)

# RFC 822 zone names (feeds still use them) as numeric offsets.
_ZONES: Final = {
    "GMT": "+00:00",
    "UTC": "+00:00",
    "UT": "+00:00",
    "Z": "+00:00",
    "EST": "-05:00",
    "EDT": "-04:00",
    "CST": "-06:00",
    "CDT": "-05:00",
    "MST": "-07:00",
    "MDT": "-06:00",
    "PST": "-08:00",
    "PDT": "-07:00",
}
# "A, B and C", "A, B, and C": the ways an author string separates names.
_NAME_SEPARATOR: Final = re.compile(r"\s*,\s*(?:and\s+)?|\s+and\s+")


def paper_url(url: pl.Expr) -> pl.Expr:
    """`url` itself when it is an arXiv abs/pdf or Hugging Face paper URL, else null."""
    stripped = url.str.strip_chars()
    return pl.when(stripped.str.contains(PAPER_URL)).then(stripped)


def utc_datetime(text: pl.Expr) -> pl.Expr:
    """ISO 8601 dates/datetimes or RFC 822 datetimes (String) as UTC datetimes; null if neither.

    A value with no offset is taken as UTC; a date alone is midnight UTC.
    """
    t = text.str.strip_chars().str.replace(r"^[A-Za-z]{3},?\s+", "")  # RFC 822 weekday
    t = t.str.replace(r"^(\d{4}-\d{2}-\d{2})[Tt ](\d)", "${1}T${2}")
    t = t.str.replace(r"^(\d{4}-\d{2}-\d{2})$", "${1}T00:00:00")
    for name, offset in _ZONES.items():
        t = t.str.replace(rf"(\d)\s*{name}$", f"${{1}}{offset}")
    # seconds are optional in both formats; chrono's formats need them
    t = t.str.replace(r"([T\s]\d{1,2}:\d{2})([^:\d]|$)", "${1}:00${2}")
    t = pl.when(t.str.contains(r"[+-]\d{2}:?\d{2}$")).then(t).otherwise(t + "+00:00")
    return pl.coalesce(
        t.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%z", strict=False, time_unit="us"),
        t.str.to_datetime("%d %b %Y %H:%M:%S %z", strict=False, time_unit="us"),
    ).dt.convert_time_zone("UTC")


_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def no_surrogates(text: str) -> str:
    """`text` with lone surrogates (from \\ud800-style JSON escapes) replaced by U+FFFD.

    Polars strings are UTF-8, which cannot hold a lone surrogate: building a frame would raise.
    """
    return text if text.isascii() else _SURROGATE.sub("\ufffd", text)


def _clean(value: Any) -> Any:
    """A mapped value (text, list of texts or other) without lone surrogates."""
    if isinstance(value, str):
        return no_surrogates(value)
    if isinstance(value, list):
        return [no_surrogates(v) if isinstance(v, str) else v for v in value]
    return value


def split_names(text: str) -> list[str]:
    """An author string ("A, B and C") as a list of names."""
    return [name for name in (n.strip() for n in _NAME_SEPARATOR.split(text)) if name]


def no_records() -> pl.DataFrame:
    """An empty RawRecords frame."""
    return empty_frame(RawRecords)


def file_reject(source_file: str, reason: str, raw: str | None) -> pl.DataFrame:
    """One Rejected row for a whole file (record_index null, stage "read")."""
    return pl.DataFrame(
        {
            "source_file": [source_file],
            "record_index": [None],
            "stage": ["read"],
            "reason": [no_surrogates(reason)],
            "raw": [None if raw is None else no_surrogates(raw[:RAW_MAX_CHARS])],
        },
        schema=polars_schema(Rejected),
    )


def preview(data: bytes) -> str:
    """The first RAW_MAX_CHARS characters of bytes as text (undecodable bytes replaced)."""
    return data[: RAW_MAX_CHARS * 4].decode("utf-8", errors="replace")[:RAW_MAX_CHARS]


def not_utf8_reason(exc: UnicodeDecodeError, data: bytes) -> str:
    """A readable reason for bytes that are not UTF-8."""
    return f"not valid UTF-8 text (byte {exc.start}: {data[exc.start : exc.start + 4]!r})"


def finish(frame: pl.DataFrame, source_file: str, source: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split a frame of mapped records into (RawRecords, Rejected) on its "reason" column.

    `frame` has record_index, line, raw, reason (null for a good record) and any RawRecords
    columns; rows with a reason become parse-stage rejects.
    """
    frame = frame.with_columns(
        pl.lit(source_file).alias("source_file"),
        pl.col("raw").str.head(RAW_MAX_CHARS),
    )
    records = (
        frame.filter(pl.col("reason").is_null())
        .with_columns(pl.lit(source).alias("source"))
        .pipe(conform, RawRecords)
    )
    rejects = (
        frame.filter(pl.col("reason").is_not_null())
        .with_columns(pl.lit("parse").alias("stage"))
        .pipe(conform, Rejected)
    )
    return records, rejects


def match_source(source_file: str, sources: Sequence[GenericSource]) -> GenericSource | None:
    """The first source whose glob matches `source_file` (relative to the raw folder), or None.

    fnmatch semantics, case-sensitive: `*` also matches `/`, so "*/papers/*.json" matches at
    any depth.
    """
    path = source_file.replace("\\", "/")
    return next((s for s in sources if fnmatch.fnmatchcase(path, s.glob)), None)


class _UnreadableError(Exception):
    """The file as a whole does not fit the source's format or records path."""


@dataclass
class _Loaded:
    """The records of a file before mapping: values, original texts, lines, load errors."""

    items: list[Any]
    raws: list[str]
    lines: list[int | None]
    errors: list[str | None]
    listing_date: Any = None
    columns: set[str] | None = None  # tabular formats: the file's columns


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "null" if value is None else type(value).__name__


def _lookup(item: Mapping[str, Any], path: str) -> tuple[Any, str | None]:
    """The value at a dotted path (None when a key is absent) or why the path cannot be followed."""
    if path in item:  # a flat key that contains dots (CSV header "paper.id")
        return item[path], None
    value: Any = item
    walked: list[str] = []
    for key in path.split("."):
        if value is None:
            return None, None
        if not isinstance(value, dict):
            where = ".".join(walked) or "the record"
            return None, f"field {path!r}: {where!r} is {_kind(value)}, not an object"
        walked.append(key)
        value = value.get(key)
    return value, None


def _dumps(value: Any) -> str:
    return no_surrogates(json.dumps(value, ensure_ascii=False, default=str))


def _load_json(data: bytes, source: GenericSource) -> _Loaded:
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
        raise _UnreadableError(f"not valid JSON: {exc}") from exc
    path = source.records_path
    if path:
        if not isinstance(doc, dict):
            msg = f"records path {path!r}: the top level is {_kind(doc)}, not an object"
            raise _UnreadableError(msg)
        items, error = _lookup(doc, path)
        if error:
            raise _UnreadableError(f"records path {error.removeprefix('field ')}")
        if not isinstance(items, list):
            where = "not found" if items is None else f"is {_kind(items)}, not a list"
            raise _UnreadableError(f"records path {path!r} {where}")
    elif isinstance(doc, list):
        items = doc
    elif isinstance(doc, dict):
        items = [doc]  # a single-object response (one paper)
    else:
        raise _UnreadableError(f"the top level is {_kind(doc)}, not records")
    listing: Any = None
    if source.listing_date_field and isinstance(doc, dict):
        listing = _clean(_lookup(doc, source.listing_date_field)[0])
    return _Loaded(
        items=items,
        raws=[_dumps(item) for item in items],
        lines=[None] * len(items),
        errors=[None] * len(items),
        listing_date=listing,
    )


def _load_jsonl(data: bytes) -> _Loaded:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _UnreadableError(not_utf8_reason(exc, data)) from exc
    loaded = _Loaded(items=[], raws=[], lines=[], errors=[])
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        item: Any = None
        error: str | None = None
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            error = f"line {number} is not valid JSON: {exc.msg} (column {exc.colno})"
        except RecursionError:
            error = f"line {number} is nested too deeply"
        loaded.items.append(item)
        loaded.raws.append(no_surrogates(line.rstrip("\r")))
        loaded.lines.append(number)
        loaded.errors.append(error)
    if loaded.items and all(loaded.errors):
        # not one line parses: this is not JSON lines at all, say so once
        raise _UnreadableError(f"not JSON lines: {loaded.errors[0]}")
    return loaded


# Magic numbers polars recognises and inflates on its own (gzip, zstd, zlib): unbounded, so refused.
_COMPRESSED: Final = re.compile(rb"\A(?:\x1f\x8b|\x28\xb5\x2f\xfd|\x78[\x01\x5e\x9c\xda])")


def _load_table(data: bytes, source: GenericSource) -> _Loaded:
    if source.format == "csv" and _COMPRESSED.match(data):
        msg = "a compressed CSV (gzip, zlib or zstd) is not supported: decompress it first"
        raise _UnreadableError(msg)
    try:
        if source.format == "csv":
            # everything as text: ids like 2401.01230 must not become floats
            frame = pl.read_csv(io.BytesIO(data), infer_schema=False)
        else:
            frame = pl.read_parquet(io.BytesIO(data))
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        raise _UnreadableError(f"not readable as {source.format.upper()}: {exc}") from exc
    rows = frame.to_dicts()
    return _Loaded(
        items=rows,
        raws=[_dumps(row) for row in rows],
        lines=[None] * len(rows),
        errors=[None] * len(rows),
        columns=set(frame.columns),
    )


def _text(value: Any) -> tuple[str | None, str | None]:
    if value is None or isinstance(value, str):
        return (value if value and value.strip() else None), None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value), None
    return None, f"is {_kind(value)}, not text"


def _names(value: Any) -> tuple[list[str], str | None]:
    if value is None:
        return [], None
    if isinstance(value, str):
        return split_names(value), None
    if not isinstance(value, list):
        return [], f"is {_kind(value)}, not a list of names"
    names: list[str] = []
    for entry in value:
        name = entry.get("name") if isinstance(entry, dict) else entry
        if not isinstance(name, str):
            return [], f"has an entry that is {_kind(entry)}, not a name or a {{name}} object"
        if name.strip():
            names.append(name.strip())
    return names, None


def _categories(value: Any) -> tuple[list[str], str | None]:
    if isinstance(value, str):
        return [c for c in re.split(r"[\s,;]+", value) if c], None
    if value is None:
        return [], None
    if isinstance(value, list) and all(isinstance(c, str) for c in value):
        return [c.strip() for c in value if c.strip()], None
    return [], f"is {_kind(value)}, not a list of categories"


def _date_text(value: Any) -> tuple[str | None, str | None]:
    # parsed vectorised later; Parquet dates come typed; anything else (epoch numbers, objects)
    # reads as an unknown date, not a broken record
    if isinstance(value, dt.date):
        return value.isoformat(), None
    return (value if isinstance(value, str) else None), None


def _count(value: Any) -> tuple[int | None, str | None]:
    # a soft field: a count that is not a non-negative integer is unknown, not a broken record
    if isinstance(value, bool):
        return None, None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    return (value if isinstance(value, int) and 0 <= value < 2**63 else None), None


_Coerce = Callable[[Any], tuple[Any, str | None]]
_COERCE: Final[dict[str, tuple[_Coerce, pl.DataType]]] = {
    **{t: (_text, pl.String()) for t in TEXT_TARGETS},
    "url": (_text, pl.String()),
    "authors": (_names, pl.List(pl.String)),
    "categories": (_categories, pl.List(pl.String)),
    **{t: (_date_text, pl.String()) for t in DATE_TARGETS},
    "upvotes": (_count, pl.Int64()),
}


def _map_fields(loaded: _Loaded, source: GenericSource) -> pl.DataFrame:
    """One row per loaded record: the mapped values (typed), lineage and a reason when bad."""
    columns: dict[str, list[Any]] = {target: [] for target in source.fields}
    errors: list[str | None] = []
    for item, load_error in zip(loaded.items, loaded.errors, strict=True):
        error = load_error
        if error is None and not isinstance(item, dict):
            error = f"record is {_kind(item)}, not an object"
        for target, path in source.fields.items():
            value: Any = None
            if error is None:
                found, error = _lookup(item, path)
                coerce = _COERCE[target][0]
                value, problem = coerce(found)
                if problem and error is None:
                    error = f"field {path!r} ({target}) {problem}"
            columns[target].append(_clean(value) if error is None else _COERCE[target][0](None)[0])
        errors.append(error)
    schema = {target: _COERCE[target][1] for target in source.fields}
    return pl.DataFrame(columns, schema=schema).with_columns(
        pl.Series("record_index", range(len(errors)), dtype=pl.Int64),
        pl.Series("line", loaded.lines, dtype=pl.Int64),
        pl.Series("raw", loaded.raws, dtype=pl.String),
        pl.Series("reason", errors, dtype=pl.String),
    )


def _listing_date(loaded: _Loaded, source_file: str) -> pl.Expr:
    by_name = listing_date_from_name(source_file)
    if not isinstance(loaded.listing_date, str):
        return by_name
    return pl.coalesce(
        utc_datetime(pl.lit(loaded.listing_date, pl.String)).dt.date(), by_name
    ).alias("listing_date")


def read_generic(
    data: bytes, source_file: str, source: GenericSource
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A file of `source`'s layout -> (records: RawRecords, rejects: Rejected); never raises.

    A file that does not parse as `source.format`, or whose records path (or a CSV/Parquet
    column) is missing, is one read-stage reject. A record whose mapped path runs into a
    non-object, whose value has the wrong shape, or that has no title and no id (arXiv id, DOI or
    paper URL) is a parse-stage reject.
    """
    try:
        if source.format == "json":
            loaded = _load_json(data, source)
        elif source.format == "jsonl":
            loaded = _load_jsonl(data)
        else:
            loaded = _load_table(data, source)
    except _UnreadableError as exc:
        return no_records(), file_reject(source_file, f"{source.name}: {exc}", preview(data))
    if loaded.columns is not None:
        missing = [
            f"{path!r} ({target})"
            for target, path in source.fields.items()
            if path not in loaded.columns and path.split(".")[0] not in loaded.columns
        ]
        if missing:
            reason = (
                f"{source.name}: column(s) not in the file: {', '.join(missing)}; "
                f"columns: {', '.join(sorted(loaded.columns))}"
            )
            return no_records(), file_reject(source_file, reason, preview(data))
    if not loaded.items:
        reason = f"{source.name}: no records in the file"
        return no_records(), file_reject(source_file, reason, preview(data))

    fields = source.fields
    frame = _map_fields(loaded, source)
    url = pl.col("url") if "url" in fields else pl.lit(None, pl.String)
    links = (
        pl.when(url.is_not_null())
        .then(pl.concat_list(pl.struct(url.alias("url"), pl.lit(fields["url"]).alias("field"))))
        .otherwise(pl.lit([], pl.List(CURATED_LINK_STRUCT)))
        if "url" in fields
        else pl.lit([], pl.List(CURATED_LINK_STRUCT))
    )

    def mapped(target: str) -> pl.Expr:
        return pl.col(target) if target in fields else pl.lit(None, pl.String)

    no_identity = (
        f"record has no title ({fields.get('title_raw', 'unmapped')}) and no id "
        f"(arxiv_id_raw: {fields.get('arxiv_id_raw', 'unmapped')}, "
        f"doi: {fields.get('doi', 'unmapped')}, url: {fields.get('url', 'unmapped')})"
    )
    frame = frame.with_columns(
        *(utc_datetime(pl.col(t)).alias(t) for t in DATE_TARGETS if t in fields),
        # the mapped id wins; a paper URL stands in when the id is unmapped or null
        pl.coalesce(mapped("arxiv_id_raw"), paper_url(url)).alias("arxiv_id_raw"),
        links.alias("curated_links"),
        _listing_date(loaded, source_file),
    )
    unidentified = (
        pl.col("reason").is_null()
        & mapped("title_raw").is_null()
        & pl.col("arxiv_id_raw").is_null()
        & mapped("doi").is_null()
    )
    frame = frame.with_columns(
        pl.when(unidentified).then(pl.lit(no_identity)).otherwise(pl.col("reason")).alias("reason")
    )
    return finish(frame, source_file, source.name)


# Two real third-party layouts as params.yaml `sources:` entries (each one is a GenericSource).
EXAMPLE_SOURCES: Final = """\
sources:
  # BinChang/hf-daily-paper-scraper: papers/YYYY-MM-DD.json, one file per daily page,
  # {date, papers: [{title, url, authors, pdf_url, abstract, upvotes}]}. url is the
  # huggingface.co/papers/<id> page (kept as a curated link); pdf_url is the arXiv PDF.
  - name: hf_daily_scrape_binchang
    glob: "*BinChang__hf-daily-paper-scraper/papers/*.json"
    format: json
    records_path: papers
    listing_date_field: date
    fields:
      title_raw: title
      abstract_raw: abstract
      arxiv_id_raw: pdf_url
      authors: authors
      upvotes: upvotes
      url: url
  # PapersWithCode API v1, GET /papers/ (paginated): {count, next, previous, results: [{id,
  # arxiv_id, url_abs, url_pdf, title, abstract, authors, published, ...}]}. arxiv_id is null
  # for non-arXiv papers (url_abs then points at the publisher).
  - name: paperswithcode_api
    glob: "*paperswithcode-go/dummy/paper_list_response.json"
    format: json
    records_path: results
    fields:
      title_raw: title
      abstract_raw: abstract
      arxiv_id_raw: arxiv_id
      authors: authors
      published_at: published
      url: url_abs
  # The same API, GET /papers/<id>/: one paper object, no envelope.
  - name: paperswithcode_api
    glob: "*paperswithcode-go/dummy/paper_get_response.json"
    format: json
    fields:
      title_raw: title
      abstract_raw: abstract
      arxiv_id_raw: arxiv_id
      authors: authors
      published_at: published
      url: url_abs
"""
