"""Readers for arXiv metadata: the Kaggle snapshot, OAI-PMH arXiv pages and API Atom feeds."""

from __future__ import annotations

import contextlib
import gzip
import json
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol
from xml.etree import ElementTree as ET
from xml.parsers import expat

import polars as pl

from papers.readers.generic import file_reject
from papers.readers.limits import (
    DEFAULT_LIMITS,
    BoundedLines,
    LimitExceededError,
    ReadLimits,
    file_size_problem,
    gunzip,
    gzip_budget,
)
from schemas import RawRecords, Rejected, conform, empty_frame

SOURCE_SNAPSHOT: Final = "arxiv_snapshot"
SOURCE_OAI: Final = "arxiv_oai"
SOURCE_ATOM: Final = "arxiv_atom"

# Longest raw text kept per record or file-level reject.
RAW_CHARS: Final = 2000
# How much of a file papers.readers reads to sniff; the readers re-check their input the same way.
_SNIFF_BYTES: Final = 4096
_PADDING: Final = b"\xef\xbb\xbf \t\r\n"
_GZIP_MAGIC: Final = b"\x1f\x8b"
# Read size for streamed snapshots: big enough to amortise calls, small enough to not matter.
_BLOCK_BYTES: Final = 1 << 20
# Parts a batch with a bad line is cut into to find it (see _parse_lines).
_SPLIT: Final = 64

# Keys only the Kaggle snapshot layout has: HF daily_papers and PWC records have "id" too.
_SNAPSHOT_KEYS: Final = re.compile(
    rb'"(?:submitter|authors_parsed|update_date|journal-ref|report-no)"\s*:'
)
_JSON_ID: Final = re.compile(rb'"id"\s*:')
_OAI_ROOT: Final = re.compile(rb"<(?:[\w.-]+:)?OAI-PMH[\s>]")
# First pages name the prefix in <request>; resumed pages only show the metadata namespace (the
# trailing slash keeps arXivRaw, a different layout, out).
_OAI_ARXIV: Final = re.compile(
    rb"""metadataPrefix\s*=\s*["']arXiv["']|http://arxiv\.org/OAI/arXiv/"""
)
_ATOM_ELEMENT: Final = re.compile(rb"<(?:[\w.-]+:)?(?:feed|entry)[\s>/]")
_ARXIV_MARK: Final = re.compile(rb"arxiv\.org/(?:abs|api|schemas/atom)")

_OAI: Final = "{http://www.openarchives.org/OAI/2.0/}"
_ARXIV: Final = "{http://arxiv.org/OAI/arXiv/}"

# arXiv categories: archive (hep-th, astro-ph, cs...) with an optional subject class (cs.CL,
# astro-ph.CO, cond-mat.mes-hall, physics.acc-ph). Atom feeds also carry MSC/ACM codes
# ("53D10, 53D15", "F.2.2; E.1") and the odd "null" as category terms: those are not categories.
_ARXIV_CATEGORY: Final = re.compile(
    r"^(?:[a-z]+-[a-z]+|[a-z]+(?:-[a-z]+)?\.(?:[A-Z]{2}|[a-z]+(?:-[a-z]+)?)"
    r"|cs|econ|eess|math|nlin|physics|stat)$"
)
# versions[].created in the snapshot: RFC 1123, "Mon, 2 Apr 2007 19:18:42 GMT".
_RFC1123: Final = "%a, %d %b %Y %H:%M:%S GMT"

# The snapshot fields records use; submitter and report-no are left out (no RawRecords column).
# Every field as String: a nested value (versions, authors_parsed) comes back as polars' own
# re-serialisation of it. That text is not always JSON (polars drops the escaping of backslashes
# and writes tabs raw: "Fran\\ccois" comes back as "Fran\ccois"), so it is no input for a JSON
# decode; only versions[0].created is taken from it, by pattern. This layout reads any JSON object
# (the bad-line reasons come from it) and is the I/O floor's schema (bench/run.py).
_SNAPSHOT_SCHEMA: Final = pl.Schema(
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
_SNAPSHOT_READ_SCHEMA: Final = pl.Schema({**_SNAPSHOT_SCHEMA, "authors_parsed": _AUTHORS_PARSED})
# versions[0].created, from the versions JSON text: the first object's "created".
_FIRST_CREATED: Final = r'^\s*\[\s*\{[^{}]*?"created"\s*:\s*"([^"]*)"'
# Rows the XML readers build per record before the vectorised date parsing.
_XML_ROW_SCHEMA: Final = pl.Schema(
    {
        "record_index": pl.Int64(),
        "line": pl.Int64(),
        "arxiv_id_raw": pl.String(),
        "title_raw": pl.String(),
        "abstract_raw": pl.String(),
        "doi": pl.String(),
        "authors": pl.List(pl.String),
        "categories": pl.List(pl.String),
        "published": pl.String(),
        "updated": pl.String(),
        "comments": pl.String(),
        "journal_ref": pl.String(),
        "license": pl.String(),
        "raw": pl.String(),
    }
)
_NO_STRINGS: Final = pl.lit([], pl.List(pl.String))


class _Reader(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


# --- shared ---------------------------------------------------------------------------------


def _head_text(data: bytes) -> str:
    """The first RAW_CHARS characters of some bytes (UTF-8, undecodable bytes replaced)."""
    return data[: RAW_CHARS * 4].decode("utf-8", errors="replace")[:RAW_CHARS]


def _file_reject(source_file: str, reason: str, raw: str | None) -> pl.DataFrame:
    """One read-stage reject for a whole file (record_index null): the readers' shared builder."""
    return file_reject(source_file, reason, raw)


def _record_rejects(source_file: str, rows: list[tuple[int, str, str]]) -> pl.DataFrame:
    """Parse-stage rejects from (record_index, reason, raw) tuples."""
    index, reason, raw = zip(*rows, strict=True) if rows else ((), (), ())
    frame = pl.DataFrame(
        {
            "source_file": source_file,
            "record_index": pl.Series(index, dtype=pl.Int64),
            "stage": "parse",
            "reason": pl.Series(reason, dtype=pl.String),
            "raw": pl.Series(raw, dtype=pl.String),
        }
    )
    return conform(frame, Rejected)


def _not_this_format(
    source_file: str, reason: str, data: bytes
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """No records and one read reject: the file as a whole is not what the reader reads."""
    return empty_frame(RawRecords), _file_reject(source_file, reason, _head_text(data))


def _utc(text: pl.Expr) -> pl.Expr:
    """ISO-8601 timestamps with an offset ("2019-10-14T14:25:25Z") or bare dates as UTC datetimes;
    null when the text is neither (a bad date does not cost the record)."""
    text = text.str.strip_chars()
    return pl.coalesce(
        text.str.to_datetime("%Y-%m-%dT%H:%M:%S%#z", strict=False, time_zone="UTC"),
        text.str.to_date("%Y-%m-%d", strict=False)
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone("UTC"),
    )


def _tidy_names(names: pl.Expr) -> pl.Expr:
    """Each name with whitespace runs (hard wraps in the source) collapsed; empty names dropped."""
    # The same as replacing every r"\s+" with " ", but single spaces, most of the whitespace in
    # names, are not matched: 2.4x faster on the 30k sample.
    name = pl.element().str.replace_all(r"\s\s+|[^\S ]", " ").str.strip_chars()
    return names.list.eval(name.filter(name != ""))


def _blank(column: str) -> pl.Expr:
    return pl.col(column).str.strip_chars().fill_null("") == ""


def _name(parts: Iterable[str | None]) -> str:
    """Name parts joined with single spaces; missing parts and hard wraps do not add spaces."""
    return " ".join(" ".join(part.split()) for part in parts if part and part.strip())


# --- Kaggle snapshot --------------------------------------------------------------------------


def _plain_head(head: bytes) -> bytes:
    """A file head without padding, gunzipped first when it is the start of a gzip stream."""
    if head[:2] == _GZIP_MAGIC:
        try:
            # A head is a truncated stream: decompressobj returns what it can without complaint.
            head = zlib.decompressobj(wbits=31).decompress(head, 1 << 20)
        except zlib.error:
            return b""
    return head.lstrip(_PADDING)


def sniff_arxiv_snapshot(head: bytes) -> bool:
    """A file's first bytes -> whether it holds Kaggle arXiv snapshot records: JSON lines, a gzip of
    them, or a JSON array of such objects."""
    text = _plain_head(head)
    if text[:1] == b"[":
        text = text[1:].lstrip(_PADDING)
    return text[:1] == b"{" and bool(_JSON_ID.search(text)) and bool(_SNAPSHOT_KEYS.search(text))


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
            "doi",
            _snapshot_authors(pl.col("_names")).alias("authors"),
            pl.col("categories").str.extract_all(r"\S+").fill_null(_NO_STRINGS).alias("categories"),
            # versions[0] is v1: when the paper first appeared.
            pl.col("versions")
            .str.extract(_FIRST_CREATED, 1)
            .str.strip_chars()
            .str.to_datetime(_RFC1123, strict=False, time_zone="UTC")
            .alias("published_at"),
            _utc(pl.col("update_date")).alias("updated_at"),
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
            frame, error = _read_ndjson(lines[low], 1, _SNAPSHOT_SCHEMA)
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


def _snapshot_batch(
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
    malformed = _record_rejects(source_file, [])
    if parsed is None:
        frames, bad = _parse_lines(lines())
        parsed = pl.concat(frames) if frames else pl.DataFrame(schema=_SNAPSHOT_READ_SCHEMA)
        # only the bad lines are visited in Python, never the whole batch
        positions = sorted(bad)
        picked = meta[positions]
        malformed = _record_rejects(
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


def _line_chunks(stream: _Reader, batch_rows: int) -> Iterator[tuple[bytes, str | None]]:
    """A byte stream -> (whole lines, None) chunks of `batch_rows` lines (the last one fewer), read
    in 1 MiB blocks; ending with (the lines read, error) when a gzip stream breaks off."""
    blocks: list[bytes] = []
    newlines = 0  # in blocks
    while True:
        try:
            block = stream.read(_BLOCK_BYTES)
        except (OSError, EOFError, zlib.error) as exc:
            yield b"".join(blocks), str(exc) or type(exc).__name__
            return
        if not block:
            break
        in_block = block.count(b"\n")
        start = 0
        while newlines + in_block >= batch_rows:  # a chunk ends inside this block
            end = start
            for _ in range(batch_rows - newlines):
                end = block.index(b"\n", end) + 1
            blocks.append(block[start:end])
            chunk, blocks = b"".join(blocks), []
            yield chunk, None
            in_block -= batch_rows - newlines
            newlines, start = 0, end
        if start < len(block):
            blocks.append(block[start:])
            newlines += in_block
    rest = b"".join(blocks)
    if rest:
        yield rest, None


def _line_frame(chunk: bytes, first: int) -> pl.DataFrame:
    """Whole lines starting at 0-based line `first` -> one row per line: record_index, line, raw
    (the line's text without the "\r" of CRLF files)."""
    # bytes.split then a Binary series: polars' own str.split of a whole chunk peaks at 5x its size.
    lines = (chunk[:-1] if chunk.endswith(b"\n") else chunk).split(b"\n")
    try:
        raw = pl.Series("raw", lines, dtype=pl.Binary).cast(pl.String)
    except pl.exceptions.PolarsError:
        # Invalid UTF-8 only changes the raw text (replacement characters); read_ndjson rejects
        # such a line with its byte offset.
        raw = pl.Series("raw", [line.decode("utf-8", errors="replace") for line in lines])
    del lines
    return (
        raw.to_frame()
        .with_row_index("record_index", offset=first)
        .select(
            pl.col("record_index").cast(pl.Int64),
            (pl.col("record_index") + 1).cast(pl.Int64).alias("line"),
            pl.col("raw").str.strip_suffix("\r"),
        )
    )


def _lines_batch(
    chunk: bytes, first: int, source_file: str
) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """Whole JSON lines starting at 0-based line `first` -> (records, rejects, lines in chunk).

    Vectorised: polars splits the chunk into lines and parses it in one read_ndjson call; Python
    only handles single lines when some line in the chunk does not parse.
    """
    if first == 0:
        chunk = chunk.removeprefix(b"\xef\xbb\xbf")
    meta = _line_frame(chunk, first)
    count = meta.height
    # Blank lines are not records (polars' NDJSON reader skips them too).
    meta = meta.filter(~pl.col("raw").str.contains(r"^[ \t]*$")).with_columns(
        pl.col("raw").str.slice(0, RAW_CHARS)
    )

    def lines() -> list[bytes]:
        split = chunk.removesuffix(b"\n").split(b"\n")
        return [split[i - first].removesuffix(b"\r") for i in meta["record_index"]]

    records, rejects = _snapshot_batch(meta, chunk, lines, source_file)
    return records, rejects, count


@dataclass(frozen=True)
class _Element:
    text: str  # as written, pretty-printing included
    line: int  # 1-based line where it starts


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _array_elements(text: str) -> tuple[list[_Element], str | None]:
    """A JSON array's elements as written, and why the array could not be read to its end (None
    when it could). Elements before a syntax error are kept."""
    decoder = json.JSONDecoder()
    pos = _skip_space(text, 0)
    if text[pos : pos + 1] != "[":
        return [], "not a JSON array"
    pos = _skip_space(text, pos + 1)
    elements: list[_Element] = []
    line, counted = 1, 0
    while text[pos : pos + 1] != "]" or elements:
        try:
            _, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            return elements, (
                f"malformed JSON array after {len(elements)} elements: {exc.msg} "
                f"at line {exc.lineno} column {exc.colno}"
            )
        except RecursionError:
            return elements, (
                f"malformed JSON array after {len(elements)} elements: nested too deeply to read"
            )
        line += text.count("\n", counted, pos)
        counted = pos
        elements.append(_Element(text[pos:end], line))
        pos = _skip_space(text, end)
        if text[pos : pos + 1] == ",":
            pos = _skip_space(text, pos + 1)
            continue
        if text[pos : pos + 1] != "]":
            return elements, f"malformed JSON array: expected ',' or ']' at character {pos}"
        break
    if _skip_space(text, pos + 1) != len(text):
        return elements, "malformed JSON array: data after its closing ']'"
    return elements, None


def _given(lines: list[bytes]) -> Callable[[], list[bytes]]:
    return lambda: lines


def _snapshot_array(
    path: Path, source_file: str, batch_rows: int, limits: ReadLimits
) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
    """The JSON-array variant, read whole (within read.limits.max_file_bytes, decompressed): it
    is only seen as small hand-assembled files."""
    too_large = file_size_problem(path.stat().st_size, limits)
    if too_large:
        yield _not_this_format(source_file, too_large, b"")
        return
    data = path.read_bytes()
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gunzip(data, limits)
        except LimitExceededError as exc:
            yield _not_this_format(source_file, str(exc), b"")
            return
        except (OSError, EOFError, zlib.error) as exc:
            yield _not_this_format(source_file, f"corrupt gzip stream: {exc}", b"")
            return
        too_large = file_size_problem(len(data), limits)
        if too_large:
            yield _not_this_format(source_file, f"decompressed, {too_large}", b"")
            return
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        yield _not_this_format(source_file, f"not valid UTF-8 (byte {exc.start})", data)
        return
    elements, error = _array_elements(text)
    for start in range(0, len(elements), batch_rows):
        chunk = elements[start : start + batch_rows]
        # Raw newlines in JSON text can only be whitespace between tokens (inside strings they are
        # escaped), so blanking them makes each element one valid JSON line for polars.
        lines = [e.text.replace("\r", " ").replace("\n", " ").encode("utf-8") for e in chunk]
        meta = pl.DataFrame(
            {
                "record_index": range(start, start + len(chunk)),
                "line": [e.line for e in chunk],
                "raw": [e.text[:RAW_CHARS] for e in chunk],
            },
            schema={"record_index": pl.Int64, "line": pl.Int64, "raw": pl.String},
        )
        yield _snapshot_batch(meta, b"\n".join(lines), _given(lines), source_file)
    if error is not None:
        yield empty_frame(RawRecords), _file_reject(source_file, error, text[:RAW_CHARS])


def read_arxiv_snapshot(
    path: Path, source_file: str, batch_rows: int = 100_000, limits: ReadLimits = DEFAULT_LIMITS
) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
    """A Kaggle arxiv-metadata-oai-snapshot file (JSON lines, plain or gzip; or a JSON array) ->
    batches of (records: RawRecords, rejects: Rejected), at most `batch_rows` lines each.

    The file is streamed in 1 MiB blocks, so a multi-GB snapshot never has to fit in memory.
    record_index is the 0-based line (or array position) across the whole file; line is the
    1-based line a record starts on. Blank lines are not records. A line that is not a JSON object
    of the snapshot layout, or has neither id nor title, is a parse reject; a file that is not a
    snapshot at all, or a gzip stream that breaks off, is one read reject (lines before the break
    are kept). Limits (papers/readers/limits.py): a line over max_record_bytes is a parse reject
    and is never held in memory; a gzip stream stops at its decompression budget with a read
    reject (lines before are kept).

    Memory peaks at about 9x the bytes of a batch (100k real lines: ~1.3 GB RSS; 20k: ~0.5 GB).
    Measured on 200k real snapshot lines (287 MB, noisy 2-core VM), before authors_parsed was
    read by the NDJSON reader: this polars path read 65-80k records/s with 100k-line batches
    (~105k/s with 20k, ~58k/s from gzip); json.loads per line with the same frame building reads
    22-29k/s. The 30k-line generated sample (57 MB, one batch) now takes 0.64-0.69 s CPU, against
    2.6-3.0 s when a batch's authors_parsed was decoded in Python once any name held a backslash.
    """
    if batch_rows < 1:
        msg = f"batch_rows must be at least 1, not {batch_rows}"
        raise ValueError(msg)
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    if not sniff_arxiv_snapshot(head):
        yield _not_this_format(
            source_file,
            "not an arXiv metadata snapshot: expected JSON lines (or a JSON array) of Kaggle "
            "arxiv-metadata-oai-snapshot records",
            head,
        )
        return
    if _plain_head(head)[:1] == b"[":
        yield from _snapshot_array(path, source_file, batch_rows, limits)
        return
    gzipped = head[:2] == _GZIP_MAGIC
    with gzip.open(path, "rb") if gzipped else path.open("rb") as opened:
        budget, setting = gzip_budget(path.stat().st_size, limits) if gzipped else (None, "")
        stream = BoundedLines(opened, limits.max_record_bytes, budget, setting)
        done = 0
        for chunk, error in _line_chunks(stream, batch_rows):
            if chunk:
                records, rejects, count = _lines_batch(chunk, done, source_file)
                yield records, pl.concat([rejects, stream.take_oversized(source_file, limits)])
                done += count
            if error is not None:
                reason = f"gzip stream is corrupt or truncated after line {done}: {error}"
                yield _not_this_format(source_file, reason, _plain_head(head))
        oversized = stream.take_oversized(source_file, limits)
        if oversized.height:
            yield empty_frame(RawRecords), oversized
        if stream.stopped is not None:
            yield _not_this_format(source_file, f"gzip stream {stream.stopped}", _plain_head(head))


# --- XML: shared -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _XmlRecord:
    element: ET.Element
    line: int | None  # 1-based line of its start tag
    raw: str  # the element as written in the file, at most RAW_CHARS


@dataclass(frozen=True)
class _XmlDocument:
    root: ET.Element | None  # None when not even the root element could be read
    records: list[_XmlRecord]  # complete record elements, in document order
    error: str | None  # why parsing stopped before the end of the document


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _spans(data: bytes, local: str) -> list[tuple[int, int, int]]:
    """(start byte, end byte, line) of each complete element named `local` (any namespace), in the
    order their end tags come: the source text ElementTree does not keep."""
    parser: expat.XMLParserType = expat.ParserCreate(namespace_separator=" ")
    opened: list[tuple[int, int]] = []
    spans: list[tuple[int, int, int]] = []

    def start(name: str, _attributes: dict[str, str]) -> None:
        if name.rpartition(" ")[2] == local:
            opened.append((parser.CurrentByteIndex, parser.CurrentLineNumber))

    def end(name: str) -> None:
        if name.rpartition(" ")[2] == local and opened:
            begin, line = opened.pop()
            at = parser.CurrentByteIndex
            # An end tag is reported where it starts; an empty-element tag where it has ended.
            close = data.find(b">", at) + 1 if data.startswith(b"</", at) else at
            spans.append((begin, close, line))

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    # A parse error is reported by the ElementTree pass; spans so far match the elements it kept.
    with contextlib.suppress(expat.ExpatError, ValueError, LookupError):
        parser.Parse(data, True)
    return spans


class _EntityDeclaredError(Exception):
    """The document declares an entity in its DTD."""


class _RootReachedError(Exception):
    """The root element starts: the DTD, where entities are declared, is behind."""


# A document that declares entities is refused: ElementTree would expand internal ones into
# record fields (a billion-laughs DTD is only stopped by expat's amplification limit), and an
# external entity (SYSTEM "file:///etc/passwd") silently ends the parse, losing every record.
ENTITIES_REFUSED: Final = "XML declares entities in a DTD: refused"


def _declares_entities(data: bytes) -> bool:
    """Whether the document's prolog declares any (general, parameter or unparsed) entity."""
    parser = expat.ParserCreate()

    def declared(*_: Any) -> None:
        raise _EntityDeclaredError

    def root(*_: Any) -> None:
        raise _RootReachedError

    parser.EntityDeclHandler = declared
    parser.UnparsedEntityDeclHandler = declared
    parser.StartElementHandler = root
    try:
        parser.Parse(data, True)
    except _EntityDeclaredError:
        return True
    except (_RootReachedError, expat.ExpatError, ValueError, LookupError):
        return False  # malformed XML (or an unknown encoding) is reported by the reading pass
    return False


def _xml_document(data: bytes, local: str) -> _XmlDocument:
    """An XML document -> its root and its complete `local` elements with their source text.

    Malformed XML (a truncated download) keeps the elements completed before the error.
    """
    parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("start", "end"))
    error = None
    try:
        parser.feed(data)
        parser.close()
    except ET.ParseError as exc:
        error = str(exc)
    root: ET.Element | None = None
    elements: list[ET.Element] = []
    try:
        for item in parser.read_events():
            event, element = item[0], item[-1]
            if not isinstance(element, ET.Element):
                continue
            if root is None:
                root = element
            if event == "end" and _local(element.tag) == local:
                elements.append(element)
    except ET.ParseError as exc:
        # Usually the parse error already recorded above; but some (an undefined entity under an
        # external DTD) are only raised here, and ignoring them would silently lose the rest.
        if error is None:
            error = str(exc)
    spans = _spans(data, local)
    if len(spans) == len(elements):
        records = [
            _XmlRecord(element, line, _head_text(data[begin:end]))
            for element, (begin, end, line) in zip(elements, spans, strict=True)
        ]
    else:  # never seen; serialising keeps the content if the two passes ever disagree
        records = [
            _XmlRecord(element, None, ET.tostring(element, encoding="unicode")[:RAW_CHARS])
            for element in elements
        ]
    return _XmlDocument(root, records, error)


def _text(element: ET.Element | None, path: str) -> str | None:
    """Text of the first element at `path` (children's text included); None when absent or empty."""
    found = None if element is None else element.find(path)
    return None if found is None else ("".join(found.itertext()) or None)


def _by_name(element: ET.Element) -> dict[str, list[ET.Element]]:
    """Direct children grouped by local name, whatever their namespace (or none: entries under a
    foreign root lose the Atom one)."""
    children: dict[str, list[ET.Element]] = {}
    for child in element:
        children.setdefault(_local(child.tag), []).append(child)
    return children


def _first_text(children: dict[str, list[ET.Element]], local: str) -> str | None:
    """Text of the first child named `local`; None when absent or empty."""
    found = children.get(local)
    return ("".join(found[0].itertext()) or None) if found else None


def _at_line(line: int | None) -> str:
    return "" if line is None else f" (line {line})"


def _is_blank(text: str | None) -> bool:
    return text is None or not text.strip()


def _xml_frames(
    rows: list[dict[str, Any]],
    bad: list[tuple[int, str, str]],
    source_file: str,
    source: str,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per-record field dicts and (record_index, reason, raw) rejects -> (records, rejects)."""
    # Column lists, not row dicts: polars builds them several times faster.
    columns = {name: [row[name] for row in rows] for name in _XML_ROW_SCHEMA}
    records = (
        pl.DataFrame(columns, schema=_XML_ROW_SCHEMA)
        .with_columns(
            pl.lit(source_file).alias("source_file"),
            pl.lit(source).alias("source"),
            _utc(pl.col("published")).alias("published_at"),
            _utc(pl.col("updated")).alias("updated_at"),
        )
        .pipe(conform, RawRecords)
    )
    return records, _record_rejects(source_file, bad)


# --- OAI-PMH ----------------------------------------------------------------------------------


def sniff_arxiv_oai(head: bytes) -> bool:
    """A file's first bytes -> whether it is an OAI-PMH response in the arXiv metadata format."""
    return (
        head.lstrip(_PADDING)[:1] == b"<"
        and bool(_OAI_ROOT.search(head))
        and bool(_OAI_ARXIV.search(head))
    )


def _oai_record(record: ET.Element) -> dict[str, Any] | str:
    """An OAI <record> -> its fields, or the reason it is not a paper."""
    header = record.find(f"{_OAI}header")
    identifier = _text(header, f"{_OAI}identifier") or "without identifier"
    # OAI-PMH marks deletions on <header>; some writers put the attribute on <record>.
    statuses = {record.get("status"), None if header is None else header.get("status")}
    if "deleted" in statuses:
        return f"deleted record {identifier} (OAI status deleted, no metadata)"
    meta = record.find(f"{_OAI}metadata/{_ARXIV}arXiv")
    if meta is None:
        return f"record {identifier} has no arXiv metadata"
    arxiv_id, title = _text(meta, f"{_ARXIV}id"), _text(meta, f"{_ARXIV}title")
    if _is_blank(arxiv_id) and _is_blank(title):
        return f"record {identifier} has no arXiv id and no title"
    authors = [
        _name(author.findtext(f"{_ARXIV}{part}") for part in ("forenames", "keyname", "suffix"))
        for author in meta.iterfind(f"{_ARXIV}authors/{_ARXIV}author")
    ]
    return {
        "arxiv_id_raw": arxiv_id,
        "title_raw": title,
        "abstract_raw": _text(meta, f"{_ARXIV}abstract"),
        "doi": _text(meta, f"{_ARXIV}doi"),
        "authors": [name for name in authors if name],
        "categories": (_text(meta, f"{_ARXIV}categories") or "").split(),
        "published": _text(meta, f"{_ARXIV}created"),
        "updated": _text(meta, f"{_ARXIV}updated"),
        "comments": _text(meta, f"{_ARXIV}comments"),
        "journal_ref": _text(meta, f"{_ARXIV}journal-ref"),
        "license": _text(meta, f"{_ARXIV}license"),
    }


def _read_xml_guarded(
    read: Callable[[bytes, str], tuple[pl.DataFrame, pl.DataFrame]], data: bytes, source_file: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`read` on the document unless it declares entities; parser exhaustion is a file reject."""
    if _declares_entities(data):
        return _not_this_format(source_file, ENTITIES_REFUSED, data)
    try:
        return read(data, source_file)
    except RecursionError:
        return _not_this_format(source_file, "XML nested too deeply to read", data)
    except MemoryError:
        return _not_this_format(source_file, "XML too large to read in memory", data)
    except (ValueError, LookupError) as exc:
        # ElementTree refuses some declared encodings outright ("UTF-7": multi-byte encodings
        # are not supported; "bogus": unknown encoding); found by the atheris harness
        return _not_this_format(source_file, f"XML not readable: {exc}", data)


def read_arxiv_oai(data: bytes, source_file: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One OAI-PMH ListRecords page (metadataPrefix=arXiv) -> (records: RawRecords, rejects).

    record_index counts <record> elements (deleted ones included; the resumptionToken is not a
    record); line is where each starts. Deleted records and records without id and title are parse
    rejects; an OAI-PMH <error> response, a page that is not this format, or malformed XML is one
    read reject (records completed before a break in the XML are kept). A document that declares
    entities is refused whole (one read reject).
    """
    if not sniff_arxiv_oai(data[:_SNIFF_BYTES]):
        return _not_this_format(
            source_file,
            "not an arXiv OAI-PMH page: expected an OAI-PMH response with metadataPrefix=arXiv",
            data,
        )
    return _read_xml_guarded(_read_oai, data, source_file)


def _read_oai(data: bytes, source_file: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    document = _xml_document(data, "record")
    if document.root is None:
        return _not_this_format(source_file, f"malformed XML: {document.error}", data)
    rows: list[dict[str, Any]] = []
    bad: list[tuple[int, str, str]] = []
    for index, record in enumerate(document.records):
        fields = _oai_record(record.element)
        if isinstance(fields, str):
            bad.append((index, f"{fields}{_at_line(record.line)}", record.raw))
        else:
            rows.append(fields | {"record_index": index, "line": record.line, "raw": record.raw})
    records, rejects = _xml_frames(rows, bad, source_file, SOURCE_OAI)
    problems = [
        f"OAI-PMH error {error.get('code', '?')}: {(error.text or '').strip()}"
        for error in document.root.iterfind(f"{_OAI}error")
    ]
    if document.error is not None:
        problems.append(
            f"malformed XML after {len(document.records)} complete records: {document.error}"
        )
    head = _head_text(data)
    return records, pl.concat([rejects, *(_file_reject(source_file, p, head) for p in problems)])


def oai_resumption_token(data: bytes) -> str | None:
    """An OAI-PMH ListRecords page -> the resumptionToken for the next page; None on the last page
    (empty or no token) and for a noRecordsMatch answer.

    Raises ValueError when `data` is not a complete OAI-PMH response or is any other OAI-PMH error:
    a truncated download has no token either, and must be fetched again, not end the harvest.
    """
    if _declares_entities(data):
        raise ValueError(ENTITIES_REFUSED)
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        msg = f"not a complete XML document: {exc}"
        raise ValueError(msg) from exc
    if root.tag != f"{_OAI}OAI-PMH":
        msg = f"not an OAI-PMH response (root element {root.tag})"
        raise ValueError(msg)
    for error in root.iterfind(f"{_OAI}error"):
        if error.get("code") == "noRecordsMatch":
            return None
        msg = f"OAI-PMH error {error.get('code')}: {(error.text or '').strip()}"
        raise ValueError(msg)
    token = (root.findtext(f"{_OAI}ListRecords/{_OAI}resumptionToken") or "").strip()
    return token or None


# --- Atom API ---------------------------------------------------------------------------------


def sniff_arxiv_atom(head: bytes) -> bool:
    """A file's first bytes -> whether it is an arXiv API Atom response: a <feed> (legacy or 2026
    layout) or arXiv <entry> elements under some other root element."""
    return (
        head.lstrip(_PADDING)[:1] == b"<"
        and not _OAI_ROOT.search(head)
        and bool(_ATOM_ELEMENT.search(head))
        and bool(_ARXIV_MARK.search(head))
    )


def _arxiv_categories(terms: Iterable[str | None]) -> list[str]:
    """Category terms that are arXiv categories, first occurrence kept, in order."""
    kept: dict[str, None] = {}
    for term in terms:
        category = (term or "").strip()
        if _ARXIV_CATEGORY.match(category):
            kept.setdefault(category)
    return list(kept)


def _atom_entry(entry: ET.Element) -> dict[str, Any] | str:
    """An Atom <entry> -> its fields, or the reason it is not a paper."""
    children = _by_name(entry)
    # StringologyTimes also keeps the bare id in an attribute: a fallback when <id> is missing.
    arxiv_id = _first_text(children, "id") or entry.get("id")
    title = _first_text(children, "title")
    summary = _first_text(children, "summary")
    if arxiv_id is not None and "arxiv.org/api/errors" in arxiv_id:
        # The API answers a bad query with HTTP 200 and an entry titled "Error".
        return f"arXiv API error entry: {(summary or title or arxiv_id).strip()}"
    if _is_blank(arxiv_id) and _is_blank(title):
        return "entry has no id and no title"
    authors = [_name([_first_text(_by_name(a), "name")]) for a in children.get("author", [])]
    terms = [c.get("term") for c in children.get("primary_category", [])]
    terms += [c.get("term") for c in children.get("category", [])]
    return {
        "arxiv_id_raw": arxiv_id,
        "title_raw": title,
        "abstract_raw": summary,
        "doi": _first_text(children, "doi"),
        "authors": [name for name in authors if name],
        "categories": _arxiv_categories(terms),
        "published": _first_text(children, "published"),
        "updated": _first_text(children, "updated"),
        "comments": _first_text(children, "comment"),
        "journal_ref": _first_text(children, "journal_ref"),
        "license": None,
    }


def read_arxiv_atom(data: bytes, source_file: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """An arXiv API Atom response (legacy or 2026 layout, or entries under a foreign root element)
    -> (records: RawRecords, rejects: Rejected).

    record_index counts <entry> elements; line is where each starts. API error entries and entries
    without id and title are parse rejects; a file that is not this format, or malformed XML, is one
    read reject (entries completed before a break in the XML are kept). A feed with no entries (a
    query without results) gives no records and no rejects. A document that declares entities is
    refused whole (one read reject).
    """
    if not sniff_arxiv_atom(data[:_SNIFF_BYTES]):
        return _not_this_format(
            source_file, "not an arXiv API Atom response: expected <feed> or <entry> elements", data
        )
    return _read_xml_guarded(_read_atom, data, source_file)


def _read_atom(data: bytes, source_file: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    document = _xml_document(data, "entry")
    if document.root is None:
        return _not_this_format(source_file, f"malformed XML: {document.error}", data)
    rows: list[dict[str, Any]] = []
    bad: list[tuple[int, str, str]] = []
    for index, entry in enumerate(document.records):
        fields = _atom_entry(entry.element)
        if isinstance(fields, str):
            bad.append((index, f"{fields}{_at_line(entry.line)}", entry.raw))
        else:
            rows.append(fields | {"record_index": index, "line": entry.line, "raw": entry.raw})
    records, rejects = _xml_frames(rows, bad, source_file, SOURCE_ATOM)
    problems = []
    if document.error is not None:
        problems.append(
            f"malformed XML after {len(document.records)} complete entries: {document.error}"
        )
    elif not document.records and _local(document.root.tag) != "feed":
        problems.append(f"no Atom entries under the <{_local(document.root.tag)}> root element")
    head = _head_text(data)
    return records, pl.concat([rejects, *(_file_reject(source_file, p, head) for p in problems)])
