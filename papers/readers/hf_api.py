"""read: Hugging Face /api/daily_papers JSON listings into raw records with lineage, and rejects."""

from __future__ import annotations

import ast
import json
import re
from typing import Any, Final

import polars as pl

from papers.stages.parse import listing_date_from_name
from schemas import RawRecords, Rejected, conform, polars_schema

SOURCE: Final = "hf_daily_papers"

_RAW_CHARS: Final = 2000
_SNIFF_STRIP: Final = b"\xef\xbb\xbf \t\r\n"
# Every listing element starts with its "paper" object (API key order); repr-string elements spell
# it 'paper' and JSON-in-a-string elements \"paper\", so accept all three quotings.
_PAPER_KEY: Final = re.compile(rb"""\\?["']paper\\?["']\s*:\s*\{""")
# An array whose first element is an object, or a string holding one (the repr-string files).
_ARRAY_HEAD: Final = re.compile(rb'\[\s*"?\{')
# The {status, date, count, data: [...]} wrapper some files were saved in.
_WRAPPER_DATA: Final = re.compile(rb'"data"\s*:\s*\[\s*"?\{')
# What the API answers for a date it has no page for: {"error": "Sorry, we can't find ..."}.
_ERROR_HEAD: Final = re.compile(rb'\{\s*"error"\s*:\s*"')
# paper.publishedAt: ISO-8601 with milliseconds and a Z; %#z also takes +00:00 should it appear.
_ISO_FORMAT: Final = "%Y-%m-%dT%H:%M:%S%.f%#z"

# Only the fields the raw records use. Scalars are read as strings: JSON numbers and booleans then
# decode too (an id written as a number, upvotes as "12"); arrays or objects where a scalar belongs
# (or the reverse) make a record fail to decode, and it is rejected with the decoder's reason.
_RECORD: Final = pl.Struct(
    {
        "paper": pl.Struct(
            {
                "id": pl.String,
                "title": pl.String,
                "summary": pl.String,
                "authors": pl.List(pl.Struct({"name": pl.String})),
                "publishedAt": pl.String,
                "upvotes": pl.String,
                "githubRepo": pl.String,
                "projectPage": pl.String,
                "ai_keywords": pl.List(pl.String),
            }
        ),
        "title": pl.String,
        "summary": pl.String,
        "publishedAt": pl.String,
    }
)
_CURATED_FIELDS: Final = ("githubRepo", "projectPage")
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
# The useful part of the JSON decoder's error: which value it met where which kind belongs.
_DECODE_ERROR: Final = re.compile(r'deserializing value "(.*)" as (\w+)')


class _NotAListingError(Exception):
    """The file as a whole is not a daily_papers listing (the reason is the message)."""


def sniff_hf_api(head: bytes) -> bool:
    """First bytes of a file (up to 4096) -> whether they look like a daily_papers API response.

    Accepts the plain array, arrays of repr-string records, the {status, date, data} wrapper and
    the API's saved {"error": ...} body (so that file is rejected with the API's own message).
    """
    text = head.lstrip(_SNIFF_STRIP)
    if _ERROR_HEAD.match(text):
        return True
    if _ARRAY_HEAD.match(text) or (text[:1] == b"{" and _WRAPPER_DATA.search(text)):
        return _PAPER_KEY.search(text) is not None
    return False


def read_hf_api(data: bytes, source_file: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Whole file bytes -> (records conforming to RawRecords, rejects conforming to Rejected).

    Never raises on bad content: a file that is not a listing becomes one "read" reject, an
    element that cannot be made a paper one "parse" reject. An empty listing yields no rows.
    """
    try:
        elements, wrapper_date = _listing(data)
    except _NotAListingError as exc:
        preview = data[: 4 * _RAW_CHARS].decode("utf-8", errors="replace").lstrip("\ufeff")
        return _empty_records(), _file_reject(source_file, str(exc), preview[:_RAW_CHARS])

    # Per element in Python: the raw text each record keeps for lineage is the element's own.
    parts = [_element(element) for element in elements]
    docs = pl.Series("doc", [doc for _, doc, _ in parts], dtype=pl.String)
    decoded, shape_errors = _decode(docs)
    rows = (
        pl.DataFrame(
            [
                pl.Series("raw", [raw for raw, _, _ in parts], dtype=pl.String),
                decoded.alias("rec"),
                pl.Series("reason", [reason for _, _, reason in parts], dtype=pl.String),
                pl.Series("shape_error", shape_errors, dtype=pl.String),
            ]
        )
        .lazy()
        .with_row_index("record_index")
        .select(
            pl.col("record_index").cast(pl.Int64),
            "raw",
            *_fields(source_file, wrapper_date),
            pl.coalesce("reason", "shape_error").alias("reason"),
        )
        .with_columns(
            pl.coalesce(
                "reason",
                pl.when(pl.col("arxiv_id_raw").is_null() & pl.col("title_raw").is_null()).then(
                    pl.lit("record has neither a paper id nor a title")
                ),
            ).alias("reason"),
            pl.lit(source_file).alias("source_file"),
        )
        .collect()
    )
    records = conform(
        rows.filter(pl.col("reason").is_null()).with_columns(pl.lit(SOURCE).alias("source")),
        RawRecords,
    )
    rejects = rows.filter(pl.col("reason").is_not_null()).select(
        "source_file",
        "record_index",
        pl.lit("parse").alias("stage"),
        "reason",
        pl.col("raw").str.slice(0, _RAW_CHARS),
    )
    return records, rejects.cast(polars_schema(Rejected))


def _listing(data: bytes) -> tuple[list[Any], str | None]:
    """File bytes -> (listing elements, the wrapper's date if any); raises _NotAListingError."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        snippet = data[exc.start : exc.start + 4]
        raise _NotAListingError(f"not valid UTF-8 text (byte {exc.start}: {snippet!r})") from None
    if not text.strip():
        raise _NotAListingError("empty file")
    try:
        top = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        end = len(text.rstrip())
        # An unterminated string runs to the end of the text, so it too means the text stops
        # mid-value: a download or copy cut short rather than malformed JSON.
        if exc.pos >= end or exc.msg.startswith("Unterminated string"):
            line = text.count("\n", 0, end) + 1
            column = end - text.rfind("\n", 0, end)
            raise _NotAListingError(
                f"truncated JSON: the text stops mid-value at line {line} column {column} "
                f"({exc.msg}: {where})"
            ) from None
        raise _NotAListingError(f"invalid JSON at {where}: {exc.msg}") from None
    except RecursionError:
        raise _NotAListingError("invalid JSON: nested too deeply to read") from None

    if isinstance(top, list):
        return top, None
    if isinstance(top, dict):
        if "error" in top:
            raise _NotAListingError(f"saved API error body: {_one_line(str(top['error']))}")
        if isinstance(top.get("data"), list):
            date = top.get("date")
            # a lone surrogate (\ud800) cannot go into a polars string
            return top["data"], _utf8(date) if isinstance(date, str) else None
        keys = ", ".join(sorted(str(key) for key in top)[:8]) or "none"
        raise _NotAListingError(f"JSON object without a data array is not a listing (keys: {keys})")
    raise _NotAListingError(f"top-level JSON {_kind(top)} is not a listing")


def _element(value: Any) -> tuple[str, str | None, str | None]:
    """One listing element -> (its raw text, JSON text to decode or None, reject reason or None)."""
    if isinstance(value, str):
        # Some files hold str(record) (Python literal syntax: quotes ', True/False/None) instead of
        # the record. No vectorised parser reads Python literals, so these elements, and only
        # these, are evaluated one by one; literal_eval reads literals, it never runs code.
        text = _utf8(value)
        try:
            parsed = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
            return text, None, f"string record is not a Python literal: {_one_line(exc)}"
        if not isinstance(parsed, dict):
            return text, None, f"string record holds a {_kind(parsed)}, not an object"
        try:
            return text, _json_text(parsed), None
        except (TypeError, ValueError) as exc:
            return text, None, f"string record holds values JSON cannot represent: {_one_line(exc)}"
    try:
        raw = _json_text(value)
    except (TypeError, ValueError) as exc:
        # Only NaN or Infinity (json.loads accepts them) get here; keep what can be shown.
        return _utf8(repr(value)), None, f"record holds values JSON cannot represent: {exc}"
    if not isinstance(value, dict):
        return raw, None, f"record is a JSON {_kind(value)}, not an object"
    return raw, raw, None


def _decode(docs: pl.Series) -> tuple[pl.Series, list[str | None]]:
    """JSON texts -> (records decoded to _RECORD, per text why it would not decode or None)."""
    try:
        return docs.str.json_decode(_RECORD), [None] * docs.len()
    except pl.exceptions.PolarsError:
        pass
    # Some record has a field of the wrong kind. The decoder fails the whole column, so find the
    # culprits one by one (bad files only), then decode the others together.
    errors: list[str | None] = []
    for doc in docs:
        try:
            pl.Series([doc], dtype=pl.String).str.json_decode(_RECORD)
        except pl.exceptions.PolarsError as exc:
            errors.append(_shape_error(exc))
        else:
            errors.append(None)
    usable = pl.DataFrame({"doc": docs, "error": pl.Series(errors, dtype=pl.String)}).select(
        pl.when(pl.col("error").is_null()).then("doc")
    )
    return usable.to_series().str.json_decode(_RECORD), errors


def _shape_error(exc: Exception) -> str:
    """The reject reason for a record the JSON decoder refused."""
    found = _DECODE_ERROR.search(str(exc))
    if found is None:
        return f"record does not decode: {_one_line(exc)}"
    value, expected = found.groups()
    return (
        f"record has a field of the wrong type: expected {expected}, found {_one_line(value, 80)}"
    )


def _fields(source_file: str, wrapper_date: str | None) -> list[pl.Expr]:
    """Expressions over the decoded `rec` column -> the RawRecords fields this source fills."""
    rec = pl.col("rec")
    paper = rec.struct.field("paper")

    def field(name: str) -> pl.Expr:
        return paper.struct.field(name)

    submitted = rec.struct.field("publishedAt").str.to_datetime(
        _ISO_FORMAT, time_unit="us", time_zone="UTC", strict=False
    )
    upvotes = field("upvotes").cast(pl.Int64, strict=False)
    links = [
        pl.when(_present(field(name)).is_not_null()).then(
            pl.struct(field(name).alias("url"), pl.lit(name).alias("field"))
        )
        for name in _CURATED_FIELDS
    ]
    return [
        pl.coalesce(_present(field("title")), _present(rec.struct.field("title"))).alias(
            "title_raw"
        ),
        pl.coalesce(_present(field("summary")), _present(rec.struct.field("summary"))).alias(
            "abstract_raw"
        ),
        _present(field("id")).alias("arxiv_id_raw"),
        # Hidden authors are hidden on the HF page, not from the paper: keep every name, in order.
        field("authors")
        .list.eval(pl.element().struct.field("name"))
        .list.drop_nulls()
        .fill_null(pl.lit([], pl.List(pl.String)))
        .alias("authors"),
        field("publishedAt")
        .str.to_datetime(_ISO_FORMAT, time_unit="us", time_zone="UTC", strict=False)
        .alias("published_at"),
        # The file name's date is the listing asked for; the wrapper's date says the same; the
        # submission date is the best guess when neither survives.
        pl.coalesce(
            listing_date_from_name(source_file),
            pl.lit(wrapper_date, pl.String).str.to_date("%Y-%m-%d", strict=False),
            submitted.dt.date(),
        ).alias("listing_date"),
        pl.when(upvotes >= 0).then(upvotes).alias("upvotes"),
        field("ai_keywords")
        .list.drop_nulls()
        .fill_null(pl.lit([], pl.List(pl.String)))
        .alias("hf_keywords"),
        pl.concat_list(links).list.drop_nulls().alias("curated_links"),
    ]


def _present(text: pl.Expr) -> pl.Expr:
    """`text` where it has a non-blank character, else null (absent and "" mean the same here)."""
    return pl.when(text.str.strip_chars() != "").then(text)


def _json_text(value: Any) -> str:
    """A decoded JSON value -> its JSON text with sorted keys (deterministic lineage)."""
    return _utf8(json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=False))


def _utf8(text: str) -> str:
    """`text` with lone surrogates (from \\ud800-style JSON escapes) replaced by U+FFFD."""
    # Polars strings are UTF-8, which cannot hold a lone surrogate: building the frame would fail.
    if text.isascii():
        return text
    return _SURROGATE.sub("\ufffd", text)


def _kind(value: Any) -> str:
    """The JSON name of a decoded value's type (object, array, string, ...)."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if value is None:
        return "null"
    return type(value).__name__


def _one_line(message: object, limit: int = 200) -> str:
    """A message on one line, at most `limit` characters (reasons are read in tables)."""
    text = " ".join(str(message).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _empty_records() -> pl.DataFrame:
    """No records, with the RawRecords columns."""
    return pl.DataFrame(schema=polars_schema(RawRecords))


def _file_reject(source_file: str, reason: str, raw: str) -> pl.DataFrame:
    """The one Rejected row for a file that is not a listing."""
    return pl.DataFrame(
        {
            "source_file": [source_file],
            "record_index": [None],
            "stage": ["read"],
            "reason": [_utf8(reason)],
            "raw": [_utf8(raw)],
        },
        schema=polars_schema(Rejected),
    )
