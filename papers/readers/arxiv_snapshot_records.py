"""arXiv snapshot records: NDJSON lines parsed by polars into RawRecords, each bad line found and
rejected with its reason. Shared by the JSON-lines and the JSON-array variants of the snapshot."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Final

import polars as pl

from papers.readers.arxiv_common import record_rejects, utc
from schemas import RawRecords, Rejected, conform

SOURCE_SNAPSHOT: Final = "arxiv_snapshot"

# Parts a batch with a bad line is cut into to find it (see _parse_lines).
_SPLIT: Final = 64

# versions[].created in the snapshot: RFC 1123, "Mon, 2 Apr 2007 19:18:42 GMT".
_RFC1123: Final = "%a, %d %b %Y %H:%M:%S GMT"

# The snapshot fields records use; submitter and report-no are left out (no RawRecords column).
# Every field as String: a nested value (versions, authors_parsed) comes back as polars' own
# re-serialisation of it. That text is not always JSON (polars drops the escaping of backslashes
# and writes tabs raw: "Fran\\ccois" comes back as "Fran\ccois"), so it is no input for a JSON
# decode; only versions[0].created is taken from it, by pattern. This layout reads any JSON object
# (the bad-line reasons come from it) and is the I/O floor's schema (bench/run.py).
SNAPSHOT_SCHEMA: Final = pl.Schema(
    {
        "id": pl.String,
        "authors": pl.String,
        "title": pl.String,
        "comments": pl.String,
        "journal-ref": pl.String,
        "doi": pl.String,
        "categories": pl.String,
        "license": pl.String,
        "abstract": pl.String,
        "versions": pl.String,
        "update_date": pl.String,
        "authors_parsed": pl.String,
    }
)
_AUTHORS_PARSED: Final = pl.List(pl.List(pl.String))
# What records are read with: authors_parsed decoded by the NDJSON reader itself, from the JSON as
# written (escapes and all). A line whose authors_parsed is not a list of lists (a string, a
# number, an object) fails this read but not the all-String one: it is read that way, with
# authors_parsed null (see _parse_lines). 30k sample lines: 0.25 s CPU, against 0.15 s for the
# String read plus 3.8 s for decoding the re-serialised text in Python once a batch had a backslash.
_SNAPSHOT_READ_SCHEMA: Final = pl.Schema({**SNAPSHOT_SCHEMA, "authors_parsed": _AUTHORS_PARSED})
# versions[0].created, from the versions JSON text: the first object's "created".
_FIRST_CREATED: Final = r'^\s*\[\s*\{[^{}]*?"created"\s*:\s*"([^"]*)"'
_NO_STRINGS: Final = pl.lit([], pl.List(pl.String))


def _tidy_names(names: pl.Expr) -> pl.Expr:
    """Each name with whitespace runs (hard wraps in the source) collapsed; empty names dropped."""
    # The same as replacing every r"\s+" with " ", but single spaces, most of the whitespace in
    # names, are not matched: 2.4x faster on the 30k sample.
    name = pl.element().str.replace_all(r"\s\s+|[^\S ]", " ").str.strip_chars()
    return names.list.eval(name.filter(name != ""))


def _blank(column: str) -> pl.Expr:
    return pl.col(column).str.strip_chars().fill_null("") == ""


def _parsed_authors() -> pl.Expr:
    """Authors as "Forenames Keyname Suffix" from authors_parsed (null without one)."""

    def part(index: int) -> pl.Expr:
        return pl.element().list.get(index, null_on_oob=True)

    # authors_parsed entries are [keyname, forenames, suffix], some with a 4th: the affiliation.
    return _tidy_names(
        pl.col("authors_parsed").list.eval(
            pl.concat_str([part(1), part(0), part(2)], separator=" ", ignore_nulls=True)
        )
    )


def _snapshot_authors(parsed: pl.Expr) -> pl.Expr:
    """Authors: the `parsed` names (_parsed_authors) when there are any, else split from the
    authors string. Pass `parsed` as a column: the expression uses it twice."""
    found = parsed.list.len() > 0
    # The authors string reads "A. One, B. Two and C. Three"; only split where it is used.
    listed = _tidy_names(
        pl.when(found)
        .then(None)
        .otherwise(pl.col("authors"))
        .str.replace_all(r"\s+and\s+", ",")
        .str.split(",")
    )
    return pl.when(found).then(parsed).otherwise(listed).fill_null(_NO_STRINGS)


def _snapshot_frames(parsed: pl.DataFrame, source_file: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Parsed snapshot rows (plus record_index, line, raw) -> (records, rejects)."""
    unusable = _blank("id") & _blank("title")
    records = (
        parsed.filter(~unusable)
        .with_columns(_parsed_authors().alias("_names"))
        .select(
            pl.lit(source_file).alias("source_file"),
            pl.lit(SOURCE_SNAPSHOT).alias("source"),
            "record_index",
            "line",
            pl.col("title").alias("title_raw"),
            pl.col("abstract").alias("abstract_raw"),
            pl.col("id").alias("arxiv_id_raw"),
            # "10.1364/JOSAA.23.002578 10.1364/JOSAA.32.002407": the paper's DOI, then its
            # erratum's; the normaliser takes one DOI, so as written the field was lost.
            pl.col("doi").str.extract(r"^\s*(\S+)").alias("doi"),
            _snapshot_authors(pl.col("_names")).alias("authors"),
            pl.col("categories").str.extract_all(r"\S+").fill_null(_NO_STRINGS).alias("categories"),
            # versions[0] is v1: when the paper first appeared.
            pl.col("versions")
            .str.extract(_FIRST_CREATED, 1)
            .str.strip_chars()
            .str.to_datetime(_RFC1123, strict=False, time_zone="UTC")
            .alias("published_at"),
            utc(pl.col("update_date")).alias("updated_at"),
            "comments",
            pl.col("journal-ref").alias("journal_ref"),
            "license",
            "raw",
        )
        .pipe(conform, RawRecords)
    )
    rejects = parsed.filter(unusable).select(
        pl.lit(source_file).alias("source_file"),
        "record_index",
        pl.lit("parse").alias("stage"),
        pl.format("record has no arXiv id and no title (line {})", "line").alias("reason"),
        "raw",
    )
    return records, conform(rejects, Rejected)


def _read_ndjson(
    buffer: bytes, rows: int, schema: pl.Schema = _SNAPSHOT_READ_SCHEMA
) -> tuple[pl.DataFrame | None, str]:
    """NDJSON text expected to hold `rows` records -> their frame (read with `schema`), or None and
    the reason when any line does not parse (or blank-line handling left a different number of
    rows)."""
    if buffer[:1] not in (b"{", b"\n"):
        # polars decompresses a buffer that starts like a gzip/zlib/zstd stream: a line holding
        # one would be inflated without bound and read as records. A leading blank line (not a
        # row) stops that. Found by the atheris harness.
        buffer = b"\n" + buffer
    try:
        frame = pl.read_ndjson(buffer, schema=schema)
    except (pl.exceptions.PolarsError, ValueError, OSError) as exc:
        return None, str(exc).strip().split("\n", 1)[0]
    if frame.height != rows:
        return None, f"{rows} lines gave {frame.height} rows"
    return frame, ""


def _bad_line_reason(line: bytes, polars_error: str) -> str:
    """Why one line is not a snapshot record, worded from the stricter of json and polars."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"not valid UTF-8 (byte {exc.start})"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"invalid JSON: {exc.msg} (column {exc.colno})"
    except RecursionError:
        return "invalid JSON: nested too deeply to read"
    if not isinstance(value, dict):
        return f"not a JSON object but a JSON {type(value).__name__}"
    return f"JSON object does not fit the snapshot layout: {polars_error}"


def _parse_lines(lines: list[bytes]) -> tuple[list[pl.DataFrame], dict[int, str]]:
    """JSON lines -> frames of the lines polars parses (in line order) and {position: reason} for
    the lines it cannot.

    A failing range of lines is cut in up to _SPLIT parts, recursively, down to its bad lines: a
    batch with b bad lines is parsed about 1 + b/_SPLIT times over, not log2(batch) times as
    halving would (200k lines with 10 bad ones: 6.5 s by halving, 4.5 s this way; 2.6-3.1 s for
    200k clean lines). A single line that fails is read again with every field as String: when
    that works, only its authors_parsed is of another shape, and it is kept with that null.
    """
    frames: list[pl.DataFrame] = []
    bad: dict[int, str] = {}
    pending = [(0, len(lines))]
    while pending:
        low, high = pending.pop()
        frame, error = _read_ndjson(b"\n".join(lines[low:high]), high - low)
        if frame is not None:
            frames.append(frame)
        elif high - low == 1:
            frame, error = _read_ndjson(lines[low], 1, SNAPSHOT_SCHEMA)
            if frame is None:
                bad[low] = _bad_line_reason(lines[low], error)
            else:
                frames.append(
                    frame.with_columns(pl.lit(None, _AUTHORS_PARSED).alias("authors_parsed"))
                )
        else:
            step = -(-(high - low) // _SPLIT)
            # Pushed last part first so the first part is parsed first: frames stay in line order.
            pending.extend((i, min(i + step, high)) for i in reversed(range(low, high, step)))
    return frames, bad


def snapshot_batch(
    meta: pl.DataFrame,
    buffer: bytes,
    lines: Callable[[], list[bytes]],
    source_file: str,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Snapshot records -> (records, rejects).

    meta has one row per record (record_index, line, raw); buffer holds them as NDJSON (blank
    lines allowed) for the one-call fast path; lines() gives them one by one, only called when
    that fails, to find the bad ones.
    """
    parsed, _ = _read_ndjson(buffer, meta.height)
    malformed = record_rejects(source_file, [])
    if parsed is None:
        frames, bad = _parse_lines(lines())
        parsed = pl.concat(frames) if frames else pl.DataFrame(schema=_SNAPSHOT_READ_SCHEMA)
        # only the bad lines are visited in Python, never the whole batch
        positions = sorted(bad)
        picked = meta[positions]
        malformed = record_rejects(
            source_file,
            [
                (index, f"{bad[i]} (line {line})", raw)
                for i, (index, line, raw) in zip(positions, picked.iter_rows(), strict=True)
            ],
        )
        keep = pl.Series(positions, dtype=pl.UInt32)
        meta = meta.with_row_index("_i").filter(~pl.col("_i").is_in(keep.implode())).drop("_i")
    parsed = parsed.hstack(meta)
    records, unusable = _snapshot_frames(parsed, source_file)
    return records, pl.concat([malformed, unusable]).sort("record_index")
